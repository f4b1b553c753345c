"""The generated Terraform read back with python-hcl2: module calls, variables, outputs, resources, tfvars.

Shared by the module-interface check and the plan-conformance check. Only `infra/` of the tree is
read, and nothing is evaluated: expressions stay text (`var.x`, `module.y.z`), literals become
Python values. python-hcl2 keeps quotes around strings and block labels; they are stripped here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .hclparse import parse

INFRA = "infra/"
META_ARGS = frozenset({"source", "version", "for_each", "count", "providers", "depends_on"})
_EXPR = re.compile(r"^\$\{(.*)\}$", re.DOTALL)
_MODULE_DIR = re.compile(r"^infra/modules/([^/]+)/([^/]+\.tf)$")


def unquote(value: Any) -> Any:
    """A literal string without python-hcl2's quotes; other values unchanged."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def expression(value: Any) -> str | None:
    """The expression text of a `${...}` value, None for a literal."""
    if isinstance(value, str):
        m = _EXPR.match(value)
        if m:
            return m.group(1).strip()
    return None


def literal(value: Any) -> Any:
    """A literal value with strings unquoted, recursively; expressions stay `${...}` text."""
    if isinstance(value, dict):
        return {unquote(k): literal(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list):
        return [literal(v) for v in value]
    return unquote(value)


def blocks(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Single-label blocks of one kind (`module`, `variable`, `output`) by label."""
    out: dict[str, dict[str, Any]] = {}
    for block in doc.get(kind, []):
        for label, body in block.items():
            out[unquote(label)] = {unquote(k): v for k, v in body.items() if not str(k).startswith("__")}
    return out


def resources(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(type, name) of every `resource` block."""
    out = []
    for block in doc.get("resource", []):
        for rtype, named in block.items():
            for name in named:
                out.append((unquote(rtype), unquote(name)))
    return out


@dataclass
class Variable:
    type: str
    has_default: bool
    default: Any = None


@dataclass
class ModuleDir:
    name: str
    variables: dict[str, Variable] = field(default_factory=dict)
    outputs: set[str] = field(default_factory=set)
    resources: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""  # every .tf file of the module, to find `var.` references


@dataclass
class Infra:
    calls: dict[str, dict[str, Any]]
    root_variables: dict[str, Variable]
    modules: dict[str, ModuleDir]
    tfvars: dict[str, dict[str, Any]]
    errors: list[tuple[str, str]]
    #: Resource types of `infra/bootstrap` (account-wide, applied once: CI identities, image registry).
    bootstrap_types: set[str] = field(default_factory=set)


def variable_of(body: dict[str, Any]) -> Variable:
    raw = body.get("type", "any")
    type_ = expression(raw) or unquote(raw)
    return Variable(type=re.sub(r"\s+", "", str(type_)), has_default="default" in body,
                    default=literal(body.get("default")))


def read_infra(files: dict[str, str]) -> Infra:
    """The root module, every module directory and every environment's tfvars of `infra/`."""
    errors: list[tuple[str, str]] = []

    def load(path: str) -> dict[str, Any]:
        try:
            return parse(files[path])
        except Exception as exc:  # noqa: BLE001 - lark raises many types; the hcl2 check reports syntax
            errors.append((path, f"does not parse: {type(exc).__name__}"))
            return {}

    calls: dict[str, dict[str, Any]] = {}
    root_vars: dict[str, Variable] = {}
    modules: dict[str, ModuleDir] = {}
    tfvars: dict[str, dict[str, Any]] = {}
    bootstrap_types: set[str] = set()
    for path in sorted(files):
        if not path.startswith(INFRA):
            continue
        rel = path[len(INFRA):]
        if path.endswith(".tf") and "/" not in rel:
            doc = load(path)
            calls.update(blocks(doc, "module"))
            root_vars.update({k: variable_of(v) for k, v in blocks(doc, "variable").items()})
        elif (m := _MODULE_DIR.match(path)) is not None:
            mod = modules.setdefault(m.group(1), ModuleDir(m.group(1)))
            doc = load(path)
            mod.variables.update({k: variable_of(v) for k, v in blocks(doc, "variable").items()})
            mod.outputs.update(blocks(doc, "output"))
            mod.resources.extend(resources(doc))
            mod.text += files[path] + "\n"
        elif rel.startswith("environments/") and rel.endswith(".tfvars"):
            env = rel.removeprefix("environments/").removesuffix(".tfvars")
            tfvars[env] = literal(load(path))
        elif rel.startswith("bootstrap/") and rel.count("/") == 1 and path.endswith(".tf"):
            bootstrap_types.update(t for t, _ in resources(load(path)))
    return Infra(calls=calls, root_variables=root_vars, modules=modules, tfvars=tfvars, errors=errors,
                 bootstrap_types=bootstrap_types)


def module_dir(call: dict[str, Any]) -> str | None:
    source = unquote(call.get("source", ""))
    return source.removeprefix("./modules/") if isinstance(source, str) and source.startswith("./modules/") else None
