"""`providers_from_settings`: the provider of each model call a process makes, and the packs in force."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from amp_contracts import model_call

from ..artifacts import ArtifactStore
from .base import Ask, CallContext, Result
from .config import ProviderConfig
from .deterministic import DeterministicProvider
from .packs import PackRegistry
from .resilience import BreakerRegistry
from .structured import ModelProvider

T = TypeVar("T")


class Router:
    """Each model call to the provider configured for it (AMP_PROVIDER_<CALL>, else AMP_PROVIDER)."""

    def __init__(self, config: ProviderConfig, artifacts: ArtifactStore | None, packs: PackRegistry | None = None, *,
                 breakers: BreakerRegistry | None = None, anthropic_client: Any = None,
                 http_client: Any = None) -> None:
        self.config = config
        self.packs = packs
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
                # lazy: a provider's SDK only when configured
                from .anthropic_provider import AnthropicTransport

                transport: Any = AnthropicTransport(self.config, self._anthropic_client)
            else:
                # lazy: a provider's SDK only when configured
                from .openai_compat import OpenAICompatTransport

                transport = OpenAICompatTransport(self.config, self._http_client)
            self._built[kind] = ModelProvider(transport, self.config, artifacts=self.artifacts,
                                              breakers=self.breakers)
        return self._built[kind]

    async def ask(self, q: Ask[T], ctx: CallContext | None = None) -> Result[T]:
        """Put the question to the provider configured for its call, with the call's prompt pack."""
        provider = self.for_node(q.call)
        if provider is self.deterministic:
            return await provider.ask(q, ctx)
        if self.packs is None:
            raise ValueError("a model provider needs the prompt packs (PackRegistry) to ask")
        return await provider.ask(q, self.packs.get(model_call(q.call).pack), ctx)


@dataclass
class Providers:
    """What a service asks its questions through (`llm.ask`), and the prompt packs in force."""

    llm: Router
    packs: PackRegistry
    config: ProviderConfig

    @property
    def breakers(self) -> BreakerRegistry:
        return self.llm.breakers


def providers_from_config(config: ProviderConfig, artifacts: ArtifactStore | None, packs: PackRegistry,
                          **kw: Any) -> Providers:
    return Providers(llm=Router(config, artifacts, packs, **kw), packs=packs, config=config)


def providers_from_settings(settings: Any, artifacts: ArtifactStore | None, packs: PackRegistry, *,
                            env: Mapping[str, str] | None = None, **kw: Any) -> Providers:
    """Providers for `settings.provider` and the model settings of the environment (see `config`)."""
    config = ProviderConfig.from_env(env, provider=getattr(settings, "provider", None),
                                     anthropic_api_key=getattr(settings, "anthropic_api_key", None))
    return providers_from_config(config, artifacts, packs, **kw)
