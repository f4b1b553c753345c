resource "google_vertex_ai_featurestore" "this" {
  project       = var.project_id
  name          = replace("${var.name_prefix}_features", "-", "_")
  region        = var.region
  force_destroy = false
  labels        = var.tags

  online_serving_config {
    fixed_node_count = var.nodes
  }

  dynamic "encryption_spec" {
    for_each = var.kms_key_id == null ? [] : [var.kms_key_id]

    content {
      kms_key_name = encryption_spec.value
    }
  }
}

resource "google_vertex_ai_featurestore_entitytype" "entity" {
  name         = "entity"
  featurestore = google_vertex_ai_featurestore.this.id
  labels       = var.tags
}

resource "google_vertex_ai_featurestore_entitytype_feature" "features" {
  for_each = toset(var.feature_names)

  name       = each.value
  entitytype = google_vertex_ai_featurestore_entitytype.entity.id
  value_type = "DOUBLE"
  labels     = var.tags
}
# ---- outputs.tf ----
output "featurestore_id" {
  description = "Vertex AI Feature Store of the model features."
  value       = google_vertex_ai_featurestore.this.id
}
