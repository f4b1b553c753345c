# Bucket names are global across Google Cloud: the project's id makes this one the project's own, so
# two teams who name their projects alike can both deploy. Where the whole name is longer than 63
# characters, the project id gives way to a digest of the whole name. Cloud Storage refuses names
# with "google" (or a look-alike) in them, which a project's name may well hold.
locals {
  bucket_name_full = "${local.bucket_prefix}-data-${replace(var.project_id, "/[^a-z0-9-]/", "-")}"
  bucket_prefix    = replace(var.name_prefix, "/g[o0]{2}g(le|l3)?/", "gcp")
  bucket_name = length(local.bucket_name_full) <= 63 ? local.bucket_name_full : join("-", [
    trimsuffix(substr(local.bucket_prefix, 0, 48), "-"), "data", substr(sha1(local.bucket_name_full), 0, 8)
  ])
}

resource "google_storage_bucket" "data" {
  # checkov:skip=CKV_GCP_62:Object access is recorded by Data Access audit logs; bucket access logs would duplicate them.
  project                     = var.project_id
  name                        = local.bucket_name
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
