output "state_resource_group" {
  description = "Resource group of the state account (GitHub variable TF_STATE_RESOURCE_GROUP)."
  value       = azurerm_resource_group.cicd.name
}

output "state_storage_account" {
  description = "Storage account of every environment's Terraform state (GitHub variable TF_STATE_STORAGE_ACCOUNT)."
  value       = azurerm_storage_account.state.name
}

output "registry_login_server" {
  description = "Registry the service image is pushed to once and promoted from by digest."
  value       = azurerm_container_registry.service.login_server
}

output "deploy_client_ids" {
  description = "Per environment: client id of the deployer (GitHub environment variable AZURE_CLIENT_ID)."
  value       = { for env, id in azurerm_user_assigned_identity.deploy : env => id.client_id }
}

output "plan_client_ids" {
  description = "Per environment: client id of the read-only planner (GitHub variable AZURE_PLAN_CLIENT_ID_<ENV>)."
  value       = { for env, id in azurerm_user_assigned_identity.plan : env => id.client_id }
}
