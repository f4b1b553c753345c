"""LLM providers: deterministic rules, Anthropic, or an OpenAI-compatible server, behind one interface.

    providers = providers_from_settings(settings, artifact_store)
    res = await providers.orchestration.choose_pattern(capability, ranked_ids, constraints, ctx=ctx)
    res.value.pattern_id, res.info (ProviderInfo), res.prompt_pack_hash

Every model answer is validated by its Pydantic contract and a catalog/schema check, corrected
up to the attempt budget, quarantined when still invalid; outages fall back to a second model
and then to the deterministic provider (never for code generation).
"""

from .accounting import (
                         Accounting,
                         BudgetStatus,
                         UsageRecord,
                         budget_guard,
                         check_budget,
                         cost_usd,
                         estimate_usd,
                         record_usage,
                         set_budget,
)
from .base import (
                         ADAPTIVE_QUESTIONS,
                         APPROVAL_FEEDBACK,
                         CODEGEN,
                         CRITIC_TECH,
                         INTAKE_EXTRACT,
                         NODES,
                         PLANNER_CHOOSE,
                         CallContext,
                         CodeGenProvider,
                         OrchestrationProvider,
                         PatternChoice,
                         ProviderError,
                         ProviderOutputInvalid,
                         ProviderRequestRejected,
                         ProviderUnavailable,
                         RegionAllowed,
                         Result,
                         Seam,
)
from .config import DEFAULT_FALLBACK_MODEL, DEFAULT_MODEL, Price, ProviderConfig
from .contracts import OutputRejected, check_choice
from .deterministic import DeterministicProvider
from .factory import Providers, Router, providers_from_config, providers_from_settings
from .packs import load_pack, pack_names, packs_fingerprint, prompt_pack_hash
from .resilience import BreakerRegistry
from .structured import ModelProvider, json_schema

__all__ = [
    "ADAPTIVE_QUESTIONS", "APPROVAL_FEEDBACK", "CODEGEN", "CRITIC_TECH", "DEFAULT_FALLBACK_MODEL", "DEFAULT_MODEL",
    "INTAKE_EXTRACT", "NODES", "PLANNER_CHOOSE", "Accounting", "BreakerRegistry", "BudgetStatus", "CallContext",
    "CodeGenProvider", "DeterministicProvider", "ModelProvider", "OrchestrationProvider", "OutputRejected",
    "PatternChoice", "Price", "ProviderConfig", "ProviderError", "ProviderOutputInvalid", "ProviderRequestRejected",
    "ProviderUnavailable", "Providers", "RegionAllowed", "Result", "Router", "Seam", "UsageRecord", "budget_guard",
    "check_budget", "check_choice", "cost_usd", "estimate_usd", "json_schema", "load_pack", "pack_names",
    "packs_fingerprint", "prompt_pack_hash", "providers_from_config", "providers_from_settings", "record_usage", "set_budget",
]
