locals {
  bucket = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
}

data "aws_iam_policy_document" "glue_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "crawler" {
  name               = "${var.name_prefix}-ingest-crawler"
  assume_role_policy = data.aws_iam_policy_document.glue_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "crawler_service" {
  role       = aws_iam_role.crawler.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"
}

resource "aws_iam_role_policy" "crawler_read" {
  name = "read-raw-zone"
  role = aws_iam_role.crawler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]
      Resource = ["arn:aws:s3:::${local.bucket}", "arn:aws:s3:::${local.bucket}/raw/*", "arn:aws:s3:::${local.bucket}/code/*", "arn:aws:s3:::${local.bucket}/training/*"]
    }]
  })
}

resource "aws_glue_catalog_database" "raw" {
  name = replace("${var.name_prefix}_raw", "-", "_")
}

resource "aws_glue_security_configuration" "this" {
  name = "${var.name_prefix}-ingest"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = var.kms_key_arn == null ? "DISABLED" : "SSE-KMS"
      kms_key_arn                = var.kms_key_arn
    }

    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = var.kms_key_arn == null ? "DISABLED" : "CSE-KMS"
      kms_key_arn                   = var.kms_key_arn
    }

    s3_encryption {
      s3_encryption_mode = var.kms_key_arn == null ? "SSE-S3" : "SSE-KMS"
      kms_key_arn        = var.kms_key_arn
    }
  }
}

resource "aws_glue_crawler" "raw" {
  name                   = "${var.name_prefix}-raw"
  database_name          = aws_glue_catalog_database.raw.name
  role                   = aws_iam_role.crawler.arn
  schedule               = "cron(0 2 * * ? *)"
  security_configuration = aws_glue_security_configuration.this.name
  tags                   = var.tags

  s3_target {
    path = "s3://${local.bucket}/raw/"
  }
}
# The ETL job loading the raw zone into the lake's curated prefix, sized in DPUs by the plan.
resource "aws_glue_job" "ingest" {
  name                   = "${var.name_prefix}-ingest"
  role_arn               = aws_iam_role.crawler.arn
  glue_version           = "4.0"
  max_capacity           = var.dpu
  security_configuration = aws_glue_security_configuration.this.name
  tags                   = var.tags

  command {
    name            = "glueetl"
    python_version  = "3"
    script_location = "s3://${local.bucket}/code/ingest_job.py"
  }

  default_arguments = {
    "--job-language"   = "python"
    "--SOURCE_URI"     = "s3://${local.bucket}/raw/"
    "--TARGET_URI"     = "s3://${local.bucket}/training/"
    "--enable-metrics" = "true"
  }
}
# ---- outputs.tf ----
output "catalog_database" {
  description = "Glue catalog database of the raw zone."
  value       = aws_glue_catalog_database.raw.name
}

output "crawler_name" {
  description = "Glue crawler that catalogues new raw files."
  value       = aws_glue_crawler.raw.name
}
