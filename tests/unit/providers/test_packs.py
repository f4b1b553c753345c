"""Prompt packs: versioned files referenced by the hash of their canonical content."""

from __future__ import annotations

import json

import pytest
import yaml
from amp_runtime.canonical import canonical_json, sha256_hex
from amp_runtime.providers import PatternChoice, load_pack, pack_names, prompt_pack_hash
from amp_runtime.providers.contracts import CommentPatchOut, CritiqueOut, ExtractionOut, QuestionsOut, SeamFillsOut
from amp_runtime.providers.packs import PROMPTS_DIR, PromptPack

CONTRACTS = {"intake_extract": ExtractionOut, "intake_questions": QuestionsOut, "planner_choose": PatternChoice,
             "critic_tech": CritiqueOut, "approval_patch": CommentPatchOut, "codegen_seams": SeamFillsOut}


def test_every_node_has_a_pack():
    assert set(pack_names()) == set(CONTRACTS)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_hash_is_sha256_of_canonical_content(name):
    raw = yaml.safe_load((PROMPTS_DIR / f"{name}.yaml").read_text())
    expected = sha256_hex(canonical_json(PromptPack.model_validate(raw).model_dump(mode="json")))
    assert prompt_pack_hash(name) == expected
    assert len(expected) == 64 and prompt_pack_hash(name) == prompt_pack_hash(name)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_few_shot_outputs_satisfy_the_contract(name):
    pack = load_pack(name)
    assert pack.few_shot, f"{name} has no worked example"
    for example in pack.few_shot:
        CONTRACTS[name].model_validate(example.output)


def test_formatting_keeps_the_hash_and_content_changes_it():
    raw = yaml.safe_load((PROMPTS_DIR / "planner_choose.yaml").read_text())
    reformatted = yaml.safe_load(yaml.safe_dump(json.loads(json.dumps(raw)), default_flow_style=True, width=40))
    assert PromptPack.model_validate(reformatted).hash == prompt_pack_hash("planner_choose")
    changed = {**raw, "system": raw["system"] + " Be brief."}
    assert PromptPack.model_validate(changed).hash != prompt_pack_hash("planner_choose")
    bumped = {**raw, "version": raw["version"] + 1}
    assert PromptPack.model_validate(bumped).hash != prompt_pack_hash("planner_choose")


def test_hashes_differ_between_packs():
    hashes = [prompt_pack_hash(n) for n in pack_names()]
    assert len(set(hashes)) == len(hashes)


def test_unknown_pack_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown prompt pack"):
        load_pack("no_such_pack")


def test_few_shot_text_is_stable():
    pack = load_pack("intake_extract")
    assert pack.few_shot_text() == pack.few_shot_text()
    assert "Example 1" in pack.few_shot_text() and "Example 2" in pack.few_shot_text()
