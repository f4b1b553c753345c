"""The account events that must reach a person at once, read from the audit trail (AWS).

They are the CIS AWS Foundations Benchmark's CloudWatch controls (Security Hub CloudWatch.1 to
.14, without AWS Config's): a metric filter on the trail's log group per event, an alarm on each,
notifying the alarms' topic. One table renders both the Terraform (`infra/modules/audit_logging`)
and the runbook's section, so every alarm there has its instructions.

Changes the CI deploy roles make are what a reviewed apply does: their calls are left out of the
change events (IAM, network, bucket policy, trail), so a page means a change made outside the
pipeline. Root use, sign-ins without MFA, refused calls and a key's deletion page whoever made them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .render_hcl import Block, Raw, document


@dataclass(frozen=True)
class SecurityEvent:
    key: str
    title: str
    pattern: str  # a CloudWatch Logs JSON filter pattern's conditions, without braces
    action: str
    deployer_changes: bool = False  # the CI deploy roles make such changes on every apply
    threshold: int = 1  # events in five minutes that page


def _any_event(*names: str, source: str = "") -> str:
    names_or = " || ".join(f"($.eventName = {name})" for name in names)
    return f"($.eventSource = {source}) && ({names_or})" if source else names_or


_NETWORK = ("An opened port or a new route can expose the private network: compare with infra/ and revert by "
            "re-running the last deploy; revoke what nobody made on purpose.")
#: CloudWatch Logs accepts filter patterns of at most this many characters.
MAX_PATTERN = 1024

SECURITY_EVENTS: tuple[SecurityEvent, ...] = (
    SecurityEvent("root-account-usage", "the root user was used",
                  '$.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && '
                  '$.eventType != "AwsServiceEvent"',
                  "Ask who holds the root credentials and why they were used; if nobody knows, rotate the root "
                  "password and its MFA device now and review the trail for what the session did."),
    SecurityEvent("console-signin-without-mfa", "a console sign-in without MFA",
                  '($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
                  '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success")',
                  "Require MFA for that user (or remove the user: people sign in through your identity "
                  "provider); check what the session did in the trail."),
    SecurityEvent("unauthorized-api-calls", "repeated refused API calls",
                  '($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*")',
                  "The trail names the caller and the refused action: a misconfigured job after a change "
                  "(fix its policy in infra/) or someone probing (disable the credentials, then investigate).",
                  threshold=10),
    SecurityEvent("kms-key-disabled-or-deleted", "a customer-managed key was disabled or scheduled for deletion",
                  _any_event("DisableKey", "ScheduleKeyDeletion", source="kms.amazonaws.com"),
                  "Data encrypted with the key becomes unreadable: cancel the deletion (CancelKeyDeletion) or "
                  "enable the key unless the change was planned, then find who made it."),
    SecurityEvent("iam-policy-changes", "an IAM policy changed outside the pipeline",
                  _any_event("DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy",
                             "PutRolePolicy", "PutUserPolicy", "CreatePolicy", "DeletePolicy", "CreatePolicyVersion",
                             "DeletePolicyVersion", "AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy",
                             "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy"),
                  "Compare the change with infra/: a hand edit drifts from the reviewed code and is undone by "
                  "the next apply; a change nobody made on purpose is revoked at once.",
                  deployer_changes=True),
    SecurityEvent("trail-changes", "the audit trail's configuration changed outside the pipeline",
                  _any_event("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"),
                  "A stopped or changed trail loses the evidence compliance needs: restore it by re-running "
                  "the last deploy, then find who changed it.",
                  deployer_changes=True),
    SecurityEvent("bucket-policy-changes", "a bucket's policy or ACL changed outside the pipeline",
                  _any_event("PutBucketAcl", "PutBucketPolicy", "PutBucketCors", "PutBucketLifecycle",
                             "PutBucketReplication", "DeleteBucketPolicy", "DeleteBucketCors",
                             "DeleteBucketLifecycle", "DeleteBucketReplication", source="s3.amazonaws.com"),
                  "Check that the bucket is still private (the data lake, the registry, the audit log); "
                  "re-running the last deploy restores what infra/ declares.",
                  deployer_changes=True),
    SecurityEvent("security-group-changes", "a security group changed outside the pipeline",
                  _any_event("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
                             "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress", "CreateSecurityGroup",
                             "DeleteSecurityGroup"),
                  _NETWORK, deployer_changes=True),
    SecurityEvent("network-acl-changes", "a network ACL changed outside the pipeline",
                  _any_event("CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl", "DeleteNetworkAclEntry",
                             "ReplaceNetworkAclEntry", "ReplaceNetworkAclAssociation"),
                  _NETWORK, deployer_changes=True),
    SecurityEvent("network-gateway-changes", "a network gateway changed outside the pipeline",
                  _any_event("CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway",
                             "CreateInternetGateway", "DeleteInternetGateway", "DetachInternetGateway"),
                  _NETWORK, deployer_changes=True),
    SecurityEvent("route-table-changes", "a route table changed outside the pipeline",
                  _any_event("CreateRoute", "CreateRouteTable", "ReplaceRoute", "ReplaceRouteTableAssociation",
                             "DeleteRouteTable", "DeleteRoute", "DisassociateRouteTable"),
                  _NETWORK, deployer_changes=True),
    SecurityEvent("vpc-changes", "a VPC or its peering changed outside the pipeline",
                  _any_event("CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "AcceptVpcPeeringConnection",
                             "CreateVpcPeeringConnection", "DeleteVpcPeeringConnection",
                             "RejectVpcPeeringConnection"),
                  _NETWORK, deployer_changes=True),
)


def filter_pattern(event: SecurityEvent, deployers: list[str]) -> str:
    """The event's filter pattern; for a change event, without the calls of the CI deploy roles."""
    if not (event.deployer_changes and deployers):
        return "{ " + event.pattern + " }"
    issuer = "$.userIdentity.sessionContext.sessionIssuer.userName"
    # a comparison with a field the event lacks is false: a caller without a role session (an IAM
    # user, root) must match through NOT EXISTS, or the exclusion would hide them too
    others = " && ".join(f'({issuer} != "{d}")' for d in deployers)
    return "{ (" + event.pattern + f") && (({issuer} NOT EXISTS) || ({others})) }}"


def render_security_alarms(deployers: list[str]) -> str:
    """Metric filters and alarms for `infra/modules/audit_logging` (AWS), alarming through the
    monitoring module's topic where the plan has one."""
    events = {e.key: {"title": e.title, "pattern": filter_pattern(e, deployers), "threshold": e.threshold}
              for e in SECURITY_EVENTS}
    local = Block("locals", groups=[[("security_events", events)]],
                  comment="The account events that page at once (docs/runbook.md#security-events), from "
                          "services/codegen/security_events.py.")
    metric_filter = Block("resource", ("aws_cloudwatch_log_metric_filter", "security"), groups=[
        [("for_each", Raw("local.security_events"))],
        [("name", Raw('"${var.name_prefix}-${each.key}"')), ("log_group_name", Raw("aws_cloudwatch_log_group.trail.name")),
         ("pattern", Raw("each.value.pattern"))]],
        blocks=[Block("metric_transformation", groups=[[("name", Raw("each.key")),
                                                        ("namespace", Raw('"${var.name_prefix}/security"')),
                                                        ("value", "1"), ("default_value", "0")]])])
    alarm = Block("resource", ("aws_cloudwatch_metric_alarm", "security"), groups=[
        [("for_each", Raw("var.wired_alerts_topic_arn ? local.security_events : {}"))],
        [("alarm_name", Raw('"${var.name_prefix}-${each.key}"')),
         ("alarm_description", Raw('"${each.value.title}. Runbook: docs/runbook.md#security-events"')),
         ("namespace", Raw('"${var.name_prefix}/security"')), ("metric_name", Raw("each.key")),
         ("statistic", "Sum"), ("period", 300), ("evaluation_periods", 1), ("threshold", Raw("each.value.threshold")),
         ("comparison_operator", "GreaterThanOrEqualToThreshold"), ("treat_missing_data", "notBreaching"),
         ("alarm_actions", Raw("[var.alerts_topic_arn]")), ("tags", Raw("var.tags"))]],
        comment="Without a monitoring module there is no topic to notify: the filters still count.")
    return document([local, metric_filter, alarm])


def security_runbook_md(deployers: list[str]) -> list[str]:
    """The runbook's section for the security alarms."""
    out = ["", "## security-events", "",
           "**An account event that must reach a person at once** (CIS AWS Foundations' CloudWatch controls), "
           "read from the audit trail's log group by `infra/modules/audit_logging`. Changes made by the CI deploy "
           f"roles ({', '.join(f'`{d}`' for d in deployers)}) are what a reviewed apply does and are left out of "
           "the change events.", "",
           "| alarm | fires when, in five minutes | what to do |", "|---|---|---|"]
    for e in SECURITY_EVENTS:
        when = e.title if e.threshold == 1 else f"{e.title} ({e.threshold} or more)"
        out.append(f"| `<name_prefix>-{e.key}` | {when} | {e.action} |")
    return out

