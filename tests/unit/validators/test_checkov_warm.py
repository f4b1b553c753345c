"""The warm checkov's remembered answers, on plain functions: each input worked out once, answers
that cannot be mutated through, errors raised again, and nothing kept that an assignment, the
clock or a change of the symbol table could make different. (Against checkov itself:
`test_checkov_worker.py`.)"""

from __future__ import annotations

import io
import logging
import sys
import threading

import pytest

from services.validators.checks.checkov_warm import Expressions, quiet_logging, remembering_load


class Evaluator:
    """A small evaluator over a shared symbol table, as asteval is: `name = value` assigns, `name`
    reads (a KeyError if unknown), `list:a,b` builds a new list; every call is counted."""

    def __init__(self) -> None:
        self.table: dict[str, object] = {"upper": str.upper}
        self.calls: list[str] = []

    def __call__(self, text: str) -> object:
        self.calls.append(text)
        if "=" in text:
            name, value = (part.strip() for part in text.split("=", 1))
            self.table[name] = sys.intern(value)  # the same text binds the same object again
            return None
        if text.startswith("list:"):
            return text[5:].split(",")
        if text.startswith("timestamp"):
            return f"t{len(self.calls)}"
        return self.table[text]


def test_an_expression_is_worked_out_once_and_its_answer_cannot_be_changed_through_a_copy() -> None:
    ev = Evaluator()
    evaluate = Expressions(ev.table).remembering(ev, assigns=True)
    first = evaluate("list:a,b")
    first.append("mutated by the caller")
    assert evaluate("list:a,b") == ["a", "b"]
    evaluate("list:a,b").append("again")
    assert evaluate("list:a,b") == ["a", "b"]
    assert evaluate("upper") is str.upper  # a function of the table is itself
    assert ev.calls == ["list:a,b", "upper"]


def test_an_error_is_raised_again_without_calling_again_and_without_the_first_ones_traceback() -> None:
    ev = Evaluator()
    evaluate = Expressions(ev.table).remembering(ev, assigns=True)
    with pytest.raises(KeyError) as first:
        evaluate("missing")
    with pytest.raises(KeyError) as second:
        evaluate("missing")
    assert second.value.args == first.value.args and second.value is not first.value
    assert ev.calls == ["missing"]
    stored = evaluate.answers["missing"][1]
    assert stored.__traceback__ is None and stored.__context__ is None


def test_an_assignment_always_runs_and_a_changed_table_forgets_what_was_remembered() -> None:
    ev = Evaluator()
    memory = Expressions(ev.table)
    evaluate = memory.remembering(ev, assigns=True)
    with pytest.raises(KeyError):
        evaluate("x")
    assert evaluate("list:c") == ["c"]
    assert evaluate("x = 1") is None
    assert evaluate("x") == "1"  # not the remembered KeyError
    assert evaluate("list:c") == ["c"] and ev.calls.count("list:c") == 2  # everything was forgotten
    generation = memory.generation
    evaluate("x = 1")  # an assignment runs each time, as it would without the memory
    evaluate("y := 2")  # so does a named expression
    assert ev.calls.count("x = 1") == 2 and ev.calls.count("y := 2") == 1
    assert memory.generation > generation  # each changed the table (a new object bound)
    assert "x = 1" not in evaluate.answers and "y := 2" not in evaluate.answers


def test_comparisons_are_not_taken_for_assignments() -> None:
    ev = Evaluator()
    ev.table.update({"a == b": True, "a != b": False, "a <= b": True, "a >= b": False})
    evaluate = Expressions(ev.table).remembering(lambda text: ev.table[text], assigns=True)
    for text in ("a == b", "a != b", "a <= b", "a >= b"):
        evaluate(text)
        evaluate(text)
    assert set(evaluate.answers) == {"a == b", "a != b", "a <= b", "a >= b"}


def test_an_answer_worked_out_while_the_table_changed_is_not_kept() -> None:
    """A rendering whose pieces assign (its own text need not show it) is not remembered."""
    ev = Evaluator()
    memory = Expressions(ev.table)
    evaluate = memory.remembering(ev, assigns=True)
    renders: list[str] = []

    def render(text: str) -> object:  # like evaluate_terraform: hands rewritten pieces to evaluate
        renders.append(text)
        evaluate(text.replace("SET ", "").replace(" TO ", " = "))
        return evaluate(text.split()[1])

    remembered_render = memory.remembering(render, assigns=False)
    assert remembered_render("SET y TO 5") == "5"
    assert remembered_render("SET y TO 5") == "5"
    assert renders == ["SET y TO 5", "SET y TO 5"]  # the first call changed the table: not kept
    assert "SET y TO 5" in remembered_render.answers  # the second did not (the same object): kept


def test_the_clock_and_other_inputs_than_text_are_never_remembered() -> None:
    ev = Evaluator()
    evaluate = Expressions(ev.table).remembering(ev, assigns=True)
    assert evaluate("timestamp()") != evaluate("timestamp()")
    with pytest.raises(AttributeError):
        evaluate(["list", "input"])  # passed through as it is: the evaluator's own error
    assert not evaluate.answers


def test_flags_are_part_of_the_key_and_unhashable_ones_pass_through() -> None:
    seen: list[tuple] = []

    def render(text: str, keep: bool = True, extra: object = None) -> str:
        seen.append((text, keep))
        return f"{text}:{keep}"

    remembered = Expressions({}).remembering(render, assigns=False)
    assert remembered("v", keep=False) == "v:False"
    assert remembered("v") == "v:True"
    assert remembered("v", keep=False) == "v:False"
    assert remembered("v", extra=[1]) == "v:True"
    assert seen == [("v", False), ("v", True), ("v", True)]


def test_recursion_and_memory_errors_are_not_remembered() -> None:
    calls: list[str] = []

    def deep(text: str) -> str:
        calls.append(text)
        raise RecursionError("maximum recursion depth exceeded")

    remembered = Expressions({}).remembering(deep, assigns=False)
    for _ in range(2):
        with pytest.raises(RecursionError):
            remembered("x")
    assert calls == ["x", "x"]


def test_the_oldest_answers_go_first_past_the_limit() -> None:
    remembered = Expressions({}, limit=3).remembering(str.upper, assigns=False)
    for text in "abcd":
        remembered(text)
    assert list(remembered.answers) == ["b", "c", "d"]


def test_threads_share_the_answers() -> None:
    calls: list[str] = []
    lock = threading.Lock()

    def slow(text: str) -> str:
        with lock:
            calls.append(text)
        return text * 2

    remembered = Expressions({}).remembering(slow, assigns=False)
    remembered("warm")
    threads = [threading.Thread(target=lambda: [remembered("warm") for _ in range(200)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["warm"]


def test_a_text_is_parsed_once_and_each_load_gets_a_copy_of_its_own() -> None:
    parses: list[str] = []

    def loads(text: str) -> dict:
        parses.append(text)
        if "broken" in text:
            raise ValueError("unexpected token")
        return {"resource": [{"aws_s3_bucket": {"b": {"bucket": [text.strip()]}}}]}

    load = remembering_load(loads)
    first = load(io.StringIO("one\n"))
    first["resource"].clear()
    assert load(io.StringIO("one\n")) == {"resource": [{"aws_s3_bucket": {"b": {"bucket": ["one"]}}}]}
    assert load(io.StringIO("two\n"))["resource"][0]["aws_s3_bucket"]["b"]["bucket"] == ["two"]
    for _ in range(2):
        with pytest.raises(ValueError):
            load(io.StringIO("broken\n"))
    assert parses == ["one\n", "two\n", "broken\n", "broken\n"]


def test_quiet_logging_drops_the_in_memory_record_of_every_debug_line() -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        quiet_logging(stream)
        logging.getLogger("checkov.anything").debug("rendering %s", "x")
        assert handler not in root.handlers and root.level == logging.WARNING
        assert stream.getvalue() == ""
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_an_answer_that_cannot_be_copied_is_given_but_not_remembered() -> None:
    class Uncopyable:
        def __deepcopy__(self, memo: dict) -> object:
            raise TypeError("cannot copy")

    calls: list[str] = []

    def make(text: str) -> list[object]:
        calls.append(text)
        return [Uncopyable()]

    remembered = Expressions({}).remembering(make, assigns=False)
    assert isinstance(remembered("u")[0], Uncopyable) and isinstance(remembered("u")[0], Uncopyable)
    assert calls == ["u", "u"] and not remembered.answers


def test_an_error_that_cannot_be_rebuilt_is_raised_as_it_is_and_not_remembered() -> None:
    class Odd(Exception):
        def __init__(self, code: int, detail: str) -> None:  # its args do not rebuild it
            super().__init__(f"{code}: {detail}")

    calls: list[str] = []

    def fail(text: str) -> None:
        calls.append(text)
        raise Odd(7, "no")

    remembered = Expressions({}).remembering(fail, assigns=False)
    for _ in range(2):
        with pytest.raises(Odd):
            remembered("e")
    assert calls == ["e", "e"] and not remembered.answers
