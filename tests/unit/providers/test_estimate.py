"""The pre-run estimate: which calls cost, from the packs or from the project's history."""

from __future__ import annotations

from amp_cli.main import prompt_dirs
from amp_contracts import MODEL_CALLS
from amp_runtime.providers import PackRegistry, ProviderConfig, estimate_run

PACKS = PackRegistry(prompt_dirs())


def test_the_rules_cost_nothing() -> None:
    assert estimate_run(ProviderConfig(provider="deterministic"), PACKS, 500).calls == ()


def test_every_model_call_is_estimated_from_its_pack_and_the_input() -> None:
    config = ProviderConfig(provider="anthropic", model="claude-sonnet-4-5")
    short, long = estimate_run(config, PACKS, 100), estimate_run(config, PACKS, 40_000)
    assert [c.call for c in short.calls] == [m.name for m in MODEL_CALLS]
    assert all(c.basis == "prompt" and c.usd > 0 for c in short.calls)
    # a longer requirement costs more input, the output allowance is the pack's
    assert long.input_tokens - short.input_tokens == len(MODEL_CALLS) * (40_000 - 100) // 4
    assert long.output_tokens == short.output_tokens == sum(PACKS.get(m.pack).max_tokens for m in MODEL_CALLS)
    price = config.price("claude-sonnet-4-5")
    assert price is not None
    expected = sum(c.input_tokens * price.input + c.output_tokens * price.output for c in short.calls) / 1e6
    assert abs(short.usd - expected) < 1e-5


def test_only_the_calls_sent_to_a_model_count() -> None:
    config = ProviderConfig(provider="deterministic", node_providers={"codegen": "anthropic"})
    estimate = estimate_run(config, PACKS, 1000)
    assert [c.call for c in estimate.calls] == ["codegen"]


def test_measured_usage_of_earlier_versions_replaces_the_guess() -> None:
    config = ProviderConfig(provider="anthropic", model="claude-haiku-4-5")
    estimate = estimate_run(config, PACKS, 1000, history={"planner_choose": (1200.4, 300.0)})
    planner = next(c for c in estimate.calls if c.call == "planner_choose")
    assert (planner.input_tokens, planner.output_tokens, planner.basis) == (1200, 300, "history")
    assert all(c.basis == "prompt" for c in estimate.calls if c.call != "planner_choose")


def test_a_model_without_a_price_is_estimated_in_tokens_only() -> None:
    config = ProviderConfig(provider="openai", openai_model="llama3.1:8b")
    estimate = estimate_run(config, PACKS, 1000)
    assert estimate.calls and estimate.usd == 0.0 and estimate.input_tokens > 0
