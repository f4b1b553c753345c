"""Names shared by the bootstrap stack and the workflows of a generated repository.

A workflow that assumes a role, pushes an image or reads a state key must use exactly the name
Terraform gives it; both are rendered from here, and the validators' `names` check parses the
rendered files and compares them, so a rename on one side fails validation.
"""

from __future__ import annotations

import hashlib
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


def project_digest(project_id: str) -> str:
    """Six hex digits of the platform's project id, or nothing without one.

    The names a workflow must know before Terraform runs (Azure's state storage account and image
    registry) are unique across the cloud, so the project's name alone is not enough: two teams
    whose projects share a name would ask for one account. The digest is the project's for every
    version, so a new version never renames what the bootstrap made."""
    return hashlib.sha256(project_id.encode()).hexdigest()[:6] if project_id else ""


@dataclass(frozen=True)
class CiNames:
    """Every name the workflows and the bootstrap stack of one repository agree on."""

    cloud: str
    slug: str
    unique: str = ""  # `project_digest` of the platform's project

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
        """Azure Container Registry name (`<name>.azurecr.io`): 5 to 50 letters and digits, the project's digest last."""
        return self._alphanumeric("acr", 50)

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
    def state_bucket_prefix(self) -> str:
        """What the Terraform state bucket's name starts with, before `-tfstate-<account or project>`.

        Cloud Storage refuses a bucket name holding "google" or a look-alike, which a project's
        name may hold; the state bucket says "gcp" there instead."""
        return re.sub(r"g[o0]{2}g(?:le|l3)?", "gcp", self.slug) if self.cloud == "gcp" else self.slug

    @property
    def state_storage_account(self) -> str:
        """Azure storage account of the Terraform state: 3 to 24 letters and digits, the project's digest last."""
        return self._alphanumeric("tfstate", 24)

    def _alphanumeric(self, role: str, limit: int) -> str:
        """`<slug><role><unique>` in letters and digits, the slug cut where the whole is longer than `limit`."""
        tail = f"{role}{self.unique}"
        return re.sub(r"[^a-z0-9]", "", self.slug)[:limit - len(tail)] + tail

    def state_key(self, env: str) -> str:
        """Object key (AWS, Azure) or prefix (GCP) of `env`'s Terraform state."""
        return f"{self.slug}/{env}" if self.cloud == "gcp" else f"{self.slug}/{env}.tfstate"
