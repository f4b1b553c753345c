# Credentials come from the environment (Workload Identity Federation in CI, gcloud ADC locally).
provider "google" {
  project        = var.project_id
  region         = var.regions[0]
  default_labels = local.tags
}
