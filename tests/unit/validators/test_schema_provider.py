"""A provider known by its exported schema only: Terraform judges a tree against it, offline.

The schema here is written for the test (a few arguments of a storage bucket), in the shape
`terraform providers schema -json` exports; the checks run the real Terraform CLI against the
stand-in and are skipped where the CLI is not installed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services.validators.checks import validate_tree
from services.validators.checks.schema_cut import wire_fields
from services.validators.checks.schema_provider import (
    SchemaError,
    exported_files,
    load_answer,
    provider_schema,
    schema_answer,
    schema_files,
)
from services.validators.checks.terraform_validate import VERDICTS, terraform_binary

ADDRESS = "registry.terraform.io/hashicorp/google"
BUCKET = {
    "version": 0,
    "block": {
        "attributes": {
            "id": {"type": "string", "computed": True},
            "name": {"type": "string", "required": True},
            "location": {"type": "string", "required": True},
            "labels": {"type": ["map", "string"], "optional": True},
            "url": {"type": "string", "computed": True},
        },
        "block_types": {
            "versioning": {"nesting_mode": "list", "max_items": 1,
                           "block": {"attributes": {"enabled": {"type": "bool", "required": True}}}},
        },
    },
}
EXPORTED = {"format_version": "1.0", "provider_schemas": {ADDRESS: {
    "provider": {"version": 0, "block": {"attributes": {"project": {"type": "string", "optional": True}}}},
    "resource_schemas": {"google_storage_bucket": BUCKET},
    "data_source_schemas": {},
}}}
VERSIONS = 'terraform {\n  required_providers {\n    google = {\n      source  = "hashicorp/google"\n' \
           '      version = "%s"\n    }\n  }\n}\n'
MAIN = '''provider "google" {
  project = "acme"
}

resource "google_storage_bucket" "data" {
  name     = "acme-data"
  location = "EU"
  labels   = { team = "ml" }

  versioning {
    enabled = true
  }
}

output "bucket_url" {
  value = google_storage_bucket.data.url
}
'''
PLAN_TEST = '''mock_provider "google" {}

run "bucket_is_versioned" {
  command = plan

  assert {
    condition     = google_storage_bucket.data.versioning[0].enabled == %s
    error_message = "the bucket keeps versions"
  }
}
'''


def _tree(main: str = MAIN, constraint: str = "~> 5.40", test: str | None = None) -> dict[str, str]:
    files = {"infra/versions.tf": VERSIONS % constraint, "infra/main.tf": main}
    if test is not None:
        files["infra/tests/plan.tftest.hcl"] = test
    return files


@pytest.fixture
def schemas(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "schemas"
    (root / ADDRESS).mkdir(parents=True)
    (root / ADDRESS / "5.45.0.json").write_text(json.dumps(EXPORTED), encoding="utf-8")
    monkeypatch.setenv("AMP_TF_PROVIDER_SCHEMAS", str(root))
    monkeypatch.setenv("AMP_TF_PLUGIN_MIRROR", str(tmp_path / "no-mirror"))  # no build of any provider
    return root


def _verdict(files: dict[str, str]):
    if terraform_binary() is None:
        pytest.skip("the Terraform CLI is not installed")
    VERDICTS.clear()  # each case is judged, not remembered
    return validate_tree(files, checks=["terraform-validate"], checkov=False, timeout_s=300).tool("terraform-validate")


def test_the_answer_holds_the_provider_and_each_type_keyed_by_name():
    answer = schema_answer(EXPORTED["provider_schemas"][ADDRESS])
    fields = {number: payload for number, _wire, _whole, payload in wire_fields(answer)}
    assert set(fields) == {1, 2, 6}  # provider, resource_schemas, server_capabilities
    (key_number, _, _, key), *_ = wire_fields(fields[2])
    assert (key_number, key) == (1, b"google_storage_bucket")
    assert b"versioning" in fields[2] and b'["map","string"]' in fields[2]


def test_a_document_is_read_whole_or_as_one_providers_entry():
    entry = EXPORTED["provider_schemas"][ADDRESS]
    assert provider_schema(EXPORTED, ADDRESS) == entry
    assert provider_schema(entry, ADDRESS) is entry
    with pytest.raises(SchemaError, match="no schema of registry.terraform.io/hashicorp/google"):
        provider_schema({"provider_schemas": {"a": {}, "b": {}}}, ADDRESS)
    with pytest.raises(SchemaError):
        provider_schema({"format_version": "1.0"}, ADDRESS)


def test_an_export_of_several_providers_is_one_file_each_in_the_layout_read_back(tmp_path):
    other = "registry.terraform.io/hashicorp/random"
    document = {"format_version": "1.0", "provider_schemas": {
        **EXPORTED["provider_schemas"], other: {"provider": {"block": {}}, "resource_schemas": {}}}}
    files = exported_files(document, [(ADDRESS, "5.45.0"), (other, "3.6.0")])
    assert sorted(files) == [f"{ADDRESS}/5.45.0.json", f"{other}/3.6.0.json"]
    for relative, data in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(data)
    found = schema_files(tmp_path)
    assert {a: sorted(v) for a, v in found.items()} == {ADDRESS: ["5.45.0"], other: ["3.6.0"]}
    assert load_answer(found[ADDRESS]["5.45.0"], ADDRESS) == schema_answer(EXPORTED["provider_schemas"][ADDRESS])


def test_schema_files_follow_the_mirror_layout(tmp_path):
    (tmp_path / ADDRESS).mkdir(parents=True)
    for name in ("5.45.0.json", "6.0.0-beta1.json", "notes.json", "5.1.txt"):
        (tmp_path / ADDRESS / name).write_text("{}")
    assert {a: sorted(v) for a, v in schema_files(tmp_path).items()} == {ADDRESS: ["5.45.0", "6.0.0-beta1"]}
    assert schema_files(tmp_path / "absent") == {}


def test_a_tree_that_fits_the_schema_passes_and_says_what_it_was_judged_against(schemas):
    result = _verdict(_tree(test=PLAN_TEST % "true"))
    assert result.status == "pass", [f.message for f in result.findings]
    assert "exported schema of hashicorp/google 5.45.0" in result.version


@pytest.mark.parametrize(("change", "expected"), [
    (("  labels   = { team = \"ml\" }\n", "  labels   = { team = \"ml\" }\n  storage_class = \"STANDARD\"\n"),
     'An argument named "storage_class" is not expected here'),
    (("  location = \"EU\"\n", ""), 'The argument "location" is required'),
    (("google_storage_bucket.data.url", "google_storage_bucket.data.self_link"),
     'This object has no argument, nested block, or exported attribute named "self_link"'),
    (("resource \"google_storage_bucket\"", "resource \"google_storage_bucket_v2\""),
     'does not support resource type "google_storage_bucket_v2"'),
])
def test_what_the_schema_does_not_allow_fails_where_it_is_written(schemas, change, expected):
    main = MAIN.replace(*change)
    assert main != MAIN
    result = _verdict(_tree(main))
    assert result.status == "fail"
    assert any(expected in f.message and f.path == "infra/main.tf" and f.line for f in result.findings), \
        [f.message for f in result.findings]


def test_a_plan_test_runs_against_the_mocked_stand_in_and_its_failure_is_reported(schemas):
    result = _verdict(_tree(test=PLAN_TEST % "false"))
    assert result.status == "fail"
    assert any(f.rule == "terraform-test" and "bucket_is_versioned" in f.message for f in result.findings)


def test_a_constraint_no_exported_version_meets_fails_init(schemas):
    result = _verdict(_tree(constraint="~> 6.0"))
    assert result.status == "fail"
    assert [f.rule for f in result.findings] == ["terraform-init"]
    assert "6.0" in result.findings[0].message


def test_without_a_schema_the_check_is_skipped_and_names_where_it_looked(schemas):
    (schemas / ADDRESS / "5.45.0.json").unlink()
    result = _verdict(_tree())
    assert result.status == "skipped"
    assert "hashicorp/google" in (result.reason or "") and str(schemas) in (result.reason or "")


@pytest.fixture(scope="module")
def aws_exported(tmp_path_factory) -> Path:
    """The AWS provider's own `terraform providers schema -json`, exported from the offline mirror."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    from services.validators.checks.terraform_validate import DEFAULT_MIRROR  # noqa: PLC0415

    terraform = terraform_binary()
    mirror = Path(os.environ.get("AMP_TF_PLUGIN_MIRROR", DEFAULT_MIRROR))
    versions = sorted((mirror / "registry.terraform.io/hashicorp/aws").glob("*"))
    if terraform is None or not versions:
        pytest.skip("the Terraform CLI or the AWS provider's build is not available offline")
    version = versions[-1].name
    work = tmp_path_factory.mktemp("export")
    (work / "main.tf").write_text(VERSIONS.replace("google", "aws") % version)
    (work / "rc.tfrc").write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(work / "rc.tfrc"), "CHECKPOINT_DISABLE": "1"}
    subprocess.run([terraform, "init", "-no-color"], cwd=work, env=env, check=True, capture_output=True, timeout=300)
    exported = subprocess.run([terraform, "providers", "schema", "-json"], cwd=work, env=env, check=True,
                              capture_output=True, timeout=300).stdout
    root = tmp_path_factory.mktemp("schemas")
    (root / "registry.terraform.io/hashicorp/aws").mkdir(parents=True)
    (root / f"registry.terraform.io/hashicorp/aws/{version}.json").write_bytes(exported)
    return root


@pytest.mark.slow
def test_the_stand_in_and_the_providers_build_agree_on_a_generated_tree(aws_exported, monkeypatch, tmp_path):
    """A generated AWS repository judged twice: by the provider's build from the mirror, and, with
    no mirror, by the stand-in serving the schema that build exported. The verdicts agree on the
    tree as rendered and on the tree with an argument the provider does not have."""
    from tests.unit.codegen.conftest import render_named  # noqa: PLC0415

    files = render_named("aws_online_pci")
    broken = {**files, "infra/modules/storage/main.tf": files["infra/modules/storage/main.tf"]
              + '\nresource "aws_s3_bucket" "extra" {\n  bucket_name = "typo-of-bucket"\n}\n'}
    by_build = [_verdict(files), _verdict(broken)]
    monkeypatch.setenv("AMP_TF_PLUGIN_MIRROR", str(tmp_path / "no-mirror"))
    monkeypatch.setenv("AMP_TF_PROVIDER_SCHEMAS", str(aws_exported))
    by_schema = [_verdict(files), _verdict(broken)]
    assert [r.status for r in by_build] == [r.status for r in by_schema] == ["pass", "fail"], \
        [[f.message for f in r.findings] for r in by_build + by_schema]
    assert "exported schema of hashicorp/aws" in by_schema[0].version
    assert "exported schema" not in by_build[0].version
    assert {(f.path, f.line) for f in by_build[1].findings} == {(f.path, f.line) for f in by_schema[1].findings}


def test_the_bootstrap_root_is_judged_against_the_schema_too(schemas):
    bootstrap = VERSIONS % "~> 5.40" + MAIN.replace('  location = "EU"\n', "")
    result = _verdict({**_tree(test=PLAN_TEST % "true"), "infra/bootstrap/main.tf": bootstrap})
    assert result.status == "fail"
    assert {(f.path, f.rule) for f in result.findings} == {("infra/bootstrap/main.tf", "terraform-validate")}
    assert any('"location" is required' in f.message for f in result.findings)


def test_a_schema_file_that_is_not_one_skips_the_check_and_says_which(schemas):
    (schemas / ADDRESS / "5.45.0.json").write_text('{"format_version": "1.0"}', encoding="utf-8")
    result = _verdict(_tree())
    assert result.status == "skipped"
    assert "not usable" in (result.reason or "") and str(schemas / ADDRESS / "5.45.0.json") in (result.reason or "")


def test_a_provider_call_slower_than_terraforms_liveness_poll_is_not_cancelled(schemas, monkeypatch):
    """go-plugin polls a reattached provider's Pid once a second and cancels every call to it once
    that process is gone. The stand-in's own pid names no process in the run's pid namespace, so a
    call that outlived the first poll (on a busy machine) came back "Request cancelled" and failed
    the run. Here every validation call takes longer than the poll."""
    import grpc

    from services.validators.checks import unix_grpc

    served = unix_grpc.serving

    class Slow(grpc.GenericRpcHandler):
        def __init__(self, inner: grpc.GenericRpcHandler) -> None:
            self.inner = inner

        def service(self, details: grpc.HandlerCallDetails):
            handler = self.inner.service(details)
            if handler is None or "Validate" not in details.method or handler.unary_unary is None:
                return handler
            answer = handler.unary_unary

            def slow(request, context):
                time.sleep(1.5)
                return answer(request, context)

            return grpc.unary_unary_rpc_method_handler(slow, handler.request_deserializer,
                                                       handler.response_serializer)

    monkeypatch.setattr(unix_grpc, "serving", lambda handler, **kw: served(Slow(handler), **kw))
    result = _verdict(_tree(test=PLAN_TEST % "true"))
    assert result.status == "pass", [f.message for f in result.findings]
