"""Names the workflows use against the names Terraform creates: a deploy that cannot find its role,
image repository, output or variable fails on its first run, though every file is valid alone.

Parsed, in-process, nothing executed:
- every `terraform output NAME` a workflow reads is an output of `infra/outputs.tf`;
- every `-var NAME=` is a variable of `infra/variables.tf`, every variable without a default is
  passed by every `terraform plan`, every `-var-file` exists;
- every identity (role, service account), image repository and state bucket a workflow names is
  one `infra/bootstrap` creates (its strings, with `var.*` defaults and the environments expanded);
- OIDC trust matches the jobs: a job in GitHub environment E uses an identity of E, which trusts
  `environment:E` and never a pull request; a job outside any environment uses a plan identity,
  which trusts exactly the workflow's triggers (pull requests, pushes to main).
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import product

import yaml

from ..report import Finding, ToolResult
from .base import YAML_LOADER, CheckContext, dist_version, skipped, status_for
from .hclparse import parse as _parse

TOOL = "names"
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_OUTPUT_READ = re.compile(r"terraform(?: -chdir=infra)? output (?:-raw |-json )?([a-z0-9_]+)")
_VAR_FLAG = re.compile(r'-var[ =]"?([A-Za-z0-9_]+)=')
_PLAN_COMMAND = re.compile(r"^\s*(?:run:\s*)?terraform(?: -chdir=\S+)? plan\s")
_VAR_FILE = re.compile(r"-var-file=([\w./-]+)")
#: A top-level assignment in a .tfvars file (nested map keys are indented).
_TFVARS_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*=", re.MULTILINE)
_VARIABLE_BLOCK = re.compile(r'^variable "[^"]+" \{\n(?:.*\n)*?\}\n', re.MULTILINE)
_ROOT_OUTPUT = re.compile(r'^output "([a-z0-9_]+)"', re.MULTILINE)
_BLOCK_HEAD = re.compile(r'^(resource|data|locals)\s*(?:"([a-z0-9_]+)"\s*"([a-z0-9_]+)")?\s*\{', re.MULTILINE)
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_INTERP = re.compile(r"\$\{([^}]+)\}")
_SUBJECT = re.compile(r"repo:\$\{var\.github_repository\}:([^\"]+)")
_ROLE = re.compile(r"role-to-assume:\s*arn:aws(?:-[a-z-]+)?:iam::[^:]*:role/([A-Za-z0-9_+=,.@-]+)")
_SERVICE_ACCOUNT = re.compile(r"service_account:\s*([a-z0-9-]+)@")
_POOL = re.compile(r"workloadIdentityPools/([a-z0-9-]+)/")
_BUCKET = re.compile(r'-backend-config="bucket=([a-z0-9.-]+?)-?(?:\$\{\{[^}]*\}\})?"')
_STORAGE_ACCOUNT = re.compile(r'-backend-config="storage_account_name=([a-z0-9]+)"')
_STATE_RG = re.compile(r'-backend-config="resource_group_name=([A-Za-z0-9_.()-]+)"')
_AZURE_PLAN_CLIENT = re.compile(r"AZURE_PLAN_CLIENT_ID_([A-Z0-9_]+)")
#: Known characters a bootstrap string needs before it can stand for a name (not just `${...}`).
_MIN_LITERAL = 4
#: The branch GitHub runs `schedule` and (by default) `workflow_dispatch` on.
DEFAULT_BRANCH = "main"


@lru_cache(maxsize=64)
def _load_workflow(text: str) -> dict | None:
    """The parsed workflow (shared between calls: read it, never change it)."""
    try:
        doc = yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 - a safe loader, C-accelerated when available
    except yaml.YAMLError:
        return None  # workflow-structure reports it
    if not isinstance(doc, dict):
        return None
    if True in doc and "on" not in doc:  # YAML 1.1 reads `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def _variables(text: str) -> dict[str, bool]:
    """Root variables -> whether each has a default."""
    doc = _parse(text)
    out: dict[str, bool] = {}
    for block in doc.get("variable", []):
        for name, body in block.items():
            out[name.strip('"')] = "default" in body
    return out


def _defaults(bootstrap: str) -> dict[str, object]:
    doc = _parse(bootstrap)
    return {name.strip('"'): _unquote(body.get("default"))
            for block in doc.get("variable", []) for name, body in block.items()}


def _unquote(value: object) -> object:
    """python-hcl2 keeps the quotes of string values; the names are compared without them."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def _expand(template: str, defaults: dict[str, object]) -> set[str]:
    """A bootstrap string with `var.*` replaced by defaults and environment references expanded."""
    envs = [str(e) for e in defaults.get("environments") or []]
    holes = _INTERP.findall(template)
    choices: list[list[str]] = []
    for hole in holes:
        expr = hole.strip()
        if expr.startswith("var.") and isinstance(defaults.get(expr[4:]), str):
            choices.append([str(defaults[expr[4:]])])
        elif expr in ("env", "each.key", "pair[0]", "each.value.env") and envs:
            choices.append(envs)
        else:
            choices.append(["*"])  # unknown at generation time (an account id, say): a wildcard
    out = set()
    for combo in product(*choices) if holes else [()]:
        text = template
        for hole, val in zip(holes, combo, strict=True):
            text = text.replace("${" + hole + "}", val, 1)
        out.add(text)
    return out


def _blocks(bootstrap: str) -> list[tuple[str, str]]:
    """(label, body) of each top-level block, the label being `<type>.<name>` or `locals`."""
    heads = list(_BLOCK_HEAD.finditer(bootstrap))
    out = []
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(bootstrap)
        label = "locals" if m[1] == "locals" else f"{m[2]}.{m[3]}"
        out.append((label, bootstrap[m.start():end]))
    return out


def _matches(name: str, candidates: set[str]) -> bool:
    """Whether a bootstrap string names `name`; a string made of unknowns alone names nothing."""
    return any(re.fullmatch(re.escape(c).replace(r"\*", ".*"), name)
               for c in candidates if len(c.replace("*", "")) >= _MIN_LITERAL)


class _Bootstrap:
    """What infra/bootstrap creates: its resolved strings, and the OIDC subjects each trust admits."""

    def __init__(self, text: str, variables: str) -> None:
        self.defaults = _defaults(variables)
        self.envs = [str(e) for e in self.defaults.get("environments") or []]
        self.names: set[str] = set()
        self.plan_subjects: set[str] = set()
        self.env_subjects: set[str] = set()
        for label, body in _blocks(text):
            for literal in _STRING.findall(body):
                self.names |= _expand(literal, self.defaults)
            subjects = {s for raw in _SUBJECT.findall(body) for s in _expand(raw, self.defaults)}
            if "plan" in label.split(".")[-1] or label == "locals":
                self.plan_subjects |= {s for s in subjects if not s.startswith("environment:")}
            self.env_subjects |= {s for s in subjects if s.startswith("environment:")}
            if "plan" not in label.split(".")[-1] and label != "locals":
                self.env_subjects |= {s for s in subjects if not s.startswith("environment:")}


def _subjects_of(doc: dict, job: dict) -> set[str]:
    """The OIDC `sub` claims a job can present: its environment, or its workflow's triggers."""
    env = job.get("environment")
    if isinstance(env, dict):
        env = env.get("name")
    if env:
        return {f"environment:{env}"}
    triggers = doc.get("on") or {}
    if isinstance(triggers, str):
        triggers = {triggers: None}
    elif isinstance(triggers, list):
        triggers = dict.fromkeys(triggers)
    out = set()
    for event, spec in triggers.items():
        if event in ("pull_request", "pull_request_target"):
            out.add("pull_request")
        elif event == "push":
            branches = spec.get("branches") if isinstance(spec, dict) else None
            out |= {f"ref:refs/heads/{b}" for b in (branches or ["*"])}
        else:  # schedule, workflow_dispatch, ...: the default branch
            out.add(f"ref:refs/heads/{DEFAULT_BRANCH}")
    return out


def _job_text(job: dict) -> str:
    return yaml.dump(job, Dumper=_DUMPER, sort_keys=False, width=10_000)


def consistency_findings(files: dict[str, str]) -> list[Finding]:
    """Every disagreement between the workflows and the Terraform, as findings."""
    findings: list[Finding] = []
    workflows = {p: t for p, t in files.items()
                 if p.startswith(".github/workflows/") and p.endswith((".yml", ".yaml"))}
    outputs = set(_ROOT_OUTPUT.findall(files.get("infra/outputs.tf", "")))
    variables = _variables(files["infra/variables.tf"]) if "infra/variables.tf" in files else {}
    boot_text = "\n".join(t for p, t in sorted(files.items()) if p.startswith("infra/bootstrap/") and p.endswith(".tf"))
    # Only the variable blocks need parsing (for their defaults); the rest is read as text.
    boot_vars = "\n".join(_VARIABLE_BLOCK.findall(boot_text))
    boot = _Bootstrap(boot_text, boot_vars) if boot_text else None

    for path, text in workflows.items():
        doc = _load_workflow(text)
        if doc is None:
            continue

        def bad(rule: str, message: str, needle: str, _path: str = path, _text: str = text) -> None:
            line = next((i + 1 for i, ln in enumerate(_text.splitlines()) if needle in ln), None)
            findings.append(Finding(rule=rule, path=_path, line=line, message=message))

        for name in sorted(set(_OUTPUT_READ.findall(text))):
            if name not in outputs:
                bad("unknown-output", f"reads output `{name}`, which infra/outputs.tf does not declare", name)
        for name in sorted(set(_VAR_FLAG.findall(text))):
            if variables and name not in variables:
                bad("unknown-variable", f"passes `-var {name}`, which infra/variables.tf does not declare", name)
        for rel in sorted(set(_VAR_FILE.findall(text))):
            if f"infra/{rel}" not in files:
                bad("missing-var-file", f"uses `-var-file={rel}`, which infra/ does not contain", rel)
        for line in text.splitlines():
            if _PLAN_COMMAND.match(line):
                passed = set(_VAR_FLAG.findall(line))
                for rel in _VAR_FILE.findall(line):  # a var-file passes every variable it assigns
                    passed |= set(_TFVARS_KEY.findall(files.get(f"infra/{rel}", "")))
                for name, has_default in sorted(variables.items()):
                    if not has_default and name not in passed and name != "environment":
                        bad("variable-not-passed", f"`terraform plan` does not pass `{name}`, which has no default",
                            line.strip())
        _identity_findings(text, doc, boot, bad)
    return findings


def _image_names(text: str) -> list[tuple[str, str]]:
    """(kind, name) of the image registry names in a workflow's IMAGE_REPOSITORY."""
    m = re.search(r"^\s*IMAGE_REPOSITORY:\s*(.+?)\s*$", text, re.MULTILINE)
    if not m:
        return []
    ref = m[1]
    if ".azurecr.io/" in ref:
        host, _, repo = ref.partition("/")
        return [("registry", host.split(".")[0])]
    parts = ref.split("/")
    if "-docker.pkg.dev" in parts[0]:
        return [("repository", parts[2])] if len(parts) > 2 else []
    return [("repository", parts[-1])]


def _identity_findings(text: str, doc: dict, boot: _Bootstrap | None, bad) -> None:
    """Identities, registries and state named by one workflow, and the trust of each job's identity."""
    named = (_ROLE.findall(text) + _SERVICE_ACCOUNT.findall(text) + _POOL.findall(text)
             + [n for _, n in _image_names(text)] + _STORAGE_ACCOUNT.findall(text) + _STATE_RG.findall(text))
    buckets = _BUCKET.findall(text)
    if not named and not buckets:
        return
    if boot is None:
        bad("no-bootstrap", "names CI identities or registries, but there is no infra/bootstrap to create them",
            (named or buckets)[0])
        return
    for name in sorted(set(named)):
        if not _matches(name, boot.names):
            bad("name-not-created", f"`{name}` is not created by infra/bootstrap", name)
    for prefix in sorted(set(buckets)):
        if not any(n.startswith(prefix) for n in boot.names):
            bad("name-not-created", f"state bucket `{prefix}...` is not created by infra/bootstrap", prefix)
    for job_id, job in (doc.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        body = _job_text(job)
        identities = _ROLE.findall(body) + _SERVICE_ACCOUNT.findall(body)
        azure_plan = _AZURE_PLAN_CLIENT.findall(body)
        azure_env = "AZURE_CLIENT_ID" in body and not azure_plan
        if not identities and not azure_plan and not azure_env:
            continue
        subjects = _subjects_of(doc, job)
        plan_kind = bool(azure_plan) or any(i.endswith("-plan") for i in identities)
        env = next((s.split(":", 1)[1] for s in subjects if s.startswith("environment:")), None)
        if plan_kind:
            if env:
                bad("plan-identity-in-environment", f"job `{job_id}` runs in environment `{env}` but plans with "
                    "a read-only identity meant for pull requests and main", job_id)
            for subject in sorted(subjects - boot.plan_subjects):
                bad("trust-mismatch", f"job `{job_id}` presents `{subject}`, which no plan identity trusts "
                    f"(trusted: {sorted(boot.plan_subjects)})", job_id)
            continue
        if env is None:
            bad("deploy-identity-outside-environment", f"job `{job_id}` uses an environment-bound identity "
                "outside any GitHub environment (its protection rules would not apply)", job_id)
            continue
        if f"environment:{env}" not in boot.env_subjects:
            bad("trust-mismatch", f"job `{job_id}` runs in environment `{env}`, which no identity trusts", job_id)
        for identity in identities:
            if f"-{env}-" not in identity:
                bad("identity-of-another-environment",
                    f"job `{job_id}` in environment `{env}` uses `{identity}`, another environment's identity",
                    identity)
    risky = sorted(s for s in boot.env_subjects if not s.startswith("environment:"))
    for subject in risky:
        bad("deploy-trusts-non-environment", f"a deploy identity trusts `{subject}`: only a job in a protected "
            "GitHub environment may deploy", "jobs:")


def check_names(ctx: CheckContext) -> ToolResult:
    files = ctx.sandbox.files
    if not any(p.startswith(".github/workflows/") for p in files) or "infra/variables.tf" not in files:
        return skipped(TOOL, "needs both .github/workflows and infra/", dist_version("python-hcl2"))
    findings = consistency_findings(files)
    return ToolResult(tool=TOOL, version=f"python-hcl2 {dist_version('python-hcl2')}", status=status_for(findings),
                      findings=findings)
