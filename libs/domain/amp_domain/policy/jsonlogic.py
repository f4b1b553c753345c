"""The JSONLogic subset policy rules are written in: an interpreter with no way to run code, and its checker.

Rules are data supplied by the platform and by project owners, so they are interpreted by
this whitelist of operators, never evaluated as Python; `{path}` detail templates likewise
only read values and apply numeric format specs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

# --------------------------------------------------------------------------- logic

_MISSING = object()


def _var(path: Any, data: Any) -> Any:
    if isinstance(path, list):
        path, default = (path + [None])[:2]
    else:
        default = None
    if path in ("", None):
        return data
    cur = data
    for part in str(path).split("."):
        if isinstance(cur, dict):
            cur = cur.get(part, _MISSING)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            cur = _MISSING
        if cur is _MISSING:
            return default
    return cur


def _cmp(fn: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def op(*args: Any) -> bool:
        if any(a is None for a in args):
            return False
        try:
            return all(fn(a, b) for a, b in itertools.pairwise(args))
        except TypeError:
            return False
    return op


def _arith(fn: Callable[[float, float], float]) -> Callable[..., Any]:
    def op(*args: Any) -> Any:
        if not args or any(not isinstance(a, (int, float)) or isinstance(a, bool) for a in args):
            return None
        out = args[0]
        for b in args[1:]:
            out = fn(out, b)
        return out
    return op


def truthy(x: Any) -> bool:
    return bool(x) and x != []


def _in(needle: Any, hay: Any) -> bool:
    if isinstance(hay, (list, str)) and needle is not None:
        try:
            return needle in hay
        except TypeError:
            return False
    return False


_SIMPLE: dict[str, Callable[..., Any]] = {
    "==": _cmp(lambda a, b: a == b), "<": _cmp(lambda a, b: a < b), "<=": _cmp(lambda a, b: a <= b),
    ">": _cmp(lambda a, b: a > b), ">=": _cmp(lambda a, b: a >= b),
    "+": _arith(lambda a, b: a + b), "-": _arith(lambda a, b: a - b), "*": _arith(lambda a, b: a * b),
    "/": _arith(lambda a, b: a / b if b else 0),
    "min": lambda *a: min((x for x in a if x is not None), default=None),
    "max": lambda *a: max((x for x in a if x is not None), default=None),
    "!": lambda a=None: not truthy(a), "!!": lambda a=None: truthy(a),
    "in": _in, "count": lambda a=None: len(a) if isinstance(a, (list, str, dict)) else 0,
    "merge": lambda *a: [y for x in a for y in (x if isinstance(x, list) else [x])],
}
_LAZY = {"var", "and", "or", "if", "all", "some", "none", "filter", "map", "!="}
OPERATORS: frozenset[str] = frozenset(_SIMPLE) | frozenset(_LAZY)


def apply_logic(logic: Any, data: Any) -> Any:
    """Evaluate a JSONLogic-subset expression; values other than one-key operator dicts are literals."""
    if isinstance(logic, list):
        return [apply_logic(x, data) for x in logic]
    if not isinstance(logic, dict) or len(logic) != 1:
        return logic
    (op, args), = logic.items()
    if op not in OPERATORS:
        return logic
    args = args if isinstance(args, list) else [args]
    if op == "var":
        return _var(apply_logic(args[0], data) if args else "", data) if len(args) <= 1 else \
            _var([apply_logic(args[0], data), apply_logic(args[1], data)], data)
    if op == "!=":
        vals = [apply_logic(a, data) for a in args]
        return len(vals) == 2 and vals[0] != vals[1]
    if op == "and":
        out: Any = True
        for a in args:
            out = apply_logic(a, data)
            if not truthy(out):
                return out
        return out
    if op == "or":
        out = False
        for a in args:
            out = apply_logic(a, data)
            if truthy(out):
                return out
        return out
    if op == "if":
        for i in range(0, len(args) - 1, 2):
            if truthy(apply_logic(args[i], data)):
                return apply_logic(args[i + 1], data)
        return apply_logic(args[-1], data) if len(args) % 2 else None
    items = apply_logic(args[0], data) if args else []
    items = items if isinstance(items, list) else []
    body = args[1] if len(args) > 1 else None
    if op == "all":
        return bool(items) and all(truthy(apply_logic(body, x)) for x in items)
    if op == "some":
        return any(truthy(apply_logic(body, x)) for x in items)
    if op == "none":
        return not any(truthy(apply_logic(body, x)) for x in items)
    if op == "filter":
        return [x for x in items if truthy(apply_logic(body, x))]
    if op == "map":
        return [apply_logic(body, x) for x in items]
    return _SIMPLE[op](*[apply_logic(a, data) for a in args])


def check_logic(logic: Any, where: str, errors: list[str]) -> None:
    if isinstance(logic, list):
        for x in logic:
            check_logic(x, where, errors)
        return
    if isinstance(logic, dict):
        if len(logic) != 1:
            errors.append(f"{where}: an operator object has exactly one key, got {sorted(logic)}")
            return
        (op, args), = logic.items()
        if op not in OPERATORS:
            errors.append(f"{where}: unknown operator {op!r}")
            return
        check_logic(args, where, errors)
        return
    if not (logic is None or isinstance(logic, (str, int, float, bool))):
        errors.append(f"{where}: unsupported literal {logic!r}")


# --------------------------------------------------------------------------- templates

_FIELD = re.compile(r"\{([A-Za-z_][\w.]*)(?::([^{}]*))?\}")
_SPEC = re.compile(r"^[+\- ]?,?(\.\d+)?[fdg%]?$")


def render_detail(template: str, ctx: dict[str, Any]) -> str:
    """Fill {path} / {path:spec} from the context; only numeric format specs are honoured."""
    def sub(m: re.Match[str]) -> str:
        val = _var(m.group(1), ctx)
        spec = m.group(2)
        if val is None:
            return "n/a"
        if isinstance(val, list):
            return ", ".join(str(v) for v in val) if val else "none"
        if spec and isinstance(val, (int, float)) and not isinstance(val, bool) and _SPEC.match(spec):
            try:
                return format(val, spec)
            except ValueError:
                return str(val)
        if isinstance(val, float):
            return f"{val:g}"
        return str(val)
    return _FIELD.sub(sub, template)
