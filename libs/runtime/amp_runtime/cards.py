"""Reason Cards and events of a step: ids that survive a replay, and the pack fingerprint in force."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from amp_contracts import CardDraft, Envelope, Event, ReasonCard, envelope_of

from .telemetry import current_traceparent

_NS = uuid.UUID("6f1c2d4e-8a3b-4c5d-9e7f-0a1b2c3d4e5f")


def decision_id(step_key: str, index: int) -> str:
    """Deterministic per step and position, so that a replayed step produces the same card ids."""
    return str(uuid.uuid5(_NS, f"{step_key}:{index}"))


def stamp_cards(cards: Sequence[CardDraft], step_key: str, packs_fingerprint: str | None = None,
                ts: Any = None, user_id: str | None = None) -> list[ReasonCard]:
    """Give cards their ids, the person whose action caused the step, and the prompt packs in force
    where no model named its own pack."""
    out = []
    for i, c in enumerate(cards):
        fields = {**c.model_dump(), "decision_id": decision_id(step_key, i),
                  "prompt_pack_hash": c.prompt_pack_hash or packs_fingerprint}
        if user_id is not None:
            fields["user_id"] = user_id
        if ts is not None:
            fields["ts"] = ts
        out.append(ReasonCard.model_validate(fields))
    return out


def event(env: Envelope, type_: str, node: str, data: Any, decision_set_id: str | None = None) -> Event:
    payload = data.model_dump(mode="json") if hasattr(data, "model_dump") else data
    return Event(type=type_, project_id=env.project_id, decision_set_id=decision_set_id or env.decision_set_id,
                 run_id=env.run_id, node_name=node, data=payload, user_id=env.user_id)


def card_events(env: Envelope, cards: list[ReasonCard], decision_set_id: str | None = None) -> list[Event]:
    return [event(env, "reason-card", c.node_name, c, decision_set_id) for c in cards]


def forward(env: Envelope, payload: Any, *, decision_set_id: str | None = None, run_id: str | None = None,
            key: str = "") -> Envelope:
    """The next message of the chain, carrying the routing fields of the one that caused it."""
    return envelope_of(type(payload))(project_id=env.project_id, decision_set_id=decision_set_id or env.decision_set_id,
                                   run_id=run_id or env.run_id, idempotency_key=key,
                                   traceparent=current_traceparent() or env.traceparent, user_id=env.user_id,
                                   request_id=env.request_id, payload=payload)
