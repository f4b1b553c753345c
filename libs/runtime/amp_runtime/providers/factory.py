"""`providers_from_settings`: the orchestration and codegen providers a process uses, per node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from amp_contracts import ConstraintSchema, Coverage, Plan, Question, Risk

from ..artifacts import ArtifactStore
from .base import (
    ADAPTIVE_QUESTIONS,
    APPROVAL_FEEDBACK,
    CODEGEN,
    CRITIC_TECH,
    INTAKE_EXTRACT,
    PLANNER_CHOOSE,
    CallContext,
    PatternChoice,
    RegionAllowed,
    Result,
    Seam,
)
from .config import ProviderConfig
from .deterministic import DeterministicProvider
from .resilience import BreakerRegistry
from .structured import ModelProvider


class Router:
    """Each node to the provider configured for it (AMP_PROVIDER_<NODE>, else AMP_PROVIDER)."""

    def __init__(self, config: ProviderConfig, artifacts: ArtifactStore | None, *,
                 breakers: BreakerRegistry | None = None, anthropic_client: Any = None,
                 http_client: Any = None) -> None:
        self.config = config
        self.artifacts = artifacts
        self.breakers = breakers or BreakerRegistry(config.breaker_fail_max, config.breaker_reset_s)
        self.deterministic = DeterministicProvider()
        self._anthropic_client = anthropic_client
        self._http_client = http_client
        self._built: dict[str, Any] = {"deterministic": self.deterministic}
        self.name = config.provider

    def for_node(self, node: str) -> Any:
        kind = self.config.provider_for(node)
        if kind not in self._built:
            if kind == "anthropic":
                from .anthropic_provider import AnthropicTransport

                transport: Any = AnthropicTransport(self.config, self._anthropic_client)
            else:
                from .openai_compat import OpenAICompatTransport

                transport = OpenAICompatTransport(self.config, self._http_client)
            self._built[kind] = ModelProvider(transport, self.config, artifacts=self.artifacts,
                                              breakers=self.breakers, fallback=self.deterministic)
        return self._built[kind]

    # The OrchestrationProvider interface, routed.
    async def extract(self, text: str, *, region_allowed: RegionAllowed | None = None,
                      ctx: CallContext | None = None) -> Result[Any]:
        return await self.for_node(INTAKE_EXTRACT).extract(text, region_allowed=region_allowed, ctx=ctx)

    async def next_questions(self, constraints: ConstraintSchema, coverage: Coverage, asked: set[str] | list[str],
                             *, ctx: CallContext | None = None) -> Result[list[Question]]:
        return await self.for_node(ADAPTIVE_QUESTIONS).next_questions(constraints, coverage, asked, ctx=ctx)

    async def choose_pattern(self, capability: str, candidates: list[str], constraints: ConstraintSchema, *,
                             details: dict[str, str] | None = None,
                             ctx: CallContext | None = None) -> Result[PatternChoice]:
        return await self.for_node(PLANNER_CHOOSE).choose_pattern(capability, candidates, constraints,
                                                                  details=details, ctx=ctx)

    async def critique(self, plan: Plan, constraints: ConstraintSchema, *,
                       ctx: CallContext | None = None) -> Result[list[Risk]]:
        return await self.for_node(CRITIC_TECH).critique(plan, constraints, ctx=ctx)

    async def parse_approval_comment(self, comment: str, current: ConstraintSchema, *,
                                     region_allowed: RegionAllowed | None = None,
                                     ctx: CallContext | None = None) -> Result[dict[str, Any]]:
        return await self.for_node(APPROVAL_FEEDBACK).parse_approval_comment(
            comment, current, region_allowed=region_allowed, ctx=ctx)

    # The CodeGenProvider interface.
    async def fill_seams(self, seams: list[Seam], context: dict[str, Any], *,
                         ctx: CallContext | None = None) -> Result[dict[str, str]]:
        return await self.for_node(CODEGEN).fill_seams(seams, context, ctx=ctx)


@dataclass
class Providers:
    orchestration: Router
    codegen: Router
    config: ProviderConfig

    @property
    def breakers(self) -> BreakerRegistry:
        return self.orchestration.breakers


def providers_from_config(config: ProviderConfig, artifacts: ArtifactStore | None, **kw: Any) -> Providers:
    router = Router(config, artifacts, **kw)
    return Providers(orchestration=router, codegen=router, config=config)


def providers_from_settings(settings: Any, artifacts: ArtifactStore | None, *, env: Mapping[str, str] | None = None,
                            **kw: Any) -> Providers:
    """Providers for `settings.provider` and the model settings of the environment (see `config`)."""
    config = ProviderConfig.from_env(env, provider=getattr(settings, "provider", None),
                                     anthropic_api_key=getattr(settings, "anthropic_api_key", None))
    return providers_from_config(config, artifacts, **kw)
