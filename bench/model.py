"""Token use per decision set with a model: the providers talk to a local Messages API server
through the real `anthropic` SDK; prompt caching is applied as the API applies it (the prefix up
to the last `cache_control` block, at least 1,024 tokens, read when seen before).

Target (issue): cache reads ≥ 50 % of input tokens on the second and later decision sets of a
project. Input tokens here are all prompt tokens: uncached + cache writes + cache reads.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run(texts: list[str], versions: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    import asyncpg  # noqa: F401  (imported here: the section needs the database driver)
    from amp_cli.client import Client
    from amp_cli.stack import Stack
    from amp_runtime.embedded import free_port
    from amp_runtime.settings import Settings
    from fakes.anthropic_server import FakeAnthropicServer
    from fakes.scripted_model import ScriptedModel

    server = FakeAnthropicServer().start()
    model = ScriptedModel()
    server.respond(model)
    tmp = Path(tempfile.mkdtemp(prefix="amp-bench-model-"))
    tmp.chmod(0o755)
    stack = Stack(Settings(data_dir=tmp / "data", gateway_port=free_port(), provider="anthropic"),
                  env={"AMP_PROVIDER": "anthropic", "ANTHROPIC_API_KEY": "bench", "ANTHROPIC_BASE_URL": server.url,
                       "AMP_FALLBACK_MODEL": "none"})
    rows: list[dict[str, Any]] = []
    try:
        stack.start()
        client = Client(stack.gateway_url, timeout=120, token=stack.token("bench"))
        project = client.create_project("model tokens")
        for i in range(versions):
            ds = client.submit(project["id"], texts[i % len(texts)])["decision_set_id"]
            gate = _follow(client, ds, lambda ev, d: ev == "gate-waiting" and d.get("gate") == "pre-codegen"
                           or ev == "run-complete")
            if gate[0] == "gate-waiting":
                waivers = [{"rule_id": r["id"], "reason": "bench", "by": "bench"}
                           for r in gate[1]["policy"]["rules"] if r["status"] == "fail"]
                client.approve(ds, "approved", "", waivers)
                _follow(client, ds, lambda ev, d: ev == "run-complete")
            rows.append({"version": i + 1, **_usage(stack.settings.database_url, ds)})
        # the pre-run estimate of each version beside what it spent, as GET /projects/{id}/llm-usage reports it
        estimates = client.get(f"/projects/{project['id']}/llm-usage")["by_version"]
        client.close()
    finally:
        stack.stop()
        server.stop()
    for r in rows:
        prompt = r["input_tokens"] + r["cache_read_tokens"] + r["cache_write_tokens"]
        r["cache_read_share"] = round(r["cache_read_tokens"] / prompt, 3) if prompt else 0.0
    later = rows[1:]
    read = sum(r["cache_read_tokens"] for r in later)
    prompt = sum(r["input_tokens"] + r["cache_read_tokens"] + r["cache_write_tokens"] for r in later)
    for e in estimates:
        e["actual_over_estimate_tokens"] = (round(e["actual_tokens"] / e["estimate_tokens"], 3)
                                            if e.get("estimate_tokens") else None)
    return {"per_decision_set": rows, "calls_by_tool": model.calls,
            "cache_read_share_later": round(read / prompt, 3) if prompt else None,
            "estimate_vs_actual": estimates}


def _follow(client: Any, ds: str, until: Any) -> tuple[str, dict]:
    last: tuple[str, dict] = ("", {})
    for ev, data, _ in client.stream(ds, timeout=120):
        last = (ev, data)
        if until(ev, data):
            break
    return last


def _usage(database_url: str, ds: str) -> dict[str, int]:
    import asyncio
    import uuid

    import asyncpg

    async def fetch() -> dict[str, int]:
        conn = await asyncpg.connect(database_url)
        try:
            row = await conn.fetchrow(
                "SELECT count(*) AS calls, coalesce(sum(input_tokens), 0) AS input_tokens, "
                "coalesce(sum(output_tokens), 0) AS output_tokens, coalesce(sum(cache_read_tokens), 0) "
                "AS cache_read_tokens, coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens "
                "FROM llm_usage WHERE decision_set_id = $1", uuid.UUID(ds))
            return {k: int(v) for k, v in dict(row).items()}
        finally:
            await conn.close()

    return asyncio.run(fetch())
