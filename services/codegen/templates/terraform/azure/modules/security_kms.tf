# Names unique across Azure carry a digest of the subscription: two teams who name their projects
# alike can both deploy.
locals {
  subscription_digest = substr(sha1(data.azurerm_client_config.current.subscription_id), 0, 6)
}

# Key Vault names hold at most 24 characters: where the full name is longer, the prefix gives way
# to a digest of it (the environment included), and the role is kept.
locals {
  vault_name_full = "${var.name_prefix}-kv-${local.subscription_digest}"
  vault_name = length(local.vault_name_full) <= 24 ? local.vault_name_full : join("-", [
    trimsuffix(substr(var.name_prefix, 0, 12), "-"), "kv", substr(sha1(local.vault_name_full), 0, 8)
  ])
}

data "azurerm_client_config" "current" {}

resource "azurerm_key_vault" "this" {
  # checkov:skip=CKV_AZURE_109:GitHub-hosted runners manage keys over the public endpoint; access is gated by Entra ID RBAC. Set default_action to Deny once a private runner exists.
  # checkov:skip=CKV_AZURE_189:Same as above: public network access stays on for the deployment runners.
  # checkov:skip=CKV2_AZURE_32:Same as above: keys are managed from GitHub-hosted runners; add a private endpoint with a private runner.
  name                          = local.vault_name
  location                      = var.region
  resource_group_name           = var.resource_group_name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "premium"
  enable_rbac_authorization     = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true
  tags                          = var.tags

  network_acls {
    default_action = "Allow"
    bypass         = "AzureServices"
  }
}

resource "azurerm_role_assignment" "deployer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Crypto Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

resource "azurerm_key_vault_key" "data" {
  # checkov:skip=CKV_AZURE_40:The rotation policy renews the key before expire_after; a fixed expiration_date would stop CMK decryption when it passes.
  name            = "${var.name_prefix}-data"
  key_vault_id    = azurerm_key_vault.this.id
  key_type        = "RSA-HSM"
  key_size        = 3072
  key_opts        = ["wrapKey", "unwrapKey"]
  expiration_date = null
  tags            = var.tags

  rotation_policy {
    expire_after         = "P2Y"
    notify_before_expiry = "P30D"

    automatic {
      time_before_expiry = "P60D"
    }
  }

  depends_on = [azurerm_role_assignment.deployer]
}

# Identity that storage, ML and registries use to unwrap the key (CMK).
resource "azurerm_user_assigned_identity" "encryption" {
  name                = "${var.name_prefix}-cmk"
  location            = var.region
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_role_assignment" "encryption" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Crypto Service Encryption User"
  principal_id         = azurerm_user_assigned_identity.encryption.principal_id
}
# ---- outputs.tf ----
output "key_vault_id" {
  description = "Key Vault holding the customer-managed keys."
  value       = azurerm_key_vault.this.id
}

output "key_id" {
  description = "Versionless id of the customer-managed key (rotation is picked up automatically)."
  value       = azurerm_key_vault_key.data.versionless_id
  depends_on  = [azurerm_role_assignment.encryption]
}

output "identity_id" {
  description = "User-assigned identity allowed to use the key."
  value       = azurerm_user_assigned_identity.encryption.id
}

output "identity_client_id" {
  description = "Client id of the identity allowed to use the key (what a registry's encryption names)."
  value       = azurerm_user_assigned_identity.encryption.client_id
}
