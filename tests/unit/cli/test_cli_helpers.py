"""Pure helpers of the CLI."""

from __future__ import annotations


def test_server_urls_are_shown_without_secrets() -> None:
    from amp_cli.main import without_secrets

    assert without_secrets("postgresql://amp:s3cret@127.0.0.1:5432/amp") == "postgresql://amp:***@127.0.0.1:5432/amp"
    assert without_secrets("nats://user:pw@127.0.0.1:4222") == "nats://user:***@127.0.0.1:4222"
    assert without_secrets("nats://t0ken@127.0.0.1:4222") == "nats://***@127.0.0.1:4222"
    assert without_secrets("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_amp_status_says_what_is_degraded_and_exits_1(capsys) -> None:
    import argparse

    from amp_cli.commands import cmd_status

    doc = {"status": "degraded", "services": {
        "planner": {"health": "serving", "dead_letters": 0, "consumers": [
            {"durable": "planner-amp-intake-completed", "pending": 3, "ack_pending": 1, "redelivered": 0, "waiting": 1}]},
        "policy": {"health": "not serving", "dead_letters": 2, "consumers": [
            {"durable": "policy-amp-critique-completed", "pending": 7, "ack_pending": 0, "redelivered": 0,
             "waiting": 0}]}},
        "gates": {"waiting": 1, "reminded": 0, "oldest": {"decision_set_id": "ds-1", "gate": "pre-codegen",
                                                          "waiting_s": 7200.0}}}

    class Gateway:
        def get(self, path: str) -> dict:
            assert path == "/status"
            return doc

    assert cmd_status(Gateway(), argparse.Namespace(json=False)) == 1
    out = capsys.readouterr().out
    assert "not serving" in out and "policy" in out and "ds-1" in out and "2.0 h" in out
    doc["status"] = "ok"
    assert cmd_status(Gateway(), argparse.Namespace(json=True)) == 0


def test_every_command_and_subcommand_prints_its_help() -> None:
    """`amp --help` formats every subcommand's help line, so one stray "%" breaks the first thing a user types."""
    import argparse

    from amp_cli.main import parser

    def helps(p: argparse.ArgumentParser, path: str) -> list[tuple[str, str]]:
        out = [(path, p.format_help())]
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    out += helps(sub, f"{path} {name}")
        return out

    found = helps(parser(), "amp")
    assert len(found) > 10
    top = " ".join(dict(found)["amp"].split())  # help lines wrap at the terminal's width
    assert "budget a project's LLM usage and budget (warning at 80 %, pause at 100 %)" in top
    for path, text in found:
        assert text.startswith("usage:"), path


def test_a_number_question_takes_the_number_typed_not_a_suggestion() -> None:
    """A budget question suggests amounts; typing "2" means 2, so the suggestions are not numbered.
    A choice question numbers its options and "2" picks the second."""
    import io

    from amp_cli.run import ask
    from rich.console import Console

    def answer(q: dict, typed: str) -> tuple[object, str]:
        out = Console(file=io.StringIO(), force_terminal=False, width=120)
        out.input = lambda prompt="": typed  # type: ignore[method-assign]
        got = ask(q, out)
        return got, out.file.getvalue()  # type: ignore[attr-defined]

    budget = {"field": "budget_monthly_usd", "prompt": "Budget?", "kind": "number",
              "options": [500, 2000, 5000], "blocking": False}
    got, shown = answer(budget, "2000")
    assert got == "2000" and "for example 500, 2000, 5000" in shown and "1)" not in shown
    assert answer(budget, "2")[0] == "2"
    cloud = {"field": "cloud", "prompt": "Cloud?", "kind": "choice", "options": ["aws", "gcp", "azure"]}
    got, shown = answer(cloud, "2")
    assert got == "gcp" and "2) gcp" in shown
