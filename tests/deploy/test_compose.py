"""deploy/compose.yaml against the Compose Specification's JSON Schema (vendored), and what the
platform needs of it: every service healthy-checked, migrations first, state only on volumes."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml
from deploy_helpers import DEPLOY, SCHEMAS, services, settings_env_names

COMPOSE = DEPLOY / "compose.yaml"
ONE_SHOTS = {"migrate", "minio-init"}
#: The `observability` profile's images without a shell or HTTP client to run a health check with.
DISTROLESS = {"otel-collector", "jaeger"}


def optional(svc: dict) -> bool:
    """A service of an opt-in profile (observability), not part of the platform itself."""
    return bool(svc.get("profiles"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_valid_against_the_compose_spec(compose) -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    jsonschema.validate(compose, schema, cls=jsonschema.Draft7Validator)


def test_the_schema_check_is_not_vacuous(compose) -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["gateway"]["healthcheck"] = {"interval": "15s", "retrys": 3}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft7Validator)


def test_one_service_per_platform_process(compose) -> None:
    svc = compose["services"]
    for name in services():
        assert name in svc, f"no compose service runs {name}"
        assert svc[name]["command"][:3] == ["amp", "serve", name]
        assert svc[name]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_every_long_running_service_has_a_healthcheck(compose) -> None:
    for name, svc in compose["services"].items():
        if name in ONE_SHOTS or name in DISTROLESS:
            continue
        check = svc.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        if name in services():
            assert any("/healthz" in part for part in check["test"])


def test_migrations_run_once_before_the_services(compose) -> None:
    svc = compose["services"]
    assert svc["migrate"]["command"] == ["amp", "db", "upgrade"] and svc["migrate"]["restart"] == "no"
    assert svc["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in services():
        deps = svc[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["nats"]["condition"] == "service_healthy"


def test_nats_has_jetstream_on_a_volume(compose) -> None:
    nats = compose["services"]["nats"]
    cmd = nats["command"]
    assert "--jetstream" in cmd or "-js" in cmd
    store = cmd[cmd.index("--store_dir") + 1]
    assert any(v.split(":")[1] == store and v.split(":")[0] in compose["volumes"] for v in nats["volumes"])


def test_state_lives_only_in_nats_postgres_and_s3(compose) -> None:
    """Named volumes belong to the three stores; platform services keep nothing on a volume."""
    stateful = {name for name, svc in compose["services"].items() if svc.get("volumes") and not optional(svc)}
    assert stateful == {"nats", "postgres", "minio"}
    for name in services():
        env = compose["services"][name]["environment"]
        assert env["AMP_S3_BUCKET"] and env["NATS_URL"].startswith("nats://nats:")
        assert env["DATABASE_URL"].startswith("postgresql://amp:${AMP_DB_PASSWORD:?")


def test_the_gateway_is_published_and_nothing_else_but_s3_downloads(compose) -> None:
    published = {name for name, svc in compose["services"].items() if svc.get("ports") and not optional(svc)}
    assert published == {"gateway", "minio"}
    for name, svc in compose["services"].items():
        if optional(svc):  # the dashboards and Prometheus are for whoever sits at the host
            assert all(p.startswith("127.0.0.1:") for p in svc.get("ports") or []), name
    (port,) = compose["services"]["gateway"]["ports"]
    assert port.endswith(":8080") and port.startswith("${AMP_BIND:-127.0.0.1}")
    assert all(p.startswith("127.0.0.1:") for p in compose["services"]["minio"]["ports"])


def test_secrets_are_required_never_defaulted() -> None:
    text = COMPOSE.read_text()
    for name in ("AMP_DB_PASSWORD", "AMP_S3_SECRET_KEY", "AMP_MINIO_KMS_KEY"):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses and all(u.startswith(":?") for u in uses), f"{name} must be required (${{{name}:?...}})"


def test_only_settings_the_code_reads(compose) -> None:
    known = settings_env_names()
    for name in services():
        for key in compose["services"][name]["environment"]:
            if key.startswith("AMP_"):
                assert key in known, f"{key} is set in compose.yaml but no code reads it"


def test_the_observability_profile_is_opt_in_and_wired_to_its_files(compose) -> None:
    svc = compose["services"]
    extra = {name for name, s in svc.items() if optional(s)}
    assert extra == {"otel-collector", "jaeger", "prometheus", "grafana"}
    assert all(svc[n]["profiles"] == ["observability"] for n in extra)
    mounted = [v.split(":")[0] for n in extra for v in svc[n].get("volumes") or [] if v.startswith("./")]
    for path in mounted:
        assert (DEPLOY / path).exists(), f"{path} is mounted but missing"
    assert {"./observability/prometheus.yml", "./observability/alerts.yml", "./observability/otel-collector.yaml",
            "./observability/grafana/dashboards"} <= set(mounted)
    # the platform's services export to the collector only when told to: empty by default
    for name in services():
        env = svc[name]["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "${OTEL_EXPORTER_OTLP_ENDPOINT:-}"
