"""`terraform init -backend=false`, `validate` and `test` (mocked providers) over each root of the
generated `infra/`: the environments' stack and `infra/bootstrap/`, applied first and on its own.

Needs the Terraform CLI and the plan's provider in a local filesystem mirror (no registry access):
`AMP_TERRAFORM` (default: `terraform` on PATH) and `AMP_TF_PLUGIN_MIRROR` (default /opt/tf-plugins,
laid out as registry.terraform.io/<namespace>/<name>/<version>/<os_arch>). A provider the mirror lacks
may stand in from its exported schema under `AMP_TF_PROVIDER_SCHEMAS` (default /opt/tf-schemas, see
`schema_provider`): Terraform's own checks and the plan tests run, the provider's own do not, and
the report's version names the schema. Where neither is there the check is `skipped` with the
reason, never passed. The tree's Terraform is copied to a writable
scratch directory under the sandbox's home (init writes `.terraform/` there) and runs under the
sandbox's limits; the providers are mocked by the tests, so nothing reaches a cloud.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable
from concurrent import futures
from pathlib import Path

from ..report import Finding, ToolResult
from ..sandbox import RunResult, run_limited
from . import schema_cut, schema_provider
from . import terraform_providers as providers
from .base import CheckContext, skipped, status_for
from .verdicts import Verdicts, binary_key, content_key, remembered

TOOL = "terraform-validate"
log = logging.getLogger("amp.validators.terraform")
DEFAULT_MIRROR = "/opt/tf-plugins"
#: Exported provider schemas (`schema_provider`), for a provider whose build the mirror lacks.
DEFAULT_SCHEMAS = "/opt/tf-schemas"
#: Terraform and its provider plugin are large Go programs: more address space than the default limit.
MEMORY_MB = 6144
_SOURCE = re.compile(r'source\s*=\s*"([a-z0-9-]+)/([a-z0-9-]+)"')
#: `local = { source = "ns/name" ... }` inside a required_providers block.
_REQUIRED = re.compile(r'\b([a-z0-9_-]+)\s*=\s*\{\s*source\s*=\s*"(?:registry\.terraform\.io/)?([a-z0-9-]+)/([a-z0-9-]+)"')
_TYPED_BLOCK = re.compile(r'^\s*(?:resource|data|ephemeral)\s+"([a-z0-9]+)_[a-z0-9_]+"', re.MULTILINE)
_COMMENT = re.compile(r"(?m)^\s*(?:#|//).*$")
#: Resource type prefixes Terraform provides itself (`terraform_data`, `terraform_remote_state`).
_BUILTIN = frozenset({"terraform"})
#: Go's collector for Terraform and the providers it starts. Reading a large provider's schema
#: allocates heavily; collecting at 5x the live heap instead of 2x cut the CPU of
#: `terraform test` on a generated AWS tree by a third (4.2 -> 2.9 s) for ~7% more peak memory
#: (615 -> 660 MB), well inside MEMORY_MB.
GO_ENV = {"GOGC": "400"}
#: The `hashes` list of a lock file entry (see `_unhashed_lock`).
_LOCK_HASHES = re.compile(r"\n[ \t]*hashes[ \t]*=[ \t]*\[[^\]]*\]")
_VERSION_LINE = re.compile(r"Terraform v([0-9][0-9A-Za-z.+-]*)")
#: Passing verdicts by the Terraform they judged (see `verdicts`).
VERDICTS = Verdicts()


def _provider(files: dict[str, str]) -> tuple[str, str] | None:
    m = _SOURCE.search(files.get("infra/versions.tf", ""))
    return (m.group(1), m.group(2)) if m else None


def _required_providers(files: dict[str, str], root: str = "infra/") -> list[tuple[str, str]]:
    """Every provider `terraform init` in a root installs: those its configuration and modules
    declare in `required_providers`, and those implied by a resource or data source type no
    declaration names (a `random_id` needs hashicorp/random). `infra/bootstrap/` is its own root."""
    texts = [_COMMENT.sub("", t) for p, t in sorted(files.items())
             if p.startswith(root) and p.endswith(".tf") and (root != "infra/" or not p.startswith("infra/bootstrap/"))]
    declared: dict[str, tuple[str, str]] = {}
    for text in texts:
        for local, namespace, name in _REQUIRED.findall(text):
            if local != "source":
                declared.setdefault(local, (namespace, name))
    needed = dict.fromkeys(declared.values())
    for text in texts:
        for prefix in _TYPED_BLOCK.findall(text):
            if prefix not in _BUILTIN:
                needed.setdefault(declared.get(prefix, ("hashicorp", prefix)))
    return list(needed)


def terraform_binary() -> str | None:
    configured = os.environ.get("AMP_TERRAFORM")
    if configured:
        return configured if Path(configured).is_file() else None
    return shutil.which("terraform") or (
        "/usr/local/bin/terraform" if Path("/usr/local/bin/terraform").is_file() else None)


_versions: dict[tuple[str, int, int, int], str] = {}
_versions_lock = threading.Lock()


def terraform_version(terraform: str, run: Callable[..., RunResult]) -> str:
    """`terraform version` of this binary, asked once per binary (a replaced binary is asked again)."""
    key = binary_key(terraform)
    with _versions_lock:
        if key in _versions:
            return _versions[key]
    m = _VERSION_LINE.search(run("version", "-no-color").stdout)
    version = m.group(1) if m else ""
    if version:
        with _versions_lock:
            _versions[key] = version
    return version


def _test_version(output: str) -> str:
    """The version `terraform test -json` announces in its first message, or ""."""
    for line in output.splitlines()[:5]:
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(msg, dict) and msg.get("type") == "version" and isinstance(msg.get("terraform"), str):
            return msg["terraform"]
    return ""


def _unhashed_lock(workdir: Path) -> None:
    """Drop the provider checksums from the lock file init has just written in the scratch copy.

    Every later command re-hashes each locked provider package against them (the AWS provider is
    ~700 MB: half a second of CPU each time) before doing anything. Here the checksums prove
    nothing: init computed them moments earlier from the same read-only mirror, and the tree's own
    lock file is never copied in. Terraform checks checksums only where the lock file has some.
    """
    lock = workdir / ".terraform.lock.hcl"
    try:
        text = lock.read_text()
    except OSError:
        return
    lock.write_text(_LOCK_HASHES.sub("", text))


#: What Terraform says of the provider calls it stops waiting for once another error ends a run:
#: about the run, not the tree. A provider that answers slower than its build (the stand-in)
#: still has calls in flight then.
_CANCELLED = "Request cancelled"


def _without_cancelled(diagnostics: list[dict]) -> list[dict]:
    """The diagnostics, less the cancelled calls where another diagnostic says why the run stopped."""
    kept = [d for d in diagnostics if d.get("summary") != _CANCELLED]
    return kept or diagnostics


def _diagnostics(stdout: str, rel: str) -> list[Finding]:
    try:
        doc = json.loads(stdout)
    except json.JSONDecodeError:
        return []
    out = []
    for d in _without_cancelled(doc.get("diagnostics", [])):
        rng = d.get("range") or {}
        line = (rng.get("start") or {}).get("line")
        out.append(Finding(rule="terraform-validate", path=f"{rel}/{rng['filename']}" if rng.get("filename") else rel,
                           line=line if isinstance(line, int) and line > 0 else None,
                           severity="error" if d.get("severity") == "error" else "warning",
                           message=f"{d.get('summary', '')}: {d.get('detail', '')}".strip(": ")[:800]))
    return out


def _test_failures(output: str) -> list[Finding]:
    """One finding per failed run of `terraform test -json`, saying why (Terraform's own diagnostics:
    a failed assertion's error_message, a missing variable, a provider error)."""
    failed: dict[str, list[str]] = {}
    loose: list[str] = []
    for line in output.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(msg, dict):
            continue
        run_name = msg.get("@testrun")
        if msg.get("type") == "test_run" and (msg.get("test_run") or {}).get("status") in ("fail", "error"):
            failed.setdefault(run_name or "?", [])
        elif msg.get("type") == "diagnostic" and (msg.get("diagnostic") or {}).get("severity") == "error":
            d = msg["diagnostic"]
            why = f"{d.get('summary', '')}: {d.get('detail', '')}".strip(": ")
            (failed.setdefault(run_name, []) if run_name else loose).append(why)
    cancelled = f"{_CANCELLED}:"
    failed = {name: [w for w in whys if not w.startswith(cancelled)] or whys for name, whys in failed.items()}
    loose = [w for w in loose if not w.startswith(cancelled)] or loose
    findings = [Finding(rule="terraform-test", path="infra/tests",
                        message=f"run {name} failed: "
                                f"{'; '.join(dict.fromkeys(whys)) or 'the plan does not show what the approved plan says'}"[:800])
                for name, whys in failed.items()]
    if not findings and loose:
        findings.append(Finding(rule="terraform-test", path="infra/tests", message="; ".join(loose)[:800]))
    return findings


def _scratch(ctx: CheckContext, name: str) -> Path:
    """A writable copy of the tree's `infra/` under the sandbox's home (init writes `.terraform/` there)."""
    work = ctx.sandbox.home / name
    shutil.copytree(ctx.sandbox.root / "infra", work / "infra", ignore=shutil.ignore_patterns(".terraform*"))
    return work / "infra"


def _cli_config(ctx: CheckContext, name: str, mirror: Path) -> Path:
    """A CLI config of this run's own (terraform-fmt, running in parallel, writes an empty one of its own)."""
    rc = ctx.sandbox.home / f"{name}.tfrc"
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
    return rc


def _runner(ctx: CheckContext, terraform: str, cwd: Path, rc: Path, *, readonly: list[Path],
            env: dict[str, str] | None = None) -> Callable[..., RunResult]:
    full_env = {"TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", **GO_ENV,
                **(env or {})}

    def run(*args: str) -> RunResult:
        return run_limited([terraform, *args], cwd=cwd, home=ctx.sandbox.home, timeout_s=ctx.timeout_s,
                           memory_mb=MEMORY_MB, env=full_env, readonly=[*readonly, Path(terraform).parent],
                           writable=[cwd.parent])
    return run


def _roots(cwd: Path) -> list[tuple[Path, str]]:
    """Each root module of a tree: the environments' stack (`infra/`) and the account-wide
    bootstrap (`infra/bootstrap/`, applied first and on its own), with the path findings name it by."""
    roots = [(cwd, "infra")]
    if any((cwd / "bootstrap").glob("*.tf")):
        roots.append((cwd / "bootstrap", "infra/bootstrap"))
    return roots


def _warm_run(ctx: CheckContext, terraform: str, mirror: Path, builds: list[Path]) -> ToolResult | None:
    """The passing verdict from warm providers (`terraform_providers`), or None to take the cold path.

    Only a pass is taken from here: any failure (init, a provider that does not start, a failed
    test) is judged again by the cold path, whose findings are the report's. So the warm path can
    make a passing tree faster, never a different verdict.
    """
    if os.environ.get("AMP_TF_WARM_PROVIDERS", "1").lower() in ("0", "false", "off", "no"):
        return None
    stub = providers.stub_mirror(mirror, builds)
    cwd = _scratch(ctx, "terraform-warm")
    rc = _cli_config(ctx, "terraform-warm", stub)
    roots = _roots(cwd)
    with futures.ThreadPoolExecutor(max_workers=len(roots), thread_name_prefix="amp-tf-root") as pool:
        # the bootstrap's small run beside the stack's tests, on the same warm providers
        results = list(pool.map(lambda root: _warm_root(ctx, terraform, mirror, stub, rc, root[0]), roots))
    passed = [result for result in results if result is not None]
    if len(passed) != len(results):
        return None
    first = passed[0]
    has_tests = (cwd / "tests").is_dir()
    number = (_test_version(first.stdout) if has_tests else "") or terraform_version(
        terraform, _runner(ctx, terraform, cwd, rc, readonly=[stub]))
    return ToolResult(tool=TOOL, version=f"terraform {number}" if number else "", status="pass", findings=[],
                      isolation=first.isolation or "limits only (time, memory, CPU; no sandbox on this host)")


def _warm_root(ctx: CheckContext, terraform: str, mirror: Path, stub: Path, rc: Path, cwd: Path) -> RunResult | None:
    """One root's passing `terraform test` (or `validate`, where it has no tests) on warm providers, else None."""
    init = _runner(ctx, terraform, cwd, rc, readonly=[stub])("init", "-backend=false", "-input=false", "-no-color")
    if init.timed_out or init.returncode != 0:
        return None
    try:
        locked = providers.locked_providers((cwd / ".terraform.lock.hcl").read_text())
    except OSError:
        return None
    attached: list[tuple[str, dict, providers.WarmProvider]] = []
    for address, version in locked:
        binary = providers.provider_binary(mirror, address, version)
        if binary is None:
            return None
        warm = providers.warm_provider(binary, memory_mb=MEMORY_MB, env=GO_ENV)
        try:
            served, entry = warm.attach()
        except providers.ProviderGone as exc:
            log.warning("warm provider unavailable, validating cold: %s", exc)
            return None
        if served != address:
            return None
        attached.append((address, entry, warm))
    # lazy: gRPC is loaded by the first warm run, not by an idle validators process (9 MiB)
    from .schema_relay import cut_relay

    texts = [text for path, text in ctx.sandbox.files.items() if path.startswith("infra/")]
    with contextlib.ExitStack() as relays:
        entries: dict[str, dict] = {}
        sockets: list[Path] = []
        for address, entry, warm in attached:  # each run reads the schema of what it names (`schema_cut`)
            named = schema_cut.named_types(address.rsplit("/", 1)[-1], texts)
            entries[address] = entry
            sockets.append(warm.sockets)
            try:
                entries[address], relay_dir = relays.enter_context(cut_relay(entry, named, warm.schemas))
                sockets.append(relay_dir)
            except (OSError, ValueError) as exc:
                log.warning("no schema relay (%s): the run reads the provider's whole schema", exc)
        run = _runner(ctx, terraform, cwd, rc, readonly=[stub, *sockets],
                      env={"TF_REATTACH_PROVIDERS": providers.reattach_env(entries)})
        result = run("test", "-no-color", "-json") if (cwd / "tests").is_dir() else run("validate", "-json", "-no-color")
    return None if result.timed_out or result.returncode != 0 else result


def check_validate(ctx: CheckContext) -> ToolResult:
    files = ctx.sandbox.files
    if "infra/versions.tf" not in files:
        return skipped(TOOL, "no infra/versions.tf in the tree")
    terraform = terraform_binary()
    if terraform is None:
        return skipped(TOOL, "the Terraform CLI is not installed on this host")
    provider = _provider(files)
    if provider is None:
        return skipped(TOOL, "infra/versions.tf names no provider source")
    mirror = Path(os.environ.get("AMP_TF_PLUGIN_MIRROR", DEFAULT_MIRROR))
    # init must never reach a registry: every provider the configuration needs is in the mirror, or skip.
    wanted = list(dict.fromkeys([provider, *_required_providers(files), *_required_providers(files, "infra/bootstrap/")]))
    missing = [f"{ns}/{name}" for ns, name in wanted if not (mirror / "registry.terraform.io" / ns / name).is_dir()]
    if missing:
        schemas_dir = Path(os.environ.get("AMP_TF_PROVIDER_SCHEMAS", DEFAULT_SCHEMAS))
        schemas = schema_provider.schema_files(schemas_dir)
        needed = [f"{providers.HOST}/{ns}/{name}" for ns, name in wanted]
        if all(address in schemas for address in needed):
            offered = {address: schemas[address] for address in needed}
            files_of = [binary_key(str(path)) for versions in offered.values() for path in versions.values()]
            return remembered(VERDICTS, _verdict_key(files, terraform, schemas_dir, _schema_builds(offered), files_of),
                              lambda: _schema_run(ctx, terraform, schemas_dir, offered), keep={"pass"})
        return skipped(TOOL, f"provider {', '.join(missing)} is not available offline "
                             f"(no filesystem mirror at {mirror}, no exported schema under {schemas_dir})")
    builds = providers.mirror_builds(mirror)
    # Only a pass is kept: a failure may be the host's (an init that could not read the mirror).
    return remembered(VERDICTS, _verdict_key(files, terraform, mirror, builds),
                      lambda: _warm_run(ctx, terraform, mirror, builds) or _cold_run(ctx, terraform, mirror),
                      keep={"pass"})


def _verdict_key(files: dict[str, str], terraform: str, mirror: Path, builds: list[Path],
                 schemas: list[tuple[str, int, int, int]] | None = None) -> str:
    """What a verdict rests on: the Terraform binary, the providers the mirror offers (or the
    exported schemas standing in for them), every file of infra/."""
    infra = {p: t for p, t in files.items()
             if p.startswith("infra/") and not any(part.startswith(".terraform") for part in p.split("/"))}
    tool = f"{TOOL} {binary_key(terraform)} {mirror} {[str(b) for b in builds]} {schemas or ''}"
    return content_key(tool, infra)


def _cold_run(ctx: CheckContext, terraform: str, mirror: Path) -> ToolResult:
    """init, test and (on failure, for its precise diagnostics) validate, each starting the providers."""
    cwd = _scratch(ctx, "terraform")
    rc = _cli_config(ctx, "terraform-validate", mirror)
    verdicts = []
    for root, rel in _roots(cwd):
        run = _runner(ctx, terraform, root, rc, readonly=[mirror])
        init = run("init", "-backend=false", "-input=false", "-no-color")
        if init.timed_out or init.returncode != 0:
            verdicts.append(_init_failed(init, rel))
            continue
        _unhashed_lock(root)
        verdicts.append(_judged(terraform, run, root, init.isolation, rel=rel))
    return _merged(verdicts)


def _init_failed(init: RunResult, rel: str) -> ToolResult:
    detail = (init.stderr or init.stdout).strip()[-800:]
    return ToolResult(tool=TOOL, status="fail", findings=[Finding(rule="terraform-init", path=rel,
                      message=detail or f"terraform init exited {init.returncode}")], isolation=init.isolation)


def _merged(verdicts: list[ToolResult]) -> ToolResult:
    """One result for the tree from its roots' (the stack's first)."""
    findings = [f for v in verdicts for f in v.findings]
    return ToolResult(tool=TOOL, version=next((v.version for v in verdicts if v.version), ""),
                      status=status_for(findings), findings=findings,
                      isolation=next((v.isolation for v in verdicts if v.isolation),
                                     "limits only (time, memory, CPU; no sandbox on this host)"))


def _judged(terraform: str, run: Callable[..., RunResult], cwd: Path, isolation: str,
            against: str = "", rel: str = "infra") -> ToolResult:
    """The verdict of an initialised root: its tests, and `validate` to say what is wrong."""
    # Each command that loads the provider costs seconds of CPU (the AWS provider's schema alone).
    # `terraform test` validates the whole configuration before its runs, so a passing test is a
    # passing validate too; `validate` runs on its own only where there are no tests, or to say
    # precisely what is wrong once the tests have failed.
    test = run("test", "-no-color", "-json") if (cwd / "tests").is_dir() else None
    findings: list[Finding] = []
    if test is None or test.timed_out or test.returncode != 0:
        validate = run("validate", "-json", "-no-color")
        findings = _diagnostics(validate.stdout, rel)
        if validate.returncode != 0 and not any(f.severity == "error" for f in findings):
            findings.append(Finding(rule="terraform-validate", path=rel,
                                    message=(validate.stderr or validate.stdout).strip()[-800:] or "validate failed"))
        if validate.returncode == 0 and test is not None:
            findings += _test_failures(test.stdout + test.stderr) or [Finding(
                rule="terraform-test", path=f"{rel}/tests",
                message=(test.stderr or test.stdout).strip()[-800:] or f"terraform test exited {test.returncode}")]
    number = (_test_version(test.stdout) if test is not None else "") or terraform_version(terraform, run)
    version = f"terraform {number}{against}" if number else against.strip()
    return ToolResult(tool=TOOL, version=version, status=status_for(findings), findings=findings,
                      isolation=isolation or "limits only (time, memory, CPU; no sandbox on this host)")


def _schema_builds(offered: dict[str, dict[str, Path]]) -> list[Path]:
    """The mirror-layout paths of the provider versions the exported schemas offer (for a stub mirror)."""
    return [Path(address) / version / providers.os_arch() / f"terraform-provider-{address.rsplit('/', 1)[-1]}_v{version}"
            for address, versions in sorted(offered.items()) for version in sorted(versions)]


def _schema_run(ctx: CheckContext, terraform: str, schemas_dir: Path, offered: dict[str, dict[str, Path]]) -> ToolResult:
    """Each root: init against the versions the schemas offer, then the cold path's verdict with each
    provider standing in from its schema (`schema_provider`); cut to the types the tree names, and
    judged again against the whole schema when that fails, as the warm path is."""
    stub = providers.stub_mirror(schemas_dir, _schema_builds(offered))
    cwd = _scratch(ctx, "terraform-schema")
    rc = _cli_config(ctx, "terraform-schema", stub)
    texts = [text for path, text in ctx.sandbox.files.items() if path.startswith("infra/")]
    verdicts = []
    for root, rel in _roots(cwd):
        init = _runner(ctx, terraform, root, rc, readonly=[stub])("init", "-backend=false", "-input=false", "-no-color")
        if init.timed_out or init.returncode != 0:
            verdicts.append(_init_failed(init, rel))
            continue
        locked = providers.locked_providers((root / ".terraform.lock.hcl").read_text())
        try:
            answers = {address: schema_provider.load_answer(offered[address][version], address)
                       for address, version in locked}
        except schema_provider.SchemaError as exc:  # the operator's file: say so, as for a missing provider
            return skipped(TOOL, f"an exported provider schema under {schemas_dir} is not usable: {exc}")
        against = " against the exported schema of " + ", ".join(
            f"{address.removeprefix(providers.HOST + '/')} {version}" for address, version in locked)
        verdict = _standing_in(ctx, terraform, root, rc, [stub], answers, texts, init.isolation, against, rel, cut=True)
        if verdict.status != "pass":
            verdict = _standing_in(ctx, terraform, root, rc, [stub], answers, texts, init.isolation, against, rel,
                                   cut=False)
        verdicts.append(verdict)
    return _merged(verdicts)


def _standing_in(ctx: CheckContext, terraform: str, root: Path, rc: Path, readonly: list[Path],
                 answers: dict[str, bytes], texts: list[str], isolation: str, against: str, rel: str,
                 *, cut: bool) -> ToolResult:
    """One root's verdict with each provider (address -> schema answer) served by a stand-in."""
    with contextlib.ExitStack() as stack:
        entries: dict[str, dict] = {}
        sockets: list[Path] = []
        for address, answer in answers.items():
            keep = schema_cut.named_types(address.rsplit("/", 1)[-1], texts) if cut else None
            entries[address], directory = stack.enter_context(schema_provider.serve(answer, keep))
            sockets.append(directory)
        run = _runner(ctx, terraform, root, rc, readonly=[*readonly, *sockets],
                      env={"TF_REATTACH_PROVIDERS": providers.reattach_env(entries)})
        return _judged(terraform, run, root, isolation, against, rel=rel)
