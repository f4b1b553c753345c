"""The LLM provider layer over real HTTP: the real `anthropic` SDK against a scripted Messages API.

Nothing inside the SDK is mocked: `AsyncAnthropic(base_url=<local server>)` sends real requests,
and the server answers what each test scripts (valid tool calls, invalid answers, 429 with
retry-after, 529 overloaded, slow answers). Budgets and usage use the session's real Postgres.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import anthropic
import asyncpg
import pytest
from amp_cli.main import prompt_dirs
from amp_contracts import BudgetExceeded, ConstraintSchema, Coverage
from amp_runtime.artifacts import LocalArtifactStore
from amp_runtime.providers import (
    Accounting,
    CallContext,
    PackRegistry,
    ProviderConfig,
    ProviderOutputInvalid,
    ProviderRequestRejected,
    ProviderUnavailable,
    budget_guard,
    check_budget,
    providers_from_config,
    providers_from_settings,
    record_usage,
    set_budget,
)
from amp_runtime.settings import Settings

from services.codegen.asks import Seam, fill_seams
from services.intake.asks import ask_next, extract_constraints
from services.planner.asks import choose_pattern
from tests.fakes.anthropic_server import FakeAnthropicServer, chat_reply, error_reply, text_reply, tool_reply, usage

PRIMARY = "claude-sonnet-4-6"
FALLBACK = "claude-haiku-4-5-20251001"
CANDIDATES = ["aws:serving_online:sagemaker-endpoint", "aws:serving_online:lambda", "aws:serving_online:ecs-fargate"]
CONSTRAINTS = ConstraintSchema(cloud="aws", sla_latency_ms=100, availability_target=99.9)
PACKS = PackRegistry(prompt_dirs())


def prompt_pack_hash(name: str) -> str:
    return PACKS.get(name).hash


@pytest.fixture()
def server():
    s = FakeAnthropicServer().start()
    yield s
    s.stop()


def build(server: FakeAnthropicServer, tmp_path: Path, **overrides):
    cfg = {"provider": "anthropic", "model": PRIMARY, "fallback_model": FALLBACK, "timeout_s": 5.0,
           "breaker_fail_max": 3, "retry_after_wait_max_s": 1.0, **overrides}
    config = ProviderConfig(**cfg)
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="test", max_retries=0, timeout=config.timeout_s)
    return providers_from_config(config, LocalArtifactStore(tmp_path), PACKS, anthropic_client=client)


def choice(pattern_id: str = CANDIDATES[0], justification: str = "keeps p95 under 100 ms") -> dict:
    return {"pattern_id": pattern_id, "justification": justification}


async def choose(providers, ctx: CallContext | None = None):
    return await providers.llm.ask(choose_pattern("serving_online", CANDIDATES, CONSTRAINTS), ctx)


# --------------------------------------------------------------------------- structured answers

async def test_valid_tool_answer_and_request_shape(server, tmp_path):
    server.script(tool_reply("choose_pattern", choice(), use=usage(120, 30)))
    res = await choose(build(server, tmp_path))

    assert res.value.pattern_id == CANDIDATES[0]
    assert res.info.provider == "anthropic" and res.info.model == PRIMARY and res.info.fallback_from is None
    assert (res.info.input_tokens, res.info.output_tokens) == (120, 30)
    assert res.prompt_pack_hash == prompt_pack_hash("planner_choose")

    [req] = server.requests
    assert req.path == "/v1/messages" and req.headers["authorization"] == "Bearer test"
    body = req.body
    assert body["model"] == PRIMARY
    assert body["tool_choice"] == {"type": "tool", "name": "choose_pattern", "disable_parallel_tool_use": True}
    schema = body["tools"][0]["input_schema"]
    assert set(schema["required"]) == {"pattern_id", "justification"} and "$ref" not in json.dumps(schema)
    assert all(block["cache_control"] == {"type": "ephemeral"} for block in body["system"])
    assert len(body["system"]) == 3  # the system prompt, the few-shot block and the catalog reference, all cached
    assert body["system"][2]["text"].startswith("Pattern catalog ")
    assert "temperature" not in body  # the primary does not take sampling parameters
    assert all(c in body["messages"][0]["content"] for c in CANDIDATES)


async def test_temperature_only_for_models_that_accept_it(server, tmp_path):
    server.script(tool_reply("choose_pattern", choice()))
    providers = build(server, tmp_path, node_models={"planner_choose": FALLBACK})
    res = await choose(providers)
    assert res.info.model == FALLBACK
    assert server.requests[0].body["temperature"] == 0  # sent through extra_body: this model still accepts it
    assert providers.config.accepts_temperature("claude-haiku-4-5-20251001")
    assert not providers.config.accepts_temperature("claude-opus-4-7")


async def test_invalid_answers_are_sent_back_and_corrected(server, tmp_path):
    server.script(text_reply("I would pick SageMaker."),                                 # not JSON at all
                  tool_reply("choose_pattern", {"pattern_id": CANDIDATES[1]}),           # missing justification
                  tool_reply("choose_pattern", choice(CANDIDATES[1], "cheapest at this load")))
    acc = Accounting()
    res = await choose(build(server, tmp_path), CallContext(accounting=acc))
    assert res.value.pattern_id == CANDIDATES[1]

    _, second, third = server.requests
    msgs = second.body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[1]["content"] == [{"type": "text", "text": "I would pick SageMaker."}]
    assert isinstance(msgs[2]["content"], str) and "does not match the schema" in msgs[2]["content"]

    msgs = third.body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant", "user"]
    assert msgs[3]["content"][0]["type"] == "tool_use"
    [result] = msgs[4]["content"]
    assert result["type"] == "tool_result" and result["is_error"] is True
    assert result["tool_use_id"] == msgs[3]["content"][0]["id"]
    assert "justification" in result["content"] and "Field required" in result["content"]
    assert res.info.input_tokens == 30  # every answer of the model that answered is counted
    assert len(acc.records) == 3


async def test_invented_pattern_id_is_rejected_then_corrected(server, tmp_path):
    server.script(tool_reply("choose_pattern", choice("aws:serving_online:made-up")),
                  tool_reply("choose_pattern", choice(CANDIDATES[2], "containers preferred")))
    res = await choose(build(server, tmp_path))
    assert res.value.pattern_id == CANDIDATES[2]
    error = server.requests[1].body["messages"][2]["content"][0]["content"]
    assert "not one of the candidates" in error and CANDIDATES[0] in error


async def test_three_invalid_answers_are_quarantined_with_a_plain_error(server, tmp_path):
    bad = [tool_reply("choose_pattern", choice(f"aws:serving_online:invented-{i}")) for i in range(3)]
    server.script(*bad, model=PRIMARY)
    ctx = CallContext(project_id=str(uuid.uuid4()))
    with pytest.raises(ProviderOutputInvalid) as caught:
        await choose(build(server, tmp_path), ctx)
    err = caught.value
    assert err.code == "validation_failed" and err.node_name == "planner_choose"
    assert "3 times" in err.message and "not one of the candidates" in err.message
    assert err.quarantine_key and err.quarantine_key.startswith(f"quarantine/{ctx.project_id}/planner_choose/")
    assert err.quarantine_key in err.message
    stored = json.loads((tmp_path / err.quarantine_key).read_text())
    assert [a["answer"]["pattern_id"] for a in stored["attempts"]] == [f"aws:serving_online:invented-{i}"
                                                                       for i in range(3)]
    assert stored["prompt_pack_hash"] == prompt_pack_hash("planner_choose")
    assert len(server.requests) == 3 and not server.for_model(FALLBACK)  # invalid output is no outage


async def test_extraction_is_grounded_and_regions_allow_listed(server, tmp_path):
    text = "Fraud scoring on AWS in Frankfurt with a p95 of 80 ms."
    bad = {"constraints": {"cloud": "aws", "regions": ["eu-frankfurt-9"], "sla_latency_ms": 80},
           "evidence": [{"field": "cloud", "quote": "AWS"}, {"field": "regions", "quote": "Frankfurt"},
                        {"field": "sla_latency_ms", "quote": "p95 of 80 ms"}]}
    good = {"constraints": {"cloud": "aws", "regions": ["eu-central-1"], "sla_latency_ms": 80},
            "evidence": [{"field": "cloud", "quote": "AWS"}, {"field": "regions", "quote": "Frankfurt"},
                         {"field": "sla_latency_ms", "quote": "p95 of 80 ms"}]}
    server.script(tool_reply("record_constraints", bad), tool_reply("record_constraints", good))
    allowed = {("aws", "eu-central-1"), ("aws", "eu-west-1")}
    res = await build(server, tmp_path).llm.ask(extract_constraints(text, region_allowed=lambda c, r: (c, r) in allowed))
    assert res.value.constraints.regions == ["eu-central-1"]
    span = next(s for s in res.value.spans if s.field == "sla_latency_ms")
    assert text[span.start:span.end] == "p95 of 80 ms"
    assert "eu-frankfurt-9" in server.requests[1].body["messages"][2]["content"][0]["content"]


async def test_questions_offer_only_schema_values(server, tmp_path):
    cov = Coverage(score=0.5, threshold=0.8, passed=False, missing=["data_classification"], blocking=[])
    bad = {"questions": [{"id": "q1", "field": "data_classification", "prompt": "How sensitive?", "kind": "choice",
                          "options": ["secret", "pii"]}]}
    good = {"questions": [{"id": "q1", "field": "data_classification", "prompt": "How sensitive?",
                           "kind": "choice", "options": ["internal", "pii", "phi"]}]}
    server.script(tool_reply("ask_questions", bad), tool_reply("ask_questions", good))
    res = await build(server, tmp_path).llm.ask(ask_next(ConstraintSchema(cloud="aws"), cov, set()))
    assert [q.options for q in res.value] == [["internal", "pii", "phi"]]
    assert "'secret'" in server.requests[1].body["messages"][2]["content"][0]["content"]


# --------------------------------------------------------------------------- resilience

async def test_short_retry_after_is_waited_out_on_the_same_model(server, tmp_path):
    server.script(error_reply(429, headers={"retry-after": "0.6"}), tool_reply("choose_pattern", choice()),
                  model=PRIMARY)
    res = await choose(build(server, tmp_path, retry_after_wait_max_s=1.0))
    assert res.info.model == PRIMARY and res.info.fallback_from is None
    first, second = server.requests
    assert second.at - first.at >= 0.55


async def test_long_retry_after_holds_the_breaker_and_falls_back(server, tmp_path):
    server.script(error_reply(429, headers={"retry-after": "30"}), model=PRIMARY)
    server.script(tool_reply("choose_pattern", choice()), tool_reply("choose_pattern", choice()), model=FALLBACK)
    providers = build(server, tmp_path, retry_after_wait_max_s=1.0)
    started = time.monotonic()
    res = await choose(providers)
    assert time.monotonic() - started < 5  # did not sleep 30 s
    assert res.info.model == FALLBACK and res.info.fallback_from == f"anthropic:{PRIMARY}"
    assert providers.breakers.states()[f"anthropic:{PRIMARY}"] == "OPEN"

    res = await choose(providers)  # honours retry-after: the primary is not asked again
    assert res.info.model == FALLBACK
    assert len(server.for_model(PRIMARY)) == 1 and len(server.for_model(FALLBACK)) == 2


async def test_overloaded_opens_breakers_then_the_deterministic_provider_answers(server, tmp_path):
    server.script(error_reply(529, message="Overloaded"), model=PRIMARY)
    server.script(error_reply(529, message="Overloaded"), model=FALLBACK)
    providers = build(server, tmp_path, breaker_fail_max=1)
    res = await choose(providers)
    assert res.value.pattern_id == CANDIDATES[0]  # the candidate the rules ranked first
    assert res.info.provider == "deterministic" and res.info.fallback_from == f"anthropic:{PRIMARY}"
    assert any("overloaded" in n for n in res.notes)
    assert providers.breakers.states() == {f"anthropic:{PRIMARY}": "OPEN", f"anthropic:{FALLBACK}": "OPEN"}

    server.requests.clear()
    res = await choose(providers)  # both breakers open: no request leaves the process
    assert res.info.provider == "deterministic" and server.requests == []


async def test_slow_answer_times_out_and_the_fallback_model_answers(server, tmp_path):
    server.script(tool_reply("choose_pattern", choice(), delay_s=3.0), model=PRIMARY)
    server.script(tool_reply("choose_pattern", choice(CANDIDATES[1], "fast enough")), model=FALLBACK)
    started = time.monotonic()
    res = await choose(build(server, tmp_path, timeout_s=0.5))
    assert time.monotonic() - started < 2.5
    assert res.info.model == FALLBACK and res.info.fallback_from == f"anthropic:{PRIMARY}"
    assert res.value.pattern_id == CANDIDATES[1]


async def test_codegen_never_falls_back(server, tmp_path):
    server.script(error_reply(529), model=PRIMARY)
    seams = [Seam(id="features.transform", path="features/definitions.py", default="def transform(r):\n    return r\n")]
    with pytest.raises(ProviderUnavailable) as caught:
        await build(server, tmp_path).llm.ask(fill_seams(seams, {"cloud": "aws"}))
    assert caught.value.code == "provider_down" and "deterministic" in caught.value.message
    assert not server.for_model(FALLBACK)


async def test_codegen_syntax_errors_are_corrected(server, tmp_path):
    seams = [Seam(id="s1", path="app.py", default="def f():\n    return 1\n")]
    server.script(tool_reply("fill_seams", {"fills": [{"seam_id": "s1", "code": "def f(:\n"}]}),
                  tool_reply("fill_seams", {"fills": [{"seam_id": "s1", "code": "def f():\n    return 2\n"}]}))
    res = await build(server, tmp_path).llm.ask(fill_seams(seams, {}))
    assert res.value == {"s1": "def f():\n    return 2\n"}
    assert "syntax error" in server.requests[1].body["messages"][2]["content"][0]["content"]


async def test_a_refused_request_is_reported_not_hidden_by_fallbacks(server, tmp_path):
    server.script(error_reply(401, message="invalid x-api-key"), model=PRIMARY)
    providers = build(server, tmp_path, breaker_fail_max=1)
    with pytest.raises(ProviderRequestRejected) as caught:
        await choose(providers)
    assert "401" in caught.value.message and "API key" in caught.value.message
    assert not server.for_model(FALLBACK)
    assert providers.breakers.states()[f"anthropic:{PRIMARY}"] == "CLOSED"  # not an outage


# --------------------------------------------------------------------------- accounting

async def test_usage_with_cache_tokens_is_accounted(server, tmp_path):
    server.script(tool_reply("choose_pattern", choice(), use=usage(100, 20, cache_write=1000)),
                  tool_reply("choose_pattern", choice(), use=usage(100, 20, cache_read=1000)))
    providers = build(server, tmp_path)
    acc = Accounting()
    first = await choose(providers, CallContext(accounting=acc))
    second = await choose(providers, CallContext(accounting=acc))
    assert (first.info.cache_write_tokens, first.info.cache_read_tokens) == (1000, 0)
    assert (second.info.cache_write_tokens, second.info.cache_read_tokens) == (0, 1000)
    # Sonnet 4.6: $3 in, $15 out, $3.75 cache write, $0.30 cache read per million tokens
    assert first.usd == pytest.approx((100 * 3 + 20 * 15 + 1000 * 3.75) / 1e6)
    assert second.usd == pytest.approx((100 * 3 + 20 * 15 + 1000 * 0.30) / 1e6)
    assert acc.totals() == {"input_tokens": 200, "output_tokens": 40, "cache_read_tokens": 1000,
                            "cache_write_tokens": 1000}
    assert acc.total_usd == pytest.approx(first.usd + second.usd)


async def test_budget_guard_pauses_before_any_request(server, tmp_path):
    server.script(tool_reply("choose_pattern", choice()))

    async def guard(estimate: float) -> None:
        assert estimate > 0
        raise BudgetExceeded("Paused before calling the model")

    with pytest.raises(BudgetExceeded):
        await choose(build(server, tmp_path), CallContext(budget=guard))
    assert server.requests == []


# --------------------------------------------------------------------------- configuration

async def test_settings_factory_reads_base_url_and_models_from_env(server, tmp_path):
    env = {"ANTHROPIC_BASE_URL": server.url, "AMP_MODEL": PRIMARY, "AMP_FALLBACK_MODEL": "none",
           "AMP_PROVIDER_CRITIC_TECH": "deterministic", "AMP_LLM_TIMEOUT_S": "5"}
    server.script(tool_reply("choose_pattern", choice()))
    providers = providers_from_settings(Settings(provider="anthropic", anthropic_api_key="test"),
                                        LocalArtifactStore(tmp_path), PACKS, env=env)
    assert providers.config.fallback_model is None
    assert providers.config.provider_for("critic_tech") == "deterministic"
    res = await choose(providers)
    assert res.info.model == PRIMARY and server.requests[0].headers["authorization"] == "Bearer test"


async def test_openai_compatible_provider_validates_and_corrects(server, tmp_path):
    config = ProviderConfig(provider="openai", openai_base_url=server.url + "/v1", openai_model="llama3.1:8b",
                            timeout_s=5.0)
    server.script(chat_reply("{not json"), chat_reply(choice(CANDIDATES[1], "fits"), prompt_tokens=50,
                                                      cached_tokens=30))
    providers = providers_from_config(config, LocalArtifactStore(tmp_path), PACKS)
    res = await choose(providers)
    assert res.value.pattern_id == CANDIDATES[1]
    assert res.info.provider == "openai" and res.info.model == "llama3.1:8b"
    assert res.info.cache_read_tokens == 30 and res.info.input_tokens == 20 + 20
    first, second = server.requests
    assert first.path == "/v1/chat/completions"
    assert first.body["temperature"] == 0
    assert first.body["response_format"]["type"] == "json_schema"
    assert "pattern_id" in first.body["response_format"]["json_schema"]["schema"]["properties"]
    assert second.body["messages"][-2] == {"role": "assistant", "content": "{not json"}
    assert "does not match the schema" in second.body["messages"][-1]["content"]


# --------------------------------------------------------------------------- Postgres: usage and budgets

@pytest.fixture()
async def pool(migrated):
    p = await asyncpg.create_pool(migrated, min_size=1, max_size=2)
    yield p
    await p.close()


@pytest.mark.integration
async def test_record_usage_writes_llm_usage(pool, server, tmp_path):
    server.script(tool_reply("choose_pattern", choice(), use=usage(1000, 200, cache_read=500, cache_write=100)))
    project, ds = str(uuid.uuid4()), str(uuid.uuid4())
    acc = Accounting()
    res = await choose(build(server, tmp_path), CallContext(project_id=project, decision_set_id=ds, accounting=acc))
    assert await acc.persist(pool, project, ds) == 1
    row = await pool.fetchrow("SELECT * FROM llm_usage WHERE project_id = $1::uuid", project)
    assert (row["node"], row["provider"], row["model"]) == ("planner_choose", "anthropic", PRIMARY)
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == \
        (1000, 200, 500, 100)
    assert float(row["usd"]) == pytest.approx(res.usd)
    assert str(row["decision_set_id"]) == ds and row["created_at"] is not None


@pytest.mark.integration
async def test_budget_warns_at_80_percent_and_stops_at_100(pool):
    from amp_contracts import ProviderInfo

    project = str(uuid.uuid4())
    status = await check_budget(pool, project, 1.0)
    assert status.level == "unlimited"

    await set_budget(pool, project, 10.0)
    info = ProviderInfo(provider="anthropic", model=PRIMARY, input_tokens=1, output_tokens=1)
    await record_usage(pool, project, None, "planner_choose", info, 7.0)
    assert (await check_budget(pool, project)).level == "ok"
    status = await check_budget(pool, project, 1.5)  # 8.5 of 10 committed
    assert status.level == "warn" and status.remaining_usd == pytest.approx(3.0)

    with pytest.raises(BudgetExceeded) as paused:  # the estimate would overrun what is left
        await check_budget(pool, project, 3.5)
    assert "Paused" in paused.value.message and "$3.00" in paused.value.message

    await record_usage(pool, project, None, "critic_tech", info, 3.0)
    with pytest.raises(BudgetExceeded) as stopped:
        await check_budget(pool, project)
    assert stopped.value.code == "budget_exceeded" and "used up" in stopped.value.message


@pytest.mark.integration
async def test_budget_guard_stops_the_provider_before_the_request(pool, server, tmp_path):
    project = str(uuid.uuid4())
    await set_budget(pool, project, 0.001)  # less than one call's worst case
    server.script(tool_reply("choose_pattern", choice()))
    with pytest.raises(BudgetExceeded):
        await choose(build(server, tmp_path), CallContext(project_id=project, budget=budget_guard(pool, project)))
    assert server.requests == []
    await asyncio.sleep(0)


HOSTILE_SEAM = ("import os\n\n\ndef check_request(row: dict[str, float]) -> list[str]:\n"
                "    os.system('touch /tmp/amp-seam-pwned')\n    return []\n")


async def test_model_code_outside_the_allowlist_is_refused_then_quarantined(server, tmp_path):
    """The scripted model writes `import os; os.system(...)` into the serving seam on every attempt:
    each answer is refused with the reason sent back to it, and the answers end up in quarantine."""
    from services.codegen.seams import find_seams
    from tests.fakes.scripted_model import ScriptedModel

    template = Path(__file__).parents[2] / "services/codegen/templates/app/services/serving/app.py.tmpl"
    files = {"services/serving/app.py": template.read_text()}
    seams = [s for s in find_seams(files) if s.id == "check_request"]
    assert seams, "the serving template has its check_request seam"
    model = ScriptedModel(seam_code={"check_request": HOSTILE_SEAM})
    server.respond(model)
    with pytest.raises(ProviderOutputInvalid) as caught:
        await build(server, tmp_path, fallback_model=None).llm.ask(fill_seams(seams, {"cloud": "aws"}))
    err = caught.value
    assert model.calls["fill_seams"] == 3  # the first answer and two corrections
    corrections = [r.body["messages"][-1]["content"][0]["content"] for r in server.requests[1:]]
    assert len(corrections) == 2 and all("import of `os` is not allowed" in c for c in corrections), corrections
    assert err.quarantine_key and "codegen" in err.quarantine_key
    stored = json.loads((tmp_path / err.quarantine_key).read_text())
    assert [a["answer"]["fills"][0]["code"] for a in stored["attempts"]] == [HOSTILE_SEAM] * 3
    assert not Path("/tmp/amp-seam-pwned").exists()


async def test_a_refused_seam_is_corrected_by_the_model(server, tmp_path):
    seams = [Seam(id="s1", path="services/app.py", default="def f():\n    return 1\n")]
    server.script(tool_reply("fill_seams", {"fills": [{"seam_id": "s1",
                                                       "code": "import subprocess\ndef f():\n    return 2\n"}]}),
                  tool_reply("fill_seams", {"fills": [{"seam_id": "s1", "code": "def f():\n    return 2\n"}]}))
    res = await build(server, tmp_path).llm.ask(fill_seams(seams, {}))
    assert res.value == {"s1": "def f():\n    return 2\n"}
    assert "`subprocess` is not allowed" in server.requests[1].body["messages"][2]["content"][0]["content"]
