"""Names shared by the bootstrap stack and the workflows of a generated repository.

A workflow that assumes a role, pushes an image or reads a state key must use exactly the name
Terraform gives it; both are rendered from here, and the validators' `names` check parses the
rendered files and compares them, so a rename on one side fails validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Promotion order. The first environment builds the image; the others deploy its digest.
ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")
BUILD_ENVIRONMENT = ENVIRONMENTS[0]
#: The environment whose deploy is followed by the load test.
STAGING = "staging"
#: The environment the drift job watches (where real traffic is).
MONITORED = ENVIRONMENTS[-1]
#: The GitHub environment the drift job runs in: no reviewers, main branch only.
DRIFT_ENVIRONMENT = "drift"
#: GCP service account ids are at most 30 characters: 14 of the project, the environment, the role.
_GCP_PROJECT_CHARS = 14


@dataclass(frozen=True)
class CiNames:
    """Every name the workflows and the bootstrap stack of one repository agree on."""

    cloud: str
    slug: str

    def deploy_identity(self, env: str) -> str:
        """Role (AWS), service account id (GCP) or managed identity (Azure) of `env`'s deploy jobs."""
        if self.cloud == "gcp":
            return f"{self.slug[:_GCP_PROJECT_CHARS]}-{env}-deploy"
        return f"{self.slug}-{env}-github-deploy"

    def plan_identity(self, env: str) -> str:
        """The read-only identity pull requests and pushes to main plan `env` with."""
        if self.cloud == "gcp":
            return f"{self.slug[:_GCP_PROJECT_CHARS]}-{env}-plan"
        return f"{self.slug}-{env}-github-plan"

    @property
    def service_repository(self) -> str:
        """ECR repository, Artifact Registry repository, or image name inside the ACR registry."""
        return f"{self.slug}-service"

    @property
    def registry(self) -> str:
        """Azure Container Registry name: alphanumerics only, globally unique per project."""
        return re.sub(r"[^a-z0-9]", "", f"{self.slug}acr")[:50]

    @property
    def pool_id(self) -> str:
        """GCP workload identity pool id (4-32 characters)."""
        return f"{self.slug[:28].rstrip('-')}-gh"

    def drift_identity(self) -> str:
        """The identity of the drift job: reads data and publishes one metric, in the `drift` environment."""
        if self.cloud == "gcp":
            return f"{self.slug[:_GCP_PROJECT_CHARS]}-drift-monitor"
        return f"{self.slug}-drift-github-monitor"

    @property
    def state_storage_account(self) -> str:
        """Azure storage account of the Terraform state (alphanumerics, at most 24)."""
        return re.sub(r"[^a-z0-9]", "", f"{self.slug}tfstate")[:24]

    def state_key(self, env: str) -> str:
        """Object key (AWS, Azure) or prefix (GCP) of `env`'s Terraform state."""
        return f"{self.slug}/{env}" if self.cloud == "gcp" else f"{self.slug}/{env}.tfstate"
