"""The schema relay of warm Terraform runs: the schema answer cut to the types a configuration names."""

from __future__ import annotations

from concurrent import futures

import pytest
from test_terraform_providers import _aws_warm, _files, _needs_terraform, _result

from services.validators.checks.schema_cut import cut_schema, has_error, named_types, wire_fields


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _entry(number: int, key: str, value: bytes) -> bytes:
    return _field(number, _field(1, key.encode()) + _field(2, value))


PROVIDER = _field(1, _field(2, b"the provider block"))
CAPABILITIES = _varint(6 << 3 | 2) + _varint(2) + _varint(2 << 3 | 0) + _varint(1)  # get_provider_schema_optional


def test_only_the_type_maps_are_cut_and_every_other_field_is_kept_as_it_was() -> None:
    big = b"x" * 300  # a length over 127: a two-byte varint
    answer = b"".join([
        PROVIDER,
        _entry(2, "aws_s3_bucket", big), _entry(2, "aws_instance", b"instance"),
        _entry(3, "aws_iam_policy_document", b"doc"), _entry(3, "aws_ami", b"ami"),
        _field(4, b"a diagnostic"), _field(5, b"provider meta"), CAPABILITIES,
        _entry(7, "arn_parse", b"a function"),
        _entry(8, "aws_secretsmanager_secret_version", b"ephemeral"),
    ])
    keep = {"aws_s3_bucket", "aws_iam_policy_document"}
    cut = cut_schema(answer, keep.__contains__)
    assert cut == b"".join([PROVIDER, _entry(2, "aws_s3_bucket", big), _entry(3, "aws_iam_policy_document", b"doc"),
                            _field(4, b"a diagnostic"), _field(5, b"provider meta"), CAPABILITIES,
                            _entry(7, "arn_parse", b"a function")])
    assert [number for number, *_ in wire_fields(cut)] == [1, 2, 3, 4, 5, 6, 7]
    assert cut_schema(answer, lambda name: True) == answer


def test_an_answer_with_an_error_diagnostic_is_told_from_one_with_a_warning() -> None:
    def diagnostic(severity: int) -> bytes:
        return _field(4, _varint(1 << 3 | 0) + _varint(severity) + _field(2, b"summary"))

    assert has_error(PROVIDER + diagnostic(1))
    assert not has_error(PROVIDER + diagnostic(2) + _entry(2, "aws_s3_bucket", b"schema"))
    assert not has_error(PROVIDER)


def test_a_truncated_answer_is_refused_not_cut() -> None:
    with pytest.raises(ValueError, match="truncated"):
        cut_schema(_entry(2, "aws_s3_bucket", b"schema")[:-3], lambda name: True)


def test_every_token_of_the_provider_is_a_type_the_run_may_need() -> None:
    texts = ['resource "aws_s3_bucket" "data" {\n  bucket = aws_kms_key.k.arn\n}\n',
             'mock_data "aws_caller_identity" {}\nmoved {\n  from = aws_instance.old\n  to = aws_instance.new\n}\n',
             'resource "google_storage_bucket" "x" {}\n# not_aws_thing\n']
    assert named_types("aws", texts) == {"aws_s3_bucket", "aws_kms_key", "aws_caller_identity", "aws_instance"}


@pytest.mark.slow
def test_a_warm_run_reads_the_cut_schema_and_the_provider_outlives_the_relay() -> None:
    files = _files("fraud-eu-pci")
    assert _needs_terraform(files).status == "pass"  # through the relay (a failure would be the cold path's)
    warm = _aws_warm()
    pid = warm.proc.pid if warm.proc else None
    (method, whole), = warm.schemas.answers.items()  # asked of the provider once, kept with its build
    named = named_types("aws", [t for p, t in files.items() if p.startswith("infra/")])
    cut = cut_schema(whole, named.__contains__)
    assert len(cut) < len(whole) / 10  # a generated tree names a few dozen of the provider's types
    assert _result(files).status == "pass"
    assert warm.proc is not None and warm.proc.pid == pid and warm.schemas.answers[method] is whole


def test_a_relay_that_cannot_listen_says_so_and_leaves_nothing(tmp_path, monkeypatch) -> None:
    from services.validators.checks import schema_relay, unix_grpc  # noqa: PLC0415 - gRPC, loaded by warm runs only
    from services.validators.checks.schema_cut import SchemaCache  # noqa: PLC0415

    monkeypatch.setattr(unix_grpc.tempfile, "mkdtemp", lambda prefix: str(tmp_path / ("x" * 120)))
    (tmp_path / ("x" * 120)).mkdir()  # a socket path over the 108 bytes a unix address may hold
    with pytest.raises(OSError, match="could not listen"):
        with schema_relay.cut_relay({"Addr": {"Network": "unix", "String": "/nonexistent.sock"}}, frozenset(),
                                    SchemaCache()):
            pass
    assert not (tmp_path / ("x" * 120)).exists()
    with pytest.raises(ValueError, match="unix socket"):
        with schema_relay.cut_relay({"Addr": {"Network": "tcp", "String": "127.0.0.1:1"}}, frozenset(), SchemaCache()):
            pass


def test_a_validation_the_provider_had_nothing_to_say_about_is_not_asked_again(tmp_path) -> None:
    """The relay answers a validation request the build answered with nothing before (in this run
    or an earlier one) itself; a request answered with a diagnostic, and every other call, reach
    the provider each time."""
    import grpc  # noqa: PLC0415 - gRPC, loaded by warm runs only

    from services.validators.checks import schema_relay  # noqa: PLC0415 - gRPC, loaded by warm runs only
    from services.validators.checks.schema_cut import SchemaCache  # noqa: PLC0415

    asked: list[tuple[str, bytes]] = []
    diagnostic = _field(1, _varint(1 << 3) + _varint(1) + _field(2, b"a problem"))

    class Provider(grpc.GenericRpcHandler):
        def service(self, details):
            def answer(request: bytes, context) -> bytes:
                asked.append((details.method, request))
                return b"" if request.startswith(b"fine") else diagnostic
            return grpc.unary_unary_rpc_method_handler(answer, lambda b: b, lambda b: b)

    provider = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    provider.add_generic_rpc_handlers([Provider()])
    provider.add_insecure_port(f"unix:{tmp_path / 'provider.sock'}")
    provider.start()
    cache = SchemaCache()
    entry = {"Addr": {"Network": "unix", "String": str(tmp_path / "provider.sock")}}
    validate, plan = "/tfplugin5.Provider/ValidateResourceTypeConfig", "/tfplugin5.Provider/PlanResourceChange"
    try:
        for _ in range(2):  # two runs, each through a relay of its own, one build's cache
            with schema_relay.cut_relay(entry, frozenset(), cache) as (relayed, _dir):
                with grpc.insecure_channel(f"unix:{relayed['Addr']['String']}") as channel:
                    def call(method: str, request: bytes, channel=channel) -> bytes:
                        return channel.unary_unary(method, request_serializer=lambda b: b,
                                                   response_deserializer=lambda b: b)(request, timeout=10)
                    assert call(validate, b"fine aws_s3_bucket") == b""
                    assert call(validate, b"fine aws_s3_bucket") == b""
                    assert call(validate, b"broken aws_s3_bucket") == diagnostic
                    assert call("/tfplugin6.Provider/ValidateResourceConfig", b"fine aws_s3_bucket") == b""
                    assert call(plan, b"fine aws_s3_bucket") == b""
    finally:
        provider.stop(None)
    assert asked.count((validate, b"fine aws_s3_bucket")) == 1
    assert asked.count((validate, b"broken aws_s3_bucket")) == 2
    assert asked.count(("/tfplugin6.Provider/ValidateResourceConfig", b"fine aws_s3_bucket")) == 1
    assert asked.count((plan, b"fine aws_s3_bucket")) == 2
