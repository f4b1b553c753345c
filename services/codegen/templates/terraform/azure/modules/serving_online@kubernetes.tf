# The inference API on the team's existing AKS cluster: this stack makes what the cloud side needs
# (the pods' identity, its read access to the model registry, the nodes' pull of the service
# image); deploy/kubernetes/serving.yaml is the Deployment, Service, autoscaler, disruption budget
# and network policy, which the deploy workflow applies with the values output here. The cluster
# needs its OIDC issuer and workload identity on (`az aks update --enable-oidc-issuer
# --enable-workload-identity`).
data "azurerm_kubernetes_cluster" "team" {
  name                = var.existing_cluster_name
  resource_group_name = var.existing_cluster_resource_group
}

locals {
  namespace       = var.name_prefix
  service_account = "inference"
  # abfs://models@<account>.dfs.core.windows.net of the data lake; serving reads approved.json there.
  model_uri = coalesce(var.model_uri, "abfs://models")
}

# The pods' own identity: it may read the model registry container and nothing else.
resource "azurerm_user_assigned_identity" "api" {
  name                = "${var.name_prefix}-api-${var.region}"
  location            = var.region
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

# Workload identity: only the `inference` service account of this environment's namespace, in
# tokens the team's cluster issues, signs in as it.
resource "azurerm_federated_identity_credential" "api" {
  name                = "${local.namespace}-${local.service_account}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.api.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = data.azurerm_kubernetes_cluster.team.oidc_issuer_url
  subject             = "system:serviceaccount:${local.namespace}:${local.service_account}"
}

resource "azurerm_role_assignment" "read_models" {
  count = var.wired_storage_account_id ? 1 : 0

  scope                = "${var.storage_account_id}/blobServices/default/containers/models"
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.api.principal_id
}

# The service image is in the bootstrap's registry (CI pushes it once); the cluster's nodes pull
# it with their kubelet identity.
data "azurerm_container_registry" "service" {
  name                = split(".", var.container_image)[0]
  resource_group_name = var.service_registry_resource_group
}

resource "azurerm_role_assignment" "pull_image" {
  scope                = data.azurerm_container_registry.service.id
  role_definition_name = "AcrPull"
  principal_id         = data.azurerm_kubernetes_cluster.team.kubelet_identity[0].object_id
}
# ---- outputs.tf ----
output "namespace" {
  description = "Namespace of the cluster the inference API runs in (one per environment)."
  value       = local.namespace
}

output "deployment_name" {
  description = "Deployment (and Service) of the inference API in that namespace."
  value       = "${var.name_prefix}-api"
}

output "min_replicas" {
  description = "Pods serving at all times (the autoscaler's minimum)."
  value       = var.replicas
}

output "max_replicas" {
  description = "The autoscaler's maximum of serving pods."
  value       = var.max_replicas
}

output "cpu" {
  description = "CPU each serving pod requests and is limited to (Kubernetes quantity)."
  value       = tostring(var.vcpu)
}

output "memory" {
  description = "Memory each serving pod requests and is limited to (Kubernetes quantity)."
  value       = "${var.mem_gb}Gi"
}

output "model_uri" {
  description = "Registry prefix the pods read approved.json and the model from."
  value       = local.model_uri
}

output "metrics_namespace" {
  description = "Service name the serving metrics' log lines carry."
  value       = "${var.name_prefix}/model"
}

output "cluster_id" {
  description = "The team's AKS cluster the pods run on (its container logs hold the serving metrics)."
  value       = data.azurerm_kubernetes_cluster.team.id
}

output "identity" {
  description = "Client id of the identity the pods sign in as (the service account's annotation)."
  value       = azurerm_user_assigned_identity.api.client_id
}
