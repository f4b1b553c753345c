data "azurerm_client_config" "current" {}

# Names unique across Azure carry a digest of the subscription: two teams who name their projects
# alike can both deploy.
locals {
  subscription_digest = substr(sha1(data.azurerm_client_config.current.subscription_id), 0, 6)
}

# Data Factory names are unique across Azure.
locals {
  factory_name = "${var.name_prefix}-ingest-${local.subscription_digest}"
}

resource "azurerm_data_factory" "ingest" {
  # checkov:skip=CKV2_AZURE_15:Encrypted with the project CMK through customer_managed_key_id when security_kms is planned; checkov only looks for a Key Vault linked service.
  # checkov:skip=CKV_AZURE_103:Pipelines are defined in Terraform in this repository, their single source of truth; ADF Git integration would add a second one.
  name                             = local.factory_name
  location                         = var.region
  resource_group_name              = var.resource_group_name
  managed_virtual_network_enabled  = true
  public_network_enabled           = false
  customer_managed_key_id          = var.key_vault_key_id
  customer_managed_key_identity_id = var.encryption_identity_id
  tags                             = var.tags

  identity {
    type         = var.encryption_identity_id == null ? "SystemAssigned" : "SystemAssigned, UserAssigned"
    identity_ids = var.encryption_identity_id == null ? null : [var.encryption_identity_id]
  }
}

resource "azurerm_data_factory_linked_service_data_lake_storage_gen2" "lake" {
  count = var.wired_storage_account_name ? 1 : 0

  name                 = "data-lake"
  data_factory_id      = azurerm_data_factory.ingest.id
  url                  = "https://${var.storage_account_name}.dfs.core.windows.net"
  use_managed_identity = true
}
# ---- outputs.tf ----
output "data_factory_id" {
  description = "Data Factory that copies batch sources into the raw container."
  value       = azurerm_data_factory.ingest.id
}
