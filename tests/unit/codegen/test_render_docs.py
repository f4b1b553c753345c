"""Generated documentation: architecture diagram, design rationale, ADRs, plan and reports."""

from __future__ import annotations

import json
import re

from amp_domain.catalog import load_catalog

from services.codegen.render_docs import mermaid


def _mermaid_block(text: str) -> str:
    match = re.search(r"```mermaid\n(.*?)```", text, re.DOTALL)
    assert match, "no mermaid block"
    return match.group(1)


def test_mermaid_names_every_component(rendered, plans):
    for name, files in rendered.items():
        plan, _ = plans[name]()
        block = _mermaid_block(files["docs/architecture.md"])
        assert block.startswith("flowchart ")
        for comp in plan.components:
            assert f'{comp.capability}["{comp.capability}<br/>' in block, f"{name}: {comp.capability}"
            if comp.service:
                assert comp.service in block
        assert "-->|" in block


def test_mermaid_labels_cannot_break_the_diagram(plans, hostile):
    plan, _ = plans["aws_online_pci"]()
    plan.components[0].name = hostile
    block = mermaid(plan)
    node = next(line for line in block.splitlines() if line.strip().startswith("security_kms["))
    assert node.count('"') == 2 and "<script>" not in node and "\n" not in node.strip()


def test_design_rationale_renders_each_card_safely(rendered, hostile):
    text = rendered["aws_online_pci"]["docs/design-rationale.md"]
    assert "## 1. planner: optA" in text
    assert "## 2. critic_cost: Priced the BOM" in text
    assert "### Candidates considered" in text and "optB" in text
    assert "Confidence:** 74%" in text
    assert "<script>" not in text
    assert "policy: budget | warn" in text
    for line in text.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)
            header_cells = re.split(r"(?<!\\)\|", next(
                l for l in text.splitlines() if l.startswith(("| Candidate", "| Check"))))
            assert len(cells) in {len(header_cells), 4}, line
    assert "\n# heading" not in text and "\n- list" not in text


def test_adrs_follow_nygard_for_major_choices(rendered, plans):
    files = rendered["aws_online_pci"]
    adrs = sorted(p for p in files if p.startswith("docs/adr/"))
    names = [p.split("/")[-1] for p in adrs]
    assert names == ["0001-storage.md", "0002-ingest-batch.md", "0003-feature-store.md", "0004-training.md",
                     "0005-registry.md", "0006-orchestration.md", "0007-serving-online.md"]
    serving = files["docs/adr/0007-serving-online.md"]
    for section in ("## Status", "## Context", "## Decision", "## Consequences"):
        assert section in serving
    assert "aws:serving_online:lambda-container" in serving and "cold starts break" in serving
    assert "Positive: managed autoscaling" in serving and "Negative: always-on instances" in serving
    assert "`sla_latency_ms`: 150" in serving
    assert "<script>" not in serving


def test_plan_md_has_every_section(rendered):
    text = rendered["aws_online_pci"]["plan.md"]
    for heading in ("## Constraints", "## Components", "## Cost", "## Policy", "## Risks", "## Assumptions",
                    "## Open questions"):
        assert heading in text
    assert "| data_classification | pci |" in text
    assert "$1,234.50 per month" in text
    assert "Probe: Request a quota increase" in text
    assert "Approved DR exception" in text
    assert "est $1234 > target \\| $1000" in text.replace("\\>", ">")


def test_reports_are_the_input_shapes(rendered, plans, extra_inputs):
    plan, _ = plans["gcp_streaming"]()
    cost, policy, _, _ = extra_inputs(plan)
    files = rendered["gcp_streaming"]
    assert json.loads(files["reports/cost.json"]) == cost.model_dump(mode="json")
    assert json.loads(files["reports/policy.json"]) == policy.model_dump(mode="json")


def test_readmes_explain_running_and_deploying(rendered):
    for name, files in rendered.items():
        readme = files["README.md"]
        assert "make train test" in readme and "docs/README.md" in readme
        deploy = files["docs/README.md"]
        for step in ("## 1. Bootstrap", "## 2. Configure GitHub", "## 3. Ship", "## 4. Operate"):
            assert step in deploy, f"{name}: {step}"
        assert "cd infra/bootstrap" in deploy and "docs/runbook.md" in deploy, name


def test_the_guide_says_where_the_first_retrain_reads(rendered):
    """The first retrain after a deploy found an empty prefix; the guide puts the sample where
    retrain.yml reads, named by an output the root module has."""
    for name, files in rendered.items():
        deploy = files["docs/README.md"]
        if "infra/modules/storage/main.tf" not in files:
            assert "`DATA_URI` variable" in deploy, name
            continue
        command = re.search(r"```bash\n   (.*data/sample\.csv.*)\n   ```", deploy)
        assert command, name
        output = re.search(r"Terraform output `([a-z_]+)`", deploy)
        assert output and f'output "{output.group(1)}"' in files["infra/outputs.tf"], name
        retrain = files[".github/workflows/retrain.yml"]
        zone = re.search(r"data_uri=[a-z0-9]+://[^ \"]*?([a-z]+)(?:@|\" >>)", retrain)
        assert zone and zone.group(1) == "raw", name
        assert "/raw/" in command.group(1) or "--container-name raw" in command.group(1), name


def test_the_guide_lists_what_the_team_writes_before_a_component_works(rendered, plans):
    """A component built without the code it runs (the catalog's team_code), or a stream consumer
    wired to another kind of stream than the planned one, is named in the deployment guide with
    what to write, and only those."""
    listed = 0
    for name, files in rendered.items():
        plan, _ = plans[name]()
        catalog = load_catalog(plan.cloud)
        patterns = {c.capability: catalog.pattern(c.pattern_id) for c in plan.components}
        deploy = files["docs/README.md"]
        stream, processor = patterns.get("ingest_stream"), patterns.get("stream_processing")
        unwired = bool(stream and processor and processor.consumes is not None
                       and stream.service not in processor.consumes)
        for capability, pattern in patterns.items():
            expected = bool(pattern and pattern.team_code) or (capability == "stream_processing" and unwired)
            assert (f"- `{capability}` (" in deploy) == expected, f"{name}: {capability}"
            listed += expected
    assert listed, "some fixture plan has a component the team completes"


def test_the_guide_says_where_a_stream_consumers_failures_are_kept(rendered):
    """Failed batches (a queue) or dead letters (a subscription): the guide names the output and
    how to get them back, where the plan has a stream consumer that keeps them."""
    for name, files in rendered.items():
        outputs = re.findall(r'^output "([a-z_]+(?:_failed_batches_queue_url|_dead_letter_subscription))"',
                             files["infra/outputs.tf"], re.M)
        deploy = files["docs/README.md"]
        consumer = "infra/modules/stream_processing/main.tf" in files
        if outputs and consumer:
            assert f"output -raw {outputs[0]})" in deploy, name
        else:
            assert "Failed stream batches" not in deploy and "Dead letters" not in deploy, name
    assert "Dead letters" in rendered["gcp_streaming"]["docs/README.md"]


def test_the_deploy_guide_promises_smoke_and_load_tests_only_where_deploy_runs_them(rendered):
    """A batch or streaming plan has no online API: its guide said the deploy smoke-tests /predict."""
    for name, files in rendered.items():
        guide, deploy = files["docs/README.md"], files[".github/workflows/deploy.yml"]
        serves = "Smoke test" in deploy
        assert ("smoke-tests\n   `/readyz` and `/predict`" in guide) == serves, name
        assert ("serves no online API" in guide) == (not serves), name
