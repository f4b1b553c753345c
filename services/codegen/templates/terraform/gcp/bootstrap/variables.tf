variable "project_id" {
  description = "Project holding the state bucket, the identity pool and the image repository."
  type        = string
}

variable "environment_projects" {
  description = "Project of each environment when they are separate (the default: all in project_id)."
  type        = map(string)
  default     = {}
}

variable "project_name" {
  description = "Short project name; the environments' stacks use the same one."
  type        = string
  default     = "%%{slug}"
}

variable "region" {
  description = "Region of the state bucket and the image repository."
  type        = string
  default     = "%%{region}"
}

variable "environments" {
  description = "Environments that get a deployer and a planner, in promotion order."
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
  description = "GitHub repository (owner/name) whose workflows may use the service accounts."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}
