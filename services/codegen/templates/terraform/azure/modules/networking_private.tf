resource "azurerm_virtual_network" "this" {
  name                = "${var.name_prefix}-vnet"
  location            = var.region
  resource_group_name = var.resource_group_name
  address_space       = ["10.40.0.0/16"]
  tags                = var.tags
}

resource "azurerm_subnet" "private" {
  name                              = "private"
  resource_group_name               = var.resource_group_name
  virtual_network_name              = azurerm_virtual_network.this.name
  address_prefixes                  = [cidrsubnet("10.40.0.0/16", 4, 0)]
  private_endpoint_network_policies = "Enabled"
  service_endpoints                 = ["Microsoft.Storage", "Microsoft.KeyVault", "Microsoft.EventHub"]
}

resource "azurerm_network_security_group" "private" {
  name                = "${var.name_prefix}-private"
  location            = var.region
  resource_group_name = var.resource_group_name
  tags                = var.tags

  security_rule {
    name                       = "deny-internet-inbound"
    priority                   = 4000
    direction                  = "Inbound"
    access                     = "Deny"
    protocol                   = "*"
    source_port_range          = "*"
    destination_port_range     = "*"
    source_address_prefix      = "Internet"
    destination_address_prefix = "*"
  }
}

resource "azurerm_subnet_network_security_group_association" "private" {
  subnet_id                 = azurerm_subnet.private.id
  network_security_group_id = azurerm_network_security_group.private.id
}

resource "azurerm_private_dns_zone" "blob" {
  name                = "privatelink.blob.core.windows.net"
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "blob" {
  name                  = "${var.name_prefix}-blob"
  resource_group_name   = var.resource_group_name
  private_dns_zone_name = azurerm_private_dns_zone.blob.name
  virtual_network_id    = azurerm_virtual_network.this.id
  tags                  = var.tags
}

# The data lake is reached through a private endpoint, never its public address.
resource "azurerm_private_endpoint" "blob" {
  count = var.wired_storage_account_id ? 1 : 0

  name                = "${var.name_prefix}-blob"
  location            = var.region
  resource_group_name = var.resource_group_name
  subnet_id           = azurerm_subnet.private.id
  tags                = var.tags

  private_service_connection {
    name                           = "${var.name_prefix}-blob"
    private_connection_resource_id = var.storage_account_id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "blob"
    private_dns_zone_ids = [azurerm_private_dns_zone.blob.id]
  }
}
# ---- outputs.tf ----
output "vnet_id" {
  description = "Id of the private virtual network."
  value       = azurerm_virtual_network.this.id
}

output "subnet_id" {
  description = "Id of the private subnet (private endpoints, VNet integration)."
  value       = azurerm_subnet.private.id
}
