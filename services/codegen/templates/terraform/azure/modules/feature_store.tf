data "azurerm_client_config" "current" {}

# Names unique across Azure carry a digest of the subscription: two teams who name their projects
# alike can both deploy.
locals {
  subscription_digest = substr(sha1(data.azurerm_client_config.current.subscription_id), 0, 6)
}

# Cache names are unique across Azure (`<name>.redis.cache.windows.net`).
locals {
  cache_name = "${var.name_prefix}-features-${local.subscription_digest}"
}

# Offline features live as Parquet in the data lake; the online view is served from Redis.
resource "azurerm_redis_cache" "online" {
  # checkov:skip=CKV_AZURE_89:Public access is on only when the plan has no private networking (subnet_id null); clients need Entra ID and TLS 1.2.
  name                          = local.cache_name
  location                      = var.region
  resource_group_name           = var.resource_group_name
  capacity                      = 1
  family                        = "P"
  shard_count                   = var.cache_nodes
  sku_name                      = "Premium"
  minimum_tls_version           = "1.2"
  non_ssl_port_enabled          = false
  public_network_access_enabled = var.subnet_id == null
  subnet_id                     = var.subnet_id
  tags                          = var.tags

  redis_configuration {
    active_directory_authentication_enabled = true
  }
}
# ---- outputs.tf ----
output "online_store_id" {
  description = "Redis cache serving the online feature view."
  value       = azurerm_redis_cache.online.id
}
