data "aws_partition" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "feature_store" {
  name               = "${var.name_prefix}-feature-store"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "feature_store" {
  role       = aws_iam_role.feature_store.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSageMakerFeatureStoreAccess"
}

resource "aws_sagemaker_feature_group" "features" {
  feature_group_name             = "${var.name_prefix}-features"
  record_identifier_feature_name = "entity_id"
  event_time_feature_name        = "event_time"
  role_arn                       = aws_iam_role.feature_store.arn
  tags                           = var.tags

  feature_definition {
    feature_name = "entity_id"
    feature_type = "String"
  }

  feature_definition {
    feature_name = "event_time"
    feature_type = "String"
  }

  dynamic "feature_definition" {
    for_each = var.feature_names

    content {
      feature_name = feature_definition.value
      feature_type = "Fractional"
    }
  }

  online_store_config {
    enable_online_store = true

    security_config {
      kms_key_id = var.kms_key_arn
    }
  }

  offline_store_config {
    disable_glue_table_creation = false

    s3_storage_config {
      s3_uri     = "s3://${coalesce(var.data_bucket_name, "${var.name_prefix}-data")}/features/"
      kms_key_id = var.kms_key_arn
    }
  }
}
# ---- outputs.tf ----
output "feature_group_name" {
  description = "SageMaker feature group holding online and offline features."
  value       = aws_sagemaker_feature_group.features.feature_group_name
}
