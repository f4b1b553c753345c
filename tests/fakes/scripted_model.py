"""A scripted "model" for golden runs: answers each forced tool call of the providers sensibly.

It reads the request the platform sent (tool name, user text) and answers in the tool's schema,
with usage that includes prompt-cache reads after the first call, so a run through the bus
exercises the real SDK, validation, accounting and Reason Card provenance.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .anthropic_server import Reply, tool_reply, usage

SEAM_CODE = {
    "check_request": ("def check_request(row: dict[str, float]) -> list[str]:\n"
                      "    \"\"\"Amounts and counts cannot be negative (written by the scripted model).\"\"\"\n"
                      "    return [f\"{name} must not be negative\" for name, value in row.items() if value < 0]\n"),
}
PATTERN = re.compile(r"^- ((?:aws|gcp|azure):[a-z_]+:[a-z0-9._-]+)", re.M)


def _user_text(req: dict[str, Any]) -> str:
    content = req["messages"][-1]["content"]
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    return str(content)


def _between_markers(text: str) -> str:
    m = re.search(r"<<<\n(.*)\n>>>", text, re.S)
    return m.group(1) if m else text


#: The smallest prefix the Messages API caches (Sonnet-class models), in tokens.
MIN_CACHEABLE_TOKENS = 1024


def tokens(value: Any) -> int:
    """A stable stand-in for the tokenizer: about four characters a token."""
    return max(1, len(json.dumps(value, sort_keys=True)) // 4)


class PromptCache:
    """Prompt caching as the Messages API applies it: the request prefix up to the last block marked
    `cache_control` (tools, then system, then messages) is written once and read by later requests
    with the same prefix; prefixes under the minimum are not cached."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def usage(self, req: dict[str, Any], output_tokens: int) -> dict[str, int]:
        system = req.get("system") or []
        system = system if isinstance(system, list) else [{"type": "text", "text": system}]
        marked = [i for i, b in enumerate(system) if isinstance(b, dict) and b.get("cache_control")]
        prefix = [req.get("tools") or [], system[: marked[-1] + 1]] if marked else None
        rest = [system[marked[-1] + 1:] if marked else system, req.get("messages") or []]
        if prefix is None or tokens(prefix) < MIN_CACHEABLE_TOKENS:
            return usage(input_tokens=tokens([prefix, rest]), output_tokens=output_tokens)
        key = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest()
        hit = key in self.seen
        self.seen.add(key)
        return usage(input_tokens=tokens(rest), output_tokens=output_tokens,
                     cache_read=tokens(prefix) if hit else 0, cache_write=0 if hit else tokens(prefix))


class ScriptedModel:
    def __init__(self, seam_code: dict[str, str] | None = None) -> None:
        self.calls: dict[str, int] = {}
        self.cache = PromptCache()
        self.seam_code = {**SEAM_CODE, **(seam_code or {})}  # a test may script hostile code for a seam

    def __call__(self, req: dict[str, Any]) -> Reply:
        tool = (req.get("tool_choice") or {}).get("name", "")
        self.calls[tool] = self.calls.get(tool, 0) + 1
        use = self.cache.usage(req, output_tokens=150)
        text = _user_text(req)
        if tool == "record_constraints":
            from amp_domain.requirements.extraction import extract

            found = extract(_between_markers(text))
            evidence = [{"field": s.field, "quote": s.text} for s in found.spans]
            return tool_reply(tool, {"constraints": found.constraints.stated(), "evidence": evidence}, use=use)
        if tool == "choose_pattern":
            candidates = PATTERN.findall(text)
            return tool_reply(tool, {"pattern_id": candidates[0], "justification":
                                     f"{candidates[0]} meets the stated latency, region and compliance constraints "
                                     "at the lowest operational burden (scripted model)"}, use=use)
        if tool == "report_risks":
            return tool_reply(tool, {"risks": []}, use=use)
        if tool == "patch_constraints":
            from amp_contracts import ConstraintSchema
            from amp_domain.requirements.extraction import extract_patch

            return tool_reply(tool, {"set": extract_patch(_between_markers(text), ConstraintSchema()), "clear": []},
                              use=use)
        if tool == "fill_seams":
            # A correction turn carries only the error: the seams are named in the first request.
            ids = re.findall(r"^Seam (\S+) in ", text, re.M) or re.findall(
                r"^Seam (\S+) in ", json.dumps(req["messages"][0]["content"]).replace("\\n", "\n"), re.M)
            fills = [{"seam_id": i, "code": self.seam_code.get(i, "")} for i in ids]
            return tool_reply(tool, {"fills": fills}, use=use)
        if tool == "ask_questions":
            return tool_reply(tool, {"questions": []}, use=use)
        return tool_reply(tool, {}, use=use)
