data "aws_partition" "current" {}

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
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSGlueServiceRole"
}

# Read deliveries and the job's code, write the raw zone; with the project key, use it.
resource "aws_iam_role_policy" "crawler_read" {
  name = "ingest-landing-into-raw"
  role = aws_iam_role.crawler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = ["arn:${data.aws_partition.current.partition}:s3:::${local.bucket}"]
      },
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["arn:${data.aws_partition.current.partition}:s3:::${local.bucket}/landing/*", "arn:${data.aws_partition.current.partition}:s3:::${local.bucket}/code/*"]
      },
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = ["arn:${data.aws_partition.current.partition}:s3:::${local.bucket}/raw/*"]
      },
      ], var.kms_key_arn == null ? [] : [{
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = var.kms_key_arn
    }])
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
# The ingest job: pipelines/ingest.py checks each new delivery under landing/ and copies it into
# raw/ (server-side), where training reads it; a team's own Spark transformations go beside it.
# deploy.yml uploads the script (code/ingest_job.py) and the modules it imports (code/ingest-libs.zip).
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
    "--extra-py-files" = "s3://${local.bucket}/code/ingest-libs.zip"
    "--SOURCE_URI"     = "s3://${local.bucket}/landing"
    "--TARGET_URI"     = "s3://${local.bucket}/raw"
    "--enable-metrics" = "true"
  }
}

# Nightly, an hour before the crawler catalogues what arrived.
resource "aws_glue_trigger" "nightly" {
  name     = "${var.name_prefix}-ingest-nightly"
  type     = "SCHEDULED"
  schedule = "cron(0 1 * * ? *)"
  tags     = var.tags

  actions {
    job_name = aws_glue_job.ingest.name
  }
}
# ---- outputs.tf ----
output "catalog_database" {
  description = "Glue catalog database of the raw zone."
  value       = aws_glue_catalog_database.raw.name
}

output "ingest_job_name" {
  description = "Glue job that copies new deliveries from landing/ into raw/."
  value       = aws_glue_job.ingest.name
}

output "crawler_name" {
  description = "Glue crawler that catalogues new raw files."
  value       = aws_glue_crawler.raw.name
}
