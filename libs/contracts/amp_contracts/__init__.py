"""Contracts of the Agentic MLOps Platform: bus subjects, envelopes and payload schemas.

Importable alone (pydantic only) so that outside subscribers can read the bus.
"""

from .bus import (PAYLOADS, SCHEMA_VERSION, STREAM, CodegenCompleted, CritiqueCompleted,
                  Envelope, GateDecided, GateExpire, IntakeAnswered, IntakeCompleted, IntakeRequested,
                  PlanProposed, PlanRevise, PolicyEvaluated, RunCompleted, Subjects, envelope_of,
                  envelope_type)
from .constraints import (DATA_CLASS_ORDER, FIELD_LABELS, Assumption, Conflict, ConstraintSchema, Coverage, Question, Span)
from .cost import CostEstimate, CostItem
from .diff import DiffSummary
from .errors import (AmpError, BudgetExceeded, ErrorBody, ErrorResponse, Forbidden, GateClosed, IdempotencyKeyInUse,
                     IdempotencyKeyReused, IllegalTransition, NotFound, PayloadTooLarge, PolicyBlocked, ProviderDown,
                     RateLimited, Unauthorized, Unavailable, ValidationFailed)
from .errors import Conflict as ConflictError
from .lifecycle import Status
from .events import TERMINAL, Event, EventBatch, GateWaiting, RunComplete, RunError, StatusChange
from .pipeline import (AGENTS, CONSUMES, MODEL_CALLS, NODES, PIPELINE, STAGES, SUBSCRIBERS, ModelCall, Node, Stage, Step,
                       model_call, stage_label, step_for, steps_of)
from .plan import CAPABILITIES, CAPABILITY_LABELS, Candidate, Choice, Component, Plan, Risk
from .policy import PolicyResults, RuleResult, Waiver, overall_of
from .reason import CardDraft, Inputs, ProviderInfo, ReasonCard, utcnow
from .text import MAX_TEXT, FreeText, Name, Names, ShortText, no_control_chars
from .webhooks import (HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SECRET_PREFIX, WEBHOOK_EVENTS, BudgetSummary,
                       CostSummary, PolicySummary, WebhookData, WebhookEventType, WebhookLinks, WebhookPayload)

__all__ = [name for name in dir() if not name.startswith("_")]
