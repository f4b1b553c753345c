# Vertex AI Model Registry needs no resource; its lineage lives in this encrypted metadata store.
resource "google_vertex_ai_metadata_store" "this" {
  project     = var.project_id
  name        = "${var.name_prefix}-metadata"
  region      = var.region
  description = "Lineage of datasets, training runs and model versions."

  dynamic "encryption_spec" {
    for_each = var.kms_key_id == null ? [] : [var.kms_key_id]

    content {
      kms_key_name = encryption_spec.value
    }
  }
}
# ---- outputs.tf ----
output "metadata_store_id" {
  description = "Vertex ML Metadata store backing the model registry lineage."
  value       = google_vertex_ai_metadata_store.this.id
}
