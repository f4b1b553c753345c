"""The audit trail's security alarms: what pages, what a reviewed deploy may change, what fits."""

from __future__ import annotations

import re

from services.codegen.cicd_names import ENVIRONMENTS, CiNames
from services.codegen.security_events import (
    AWS_EVENTS,
    AZURE_EVENTS,
    GCP_EVENTS,
    MAX_PATTERN,
    aws_filter,
    gcp_filter,
)

LONGEST_SLUG = "p-" + "x" * 24  # slugify's limit, after the prefix a digit-first name gets


def _deployers(slug: str) -> list[str]:
    return [CiNames("aws", slug).deploy_identity(env) for env in ENVIRONMENTS]


def test_every_pattern_fits_cloudwatch_logs_for_the_longest_project_name():
    deployers = _deployers(LONGEST_SLUG)
    for event in AWS_EVENTS:
        assert len(aws_filter(event, deployers)) <= MAX_PATTERN, event.key
    assert len({e.key for e in AWS_EVENTS}) == len(AWS_EVENTS)


def test_only_change_events_leave_out_the_deploy_roles_and_never_callers_without_a_role():
    """A reviewed apply changes IAM, the network and bucket policies every time; a person doing it
    by hand must still page, including an IAM user or root, whose events have no role session."""
    deployers = _deployers("fraud")
    for event in AWS_EVENTS:
        pattern = aws_filter(event, deployers)
        excluded = re.findall(r'sessionIssuer\.userName != "([^"]+)"', pattern)
        if event.deployer_changes:
            assert excluded == deployers, event.key
            assert "sessionIssuer.userName NOT EXISTS) ||" in pattern, event.key
        else:
            assert not excluded, f"{event.key} must page whoever causes it"
        assert pattern.startswith("{ ") and pattern.endswith(" }") and pattern.count("(") == pattern.count(")")
    assert {e.key for e in AWS_EVENTS if not e.deployer_changes} >= {
        "root-account-usage", "console-signin-without-mfa", "kms-key-disabled-or-deleted"}


def test_an_audited_plan_pages_security_events_through_the_alarms_topic(rendered):
    seen = 0
    for name, files in rendered.items():
        audit = files.get("infra/modules/audit_logging/main.tf", "")
        runbook = files["docs/runbook.md"]
        if not audit:
            assert "## security-events" not in runbook, name
            continue
        if not name.startswith("aws"):
            continue
        assert 'resource "aws_cloudwatch_log_metric_filter" "security"' in audit
        assert "log_group_name = aws_cloudwatch_log_group.trail.name" in audit
        assert "alarm_actions       = [var.alerts_topic_arn]" in audit
        module = re.search(r'module "audit_logging" \{.*?\n\}', files["infra/main.tf"], re.S).group(0)
        assert ("monitoring" in files["infra/main.tf"]) == bool(re.search(r"wired_alerts_topic_arn\s+= true", module))
        section = runbook[runbook.index("## security-events"):]
        for event in AWS_EVENTS:
            assert f"{event.key} = {{" in audit and f"`<name_prefix>-{event.key}`" in section, (name, event.key)
        seen += 1
    assert seen


def test_google_cloud_pages_audit_log_events_except_the_deploys_changes(rendered):
    deployers = [CiNames("gcp", "fraud").deploy_identity(env) for env in ENVIRONMENTS]
    for event in GCP_EVENTS:
        query = gcp_filter(event, deployers)
        assert ("principalEmail=~" in query) == event.deployer_changes, event.key
        assert query.count("(") == query.count(")"), event.key
    assert not [e for e in GCP_EVENTS if e.key.startswith("project-ownership") and e.deployer_changes]
    files = rendered["gcp_full"]
    audit = files["infra/modules/audit_logging/main.tf"]
    assert 'resource "google_monitoring_alert_policy" "security"' in audit and "condition_matched_log" in audit
    assert "for_each = var.wired_notification_channel_id ? local.security_events : {}" in audit
    assert re.search(r"wired_notification_channel_id\s+= true", files["infra/main.tf"])
    section = files["docs/runbook.md"].split("## security-events", 1)[1]
    for event in GCP_EVENTS:
        assert f"{event.key} = {{" in audit and event.title in section, event.key


def test_azure_pages_each_watched_operation_of_the_subscription(rendered):
    files = rendered["azure_full"]
    audit = files["infra/modules/audit_logging/main.tf"]
    operations = [op for e in AZURE_EVENTS for op in e.operations]
    assert len(re.findall(r'operation = "([^"]+)"', audit)) == len(operations), "one alert per operation"
    for op in operations:
        assert f'operation = "{op}"' in audit, op
    assert 'resource "azurerm_monitor_activity_log_alert" "security"' in audit
    assert "action_group_id = var.action_group_id" in audit and 'location            = "global"' in audit
    assert re.search(r"wired_action_group_id\s+= true", files["infra/main.tf"])
    assert "## security-events" in files["docs/runbook.md"]
