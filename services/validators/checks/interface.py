"""Module interface of the generated Terraform: every call matches the module it calls. Pure Python.

For each `module` block of `infra/`: every argument passed is a variable the module declares, every
variable without a default is passed, a literal's type agrees with the declared type, a `var.`
reference names a root variable of an agreeing type (or a field of a typed object), and a
`module.x.y` reference names an output module x declares. It needs no provider and no Terraform,
so it runs for every cloud, where `terraform validate` can only run for providers available offline.
"""

from __future__ import annotations

import re
from typing import Any

from ..report import Finding, ToolResult
from .base import CheckContext, dist_version, skipped, status_for
from .tfmodel import META_ARGS, Infra, expression, module_dir, read_infra

TOOL = "tf-interface"
_MODULE_REF = re.compile(r"^module\.([a-z0-9_]+)(?:\[[^\]]*\])?\.([a-z0-9_]+)$")
_VAR_REF = re.compile(r"^var\.([a-z0-9_]+)(?:\.([a-z0-9_]+))?$")
_OBJECT_FIELD = re.compile(r"([a-z0-9_]+)=([a-z]+(?:\([^()]*\))?)")


def _kind(type_: str) -> str:
    """The family of an HCL type constraint: number, string, bool, list, map or any."""
    t = type_.replace(" ", "")
    for prefix, kind in (("list(", "list"), ("set(", "list"), ("tuple(", "list"), ("map(", "map"),
                         ("object(", "map")):
        if t.startswith(prefix):
            return kind
    return t if t in ("number", "string", "bool") else "any"


def _literal_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return "string"


def _agree(declared: str, actual: str) -> bool:
    d = _kind(declared)
    if "any" in (d, actual):
        return True
    return d == actual or (d == "string" and actual == "number")  # Terraform converts a number to a string


def _object_fields(type_: str) -> dict[str, str]:
    return dict(_OBJECT_FIELD.findall(type_.replace(" ", ""))) if type_.replace(" ", "").startswith("object(") else {}


def check_calls(infra: Infra) -> list[Finding]:
    findings: list[Finding] = []
    for name, call in sorted(infra.calls.items()):
        where = "infra/main.tf"
        target = module_dir(call)
        module = infra.modules.get(target or "")
        if module is None:
            findings.append(Finding(rule="module-source-missing", path=where,
                                    message=f"module {name}: source {call.get('source')!r} is not a module of infra/modules"))
            continue
        args = {k: v for k, v in call.items() if k not in META_ARGS}
        for arg, value in sorted(args.items()):
            declared = module.variables.get(arg)
            if declared is None:
                findings.append(Finding(rule="undeclared-argument", path=where,
                                        message=f"module {name} passes {arg!r}, which modules/{target} does not declare"))
                continue
            findings.extend(_type_findings(infra, name, arg, declared.type, value, where))
        for var, declared in sorted(module.variables.items()):
            if not declared.has_default and var not in args:
                findings.append(Finding(rule="required-variable-not-passed", path=where,
                                        message=f"module {name} does not pass {var!r}, which modules/{target} requires"))
    return findings


def _type_findings(infra: Infra, name: str, arg: str, declared: str, value: Any, where: str) -> list[Finding]:
    expr = expression(value)
    if expr is None:
        actual = _literal_kind(value)
        if not _agree(declared, actual):
            return [Finding(rule="type-mismatch", path=where,
                            message=f"module {name}: {arg} is a {actual} literal, the variable is {declared}")]
        return []
    if (m := _MODULE_REF.match(expr)) is not None:
        source = infra.calls.get(m.group(1))
        target = infra.modules.get(module_dir(source) or "") if source else None
        if target is None:
            return [Finding(rule="unknown-module-reference", path=where,
                            message=f"module {name}: {arg} reads module.{m.group(1)}, which the root does not call")]
        if m.group(2) not in target.outputs:
            return [Finding(rule="unknown-module-output", path=where,
                            message=f"module {name}: {arg} reads output {m.group(2)!r}, "
                                    f"which modules/{target.name} does not declare")]
        return []
    if (m := _VAR_REF.match(expr)) is not None:
        root = infra.root_variables.get(m.group(1))
        if root is None:
            return [Finding(rule="unknown-root-variable", path=where,
                            message=f"module {name}: {arg} reads var.{m.group(1)}, which the root does not declare")]
        actual_type = root.type
        if m.group(2):
            fields = _object_fields(root.type)
            if m.group(2) not in fields:
                return [Finding(rule="unknown-object-field", path=where,
                                message=f"module {name}: {arg} reads var.{m.group(1)}.{m.group(2)}, "
                                        f"not a field of {root.type}")]
            actual_type = fields[m.group(2)]
        if _kind(actual_type) != "any" and not _agree(declared, _kind(actual_type)):
            return [Finding(rule="type-mismatch", path=where,
                            message=f"module {name}: {arg} gets {actual_type}, the variable is {declared}")]
    return []


def check_interface(ctx: CheckContext) -> ToolResult:
    files = {p: t for p, t in ctx.sandbox.files.items() if p.startswith("infra/")}
    version = dist_version("python-hcl2")
    if not any(p.endswith(".tf") for p in files):
        return skipped(TOOL, "no Terraform under infra/", version)
    infra = read_infra(files)
    if not infra.calls:
        return skipped(TOOL, "the root module calls no modules", version)
    findings = [Finding(rule="hcl-parse-error", path=p, message=m) for p, m in infra.errors]
    findings += check_calls(infra)
    return ToolResult(tool=TOOL, version=version, status=status_for(findings), findings=findings)
