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
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from amp_contracts import ConstraintSchema, Coverage, Plan, ProviderInfo, Question, Risk
from pydantic import BaseModel, ValidationError

from ..artifacts import ArtifactStore, quarantine_key
from ..canonical import canonical_json
from .accounting import cost_usd, estimate_usd
from .base import (
    ADAPTIVE_QUESTIONS,
    APPROVAL_FEEDBACK,
    CODEGEN,
    CRITIC_TECH,
    INTAKE_EXTRACT,
    PLANNER_CHOOSE,
    CallContext,
    PatternChoice,
    ProviderOutputInvalid,
    ProviderUnavailable,
    RegionAllowed,
    Result,
    Seam,
)
from .config import ProviderConfig
from .contracts import (
    CommentPatchOut,
    CritiqueOut,
    ExtractionOut,
    OutputRejected,
    QuestionsOut,
    SeamFillsOut,
    check_choice,
    check_extraction,
    check_patch,
    check_questions,
    check_risks,
    check_seams,
    explain,
    field_values,
)
from .packs import PromptPack, load_pack
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


@functools.cache
def catalog_reference(cloud: str) -> str:
    """The cloud's whole pattern catalog as a stable reference block.

    The model weighs candidates with the same facts the rules use, and the block is identical for
    every call on that cloud and catalog version, so it is written to the prompt cache once and
    read by every later call of every decision set (the per-call part stays small).
    """
    from amp_domain.catalog import catalog_version, load_catalog

    lines = [f"Pattern catalog {catalog_version()} for {cloud} (id: deployment; latency floor; throughput "
             "ceiling; multi-AZ; compliance; summary):"]
    for p in sorted(load_catalog(cloud).patterns, key=lambda p: p.id):
        d = p.model_dump(mode="json")
        lines.append(f"- {p.id}: {d.get('deployment')}; {d.get('latency_floor_ms')} ms; "
                     f"{d.get('throughput_ceiling_rps')} rps; multi-AZ {d.get('multi_az')}; "
                     f"{', '.join(d.get('compliance') or [])}; {d.get('summary', '')}")
    return "\n".join(lines)


class ModelProvider:
    """Orchestration and code generation through one transport (Anthropic or OpenAI-compatible)."""

    def __init__(self, transport: Transport, config: ProviderConfig, *, artifacts: ArtifactStore | None = None,
                 breakers: BreakerRegistry | None = None, fallback: Any = None) -> None:
        self.transport = transport
        self.name = transport.provider
        self.config = config
        self.artifacts = artifacts
        self.breakers = breakers or BreakerRegistry(config.breaker_fail_max, config.breaker_reset_s)
        self.fallback = fallback  # the deterministic provider; never used for code generation

    # ------------------------------------------------------------------ the engine

    async def _ask(self, node: str, pack_name: str, out_model: type[BaseModel], user_text: str,
                   check: Callable[[Any], T], ctx: CallContext | None,
                   deterministic: Callable[[], Awaitable[Result[T]]] | None, reference: str = "") -> Result[T]:
        ctx = ctx or CallContext()
        pack = load_pack(pack_name)
        schema = json_schema(out_model)
        chain = self.config.models_for(node, self.name)
        notes: list[str] = []
        last: Unavailable | None = None
        for model in chain:
            try:
                value, info, usd = await self._ask_model(node, model, pack, schema, out_model, user_text, check, ctx,
                                                         reference)
            except Unavailable as e:
                last = e
                notes.append(f"{self.name}:{model} did not answer ({e.reason})")
                continue
            if model != chain[0]:
                info.fallback_from = f"{self.name}:{chain[0]}"
            return Result(value=value, info=info, usd=usd, prompt_pack_hash=pack.hash, notes=notes)
        if deterministic is not None and node != CODEGEN:
            res = await deterministic()
            res.info = res.info.model_copy(update={"fallback_from": f"{self.name}:{chain[0]}"})
            res.notes = notes + ["the deterministic rules answered instead"]
            return res
        retry = last.retry_after if last else None
        raise ProviderUnavailable(
            f"No model could answer {node}: {'; '.join(notes)}. Try again"
            + (f" in {retry:.0f} s" if retry else " later") + ", or set this node's provider to deterministic.",
            provider=self.name, model=chain[0], node_name=node, retry_after_s=retry)

    async def _ask_model(self, node: str, model: str, pack: PromptPack, schema: dict[str, Any],
                         out_model: type[BaseModel], user_text: str, check: Callable[[Any], T],
                         ctx: CallContext, reference: str = "") -> tuple[T, ProviderInfo, float]:
        gate = self.breakers.gate(self.name, model)
        price = self.config.price(model)
        conv = self.transport.start(pack, schema, user_text, reference)
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
                parsed = (out_model.model_validate_json(payload) if isinstance(payload, str)
                          else out_model.model_validate(payload))
                return check(parsed), total, round(usd_total, 6)
            except (ValidationError, OutputRejected, ValueError) as e:
                error = explain(e)
                attempts.append({"answer": turn.payload, "error": error})
                conv = self.transport.correct(conv, turn, error)
        key = await self._quarantine(node, model, pack, user_text, attempts, ctx)
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

    def _det(self, method: str, *args: Any, **kw: Any) -> Callable[[], Awaitable[Result[Any]]] | None:
        if self.fallback is None:
            return None
        return lambda: getattr(self.fallback, method)(*args, **kw)

    # ------------------------------------------------------------------ orchestration

    async def extract(self, text: str, *, region_allowed: RegionAllowed | None = None,
                      ctx: CallContext | None = None) -> Result[Any]:
        def check(out: ExtractionOut) -> Any:
            from amp_domain.requirements.extraction import Extraction

            constraints, spans = check_extraction(out, text, region_allowed)
            return Extraction(constraints=constraints, spans=spans)

        user = f"Requirements (between the markers):\n<<<\n{text}\n>>>"
        return await self._ask(INTAKE_EXTRACT, "intake_extract", ExtractionOut, user, check, ctx,
                               self._det("extract", text, region_allowed=region_allowed, ctx=ctx))

    async def next_questions(self, constraints: ConstraintSchema, coverage: Coverage, asked: set[str] | list[str],
                             *, ctx: CallContext | None = None) -> Result[list[Question]]:
        asked_set = set(asked)
        missing = [f for f in dict.fromkeys([*coverage.blocking, *coverage.missing])
                   if f not in asked_set and f in ConstraintSchema.model_fields]
        allowed = {f: list(field_values(f) or []) for f in missing}
        user = (f"Known constraints: {_dump(constraints.stated())}\n"
                f"Missing fields (ask only about these; blocking first): {_dump(allowed)}\n"
                f"Blocking fields: {_dump(coverage.blocking)}\nAlready asked: {_dump(sorted(asked_set))}\n"
                f"Coverage: {coverage.score:.2f} (threshold {coverage.threshold:.2f})")
        return await self._ask(ADAPTIVE_QUESTIONS, "intake_questions", QuestionsOut, user,
                               lambda out: check_questions(out, constraints, coverage, asked_set), ctx,
                               self._det("next_questions", constraints, coverage, asked, ctx=ctx))

    async def choose_pattern(self, capability: str, candidates: list[str], constraints: ConstraintSchema, *,
                             details: dict[str, str] | None = None,
                             ctx: CallContext | None = None) -> Result[PatternChoice]:
        if not candidates:
            raise ValueError(f"no candidates to choose from for {capability}")
        lines = "\n".join(f"- {c}" + (f": {details[c]}" if details and c in details else "") for c in candidates)
        user = (f"Capability: {capability}\nCandidates (ranked by the catalog rules, best first):\n{lines}\n"
                f"Constraints: {_dump(constraints.stated())}")
        return await self._ask(PLANNER_CHOOSE, "planner_choose", PatternChoice, user,
                               lambda out: check_choice(out, candidates), ctx,
                               self._det("choose_pattern", capability, candidates, constraints, details=details,
                                         ctx=ctx), reference=catalog_reference(candidates[0].split(":", 1)[0]))

    async def critique(self, plan: Plan, constraints: ConstraintSchema, *,
                       ctx: CallContext | None = None) -> Result[list[Risk]]:
        user = (f"Plan: {_dump(plan.model_dump(mode='json', exclude={'components': {'__all__': {'candidates'}}}))}\n"
                f"Constraints: {_dump(constraints.stated())}")
        return await self._ask(CRITIC_TECH, "critic_tech", CritiqueOut, user, lambda out: check_risks(out, plan), ctx,
                               self._det("critique", plan, constraints, ctx=ctx))

    async def parse_approval_comment(self, comment: str, current: ConstraintSchema, *,
                                     region_allowed: RegionAllowed | None = None,
                                     ctx: CallContext | None = None) -> Result[dict[str, Any]]:
        user = (f"Current constraints: {_dump(current.stated())}\n"
                f"Reviewer comment (between the markers):\n<<<\n{comment}\n>>>")
        return await self._ask(APPROVAL_FEEDBACK, "approval_patch", CommentPatchOut, user,
                               lambda out: check_patch(out, current, region_allowed), ctx,
                               self._det("parse_approval_comment", comment, current, region_allowed=region_allowed,
                                         ctx=ctx))

    # ------------------------------------------------------------------ code generation

    async def fill_seams(self, seams: list[Seam], context: dict[str, Any], *,
                         ctx: CallContext | None = None) -> Result[dict[str, str]]:
        if not seams:
            return Result(value={}, info=ProviderInfo(provider=self.name, model=self.config.models_for(CODEGEN)[0]))
        listing = "\n\n".join(f"Seam {s.id} in {s.path} ({s.language})\nSignature: {s.signature or '-'}\n"
                              f"Instructions: {s.instructions or '-'}\nTemplate default:\n{s.default}" for s in seams)
        user = f"Context: {_dump(context)}\n\nSeams to fill:\n\n{listing}"
        return await self._ask(CODEGEN, "codegen_seams", SeamFillsOut, user, lambda out: check_seams(out, seams),
                               ctx, None)
