"""rationale_compile: Reason-Card-shaped JSON and Markdown, with secrets and PII redacted."""

from __future__ import annotations

import json

import pytest
from amp_contracts.plan import Candidate, Choice
from amp_contracts.reason import Inputs, ProviderInfo, ReasonCard
from amp_domain.redaction import redact_text

from services.validators.rationale import compile_rationale


def card(**kw) -> ReasonCard:
    base = {
        "decision_id": "3f1c2b7e-0000-4000-8000-000000000001", "agent": "planner", "node_name": "planner",
        "inputs": Inputs(constraints_keys=["budget_band", "regions"], artifacts=["capability:ingest:s3-batch"]),
        "summary": "Batch ingest to S3 fits the budget.",
        "candidates": [
            Candidate(id="optA", summary="S3 batch", pros=["cheap"], cons=["latency"], tradeoffs=["hourly"]),
            Candidate(id="optB", summary="Kinesis", rejected_because="over budget | streaming not needed"),
        ],
        "choice": Choice(id="optA", justification="Meets the $400 budget in eu-west-1."),
        "policy_results": {"budget": "pass", "region": "pass", "pii": "warn"},
        "impacts": {"monthly_usd": 420, "p95_latency_ms": 180}, "confidence": 0.74,
        "risks": ["quota risk in us-east-1"], "links": {"diff": "/diffs/ds_12_vs_13.md", "cost": "/reports/cost.json"},
        "provider": ProviderInfo(provider="anthropic", model="claude-x", fallback_from="openai"),
        "prompt_pack_hash": "a" * 64,
    }
    return ReasonCard(**(base | kw))


@pytest.mark.parametrize("raw,kind", [
    ("contact jane.doe@example.com today", "email"),
    ("call +1 (415) 555-2671 after noon", "phone"),
    ("or 415-555-2671", "phone"),
    ("key AKIAIOSFODNN7EXAMPLE leaked", "aws_access_key"),
    ("card 4111 1111 1111 1111 on file", "card"),
    ("the test card is 4111 1111 1111 1111.", "card"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "jwt"),
    ("header Bearer abc123.def456ghi", "token"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", "private_key"),
    ("digest 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "hex"),
    ("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "token"),
    ("password=hunter22", "secret"),
    ("db postgres://app:s3cret@db.internal/x", "url_credentials"),
])
def test_redacts_secrets_and_pii(raw: str, kind: str) -> None:
    out = redact_text(raw)
    assert f"[REDACTED:{kind}]" in out, out


@pytest.mark.parametrize("text", [
    "Use S3 in eu-west-1 for 500GB at $12.50/month; budget 420 USD; 3 replicas; 10000 rps.",
    "p95 latency 180 ms, deployed 2025-08-17T10:15:22Z, node 192.168.100.200, version 1.15.5",
    "Card-like but not Luhn-valid: 4111 1111 1111 1112",
    "A measured 4111111111111111.5 units is a decimal, not a card",
    "Bearer authentication via the gateway; capability_ingest_batch_with_feature_store_v2",
])
def test_keeps_normal_text(text: str) -> None:
    assert redact_text(text) == text


def test_compile_redacts_every_string_and_drops_raw_prompts() -> None:
    c = card(
        summary="Asked jane.doe@example.com; key AKIAIOSFODNN7EXAMPLE",
        risks=["owner phone +44 20 7946 0958", "card 4111-1111-1111-1111"],
        details={"prompt": "SYSTEM: you are...", "raw_response": "<thinking>", "messages": [{"role": "user"}],
                 "nested": {"rawPrompt": "x", "llm_prompt": "y", "kept": "ok jane@corp.io"}, "notes": "fine"},
    )
    rationale_json, markdown = compile_rationale([c])
    cards = json.loads(rationale_json)
    text = rationale_json + markdown
    for leaked in ("jane.doe@example.com", "AKIAIOSFODNN7EXAMPLE", "7946 0958", "4111-1111-1111-1111", "jane@corp.io",
                   "SYSTEM: you are", "<thinking>"):
        assert leaked not in text
    details = cards[0]["details"]
    assert set(details) == {"nested", "notes"}
    assert details["nested"] == {"kept": "ok [REDACTED:email]"}
    assert cards[0]["prompt_pack_hash"] == "a" * 64  # an identifier, not a secret
    assert cards[0]["decision_id"] == c.decision_id


def test_json_has_the_section_19_shape() -> None:
    cards = json.loads(compile_rationale([card(), card(agent="critic.cost", node_name="critic_cost")])[0])
    assert len(cards) == 2
    first = cards[0]
    for key in ("decision_id", "agent", "node_name", "trigger", "inputs", "candidates", "choice", "policy_results",
                "impacts", "confidence", "risks", "links", "ts"):
        assert key in first
    assert first["choice"] == {"id": "optA", "justification": "Meets the $400 budget in eu-west-1."}
    assert first["impacts"] == {"monthly_usd": 420, "p95_latency_ms": 180}
    assert first["inputs"]["constraints_keys"] == ["budget_band", "regions"]


def test_markdown_section() -> None:
    _, md = compile_rationale([card()])
    assert md.startswith("## Design Rationale\n")
    assert "### planner (planner, trigger: constraints_updated)" in md
    assert "- **Decision:** `optA`: Meets the $400 budget in eu-west-1." in md
    assert "- **Policy:** budget: pass, region: pass, pii: warn" in md
    assert "- **Confidence:** 0.74" in md
    assert "[diff](/diffs/ds_12_vs_13.md)" in md
    assert "anthropic / claude-x (fallback from openai)" in md
    assert "| `optB` | Kinesis |" in md and "over budget \\| streaming not needed" in md  # pipes escaped


def test_no_cards() -> None:
    rationale_json, md = compile_rationale([])
    assert json.loads(rationale_json) == []
    assert "No decisions were recorded" in md


def test_the_committed_rationale_leaves_out_how_long_things_took() -> None:
    def timed(ms: int) -> ReasonCard:
        return card(ts="2026-01-02T03:04:05Z", details={"tools": [{"tool": "ruff", "status": "pass", "duration_ms": ms}],
                                                          "duration_ms": ms})
    fast, slow = compile_rationale([timed(3)]), compile_rationale([timed(4812)])
    assert fast == slow
    assert "duration" not in fast[0] and json.loads(fast[0])[0]["details"]["tools"] == [{"tool": "ruff", "status": "pass"}]


def test_a_card_names_the_person_whose_action_caused_it() -> None:
    from amp_contracts import CardDraft
    from amp_runtime.cards import stamp_cards

    stamped = stamp_cards([CardDraft(agent="planner", node_name="planner", summary="x")], "step-1",
                          ts="2026-01-01T00:00:00Z", user_id="alice-1")
    assert stamped[0].user_id == "alice-1"
    again = stamp_cards([CardDraft(agent="planner", node_name="planner", summary="x")], "step-1",
                        ts="2026-01-01T00:00:00Z", user_id="alice-1")
    assert again == stamped  # the same inputs (the person among them) stamp the same card
    assert stamp_cards([CardDraft(agent="planner", node_name="planner")], "step-1")[0].user_id is None

    rationale_json, markdown = compile_rationale([card(user_id="alice-1"), card(decision_id="d-2")])
    public = json.loads(rationale_json)
    assert public[0]["user_id"] == "alice-1" and public[1]["user_id"] is None
    assert markdown.count("**On behalf of:** `alice-1`") == 1
    # a person named by an email is personal data: redacted like any other field a person wrote
    _, md = compile_rationale([card(user_id="jane.doe@example.com")])
    assert "jane.doe@example.com" not in md and "On behalf of" in md
