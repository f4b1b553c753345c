data "azurerm_client_config" "current" {}

# Names unique across Azure carry a digest of the subscription: two teams who name their projects
# alike can both deploy.
locals {
  subscription_digest = substr(sha1(data.azurerm_client_config.current.subscription_id), 0, 6)
}

# A function app's name (its *.azurewebsites.net host) and its plan's hold at most 60 characters:
# where the full name is longer, the prefix gives way to a digest of it, and the role is kept.
locals {
  app_name_full = "${var.name_prefix}-inference-${var.region}-${local.subscription_digest}"
  app_name = length(local.app_name_full) <= 60 ? local.app_name_full : join("-", [
    trimsuffix(substr(var.name_prefix, 0, 40), "-"), "inference", substr(sha1(local.app_name_full), 0, 8)
  ])
}

# Storage account names are 3 to 24 lower-case letters and digits, unique across Azure: where the
# full name is longer, the prefix gives way to a digest of the full name, and the role is kept.
locals {
  runtime_account_name_full = replace("${var.name_prefix}fn${var.region}${local.subscription_digest}", "/[^a-z0-9]/", "")
  runtime_account_name = length(local.runtime_account_name_full) <= 24 ? local.runtime_account_name_full : join("", [
    substr(replace(var.name_prefix, "/[^a-z0-9]/", ""), 0, 14), "fn", substr(sha1(local.runtime_account_name_full), 0, 8)
  ])
}

# Runtime storage of the function app (code packages, leases); the data lake stays separate.
resource "azurerm_storage_account" "runtime" {
  # checkov:skip=CKV_AZURE_206:Function runtime state is disposable; locally redundant storage is enough.
  # checkov:skip=CKV2_AZURE_1:Holds only the function package and leases, no data; platform-managed keys suffice.
  name                            = local.runtime_account_name
  location                        = var.region
  resource_group_name             = var.resource_group_name
  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  min_tls_version                 = "TLS1_2"
  allow_nested_items_to_be_public = false
  tags                            = var.tags
}

resource "azurerm_service_plan" "api" {
  name                = local.app_name
  location            = var.region
  resource_group_name = var.resource_group_name
  os_type             = "Linux"
  sku_name            = "EP1"
  tags                = var.tags
}

resource "azurerm_linux_function_app" "api" {
  name                          = local.app_name
  location                      = var.region
  resource_group_name           = var.resource_group_name
  service_plan_id               = azurerm_service_plan.api.id
  storage_account_name          = azurerm_storage_account.runtime.name
  storage_uses_managed_identity = true
  https_only                    = true
  public_network_access_enabled = var.subnet_id == null
  virtual_network_subnet_id     = var.subnet_id
  tags                          = var.tags

  identity {
    type = "SystemAssigned"
  }

  site_config {
    minimum_tls_version    = "1.2"
    ftps_state             = "Disabled"
    http2_enabled          = true
    health_check_path      = "/healthz"
    vnet_route_all_enabled = var.subnet_id != null

    application_stack {
      python_version = "3.11"
    }
  }

  app_settings = {
    MODEL_PATH = "artifacts/model.json"
  }
}

resource "azurerm_role_assignment" "runtime" {
  scope                = azurerm_storage_account.runtime.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = azurerm_linux_function_app.api.identity[0].principal_id
}
# ---- outputs.tf ----
output "function_app_hostname" {
  description = "Hostname of the inference function app."
  value       = azurerm_linux_function_app.api.default_hostname
}
