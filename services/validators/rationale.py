"""rationale_compile: Reason Cards → `reports/rationale.json` and the "Design Rationale" section.

Cards end up inside a zip the user downloads and shares, so every string is redacted first
(secrets and PII: emails, phone numbers, AWS keys, bearer/JWT tokens, private keys, long
hex/base64 tokens, Luhn-valid card numbers, `password=`-style assignments), and anything that
looks like a raw prompt or provider transcript is dropped from free-form dicts (a Reason Card must "never
expose raw prompts or provider transcripts"). Identifier fields the platform itself sets
(decision id, prompt-pack hash, timestamp) are kept verbatim: they are hashes, not secrets.

The rationale is committed, and a committed file is a function of the version's inputs: how long
something took (`duration_ms`, at any depth) is left out, and a card's `ts` is the time its step
was recorded (or, for the validators' own cards, the time of the message that started the step),
never the time of compiling.
"""

from __future__ import annotations

import json
from typing import Any

from amp_contracts.reason import ReasonCard
from amp_domain.redaction import redact

# Card fields set by the platform, not by a model or a user: never redacted.
_IDENTIFIER_FIELDS = frozenset({"decision_id", "prompt_pack_hash", "ts"})

# How long something took: true of one run, not of the version; kept in the database only.
_TIMING_FIELDS = frozenset({"duration_ms", "durationMs", "latency_ms"})


def _untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in _TIMING_FIELDS}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def card_to_public(card: ReasonCard) -> dict[str, Any]:
    """One card in its public shape, redacted; top-level fields kept, raw material dropped below them."""
    data = _untimed(card.model_dump(mode="json"))
    return {key: value if key in _IDENTIFIER_FIELDS else redact(value) for key, value in data.items()}


# ---- Markdown -------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _kv(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {_cell(v)}" for k, v in mapping.items())


def _card_markdown(card: dict[str, Any]) -> list[str]:
    title = f"### {card['node_name'] or card['agent']} ({card['agent']}, trigger: {card['trigger']})"
    out = [title, ""]
    if card.get("summary"):
        out += [card["summary"], ""]
    if choice := card.get("choice"):
        out.append(f"- **Decision:** `{choice['id']}`: {_cell(choice['justification'])}")
    inputs = card.get("inputs") or {}
    if inputs.get("constraints_keys") or inputs.get("artifacts"):
        parts = []
        if inputs.get("constraints_keys"):
            parts.append("constraints " + ", ".join(f"`{k}`" for k in inputs["constraints_keys"]))
        if inputs.get("artifacts"):
            parts.append("artifacts " + ", ".join(f"`{a}`" for a in inputs["artifacts"]))
        out.append(f"- **Inputs:** {'; '.join(parts)}")
    if card.get("policy_results"):
        out.append(f"- **Policy:** {_kv(card['policy_results'])}")
    if card.get("impacts"):
        out.append(f"- **Impact:** {_kv(card['impacts'])}")
    out.append(f"- **Confidence:** {card['confidence']:.2f}")
    for label, key in (("Risks", "risks"), ("Assumptions", "assumptions")):
        if card.get(key):
            out.append(f"- **{label}:** " + "; ".join(_cell(r) for r in card[key]))
    if card.get("links"):
        out.append("- **Links:** " + ", ".join(f"[{k}]({v})" for k, v in card["links"].items()))
    provider = card.get("provider") or {}
    decided_by = provider.get("provider", "deterministic")
    if provider.get("model"):
        decided_by += f" / {provider['model']}"
    if provider.get("fallback_from"):
        decided_by += f" (fallback from {provider['fallback_from']})"
    out.append(f"- **Decided by:** {decided_by}, {card['ts']}")
    if card.get("user_id"):
        out.append(f"- **On behalf of:** `{_cell(card['user_id'])}`")
    if cands := card.get("candidates"):
        out += ["", "| Option | Summary | Pros | Cons | Trade-offs | Score | Rejected because |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        for c in cands:
            score = "" if c.get("score") is None else f"{c['score']:.2f}"
            out.append(f"| `{_cell(c['id'])}` | {_cell(c.get('summary'))} | {_cell(c.get('pros'))} | "
                       f"{_cell(c.get('cons'))} | {_cell(c.get('tradeoffs'))} | {score} | "
                       f"{_cell(c.get('rejected_because'))} |")
    out.append("")
    return out


def rationale_markdown(public_cards: list[dict[str, Any]]) -> str:
    lines = ["## Design Rationale", ""]
    if not public_cards:
        return "\n".join([*lines, "_No decisions were recorded for this version._", ""])
    lines += [("Each decision below lists the options weighed, the choice and why, its policy and cost impact, "
               "and the risks that remain. Secrets and personal data are redacted."), ""]
    for card in public_cards:
        lines += _card_markdown(card)
    return "\n".join(lines)


def compile_rationale(cards: list[ReasonCard]) -> tuple[str, str]:
    """(content of `reports/rationale.json`, Markdown "Design Rationale" section)."""
    public = [card_to_public(c) for c in cards]
    return json.dumps(public, indent=2, ensure_ascii=False) + "\n", rationale_markdown(public)
