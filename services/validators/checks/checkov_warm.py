"""What the warm checkov worker changes in checkov after importing it: answers worked out once are
given again, and nothing is logged that no one reads.

A warm scan of a generated tree spends most of its CPU on three things no check depends on
doing again (the fraud scenario's tree, measured):

- **Evaluating Terraform expressions.** checkov's variable rendering hands each expression, as a
  string, to `evaluate_terraform`, which rewrites it and hands the pieces to
  `safe_eval_functions.evaluate`, which builds a new asteval interpreter for each (building it is
  about half of the cost). A scan evaluates some 5,900 strings of which 1,600 are different, and
  the next project's tree brings mostly the same ones.
- **Parsing HCL.** `hcl2.load` runs a lark parser over every file; most files of a generated
  tree (its modules) are those of the trees before it, byte for byte.
- **Debug logging.** checkov sets the root logger to DEBUG and keeps every record in an
  in-memory stream for its `--support` upload: some 4,500 formatted records a scan, kept for the
  worker's life. The worker logs at WARNING and keeps no such stream.

Evaluation and parsing are functions of their input strings and of the one piece of state the
evaluator has: the symbol table its interpreters share, which an expression can assign to (`a = 1`
is an expression there). So an expression that may assign (any `=` that is not part of a
comparison) is always evaluated, and if the table changed, everything remembered is forgotten;
an answer computed while the table changed is not kept. An expression naming `timestamp` (the
clock) is never remembered. Answers are handed out as copies (checkov mutates parsed files and
lists as it renders); an error is raised again as the first call raised it (its type and
arguments: a remembered error keeps no traceback, whose frames would keep a whole scan's graph
alive), except a recursion or memory error, which depends on the caller's stack, not on the input.

This module imports nothing of the platform: its source is sent to the worker, which runs in
checkov's own tool environment (`checkov_worker`). It is tested in the platform's environment
with plain functions, and against checkov itself: the same findings with and without it.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import pickle
import re
import threading
from collections.abc import Callable
from typing import Any

#: Answers remembered per function (the oldest dropped first); a generated tree has about 1,600.
MAX_ANSWERS = 32768
#: Parsed files remembered; a generated tree has about 50, of which a new project brings 3 to 5.
MAX_FILES = 1024
#: An `=` that is not part of `==`, `!=`, `<=` or `>=`: the expression may assign (`a = 1`, `a := 1`).
_ASSIGNS = re.compile(r"(?<![=!<>])=(?!=)")
#: Names whose answer changes with time.
_IMPURE = ("timestamp",)
#: Answers handed out as they are (never mutated; a function of the symbol table is itself).
_ATOMIC = (str, bytes, int, float, complex, bool, type(None))
#: Arguments besides the expression that an answer may be keyed by.
_KEYS = (str, int, bool, type(None))
#: Errors that depend on where the call was made, not on its input.
_UNSTABLE = (RecursionError, MemoryError)


def _put(store: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """Insert, dropping the oldest entries past `limit` (dicts keep insertion order)."""
    store[key] = value
    while len(store) > limit:
        del store[next(iter(store))]


def _bare(error: Exception) -> Exception | None:
    """The error without its traceback and chained errors (which hold the frames, and through them
    everything the scan had built), or None where its type cannot be copied."""
    try:
        bare = copy.copy(error)
        return bare if type(bare) is type(error) and bare.args == error.args else None
    except Exception:  # noqa: BLE001 - an error type whose arguments do not rebuild it: not remembered
        return None


def _handed_out(value: Any) -> Any:
    return value if isinstance(value, _ATOMIC) or callable(value) else copy.deepcopy(value)


class Expressions:
    """Remembered answers of expression functions sharing one symbol table (`symtable`)."""

    def __init__(self, symtable: dict[str, Any], limit: int = MAX_ANSWERS) -> None:
        self.symtable = symtable
        self.limit = limit
        self.generation = 0  # moves on each change of the table seen: answers from before are gone
        self._stores: list[dict[Any, tuple[bool, Any]]] = []
        self._lock = threading.Lock()

    def _table(self) -> list[tuple[str, int]]:
        # `print` is set to the newest interpreter's printer by every interpreter built
        return [(k, id(v)) for k, v in self.symtable.items() if k != "print"]

    def _watched(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run an expression that may assign; forget everything if the table changed."""
        before = self._table()
        try:
            return fn(*args, **kwargs)
        finally:
            if self._table() != before:
                with self._lock:
                    self.generation += 1
                    for store in self._stores:
                        store.clear()

    def remembering(self, fn: Callable[..., Any], *, assigns: bool) -> Callable[..., Any]:
        """`fn(expression, *flags)` answered from memory for an expression seen before.

        `assigns`: `fn` hands its expression to the interpreter as it is, so an expression that
        may assign is run watched (the table compared before and after) and never remembered."""
        answers: dict[Any, tuple[bool, Any]] = {}
        self._stores.append(answers)

        def remembered(*args: Any, **kwargs: Any) -> Any:
            expression = args[0] if args else None
            if type(expression) is not str:
                return fn(*args, **kwargs)
            if assigns and _ASSIGNS.search(expression):
                return self._watched(fn, args, kwargs)
            if any(name in expression for name in _IMPURE) \
                    or not all(type(a) in _KEYS for a in (*args[1:], *kwargs.values())):
                return fn(*args, **kwargs)
            key = (args, tuple(sorted(kwargs.items()))) if kwargs or len(args) > 1 else expression
            hit = answers.get(key)
            if hit is not None:
                ok, value = hit
                if not ok:
                    raise copy.copy(value)
                return _handed_out(value)
            generation = self.generation
            try:
                value = fn(*args, **kwargs)
            except _UNSTABLE:
                raise
            except Exception as e:
                if (bare := _bare(e)) is not None:
                    self._keep(answers, generation, key, (False, bare))
                raise
            try:
                kept = _handed_out(value)
            except Exception:  # noqa: BLE001 - an answer that cannot be copied is not remembered
                return value
            self._keep(answers, generation, key, (True, kept))
            return value

        remembered.answers = answers  # type: ignore[attr-defined]  # read by tests
        return remembered

    def _keep(self, answers: dict[Any, tuple[bool, Any]], generation: int, key: Any, answer: tuple[bool, Any]) -> None:
        with self._lock:
            if generation == self.generation:  # the table did not change while it was worked out
                _put(answers, key, answer, self.limit)


def remembering_load(loads: Callable[[str], Any], limit: int = MAX_FILES) -> Callable[[Any], Any]:
    """`hcl2.load(file)` that gives a text it has parsed before as a fresh copy of that parse.

    A text that fails to parse is parsed again each time (its error is the parser's to give)."""
    parsed: dict[bytes, bytes] = {}
    lock = threading.Lock()

    def load_remembered(file: Any) -> Any:
        text = file.read()
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
        blob = parsed.get(key)
        if blob is not None:
            return pickle.loads(blob)
        value = loads(text)
        try:
            blob = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - not a plain tree of values: not remembered
            return value
        with lock:
            _put(parsed, key, blob, limit)
        return value

    load_remembered.parsed = parsed  # type: ignore[attr-defined]  # read by tests
    return load_remembered


def quiet_logging(log_stream: Any) -> None:
    """Log at WARNING and drop the handler that keeps every record in `log_stream`."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "stream", None) is log_stream:
            root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def install() -> None:
    """Put the remembering versions in place of checkov's (in the worker, after importing checkov)."""
    # lazy: checkov and its HCL parser exist only in the worker's tool environment, not the platform's
    import hcl2
    from checkov import logging_init
    from checkov.terraform.graph_builder.foreach import abstract_handler
    from checkov.terraform.graph_builder.variable_rendering import evaluate_terraform, safe_eval_functions

    quiet_logging(logging_init.log_stream)
    memory = Expressions(safe_eval_functions.SAFE_EVAL_DICT)
    evaluate = memory.remembering(safe_eval_functions.evaluate, assigns=True)
    safe_eval_functions.evaluate = evaluate  # `try(...)` evaluates its arguments through the module's name
    evaluate_terraform.evaluate = evaluate
    render = memory.remembering(evaluate_terraform.evaluate_terraform, assigns=False)
    evaluate_terraform.evaluate_terraform = render  # its own recursive calls, and the renderer's
    abstract_handler.evaluate_terraform = render  # imported by name
    hcl2.load = remembering_load(hcl2.loads)
