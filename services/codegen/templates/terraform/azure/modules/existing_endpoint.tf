# Reuses a system the team already runs: nothing new is built. The module records where to reach
# it as a Key Vault secret the services read; the team sets the value once, outside the repository.
data "azurerm_client_config" "current" {}

# Whoever applies may write the record; the vault authorises through Entra ID roles (RBAC).
resource "azurerm_role_assignment" "writer" {
  scope                = var.key_vault_id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

resource "azurerm_key_vault_secret" "endpoint" {
  # checkov:skip=CKV_AZURE_41:An endpoint address does not expire; the team replaces it when the system moves.
  name         = substr(replace("${var.name_prefix}-${basename(path.module)}-endpoint", "/[^0-9A-Za-z-]/", "-"), 0, 127)
  key_vault_id = var.key_vault_id
  value        = "set-me"
  content_type = "text/plain; endpoint of an existing system"
  tags         = var.tags

  lifecycle {
    ignore_changes = [value]
  }

  depends_on = [azurerm_role_assignment.writer]
}
# ---- outputs.tf ----
output "endpoint_secret" {
  description = "Key Vault secret holding the existing system's endpoint."
  value       = azurerm_key_vault_secret.endpoint.versionless_id
}
