"""The `infra/` tree: root Terraform for the plan's cloud and one module per capability.

Module bodies are static templates keyed by (cloud, capability) with optional variants
(pattern name, service or deployment model); everything plan-dependent (regions, wiring,
sizing) is emitted here through `render_hcl`, so the output is `terraform fmt`-clean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from amp_contracts import Component, Plan
from amp_domain.build import ENVIRONMENTS, BuiltComponent, built_component, stand_in

from .render_hcl import Block, Raw, attributes, document
from .render_text import identifier, load, template
from .render_tf_wiring import INPUTS, REQUIRED, input_expression, referenced_inputs

PROVIDERS: dict[str, tuple[str, str, str]] = {
    # cloud: (local name, source, version constraint); the lock file pins the exact build.
    "aws": ("aws", "hashicorp/aws", "~> 5.60"),
    "gcp": ("google", "hashicorp/google", "~> 5.40"),
    "azure": ("azurerm", "hashicorp/azurerm", "~> 3.110"),
}
BACKENDS = {"aws": "s3", "gcp": "gcs", "azure": "azurerm"}
BACKEND_KEYS = {
    "aws": "bucket, key, region, dynamodb_table, encrypt",
    "gcp": "bucket, prefix",
    "azure": "resource_group_name, storage_account_name, container_name, key, use_azuread_auth",
}

#: Foundations first, so that `main.tf` reads in dependency order.
MODULE_ORDER: tuple[str, ...] = (
    "security_kms", "networking_private", "storage", "audit_logging", "ingest_batch", "ingest_stream",
    "stream_processing", "feature_store", "training", "registry", "orchestration", "serving_online",
    "serving_batch", "monitoring", "ci_cd",
)

#: Words of a pattern name or service hint that select a template variant.
VARIANT_ALIASES: dict[str, str] = {
    "lambda": "serverless", "functions": "serverless", "function": "serverless", "cloud_run": "serverless",
    "cloudrun": "serverless", "run": "serverless",
    "ecs": "containers", "fargate": "containers", "eks": "containers", "aks": "containers", "gke": "containers",
    "kubernetes": "containers", "msk": "kafka", "kafka": "kafka",
}
#: Variants a cloud realises with another variant's template (Cloud Run also serves containers).
CLOUD_VARIANT_FALLBACK: dict[str, dict[str, str]] = {"gcp": {"containers": "serverless"}}
_OUTPUTS_MARK = "# ---- outputs.tf ----\n"
_RESOURCE_TYPE = re.compile(r'^resource "([a-z0-9_]+)"', re.MULTILINE)
_OUTPUT = re.compile(r'^output "([a-z0-9_]+)" \{\n  description = "([^"]*)"', re.MULTILINE)


@dataclass(frozen=True)
class Instance:
    """One module block of the root: a capability in one region."""

    capability: str
    block_name: str
    region_expr: str
    provider_alias: str | None = None
    for_each_var: str | None = None


def all_regions(plan: Plan) -> list[str]:
    """Plan regions first, then any extra region a component runs in, without duplicates."""
    seen: list[str] = []
    for region in [*plan.regions, *(r for c in plan.components for r in c.regions)]:
        if region not in seen:
            seen.append(region)
    return seen or ["us-east-1"]


def component_regions(component: Component, regions: list[str]) -> list[str]:
    return [r for r in dict.fromkeys(component.regions) if r] or [regions[0]]


def variant_template(cloud: str, component: Component) -> tuple[str, str]:
    """(template path, variant) of a component: the first variant file that exists, else the generic one."""
    words = [component.pattern_id.split(":")[-1], component.service]
    tokens = [identifier(w) for w in words if w]
    tokens += [t for w in words for t in re.split(r"[^a-z0-9]+", w.lower()) if t]
    candidates = [*tokens, *(VARIANT_ALIASES.get(t, "") for t in tokens), component.deployment]
    candidates += [CLOUD_VARIANT_FALLBACK.get(cloud, {}).get(c, "") for c in list(candidates)]
    for variant in dict.fromkeys(c for c in candidates if c):
        path = f"terraform/{cloud}/modules/{component.capability}@{variant}.tf"
        if load(path) is not None:
            return path, variant
    return f"terraform/{cloud}/modules/{component.capability}.tf", "generic"


def module_template(cloud: str, built: BuiltComponent) -> tuple[str, str]:
    """(template path, variant): the catalog pattern's own module, else the closest variant by name."""
    if built.module and load(f"terraform/{cloud}/modules/{built.module}.tf") is not None:
        return f"terraform/{cloud}/modules/{built.module}.tf", built.module
    return variant_template(cloud, built.component)


def split_module(text: str) -> tuple[str, str]:
    """A module template is main.tf, the outputs mark, then outputs.tf."""
    main, _, outputs = text.partition(_OUTPUTS_MARK)
    return main.rstrip("\n") + "\n", outputs.strip("\n") + "\n" if outputs.strip() else ""


def _instances(cloud: str, components: list[Component], regions: list[str]) -> list[Instance]:
    out: list[Instance] = []
    for comp in components:
        cap = comp.capability
        mine = component_regions(comp, regions)
        if len(mine) == 1:
            out.append(Instance(cap, cap, f"var.regions[{regions.index(mine[0])}]",
                                _alias(cloud, regions.index(mine[0]))))
        elif cloud == "aws":
            for n, region in enumerate(mine):
                idx = regions.index(region)
                out.append(Instance(cap, cap if n == 0 else f"{cap}_region_{idx}", f"var.regions[{idx}]", _alias(cloud, idx)))
        else:
            out.append(Instance(cap, cap, "each.value", None, f"{cap}_regions"))
    return out


def _alias(cloud: str, idx: int) -> str | None:
    return f"aws.region_{idx}" if cloud == "aws" and idx > 0 else None


def _module_block(cloud: str, inst: Instance, inputs: list[str], present: dict[str, str],
                  source_region: dict[str, str], settings: dict[str, str], built: BuiltComponent,
                  outputs: dict[str, set[str]]) -> Block:
    head: list[tuple[str, object]] = [("source", f"./modules/{inst.capability}")]
    if inst.for_each_var:
        head.append(("for_each", Raw(f"toset(var.{inst.for_each_var})")))
    if inst.provider_alias:
        head.append(("providers", {"aws": Raw(inst.provider_alias)}))
    body: list[tuple[str, object]] = []
    for name in inputs:
        spec = INPUTS[cloud][name]
        if name == "region":
            body.append((name, Raw(inst.region_expr)))
            continue
        if name == "settings":
            if settings:
                body.append((name, settings))
            continue
        expr = None if spec.source == inst.capability else input_expression(cloud, name, present, outputs)
        if expr is None:
            continue
        if spec.regional and spec.source:
            src_region = source_region[spec.source]
            if inst.for_each_var:
                fallback = "[]" if spec.type.startswith("list") else "false" if spec.type == "bool" else "null"
                expr = Raw(f"{inst.region_expr} == {src_region} ? {expr.expr} : {fallback}")
            elif inst.region_expr != src_region:
                continue  # a secondary-region instance cannot use the primary region's key or network
        body.append((name, expr))
    typed = [(i.name, Raw(f"var.{built.sizing_variable}.{i.name}")) for i in built.inputs]
    multi = [kv for kv in body if isinstance(kv[1], dict)]
    single = [kv for kv in body if not isinstance(kv[1], dict)]
    return Block("module", (inst.block_name,), groups=[head, single + multi, typed])


def _module_texts(plan: Plan, cloud: str) -> dict[str, tuple[str, str]]:
    """Each component's module template as (main, outputs), before anything is rendered into it."""
    return {c.capability: split_module(template(module_template(cloud, built_component(cloud, c))[0]))
            for c in plan.components}


def module_outputs(plan: Plan, cloud: str) -> dict[str, list[str]]:
    """The outputs each component's module will declare, known before rendering (so that what is
    rendered into a module, such as an alarm, can depend on what another module provides)."""
    return {cap: [name for name, _ in _OUTPUT.findall(outputs)] for cap, (_, outputs) in _module_texts(plan, cloud).items()}


def module_mains(plan: Plan, cloud: str) -> dict[str, str]:
    """Each module's main.tf as it will be written (before additions), by its path in `infra/`."""
    return {f"infra/modules/{cap}/main.tf": main for cap, (main, _) in _module_texts(plan, cloud).items()}


def module_resource_types(plan: Plan, cloud: str) -> set[str]:
    """The resource types the plan's modules create, known before rendering."""
    return {t for main, _ in _module_texts(plan, cloud).values() for t in _RESOURCE_TYPE.findall(main)}


def render_infra(plan: Plan, cloud: str, slug: str, feature_names: list[str],
                 extra_settings: dict[str, dict[str, str]], root_inputs: dict[str, object] | None = None,
                 additions: dict[str, str] | None = None) -> dict[str, str]:
    """Every file under `infra/` for this plan.

    Each component's module is its catalog pattern's template; the pattern's typed inputs become
    required module variables, fed from one typed root variable per component (`<capability>_sizing`)
    whose value per environment is in `environments/<env>.tfvars` (prod = the plan).
    `root_inputs` are plan-wide values a module may read (the retraining schedule), as root variables.
    `additions` are rendered resources appended to a capability's module (the monitoring module's
    alarms); the inputs they read are declared and wired like the template's own.
    """
    regions = all_regions(plan)
    order = {cap: i for i, cap in enumerate(MODULE_ORDER)}
    components = sorted({c.capability: c for c in plan.components}.values(), key=lambda c: order[c.capability])
    built = {c.capability: built_component(cloud, c) for c in components}
    files: dict[str, str] = {}
    module_inputs: dict[str, list[str]] = {}
    module_outputs: dict[str, list[tuple[str, str]]] = {}
    for comp in components:
        path, variant = module_template(cloud, built[comp.capability])
        template_name = path.rsplit("/", 1)[-1].removesuffix(".tf")
        if built[comp.capability].module != template_name:
            # No module builds this pattern: the closest template stands in, with its owner's typed inputs,
            # and the conformance check fails the repository (the code is not the plan).
            built[comp.capability] = stand_in(cloud, comp, template_name)
        main, outputs = split_module(template(path))
        if extra := (additions or {}).get(comp.capability):
            main += "\n" + extra
        typed = {i.name for i in built[comp.capability].inputs}
        inputs = referenced_inputs(cloud, main, typed)
        module_inputs[comp.capability] = inputs
        module_outputs[comp.capability] = _OUTPUT.findall(outputs)
        base = f"infra/modules/{comp.capability}"
        header = (f"# {comp.capability}: {comp.pattern_id} ({variant} template)\n"
                  + _module_versions(cloud))
        files[f"{base}/main.tf"] = document([header, main])
        files[f"{base}/variables.tf"] = document(_variable_blocks(cloud, inputs)
                                                 + _typed_variable_blocks(built[comp.capability]))
        files[f"{base}/outputs.tf"] = outputs or "\n"

    instances = _instances(cloud, components, regions)
    present: dict[str, str] = {}
    source_region: dict[str, str] = {}
    for inst in instances:
        if inst.capability in present:
            continue
        if inst.for_each_var:
            present[inst.capability] = f"module.{inst.block_name}[var.{inst.for_each_var}[0]]"
            source_region[inst.capability] = f"var.{inst.for_each_var}[0]"
        else:
            present[inst.capability] = f"module.{inst.block_name}"
            source_region[inst.capability] = inst.region_expr
    outputs_of = {cap: {name for name, _ in outs} for cap, outs in module_outputs.items()}
    blocks: list[Block | str] = [_locals(cloud, feature_names)]
    if cloud == "azure":
        blocks.append(template("terraform/azure/root_resource_group.tf"))
    for inst in instances:
        # Only the platform-owned monitoring and CI/CD templates still read a `settings` map: plan-wide
        # values (the latency objective), never a component's sizing, which is typed.
        settings = dict(sorted(extra_settings.get(inst.capability, {}).items()))
        blocks.append(_module_block(cloud, inst, module_inputs[inst.capability], present, source_region, settings,
                                    built[inst.capability], outputs_of))
    files["infra/main.tf"] = document(blocks)
    used_root = {n for ins in module_inputs.values() for n in ins}
    files["infra/variables.tf"] = document(
        _root_variables(cloud, slug, regions, instances, components, used_root)
        + _root_input_variables(cloud, used_root, root_inputs or {})
        + [_sizing_variable(built[c.capability]) for c in components if built[c.capability].inputs])
    files["infra/outputs.tf"] = document(_root_outputs(instances, module_outputs)) if instances else "\n"
    files["infra/versions.tf"] = _versions(cloud)
    files["infra/providers.tf"] = _providers(cloud, regions)
    files["infra/backend.tf"] = _backend(cloud)
    for env in ENVIRONMENTS:
        files[f"infra/environments/{env}.tfvars"] = environment_tfvars(env, [built[c.capability] for c in components])
    files["infra/tests/plan.tftest.hcl"] = plan_tests(cloud, regions, [built[c.capability] for c in components],
                                                      module_inputs, used_root, root_inputs or {})
    return files


#: Root variables without a default, which the workflows pass to every plan: (description, value in
#: the workflow, a GitHub expression). `container_image` is the image the workflow built or names.
PASSED_BY_CI: dict[str, tuple[str, str]] = {
    "container_image": ("Image of the serving/pipeline container, pushed by CI (registry/repository:tag).", ""),
    "alert_email": ("Address (an on-call list) that every alarm notifies; CI passes the ALERT_EMAIL variable.",
                    "${{ vars.ALERT_EMAIL }}"),
    "github_repository": ("GitHub repository (owner/name) whose workflows may deploy through OIDC.",
                          "${{ github.repository }}"),
    "existing_stream_name": ("Name of the team's existing Kinesis data stream; CI passes the KINESIS_STREAM_NAME "
                             "variable.", "${{ vars.KINESIS_STREAM_NAME }}"),
    "existing_eventhub_id": ("Resource id of the team's existing event hub; CI passes the EVENTHUB_ID variable.",
                             "${{ vars.EVENTHUB_ID }}"),
    "existing_topic_id": ("Id of the team's existing Pub/Sub topic (projects/<project>/topics/<topic>); CI passes "
                          "the PUBSUB_TOPIC variable.", "${{ vars.PUBSUB_TOPIC }}"),
    "existing_cluster_name": ("Name of the team's existing Kubernetes cluster; CI passes the K8S_CLUSTER_NAME "
                              "variable.", "${{ vars.K8S_CLUSTER_NAME }}"),
    "existing_cluster_location": ("Region or zone of that cluster; CI passes the K8S_CLUSTER_LOCATION variable "
                                  "(the primary region when unset).", "${{ vars.K8S_CLUSTER_LOCATION || env.GCP_REGION }}"),
    "existing_cluster_resource_group": ("Resource group of that cluster; CI passes the K8S_CLUSTER_RESOURCE_GROUP "
                                        "variable.", "${{ vars.K8S_CLUSTER_RESOURCE_GROUP }}"),
    "ci_project_id": ("Google Cloud project of the bootstrap (CI service accounts, image repository); CI passes the "
                      "GCP_CI_PROJECT_ID variable.", "${{ vars.GCP_CI_PROJECT_ID }}"),
}
#: Stand-in values for a module's wiring inputs in its own test run (nothing is created: providers are mocked).
_TEST_VALUES: dict[str, object] = {
    "name_prefix": "plan-test", "container_image": "registry.example/service:test", "github_repository": "acme/svc",
    "project_id": "plan-test", "resource_group_name": "plan-test", "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-a", "subnet-b", "subnet-c"], "security_group_ids": ["sg-0123456789abcdef0"],
    "feature_names": ["f1", "f2"], "tags": {}, "settings": {}, "alert_email": "oncall@example.com",
    "existing_stream_name": "plan-test-events", "existing_cluster_name": "plan-test-cluster",
    "existing_eventhub_id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/plan-test-rg/providers/"
                            "Microsoft.EventHub/namespaces/plan-test-ns/eventhubs/plan-test-events",
    "existing_topic_id": "projects/plan-test-team/topics/plan-test-events",
    "existing_cluster_location": "plan-test-location", "existing_cluster_resource_group": "plan-test-cluster-rg",
    "ci_project_id": "plan-test-ci",
}
#: Data sources whose mocked results must look real for the plan to proceed (zones, account, JSON policies).
_MOCK_DATA: dict[str, list[tuple[str, dict[str, object]]]] = {
    "aws": [("aws_availability_zones", {"names": Raw("[for s in [\"a\", \"b\", \"c\"] : \"%s${s}\"]")}),
            ("aws_caller_identity", {"account_id": "123456789012",
                                     "arn": "arn:{partition}:sts::123456789012:assumed-role/plan-test-deploy/plan"}),
            ("aws_iam_session_context", {"issuer_arn": "arn:{partition}:iam::123456789012:role/plan-test-deploy"}),
            ("aws_partition", {"partition": "aws", "dns_suffix": "amazonaws.com"}),
            ("aws_iam_policy_document", {"json": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}),
            ("aws_vpc", {"cidr_block": "10.40.0.0/16"})],
    "gcp": [("google_project", {"number": "123456789012"}),
            ("google_container_cluster", {"workload_identity_config": [{"workload_pool": "plan-test.svc.id.goog"}]})],
    "azure": [("azurerm_client_config", {"tenant_id": "00000000-0000-0000-0000-000000000000",
                                         "object_id": "00000000-0000-0000-0000-000000000000"}),
              ("azurerm_kubernetes_cluster", {"oidc_issuer_url": "https://oidc.plan-test.example/",
                                              "kubelet_identity": [{
                                                  "client_id": "00000000-0000-0000-0000-000000000000",
                                                  "object_id": "00000000-0000-0000-0000-000000000000",
                                                  "user_assigned_identity_id": "plan-test-kubelet"}]})],
}
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def aws_partition(region: str) -> str:
    """The ARN partition of an AWS region: GovCloud and China are partitions of their own."""
    return "aws-us-gov" if region.startswith("us-gov-") else "aws-cn" if region.startswith("cn-") else "aws"


def plan_tests(cloud: str, regions: list[str], built: list[BuiltComponent], module_inputs: dict[str, list[str]],
               used_root: set[str], root_inputs: dict[str, object]) -> str:
    """`terraform test` with mocked providers: the prod plan must plan, and each module shows the plan's sizing.

    The conditions come from the catalog pattern (`asserts`), filled with the planned prod values, so
    a module that drops or rewires a planned value fails its test.
    """
    name = PROVIDERS[cloud][0]
    mocks = []
    aliases = [None] + ([f"region_{i}" for i in range(1, len(regions))] if cloud == "aws" else [])
    for alias in aliases:
        data_blocks = []
        for source, defaults in _MOCK_DATA[cloud]:
            values = {k: (Raw(v.expr % regions[0]) if isinstance(v, Raw)
                          else v.replace("{partition}", aws_partition(regions[0])) if isinstance(v, str) else v)
                      for k, v in defaults.items()}
            data_blocks.append(Block("mock_data", (source,), groups=[[("defaults", values)]]))
        mocks.append(Block("mock_provider", (name,), groups=[[("alias", alias)] if alias else []], blocks=data_blocks))
    root_vars: list[tuple[str, object]] = []
    if cloud == "gcp":
        root_vars.append(("project_id", "plan-test"))
    for var in PASSED_BY_CI:
        if var in used_root:
            root_vars.append((var, _TEST_VALUES[var]))
    root_vars += sorted((k, v) for k, v in root_inputs.items() if k in used_root)  # declared only where read
    root_vars += [(b.sizing_variable, {i.name: i.prod for i in b.inputs}) for b in built if b.inputs]
    prod = Block("run", ("prod_plans",), groups=[[("command", Raw("plan"))]], blocks=[
        Block("variables", groups=[[("environment", "prod"), *root_vars]])])
    runs = [prod]
    for b in built:
        conditions = list(b.pattern.asserts) if b.pattern else []
        if not conditions:
            continue
        values = {i.name: i.prod for i in b.inputs}
        variables: list[tuple[str, object]] = []
        for inp in module_inputs[b.capability]:
            spec = INPUTS[cloud][inp]
            if inp == "region":
                variables.append((inp, regions[0]))
            elif inp in _TEST_VALUES:
                variables.append((inp, _TEST_VALUES[inp]))
            elif inp in root_inputs:
                variables.append((inp, root_inputs[inp]))
            elif spec.default is REQUIRED:
                variables.append((inp, [] if spec.type.startswith("list") else "plan-test"))
        variables += [(i.name, i.prod) for i in b.inputs]
        asserts = [Block("assert", groups=[[
            ("condition", Raw(_PLACEHOLDER.sub(lambda m, v=values: _hcl_literal(v.get(m.group(1), m.group(0))), c))),
            ("error_message", f"{b.capability} does not build what the plan says: {c}"),
        ]]) for c in conditions]
        runs.append(Block("run", (f"{b.capability}_matches_plan",), groups=[[("command", Raw("plan"))]], blocks=[
            Block("module", groups=[[("source", f"./modules/{b.capability}")]]),
            Block("variables", groups=[variables]), *asserts]))
    head = ("# Plan-time checks with mocked providers (no cloud account needed): `terraform test` in infra/.\n"
            "# The values and conditions are the approved plan's; change the plan, not this file.\n")
    return head + document([*mocks, *runs])


def _hcl_literal(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return str(value)


def environment_tfvars(env: str, built: list[BuiltComponent]) -> str:
    """One environment's values: its name and every component's typed sizing (prod is the plan)."""
    items: list[tuple[str, object]] = [("environment", env)]
    for b in built:
        if b.inputs:
            items.append((b.sizing_variable, {i.name: i.values[env] for i in b.inputs}))
    head = ("# Sizing of this environment. prod is the approved plan; dev and staging run fewer replicas of\n"
            "# the same size. Edit here, not in the modules: the conformance check compares prod with the plan.\n")
    return head + attributes(items, 0)


def _typed_variable_blocks(built: BuiltComponent) -> list[Block]:
    return [_variable(i.name, i.spec.type, i.spec.description) for i in built.inputs]


def _sizing_variable(built: BuiltComponent) -> Block:
    fields = ", ".join(f"{i.name} = {i.spec.type}" for i in built.inputs)
    return _variable(built.sizing_variable, f"object({{ {fields} }})",
                     f"Sizing of {built.capability} ({built.component.pattern_id}) in this environment; "
                     "prod is the plan.")


def _root_input_variables(cloud: str, used: set[str], values: dict[str, object]) -> list[Block]:
    """Plan-wide root variables a module reads (declared in the wiring with a `var.` source)."""
    out: list[Block] = []
    for name in sorted(used):
        spec = INPUTS[cloud][name]
        root = spec.output.removeprefix("var.") if spec.source is None and spec.output.startswith("var.") else None
        if root in values:
            out.append(_variable(root, spec.type, spec.description, values[root]))
    return out


def _module_versions(cloud: str) -> str:
    """Modules name their provider source so that aliased instances (multi-region) resolve it."""
    name, source, _ = PROVIDERS[cloud]
    return Block("terraform", blocks=[Block("required_providers", groups=[[(name, {"source": source})]])]).render()


def _locals(cloud: str, feature_names: list[str]) -> str:
    key = "labels" if cloud == "gcp" else "tags"
    return (
        "locals {\n"
        + attributes([("name_prefix", Raw('"${var.project_name}-${var.environment}"')),
                      ("feature_names", list(feature_names))], 2)
        + "\n"
        + f"  # Every resource carries these {key}: ownership, environment and cost allocation.\n"
        + "  tags = merge(var.tags, {\n"
        + attributes([("project", Raw("var.project_name")), ("environment", Raw("var.environment")),
                      ("managed_by", "terraform")], 4)
        + "  })\n}\n"
    )


def _variable(name: str, type_: str, description: str, default: object = REQUIRED,
              validation: Block | None = None) -> Block:
    group: list[tuple[str, object]] = [("description", description), ("type", Raw(type_))]
    if default is not REQUIRED:
        group.append(("default", default))
    return Block("variable", (name,), groups=[group], blocks=[validation] if validation else [])


def _variable_blocks(cloud: str, inputs: list[str]) -> list[Block]:
    specs = INPUTS[cloud]
    return [_variable(n, specs[n].type, specs[n].description, specs[n].default) for n in inputs]


def _root_variables(cloud: str, slug: str, regions: list[str], instances: list[Instance],
                    components: list[Component], used: set[str]) -> list[Block]:
    env_check = Block("validation", groups=[[
        ("condition", Raw('contains(["dev", "staging", "prod"], var.environment)')),
        ("error_message", "environment must be one of dev, staging, prod."),
    ]])
    region_check = Block("validation", groups=[[
        ("condition", Raw("length(var.regions) > 0")),
        ("error_message", "At least one region is required; the first one is the primary."),
    ]])
    out = [
        _variable("project_name", "string", "Short project name used in every resource name.", slug),
        _variable("environment", "string", "Deployment environment (dev, staging or prod).", "dev", env_check),
        _variable("regions", "list(string)",
                  "Regions of the deployment; the first is primary, the others host multi-region modules.",
                  regions, region_check),
        _variable("tags", "map(string)", "Extra tags merged into the standard ones on every resource.", {}),
    ]
    if cloud == "gcp":
        out.append(_variable("project_id", "string", "Google Cloud project id (passed per environment, never committed)."))
    out += [_variable(name, "string", description) for name, (description, _) in PASSED_BY_CI.items()
            if name in used]
    comps = {c.capability: c for c in components}
    for inst in instances:
        if inst.for_each_var:
            regs = component_regions(comps[inst.capability], regions)
            out.append(_variable(inst.for_each_var, "list(string)",
                                 f"Regions that each run one instance of the {inst.capability} module.", regs))
    return out


def _root_outputs(instances: list[Instance], outputs: dict[str, list[tuple[str, str]]]) -> list[Block]:
    blocks: list[Block] = []
    for inst in instances:
        for name, description in outputs.get(inst.capability, []):
            ref = (f"{{ for region, m in module.{inst.block_name} : region => m.{name} }}"
                   if inst.for_each_var else f"module.{inst.block_name}.{name}")
            label = f"{inst.block_name}_{name}"
            desc = description + (" (per region)" if inst.for_each_var else "")
            blocks.append(Block("output", (label,), groups=[[("description", desc), ("value", Raw(ref))]]))
    return blocks


def _versions(cloud: str) -> str:
    name, source, version = PROVIDERS[cloud]
    block = Block("terraform", groups=[[("required_version", ">= 1.7.0")]], blocks=[
        Block("required_providers", groups=[[(name, {"source": source, "version": version})]]),
    ])
    return "# Provider versions are pinned here; `terraform init` records the exact build in .terraform.lock.hcl.\n" + block.render()


def _providers(cloud: str, regions: list[str]) -> str:
    text = template(f"terraform/{cloud}/providers.tf")
    if cloud == "aws":
        for idx in range(1, len(regions)):
            text += "\n" + Block("provider", ("aws",), groups=[[("alias", f"region_{idx}"), ("region", Raw(f"var.regions[{idx}]"))]], blocks=[
                Block("default_tags", groups=[[("tags", Raw("local.tags"))]])]).render()
    return text


def _backend(cloud: str) -> str:
    return (
        "# Remote state. Nothing environment-specific is committed: pass the values at init time, e.g.\n"
        f"#   terraform init -backend-config=\"bucket=...\"   (keys: {BACKEND_KEYS[cloud]})\n"
        "# The CI workflows read them from GitHub environment variables.\n"
        + Block("terraform", blocks=[Block("backend", (BACKENDS[cloud],))]).render()
    )


