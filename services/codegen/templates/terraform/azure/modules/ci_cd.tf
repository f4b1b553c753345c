# The CI identities and the service image registry are subscription-wide and live in
# infra/bootstrap (applied once). This module looks up this environment's share of them, so a
# plan against a subscription that was never bootstrapped fails here, naming what is missing.
locals {
  project = regex("^(.*)-[a-z]+$", var.name_prefix)[0]
}

data "azurerm_user_assigned_identity" "deploy" {
  name                = "${var.name_prefix}-github-deploy"
  resource_group_name = "${local.project}-cicd-rg"
}

data "azurerm_user_assigned_identity" "plan" {
  name                = "${var.name_prefix}-github-plan"
  resource_group_name = "${local.project}-cicd-rg"
}
# ---- outputs.tf ----
output "deploy_client_id" {
  description = "Client id this environment's deploy jobs sign in with (GitHub environment variable AZURE_CLIENT_ID)."
  value       = data.azurerm_user_assigned_identity.deploy.client_id
}

output "plan_client_id" {
  description = "Client id of the read-only identity pull requests and main plan with."
  value       = data.azurerm_user_assigned_identity.plan.client_id
}
