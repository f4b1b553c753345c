variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "amp"
}

variable "region" {
  description = "AWS region of everything (App Runner, RDS, S3, NATS): the seed keeps S3 in the services' region."
  type        = string
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "VPC holding RDS, RDS Proxy and the NATS servers; App Runner reaches it through a VPC connector."
  type        = string
}

variable "private_subnet_ids" {
  description = "At least three private subnets in different availability zones (one NATS server each; RDS and the connector use them too). They need a NAT gateway for the model API and a gateway endpoint or NAT for S3."
  type        = list(string)
  validation {
    condition     = length(var.private_subnet_ids) >= 3
    error_message = "Give at least three private subnets (one per NATS server, in different availability zones)."
  }
}

variable "image_repository_url" {
  description = "ECR repository of the image built from deploy/Dockerfile (e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/amp)."
  type        = string
}

variable "image_tag" {
  description = "Image tag to deploy; every service runs the same image with its own command."
  type        = string
}

variable "services" {
  description = "App Runner service per platform process: size and instance bounds. App Runner sizes: cpu 0.25|0.5|1|2|4 vCPU, memory 0.5..12 GB."
  type = map(object({
    cpu         = string
    memory      = string
    min_size    = number
    max_size    = number
    max_workers = optional(number, 1)
  }))
  default = {
    gateway    = { cpu = "1 vCPU", memory = "2 GB", min_size = 2, max_size = 10 }
    intake     = { cpu = "0.5 vCPU", memory = "1 GB", min_size = 1, max_size = 5 }
    planner    = { cpu = "0.5 vCPU", memory = "1 GB", min_size = 1, max_size = 5 }
    critics    = { cpu = "0.5 vCPU", memory = "1 GB", min_size = 1, max_size = 5 }
    policy     = { cpu = "0.5 vCPU", memory = "1 GB", min_size = 1, max_size = 5 }
    codegen    = { cpu = "1 vCPU", memory = "2 GB", min_size = 1, max_size = 5 }
    validators = { cpu = "2 vCPU", memory = "4 GB", min_size = 1, max_size = 8 }
    webhooks   = { cpu = "0.25 vCPU", memory = "0.5 GB", min_size = 1, max_size = 3 }
  }
  validation {
    condition = alltrue([for k in ["gateway", "intake", "planner", "critics", "policy", "codegen", "validators", "webhooks"] :
    contains(keys(var.services), k)])
    error_message = "services must define gateway, intake, planner, critics, policy, codegen, validators and webhooks."
  }
  validation {
    condition     = alltrue([for s in values(var.services) : s.min_size >= 1 && s.min_size <= s.max_size && s.max_size <= 25])
    error_message = "Each service needs 1 <= min_size <= max_size <= 25."
  }
}

variable "sse_max_duration_s" {
  description = "AMP_SSE_MAX_DURATION_S of the gateway: App Runner ends any request after 120 s, so an SSE response ends before that with a retry: hint and the client resumes with Last-Event-ID."
  type        = number
  default     = 100
  validation {
    condition     = var.sse_max_duration_s > 10 && var.sse_max_duration_s < 120
    error_message = "sse_max_duration_s must stay below App Runner's 120 s request limit."
  }
}

variable "artifact_ttl_days" {
  description = "AMP_ARTIFACT_TTL_DAYS: the bucket's lifecycle rule expires repository zips (objects tagged amp-kind=zip) after this many days. Tree bundles stay; a zip can be rebuilt from its tree."
  type        = number
  default     = 14
  validation {
    condition     = var.artifact_ttl_days >= 1
    error_message = "artifact_ttl_days must be at least 1."
  }
}

variable "quarantine_ttl_days" {
  description = "Days before quarantined model payloads (prefix quarantine/) expire."
  type        = number
  default     = 30
}

variable "artifact_url_ttl_s" {
  description = "AMP_ARTIFACT_URL_TTL_S: lifetime of a presigned artifact download URL."
  type        = number
  default     = 300
}

variable "anthropic_api_key_secret_arn" {
  description = "ARN of a Secrets Manager secret holding ANTHROPIC_API_KEY (a plain string); empty runs the deterministic providers."
  type        = string
  default     = ""
}

variable "db_instance_class" {
  description = "RDS instance class of the Postgres database."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage_gb" {
  type    = number
  default = 50
}

variable "db_multi_az" {
  description = "A standby in a second availability zone."
  type        = bool
  default     = true
}

variable "db_deletion_protection" {
  type    = bool
  default = true
}

variable "nats_instance_type" {
  description = "EC2 instance type of each of the three NATS servers."
  type        = string
  default     = "t4g.small"
}

variable "nats_volume_size_gb" {
  description = "Encrypted gp3 volume of each NATS server (JetStream file storage)."
  type        = number
  default     = 50
}

variable "nats_image" {
  description = "NATS container image the servers run."
  type        = string
  default     = "public.ecr.aws/docker/library/nats:2.11-alpine"
}
