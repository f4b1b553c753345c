"""Configuration of every process, read from the environment in one place (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from amp_domain.webhooks import DEFAULT_RETRY_SCHEDULE_S, parse_schedule
from pydantic import BaseModel, Field


class Settings(BaseModel):
    nats_url: str | None = Field(None, description="NATS_URL; unset → `amp up` starts an embedded nats-server. "
                                                  "Several servers of a cluster: comma-separated URLs.")
    database_url: str | None = Field(None, description="DATABASE_URL (postgresql://...); unset → embedded Postgres.")
    data_dir: Path = Field(Path(".amp"), description="AMP_DATA_DIR: embedded servers, logs, and artifacts when no S3 "
                                                            "bucket is set (git history lives in Postgres or S3).")
    s3_bucket: str | None = Field(None, description="AMP_S3_BUCKET: artifacts go to S3 when set.")
    s3_endpoint_url: str | None = Field(None, description="AMP_S3_ENDPOINT_URL: an S3 API other than AWS (MinIO).")
    s3_public_endpoint_url: str | None = Field(
        None, description="AMP_S3_PUBLIC_ENDPOINT_URL: the S3 endpoint as browsers reach it, for presigned download "
                          "URLs (default: AMP_S3_ENDPOINT_URL, or AWS).")
    artifact_url_ttl_s: float = Field(300.0, gt=0, le=7 * 24 * 3600.0,
                                      description="AMP_ARTIFACT_URL_TTL_S: lifetime of a presigned artifact URL.")
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    stream_name: str = "AMP"
    stream_replicas: int = Field(1, ge=1, le=5, description="AMP_STREAM_REPLICAS: copies of the JetStream stream "
                                                            "(3 on a NATS cluster of three; 1 on a single server).")
    duplicate_window_s: float = 120.0
    ack_wait_s: float = Field(30.0, gt=0, description="AMP_ACK_WAIT_S: JetStream redelivers a message not acked "
                                                       "within this time; a running step extends it with a heartbeat "
                                                       "(`in_progress`) every third of it.")
    max_deliver: int = Field(5, ge=1, description="AMP_MAX_DELIVER: deliveries of one message before it is "
                                                  "dead-lettered (transient failures only; permanent ones go at once).")
    retry_base_s: float = Field(2.0, gt=0, description="AMP_RETRY_BASE_S: delay before the first redelivery of a "
                                                       "failed step; each next one waits three times longer.")
    retry_max_s: float = Field(60.0, gt=0, description="AMP_RETRY_MAX_S: cap of one redelivery delay. With the "
                                                       "defaults five deliveries span about 80 s of outage.")
    stall_after_s: float = Field(600.0, gt=0, description="AMP_STALL_AFTER_S: a running decision set with no write "
                                                          "for this long is re-driven from its last message.")
    max_redrives: int = Field(3, ge=0, description="AMP_MAX_REDRIVES: re-drives of a stalled decision set before it "
                                                   "ends with a run-error (`amp resume` or `amp dlq replay` go on).")
    db_acquire_timeout_s: float = Field(10.0, gt=0, description="AMP_DB_ACQUIRE_TIMEOUT_S: wait for a pooled database "
                                                                "connection before a request answers 503.")
    idempotency_ttl_s: float = Field(24 * 3600.0, gt=0, description="AMP_IDEMPOTENCY_TTL_S: how long an "
                                                                    "Idempotency-Key's response is replayed.")
    max_workers: int = Field(1, description="AMP_MAX_WORKERS: messages one service process handles at once "
                                            "(overlaps one step's I/O waits with another's work).")
    gate_ttl_s: float = 7 * 24 * 3600.0
    gate_reminder_before_s: float = 24 * 3600.0
    sweep_interval_s: float = 5.0
    max_body_bytes: int = 256 * 1024
    sse_max_duration_s: float = Field(3600.0, gt=0, description="AMP_SSE_MAX_DURATION_S: an SSE response ends after "
                                                                "this long with a `retry:` hint; the client resumes "
                                                                "with Last-Event-ID (App Runner cuts requests at 120 s).")
    provider: str = "deterministic"
    anthropic_api_key: str | None = None
    validators_checkov: bool = Field(True, description="AMP_CHECKOV: checkov among the validators (a warm process "
                                                     "per validators process); `0` switches it off.")
    osv_url: str = Field("https://api.osv.dev", description="AMP_OSV_URL: the OSV database the validators ask about "
                                                         "the generated repository's packages; empty switches the "
                                                         "scan off, unreachable reports it `skipped: offline`.")
    validators_terraform: bool = Field(True, description="AMP_TERRAFORM_VALIDATE: run terraform init/validate/test "
                                                         "(mocked providers) where the provider is available offline.")
    validators_timeout_s: float = Field(120.0, gt=0, description="AMP_VALIDATORS_TIMEOUT_S: wall time of each tool "
                                                                 "run, and of each step of the generated code's run.")
    log_level: str = "INFO"
    prompt_dirs: list[Path] = Field(default_factory=list, description="Directories of the prompt packs in force "
                                                                      "(the composition root names every service's).")
    public_url: str | None = Field(None, description="AMP_PUBLIC_URL: the gateway's address as users reach it "
                                                     "(links in webhooks); default http://host:port.")
    webhook_allow_http: bool = Field(False, description="AMP_WEBHOOK_ALLOW_HTTP=1: plain http:// webhook URLs.")
    webhook_allow_private: bool = Field(False, description="AMP_WEBHOOK_ALLOW_PRIVATE=1: webhooks to loopback and "
                                                           "private addresses (development and tests).")
    webhook_retry_schedule_s: tuple[float, ...] = Field(DEFAULT_RETRY_SCHEDULE_S, description=
                                                        "AMP_WEBHOOK_RETRY_SCHEDULE: seconds before each retry.")
    webhook_jitter: float = Field(0.2, ge=0, le=1, description="AMP_WEBHOOK_JITTER: ± share of each retry delay.")
    webhook_timeout_s: float = Field(10.0, gt=0, description="AMP_WEBHOOK_TIMEOUT_S: one delivery attempt's limit.")
    webhook_poll_s: float = Field(1.0, gt=0, description="AMP_WEBHOOK_POLL_S: how often due retries are looked for.")
    webhook_fetch_wait_s: float = Field(1.0, gt=0, le=30, description=
                                        "AMP_WEBHOOK_FETCH_WAIT_S: how long one fetch of events gathers them before "
                                        "their webhooks are recorded (the most a webhook waits for that).")
    oidc_issuer: str | None = Field(None, description="AMP_OIDC_ISSUER: an external OpenID Connect issuer whose "
                                                      "tokens the gateway accepts; unset → the embedded issuer.")
    oidc_audience: str | None = Field(None, description="AMP_OIDC_AUDIENCE: the `aud` the issuer's tokens carry.")
    oidc_jwks_url: str | None = Field(None, description="AMP_OIDC_JWKS_URL: the issuer's keys, instead of its "
                                                        "discovery document's jwks_uri.")
    allowed_hosts: tuple[str, ...] = Field(("127.0.0.1", "localhost", "[::1]", "::1"), description=
                                           "AMP_ALLOWED_HOSTS: Host headers the gateway answers (DNS rebinding); "
                                           "comma-separated, `*` for any.")
    rate_limit_per_min: int = Field(120, ge=1, description="AMP_RATE_LIMIT_PER_MIN: POST/PUT/PATCH/DELETE "
                                                           "requests a user may make per minute.")
    admins: tuple[str, ...] = Field((), description="AMP_ADMINS: user ids (token subjects) of the platform's "
                                                   "operators, comma-separated: they see every project's dead letters.")
    sse_streams_per_user: int = Field(20, ge=1, description="AMP_SSE_STREAMS_PER_USER: open SSE streams per user.")

    @property
    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self.gateway_host}:{self.gateway_port}").rstrip("/")

    @property
    def oidc(self) -> bool:
        """An external issuer is configured (else the embedded one signs the tokens)."""
        return bool(self.oidc_issuer)

    @property
    def nats_servers(self) -> list[str]:
        """NATS_URL as the list of seed servers (`nats://a:4222,nats://b:4222`, the NATS convention)."""
        return [u.strip() for u in (self.nats_url or "").split(",") if u.strip()]

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        e = os.environ if env is None else env
        values: dict[str, object] = {
            "nats_url": e.get("NATS_URL") or None,
            "database_url": e.get("DATABASE_URL") or None,
            "data_dir": Path(e.get("AMP_DATA_DIR", ".amp")),
            "s3_bucket": e.get("AMP_S3_BUCKET") or None,
            "s3_endpoint_url": e.get("AMP_S3_ENDPOINT_URL") or None,
            "s3_public_endpoint_url": e.get("AMP_S3_PUBLIC_ENDPOINT_URL") or None,
            "provider": e.get("AMP_PROVIDER") or ("anthropic" if e.get("ANTHROPIC_API_KEY") else "deterministic"),
            "anthropic_api_key": e.get("ANTHROPIC_API_KEY") or None,
            "validators_checkov": e.get("AMP_CHECKOV", "1") != "0",
            "osv_url": e.get("AMP_OSV_URL", "https://api.osv.dev"),
            "validators_terraform": e.get("AMP_TERRAFORM_VALIDATE", "1") == "1",
            "log_level": e.get("AMP_LOG_LEVEL", "INFO"),
            "public_url": e.get("AMP_PUBLIC_URL") or None,
            "webhook_allow_http": e.get("AMP_WEBHOOK_ALLOW_HTTP", "0") == "1",
            "webhook_allow_private": e.get("AMP_WEBHOOK_ALLOW_PRIVATE", "0") == "1",
            "webhook_retry_schedule_s": parse_schedule(e.get("AMP_WEBHOOK_RETRY_SCHEDULE")),
            "oidc_issuer": e.get("AMP_OIDC_ISSUER") or None,
            "oidc_audience": e.get("AMP_OIDC_AUDIENCE") or None,
            "oidc_jwks_url": e.get("AMP_OIDC_JWKS_URL") or None,
        }
        if e.get("AMP_ADMINS"):
            values["admins"] = tuple(u.strip() for u in e["AMP_ADMINS"].split(",") if u.strip())
        if e.get("AMP_ALLOWED_HOSTS"):
            values["allowed_hosts"] = tuple(h.strip() for h in e["AMP_ALLOWED_HOSTS"].split(",") if h.strip())
        for env_name, field in (("AMP_GATE_TTL_S", "gate_ttl_s"), ("AMP_GATE_REMINDER_BEFORE_S", "gate_reminder_before_s"),
                                ("AMP_ACK_WAIT_S", "ack_wait_s"), ("AMP_MAX_DELIVER", "max_deliver"),
                                ("AMP_SWEEP_INTERVAL_S", "sweep_interval_s"), ("AMP_PORT", "gateway_port"),
                                ("AMP_MAX_WORKERS", "max_workers"), ("AMP_STREAM_REPLICAS", "stream_replicas"),
                                ("AMP_SSE_MAX_DURATION_S", "sse_max_duration_s"),
                                ("AMP_ARTIFACT_URL_TTL_S", "artifact_url_ttl_s"), ("AMP_WEBHOOK_JITTER", "webhook_jitter"),
                                ("AMP_WEBHOOK_TIMEOUT_S", "webhook_timeout_s"), ("AMP_WEBHOOK_POLL_S", "webhook_poll_s"),
                                ("AMP_WEBHOOK_FETCH_WAIT_S", "webhook_fetch_wait_s"),
                                ("AMP_VALIDATORS_TIMEOUT_S", "validators_timeout_s"),
                                ("AMP_RETRY_BASE_S", "retry_base_s"), ("AMP_RETRY_MAX_S", "retry_max_s"),
                                ("AMP_STALL_AFTER_S", "stall_after_s"), ("AMP_MAX_REDRIVES", "max_redrives"),
                                ("AMP_DB_ACQUIRE_TIMEOUT_S", "db_acquire_timeout_s"),
                                ("AMP_IDEMPOTENCY_TTL_S", "idempotency_ttl_s"),
                                ("AMP_RATE_LIMIT_PER_MIN", "rate_limit_per_min"),
                                ("AMP_SSE_STREAMS_PER_USER", "sse_streams_per_user")):
            if e.get(env_name):
                values[field] = e[env_name]
        values.update(overrides)
        return cls.model_validate(values)

    def service_env(self) -> dict[str, str]:
        """The environment a child process needs to reach the same servers and data."""
        out = {"AMP_DATA_DIR": str(self.data_dir), "AMP_PROVIDER": self.provider,
               "AMP_GATE_TTL_S": str(self.gate_ttl_s), "AMP_GATE_REMINDER_BEFORE_S": str(self.gate_reminder_before_s),
               "AMP_ACK_WAIT_S": str(self.ack_wait_s), "AMP_MAX_DELIVER": str(self.max_deliver),
               "AMP_SWEEP_INTERVAL_S": str(self.sweep_interval_s), "AMP_CHECKOV": "1" if self.validators_checkov else "0",
               "AMP_OSV_URL": self.osv_url,
               "AMP_TERRAFORM_VALIDATE": "1" if self.validators_terraform else "0",
               "AMP_MAX_WORKERS": str(self.max_workers), "AMP_STREAM_REPLICAS": str(self.stream_replicas),
               "AMP_SSE_MAX_DURATION_S": str(self.sse_max_duration_s),
               "AMP_ARTIFACT_URL_TTL_S": str(self.artifact_url_ttl_s), "AMP_PUBLIC_URL": self.public_base_url,
               "AMP_WEBHOOK_ALLOW_HTTP": "1" if self.webhook_allow_http else "0",
               "AMP_WEBHOOK_ALLOW_PRIVATE": "1" if self.webhook_allow_private else "0",
               "AMP_WEBHOOK_RETRY_SCHEDULE": ",".join(str(d) for d in self.webhook_retry_schedule_s),
               "AMP_WEBHOOK_JITTER": str(self.webhook_jitter), "AMP_WEBHOOK_TIMEOUT_S": str(self.webhook_timeout_s),
               "AMP_WEBHOOK_POLL_S": str(self.webhook_poll_s), "AMP_WEBHOOK_FETCH_WAIT_S": str(self.webhook_fetch_wait_s),
               "AMP_VALIDATORS_TIMEOUT_S": str(self.validators_timeout_s),
               "AMP_RETRY_BASE_S": str(self.retry_base_s), "AMP_RETRY_MAX_S": str(self.retry_max_s),
               "AMP_STALL_AFTER_S": str(self.stall_after_s), "AMP_MAX_REDRIVES": str(self.max_redrives),
               "AMP_DB_ACQUIRE_TIMEOUT_S": str(self.db_acquire_timeout_s),
               "AMP_IDEMPOTENCY_TTL_S": str(self.idempotency_ttl_s),
               "AMP_ALLOWED_HOSTS": ",".join(self.allowed_hosts), "AMP_RATE_LIMIT_PER_MIN": str(self.rate_limit_per_min),
               "AMP_SSE_STREAMS_PER_USER": str(self.sse_streams_per_user), "AMP_ADMINS": ",".join(self.admins)}
        for name, value in (("AMP_OIDC_ISSUER", self.oidc_issuer), ("AMP_OIDC_AUDIENCE", self.oidc_audience),
                            ("AMP_OIDC_JWKS_URL", self.oidc_jwks_url)):
            if value:
                out[name] = value
        if self.nats_url:
            out["NATS_URL"] = self.nats_url
        if self.database_url:
            out["DATABASE_URL"] = self.database_url
        if self.s3_bucket:
            out["AMP_S3_BUCKET"] = self.s3_bucket
        if self.s3_endpoint_url:
            out["AMP_S3_ENDPOINT_URL"] = self.s3_endpoint_url
        if self.s3_public_endpoint_url:
            out["AMP_S3_PUBLIC_ENDPOINT_URL"] = self.s3_public_endpoint_url
        return out
