"""The generated repository's software bill of materials (CycloneDX 1.6) and its vulnerability scan.

What a reviewer needs to know is which packages, at which versions, the repository was checked
with. The generated tests run on the validators' own interpreter (see `checks/pytest_run.py`),
so the versions are those installed there: each requirement of the generated `pyproject.toml`
(dependencies and every optional group) is resolved against the installed distributions, then
their own requirements, transitively. A requirement nothing installed satisfies is listed as
unresolved (a warning), never guessed.

The document is a pure function of the tree and of the installed versions: no timestamp, and a
serial number derived from its content, so regenerating a version commits the same file.

The vulnerability scan asks the OSV database (the one pip-audit's OSV service uses) about each
resolved package. The platform may run where that database is unreachable: then the scan is
`skipped: offline`, visibly. Known vulnerabilities are warnings, not failures: the database
changes every day, and a version must not flip from pass to fail without a change of its own;
the report and the Reason Card name them.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from importlib import metadata

import httpx
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .report import Finding, ToolResult

SBOM_PATH = "reports/sbom.cdx.json"
TOOL = "sbom"
VULN_TOOL = "osv-scan"
#: Nothing runs: package metadata and one TOML file are read.
ISOLATION = "in-process (reads pyproject.toml and installed package metadata; nothing executed)"
_NAMESPACE = uuid.UUID("9a4b7f0e-5d0c-4a57-9a59-2f1d3c6b8e01")


@dataclass
class Resolved:
    """The dependency closure of a generated repository on this interpreter."""

    project: str
    version: str
    direct: dict[str, str] = field(default_factory=dict)            # canonical name -> scope
    versions: dict[str, str] = field(default_factory=dict)          # canonical name -> installed version
    edges: dict[str, set[str]] = field(default_factory=dict)        # canonical name -> canonical names
    unresolved: dict[str, str] = field(default_factory=dict)        # requirement text -> why


def _installed(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": e}) for e in (extras or {""}))


def resolve(pyproject: str) -> Resolved:
    """The project's requirements resolved against the installed distributions, transitively."""
    doc = tomllib.loads(pyproject)
    project = doc.get("project") or {}
    out = Resolved(project=str(project.get("name") or "generated-repository"),
                   version=str(project.get("version") or "0"))
    groups: list[tuple[str, list[str]]] = [("required", list(project.get("dependencies") or []))]
    groups += [("optional", list(reqs or [])) for reqs in (project.get("optional-dependencies") or {}).values()]
    queue: list[tuple[Requirement, str | None]] = []
    for scope, texts in groups:
        for text in texts:
            try:
                req = Requirement(text)
            except InvalidRequirement as e:
                out.unresolved[text] = f"not a valid requirement ({e})"
                continue
            name = canonicalize_name(req.name)
            if out.direct.get(name) != "required":
                out.direct[name] = scope
            queue.append((req, None))
    while queue:
        req, parent = queue.pop()
        name = canonicalize_name(req.name)
        if parent is not None:
            out.edges.setdefault(parent, set()).add(name)
        if name in out.versions:
            continue
        dist = _installed(req.name)
        if dist is None:
            out.unresolved.setdefault(str(req), "not installed where the repository's tests ran")
            continue
        if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
            out.unresolved.setdefault(str(req), f"installed {dist.version} does not satisfy it")
        out.versions[name] = dist.version
        out.edges.setdefault(name, set())
        for text in dist.requires or []:
            try:
                sub = Requirement(text)
            except InvalidRequirement:
                continue
            if _applies(sub, set(req.extras)):
                queue.append((sub, name))
    return out


def _purl(name: str, version: str) -> PackageURL:
    return PackageURL(type="pypi", name=name, version=version)


def bom_json(resolved: Resolved) -> str:
    """The CycloneDX 1.6 JSON document (deterministic: no timestamp, a content-derived serial number)."""
    root = Component(name=resolved.project, version=resolved.version, type=ComponentType.APPLICATION,
                     bom_ref=resolved.project)
    components: dict[str, Component] = {}
    for name, version in sorted(resolved.versions.items()):
        purl = _purl(name, version)
        scope = ComponentScope.OPTIONAL if resolved.direct.get(name) == "optional" else ComponentScope.REQUIRED
        components[name] = Component(name=name, version=version, type=ComponentType.LIBRARY, purl=purl,
                                     bom_ref=purl.to_string(), scope=scope)
    digest = hashlib.sha256(json.dumps([resolved.project, resolved.version, sorted(resolved.versions.items()),
                                        sorted((k, sorted(v)) for k, v in resolved.edges.items())]).encode())
    bom = Bom(serial_number=uuid.uuid5(_NAMESPACE, digest.hexdigest()))
    bom.metadata.timestamp = None  # a committed file must not change when nothing else did
    bom.metadata.component = root
    for comp in components.values():
        bom.components.add(comp)
    bom.register_dependency(root, [components[n] for n in sorted(resolved.direct) if n in components])
    for name, deps in sorted(resolved.edges.items()):
        if name in components:
            bom.register_dependency(components[name], [components[d] for d in sorted(deps) if d in components])
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def sbom(files: dict[str, str]) -> tuple[str | None, ToolResult]:
    """(the SBOM document or None, its line in the validation report)."""
    started = time.perf_counter()
    version = f"cyclonedx-python-lib {metadata.version('cyclonedx-python-lib')}"
    text = files.get("pyproject.toml")
    if text is None:
        return None, ToolResult(tool=TOOL, version=version, status="skipped", isolation=ISOLATION,
                                reason="no pyproject.toml: the repository declares no Python dependencies")
    try:
        resolved = resolve(text)
    except (tomllib.TOMLDecodeError, TypeError, AttributeError) as e:
        return None, ToolResult(tool=TOOL, version=version, status="fail", isolation=ISOLATION, findings=[
            Finding(rule="pyproject-unreadable", path="pyproject.toml", message=f"cannot read its requirements: {e}")])
    findings = [Finding(rule="unresolved-requirement", path="pyproject.toml", severity="warning",
                        message=f"{req}: {why}; the SBOM cannot name its version") for req, why in
                sorted(resolved.unresolved.items())]
    findings.append(Finding(rule="sbom-written", path=SBOM_PATH, severity="note",
                            message=f"{len(resolved.versions)} packages ({len(resolved.direct)} direct), "
                                    "at the versions the repository was validated with"))
    return bom_json(resolved), ToolResult(tool=TOOL, version=version, status="pass", findings=findings,
                                          isolation=ISOLATION,
                                          duration_ms=int((time.perf_counter() - started) * 1000))


def osv_findings(answer: dict, packages: list[tuple[str, str]]) -> list[Finding]:
    """Findings from an OSV `querybatch` answer, in the order of the packages asked about."""
    out = []
    for (name, version), result in zip(packages, answer.get("results") or [], strict=False):
        for vuln in (result or {}).get("vulns") or []:
            out.append(Finding(rule=str(vuln.get("id", "vulnerability")), path=SBOM_PATH, severity="warning",
                               message=f"{name} {version} has a known vulnerability ({vuln.get('id')}); "
                                       "upgrade it where the repository's dependencies are pinned"))
    return out


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def _osv_client() -> httpx.Client:
    """The process's one client for the OSV database, made on first use and shared by every
    validation (an httpx client may be shared between threads): a new client per scan loaded the
    CA bundle into a fresh TLS context each time (18 to 30 ms of CPU) and opened a new connection,
    with its TLS handshake, to the database."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client()
        return _client


def osv_scan(document: str | None, osv_url: str, timeout_s: float = 5.0) -> ToolResult:
    """Ask OSV about every package of the SBOM; `skipped` when switched off or the database is unreachable."""
    if not osv_url:
        return ToolResult(tool=VULN_TOOL, status="skipped", reason="switched off (AMP_OSV_URL is empty)")
    if document is None:
        return ToolResult(tool=VULN_TOOL, status="skipped", reason="no SBOM to scan")
    started = time.perf_counter()
    packages = sorted((c["name"], c["version"]) for c in json.loads(document).get("components", []))
    queries = [{"package": {"name": n, "ecosystem": "PyPI"}, "version": v} for n, v in packages]
    try:
        r = _osv_client().post(f"{osv_url.rstrip('/')}/v1/querybatch", json={"queries": queries},
                               timeout=httpx.Timeout(timeout_s, connect=2.0))
        r.raise_for_status()
        answer = r.json()
    except (httpx.HTTPError, ValueError) as e:
        return ToolResult(tool=VULN_TOOL, status="skipped",
                          reason=f"offline: the OSV database at {osv_url} could not be reached ({type(e).__name__})")
    findings = osv_findings(answer if isinstance(answer, dict) else {}, packages)
    return ToolResult(tool=VULN_TOOL, version="OSV API v1", status="pass", findings=findings,
                      isolation="no code run: package names and versions sent to the OSV database",
                      duration_ms=int((time.perf_counter() - started) * 1000))
