"""Prompt and few-shot packs: versioned files, each referenced by the hash of its content.

A pack is a YAML file in `amp_runtime/prompts/` holding the system prompt, the tool that
carries the structured answer, and worked examples. `prompt_pack_hash(name)` is the sha256 of
the pack's canonical JSON, so reformatting a file keeps its hash and changing a word does not;
the hash goes into every Reason Card the pack helped produce.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ..canonical import canonical_json, sha256_hex

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str
    output: dict[str, Any]


class Tool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str


class PromptPack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: int = Field(ge=1)
    tool: Tool
    max_tokens: int = Field(2048, ge=1)
    system: str
    few_shot: list[Example] = Field(default_factory=list)

    @property
    def hash(self) -> str:
        return sha256_hex(canonical_json(self.model_dump(mode="json")))

    def few_shot_text(self) -> str:
        """The worked examples as one stable text block (cached with the system prompt)."""
        parts = ["Worked examples (input, then the exact tool input that answers it):"]
        for i, ex in enumerate(self.few_shot, 1):
            parts.append(f"Example {i}\nInput:\n{ex.input}\nAnswer:\n{json.dumps(ex.output, sort_keys=True)}")
        return "\n\n".join(parts)


def pack_names() -> list[str]:
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml"))


@cache
def load_pack(name: str) -> PromptPack:
    path = PROMPTS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown prompt pack {name!r}; known: {', '.join(pack_names())}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    pack = PromptPack.model_validate(raw)
    if pack.name != name:
        raise ValueError(f"prompt pack {path.name} names itself {pack.name!r}")
    return pack


def prompt_pack_hash(name: str) -> str:
    """sha256 of the canonical content of pack `name`."""
    return load_pack(name).hash


@cache
def packs_fingerprint() -> str:
    """One id for the whole set of packs in force: a decision set records it, so the Change
    Summary can say when the prompts changed between two versions."""
    import hashlib

    joined = "\n".join(f"{name}:{prompt_pack_hash(name)}" for name in pack_names())
    return "packs-" + hashlib.sha256(joined.encode()).hexdigest()[:16]
