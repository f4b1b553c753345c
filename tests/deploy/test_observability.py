"""deploy/observability/: the Grafana dashboard and the Prometheus alert rules name only metrics the
services export, the rules are well-formed, and the provisioning files point at each other."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from deploy_helpers import DEPLOY

OBS = DEPLOY / "observability"
DASHBOARD = OBS / "grafana" / "dashboards" / "amp.json"
#: PromQL words that look like metric names: aggregations, functions, keywords.
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "le", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are neither a function call
    nor a keyword, with label matchers, grouping lists, strings and durations taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)                      # strings
    text = re.sub(r"\{[^}]*\}", "", text)                                 # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)                                # range and subquery durations
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\boffset\s+\w+", "", text)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = m.group(0)
        if word.lower() in PROMQL_WORDS or text[m.end():].lstrip().startswith("("):
            continue
        if re.fullmatch(r"\d+[smhdwy]", word) or (m.start() > 0 and text[m.start() - 1].isdigit()):
            continue  # a number's exponent such as 1e-9
        names.add(word)
    return names


def test_the_tokenizer_finds_metrics_not_functions() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, node) (rate(amp_step_duration_seconds_bucket{x="a b"}[5m]))) '
            '/ clamp_min(sum(rate(http_requests_total[5m] offset 1h)), 1e-9) > 3 * max(up)')
    assert metric_names(expr) == {"amp_step_duration_seconds_bucket", "http_requests_total", "up"}


def exported() -> set[str]:
    """Every sample name the services' registry can produce: the platform's metrics, and the HTTP
    metrics the gateway's instrumentation registers when its app is built."""
    from amp_runtime import metrics  # noqa: F401 - registers the platform's metrics
    from amp_runtime.settings import Settings
    from prometheus_client import REGISTRY

    from services.gateway.app import create_app

    app = create_app(Settings())
    app.build_middleware_stack()  # the HTTP metrics are registered when the middleware is built
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
                "summary": ("_count", "_sum", "_created"), "gauge": ("",), "info": ("_info",)}
    names: set[str] = set()
    for family in REGISTRY.collect():
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def dashboard_exprs() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]


def alert_rules() -> list[dict]:
    return [r for g in yaml.safe_load((OBS / "alerts.yml").read_text())["groups"] for r in g["rules"]]


def test_every_metric_the_dashboard_and_the_alerts_name_is_exported() -> None:
    names = exported()
    used = {n for e in dashboard_exprs() + [r["expr"] for r in alert_rules()] for n in metric_names(e)}
    assert used, "no metric found: the tokenizer or the files are broken"
    missing = sorted(used - names - {"up"})  # `up` is Prometheus's own, per scrape target
    assert not missing, f"named but never exported: {missing}"


@pytest.mark.parametrize("needle", ["amp_time_to_artifact_seconds", "amp_step_duration_seconds",
                                    "amp_sse_disconnects_total", "amp_step_retries_total", "amp_llm_errors_total",
                                    "amp_cost_delta_usd", "amp_llm_tokens_total"])
def test_the_dashboard_shows_what_operators_ask_for(needle) -> None:
    assert any(needle in e for e in dashboard_exprs())


def test_alert_rules_are_complete() -> None:
    rules = alert_rules()
    for r in rules:
        assert r["alert"] and r["expr"] and r["labels"]["severity"] and r["annotations"]["summary"], r
        assert r["expr"].count("(") == r["expr"].count(")"), r["alert"]
    exprs = " ".join(r["expr"] for r in rules)
    for metric in ("http_requests_total", "amp_step_retries_total", "amp_dlq_messages", "amp_policy_outcomes_total",
                   "amp_budget_checks_total", "amp_gates_reminded_waiting"):
        assert metric in exprs, f"no alert on {metric}"


def test_provisioning_points_at_the_files() -> None:
    prom = yaml.safe_load((OBS / "prometheus.yml").read_text())
    assert prom["rule_files"] == ["/etc/prometheus/alerts.yml"]
    from amp_cli.main import SERVICES

    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    names = [n for job in jobs.values() for sd in job["dns_sd_configs"] for n in sd["names"]]
    assert sorted(names) == sorted(SERVICES)  # every service scraped, once
    assert all(sd["port"] == 8080 for job in jobs.values() for sd in job["dns_sd_configs"])
    # the gateway's /metrics answers a signed-in caller only: its job sends a bearer token
    gateway_job = next(job for job in jobs.values() if "gateway" in job["dns_sd_configs"][0]["names"])
    assert gateway_job["authorization"]["type"] == "Bearer" and gateway_job["authorization"]["credentials_file"]
    sources = yaml.safe_load((OBS / "grafana" / "provisioning" / "datasources" / "datasources.yaml").read_text())
    uids = {d["uid"] for d in sources["datasources"]}
    doc = json.loads(DASHBOARD.read_text())
    assert {p["datasource"]["uid"] for p in doc["panels"]} <= uids
    collector = yaml.safe_load((OBS / "otel-collector.yaml").read_text())
    assert set(collector["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
