# Project-wide resources, applied once by an administrator (see docs/README.md): the Terraform
# state bucket, the GitHub workload identity pool, the shared image repository and, per
# environment, the service account GitHub Actions deploys with and the read-only one it plans
# with. Keeping them out of infra/ lets every environment apply without creating them twice,
# and keeps a deployer from editing its own permissions.
terraform {
  required_version = ">= 1.10.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 5.40"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

locals {
  # Account ids are at most 30 characters; the names are fixed here and in .github/workflows,
  # and the validators compare them.
  deploy_accounts = %%{deploy_accounts}
  plan_accounts = %%{plan_accounts}
  env_project = { for env in var.environments : env => lookup(var.environment_projects, env, var.project_id) }
  # What a deployer may manage in its environment's project: the services infra/ builds (read
  # from its resource types when the repository was generated).
  stack_roles = %%{stack_roles}
  # The APIs infra/ manages or calls (read from it the same way), enabled in every environment's
  # project before its first apply: a new project has most of them off.
  stack_apis = %%{stack_apis}
  api_projects = { for pair in setproduct(distinct(values(local.env_project)), local.stack_apis) : "${pair[0]}/${pair[1]}" => {
    project = pair[0]
    service = pair[1]
  } }
  deploy_grants = { for pair in setproduct(var.environments, local.stack_roles) : "${pair[0]}/${pair[1]}" => {
    env  = pair[0]
    role = pair[1]
  } }
  plan_subjects = {
    pull_request = "repo:${var.github_repository}:pull_request"
    main         = "repo:${var.github_repository}:ref:refs/heads/main"
  }
  plan_bindings = { for pair in setproduct(var.environments, keys(local.plan_subjects)) : "${pair[0]}/${pair[1]}" => {
    env     = pair[0]
    subject = local.plan_subjects[pair[1]]
  } }
}

# ---- Terraform state ----

# Bucket names are global: the project's id makes this one the project's own (and "gcp" stands in
# for "google", which Cloud Storage refuses in a name).
resource "google_storage_bucket" "state" {
  # checkov:skip=CKV_GCP_62:Access to state is recorded by Data Access audit logs; bucket access logs would duplicate them.
  name                        = "%%{state_bucket_prefix}-tfstate-${var.project_id}"
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 20
      with_state         = "ARCHIVED"
    }

    action {
      type = "Delete"
    }
  }
}

# ---- GitHub workload identity federation: one pool for the project ----

resource "google_iam_workload_identity_pool" "github" {
  workload_identity_pool_id = "%%{pool_id}"
  display_name              = "GitHub Actions"
}

resource "google_iam_workload_identity_pool_provider" "github" {
  # checkov:skip=CKV_GCP_125:The provider admits this repository only; each service account then binds exact subjects (one environment, or pull requests and main).
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  display_name                       = "GitHub OIDC"
  # Tokens of other repositories are refused before any binding is looked at.
  attribute_condition = "assertion.repository == \"${var.github_repository}\""
  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
  }

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

# ---- the service image: built once, promoted by digest through every environment ----

resource "google_artifact_registry_repository" "service" {
  # checkov:skip=CKV_GCP_84:Images hold code, not data; Google-managed encryption keeps the repository usable by every environment's runtime without a shared key grant.
  location      = var.region
  repository_id = "%%{service_repository}"
  format        = "DOCKER"

  docker_config {
    immutable_tags = true
  }
}

# ---- per environment: deployer (its environment only) and planner (read-only) ----

resource "google_service_account" "deploy" {
  for_each = local.deploy_accounts

  account_id   = each.value
  display_name = "GitHub Actions deployer (${each.key})"
}

resource "google_service_account" "plan" {
  for_each = local.plan_accounts

  account_id   = each.value
  display_name = "GitHub Actions planner (${each.key}, read-only)"
}

# Only a job running in this GitHub environment (whose protection rules apply) may impersonate
# the deployer: the subject is matched exactly, so a pull request never can.
resource "google_service_account_iam_member" "deploy_federation" {
  for_each = local.deploy_accounts

  service_account_id = google_service_account.deploy[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principal://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/subject/repo:${var.github_repository}:environment:${each.key}"
}

# Pull requests and pushes to main plan with the read-only account.
resource "google_service_account_iam_member" "plan_federation" {
  for_each = local.plan_bindings

  service_account_id = google_service_account.plan[each.value.env].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principal://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/subject/${each.value.subject}"
}

# Left on when the bootstrap is destroyed: other stacks of the project may use them.
resource "google_project_service" "stack" {
  for_each = local.api_projects

  project            = each.value.project
  service            = each.value.service
  disable_on_destroy = false
}

resource "google_project_iam_member" "deploy" {
  # checkov:skip=CKV_GCP_41:Deploying Cloud Run and Vertex jobs acts as their runtime service accounts, which Terraform creates in the same apply.
  # checkov:skip=CKV_GCP_49:Same reason: the deployer attaches the runtime service accounts it creates.
  for_each = local.deploy_grants

  project = local.env_project[each.value.env]
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.deploy[each.value.env].email}"
}

resource "google_project_iam_member" "plan" {
  # checkov:skip=CKV_GCP_117:A plan refreshes every resource type of the stack; the viewer role reads configuration, and the planner can change nothing.
  for_each = local.plan_accounts

  project = local.env_project[each.key]
  role    = "roles/viewer"
  member  = "serviceAccount:${google_service_account.plan[each.key].email}"
}

# State: each account reads and locks its own environment's state prefix only.
resource "google_storage_bucket_iam_member" "deploy_state" {
  for_each = local.deploy_accounts

  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.deploy[each.key].email}"

  condition {
    title      = "state-of-${each.key}"
    expression = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.state.name}/objects/${var.project_name}/${each.key}/\")"
  }
}

resource "google_storage_bucket_iam_member" "plan_state" {
  for_each = local.plan_accounts

  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.plan[each.key].email}"

  condition {
    title      = "state-of-${each.key}"
    expression = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.state.name}/objects/${var.project_name}/${each.key}/\")"
  }
}

# The drift job (GitHub environment `drift`, no reviewers, main branch only) reads the monitored
# environment's data and state, and writes the drift value as a log entry; nothing else.
resource "google_service_account" "drift" {
  account_id   = "%%{drift_account}"
  display_name = "GitHub Actions drift job (${var.monitored_environment}, read-only data)"
}

resource "google_service_account_iam_member" "drift_federation" {
  service_account_id = google_service_account.drift.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principal://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/subject/repo:${var.github_repository}:environment:drift"
}

resource "google_project_iam_member" "drift" {
  for_each = toset(["roles/storage.objectViewer", "roles/logging.logWriter"])

  project = local.env_project[var.monitored_environment]
  role    = each.value
  member  = "serviceAccount:${google_service_account.drift.email}"
}

resource "google_storage_bucket_iam_member" "drift_state" {
  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.drift.email}"

  condition {
    title      = "state-of-${var.monitored_environment}"
    expression = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.state.name}/objects/${var.project_name}/${var.monitored_environment}/\")"
  }
}

# `terraform init` lists the state bucket (object names only) to find its workspaces; a
# condition on object names cannot admit a listing, so listing is granted on its own.
resource "google_storage_bucket_iam_member" "list_state" {
  # Keyed by account id, known before apply (an email attribute would not be).
  for_each = toset(concat(values(local.deploy_accounts), values(local.plan_accounts), ["%%{drift_account}"]))

  bucket     = google_storage_bucket.state.name
  role       = "roles/storage.legacyBucketReader"
  member     = "serviceAccount:${each.value}@${var.project_id}.iam.gserviceaccount.com"
  depends_on = [google_service_account.deploy, google_service_account.plan, google_service_account.drift]
}

# Images: the building environment pushes, every environment pulls the same digest.
resource "google_artifact_registry_repository_iam_member" "deploy" {
  for_each = local.deploy_accounts

  location   = google_artifact_registry_repository.service.location
  repository = google_artifact_registry_repository.service.name
  role       = each.key == var.build_environment ? "roles/artifactregistry.writer" : "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.deploy[each.key].email}"
}

# Cloud Run pulls an image with the service agent of the project it runs in: where an
# environment has a project of its own, that agent may read the repository too (in this
# project it already can).
data "google_project" "environment" {
  for_each   = toset(values(var.environment_projects))
  project_id = each.value
}

resource "google_artifact_registry_repository_iam_member" "run_agents" {
  for_each = data.google_project.environment

  location   = google_artifact_registry_repository.service.location
  repository = google_artifact_registry_repository.service.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:service-${each.value.number}@serverless-robot-prod.iam.gserviceaccount.com"
}
