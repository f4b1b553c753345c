"""Kubernetes manifests against the API's own schemas, strictly (no field the API does not know).

A manifest the API server would refuse fails the deploy job, after the infrastructure was applied;
so every YAML document outside `.github/` with an `apiVersion` and a `kind` is validated here
against the OpenAPI schemas of Kubernetes `KUBERNETES_VERSION` (kubernetes-validate, in-process,
nothing executed). Manifests the deploy workflow fills in (`${NAME}`, as `envsubst` reads it) are
validated with the values of the `example.env` beside them; a value with no example is a finding,
since it could hide any type. A kind the schemas do not hold (a custom resource) is a warning.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import yaml

from ..report import Finding, ToolResult
from .base import YAML_LOADER, CheckContext, dist_version, skipped, status_for

TOOL = "kubernetes"
#: The oldest minor version the three managed services still support in standard support.
KUBERNETES_VERSION = "1.30"
EXAMPLES = "example.env"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def examples(text: str) -> dict[str, str]:
    """`KEY=value` lines (a value may be single- or double-quoted); comments and blanks ignored."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if m := _ENV_LINE.match(line.strip()):
            value = m.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            out[m.group(1)] = value
    return out


def _manifest_paths(files: dict[str, str]) -> list[str]:
    return sorted(p for p, text in files.items() if p.endswith((".yaml", ".yml")) and not p.startswith(".github/")
                  and re.search(r"^apiVersion:", text, re.MULTILINE) and re.search(r"^kind:", text, re.MULTILINE))


def manifest_findings(path: str, text: str, values: dict[str, str]) -> list[Finding]:
    # lazy: the schemas' library is loaded only for a tree that has manifests
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError

    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - set(values))
    if missing:
        return [Finding(rule="value-without-example", path=path,
                        message=f"{', '.join(missing)} filled in at deploy time, with no value in {EXAMPLES} beside "
                                "it: the manifest cannot be checked as it will be applied")]
    filled = _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
    try:
        documents = list(yaml.load_all(filled, Loader=YAML_LOADER))  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [Finding(rule="yaml-syntax", path=path, line=mark.line + 1 if mark else None,
                        message=str(exc).splitlines()[0])]
    findings = []
    for n, doc in enumerate(documents, start=1):
        if not doc:
            continue
        if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
            findings.append(Finding(rule="not-a-resource", path=path,
                                    message=f"document {n} has no apiVersion and kind"))
            continue
        what = f"{doc['kind']} {(doc.get('metadata') or {}).get('name', '')}".strip()
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except SchemaNotFoundError:
            findings.append(Finding(rule="no-schema", path=path, severity="warning",
                                    message=f"{what} ({doc['apiVersion']}): no schema in Kubernetes "
                                            f"{KUBERNETES_VERSION} (a custom resource?); not checked"))
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "(document)"
            findings.append(Finding(rule="schema", path=path,
                                    message=f"{what}: {where}: {exc.message}"))
    return findings


def check_manifests(ctx: CheckContext) -> ToolResult:
    files = ctx.sandbox.files
    paths = _manifest_paths(files)
    version = dist_version("kubernetes-validate")
    if not paths:
        return skipped(TOOL, "no Kubernetes manifests in the tree", version)
    findings: list[Finding] = []
    for path in paths:
        parent = PurePosixPath(path).parent
        env = EXAMPLES if str(parent) == "." else str(parent / EXAMPLES)
        findings += manifest_findings(path, files[path], examples(files.get(env, "")))
    return ToolResult(tool=TOOL, version=f"kubernetes-validate {version}, Kubernetes {KUBERNETES_VERSION} schemas",
                      status=status_for(findings), findings=findings)
