"""The settings a scaled-out deployment turns: stream replicas, SSE duration, presigned URLs."""

from __future__ import annotations

import pytest
from amp_runtime.bus import stream_config
from amp_runtime.settings import Settings
from pydantic import ValidationError


def test_defaults_fit_a_single_server_and_long_streams() -> None:
    s = Settings.from_env({})
    assert s.stream_replicas == 1
    assert s.sse_max_duration_s == 3600.0
    assert s.artifact_url_ttl_s == 300.0
    assert s.s3_public_endpoint_url is None


def test_environment_sets_them_and_children_inherit_them() -> None:
    env = {"AMP_STREAM_REPLICAS": "3", "AMP_SSE_MAX_DURATION_S": "100", "AMP_ARTIFACT_URL_TTL_S": "60",
           "AMP_S3_BUCKET": "b", "AMP_S3_ENDPOINT_URL": "http://minio:9000",
           "AMP_S3_PUBLIC_ENDPOINT_URL": "http://localhost:9000"}
    s = Settings.from_env(env)
    assert (s.stream_replicas, s.sse_max_duration_s, s.artifact_url_ttl_s) == (3, 100.0, 60.0)
    assert s.s3_public_endpoint_url == "http://localhost:9000"
    child = Settings.from_env(s.service_env())
    assert (child.stream_replicas, child.sse_max_duration_s, child.artifact_url_ttl_s) == (3, 100.0, 60.0)
    assert (child.s3_bucket, child.s3_endpoint_url, child.s3_public_endpoint_url) == \
        ("b", "http://minio:9000", "http://localhost:9000")


@pytest.mark.parametrize("name,value", [("AMP_STREAM_REPLICAS", "0"), ("AMP_STREAM_REPLICAS", "7"),
                                        ("AMP_SSE_MAX_DURATION_S", "0"), ("AMP_ARTIFACT_URL_TTL_S", "-5"),
                                        ("AMP_ARTIFACT_URL_TTL_S", str(8 * 24 * 3600))])
def test_out_of_range_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env({name: value})


@pytest.mark.parametrize("replicas", [1, 3, 5])
def test_stream_config_carries_the_replica_count(replicas: int) -> None:
    cfg = stream_config("AMP", 120.0, replicas)
    assert cfg.num_replicas == replicas
    assert cfg.as_dict()["num_replicas"] == replicas  # what goes to the server
    assert cfg.subjects == ["amp.>"] and cfg.duplicate_window == 120.0


def test_nats_url_may_list_the_servers_of_a_cluster() -> None:
    s = Settings.from_env({"NATS_URL": "nats://10.0.1.10:4222, nats://10.0.2.10:4222,nats://10.0.3.10:4222"})
    assert s.nats_servers == ["nats://10.0.1.10:4222", "nats://10.0.2.10:4222", "nats://10.0.3.10:4222"]
    assert Settings.from_env({"NATS_URL": "nats://nats:4222"}).nats_servers == ["nats://nats:4222"]
    assert Settings.from_env({}).nats_servers == []
