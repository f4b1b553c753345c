data "azurerm_client_config" "current" {}

# Names unique across Azure carry a digest of the subscription: two teams who name their projects
# alike can both deploy.
locals {
  subscription_digest = substr(sha1(data.azurerm_client_config.current.subscription_id), 0, 6)
}

# Registry names are 5 to 50 letters and digits, unique across Azure (`<name>.azurecr.io`).
locals {
  registry_name = replace("${var.name_prefix}models${local.subscription_digest}", "/[^a-zA-Z0-9]/", "")
}

resource "azurerm_container_registry" "models" {
  # checkov:skip=CKV_AZURE_165:Geo-replication is added per environment when serving runs in several regions.
  # checkov:skip=CKV_AZURE_139:Public access is on only when the plan has no private networking (subnet_id null), so CI can push images; pushes need Entra ID, admin user off.
  name                          = local.registry_name
  location                      = var.region
  resource_group_name           = var.resource_group_name
  sku                           = "Premium"
  admin_enabled                 = false
  public_network_access_enabled = var.subnet_id == null
  quarantine_policy_enabled     = true
  data_endpoint_enabled         = true
  zone_redundancy_enabled       = true
  tags                          = var.tags

  # Blocks, as azurerm 3.x spells them (4.x made them the flat trust_policy_enabled and retention_policy_in_days).
  trust_policy {
    enabled = true
  }

  retention_policy {
    days    = 30
    enabled = true
  }

  dynamic "identity" {
    for_each = var.encryption_identity_id == null ? [] : [var.encryption_identity_id]

    content {
      type         = "UserAssigned"
      identity_ids = [identity.value]
    }
  }

  dynamic "encryption" {
    for_each = var.key_vault_key_id == null ? [] : [var.key_vault_key_id]

    content {
      key_vault_key_id   = encryption.value
      identity_client_id = var.encryption_identity_client_id
    }
  }
}
# ---- outputs.tf ----
output "registry_login_server" {
  description = "Registry of model and service images (OCI artifacts)."
  value       = azurerm_container_registry.models.login_server
}
