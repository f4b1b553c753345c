"""What model-written code may do, checked on its syntax tree before a line of it is written.

A seam is a small piece of domain logic (validation rules, a feature transform). Code a model
writes there is parsed and held to an allowlist: imports only from pure-computation modules of the
standard library, the data libraries a generated service uses, and the repository's own packages;
no calls that run code from strings, reach the interpreter's internals, or open files outside the
repository; no dunder attributes (the classic `().__class__.__subclasses__()` escape). Everything
else (os, subprocess, socket, ctypes, importlib, pickle, network clients, threads…) is refused.

A refusal is a validation failure like any other (`asks.check_seams`): its message goes back to
the model for a corrected answer, and the provider quarantines the answers when the attempts run
out. The
generated tests still run in the validators' sandbox; this check keeps such code out of the
repository a user deploys.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

#: Standard-library modules of pure computation and data handling (no processes, files, network).
ALLOWED_STDLIB = frozenset({
    "__future__", "abc", "bisect", "collections", "copy", "csv", "dataclasses", "datetime", "decimal", "enum",
    "fractions", "functools", "hashlib", "heapq", "itertools", "json", "math", "numbers", "operator",
    "random", "re", "statistics", "string", "textwrap", "time", "typing", "typing_extensions", "uuid", "zoneinfo",
    "pathlib",
})
#: Libraries a generated service depends on, used for what they compute.
ALLOWED_THIRD_PARTY = frozenset({"pydantic", "fastapi", "starlette", "numpy", "pandas", "sklearn", "scipy"})
#: Named in the refusal because a model reaches for them first.
DENIED_HINT = frozenset({
    "os", "sys", "subprocess", "socket", "ctypes", "cffi", "importlib", "builtins", "shutil", "signal", "pty",
    "multiprocessing", "threading", "asyncio", "concurrent", "pickle", "marshal", "shelve", "dill", "cloudpickle",
    "http", "urllib", "urllib3", "requests", "httpx", "aiohttp", "ftplib", "smtplib", "telnetlib", "ssl", "paramiko",
    "boto3", "tempfile", "glob", "fcntl", "resource", "mmap", "code", "codeop", "inspect", "gc", "runpy", "zipimport",
    "webbrowser", "platform",
})
#: Builtins that run code from data or reach the interpreter's state.
DENIED_CALLS = frozenset({
    "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "breakpoint", "input", "getattr",
    "setattr", "delattr", "memoryview", "exit", "quit", "help",
})
DENIED_NAMES = frozenset({"__builtins__", "__import__", "__loader__", "__spec__", "__code__"})
#: Dunder attributes that are plain data; every other one is refused.
ALLOWED_DUNDERS = frozenset({"__name__", "__doc__", "__init__", "__qualname__", "__module__"})
#: Methods that write, delete or re-link files: a seam computes, it does not change the file system.
WRITE_METHODS = frozenset({"write_text", "write_bytes", "unlink", "rmdir", "touch", "chmod", "lchmod", "symlink_to",
                           "hardlink_to", "rmtree", "makedirs", "removedirs"})


def _outside_repo(node: ast.expr) -> str | None:
    """A path literal that leaves the repository (absolute, home, `..`), or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        text = node.value.decode(errors="replace") if isinstance(node.value, bytes) else node.value
        norm = text.replace("\\", "/")
        if norm.startswith(("/", "~")) or ".." in norm.split("/") or (len(norm) > 1 and norm[1] == ":"):
            return text
    if isinstance(node, ast.JoinedStr):
        head = node.values[0] if node.values else None
        if isinstance(head, ast.Constant) and str(head.value).replace("\\", "/").startswith(("/", "~")):
            return str(head.value)
    return None


class _Checker(ast.NodeVisitor):
    def __init__(self, local_packages: frozenset[str]) -> None:
        self.local = local_packages
        self.problems: list[str] = []

    def _bad(self, node: ast.AST, message: str) -> None:
        self.problems.append(f"line {getattr(node, 'lineno', '?')}: {message}")

    def _module(self, node: ast.AST, name: str) -> None:
        top = name.split(".", 1)[0]
        if top in ALLOWED_STDLIB or top in ALLOWED_THIRD_PARTY or top in self.local:
            return
        why = "is not allowed (processes, files, network or the interpreter's internals)" if top in DENIED_HINT \
            else "is not on the allowlist"
        self._bad(node, f"import of `{name}` {why}; seams may import only "
                        f"{', '.join(sorted(ALLOWED_STDLIB - {'__future__'}))}, "
                        f"{', '.join(sorted(ALLOWED_THIRD_PARTY))} and the repository's own packages")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0:
            self._module(node, node.module or "")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        args = [*node.args, *(k.value for k in node.keywords)]
        if isinstance(func, ast.Name) and func.id in DENIED_CALLS:
            self._bad(node, f"`{func.id}()` is not allowed in model-written code")
        elif isinstance(func, ast.Name) and func.id == "open":
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)) or _outside_repo(first):
                self._bad(node, "`open()` may only read a literal path inside the repository")
        elif isinstance(func, ast.Attribute) and func.attr in WRITE_METHODS:
            self._bad(node, f"`.{func.attr}()` is not allowed: seam code computes, it does not change files")
        if isinstance(func, ast.Name | ast.Attribute):
            for arg in args:
                if (where := _outside_repo(arg)) is not None and (
                        (isinstance(func, ast.Name) and func.id in ("Path", "PurePath", "open"))
                        or (isinstance(func, ast.Attribute) and func.attr in ("Path", "open", "joinpath"))):
                    self._bad(node, f"the path {where!r} reaches outside the repository")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("__") and attr.endswith("__") and attr not in ALLOWED_DUNDERS:
            self._bad(node, f"the attribute `{attr}` is not allowed (interpreter internals)")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in DENIED_NAMES:
            self._bad(node, f"`{node.id}` is not allowed in model-written code")

    def visit_Global(self, node: ast.Global) -> None:
        self._bad(node, "`global` is not allowed in model-written code (a seam must not change module state)")


def check_code(source: str, *, path: str = "<seam>", local_packages: Iterable[str] = ()) -> list[str]:
    """The problems of `source` (empty when it may be written). A syntax error is a problem too."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        return [f"Python syntax error at line {e.lineno}: {e.msg}"]
    checker = _Checker(frozenset(local_packages))
    checker.visit(tree)
    return checker.problems


def local_packages(paths: Iterable[str]) -> frozenset[str]:
    """The repository's own top-level packages, from the paths of its Python files."""
    return frozenset(p.split("/", 1)[0] for p in paths if "/" in p and p.endswith(".py"))
