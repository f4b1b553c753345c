"""Prompt packs: versioned files beside the node that asks with them, referenced by the hash of their content."""

from __future__ import annotations

import json

import pytest
import yaml
from amp_cli.main import prompt_dirs
from amp_contracts import MODEL_CALLS
from amp_runtime.canonical import canonical_json, sha256_hex
from amp_runtime.providers import PackRegistry, PromptPack, load_pack

from services.codegen.asks import CommentPatchOut, SeamFillsOut
from services.critics.asks import CritiqueOut
from services.intake.asks import ExtractionOut, QuestionsOut
from services.planner.asks import PatternChoice

CONTRACTS = {"intake_extract": ExtractionOut, "intake_questions": QuestionsOut, "planner_choose": PatternChoice,
             "critic_tech": CritiqueOut, "approval_patch": CommentPatchOut, "codegen_seams": SeamFillsOut}
PACKS = PackRegistry(prompt_dirs())


def test_every_model_call_has_its_pack_and_every_pack_a_call():
    assert set(PACKS.names()) == {m.pack for m in MODEL_CALLS} == set(CONTRACTS)


def test_each_pack_lives_in_the_service_that_asks_with_it():
    for call in MODEL_CALLS:
        assert PACKS.paths[call.pack].parent.parent.name == call.service


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_hash_is_sha256_of_canonical_content(name):
    raw = yaml.safe_load(PACKS.paths[name].read_text())
    expected = sha256_hex(canonical_json(PromptPack.model_validate(raw).model_dump(mode="json")))
    assert PACKS.get(name).hash == expected
    assert len(expected) == 64


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_few_shot_outputs_satisfy_the_contract(name):
    pack = PACKS.get(name)
    assert pack.few_shot, f"{name} has no worked example"
    for example in pack.few_shot:
        CONTRACTS[name].model_validate(example.output)


def test_formatting_keeps_the_hash_and_content_changes_it():
    raw = yaml.safe_load(PACKS.paths["planner_choose"].read_text())
    reformatted = yaml.safe_load(yaml.safe_dump(json.loads(json.dumps(raw)), default_flow_style=True, width=40))
    assert PromptPack.model_validate(reformatted).hash == PACKS.get("planner_choose").hash
    changed = {**raw, "system": raw["system"] + " Be brief."}
    assert PromptPack.model_validate(changed).hash != PACKS.get("planner_choose").hash
    bumped = {**raw, "version": raw["version"] + 1}
    assert PromptPack.model_validate(bumped).hash != PACKS.get("planner_choose").hash


def test_hashes_differ_between_packs_and_the_fingerprint_covers_all():
    hashes = [PACKS.get(n).hash for n in PACKS.names()]
    assert len(set(hashes)) == len(hashes)
    fewer = PackRegistry([d for d in prompt_dirs() if d.parent.name != "critics"])
    assert PACKS.fingerprint.startswith("packs-") and fewer.fingerprint != PACKS.fingerprint


def test_unknown_pack_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown prompt pack"):
        PACKS.get("no_such_pack")
    with pytest.raises(ValueError, match="no prompt pack"):
        load_pack(tmp_path / "missing.yaml")


def test_a_pack_defined_twice_is_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "x.yaml").write_text("name: x\n")
    with pytest.raises(ValueError, match="defined twice"):
        PackRegistry([tmp_path / "a", tmp_path / "b"])


def test_few_shot_text_is_stable():
    pack = PACKS.get("intake_extract")
    assert pack.few_shot_text() == pack.few_shot_text()
    assert "Example 1" in pack.few_shot_text() and "Example 2" in pack.few_shot_text()
