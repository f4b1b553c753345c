data "azurerm_resource_group" "this" {
  name = var.resource_group_name
}

# GitHub Actions deploys through a federated credential; no client secret exists.
resource "azurerm_user_assigned_identity" "deploy" {
  name                = "${var.name_prefix}-github-deploy"
  location            = var.region
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "environments" {
  for_each = toset(["dev", "staging", "prod"])

  name                = "github-${each.value}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.deploy.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = "https://token.actions.githubusercontent.com"
  subject             = "repo:${var.github_repository}:environment:${each.value}"
}

resource "azurerm_role_assignment" "deploy" {
  scope                = data.azurerm_resource_group.this.id
  role_definition_name = "Contributor"
  principal_id         = azurerm_user_assigned_identity.deploy.principal_id
}
# ---- outputs.tf ----
output "deploy_client_id" {
  description = "Client id GitHub Actions logs in with (store it as the AZURE_CLIENT_ID secret)."
  value       = azurerm_user_assigned_identity.deploy.client_id
}
