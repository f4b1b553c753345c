"""What the REST API answers: the response bodies of the gateway's routes, as typed models.

They are the public contract of the API (its OpenAPI document is generated from them), so they
live here beside the bus's payloads. Every model allows fields it does not name: an answer may
carry more than is documented, never less.

Timestamps are RFC 3339 strings as the API has always written them (`…+00:00`); stored documents
of a decision set (plan, cost, policy, coverage, reports, diff) are the JSON of their contract
models (`Plan`, `CostEstimate`, `PolicyResults`, `Coverage`, `DiffSummary`), kept as stored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .constraints import Coverage, Question, Span
from .events import Event
from .pipeline import Node, Stage, Step

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Document = dict[str, Any]


class ApiModel(BaseModel):
    """An answer of the API: named fields typed, further fields allowed (and returned as they are)."""

    model_config = ConfigDict(extra="allow")


# --- ops -------------------------------------------------------------------------------------

class Health(ApiModel):
    status: Literal["ok"]
    nats: bool = Field(description="Whether this gateway is connected to the bus.")


class ConsumerStatus(ApiModel):
    durable: str


class ServiceStatus(ApiModel):
    health: Literal["serving", "not serving", "absent"]
    dead_letters: int
    consumers: list[ConsumerStatus]


class GateStatus(ApiModel):
    waiting: int
    reminded: int
    oldest: Document | None = Field(description="The gate that has waited longest (its ids for operators only).")


class PlatformStatus(ApiModel):
    status: Literal["ok", "degraded"]
    services: dict[str, ServiceStatus]
    lag: int = Field(description="Messages pending across every durable consumer.")
    dead_letters: int
    gates: GateStatus


class StatusInfo(ApiModel):
    status: str
    label: str
    terminal: bool
    next: list[str]


class PipelineLabels(ApiModel):
    fields: dict[str, str]
    capabilities: dict[str, str]
    patterns: dict[str, str]


class PipelineView(ApiModel):
    stages: list[Stage]
    nodes: list[Node]
    event_types: list[str]
    labels: PipelineLabels
    steps: list[Step]
    statuses: list[StatusInfo]


class DeadLetter(ApiModel):
    id: int
    service: str
    subject: str
    node: str
    code: str
    reason: str
    project_id: str | None
    decision_set_id: str | None
    created_at: Timestamp
    replayed_at: Timestamp | None
    replays: int
    message: str | None = Field(None, description="The original message (one dead letter only): its text, or its "
                                                  "bytes in hex when it is not UTF-8.")


class DeadLetterList(ApiModel):
    dead_letters: list[DeadLetter]


class DeadLetterReplay(ApiModel):
    dead_letter_id: int
    subject: str
    replays: int
    decision_set_id: str | None = Field(None, description="With a stopped decision set: the one that resumes.")
    status: str | None = Field(None, description="With a stopped decision set: `resuming`.")


# --- identity --------------------------------------------------------------------------------

class Me(ApiModel):
    user_id: str
    name: str | None
    email: str | None
    api_key_id: str | None
    project_id: str | None = Field(description="An API key's project.")
    role: str | None = Field(description="An API key's role.")


class RoleInfo(ApiModel):
    role: str
    may: list[str]


class Roles(ApiModel):
    roles: list[RoleInfo]
    actions: dict[str, str]


class Session(ApiModel):
    user_id: str
    name: str | None
    email: str | None


class OpenIdConfiguration(ApiModel):
    issuer: str
    jwks_uri: str
    id_token_signing_alg_values_supported: list[str]
    subject_types_supported: list[str]


class Jwks(ApiModel):
    keys: list[Document]


# --- projects --------------------------------------------------------------------------------

class DecisionSetSummary(ApiModel):
    id: str
    project_id: str
    version: int
    parent_id: str | None
    status: str
    stage: str | None
    created_at: Timestamp
    updated_at: Timestamp | None
    monthly_usd: float | None
    policy_overall: str | None


class Project(ApiModel):
    id: str
    name: str
    description: str | None
    created_at: Timestamp
    owner_id: str | None
    role: str | None = Field(description="The caller's role on the project.")
    four_eyes: bool
    policies: Document = Field(description="The project's rule packs and waivers ({rules, waivers}).")
    version_count: int
    decision_sets: list[DecisionSetSummary] | None = Field(
        None, description="Its versions, oldest first (one project; not in listings).")


class ProjectList(ApiModel):
    projects: list[Project]


class Policies(ApiModel):
    rules: list[Document]
    waivers: list[Document]


class RepoUpload(ApiModel):
    project_id: str
    commit: str = Field(description="The upload's commit; send it as `If-Match` to upload on top of it.")
    base_decision_set_id: str
    files: int


class BudgetPosition(ApiModel):
    level: Literal["unlimited", "ok", "warn", "exceeded"]
    message: str
    project_id: str | None = None
    limit_usd: float | None = None
    spent_usd: float | None = None
    estimate_usd: float | None = None
    remaining_usd: float | None = None


class UsageByNode(ApiModel):
    node: str
    provider: str | None
    model: str | None
    calls: int
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    usd: float | None


class UsageByVersion(ApiModel):
    decision_set_id: str
    version: int
    estimate_usd: float | None
    estimate_tokens: int | None
    actual_usd: float
    actual_tokens: int


class LlmUsage(ApiModel):
    project_id: str
    budget: BudgetPosition
    by_node: list[UsageByNode]
    by_version: list[UsageByVersion]


class Member(ApiModel):
    user_id: str
    role: str
    added_by: str | None
    created_at: Timestamp


class ProjectMember(Member):
    project_id: str


class MemberList(ApiModel):
    project_id: str
    members: list[Member]


class ApiKey(ApiModel):
    id: str
    project_id: str
    name: str
    role: str
    created_by: str | None
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None
    last_used_at: Timestamp | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The key itself: shown in this answer only (only its hash is stored).")


class ApiKeyList(ApiModel):
    project_id: str
    api_keys: list[ApiKey]


# --- decision sets ---------------------------------------------------------------------------

class Submitted(ApiModel):
    decision_set_id: str
    project_id: str
    version: int
    run_id: str
    stream_url: str


class Accepted(ApiModel):
    decision_set_id: str
    status: str


class DecisionSetLinks(ApiModel):
    self: str
    stream: str
    events: str
    diff: str
    artifact: str | None


class TextOverride(ApiModel):
    key: str
    label: str
    text: str = Field(description="What the requirement text states.")
    value: str = Field(description="What is in force instead.")


class ChangedBy(ApiModel):
    kind: Literal["review", "requirements", "rerun"]
    label: str
    comment: str
    by: str | None


class ReviewConstraint(ApiModel):
    key: str
    label: str
    value: str
    before: str | None
    changed: bool


class ReviewCost(ApiModel):
    monthly_usd: float | None
    low_usd: float | None
    high_usd: float | None
    budget_usd: float | None
    budget_used_pct: float | None
    delta_usd: float | None
    delta_pct: float | None


class ReviewCostLine(ApiModel):
    service: str | None
    component: str | None
    regions: list[str]
    qty: str | float | None
    unit_price_usd: float | None
    usd: float
    before_usd: float | None
    delta_usd: float | None


class ReviewRule(ApiModel):
    id: str
    status: str
    detail: str | None
    waived: bool | None
    before: str | None
    changed: bool


class ReviewPolicy(ApiModel):
    overall: str | None
    rules: list[ReviewRule]


class Review(ApiModel):
    """What a reviewer approves: this version against the one before it."""

    version: int | None
    against_version: int | None
    text_overrides: list[TextOverride]
    changed_by: ChangedBy | None
    constraints: list[ReviewConstraint]
    cost: ReviewCost
    cost_lines: list[ReviewCostLine]
    policy: ReviewPolicy
    risks: list[Any]


class DecisionSet(ApiModel):
    id: str
    decision_set_id: str
    project_id: str
    version: int
    parent_id: str | None
    status: str
    stage: str | None
    requirements: str | None
    input_constraints: Document | None
    constraints: Document | None = Field(description="The ConstraintSchema in force.")
    coverage: Document | None = Field(description="A Coverage.")
    assumptions: list[Any] | None = Field(description="What was assumed for fields nobody stated.")
    plan: Document | None = Field(description="A Plan.")
    risks: list[Any] | None
    cost: Document | None = Field(description="A CostEstimate.")
    policy: Document | None = Field(description="A PolicyResults.")
    gate: Document | None = Field(description="The open gate (intake questions or approval), if any.")
    approval: Document | None
    reports: Document | None = Field(description="Validation and other reports of the generated repository.")
    diff: Document | None = Field(description="A DiffSummary against the parent version.")
    git_commit: str | None
    prompt_pack_hash: str | None
    gate_expires_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp | None
    trace_id: str | None = Field(description="The trace of this version's run (what to hand an operator).")
    links: DecisionSetLinks
    review: Review


class EventsPage(ApiModel):
    decision_set_id: str
    events: list[Event] = Field(description="In order of their number; ask again with `after` the last number.")


class DiffDocument(ApiModel):
    decision_set_id: str
    against: str | None
    summary: Document | None = Field(description="A DiffSummary.")
    unified: str


# --- intake ----------------------------------------------------------------------------------

class WizardField(ApiModel):
    name: str
    title: str
    kind: Literal["choice", "multi", "number", "boolean", "text"]
    options: list[Any]
    suggestions: list[str]
    help: str
    step: str
    required: bool


class IntakeSchema(ApiModel):
    fields: list[WizardField]
    steps: list[str]
    schema_: Document = Field(alias="schema", description="The ConstraintSchema's JSON Schema.")


class IntakePreview(ApiModel):
    constraints: Document = Field(description="The stated ConstraintSchema fields.")
    coverage: Coverage
    spans: list[Span]
    questions: list[Question]


# --- webhooks --------------------------------------------------------------------------------

class WebhookEventTypeInfo(ApiModel):
    type: str
    description: str


class WebhookEventTypes(ApiModel):
    event_types: list[WebhookEventTypeInfo]


class WebhookSubscriptionLinks(ApiModel):
    self: str
    deliveries: str


class WebhookSubscription(ApiModel):
    id: str
    project_id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    previous_secret_expires_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp | None
    deliveries: dict[str, int] = Field(description="Deliveries by state.")
    links: WebhookSubscriptionLinks


class WebhookWithSecret(WebhookSubscription):
    secret: str = Field(description="The signing secret: shown in this answer only.")


class WebhookList(ApiModel):
    project_id: str
    webhooks: list[WebhookSubscription]


class DeliveryLinks(ApiModel):
    self: str
    redeliver: str


class DeliveryAttempt(ApiModel):
    n: int
    started_at: Timestamp | None
    finished_at: Timestamp | None
    status_code: int | None
    latency_ms: float | None
    error: str | None


class WebhookDelivery(ApiModel):
    id: str
    subscription_id: str
    project_id: str
    message_id: str
    event_type: str
    decision_set_id: str | None
    state: str = Field(description="pending, sending, delivered or failed.")
    attempts: int
    chain_attempts: int
    next_attempt_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    created_at: Timestamp
    completed_at: Timestamp | None
    attempt_log: list[DeliveryAttempt]
    payload: str | None = Field(None, description="The body exactly as it was signed and sent, a WebhookPayload as "
                                                  "JSON text (one delivery only).")
    links: DeliveryLinks


class DeliveryList(ApiModel):
    webhook_id: str
    deliveries: list[WebhookDelivery]


class Redelivery(ApiModel):
    delivery_id: str
    state: str
