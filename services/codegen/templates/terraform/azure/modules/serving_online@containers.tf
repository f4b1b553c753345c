resource "azurerm_kubernetes_cluster" "serving" {
  # checkov:skip=CKV_AZURE_117:Node OS disks use platform encryption; a disk encryption set is added when the plan requires CMK on compute.
  # checkov:skip=CKV_AZURE_115:The cluster is private whenever the plan has private networking (subnet_id set); otherwise GitHub-hosted runners deploy through the public API.
  # checkov:skip=CKV_AZURE_6:GitHub-hosted runner addresses are not fixed; the API needs Entra ID (local accounts off) and turns private with networking_private.
  # checkov:skip=CKV_AZURE_4:Service logs and metrics go to Application Insights from the monitoring module; Container Insights is a per-project cost decision.
  # checkov:skip=CKV_AZURE_226:Ephemeral OS disks need a VM size with a local cache or temp disk; the default Standard_D4s_v5 has none.
  # checkov:skip=CKV_AZURE_232:One autoscaled pool runs system and serving pods to keep cost down; split a user pool off as serving load grows.
  name                              = "${var.name_prefix}-aks-${var.region}"
  location                          = var.region
  resource_group_name               = var.resource_group_name
  dns_prefix                        = "${var.name_prefix}-${var.region}"
  private_cluster_enabled           = var.subnet_id != null
  local_account_disabled            = true
  role_based_access_control_enabled = true
  azure_policy_enabled              = true
  automatic_channel_upgrade         = "patch"
  sku_tier                          = "Standard"
  tags                              = var.tags

  default_node_pool {
    name                = "system"
    vm_size             = "Standard_D4s_v5"
    vnet_subnet_id      = var.subnet_id
    enable_auto_scaling = true
    min_count           = 2
    max_count           = 6
    max_pods            = 50
    zones               = ["1", "2", "3"]

    enable_host_encryption = true
  }

  identity {
    type = "SystemAssigned"
  }

  azure_active_directory_role_based_access_control {
    managed            = true
    azure_rbac_enabled = true
  }

  network_profile {
    network_plugin = "azure"
    network_policy = "azure"
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }
}
# ---- outputs.tf ----
output "cluster_id" {
  description = "AKS cluster running the inference deployment."
  value       = azurerm_kubernetes_cluster.serving.id
}
