resource "google_storage_bucket" "data" {
  # checkov:skip=CKV_GCP_62:Object access is recorded by Data Access audit logs; bucket access logs would duplicate them.
  project                     = var.project_id
  name                        = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.tags

  versioning {
    enabled = true
  }

  dynamic "encryption" {
    for_each = var.kms_key_id == null ? [] : [var.kms_key_id]

    content {
      default_kms_key_name = encryption.value
    }
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 5
      with_state         = "ARCHIVED"
    }

    action {
      type = "Delete"
    }
  }
}
# ---- outputs.tf ----
output "bucket_name" {
  description = "Name of the data lake bucket (raw/, features/, models/, scores/ prefixes)."
  value       = google_storage_bucket.data.name
}

output "bucket_url" {
  description = "gs:// URL of the data lake bucket."
  value       = google_storage_bucket.data.url
}
