"""The model-backed provider: structured answers, validated, corrected, quarantined, with fallbacks.

Transport-neutral: the Anthropic Messages API and OpenAI-compatible servers each supply a
`Transport` (how one request is built, sent and read); everything else lives here:

1. the pack's system prompt and few-shot examples (cached) and the contract's JSON Schema;
2. the answer validated by its Pydantic model, then by the node's check (catalog, allow-lists);
3. a failure sent back to the model for a corrected answer, `max_attempts` answers in all;
4. still invalid: every answer written to the quarantine prefix of the artifact store and
   `ProviderOutputInvalid` raised, with a message a person can act on;
5. an outage (429/5xx/overloaded/timeout) moves to the fallback model and then, except for
   code generation, to the deterministic provider; `ProviderInfo` records who answered.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from amp_contracts import ProviderInfo
from pydantic import BaseModel, ValidationError

from ..artifacts import ArtifactStore, quarantine_key
from ..canonical import canonical_json
from .accounting import cost_usd, estimate_usd
from .base import Ask, CallContext, ProviderOutputInvalid, ProviderUnavailable, Result
from .checks import OutputRejected, explain
from .config import ProviderConfig
from .packs import PromptPack
from .resilience import BreakerRegistry, Unavailable

T = TypeVar("T")


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with every `$ref` inlined (tool schemas travel best self-contained)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node and node["$ref"].startswith("#/$defs/"):
                target = copy.deepcopy(defs[node["$ref"].split("/")[-1]])
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return inline({**target, **rest})
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)


@dataclass
class Turn:
    """One model answer: the structured payload (or the text it wrote instead) and its usage."""

    payload: Any
    info: ProviderInfo
    state: Any = None  # what the transport needs to continue the conversation


class Transport(Protocol):
    provider: str

    def start(self, pack: PromptPack, schema: dict[str, Any], user_text: str, reference: str = "") -> Any: ...

    async def turn(self, model: str, conversation: Any, pack: PromptPack, schema: dict[str, Any]) -> Turn: ...

    def correct(self, conversation: Any, turn: Turn, error: str) -> Any: ...

    def size(self, conversation: Any) -> int: ...


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


class ModelProvider:
    """Any question, through one transport (Anthropic or OpenAI-compatible)."""

    def __init__(self, transport: Transport, config: ProviderConfig, *, artifacts: ArtifactStore | None = None,
                 breakers: BreakerRegistry | None = None) -> None:
        self.transport = transport
        self.name = transport.provider
        self.config = config
        self.artifacts = artifacts
        self.breakers = breakers or BreakerRegistry(config.breaker_fail_max, config.breaker_reset_s)

    async def ask(self, q: Ask[T], pack: PromptPack, ctx: CallContext | None = None) -> Result[T]:
        """The question to each model of the call's chain in turn, then (unless it writes code) to the rules."""
        ctx = ctx or CallContext()
        schema = json_schema(q.output)
        chain = self.config.models_for(q.call, self.name)
        notes: list[str] = []
        last: Unavailable | None = None
        for model in chain:
            try:
                value, info, usd = await self._ask_model(q, pack, model, schema, ctx)
            except Unavailable as e:
                last = e
                notes.append(f"{self.name}:{model} did not answer ({e.reason})")
                continue
            if model != chain[0]:
                info.fallback_from = f"{self.name}:{chain[0]}"
            return Result(value=value, info=info, usd=usd, prompt_pack_hash=pack.hash, notes=notes)
        if not self.config.writes_code(q.call):
            return Result(value=q.rules(), info=ProviderInfo(provider="deterministic",
                                                            fallback_from=f"{self.name}:{chain[0]}"),
                          notes=notes + ["the deterministic rules answered instead"])
        retry = last.retry_after if last else None
        raise ProviderUnavailable(
            f"No model could answer {q.call}: {'; '.join(notes)}. Try again"
            + (f" in {retry:.0f} s" if retry else " later") + ", or set this node's provider to deterministic.",
            provider=self.name, model=chain[0], node_name=q.call, retry_after_s=retry)

    async def _ask_model(self, q: Ask[T], pack: PromptPack, model: str, schema: dict[str, Any],
                         ctx: CallContext) -> tuple[T, ProviderInfo, float]:
        gate = self.breakers.gate(self.name, model)
        price = self.config.price(model)
        node = q.call
        conv = self.transport.start(pack, schema, q.prompt, q.reference)
        total = ProviderInfo(provider=self.name, model=model)
        usd_total = 0.0
        attempts: list[dict[str, Any]] = []
        for _ in range(self.config.max_attempts):
            if ctx.budget is not None:
                await ctx.budget(estimate_usd(price, self.transport.size(conv), pack.max_tokens))
            turn = await gate.call(lambda conv=conv: self.transport.turn(model, conv, pack, schema),
                                   wait_max_s=self.config.retry_after_wait_max_s)
            usd = cost_usd(price, turn.info)
            usd_total += usd
            for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
                setattr(total, k, getattr(total, k) + getattr(turn.info, k))
            if ctx.accounting is not None:
                ctx.accounting.add(node, turn.info, usd)
            try:
                payload = turn.payload
                parsed = (q.output.model_validate_json(payload) if isinstance(payload, str)
                          else q.output.model_validate(payload))
                return q.check(parsed), total, round(usd_total, 6)
            except (ValidationError, OutputRejected, ValueError) as e:
                error = explain(e)
                attempts.append({"answer": turn.payload, "error": error})
                conv = self.transport.correct(conv, turn, error)
        key = await self._quarantine(node, model, pack, q.prompt, attempts, ctx)
        last_error = attempts[-1]["error"].splitlines()
        summary = "; ".join(line.lstrip("- ") for line in last_error[:4])
        raise ProviderOutputInvalid(
            f"The model ({self.name}:{model}) answered {node} {len(attempts)} times without matching the expected "
            f"format; the last problem was: {summary}. Its answers were kept for review"
            + (f" at {key}" if key else "") + ". Re-run the step, or set this node's provider to deterministic.",
            provider=self.name, model=model, quarantine_key=key, node_name=node,
            details=[{"attempt": i + 1, "error": a["error"]} for i, a in enumerate(attempts)])

    async def _quarantine(self, node: str, model: str, pack: PromptPack, user_text: str,
                          attempts: list[dict[str, Any]], ctx: CallContext) -> str | None:
        if self.artifacts is None:
            return None
        data = canonical_json({"node": node, "provider": self.name, "model": model, "prompt_pack": pack.name,
                               "prompt_pack_hash": pack.hash, "project_id": ctx.project_id,
                               "decision_set_id": ctx.decision_set_id, "input": user_text,
                               "attempts": attempts}).encode()
        key = quarantine_key(ctx.project_id, node, data)
        await self.artifacts.put(key, data)
        return key
