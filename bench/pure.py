"""The agents' pure logic on its own, without bus or database: what each step's CPU starts from.

Extraction of a requirement text, the deterministic plan → critique → cost → policy pipeline,
rendering a repository per scenario, and the worst case of inputs built to be slow for the
extractor's grammars (repetition, a megabyte of text). These used to be timed unit tests; as
targets they belong here.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amp_domain.requirements.extraction import extract
from amp_runtime.identity import EmbeddedIssuer, embedded_verifier

from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.critics.tech import critique
from services.planner.planning import compose_plan
from services.policy.engine import evaluate

from .common import summary

PATHOLOGICAL = ("1," * 10_000, "a " * 10_000, "per " * 5_000, "$" * 20_000, "9" * 20_000, "p95 " * 5_000,
                "each camera " * 2_000, "nine " * 4_000, "evaluating " + " " * 19_000 + "Kafka x",
                "no Kafka, Redis, Flink or " * 800, "HIPAA was raised raised raised " * 700,
                "Fraud API on AWS eu-west-1, p95 80 ms, 3,000 rps, $6k/month, PCI DSS, Kafka. " * 20_000)


def _ms(fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    fn()  # warm: caches and compiled grammars, as in a long-running service
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return summary(samples)


def run(texts: list[str], repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {"extract_ms": summary([s for t in texts for s in [_ms(lambda t=t: extract(t), repeats)["p50"]]])}
    pipeline, render = [], []
    for t in texts:
        c = extract(t).constraints

        def plan_pipeline(c=c) -> Any:
            plan = compose_plan(c)
            cost = estimate(plan, c)
            critique(plan, c)
            return plan, cost, evaluate(c, plan, cost)

        pipeline.append(_ms(plan_pipeline, repeats)["p50"])
        plan, cost, policy = plan_pipeline()
        render.append(_ms(lambda c=c, plan=plan, cost=cost, policy=policy: render_repository(
            plan, c, cost, policy, [], [], "bench"), max(1, repeats // 4))["p50"])
    out["plan_pipeline_ms"] = summary(pipeline)
    out["render_ms"] = summary(render)
    worst = 0.0
    for text in PATHOLOGICAL:
        start = time.perf_counter()
        extract(text)
        worst = max(worst, (time.perf_counter() - start) * 1000)
    out["pathological_worst_ms"] = round(worst, 1)
    out.update(token_checks(repeats * 10))
    return out


def token_checks(n: int) -> dict[str, Any]:
    """What authentication adds to a request: an ES256 token's first check (the signature) and a
    repeated one (the verified-token cache). Both should stay well under a millisecond."""
    with tempfile.TemporaryDirectory() as tmp:
        issuer = EmbeddedIssuer.load(Path(tmp))
    verifier = embedded_verifier(issuer)
    tokens = [issuer.mint(f"user-{i}", 600) for i in range(n)]

    async def check_all() -> list[float]:
        samples = []
        for t in tokens:
            start = time.perf_counter()
            await verifier.verify(t)
            samples.append((time.perf_counter() - start) * 1000)
        return samples

    first = asyncio.run(check_all())
    cached = asyncio.run(check_all())
    # a cached check takes microseconds: its figure in µs too, where two decimals of a ms would read 0
    return {"token_first_check_ms": summary(first), "token_cached_check_ms": summary(cached),
            "token_first_check_us": summary([v * 1000 for v in first]),
            "token_cached_check_us": summary([v * 1000 for v in cached])}
