# Subscription-wide resources, applied once by an administrator (see docs/README.md): the
# Terraform state account, the shared image registry and, per environment, the identity GitHub
# Actions deploys with and the read-only one it plans with (federated credentials, no secrets).
# Keeping them out of infra/ lets every environment apply without creating them twice, and
# keeps a deployer from editing its own permissions.
terraform {
  required_version = ">= 1.10.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 3.110"
    }
  }
}

# The state account takes no shared key: the provider reaches its data plane (the state container,
# the account's blob and queue properties) with the administrator's Entra ID sign-in instead.
provider "azurerm" {
  storage_use_azuread = true
  features {}
}

data "azurerm_subscription" "current" {}

locals {
  # Identity names are fixed here and in .github/workflows; the validators compare them.
  deploy_identities = { for env in var.environments : env => "${var.project_name}-${env}-github-deploy" }
  plan_identities   = { for env in var.environments : env => "${var.project_name}-${env}-github-plan" }
  plan_subjects = {
    pull-request = "repo:${var.github_repository}:pull_request"
    main         = "repo:${var.github_repository}:ref:refs/heads/main"
  }
  plan_credentials = { for pair in setproduct(var.environments, keys(local.plan_subjects)) : "${pair[0]}/${pair[1]}" => {
    env     = pair[0]
    name    = pair[1]
    subject = local.plan_subjects[pair[1]]
  } }
  # Owner, User Access Administrator and Role Based Access Control Administrator: a deployer may
  # grant the roles its resources need, never these.
  privileged_roles = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635, 18d7d88d-d35e-4fb5-a5c3-7773c20a72d9, f58310d9-a9f6-439a-9e8d-f62e7b41a168"
  tags = {
    project    = var.project_name
    managed_by = "terraform"
    stack      = "bootstrap"
  }
}

resource "azurerm_resource_group" "cicd" {
  name     = "${var.project_name}-cicd-rg"
  location = var.location
  tags     = local.tags
}

# ---- Terraform state ----

resource "azurerm_storage_account" "state" {
  # checkov:skip=CKV_AZURE_33:Queue service is unused; only the state container holds data.
  # checkov:skip=CKV_AZURE_59:GitHub-hosted runners reach the state through the blob data plane with Entra ID tokens (shared keys off, no anonymous blobs).
  # checkov:skip=CKV_AZURE_206:Zone-redundant storage keeps the state through a zone failure; geo-replication would copy secret outputs to a second region.
  # checkov:skip=CKV2_AZURE_1:State is encrypted with platform keys; a customer key would have to exist before the state that records it.
  # checkov:skip=CKV2_AZURE_33:Same reason as public network access: hosted runners have no private endpoint to use.
  name                              = "%%{state_storage_account}"
  resource_group_name               = azurerm_resource_group.cicd.name
  location                          = var.location
  account_tier                      = "Standard"
  account_replication_type          = "ZRS"
  account_kind                      = "StorageV2"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  shared_access_key_enabled         = false
  local_user_enabled                = false
  allow_nested_items_to_be_public   = false
  infrastructure_encryption_enabled = true
  tags                              = local.tags

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = 30
    }

    container_delete_retention_policy {
      days = 30
    }
  }

  sas_policy {
    expiration_period = "01.00:00:00"
  }
}

resource "azurerm_storage_container" "state" {
  # checkov:skip=CKV2_AZURE_21:Blob reads are recorded by the activity and resource logs of the account; state is read by CI only.
  name                  = "tfstate"
  storage_account_name  = azurerm_storage_account.state.name
  container_access_type = "private"
}

# ---- the service image: built once, promoted by digest through every environment ----

resource "azurerm_container_registry" "service" {
  # checkov:skip=CKV_AZURE_139:GitHub-hosted runners push over the public endpoint, authenticated with Entra ID; admin user and anonymous pull are off.
  # checkov:skip=CKV_AZURE_163:Image scanning is Microsoft Defender for Containers, enabled per subscription rather than per registry.
  # checkov:skip=CKV_AZURE_164:Images are referenced by digest, which pins content more strictly than signature trust.
  # checkov:skip=CKV_AZURE_165:One region serves the environments; geo-replication is a Premium cost the plan did not include.
  # checkov:skip=CKV_AZURE_166:Quarantine needs a scanner that releases images; promotion by digest after CI tests plays that part.
  # checkov:skip=CKV_AZURE_167:Untagged manifests are never referenced by the workflows, which push tagged images only.
  # checkov:skip=CKV_AZURE_233:Zone redundancy is a Premium feature the plan did not include.
  # checkov:skip=CKV_AZURE_237:Dedicated data endpoints are a Premium feature the plan did not include.
  name                          = "%%{service_registry}"
  resource_group_name           = azurerm_resource_group.cicd.name
  location                      = var.location
  sku                           = "Standard"
  admin_enabled                 = false
  public_network_access_enabled = true
  anonymous_pull_enabled        = false
  tags                          = local.tags
}

# ---- per environment: deployer (its environment only) and planner (read-only) ----

resource "azurerm_user_assigned_identity" "deploy" {
  for_each = local.deploy_identities

  name                = each.value
  resource_group_name = azurerm_resource_group.cicd.name
  location            = var.location
  tags                = local.tags
}

resource "azurerm_user_assigned_identity" "plan" {
  for_each = local.plan_identities

  name                = each.value
  resource_group_name = azurerm_resource_group.cicd.name
  location            = var.location
  tags                = local.tags
}

# Only a job running in this GitHub environment (whose protection rules apply) signs in as the
# deployer: the subject is matched exactly, so a pull request never can.
resource "azurerm_federated_identity_credential" "deploy" {
  for_each = local.deploy_identities

  name                = "github-environment-${each.key}"
  resource_group_name = azurerm_resource_group.cicd.name
  parent_id           = azurerm_user_assigned_identity.deploy[each.key].id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = "https://token.actions.githubusercontent.com"
  subject             = "repo:${var.github_repository}:environment:${each.key}"
}

resource "azurerm_federated_identity_credential" "plan" {
  for_each = local.plan_credentials

  name                = "github-${each.value.name}"
  resource_group_name = azurerm_resource_group.cicd.name
  parent_id           = azurerm_user_assigned_identity.plan[each.value.env].id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = "https://token.actions.githubusercontent.com"
  subject             = each.value.subject
}

# The drift job (GitHub environment `drift`, no reviewers, main branch only) reads the monitored
# environment's data and publishes one metric; nothing else.
resource "azurerm_user_assigned_identity" "drift" {
  name                = "${var.project_name}-drift-github-monitor"
  resource_group_name = azurerm_resource_group.cicd.name
  location            = var.location
  tags                = local.tags
}

resource "azurerm_federated_identity_credential" "drift" {
  name                = "github-environment-drift"
  resource_group_name = azurerm_resource_group.cicd.name
  parent_id           = azurerm_user_assigned_identity.drift.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = "https://token.actions.githubusercontent.com"
  subject             = "repo:${var.github_repository}:environment:drift"
}

resource "azurerm_role_assignment" "drift" {
  for_each = toset(["Storage Blob Data Reader", "Monitoring Metrics Publisher", "Reader"])

  scope                = lookup(var.environment_scopes, var.monitored_environment, data.azurerm_subscription.current.id)
  role_definition_name = each.value
  principal_id         = azurerm_user_assigned_identity.drift.principal_id
}

resource "azurerm_role_assignment" "drift_state" {
  scope                = azurerm_storage_container.state.resource_manager_id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.drift.principal_id
}

# The environment's stack creates its own resource group, so the deployer works at the
# subscription (or the environment_subscriptions entry); role grants exclude the privileged roles.
resource "azurerm_role_assignment" "deploy_contributor" {
  for_each = local.deploy_identities

  scope                = lookup(var.environment_scopes, each.key, data.azurerm_subscription.current.id)
  role_definition_name = "Contributor"
  principal_id         = azurerm_user_assigned_identity.deploy[each.key].principal_id
}

resource "azurerm_role_assignment" "deploy_grants" {
  for_each = local.deploy_identities

  scope                = lookup(var.environment_scopes, each.key, data.azurerm_subscription.current.id)
  role_definition_name = "Role Based Access Control Administrator"
  principal_id         = azurerm_user_assigned_identity.deploy[each.key].principal_id
  condition_version    = "2.0"
  condition            = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {${local.privileged_roles}})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {${local.privileged_roles}}))"
}

resource "azurerm_role_assignment" "plan_reader" {
  for_each = local.plan_identities

  scope                = lookup(var.environment_scopes, each.key, data.azurerm_subscription.current.id)
  role_definition_name = "Reader"
  principal_id         = azurerm_user_assigned_identity.plan[each.key].principal_id
}

# Refreshing the state reads back what Reader cannot: keys and secrets the provider keeps in state
# (a cache's access keys, a container app's secrets, a workspace's shared key) and, with shared keys
# off, the storage accounts' queue properties through their data plane. The state these identities
# already read and write holds the same secrets; no data role is given (the lake's blobs stay out of
# reach of a pull request's plan).
resource "azurerm_role_definition" "plan_refresh" {
  name        = "${var.project_name}-terraform-plan-refresh"
  scope       = data.azurerm_subscription.current.id
  description = "Reads the keys and secrets Terraform refreshes into the state of ${var.project_name}'s stacks."

  permissions {
    actions = [
      "Microsoft.App/containerApps/listSecrets/action",
      "Microsoft.App/jobs/listSecrets/action",
      "Microsoft.Cache/redis/listKeys/action",
      "Microsoft.ContainerRegistry/registries/listCredentials/action",
      "Microsoft.DocumentDB/databaseAccounts/listConnectionStrings/action",
      "Microsoft.DocumentDB/databaseAccounts/listKeys/action",
      "Microsoft.EventHub/namespaces/authorizationRules/listKeys/action",
      "Microsoft.OperationalInsights/workspaces/sharedKeys/action",
      "Microsoft.Storage/storageAccounts/listKeys/action",
      "Microsoft.Web/sites/config/list/action",
    ]
  }

  assignable_scopes = [data.azurerm_subscription.current.id]
}

resource "azurerm_role_assignment" "plan_refresh" {
  for_each = local.plan_identities

  scope              = lookup(var.environment_scopes, each.key, data.azurerm_subscription.current.id)
  role_definition_id = azurerm_role_definition.plan_refresh.role_definition_resource_id
  principal_id       = azurerm_user_assigned_identity.plan[each.key].principal_id
}

resource "azurerm_role_assignment" "plan_data" {
  for_each = local.plan_identities

  scope                = lookup(var.environment_scopes, each.key, data.azurerm_subscription.current.id)
  role_definition_name = "Storage Queue Data Reader"
  principal_id         = azurerm_user_assigned_identity.plan[each.key].principal_id
}

# Data: training (retrain.yml) reads the lake and writes models with the deploy identity; with
# shared keys off, the provider also reads each account's queue properties through the data plane.
resource "azurerm_role_assignment" "deploy_data" {
  for_each = local.deploy_identities

  scope                = lookup(var.environment_scopes, each.key, data.azurerm_subscription.current.id)
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.deploy[each.key].principal_id
}

resource "azurerm_role_assignment" "deploy_queue_data" {
  for_each = local.deploy_identities

  scope                = lookup(var.environment_scopes, each.key, data.azurerm_subscription.current.id)
  role_definition_name = "Storage Queue Data Contributor"
  principal_id         = azurerm_user_assigned_identity.deploy[each.key].principal_id
}

# State: both identities write (a plan takes the blob lease that locks the state).
resource "azurerm_role_assignment" "deploy_state" {
  for_each = local.deploy_identities

  scope                = azurerm_storage_container.state.resource_manager_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.deploy[each.key].principal_id
}

resource "azurerm_role_assignment" "plan_state" {
  for_each = local.plan_identities

  scope                = azurerm_storage_container.state.resource_manager_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.plan[each.key].principal_id
}

# Images: the building environment pushes, every environment pulls the same digest.
resource "azurerm_role_assignment" "deploy_registry" {
  for_each = local.deploy_identities

  scope                = azurerm_container_registry.service.id
  role_definition_name = each.key == var.build_environment ? "AcrPush" : "AcrPull"
  principal_id         = azurerm_user_assigned_identity.deploy[each.key].principal_id
}
