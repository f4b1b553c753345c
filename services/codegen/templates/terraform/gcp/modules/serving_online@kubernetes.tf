# The inference API on the team's existing GKE cluster: this stack makes what the cloud side needs
# (the pods' identity and its read access to the model registry); deploy/kubernetes/serving.yaml is
# the Deployment, Service, autoscaler, disruption budget and network policy, which the deploy
# workflow applies with the values output here. Reading the cluster is what lets the deployer use
# it (roles/container.developer, granted by infra/bootstrap).
data "google_container_cluster" "team" {
  project  = var.project_id
  name     = var.existing_cluster_name
  location = var.existing_cluster_location
}

# A service account id holds 6 to 30 characters: where the full name is longer, the prefix gives
# way to a digest of the full name, and the role is kept, so ids stay unique within the project.
locals {
  account_names = {
    pod = "${var.name_prefix}-pod-${var.region}"
  }
  account_ids = {
    for role, full in local.account_names : role => length(full) <= 30 ? full : join("-", [
      trimsuffix(substr(var.name_prefix, 0, 19 - length(role)), "-"), role, substr(sha1(full), 0, 8)
    ])
  }
}

locals {
  namespace       = var.name_prefix
  service_account = "inference"
  # gs://bucket/prefix of the model registry; serving reads <prefix>/approved.json and the version it names.
  model_uri    = coalesce(var.model_uri, "gs://${var.name_prefix}-data/models")
  model_bucket = split("/", trimprefix(local.model_uri, "gs://"))[0]
}

resource "google_service_account" "api" {
  project      = var.project_id
  account_id   = local.account_ids["pod"]
  display_name = "Inference API pods (${local.namespace}/${local.service_account})"
}

# The API's identity may read the registry's bucket and nothing else.
resource "google_storage_bucket_iam_member" "models" {
  bucket = local.model_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.api.email}"
}

# Workload Identity: only the `inference` service account of this environment's namespace acts as it.
resource "google_service_account_iam_member" "pods" {
  service_account_id = google_service_account.api.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${data.google_container_cluster.team.workload_identity_config[0].workload_pool}[${local.namespace}/${local.service_account}]"
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

output "identity" {
  description = "Service account the pods act as through Workload Identity (the service account's annotation)."
  value       = google_service_account.api.email
}
