variable "project_name" {
  description = "Short project name; the environments' stacks use the same one."
  type        = string
  default     = "%%{slug}"
}

variable "location" {
  description = "Region of the state account, the registry and the CI identities."
  type        = string
  default     = "%%{region}"
}

variable "environments" {
  description = "Environments that get a deployer and a planner, in promotion order."
  type        = list(string)
  default     = %%{environments}
}

variable "environment_scopes" {
  description = "Scope (subscription or resource group id) of each environment; the default is this subscription."
  type        = map(string)
  default     = {}
}

variable "monitored_environment" {
  description = "The environment whose data the drift job reads and whose drift metric it publishes."
  type        = string
  default     = "%%{monitored_environment}"
}

variable "build_environment" {
  description = "The environment whose deploy job builds and pushes the service image."
  type        = string
  default     = "%%{build_environment}"
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose workflows may sign in as the identities."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}
