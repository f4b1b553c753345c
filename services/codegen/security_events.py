"""The account events that must reach a person at once, read from the cloud's audit log.

They follow the CIS Foundations Benchmarks' monitoring controls of each cloud:
- AWS (Security Hub CloudWatch.1 to .14, without AWS Config's): a metric filter on the trail's log
  group per event and an alarm on each, notifying the alarms' topic;
- Google Cloud (CIS 2.4 to 2.10): a log-match alert policy per event on the audit logs, notifying
  the on-call channel;
- Azure (CIS 5.2): an activity log alert per operation, notifying the on-call action group.
One table per cloud renders both the Terraform (`infra/modules/audit_logging`) and the runbook's
section, so every alert there has its instructions.

Changes the CI deploy identities make are what a reviewed apply does: on AWS and Google Cloud their
calls are left out of the change events (IAM, network, bucket policy, trail), so a page means a
change made outside the pipeline. Root use, sign-ins without MFA, refused calls and a key's
deletion page whoever made them. Azure's activity log alerts cannot leave a caller out: there a
change the deploy made also pages, and the runbook says to compare it with the deploy's run.
"""

from __future__ import annotations

from dataclasses import dataclass

from .render_hcl import Block, Raw, document


@dataclass(frozen=True)
class AwsEvent:
    key: str
    title: str
    pattern: str  # a CloudWatch Logs JSON filter pattern's conditions, without braces
    action: str
    deployer_changes: bool = False  # the CI deploy roles make such changes on every apply
    threshold: int = 1  # events in five minutes that page


# ---- AWS: metric filters on the trail's log group, an alarm on each ----

def _any_event(*names: str, source: str = "") -> str:
    names_or = " || ".join(f"($.eventName = {name})" for name in names)
    return f"($.eventSource = {source}) && ({names_or})" if source else names_or


_NETWORK = ("An opened port or a new route can expose the private network: compare with infra/ and revert by "
            "re-running the last deploy; revoke what nobody made on purpose.")
#: CloudWatch Logs accepts filter patterns of at most this many characters.
MAX_PATTERN = 1024

AWS_EVENTS: tuple[AwsEvent, ...] = (
    AwsEvent("root-account-usage", "the root user was used",
                  '$.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && '
                  '$.eventType != "AwsServiceEvent"',
                  "Ask who holds the root credentials and why they were used; if nobody knows, rotate the root "
                  "password and its MFA device now and review the trail for what the session did."),
    AwsEvent("console-signin-without-mfa", "a console sign-in without MFA",
                  '($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
                  '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success")',
                  "Require MFA for that user (or remove the user: people sign in through your identity "
                  "provider); check what the session did in the trail."),
    AwsEvent("unauthorized-api-calls", "repeated refused API calls",
                  '($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*")',
                  "The trail names the caller and the refused action: a misconfigured job after a change "
                  "(fix its policy in infra/) or someone probing (disable the credentials, then investigate).",
                  threshold=10),
    AwsEvent("kms-key-disabled-or-deleted", "a customer-managed key was disabled or scheduled for deletion",
                  _any_event("DisableKey", "ScheduleKeyDeletion", source="kms.amazonaws.com"),
                  "Data encrypted with the key becomes unreadable: cancel the deletion (CancelKeyDeletion) or "
                  "enable the key unless the change was planned, then find who made it."),
    AwsEvent("iam-policy-changes", "an IAM policy changed outside the pipeline",
                  _any_event("DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy",
                             "PutRolePolicy", "PutUserPolicy", "CreatePolicy", "DeletePolicy", "CreatePolicyVersion",
                             "DeletePolicyVersion", "AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy",
                             "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy"),
                  "Compare the change with infra/: a hand edit drifts from the reviewed code and is undone by "
                  "the next apply; a change nobody made on purpose is revoked at once.",
                  deployer_changes=True),
    AwsEvent("trail-changes", "the audit trail's configuration changed outside the pipeline",
                  _any_event("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"),
                  "A stopped or changed trail loses the evidence compliance needs: restore it by re-running "
                  "the last deploy, then find who changed it.",
                  deployer_changes=True),
    AwsEvent("bucket-policy-changes", "a bucket's policy or ACL changed outside the pipeline",
                  _any_event("PutBucketAcl", "PutBucketPolicy", "PutBucketCors", "PutBucketLifecycle",
                             "PutBucketReplication", "DeleteBucketPolicy", "DeleteBucketCors",
                             "DeleteBucketLifecycle", "DeleteBucketReplication", source="s3.amazonaws.com"),
                  "Check that the bucket is still private (the data lake, the registry, the audit log); "
                  "re-running the last deploy restores what infra/ declares.",
                  deployer_changes=True),
    AwsEvent("security-group-changes", "a security group changed outside the pipeline",
                  _any_event("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
                             "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress", "CreateSecurityGroup",
                             "DeleteSecurityGroup"),
                  _NETWORK, deployer_changes=True),
    AwsEvent("network-acl-changes", "a network ACL changed outside the pipeline",
                  _any_event("CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl", "DeleteNetworkAclEntry",
                             "ReplaceNetworkAclEntry", "ReplaceNetworkAclAssociation"),
                  _NETWORK, deployer_changes=True),
    AwsEvent("network-gateway-changes", "a network gateway changed outside the pipeline",
                  _any_event("CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway",
                             "CreateInternetGateway", "DeleteInternetGateway", "DetachInternetGateway"),
                  _NETWORK, deployer_changes=True),
    AwsEvent("route-table-changes", "a route table changed outside the pipeline",
                  _any_event("CreateRoute", "CreateRouteTable", "ReplaceRoute", "ReplaceRouteTableAssociation",
                             "DeleteRouteTable", "DeleteRoute", "DisassociateRouteTable"),
                  _NETWORK, deployer_changes=True),
    AwsEvent("vpc-changes", "a VPC or its peering changed outside the pipeline",
                  _any_event("CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "AcceptVpcPeeringConnection",
                             "CreateVpcPeeringConnection", "DeleteVpcPeeringConnection",
                             "RejectVpcPeeringConnection"),
                  _NETWORK, deployer_changes=True),
)


def aws_filter(event: AwsEvent, deployers: list[str]) -> str:
    """The event's filter pattern; for a change event, without the calls of the CI deploy roles."""
    if not (event.deployer_changes and deployers):
        return "{ " + event.pattern + " }"
    issuer = "$.userIdentity.sessionContext.sessionIssuer.userName"
    # a comparison with a field the event lacks is false: a caller without a role session (an IAM
    # user, root) must match through NOT EXISTS, or the exclusion would hide them too
    others = " && ".join(f'({issuer} != "{d}")' for d in deployers)
    return "{ (" + event.pattern + f") && (({issuer} NOT EXISTS) || ({others})) }}"


def _aws_security(deployers: list[str]) -> str:
    """Metric filters and alarms for `infra/modules/audit_logging` (AWS), alarming through the
    monitoring module's topic where the plan has one."""
    events = {e.key: {"title": e.title, "pattern": aws_filter(e, deployers), "threshold": e.threshold}
              for e in AWS_EVENTS}
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


def _aws_runbook_md(deployers: list[str]) -> list[str]:
    """The runbook's section for the security alarms."""
    out = ["", "## security-events", "",
           "**An account event that must reach a person at once** (CIS AWS Foundations' CloudWatch controls), "
           "read from the audit trail's log group by `infra/modules/audit_logging`. Changes made by the CI deploy "
           f"roles ({', '.join(f'`{d}`' for d in deployers)}) are what a reviewed apply does and are left out of "
           "the change events.", "",
           "| alarm | fires when, in five minutes | what to do |", "|---|---|---|"]
    for e in AWS_EVENTS:
        when = e.title if e.threshold == 1 else f"{e.title} ({e.threshold} or more)"
        out.append(f"| `<name_prefix>-{e.key}` | {when} | {e.action} |")
    return out


# ---- Google Cloud: log-match alert policies on the audit logs ----

@dataclass(frozen=True)
class LogEvent:
    key: str
    title: str
    filter: str  # a Logging query
    action: str
    deployer_changes: bool = True


_GCP_CHANGE = "Compare the change with infra/ and undo what nobody made on purpose; re-running the last deploy restores what infra/ declares."
GCP_EVENTS: tuple[LogEvent, ...] = (
    LogEvent("project-ownership-changes", "a project owner was added or removed",
             '(protoPayload.serviceName="cloudresourcemanager.googleapis.com") AND (ProjectOwnership OR '
             'projectOwnerInvitee) OR (protoPayload.serviceData.policyDelta.bindingDeltas.action="REMOVE" AND '
             'protoPayload.serviceData.policyDelta.bindingDeltas.role="roles/owner") OR '
             '(protoPayload.serviceData.policyDelta.bindingDeltas.action="ADD" AND '
             'protoPayload.serviceData.policyDelta.bindingDeltas.role="roles/owner")',
             "Owners can do anything in the project: confirm the change with whoever made it, remove an owner "
             "nobody expected at once.", deployer_changes=False),
    LogEvent("audit-config-changes", "the audit log configuration changed",
             'protoPayload.methodName="SetIamPolicy" AND protoPayload.serviceData.policyDelta.auditConfigDeltas:*',
             "Turned-off audit logs lose the evidence compliance needs: restore them by re-running the last "
             "deploy, then find who changed them."),
    LogEvent("custom-role-changes", "a custom IAM role changed",
             'resource.type="iam_role" AND (protoPayload.methodName="google.iam.admin.v1.CreateRole" OR '
             'protoPayload.methodName="google.iam.admin.v1.DeleteRole" OR '
             'protoPayload.methodName="google.iam.admin.v1.UpdateRole")', _GCP_CHANGE),
    LogEvent("firewall-changes", "a VPC firewall rule changed",
             'resource.type="gce_firewall_rule" AND (protoPayload.methodName:"compute.firewalls.patch" OR '
             'protoPayload.methodName:"compute.firewalls.insert" OR protoPayload.methodName:"compute.firewalls.delete")',
             _GCP_CHANGE),
    LogEvent("route-changes", "a VPC route changed",
             'resource.type="gce_route" AND (protoPayload.methodName:"compute.routes.delete" OR '
             'protoPayload.methodName:"compute.routes.insert")', _GCP_CHANGE),
    LogEvent("network-changes", "a VPC network or its peering changed",
             'resource.type="gce_network" AND (protoPayload.methodName:"compute.networks.insert" OR '
             'protoPayload.methodName:"compute.networks.patch" OR protoPayload.methodName:"compute.networks.delete" OR '
             'protoPayload.methodName:"compute.networks.removePeering" OR '
             'protoPayload.methodName:"compute.networks.addPeering")', _GCP_CHANGE),
    LogEvent("bucket-iam-changes", "a bucket's IAM permissions changed",
             'resource.type="gcs_bucket" AND protoPayload.methodName="storage.setIamPermissions"',
             "Check that the bucket is still private (the data lake, the registry); " + _GCP_CHANGE),
    LogEvent("kms-key-destroyed", "a key version was scheduled for destruction or disabled",
             'protoPayload.serviceName="cloudkms.googleapis.com" AND '
             '(protoPayload.methodName:"DestroyCryptoKeyVersion" OR '
             '(protoPayload.methodName:"UpdateCryptoKeyVersion" AND protoPayload.request.cryptoKeyVersion.state="DISABLED"))',
             "Data encrypted with the key becomes unreadable: restore the version (RestoreCryptoKeyVersion) "
             "within its scheduled-destruction period unless the change was planned, then find who made it.",
             deployer_changes=False),
)


def gcp_filter(event: LogEvent, deployers: list[str]) -> str:
    """The event's query over the audit logs; for a change event, without the CI deploy accounts."""
    if not (event.deployer_changes and deployers):
        return f"({event.filter})"
    accounts = "|".join(deployers)
    return f'({event.filter}) AND NOT protoPayload.authenticationInfo.principalEmail=~"^({accounts})@"'


def _gcp_security(deployers: list[str]) -> str:
    events = {e.key: {"title": e.title, "filter": gcp_filter(e, deployers)} for e in GCP_EVENTS}
    local = Block("locals", groups=[[("security_events", events)]],
                  comment="The account events that page at once (docs/runbook.md#security-events), from "
                          "services/codegen/security_events.py.")
    condition = Block("conditions", groups=[[("display_name", Raw("each.value.title"))]],
                      blocks=[Block("condition_matched_log", groups=[[("filter", Raw("each.value.filter"))]])])
    strategy = Block("alert_strategy", blocks=[Block("notification_rate_limit", groups=[[("period", "300s")]])])
    docs = Block("documentation", groups=[[("content", Raw('"${each.value.title}. Runbook: docs/runbook.md#security-events"')),
                                           ("mime_type", "text/markdown")]])
    policy = Block("resource", ("google_monitoring_alert_policy", "security"), groups=[
        [("for_each", Raw("var.wired_notification_channel_id ? local.security_events : {}"))],
        [("project", Raw("var.project_id")), ("display_name", Raw('"${var.name_prefix} ${each.value.title}"')),
         ("combiner", "OR"), ("notification_channels", Raw("[var.notification_channel_id]")),
         ("user_labels", Raw("var.tags"))]],
        blocks=[condition, strategy, docs],
        comment="Without a monitoring module there is no channel to notify: the audit logs still keep the events.")
    return document([local, policy])


# ---- Azure: activity log alerts ----

@dataclass(frozen=True)
class Operation:
    key: str
    title: str
    operations: tuple[str, ...]
    action: str


_AZURE_CHANGE = ("Compare the change with the last deploy's run (deploy.yml) and with infra/: a change the deploy "
                 "did not make is undone by re-running it; revoke what nobody made on purpose.")
AZURE_EVENTS: tuple[Operation, ...] = (
    Operation("policy-assignment-changes", "a policy assignment was created or deleted",
              ("Microsoft.Authorization/policyAssignments/write", "Microsoft.Authorization/policyAssignments/delete"),
              _AZURE_CHANGE),
    Operation("network-security-group-changes", "a network security group or one of its rules changed",
              ("Microsoft.Network/networkSecurityGroups/write", "Microsoft.Network/networkSecurityGroups/delete",
               "Microsoft.Network/networkSecurityGroups/securityRules/write",
               "Microsoft.Network/networkSecurityGroups/securityRules/delete"), _AZURE_CHANGE),
    Operation("public-ip-changes", "a public IP address was created or deleted",
              ("Microsoft.Network/publicIPAddresses/write", "Microsoft.Network/publicIPAddresses/delete"),
              "A public address can expose a service to the internet. " + _AZURE_CHANGE),
    Operation("security-solution-changes", "a security solution was created or deleted",
              ("Microsoft.Security/securitySolutions/write", "Microsoft.Security/securitySolutions/delete"),
              _AZURE_CHANGE),
)


def _op_key(operation: str) -> str:
    """An alert's key: the operation's resource type and verb (`securityrules-write`)."""
    return "-".join(operation.lower().split("/")[-2:])


def _azure_security() -> str:
    # one alert per operation, named after its resource type and verb (securityrules-write)
    ops = {_op_key(op): {"title": e.title, "operation": op} for e in AZURE_EVENTS for op in e.operations}
    local = Block("locals", groups=[[("security_operations", ops)]],
                  comment="The subscription's operations that page at once (docs/runbook.md#security-events), "
                          "from services/codegen/security_events.py.")
    alert = Block("resource", ("azurerm_monitor_activity_log_alert", "security"), groups=[
        [("for_each", Raw("var.wired_action_group_id ? local.security_operations : {}"))],
        [("name", Raw('"${var.name_prefix}-${each.key}"')), ("resource_group_name", Raw("var.resource_group_name")),
         ("location", "global"), ("scopes", Raw("[data.azurerm_subscription.current.id]")),
         ("description", Raw('"${each.value.title}. Runbook: docs/runbook.md#security-events"')),
         ("tags", Raw("var.tags"))]],
        blocks=[Block("criteria", groups=[[("category", "Administrative"), ("operation_name", Raw("each.value.operation"))]]),
                Block("action", groups=[[("action_group_id", Raw("var.action_group_id"))]])],
        comment="Without a monitoring module there is no action group to notify: the activity log still keeps "
                "the operations.")
    return document([local, alert])


def render_cloud_security(cloud: str, deployers: list[str]) -> str:
    """The audit module's security alerts for `cloud`."""
    if cloud == "aws":
        return _aws_security(deployers)
    return _gcp_security(deployers) if cloud == "gcp" else _azure_security()


def cloud_security_runbook_md(cloud: str, deployers: list[str]) -> list[str]:
    """The runbook's security section for `cloud`."""
    if cloud == "aws":
        return _aws_runbook_md(deployers)
    head = ["", "## security-events", ""]
    if cloud == "gcp":
        head += ["**An event in the audit logs that must reach a person at once** (CIS Google Cloud Foundations' "
                 "log-based alerts), watched by `infra/modules/audit_logging`. Changes made by the CI deploy "
                 f"accounts ({', '.join(f'`{d}@…`' for d in deployers)}) are what a reviewed apply does and are left "
                 "out of the change events.", "", "| alert | fires when | what to do |", "|---|---|---|"]
        head += [f"| `<name_prefix> {e.title}` | {e.title} | {e.action} |" for e in GCP_EVENTS]
    else:
        head += ["**An operation in the subscription's activity log that must reach a person at once** (CIS Azure "
                 "Foundations' activity log alerts), watched by `infra/modules/audit_logging`. An activity log alert "
                 "cannot leave a caller out: a change the deploy made pages too.", "",
                 "| alerts | fire when | what to do |", "|---|---|---|"]
        head += [f"| {', '.join(f'`<name_prefix>-{_op_key(op)}`' for op in e.operations)} | {e.title} | {e.action} |"
                 for e in AZURE_EVENTS]
    return head
