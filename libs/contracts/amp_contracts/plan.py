"""The plan: capability patterns composed for the constraints, and what the critics find."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Capability = Literal[
    "ingest_batch", "ingest_stream", "stream_processing", "storage", "feature_store",
    "training", "registry", "orchestration", "serving_online", "serving_batch",
    "monitoring", "security_kms", "networking_private", "audit_logging", "ci_cd",
]
CAPABILITIES: tuple[str, ...] = Capability.__args__  # type: ignore[attr-defined]
#: What a person reads for each capability.
CAPABILITY_LABELS: dict[str, str] = {
    "ingest_batch": "Batch ingestion", "ingest_stream": "Stream ingestion", "stream_processing": "Stream processing",
    "storage": "Storage", "feature_store": "Feature store", "training": "Training", "registry": "Model registry",
    "orchestration": "Orchestration", "serving_online": "Online serving", "serving_batch": "Batch scoring",
    "monitoring": "Monitoring", "security_kms": "Encryption keys", "networking_private": "Private networking",
    "audit_logging": "Audit logging", "ci_cd": "CI/CD",
}
DeploymentModel = Literal["serverless", "containers", "managed"]


class Candidate(BaseModel):
    """An option the planner weighed for one capability (Reason Card `candidates`)."""

    id: str
    summary: str = ""
    pros: list[str] = Field(default_factory=list)
    cons: list[str] = Field(default_factory=list)
    tradeoffs: list[str] = Field(default_factory=list)
    score: float | None = None
    rejected_because: str | None = None
    eligible: bool = Field(True, description="Meets every hard constraint (it lost on score, if it lost).")


class Choice(BaseModel):
    id: str
    justification: str


class Component(BaseModel):
    """One capability of the plan, realised by one catalog pattern."""

    capability: Capability
    pattern_id: str = Field(pattern=r"^(aws|gcp|azure):[a-z_]+:[a-z0-9][a-z0-9._-]*$")
    name: str = ""
    service: str = ""
    regions: list[str] = Field(default_factory=list)
    deployment: DeploymentModel
    sizing: dict[str, Any] = Field(default_factory=dict)
    answers: list[str] = Field(default_factory=list, description="Constraint keys this choice answers.")
    justification: str = ""
    candidates: list[Candidate] = Field(default_factory=list)


class Plan(BaseModel):
    cloud: str
    regions: list[str]
    components: list[Component]
    assumptions: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    catalog_version: str = ""
    round: int = 1

    def component(self, capability: str) -> Component | None:
        return next((c for c in self.components if c.capability == capability), None)


class Risk(BaseModel):
    id: str
    severity: Literal["low", "medium", "high", "critical"]
    title: str
    detail: str
    component: str | None = None
    probe: str = Field("", description="A suggested experiment that would confirm or dismiss the risk.")
    replan: bool = Field(False, description="The planner should revise the plan for this risk.")
