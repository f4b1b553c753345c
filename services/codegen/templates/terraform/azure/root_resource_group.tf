resource "azurerm_resource_group" "main" {
  name     = "${local.name_prefix}-rg"
  location = var.regions[0]
  tags     = local.tags
}
