# Credentials come from the environment (OIDC role in CI, SSO profile locally); none are configured here.
provider "aws" {
  region = var.regions[0]

  default_tags {
    tags = local.tags
  }
}
