"""The deterministic provider: the rules' answer to every question, with no model, tokens or cost."""

from __future__ import annotations

from typing import Any

from amp_contracts import ProviderInfo

from .base import Ask, CallContext, Result

NAME = "deterministic"


class DeterministicProvider:
    """Same inputs, same answer: each question's own `rules()`."""

    name = NAME

    async def ask(self, q: Ask[Any], ctx: CallContext | None = None) -> Result[Any]:
        return Result(value=q.rules(), info=ProviderInfo(provider=NAME))
