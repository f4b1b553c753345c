"""Provider configuration, read from the environment once (never at import).

Environment (all optional):

- `AMP_PROVIDER` — deterministic | anthropic | openai (the process default, from `Settings.provider`);
  `AMP_PROVIDER_<CALL>` overrides it per model call (`amp_contracts.MODEL_CALLS`), e.g.
  `AMP_PROVIDER_CODEGEN=deterministic`.
- `AMP_MODEL`, `AMP_FALLBACK_MODEL` (`none` disables it), `AMP_CODEGEN_MODEL` (calls that write code),
  `AMP_MODEL_<CALL>`:
  pinned model ids (a dated snapshot where one exists, so an answer does not drift with an alias).
- `AMP_TEMPERATURE_MODELS` — comma-separated model-id prefixes that still accept `temperature`;
  only those get `temperature: 0` (through `extra_body`, the SDK no longer takes the argument).
- `AMP_LLM_TIMEOUT_S`, `AMP_LLM_SDK_RETRIES`, `AMP_LLM_MAX_ATTEMPTS`, `AMP_BREAKER_FAIL_MAX`,
  `AMP_BREAKER_RESET_S`, `AMP_RETRY_AFTER_WAIT_MAX_S`.
- `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` (read by the SDK when not given here).
- `AMP_OPENAI_BASE_URL`, `AMP_OPENAI_API_KEY`, `AMP_OPENAI_MODEL`, `AMP_OPENAI_FALLBACK_MODEL`.
- `AMP_LLM_PRICES` — JSON `{model: {input, output, cache_read, cache_write}}` in USD per million tokens.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from amp_contracts import MODEL_CALLS

PROVIDERS: tuple[str, ...] = ("deterministic", "anthropic", "openai")
CALLS: tuple[str, ...] = tuple(m.name for m in MODEL_CALLS)
CODE_CALLS: frozenset[str] = frozenset(m.name for m in MODEL_CALLS if m.writes_code)

DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_FALLBACK_MODEL = "claude-haiku-4-5-20251001"
#: Model families that still accept `temperature` (newer ones reject sampling parameters).
DEFAULT_TEMPERATURE_MODELS: tuple[str, ...] = ("claude-3", "claude-sonnet-4-2025", "claude-opus-4-2025",
                                                "claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5",
                                                "claude-opus-4-5")


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0


DEFAULT_PRICES: dict[str, Price] = {
    "claude-opus-4-5": Price(5.0, 25.0, 0.50, 6.25),
    "claude-sonnet-4-5": Price(3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4-6": Price(3.0, 15.0, 0.30, 3.75),
    "claude-haiku-4-5": Price(1.0, 5.0, 0.10, 1.25),
}


@dataclass(frozen=True)
class ProviderConfig:
    provider: str = "deterministic"
    model: str = DEFAULT_MODEL
    fallback_model: str | None = DEFAULT_FALLBACK_MODEL
    codegen_model: str | None = None
    node_providers: dict[str, str] = field(default_factory=dict)
    node_models: dict[str, str] = field(default_factory=dict)
    temperature_models: tuple[str, ...] = DEFAULT_TEMPERATURE_MODELS
    timeout_s: float = 60.0
    sdk_max_retries: int = 0
    max_attempts: int = 3
    breaker_fail_max: int = 3
    breaker_reset_s: float = 30.0
    retry_after_wait_max_s: float = 2.0
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    openai_model: str = "llama3.1:8b"
    openai_fallback_model: str | None = None
    prices: dict[str, Price] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    def __post_init__(self) -> None:
        for name in (self.provider, *self.node_providers.values()):
            if name not in PROVIDERS:
                raise ValueError(f"unknown provider {name!r}; expected one of {', '.join(PROVIDERS)}")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def provider_for(self, node: str) -> str:
        return self.node_providers.get(node, self.provider)

    @staticmethod
    def writes_code(node: str) -> bool:
        """Calls that write code use `AMP_CODEGEN_MODEL` and never fall back to another model or the rules."""
        return node in CODE_CALLS

    def models_for(self, node: str, provider: str = "anthropic") -> list[str]:
        """The models a node tries in order: its primary, then (not for codegen) the fallback."""
        if provider == "openai":
            primary = self.node_models.get(node) or self.openai_model
            fallback = self.openai_fallback_model
        else:
            primary = self.node_models.get(node) or ((self.codegen_model or self.model) if self.writes_code(node)
                                                     else self.model)
            fallback = self.fallback_model
        chain = [primary]
        if not self.writes_code(node) and fallback and fallback != primary:
            chain.append(fallback)
        return chain

    def accepts_temperature(self, model: str) -> bool:
        return any(model.startswith(prefix) for prefix in self.temperature_models)

    def price(self, model: str | None) -> Price | None:
        """The price of a model: an exact id first, else the longest configured prefix."""
        if not model:
            return None
        if model in self.prices:
            return self.prices[model]
        hits = [k for k in self.prices if model.startswith(k)]
        return self.prices[max(hits, key=len)] if hits else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, provider: str | None = None,
                 anthropic_api_key: str | None = None) -> ProviderConfig:
        e = os.environ if env is None else env

        def num(name: str, default: float) -> float:
            return float(e[name]) if e.get(name) else default

        def opt(name: str, default: str | None) -> str | None:
            raw = e.get(name)
            if raw is None or raw == "":
                return default
            return None if raw.lower() in ("none", "off", "0") else raw

        node_providers = {n: e[f"AMP_PROVIDER_{n.upper()}"] for n in CALLS if e.get(f"AMP_PROVIDER_{n.upper()}")}
        node_models = {n: e[f"AMP_MODEL_{n.upper()}"] for n in CALLS if e.get(f"AMP_MODEL_{n.upper()}")}
        prices = dict(DEFAULT_PRICES)
        if e.get("AMP_LLM_PRICES"):
            prices.update({k: Price(**v) for k, v in json.loads(e["AMP_LLM_PRICES"]).items()})
        temps = e.get("AMP_TEMPERATURE_MODELS")
        return cls(
            provider=provider or e.get("AMP_PROVIDER") or "deterministic",
            model=e.get("AMP_MODEL") or DEFAULT_MODEL,
            fallback_model=opt("AMP_FALLBACK_MODEL", DEFAULT_FALLBACK_MODEL),
            codegen_model=e.get("AMP_CODEGEN_MODEL") or None,
            node_providers=node_providers, node_models=node_models,
            temperature_models=(tuple(p.strip() for p in temps.split(",") if p.strip()) if temps is not None
                                else DEFAULT_TEMPERATURE_MODELS),
            timeout_s=num("AMP_LLM_TIMEOUT_S", 60.0),
            sdk_max_retries=int(num("AMP_LLM_SDK_RETRIES", 0)),
            max_attempts=int(num("AMP_LLM_MAX_ATTEMPTS", 3)),
            breaker_fail_max=int(num("AMP_BREAKER_FAIL_MAX", 3)),
            breaker_reset_s=num("AMP_BREAKER_RESET_S", 30.0),
            retry_after_wait_max_s=num("AMP_RETRY_AFTER_WAIT_MAX_S", 2.0),
            anthropic_api_key=anthropic_api_key or e.get("ANTHROPIC_API_KEY") or None,
            anthropic_base_url=e.get("ANTHROPIC_BASE_URL") or None,
            openai_base_url=e.get("AMP_OPENAI_BASE_URL") or None,
            openai_api_key=e.get("AMP_OPENAI_API_KEY") or None,
            openai_model=e.get("AMP_OPENAI_MODEL") or "llama3.1:8b",
            openai_fallback_model=opt("AMP_OPENAI_FALLBACK_MODEL", None),
            prices=prices,
        )
