"""The audit trail's security alarms: what pages, what a reviewed deploy may change, what fits."""

from __future__ import annotations

import re

from services.codegen.cicd_names import ENVIRONMENTS, CiNames
from services.codegen.security_events import MAX_PATTERN, SECURITY_EVENTS, filter_pattern

LONGEST_SLUG = "p-" + "x" * 24  # slugify's limit, after the prefix a digit-first name gets


def _deployers(slug: str) -> list[str]:
    return [CiNames("aws", slug).deploy_identity(env) for env in ENVIRONMENTS]


def test_every_pattern_fits_cloudwatch_logs_for_the_longest_project_name():
    deployers = _deployers(LONGEST_SLUG)
    for event in SECURITY_EVENTS:
        assert len(filter_pattern(event, deployers)) <= MAX_PATTERN, event.key
    assert len({e.key for e in SECURITY_EVENTS}) == len(SECURITY_EVENTS)


def test_only_change_events_leave_out_the_deploy_roles_and_never_callers_without_a_role():
    """A reviewed apply changes IAM, the network and bucket policies every time; a person doing it
    by hand must still page, including an IAM user or root, whose events have no role session."""
    deployers = _deployers("fraud")
    for event in SECURITY_EVENTS:
        pattern = filter_pattern(event, deployers)
        excluded = re.findall(r'sessionIssuer\.userName != "([^"]+)"', pattern)
        if event.deployer_changes:
            assert excluded == deployers, event.key
            assert "sessionIssuer.userName NOT EXISTS) ||" in pattern, event.key
        else:
            assert not excluded, f"{event.key} must page whoever causes it"
        assert pattern.startswith("{ ") and pattern.endswith(" }") and pattern.count("(") == pattern.count(")")
    assert {e.key for e in SECURITY_EVENTS if not e.deployer_changes} >= {
        "root-account-usage", "console-signin-without-mfa", "kms-key-disabled-or-deleted"}


def test_an_audited_plan_pages_security_events_through_the_alarms_topic(rendered):
    seen = 0
    for name, files in rendered.items():
        audit = files.get("infra/modules/audit_logging/main.tf", "")
        runbook = files["docs/runbook.md"]
        if not (name.startswith("aws") and audit):
            assert "aws_cloudwatch_log_metric_filter" not in audit and "## security-events" not in runbook, name
            continue
        assert 'resource "aws_cloudwatch_log_metric_filter" "security"' in audit
        assert "log_group_name = aws_cloudwatch_log_group.trail.name" in audit
        assert "alarm_actions       = [var.alerts_topic_arn]" in audit
        module = re.search(r'module "audit_logging" \{.*?\n\}', files["infra/main.tf"], re.S).group(0)
        assert ("monitoring" in files["infra/main.tf"]) == bool(re.search(r"wired_alerts_topic_arn\s+= true", module))
        section = runbook[runbook.index("## security-events"):]
        for event in SECURITY_EVENTS:
            assert f"{event.key} = {{" in audit and f"`<name_prefix>-{event.key}`" in section, (name, event.key)
        seen += 1
    assert seen
