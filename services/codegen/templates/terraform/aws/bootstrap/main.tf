# Account-wide resources, applied once per AWS account by an administrator (see docs/README.md):
# the Terraform state bucket, the GitHub OIDC provider, the shared image repository and, per
# environment, the role GitHub Actions deploys with and the read-only role it plans with.
# Keeping them out of infra/ lets every environment apply without creating them twice, and keeps
# a deploy role from editing its own permissions.
terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project    = var.project_name
      managed_by = "terraform"
      stack      = "bootstrap"
    }
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # Role names are fixed here and in .github/workflows; the validators compare them.
  deploy_roles = { for env in var.environments : env => "${var.project_name}-${env}-github-deploy" }
  plan_roles   = { for env in var.environments : env => "${var.project_name}-${env}-github-plan" }
  github_sub   = "token.actions.githubusercontent.com:sub"
  github_aud   = "token.actions.githubusercontent.com:aud"
  # What the deploy role may do beyond its named resources: the services infra/ builds (read
  # from its resource types when the repository was generated), in the regions it runs in.
  stack_actions = %%{stack_actions}
}

# ---- encryption of state, locks and images ----

data "aws_iam_policy_document" "state_key" {
  # checkov:skip=CKV_AWS_111:In a key policy the resource "*" is this key alone; the account statement delegates to IAM as the default key policy does.
  # checkov:skip=CKV_AWS_356:Same reason: a key policy's "*" cannot reach any other resource.
  # checkov:skip=CKV_AWS_109:Same reason: key administration stays with the account's IAM policies.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudTrailEncrypts"
    actions   = ["kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:cloudtrail:arn"
      values   = ["arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/*"]
    }
  }

  statement {
    sid       = "LogsEncrypt"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "state" {
  description             = "${var.project_name}: Terraform state and CI artefacts"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.state_key.json
}

resource "aws_kms_alias" "state" {
  name          = "alias/${var.project_name}-bootstrap"
  target_key_id = aws_kms_key.state.key_id
}

# ---- Terraform state (S3 with native lock files: no lock table to run) ----

resource "aws_s3_bucket" "state" {
  # checkov:skip=CKV_AWS_144:State is versioned in one region; a replica would add a second copy of every secret output to guard.
  # checkov:skip=CKV_AWS_18:Access to state is recorded by CloudTrail data events; server access logs would duplicate them.
  # checkov:skip=CKV2_AWS_62:Nothing reacts to state writes; notifications would have no consumer.
  bucket = "${var.project_name}-tfstate-${local.account_id}"
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "old-state-versions"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    noncurrent_version_expiration {
      noncurrent_days = 90
    }
  }
}

data "aws_iam_policy_document" "state_bucket" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state_bucket.json
}

# ---- GitHub OIDC: one provider per account ----

resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

# ---- the service image: built once, promoted by digest through every environment ----

resource "aws_ecr_repository" "service" {
  name                 = "%%{service_repository}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.state.arn
  }
}

# Lambda reads a function's image through the repository's policy, not the deployer's role:
# without it, creating a function from the image fails. Only this project's functions may.
resource "aws_ecr_repository_policy" "service" {
  repository = aws_ecr_repository.service.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ProjectFunctionsPullImages"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      Condition = { StringLike = { "aws:sourceArn" = "arn:${local.partition}:lambda:*:${local.account_id}:function:${var.project_name}-*" } }
    }]
  })
}

resource "aws_ecr_lifecycle_policy" "service" {
  repository = aws_ecr_repository.service.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 200 images; older ones can no longer be promoted or rolled back to."
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 200 }
      action       = { type = "expire" }
    }]
  })
}

# ---- per environment: deploy role (its environment only) and plan role (read-only) ----

data "aws_iam_policy_document" "deploy_trust" {
  for_each = local.deploy_roles

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = local.github_aud
      values   = ["sts.amazonaws.com"]
    }

    # Only a job running in this GitHub environment (whose protection rules apply) gets it;
    # never a pull request, never another environment.
    condition {
      test     = "StringEquals"
      variable = local.github_sub
      values   = ["repo:${var.github_repository}:environment:${each.key}"]
    }
  }
}

data "aws_iam_policy_document" "plan_trust" {
  for_each = local.plan_roles

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = local.github_aud
      values   = ["sts.amazonaws.com"]
    }

    # Pull requests and pushes to main plan with it; it can read, never change.
    condition {
      test     = "StringEquals"
      variable = local.github_sub
      values = [
        "repo:${var.github_repository}:pull_request",
        "repo:${var.github_repository}:ref:refs/heads/main",
      ]
    }
  }
}

resource "aws_iam_role" "deploy" {
  for_each = local.deploy_roles

  name                 = each.value
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust[each.key].json
  max_session_duration = 3600
}

resource "aws_iam_role" "plan" {
  for_each = local.plan_roles

  name                 = each.value
  assume_role_policy   = data.aws_iam_policy_document.plan_trust[each.key].json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "deploy" {
  # checkov:skip=CKV_AWS_356:Terraform creates the environment's resources, whose ARNs do not exist before; the services are limited to those the stack builds and to its regions.
  # checkov:skip=CKV_AWS_111:Same reason: creating resources needs write actions before their ARNs exist; region and service limits bound them.
  # checkov:skip=CKV_AWS_109:IAM changes are limited to roles and policies named after this environment, and the CI roles themselves are denied.
  for_each = local.deploy_roles

  statement {
    sid       = "StateOfThisEnvironment"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.state.arn}/${var.project_name}/${each.key}.tfstate*"]
  }

  # Listing shows key names only; `terraform init` lists the bucket to find workspaces.
  statement {
    sid       = "ListState"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }

  statement {
    sid       = "StateKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.state.arn]
  }

  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PullServiceImage"
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.service.arn]
  }

  # Only the environment that builds images pushes them; the others deploy the same digest.
  dynamic "statement" {
    for_each = each.key == var.build_environment ? [1] : []

    content {
      sid = "PushServiceImage"
      actions = [
        "ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
      ]
      resources = [aws_ecr_repository.service.arn]
    }
  }

  statement {
    sid       = "ServicesOfTheStack"
    actions   = local.stack_actions
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.regions
    }
  }

  statement {
    sid     = "IdentitiesOfThisEnvironment"
    actions = ["iam:*"]
    resources = [
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project_name}-${each.key}-*",
      "arn:${local.partition}:iam::${local.account_id}:policy/${var.project_name}-${each.key}-*",
      "arn:${local.partition}:iam::${local.account_id}:instance-profile/${var.project_name}-${each.key}-*",
    ]
  }

  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole", "iam:GetRole", "iam:ListRoles", "iam:ListPolicies", "iam:GetPolicy"]
    resources = ["*"]
  }

  statement {
    sid       = "NeverTheCiRoles"
    effect    = "Deny"
    actions   = ["iam:*"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${var.project_name}-*-github-*"]
  }

  # The services above are granted whole; these deny what belongs to the account or to
  # another environment: their state, the state bucket and key, the images, the audit trail.
  statement {
    sid       = "NeverOtherEnvironmentsState"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [for env in var.environments : "${aws_s3_bucket.state.arn}/${var.project_name}/${env}.tfstate*" if env != each.key]
  }

  statement {
    sid    = "NeverTheBootstrap"
    effect = "Deny"
    actions = [
      "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy", "ecr:DeleteRepository",
      "ecr:SetRepositoryPolicy", "ecr:BatchDeleteImage", "ecr:PutLifecyclePolicy", "cloudtrail:StopLogging",
      "cloudtrail:DeleteTrail", "cloudtrail:UpdateTrail", "cloudtrail:PutEventSelectors",
    ]
    resources = [
      aws_kms_key.state.arn,
      aws_ecr_repository.service.arn,
      "arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/${var.project_name}-account-trail",
    ]
  }

  dynamic "statement" {
    for_each = each.key == var.build_environment ? [] : [1]

    content {
      sid       = "PromoteNeverPush"
      effect    = "Deny"
      actions   = ["ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"]
      resources = [aws_ecr_repository.service.arn]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  for_each = local.deploy_roles

  name   = "deploy"
  role   = aws_iam_role.deploy[each.key].id
  policy = data.aws_iam_policy_document.deploy[each.key].json
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  for_each = local.plan_roles

  role       = aws_iam_role.plan[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

data "aws_iam_policy_document" "plan" {
  for_each = local.plan_roles

  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.state.arn}/${var.project_name}/${each.key}.tfstate"]
  }

  # The plan takes the state lock, a separate object next to the state.
  statement {
    sid       = "LockState"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.state.arn}/${var.project_name}/${each.key}.tfstate.tflock"]
  }

  statement {
    sid       = "StateKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.state.arn]
  }

  # ReadOnlyAccess also reads data; a plan needs configuration only, so data reads are denied.
  statement {
    sid    = "NoDataReads"
    effect = "Deny"
    actions = [
      "s3:GetObject", "s3:GetObjectVersion", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
      "dynamodb:Scan", "kinesis:GetRecords", "sqs:ReceiveMessage", "secretsmanager:GetSecretValue",
      "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "athena:GetQueryResults",
    ]
    not_resources = ["${aws_s3_bucket.state.arn}/${var.project_name}/${each.key}.tfstate*"]
  }
}

resource "aws_iam_role_policy" "plan" {
  for_each = local.plan_roles

  name   = "plan"
  role   = aws_iam_role.plan[each.key].id
  policy = data.aws_iam_policy_document.plan[each.key].json
}

# ---- the drift job: reads the monitored environment's data and state, publishes one metric ----

data "aws_iam_policy_document" "drift_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = local.github_aud
      values   = ["sts.amazonaws.com"]
    }

    # The `drift` GitHub environment: no reviewers (it runs daily), restricted to main.
    condition {
      test     = "StringEquals"
      variable = local.github_sub
      values   = ["repo:${var.github_repository}:environment:drift"]
    }
  }
}

resource "aws_iam_role" "drift" {
  name                 = "${var.project_name}-drift-github-monitor"
  assume_role_policy   = data.aws_iam_policy_document.drift_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "drift" {
  statement {
    sid       = "ListState"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }

  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.state.arn}/${var.project_name}/${var.monitored_environment}.tfstate"]
  }

  statement {
    sid       = "StateKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.state.arn]
  }

  statement {
    sid       = "ReadData"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.project_name}-${var.monitored_environment}-*"]
  }

  statement {
    sid       = "ReadDataObjects"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::${var.project_name}-${var.monitored_environment}-*/*"]
  }

  # The data is encrypted with the environment's key; it may decrypt only through S3.
  statement {
    sid       = "DecryptThroughS3"
    actions   = ["kms:Decrypt"]
    resources = ["arn:${local.partition}:kms:*:${local.account_id}:key/*"]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["s3.*.amazonaws.com"]
    }
  }

  statement {
    sid       = "PublishDrift"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["${var.project_name}-${var.monitored_environment}/model"]
    }
  }
}

resource "aws_iam_role_policy" "drift" {
  name   = "drift"
  role   = aws_iam_role.drift.id
  policy = data.aws_iam_policy_document.drift.json
}
%%{account_trail}
