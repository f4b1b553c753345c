# Names unique across Azure carry a digest of the subscription: two teams who name their projects
# alike can both deploy.
locals {
  subscription_digest = substr(sha1(data.azurerm_client_config.current.subscription_id), 0, 6)
}

# Key Vault names hold at most 24 characters and are unique across Azure: where the full name is
# longer, the prefix gives way to a digest of it, and the role is kept.
locals {
  workspace_vault_name_full = "${var.name_prefix}-mlkv-${local.subscription_digest}"
  workspace_vault_name = length(local.workspace_vault_name_full) <= 24 ? local.workspace_vault_name_full : join("-", [
    trimsuffix(substr(var.name_prefix, 0, 10), "-"), "mlkv", substr(sha1(local.workspace_vault_name_full), 0, 8)
  ])
}

# Machine Learning workspace names hold at most 33 characters: where the full name is longer, the prefix gives way
# to a digest of it (the environment included), and the role is kept.
locals {
  workspace_name = length("${var.name_prefix}-ml") <= 33 ? "${var.name_prefix}-ml" : join("-", [
    trimsuffix(substr(var.name_prefix, 0, 21), "-"), "ml", substr(sha1(var.name_prefix), 0, 8)
  ])
}

# Storage account names are 3 to 24 lower-case letters and digits, unique across Azure: where the
# full name is longer, the prefix gives way to a digest of the full name, and the role is kept.
locals {
  workspace_account_name_full = replace("${var.name_prefix}ml${local.subscription_digest}", "/[^a-z0-9]/", "")
  workspace_account_name = length(local.workspace_account_name_full) <= 24 ? local.workspace_account_name_full : join("", [
    substr(replace(var.name_prefix, "/[^a-z0-9]/", ""), 0, 12), "ml", substr(sha1(local.workspace_account_name_full), 0, 8)
  ])
}

data "azurerm_client_config" "current" {}

# Azure ML keeps its own artifacts (run logs, snapshots, outputs) in the workspace's default storage,
# which may not have a hierarchical namespace: the data lake (ADLS Gen2) cannot be it. The jobs read
# and write the lake itself with the compute's identity (below).
resource "azurerm_storage_account" "workspace" {
  # checkov:skip=CKV_AZURE_206:Zone-redundant storage survives a zone loss; the workspace's artifacts are reproducible from the lake and the registry.
  # checkov:skip=CKV_AZURE_33:Queue service is unused; Azure ML keeps blobs and files here.
  # checkov:skip=CKV_AZURE_43:The name is derived from the project: lowercased alphanumerics cut to 24 characters, which checkov cannot evaluate.
  # checkov:skip=CKV_AZURE_59:Azure ML reaches its default storage over the public endpoint unless the workspace is private; every request is authorised.
  # checkov:skip=CKV2_AZURE_33:The workspace's own storage is reached by Azure ML through its trusted-service access; the data lake is what the private endpoint serves.
  # checkov:skip=CKV2_AZURE_40:Azure ML's default datastores are registered with the account's key (azurerm 3.x has no identity-based mode for them); the lake's data is not stored here.
  # checkov:skip=CKV2_AZURE_41:No SAS is issued by the platform; the key is held by the workspace only.
  # checkov:skip=CKV2_AZURE_1:The workspace's artifacts are encrypted with Microsoft-managed keys; with a customer-managed key the workspace runs in high-business-impact mode.
  # checkov:skip=CKV2_AZURE_21:Blob read logging for Azure ML's own artifacts is not part of the audit trail; the lake's reads are logged.
  # checkov:skip=CKV2_AZURE_38:Soft delete for the workspace's artifacts is the blob retention policy below.
  name                            = local.workspace_account_name
  location                        = var.region
  resource_group_name             = var.resource_group_name
  account_tier                    = "Standard"
  account_replication_type        = "ZRS"
  account_kind                    = "StorageV2"
  is_hns_enabled                  = false
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  local_user_enabled              = false
  allow_nested_items_to_be_public = false
  tags                            = var.tags

  blob_properties {
    delete_retention_policy {
      days = 30
    }

    container_delete_retention_policy {
      days = 30
    }
  }
}

resource "azurerm_application_insights" "ml" {
  name                = "${var.name_prefix}-ml"
  location            = var.region
  resource_group_name = var.resource_group_name
  application_type    = "other"
  tags                = var.tags
}

# The workspace needs a Key Vault for its own secrets; the customer-managed key vault is reused when present.
resource "azurerm_key_vault" "workspace" {
  # checkov:skip=CKV_AZURE_109:Workspace-internal vault reached by the ML service over trusted-service bypass.
  # checkov:skip=CKV_AZURE_189:Same reason: with public network access off, the trusted-service bypass closes too (no private endpoint is planned for this vault).
  # checkov:skip=CKV2_AZURE_32:Only made when the plan has no customer-managed key vault; it holds workspace-internal secrets and is reached over trusted-service bypass.
  count = var.wired_key_vault_id ? 0 : 1

  name                       = local.workspace_vault_name
  location                   = var.region
  resource_group_name        = var.resource_group_name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  enable_rbac_authorization  = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 90
  tags                       = var.tags
}

resource "azurerm_machine_learning_workspace" "this" {
  # checkov:skip=CKV_AZURE_144:Public access is on only when the plan has no private networking (subnet_id null); every call needs Entra ID.
  # checkov:skip=CKV2_AZURE_50:The data lake account is reached through its private endpoint when networking_private is planned; its public endpoint needs Entra ID, shared keys are off.
  name                           = local.workspace_name
  location                       = var.region
  resource_group_name            = var.resource_group_name
  application_insights_id        = azurerm_application_insights.ml.id
  key_vault_id                   = coalesce(var.key_vault_id, one(azurerm_key_vault.workspace[*].id))
  storage_account_id             = azurerm_storage_account.workspace.id
  public_network_access_enabled  = var.subnet_id == null
  primary_user_assigned_identity = var.encryption_identity_id
  high_business_impact           = var.key_vault_key_id != null
  tags                           = var.tags

  identity {
    type         = var.encryption_identity_id == null ? "SystemAssigned" : "SystemAssigned, UserAssigned"
    identity_ids = var.encryption_identity_id == null ? null : [var.encryption_identity_id]
  }

  dynamic "encryption" {
    for_each = var.key_vault_key_id == null ? [] : [var.key_vault_key_id]

    content {
      key_vault_id              = var.key_vault_id
      key_id                    = encryption.value
      user_assigned_identity_id = var.encryption_identity_id
    }
  }
}

resource "azurerm_machine_learning_compute_cluster" "training" {
  name                          = "training"
  location                      = var.region
  machine_learning_workspace_id = azurerm_machine_learning_workspace.this.id
  vm_priority                   = "Dedicated"
  vm_size                       = "Standard_${var.vm_size}"
  subnet_resource_id            = var.subnet_id
  local_auth_enabled            = false
  node_public_ip_enabled        = var.subnet_id == null
  tags                          = var.tags

  scale_settings {
    min_node_count                       = 0
    max_node_count                       = 4
    scale_down_nodes_after_idle_duration = "PT15M"
  }

  identity {
    type = "SystemAssigned"
  }
}

# The training jobs read the lake's raw data and write model versions into it, as the compute's
# identity.
resource "azurerm_role_assignment" "compute_lake" {
  count = var.wired_storage_account_id ? 1 : 0

  scope                = var.storage_account_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_machine_learning_compute_cluster.training.identity[0].principal_id
}

# The jobs run the service image from the bootstrap's registry (CI pushes it once).
data "azurerm_container_registry" "service" {
  name                = split(".", var.container_image)[0]
  resource_group_name = var.service_registry_resource_group
}

resource "azurerm_role_assignment" "pull_image" {
  for_each = {
    workspace = azurerm_machine_learning_workspace.this.identity[0].principal_id
    compute   = azurerm_machine_learning_compute_cluster.training.identity[0].principal_id
  }

  scope                = data.azurerm_container_registry.service.id
  role_definition_name = "AcrPull"
  principal_id         = each.value
}
# ---- outputs.tf ----
output "compute_name" {
  description = "Compute cluster the training jobs run on (VM size from the plan)."
  value       = azurerm_machine_learning_compute_cluster.training.name
}

output "workspace_id" {
  description = "Azure Machine Learning workspace (training jobs, model registry, endpoints)."
  value       = azurerm_machine_learning_workspace.this.id
}
