"""A tiny HCL emitter for the generated parts of the Terraform (values, maps, blocks).

It writes exactly what `terraform fmt` would: two-space indents, and `=` aligned across
each run of consecutive single-line attributes (a multi-line value ends the run).
Static Terraform lives in template files; only the plan-dependent parts go through here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Raw:
    """An HCL expression written verbatim (a reference such as `local.tags`)."""

    expr: str


def string(value: object) -> str:
    """A quoted HCL string; `${` and `%{` are escaped so user text never interpolates."""
    text = json.dumps(str(value), ensure_ascii=False)
    return text.replace("${", "$${").replace("%{", "%%{")


def key(name: str) -> str:
    """A map key: bare when it is an identifier, quoted otherwise."""
    return name if _IDENT.match(name) else string(name)


def value(v: object, indent: int = 0) -> str:
    """One HCL value; maps and non-empty lists of maps span several lines."""
    if isinstance(v, Raw):
        return v.expr
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, Mapping):
        if not v:
            return "{}"
        inner = attributes([(str(k), v[k]) for k in v], indent + 2)
        return "{\n" + inner + " " * indent + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x, indent) for x in v) + "]"
    return string(v)


def attributes(items: Sequence[tuple[str, object]], indent: int) -> str:
    """Attribute lines aligned the way `terraform fmt` aligns them."""
    rendered = [(key(k), value(v, indent)) for k, v in items]
    lines: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(k) for k, _ in run), default=0)
        lines.extend(f"{' ' * indent}{k.ljust(width)} = {v}" for k, v in run)
        run.clear()

    for k, v in rendered:
        if "\n" in v:
            flush()
            lines.append(f"{' ' * indent}{k} = {v}")
        else:
            run.append((k, v))
    flush()
    return "".join(line + "\n" for line in lines)


@dataclass
class Block:
    """A block (`module "x" { ... }`): attribute groups separated by blank lines, then nested blocks."""

    kind: str
    labels: tuple[str, ...] = ()
    groups: list[list[tuple[str, object]]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    comment: str = ""

    def render(self, indent: int = 0) -> str:
        pad = " " * indent
        head = " ".join([self.kind, *(string(label) for label in self.labels)])
        parts = [attributes(g, indent + 2) for g in self.groups if g]
        parts += [b.render(indent + 2) for b in self.blocks]
        lead = "".join(f"{pad}# {line}\n" for line in self.comment.splitlines())
        if not parts:
            return f"{lead}{pad}{head} {{\n{pad}}}\n"
        return f"{lead}{pad}{head} {{\n" + "\n".join(parts) + f"{pad}}}\n"


def document(blocks: Iterable[Block | str]) -> str:
    """Top-level blocks (or verbatim text) separated by one blank line, as `terraform fmt` leaves them."""
    chunks = [b.render() if isinstance(b, Block) else b for b in blocks]
    return "\n".join(c if c.endswith("\n") else c + "\n" for c in chunks if c)
