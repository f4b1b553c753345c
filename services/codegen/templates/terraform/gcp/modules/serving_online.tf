resource "google_vertex_ai_endpoint" "this" {
  project      = var.project_id
  name         = substr(replace("${var.name_prefix}-${var.region}", "/[^a-z0-9]/", ""), 0, 63)
  display_name = "${var.name_prefix}-online"
  location     = var.region
  region       = var.region
  description  = "Online prediction endpoint; CI deploys approved model versions onto it."
  network      = var.network_id == null ? null : "projects/${data.google_project.this.number}/global/networks/${reverse(split("/", var.network_id))[0]}"
  labels       = var.tags

  dynamic "encryption_spec" {
    for_each = var.kms_key_id == null ? [] : [var.kms_key_id]

    content {
      kms_key_name = encryption_spec.value
    }
  }
}

data "google_project" "this" {
  project_id = var.project_id
}
# ---- outputs.tf ----
output "endpoint_id" {
  description = "Vertex AI online prediction endpoint."
  value       = google_vertex_ai_endpoint.this.id
}
