# Container App names hold at most 32 characters: where the full name is longer, the prefix gives way
# to a digest of it (the environment included), and the role is kept.
locals {
  app_name = length("${var.name_prefix}-api") <= 32 ? "${var.name_prefix}-api" : join("-", [
    trimsuffix(substr(var.name_prefix, 0, 19), "-"), "api", substr(sha1(var.name_prefix), 0, 8)
  ])
}

# The inference API on Azure Container Apps: managed HTTPS ingress load-balancing across zones,
# traffic only to replicas whose readiness probe (/healthz) passes, and an HTTP scale rule keeping
# `concurrency` requests in flight per replica between the planned minimum and maximum.
resource "azurerm_log_analytics_workspace" "api" {
  name                = "${var.name_prefix}-api-${var.region}"
  location            = var.region
  resource_group_name = var.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = 90
  tags                = var.tags
}

resource "azurerm_container_app_environment" "api" {
  name                           = "${var.name_prefix}-api-${var.region}"
  location                       = var.region
  resource_group_name            = var.resource_group_name
  log_analytics_workspace_id     = azurerm_log_analytics_workspace.api.id
  infrastructure_subnet_id       = var.subnet_id
  internal_load_balancer_enabled = var.subnet_id != null
  zone_redundancy_enabled        = var.subnet_id != null
  tags                           = var.tags
}

# The API's own identity: it may read the model registry container and nothing else.
resource "azurerm_user_assigned_identity" "api" {
  name                = "${var.name_prefix}-api-${var.region}"
  location            = var.region
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_role_assignment" "read_models" {
  count = var.wired_storage_account_id ? 1 : 0

  scope                = "${var.storage_account_id}/blobServices/default/containers/models"
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.api.principal_id
}

# The service image is in the bootstrap's registry (CI pushes it once); the API pulls it with its
# own identity, which the environment's deployer may grant AcrPull (not a privileged role).
data "azurerm_container_registry" "service" {
  name                = split(".", var.container_image)[0]
  resource_group_name = var.service_registry_resource_group
}

resource "azurerm_role_assignment" "pull_image" {
  scope                = data.azurerm_container_registry.service.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.api.principal_id
}

resource "azurerm_container_app" "api" {
  name                         = local.app_name
  container_app_environment_id = azurerm_container_app_environment.api.id
  resource_group_name          = var.resource_group_name
  revision_mode                = "Single"
  tags                         = var.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.api.id]
  }

  registry {
    server   = data.azurerm_container_registry.service.login_server
    identity = azurerm_user_assigned_identity.api.id
  }

  ingress {
    external_enabled = var.subnet_id == null
    target_port      = 8080
    transport        = "http"

    traffic_weight {
      latest_revision = true
      percentage      = 100
    }
  }

  template {
    min_replicas = var.min_replicas
    max_replicas = var.max_replicas

    http_scale_rule {
      name                = "concurrent-requests"
      concurrent_requests = tostring(var.concurrency)
    }

    container {
      name   = "inference"
      image  = var.container_image
      cpu    = 2
      memory = "4Gi"

      env {
        name  = "MODEL_URI"
        value = coalesce(var.model_uri, "abfs://models")
      }

      env {
        name  = "AZURE_CLIENT_ID"
        value = azurerm_user_assigned_identity.api.client_id
      }

      # Ready once the process answers, model or not: a revision none of whose replicas is ready
      # fails to provision, as every revision would before the first promotion. A replica without
      # a model answers 503 and loads one within MODEL_RELOAD_SECONDS.
      readiness_probe {
        transport = "HTTP"
        port      = 8080
        path      = "/healthz"
      }

      liveness_probe {
        transport = "HTTP"
        port      = 8080
        path      = "/healthz"
      }
    }
  }

  # The first revision pulls the image: the grant exists before it does.
  depends_on = [azurerm_role_assignment.pull_image]
}
# ---- outputs.tf ----
output "endpoint" {
  description = "URL of the inference API (internal to the virtual network when the plan is private)."
  value       = "https://${azurerm_container_app.api.ingress[0].fqdn}"
}

output "identity_principal_id" {
  description = "Principal of the API's managed identity."
  value       = azurerm_user_assigned_identity.api.principal_id
}

output "container_app_name" {
  description = "Name of the API's container app; promote.yml sets a variable on it, a new revision that loads the approved model at once."
  value       = azurerm_container_app.api.name
}
