"""rationale_compile: Reason Cards → `reports/rationale.json` and the "Design Rationale" section.

Cards end up inside a zip the user downloads and shares, so every string is redacted first
(secrets and PII: emails, phone numbers, AWS keys, bearer/JWT tokens, private keys, long
hex/base64 tokens, Luhn-valid card numbers, `password=`-style assignments), and anything that
looks like a raw prompt or provider transcript is dropped from free-form dicts (a Reason Card must "never
expose raw prompts or provider transcripts"). Identifier fields the platform itself sets
(decision id, prompt-pack hash, timestamp) are kept verbatim: they are hashes, not secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from amp_contracts.reason import ReasonCard

# Card fields set by the platform, not by a model or a user: never redacted.
_IDENTIFIER_FIELDS = frozenset({"decision_id", "prompt_pack_hash", "ts"})

# Keys whose values are raw model input/output; dropped wherever they appear below the card.
_RAW_KEY = re.compile(
    r"prompt|transcript|chain_of_thought|(?:^|[^a-z])(?:raw|messages|completions?|thinking|cot)(?:$|[^a-z])",
    re.IGNORECASE,
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_sub(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    return "[REDACTED:card]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else m.group(0)


def _looks_like_token(m: re.Match[str]) -> str:
    """Long base64-ish runs are tokens only if they mix upper, lower and digits (not identifiers)."""
    s = m.group(0)
    if all(re.search(cls, s) for cls in (r"\d", r"[a-z]", r"[A-Z]")):
        return "[REDACTED:token]"
    return s


def _auth_header_sub(m: re.Match[str]) -> str:
    """`Bearer <token>` / `Basic <b64>`, but not prose such as "Bearer authentication"."""
    value = m.group(3)
    if re.search(r"[\d._~+/=]", value):
        return f"{m.group(1)}{m.group(2)}[REDACTED:token]"
    return m.group(0)


# Order matters: multi-line keys and structured tokens first, then cards before phones (both
# are digit groups), generic long tokens last.
_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL),
     "[REDACTED:private_key]"),
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"), "[REDACTED:aws_access_key]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), "[REDACTED:jwt]"),
    (re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{8,})"), _auth_header_sub),
    (re.compile(r"\b(?:ghp|gho|ghs|ghu|github_pat|xox[abpr]|sk|sk-ant|pk_live|sk_live|rk_live)[-_][A-Za-z0-9_-]{16,}"),
     "[REDACTED:token]"),
    (re.compile(r"(?i)\b((?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|client[_-]?secret|auth[_-]?token)"
                r"\w*\s*[:=]\s*)(['\"]?)[^\s'\",;]{4,}\2"), r"\1[REDACTED:secret]"),
    (re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/@]+:[^\s@/]+@"), "[REDACTED:url_credentials]@"),
    (re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), "[REDACTED:email]"),
    (re.compile(r"(?<![\d.])(?:\d[ -]?){12,18}\d(?![\d.])"), _card_sub),
    # A phone is a short run of digit groups: not part of a longer run (IPs, IDs, card-like numbers).
    (re.compile(r"(?<![\w.+])(?<!\d[\s.-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])"
                r"\d{3,4}[\s.-]?\d{3,4}(?!\w|[\s.-]?\d)"),
     "[REDACTED:phone]"),
    (re.compile(r"\b[0-9a-fA-F]{32,}\b"), "[REDACTED:hex]"),
    (re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}"), _looks_like_token),
]


def redact_text(text: str) -> str:
    """Replace secrets and PII in one string with `[REDACTED:<kind>]` markers."""
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text


def redact(value: Any, *, drop_raw: bool = True) -> Any:
    """Redact every string inside a JSON-like value; drop raw-prompt-like keys from dicts."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_text(str(k)) if isinstance(k, str) else k: redact(v, drop_raw=drop_raw)
                for k, v in value.items() if not (drop_raw and isinstance(k, str) and _RAW_KEY.search(k))}
    if isinstance(value, list | tuple):
        return [redact(v, drop_raw=drop_raw) for v in value]
    return value


def card_to_public(card: ReasonCard) -> dict[str, Any]:
    """One card in its public shape, redacted; top-level fields kept, raw material dropped below them."""
    data = card.model_dump(mode="json")
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
