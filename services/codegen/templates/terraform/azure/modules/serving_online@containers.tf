resource "azurerm_kubernetes_cluster" "serving" {
  # checkov:skip=CKV_AZURE_117:Node OS disks use platform encryption; a disk encryption set is added when the plan requires CMK on compute.
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
    vm_size             = lookup(var.settings, "vm_size", "Standard_D4s_v5")
    vnet_subnet_id      = var.subnet_id
    enable_auto_scaling = true
    min_count           = tonumber(lookup(var.settings, "min_nodes", "2"))
    max_count           = tonumber(lookup(var.settings, "max_nodes", "6"))
    max_pods            = 50
    zones               = ["1", "2", "3"]
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
