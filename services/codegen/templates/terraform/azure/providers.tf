# Credentials come from the environment (OIDC federated identity in CI, az login locally);
# the subscription is selected with ARM_SUBSCRIPTION_ID, never committed.
provider "azurerm" {
  storage_use_azuread = true

  features {
    key_vault {
      purge_soft_delete_on_destroy = false
    }
  }
}
