variable "project_name" {
  description = "Short project name; the environments' stacks use the same one."
  type        = string
  default     = "%%{slug}"
}

variable "region" {
  description = "Home region of the account-wide resources (state, image repository)."
  type        = string
  default     = "%%{region}"
}

variable "regions" {
  description = "Regions the environments deploy to; the deploy roles act only there."
  type        = list(string)
  default     = %%{regions}
}

variable "environments" {
  description = "Environments that get a deploy role and a plan role, in promotion order."
  type        = list(string)
  default     = %%{environments}
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
  description = "GitHub repository (owner/name) whose workflows may assume the roles."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}
