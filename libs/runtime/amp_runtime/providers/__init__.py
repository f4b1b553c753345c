"""LLM providers: deterministic rules, Anthropic, or an OpenAI-compatible server, behind one question.

    providers = providers_from_settings(settings, artifact_store, packs)
    res = await providers.llm.ask(Ask(call=..., pack=..., output=..., prompt=..., check=..., rules=...), ctx)
    res.value, res.info (ProviderInfo), res.prompt_pack_hash

Every model answer is validated by its Pydantic contract and the question's own check,
corrected up to the attempt budget, quarantined when still invalid; outages fall back to a
second model and then to the rules (never for a call that writes code). Each service owns its
questions (pack, output model, check, rules); this package only knows how to ask.
"""

from .accounting import (
                         Accounting,
                         BudgetStatus,
                         UsageRecord,
                         budget_guard,
                         check_budget,
                         cost_usd,
                         estimate_usd,
                         estimates_vs_actuals,
                         record_estimate,
                         record_usage,
                         set_budget,
                         usage_history,
)
from .base import (
                         Ask,
                         CallContext,
                         ProviderError,
                         ProviderOutputInvalid,
                         ProviderRequestRejected,
                         ProviderUnavailable,
                         RegionAllowed,
                         Result,
)
from .checks import OutputRejected, check_regions, default_region_allowed, explain
from .config import DEFAULT_FALLBACK_MODEL, DEFAULT_MODEL, Price, ProviderConfig
from .deterministic import DeterministicProvider
from .estimate import CallEstimate, RunEstimate, estimate_run
from .factory import Providers, Router, providers_from_config, providers_from_settings
from .packs import PackRegistry, PromptPack, load_pack
from .prompting import as_json, quoted
from .resilience import BreakerRegistry
from .structured import ModelProvider, json_schema

__all__ = [
    "DEFAULT_FALLBACK_MODEL", "DEFAULT_MODEL", "Accounting", "Ask", "BreakerRegistry", "BudgetStatus", "CallContext",
    "DeterministicProvider", "ModelProvider", "OutputRejected", "PackRegistry", "Price", "PromptPack",
    "ProviderConfig", "ProviderError", "ProviderOutputInvalid", "ProviderRequestRejected", "ProviderUnavailable",
    "CallEstimate", "Providers", "RegionAllowed", "RunEstimate", "Result", "Router", "UsageRecord", "as_json", "budget_guard", "check_budget", "estimate_run", "estimates_vs_actuals", "record_estimate", "usage_history", "check_regions",
    "cost_usd", "default_region_allowed", "estimate_usd", "explain", "json_schema", "load_pack",
    "providers_from_config", "providers_from_settings", "quoted", "record_usage", "set_budget",
]
