"""Prompt and few-shot packs: versioned files, each referenced by the hash of its content.

A pack is a YAML file beside the node that asks with it (`services/<agent>/prompts/<name>.yaml`):
the system prompt, the tool that carries the structured answer, and worked examples.
`PromptPack.hash` is the sha256 of the pack's canonical JSON, so reformatting a file keeps its
hash and changing a word does not; the hash goes into every Reason Card the pack helped produce.

The set of packs in force is a `PackRegistry` over the prompt directories the composition root
names (every service's), so that a decision set can record one fingerprint for all of them and
the Change Summary can say when the prompts changed between two versions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ..canonical import canonical_json, sha256_hex


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


@cache
def load_pack(path: Path) -> PromptPack:
    """The pack in one file; its `name` must be the file's stem."""
    if not path.is_file():
        raise ValueError(f"no prompt pack at {path}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    pack = PromptPack.model_validate(raw)
    if pack.name != path.stem:
        raise ValueError(f"prompt pack {path.name} names itself {pack.name!r}")
    return pack


class PackRegistry:
    """The packs in force: every `*.yaml` of the given prompt directories, by name."""

    def __init__(self, dirs: Iterable[Path]) -> None:
        self.paths: dict[str, Path] = {}
        for d in dirs:
            for path in sorted(Path(d).glob("*.yaml")):
                if path.stem in self.paths:
                    raise ValueError(f"prompt pack {path.stem!r} is defined twice: {self.paths[path.stem]} and {path}")
                self.paths[path.stem] = path

    def names(self) -> list[str]:
        return sorted(self.paths)

    def get(self, name: str) -> PromptPack:
        if name not in self.paths:
            raise ValueError(f"unknown prompt pack {name!r}; known: {', '.join(self.names())}")
        return load_pack(self.paths[name])

    @cached_property
    def fingerprint(self) -> str:
        """One id for the whole set of packs in force (recorded on every decision set and card)."""
        joined = "\n".join(f"{name}:{self.get(name).hash}" for name in self.names())
        return "packs-" + hashlib.sha256(joined.encode()).hexdigest()[:16]
