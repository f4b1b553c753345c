resource "azurerm_storage_account" "data" {
  # checkov:skip=CKV_AZURE_206:Replication (ZRS/GRS) is chosen per environment through settings.replication.
  # checkov:skip=CKV_AZURE_33:Queue service is unused; only blob containers hold data.
  name                              = substr(replace("${var.name_prefix}data", "/[^a-z0-9]/", ""), 0, 24)
  location                          = var.region
  resource_group_name               = var.resource_group_name
  account_tier                      = "Standard"
  account_replication_type          = lookup(var.settings, "replication", "ZRS")
  account_kind                      = "StorageV2"
  is_hns_enabled                    = true
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  shared_access_key_enabled         = false
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
  for_each = toset(["raw", "features", "models", "scores"])

  name                  = each.value
  storage_account_name  = azurerm_storage_account.data.name
  container_access_type = "private"
}
# ---- outputs.tf ----
output "storage_account_id" {
  description = "Id of the data lake storage account."
  value       = azurerm_storage_account.data.id
}

output "storage_account_name" {
  description = "Name of the data lake storage account (containers raw, features, models, scores)."
  value       = azurerm_storage_account.data.name
}
