"""Secrets and personal data out of text a person or a model wrote: keys, tokens, passwords,
emails, phone numbers, card numbers (Luhn-checked), credentials in URLs, long random tokens.

Used where such text leaves its author: at the gateway, before requirement text, comments and
answers reach the database, the bus, events and logs; and by the validators, before Reason Cards
go into a generated repository. Each match becomes `[REDACTED:<kind>]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

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
    # not inside a longer number or a decimal, but a card number may end a sentence
    (re.compile(r"(?<!\d)(?<!\d\.)(?:\d[ -]?){12,18}\d(?!\d|\.\d)"), _card_sub),
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
