# The inference API on the team's existing Kubernetes cluster: this stack makes what the cloud side
# needs (the pods' identity, read access to the model registry, the deployer's access to the
# namespace); deploy/kubernetes/serving.yaml is the Deployment, Service, autoscaler, disruption
# budget and network policy, which the deploy workflow applies with the values output here.
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

# The role the deploy workflow runs as (the caller is a session of it).
data "aws_iam_session_context" "deployer" {
  arn = data.aws_caller_identity.current.arn
}

locals {
  namespace       = var.name_prefix
  service_account = "inference"
  # s3://bucket/prefix of the model registry; serving reads <prefix>/approved.json and the version it names.
  model_uri    = coalesce(var.model_uri, "s3://${var.name_prefix}-data/models")
  model_path   = trimprefix(local.model_uri, "s3://")
  model_bucket = split("/", local.model_path)[0]
  model_prefix = trimprefix(local.model_path, "${local.model_bucket}/")
}

# EKS Pod Identity: the agent on the cluster's nodes hands this role's credentials to the pods of
# the `inference` service account in this environment's namespace, and to nothing else.
data "aws_iam_policy_document" "pods" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "api" {
  name               = "${var.name_prefix}-inference-pod-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.pods.json
  tags               = var.tags
}

# What the running API may do: read the approved model from the registry prefix, and no more.
resource "aws_iam_role_policy" "api" {
  name = "read-approved-model"
  role = aws_iam_role.api.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid      = "ReadModels"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = "arn:${data.aws_partition.current.partition}:s3:::${local.model_bucket}/${local.model_prefix}/*"
      },
      {
        Sid       = "ListModels"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = "arn:${data.aws_partition.current.partition}:s3:::${local.model_bucket}"
        Condition = { StringLike = { "s3:prefix" = ["${local.model_prefix}/*"] } }
      },
      ], var.kms_key_arn == null ? [] : [{
        Sid      = "DecryptModels"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = var.kms_key_arn
    }])
  })
}

resource "aws_eks_pod_identity_association" "api" {
  cluster_name    = var.existing_cluster_name
  namespace       = local.namespace
  service_account = local.service_account
  role_arn        = aws_iam_role.api.arn
  tags            = var.tags
}

# The deployer may edit what is in this environment's namespace of the cluster, and nothing
# cluster-wide (the cluster's authentication mode must admit access entries: API or
# API_AND_CONFIG_MAP).
resource "aws_eks_access_entry" "deployer" {
  cluster_name  = var.existing_cluster_name
  principal_arn = data.aws_iam_session_context.deployer.issuer_arn
  type          = "STANDARD"
  tags          = var.tags
}

resource "aws_eks_access_policy_association" "deployer" {
  cluster_name  = var.existing_cluster_name
  principal_arn = aws_eks_access_entry.deployer.principal_arn
  policy_arn    = "arn:${data.aws_partition.current.partition}:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"

  access_scope {
    type       = "namespace"
    namespaces = [local.namespace]
  }
}
# ---- outputs.tf ----
output "namespace" {
  description = "Namespace of the cluster the inference API runs in (one per environment)."
  value       = local.namespace
}

output "deployment_name" {
  description = "Deployment (and Service) of the inference API in that namespace."
  value       = "${var.name_prefix}-api"
}

output "min_replicas" {
  description = "Pods serving at all times (the autoscaler's minimum)."
  value       = var.replicas
}

output "max_replicas" {
  description = "The autoscaler's maximum of serving pods."
  value       = var.max_replicas
}

output "cpu" {
  description = "CPU each serving pod requests and is limited to (Kubernetes quantity)."
  value       = tostring(var.vcpu)
}

output "memory" {
  description = "Memory each serving pod requests and is limited to (Kubernetes quantity)."
  value       = "${var.mem_gb}Gi"
}

output "model_uri" {
  description = "Registry prefix the pods read approved.json and the model from."
  value       = local.model_uri
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the serving metrics (embedded metric format in the pods' logs)."
  value       = "${var.name_prefix}/model"
}

output "identity" {
  description = "Role the pods' service account receives through EKS Pod Identity."
  value       = aws_iam_role.api.arn
}
