"""change_summary (state + files) and the three-way merge of user edits."""

from __future__ import annotations

from amp_domain.merge import MARK_GEN, MARK_USER, merge3_text, merge_user_edits

from services.validators.changes import change_summary, changed_root_keys, state_diff

PREV_STATE = {
    "decision_set_id": "ds_12", "ts": "2025-08-17T10:00:00Z",
    "constraints": {"budget_band": "low", "regions": ["eu-west-1"]},
    "plan": {"components": [{"capability": "storage", "pattern_id": "aws:storage:s3"}], "round": 1},
    "policy": {"overall": "pass"},
    "cost": {"monthly_usd": 400.0},
    "reason_cards": [{"decision_id": "a", "ts": "t1", "summary": "same"}],
}
NEW_STATE = {
    "decision_set_id": "ds_13", "ts": "2025-08-17T11:00:00Z",
    "constraints": {"budget_band": "low", "regions": ["eu-west-1"]},
    "plan": {"components": [{"capability": "storage", "pattern_id": "aws:storage:s3"},
                            {"capability": "training", "pattern_id": "aws:training:sagemaker"}], "round": 1},
    "policy": {"overall": "warn"},
    "cost": {"monthly_usd": 455},
    "reason_cards": [{"decision_id": "b", "ts": "t2", "summary": "same"}],
}


def test_state_keys_changed_ignore_volatile_keys() -> None:
    assert changed_root_keys(state_diff(PREV_STATE, NEW_STATE)) == ["cost", "plan", "policy"]
    assert changed_root_keys(state_diff(PREV_STATE, PREV_STATE | {"ts": "later"})) == []


def test_change_summary_counts_files_state_cost_and_pack() -> None:
    prev_files = {"README.md": "# a\n", "docs/plan.md": "v1\n", "app.py": "x = 1\n", "old.py": "", "same.tf": "t\n"}
    new_files = {"README.md": "# a\n", "docs/plan.md": "v2\n", "app.py": "x = 2\n", "new.py": "", "docs/new.md": "n\n",
                 "same.tf": "t\n"}
    s = change_summary(PREV_STATE, NEW_STATE, prev_files, new_files, git_commit="a1b2c3d",
                       parent_decision_set_id="ds_12", prev_prompt_pack="pp-1", new_prompt_pack="pp-2",
                       merge_conflicts=["app.py"])
    assert (s.files_added, s.files_removed, s.files_modified) == (2, 1, 2)
    assert s.paths_added == ["docs/new.md", "new.py"]
    assert s.paths_removed == ["old.py"]
    assert s.paths_modified == ["app.py", "docs/plan.md"]
    assert s.docs_changed == ["docs/new.md", "docs/plan.md"]
    assert s.state_keys_changed == ["cost", "plan", "policy"]
    assert s.cost_delta_usd == 55.0
    assert s.prompt_pack_change == "pp-1 → pp-2"
    assert s.git_commit == "a1b2c3d" and s.parent_decision_set_id == "ds_12"
    assert s.merge_conflicts == ["app.py"]


def test_first_version_has_everything_added_and_no_delta() -> None:
    s = change_summary(None, NEW_STATE, None, {"a.md": "x"}, git_commit="c0ffee0", parent_decision_set_id=None,
                       new_prompt_pack="pp-1")
    assert s.files_added == 1 and s.docs_changed == ["a.md"]
    assert s.state_keys_changed == ["constraints", "cost", "plan", "policy", "reason_cards"]
    assert s.cost_delta_usd is None
    assert s.prompt_pack_change == "none → pp-1"


def test_unchanged_prompt_pack_is_not_reported() -> None:
    s = change_summary(PREV_STATE, PREV_STATE, {}, {}, "c", "ds", "pp-1", "pp-1")
    assert s.prompt_pack_change is None and s.state_keys_changed == [] and s.cost_delta_usd == 0.0


BASE = "line1\nline2\nline3\nline4\nline5\n"


def test_merge3_combines_non_overlapping_edits() -> None:
    user = "line1\nUSER\nline3\nline4\nline5\n"
    gen = "line1\nline2\nline3\nline4\nGEN\n"
    assert merge3_text(BASE, user, gen) == ("line1\nUSER\nline3\nline4\nGEN\n", False)


def test_merge3_marks_overlap() -> None:
    text, conflict = merge3_text(BASE, "line1\nline2\nUSER\nline4\nline5\n", "line1\nline2\nGEN\nline4\nline5\n")
    assert conflict
    assert text == ("line1\nline2\n" + MARK_USER + "\nUSER\n||||||| previous generation\nline3\n=======\nGEN\n"
                    + MARK_GEN + "\nline4\nline5\n")


def test_merge_user_edits_file_rules() -> None:
    base = {"user_only.py": BASE, "gen_only.py": BASE, "both.py": BASE, "clash.py": BASE,
            "deleted_by_user.py": BASE, "deleted_by_user_regen.py": BASE}
    gen = {"user_only.py": BASE, "gen_only.py": BASE + "gen\n", "both.py": BASE.replace("line5", "GEN5"),
           "clash.py": BASE.replace("line3", "GEN3"), "deleted_by_user.py": BASE,
           "deleted_by_user_regen.py": BASE + "regen\n", "new_from_gen.py": "g\n"}
    user = {"user_only.py": BASE + "mine\n", "gen_only.py": BASE, "both.py": BASE.replace("line1", "USER1"),
            "clash.py": BASE.replace("line3", "USER3"), "user_added.py": "u\n"}
    result = merge_user_edits(base, gen, user)
    f = result.files
    assert f["user_only.py"] == BASE + "mine\n"  # the user's edit is kept
    assert f["gen_only.py"] == BASE + "gen\n"  # the generator's change is taken
    assert f["both.py"] == BASE.replace("line1", "USER1").replace("line5", "GEN5")
    assert MARK_USER in f["clash.py"] and "USER3" in f["clash.py"] and "GEN3" in f["clash.py"]
    assert result.conflicts == ["clash.py"]
    assert f["user_added.py"] == "u\n" and f["new_from_gen.py"] == "g\n"
    assert "deleted_by_user.py" not in f  # stays deleted
    assert f["deleted_by_user_regen.py"] == BASE + "regen\n"  # regenerated content changed: comes back


def test_value_changes_name_the_constraint_and_pattern_values() -> None:
    prev = {"constraints": {"regions": ["eu-west-1"], "budget_monthly_usd": 6000, "cloud": "aws"},
            "plan": {"components": [{"capability": "serving_online", "pattern_id": "aws:serving_online:ecs-fargate"},
                                    {"capability": "storage", "pattern_id": "aws:storage:s3"}]}}
    new = {"constraints": {"regions": ["eu-central-1"], "budget_monthly_usd": 6000, "cloud": "aws", "gpu": True},
           "plan": {"components": [{"capability": "serving_online", "pattern_id": "aws:serving_online:sagemaker-endpoint"},
                                   {"capability": "storage", "pattern_id": "aws:storage:s3"},
                                   {"capability": "monitoring", "pattern_id": "aws:monitoring:cloudwatch"}]}}
    s = change_summary(prev, new, {}, {}, "c0ffee", "p1")
    assert [(c.key, c.before, c.after) for c in s.constraint_changes] == [
        ("gpu", None, True), ("regions", ["eu-west-1"], ["eu-central-1"])]
    assert [(c.key, c.before, c.after) for c in s.component_changes] == [
        ("monitoring", None, "aws:monitoring:cloudwatch"),
        ("serving_online", "aws:serving_online:ecs-fargate", "aws:serving_online:sagemaker-endpoint")]
    first = change_summary(None, new, None, {}, "c0ffee", None)
    assert first.constraint_changes == [] and first.component_changes == []
