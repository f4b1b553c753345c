data "azurerm_client_config" "current" {}

# Names unique across Azure carry a digest of the subscription: two teams who name their projects
# alike can both deploy.
locals {
  subscription_digest = substr(sha1(data.azurerm_client_config.current.subscription_id), 0, 6)
}

# Storage account names are 3 to 24 lower-case letters and digits, unique across Azure: where the
# full name is longer, the prefix gives way to a digest of the full name, and the role is kept.
locals {
  lake_account_name_full = replace("${var.name_prefix}data${local.subscription_digest}", "/[^a-z0-9]/", "")
  lake_account_name = length(local.lake_account_name_full) <= 24 ? local.lake_account_name_full : join("", [
    substr(replace(var.name_prefix, "/[^a-z0-9]/", ""), 0, 12), "data", substr(sha1(local.lake_account_name_full), 0, 8)
  ])
}

resource "azurerm_storage_account" "data" {
  # checkov:skip=CKV_AZURE_206:Zone-redundant storage survives a zone loss; geo-replication is a per-project decision with data-residency impact.
  # checkov:skip=CKV_AZURE_33:Queue service is unused; only blob containers hold data.
  # checkov:skip=CKV_AZURE_43:The name is derived from the project: lowercased alphanumerics cut to 24 characters, which checkov cannot evaluate.
  # checkov:skip=CKV_AZURE_59:Terraform creates the containers through the blob data plane from GitHub-hosted runners; access needs Entra ID (shared keys off, no anonymous blobs).
  # checkov:skip=CKV2_AZURE_33:The private endpoint is created by the networking_private module when the plan has private networking.
  name                              = local.lake_account_name
  location                          = var.region
  resource_group_name               = var.resource_group_name
  account_tier                      = "Standard"
  account_replication_type          = "ZRS"
  account_kind                      = "StorageV2"
  is_hns_enabled                    = true
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  shared_access_key_enabled         = false
  local_user_enabled                = false
  allow_nested_items_to_be_public   = false
  infrastructure_encryption_enabled = true
  tags                              = var.tags

  blob_properties {
    delete_retention_policy {
      days = 30
    }

    container_delete_retention_policy {
      days = 30
    }
  }

  dynamic "identity" {
    for_each = var.encryption_identity_id == null ? [] : [var.encryption_identity_id]

    content {
      type         = "UserAssigned"
      identity_ids = [identity.value]
    }
  }

  dynamic "customer_managed_key" {
    for_each = var.key_vault_key_id == null ? [] : [var.key_vault_key_id]

    content {
      key_vault_key_id          = customer_managed_key.value
      user_assigned_identity_id = var.encryption_identity_id
    }
  }
}

resource "azurerm_storage_container" "zones" {
  # checkov:skip=CKV2_AZURE_21:Blob read logging is a diagnostic setting (StorageRead) on the blob service, made by the audit_logging module; checkov only knows Storage Insights.
  for_each = toset(["raw", "features", "models", "scores"])

  name                  = each.value
  storage_account_name  = azurerm_storage_account.data.name
  container_access_type = "private"
}
# ---- outputs.tf ----
output "data_uri" {
  description = "Prefix holding the training data (DATA_URI of the training job)."
  value       = "abfs://raw@${azurerm_storage_account.data.name}.dfs.core.windows.net"
}

output "model_uri" {
  description = "Registry prefix holding model versions and approved.json (MODEL_URI of training and serving)."
  value       = "abfs://models@${azurerm_storage_account.data.name}.dfs.core.windows.net"
}

output "storage_account_id" {
  description = "Id of the data lake storage account, once its containers exist (grants are scoped to them)."
  value       = azurerm_storage_account.data.id
  depends_on  = [azurerm_storage_container.zones]
}

output "storage_account_name" {
  description = "Name of the data lake storage account (containers raw, features, models, scores)."
  value       = azurerm_storage_account.data.name
}
