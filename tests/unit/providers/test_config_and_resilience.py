"""Configuration per node, pricing, retry-after parsing, breakers and the deterministic provider."""

from __future__ import annotations

import asyncio
import time

import pytest
from amp_contracts import ConstraintSchema, ProviderInfo
from amp_runtime.providers import (
    DEFAULT_FALLBACK_MODEL,
    DEFAULT_MODEL,
    DeterministicProvider,
    Price,
    ProviderConfig,
    cost_usd,
    estimate_usd,
)
from amp_runtime.providers.resilience import BreakerRegistry, Outage, Unavailable, parse_retry_after


def test_config_from_env_per_node():
    cfg = ProviderConfig.from_env({"AMP_PROVIDER": "anthropic", "AMP_MODEL": "claude-opus-4-6",
                                   "AMP_FALLBACK_MODEL": "claude-haiku-4-5-20251001",
                                   "AMP_PROVIDER_CODEGEN": "deterministic", "AMP_MODEL_CRITIC_TECH": "claude-x",
                                   "AMP_TEMPERATURE_MODELS": "claude-haiku", "AMP_LLM_TIMEOUT_S": "7"})
    assert cfg.provider_for("codegen") == "deterministic" and cfg.provider_for("planner_choose") == "anthropic"
    assert cfg.models_for("planner_choose") == ["claude-opus-4-6", "claude-haiku-4-5-20251001"]
    assert cfg.models_for("critic_tech") == ["claude-x", "claude-haiku-4-5-20251001"]
    assert cfg.models_for("codegen") == ["claude-opus-4-6"]  # code generation has no fallback model
    assert cfg.accepts_temperature("claude-haiku-4-5-20251001") and not cfg.accepts_temperature("claude-opus-4-6")
    assert cfg.timeout_s == 7.0


def test_config_defaults_and_validation():
    cfg = ProviderConfig.from_env({})
    assert cfg.provider == "deterministic" and cfg.model == DEFAULT_MODEL
    assert cfg.fallback_model == DEFAULT_FALLBACK_MODEL and cfg.max_attempts == 3
    assert ProviderConfig.from_env({"AMP_FALLBACK_MODEL": "none"}).fallback_model is None
    with pytest.raises(ValueError, match="unknown provider"):
        ProviderConfig(provider="gpt")
    with pytest.raises(ValueError, match="unknown provider"):
        ProviderConfig.from_env({"AMP_PROVIDER_CODEGEN": "magic"})


def test_prices_by_prefix_and_cost():
    cfg = ProviderConfig()
    assert cfg.price("claude-haiku-4-5-20251001") == Price(1.0, 5.0, 0.10, 1.25)
    assert cfg.price("llama3.1:8b") is None
    info = ProviderInfo(input_tokens=1_000_000, output_tokens=1_000_000, cache_read_tokens=1_000_000,
                        cache_write_tokens=1_000_000)
    assert cost_usd(Price(3, 15, 0.3, 3.75), info) == pytest.approx(22.05)
    assert cost_usd(None, info) == 0.0
    assert estimate_usd(Price(3, 15), 4_000_000, 0) == pytest.approx(3.0)


def test_parse_retry_after():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


async def test_breaker_opens_on_outages_only():
    gate = BreakerRegistry(fail_max=2, reset_s=60).gate("anthropic", "m")

    async def bad_request():
        raise ValueError("not an outage")

    async def overloaded():
        raise Outage("overloaded", "overloaded (529)", status=529)

    for _ in range(3):
        with pytest.raises(ValueError):
            await gate.call(bad_request, wait_max_s=0)
    assert not gate.is_open
    for _ in range(2):
        with pytest.raises(Unavailable):
            await gate.call(overloaded, wait_max_s=0)
    assert gate.is_open
    with pytest.raises(Unavailable, match="breaker open"):
        await gate.call(overloaded, wait_max_s=0)


async def test_retry_after_is_waited_or_holds_the_breaker():
    gate = BreakerRegistry(fail_max=5, reset_s=60).gate("anthropic", "m")
    calls: list[float] = []

    async def limited_once():
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise Outage("rate_limited", "rate limited (429)", status=429, retry_after=0.3)
        return "ok"

    assert await gate.call(limited_once, wait_max_s=1.0) == "ok"
    assert calls[1] - calls[0] >= 0.29

    async def limited_long():
        raise Outage("rate_limited", "rate limited (429)", status=429, retry_after=0.5)

    with pytest.raises(Unavailable) as e:
        await gate.call(limited_long, wait_max_s=0.1)
    assert e.value.retry_after == 0.5 and gate.is_open

    async def fine():
        return "back"

    with pytest.raises(Unavailable):  # held open for the retry-after
        await gate.call(fine, wait_max_s=0)
    await asyncio.sleep(0.55)
    assert await gate.call(fine, wait_max_s=0) == "back"  # half-open trial succeeds
    assert not gate.is_open


async def test_deterministic_provider_answers_with_each_questions_rules():
    from amp_domain.requirements.extraction import extract, extract_patch

    from services.codegen.asks import Seam, fill_seams, read_comment
    from services.intake.asks import extract_constraints
    from services.planner.asks import choose_pattern

    det = DeterministicProvider()
    text = "Fraud scoring on AWS in Frankfurt, p95 under 100 ms, PCI data, budget $8k per month."
    res = await det.ask(extract_constraints(text))
    assert res.value == extract(text) and res.info.provider == "deterministic" and res.usd == 0.0
    current = res.value.constraints
    patch = await det.ask(read_comment("also add SOC 2", current))
    assert patch.value == extract_patch("also add SOC 2", current)
    choice = await det.ask(choose_pattern("serving_online", ["aws:serving_online:b", "aws:serving_online:a"],
                                          ConstraintSchema()))
    assert choice.value.pattern_id == "aws:serving_online:b"  # the rules' first, never re-ranked
    seams = await det.ask(fill_seams([Seam(id="s", path="p.py", default="pass\n")], {}))
    assert seams.value == {"s": "pass\n"}


async def test_deterministic_critique_is_the_tech_critic():
    from amp_contracts import Component, Plan

    from services.critics.asks import critique_plan
    from services.critics.tech import critique

    plan = Plan(cloud="aws", regions=["eu-west-1"], components=[
        Component(capability="serving_online", pattern_id="aws:serving_online:lambda", deployment="serverless")])
    c = ConstraintSchema(cloud="aws", sla_latency_ms=20, throughput_rps=5000)
    res = await DeterministicProvider().ask(critique_plan(plan, c))
    assert res.value == critique(plan, c)


def test_every_model_call_of_the_pipeline_is_configurable():
    from amp_contracts import MODEL_CALLS

    env = {f"AMP_PROVIDER_{m.name.upper()}": "openai" for m in MODEL_CALLS}
    cfg = ProviderConfig.from_env(env)
    assert all(cfg.provider_for(m.name) == "openai" for m in MODEL_CALLS)
    assert {m.name for m in MODEL_CALLS if cfg.writes_code(m.name)} == {"codegen"}
