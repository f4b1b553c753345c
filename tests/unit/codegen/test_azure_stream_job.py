"""The Azure stream job reads the planned event hub and writes the lake, as its own identity.

The Stream Analytics job was created with a query naming an input and an output that no resource
made, so it could never start, and in a private network the Event Hubs namespace refused every
network (no private endpoint, public access off): nothing could send to it or read from it. The
job now has its input and output, the grants they need, and the namespace admits the private
subnet and trusted services such as the job.
"""

from __future__ import annotations

import re

import hcl2
import pytest
from amp_contracts import Plan
from amp_domain.build import team_work

from tests.unit.codegen.conftest import PLANS, comp

STREAM_PLANS = [name for name in sorted(PLANS) if name.startswith("azure")
                and any(c.capability == "stream_processing" for c in PLANS[name]()[0].components)]


def _unq(v: object) -> object:
    return v.strip('"') if isinstance(v, str) else v


def _resources(text: str, rtype: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for block in hcl2.loads(text).get("resource", []):
        for kind, named in block.items():
            if _unq(kind) == rtype:
                out.update({_unq(k): v for k, v in named.items()})
    return out


def _module_args(main: str, name: str) -> dict[str, str]:
    body = main.split(f'module "{name}" {{', 1)[1].split("\n}\n", 1)[0]
    return dict(re.findall(r"^\s+(\w+)\s+=\s+(.+)$", body, re.MULTILINE))


def test_there_are_azure_stream_plans() -> None:
    assert {"azure_online_containers", "azure_full"} <= set(STREAM_PLANS)


@pytest.mark.parametrize("name", STREAM_PLANS)
def test_the_job_reads_the_planned_hub_and_writes_the_lake(rendered, name: str) -> None:
    files = rendered[name]
    module = files["infra/modules/stream_processing/main.tf"]
    job = _resources(module, "azurerm_stream_analytics_job")["scoring"]
    query = _unq(job["transformation_query"])
    inputs = _resources(module, "azurerm_stream_analytics_stream_input_eventhub_v2")
    outputs = _resources(module, "azurerm_stream_analytics_output_blob")
    read = set(re.findall(r"\bFROM\s+\[(\w+)\]", query))
    written = set(re.findall(r"\bINTO\s+\[(\w+)\]", query))
    assert read and read <= {_unq(i["name"]) for i in inputs.values()}, "the query reads an input no resource makes"
    assert written and written <= {_unq(o["name"]) for o in outputs.values()}, "the query writes to nowhere"
    for resource in (*inputs.values(), *outputs.values()):
        assert _unq(resource["authentication_mode"]) == "Msi"  # no shared keys: local auth is off
    (blob,) = outputs.values()
    assert _unq(blob["storage_container_name"]) == "scores"
    assert "scores" in files["infra/modules/storage/main.tf"]  # the container exists in the lake

    args = _module_args(files["infra/main.tf"], "stream_processing")
    for var, output in (("eventhub_namespace_name", "eventhub_namespace_name"), ("eventhub_name", "eventhub_name"),
                        ("eventhub_consumer_group", "consumer_group_name"), ("eventhub_id", "eventhub_id")):
        assert args[var] == f"module.ingest_stream.{output}", var
        assert f'output "{output}"' in files["infra/modules/ingest_stream/outputs.tf"]
    assert args["storage_account_name"] == "module.storage.storage_account_name"
    for flag in ("wired_eventhub_name", "wired_eventhub_id", "wired_storage_account_name", "wired_storage_account_id"):
        assert args[flag] == "true", flag


@pytest.mark.parametrize("name", STREAM_PLANS)
def test_the_job_identity_holds_exactly_the_two_grants(rendered, name: str) -> None:
    module = rendered[name]["infra/modules/stream_processing/main.tf"]
    grants = {_unq(g["role_definition_name"]): _unq(g["scope"])
              for g in _resources(module, "azurerm_role_assignment").values()}
    assert grants == {"Azure Event Hubs Data Receiver": "${var.eventhub_id}",
                      "Storage Blob Data Contributor": "${var.storage_account_id}/blobServices/default/containers/scores"}
    for grant in _resources(module, "azurerm_role_assignment").values():
        assert "azurerm_stream_analytics_job.scoring.identity[0].principal_id" in str(grant["principal_id"])


def test_a_private_namespace_admits_the_subnet_and_trusted_services(rendered) -> None:
    files = rendered["azure_online_containers"]
    assert "networking_private" in {c.capability for c in PLANS["azure_online_containers"]()[0].components}
    hub = _resources(files["infra/modules/ingest_stream/main.tf"], "azurerm_eventhub_namespace")["events"]
    assert hub["public_network_access_enabled"] is True
    rules = {_unq(k): v for k, v in hub["dynamic"][0].items()}["network_rulesets"]
    assert _unq(rules["for_each"]) == "${var.wired_subnet_id ? [var.subnet_id] : []}"
    content = rules["content"][0]
    assert _unq(content["default_action"]) == "Deny" and content["trusted_service_access_enabled"] is True
    assert _unq(content["virtual_network_rule"][0]["subnet_id"]) == "${network_rulesets.value}"
    assert _module_args(files["infra/main.tf"], "ingest_stream")["wired_subnet_id"] == "true"
    subnet = _resources(files["infra/modules/networking_private/main.tf"], "azurerm_subnet")["private"]
    assert "Microsoft.EventHub" in [_unq(s) for s in subnet["service_endpoints"]]


def test_the_team_writes_only_the_query(rendered) -> None:
    guide = rendered["azure_online_containers"]["docs/README.md"]
    line = next(x for x in guide.splitlines() if x.startswith("- `stream_processing`"))
    assert "the query that scores the events" in line and "input" not in line


def test_a_job_beside_the_teams_kafka_says_who_connects_them() -> None:
    plan = Plan(cloud="azure", regions=["westeurope"], components=[
        comp("azure", "ingest_stream", "kafka-existing", service="kafka"),
        comp("azure", "stream_processing", "stream-analytics", service="stream-analytics"),
    ])
    work = team_work(plan)["stream_processing"]
    assert any("Existing Kafka cluster" in w and "event-hubs" in w for w in work)
    hub = plan.model_copy(update={"components": [
        comp("azure", "ingest_stream", "event-hubs", service="event-hubs"), plan.components[1]]})
    assert not any("connection" in w for w in team_work(hub)["stream_processing"])
