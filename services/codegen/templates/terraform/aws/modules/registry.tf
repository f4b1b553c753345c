# Model versions: SageMaker Model Registry entries, artifacts under <data bucket>/models/.
# Serving loads the version named in models/approved.json; approving a package in the registry
# (and the deploy workflow) rewrites that file, so a rollback is one edit of it.
locals {
  bucket    = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
  model_uri = "s3://${local.bucket}/models"
}

resource "aws_sagemaker_model_package_group" "models" {
  model_package_group_name        = "${var.name_prefix}-models"
  model_package_group_description = "Approved model versions; serving deploys only Approved packages."
  tags                            = var.tags
}

# Written once with no version: serving reports not ready until a model is approved.
resource "aws_s3_object" "approved" {
  bucket       = local.bucket
  key          = "models/approved.json"
  content      = jsonencode({ version = null })
  content_type = "application/json"
  kms_key_id   = var.kms_key_arn
  tags         = var.tags

  lifecycle {
    ignore_changes = [content, kms_key_id]
  }
}
# ---- outputs.tf ----
output "model_package_group" {
  description = "SageMaker Model Registry group of the model versions."
  value       = aws_sagemaker_model_package_group.models.model_package_group_name
}

output "model_uri" {
  description = "Registry prefix holding model versions and approved.json (MODEL_URI of training and serving)."
  value       = local.model_uri
}
