"""The typed Constraint Schema and what the coverage check says about it.

Field names and canonical values are those of the intake evaluation set, so that a
prediction can be scored as it is and an outside subscriber reads the same vocabulary.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .text import Names

Cloud = Literal["aws", "gcp", "azure"]
DataClass = Literal["public", "internal", "confidential", "pii", "phi", "pci"]
Workload = Literal["batch", "streaming", "online"]
Deployment = Literal["serverless", "containers"]
Compliance = Literal["gdpr", "hipaa", "pci_dss", "soc2", "iso27001", "ccpa", "fedramp"]
Cadence = Literal["hourly", "daily", "weekly", "monthly"]
#: Jurisdictions data may be kept in, as the catalogs tag their regions (`eea`: the EU and the EEA).
Residency = Literal["eea", "us", "us-gov", "uk", "ch", "ca", "br", "jp", "kr", "sg", "au", "in", "hk", "tw", "id",
                    "il", "za", "ae", "qa"]

#: Most restrictive last: the extractor keeps the highest one stated.
DATA_CLASS_ORDER: tuple[str, ...] = ("public", "internal", "confidential", "pii", "pci", "phi")


class ConstraintSchema(BaseModel):
    """What the user's requirements fix. An absent field is unknown, never a default."""

    model_config = ConfigDict(extra="forbid")

    cloud: Cloud | None = Field(None, title="Cloud", description="Cloud provider.")
    regions: Names = Field(default_factory=list, title="Regions", description="Provider region codes, e.g. eu-west-1, europe-west4, westeurope.")
    budget_monthly_usd: float | None = Field(None, title="Monthly budget (USD)", ge=0, description="Upper bound of the monthly spend in USD.")
    data_classification: DataClass | None = Field(None, title="Data class", description="Most restrictive data class handled.")
    sla_latency_ms: float | None = Field(None, title="Latency target (p95, ms)", gt=0, description="Online/stream decision latency bound (p95 or stricter) in ms.")
    availability_target: float | None = Field(None, title="Availability (%)", gt=0, le=100, description="Availability target in percent.")
    throughput_rps: float | None = Field(None, title="Peak load (per second)", ge=0, description="Peak requests or events per second (online/streaming).")
    request_rps: float | None = Field(None, title="Peak API requests (per second)", ge=0,
                                      description="Peak online requests per second, where they are fewer than the "
                                                  "stream's events (throughput_rps is then the event rate).")
    workload_types: list[Workload] = Field(default_factory=list, title="Workloads", description="batch, streaming, online.")
    deployment_pref: Deployment | None = Field(None, title="Deployment", description="serverless or containers.")
    compliance: list[Compliance] = Field(default_factory=list, title="Compliance", description="Compliance regimes that apply.")
    team_languages: Names = Field(default_factory=list, title="Team languages", description="Lowercase language names the team writes.")
    existing_stack: Names = Field(default_factory=list, title="Existing stack", description="Lowercase ids of tools the team already runs.")
    storage_prefs: Names = Field(default_factory=list, title="Storage preferences", description="Storage preferences (lake, warehouse, ...).")
    observability_prefs: Names = Field(default_factory=list, title="Observability preferences", description="Observability tools or preferences.")
    gpu: bool | None = Field(None, title="GPU", description="GPU needed for training or inference.")
    training_cadence: Cadence | None = Field(None, title="Retraining", description="How often models are retrained.")
    scoring_cadence: Cadence | None = Field(None, title="Scoring schedule", description="How often batch predictions "
                                            "are produced (nightly scores, weekly forecasts).")
    batch_scoring: bool | None = Field(None, title="Batch scoring", description="Batch predictions are wanted; false when the batch work "
                                                         "stated is only scheduled retraining.")
    data_volume_gb: float | None = Field(None, title="Data volume (GB)", ge=0, description="Data volume stored, in GB.")
    data_residency: Residency | None = Field(None, title="Data residency", description="Jurisdiction the data must stay "
                                             "in when it spans several regions (eea: the EU/EEA); regions are chosen "
                                             "within it.")

    def stated(self) -> dict[str, Any]:
        """Only the fields the requirements fixed (the shape the eval scorer reads)."""
        return {k: v for k, v in self.model_dump(mode="json").items() if v not in (None, [], "")}

    def merged(self, patch: ConstraintSchema | dict[str, Any]) -> ConstraintSchema:
        """This schema with every stated field of `patch` taking precedence."""
        extra = patch.stated() if isinstance(patch, ConstraintSchema) else {
            k: v for k, v in patch.items() if v not in (None, [], "")
        }
        return ConstraintSchema.model_validate({**self.model_dump(mode="json"), **extra})


class Span(BaseModel):
    """Where in the requirement text a constraint came from."""

    field: str
    value: Any
    start: int
    end: int
    text: str


class Conflict(BaseModel):
    fields: list[str]
    message: str
    severity: Literal["warn", "block"] = "warn"
    resolve: str | None = Field(None, description="The field a person answers again to resolve it (default: the first).")


class Coverage(BaseModel):
    """Constraint Coverage Score with what is missing or contradictory."""

    score: float = Field(ge=0, le=1)
    threshold: float = Field(ge=0, le=1)
    passed: bool
    missing: list[str] = Field(default_factory=list, description="Mandatory fields still unknown.")
    blocking: list[str] = Field(default_factory=list, description="Missing fields a policy requires before planning.")
    conflicts: list[Conflict] = Field(default_factory=list)
    weights: dict[str, float] = Field(default_factory=dict)


class Question(BaseModel):
    """One follow-up question; typed options let a UI or terminal offer choices."""

    id: str
    field: str
    prompt: str
    kind: Literal["choice", "multi", "number", "text"] = "text"
    options: list[str] = Field(default_factory=list)
    default: Any = Field(None, description="Offered pre-selected; never set for a required (blocking) question.")
    why: str = ""
    blocking: bool = False
    depends_on: str | None = Field(None, description="The field whose answer decides which options apply.")
    options_by: dict[str, list[str]] = Field(default_factory=dict,
                                             description="Options per answer of `depends_on` (regions per cloud).")


class Assumption(BaseModel):
    field: str
    value: Any
    reason: str


#: The name of a constraint field (questions, evidence and patches name fields with it).
CONSTRAINT_FIELDS: tuple[str, ...] = tuple(ConstraintSchema.model_fields)
ConstraintField = Literal[CONSTRAINT_FIELDS]  # type: ignore[valid-type]


#: What a person reads for each constraint field (the schema's titles).
FIELD_LABELS: dict[str, str] = {name: f.title or name for name, f in ConstraintSchema.model_fields.items()}
