"""detect-secrets over every file of the tree, in-process; any finding fails the run.

Files are scanned one by one rather than with `scan_files`, which forks a multiprocessing pool
per call: forking from the threads validators run in is unsafe, and the trees are small.
detect-secrets keeps its plugin settings in module state, hence the lock. Findings name the
secret type and line, never the secret.

Scanning costs most of a second of CPU per generated repository, and most of it is work done
before, so results are remembered at two grains, both under the fixed default settings:

- a file's findings by (path, SHA-256 of the content): the path decides which transformers and
  filters apply. Most files of a new version, and all but about fifteen of a new project's (those
  that carry its name or region), are those of an earlier tree.
- each line's by (path, the line with the five lines either side of it): `scan_file` judges a
  line by the file's name, the line and that snippet (an allowlist comment may sit on the line
  above), and by nothing else; the line's number only labels what it finds. A new project's
  files differ from earlier ones' in a few lines (its name, its region), so a changed file is
  judged mostly from memory: about a quarter of its lines are scanned.

`_scan_file` is `scan.scan_file` with the second kept: the same filters, transformers and plugins
(the line filters after the plugins, and only on a line they found something on: a filter only
takes findings away), one file's findings deduplicated as `SecretsCollection` does (a secret of
one type is reported once, on its first line). A test holds it to `SecretsCollection.scan_file`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator

from ..report import Finding, ToolResult
from .base import CheckContext, dist_version

TOOL = "detect-secrets"
_LOCK = threading.Lock()
#: Files whose findings are kept (least recently used dropped first); a tree has about a hundred.
CACHE_SIZE = 8192
#: Lines whose findings are kept: a tree has about five thousand (its sample data included); the
#: eight scenario texts' trees, 36,000 lines, are kept in about 5 MiB.
LINE_CACHE_SIZE = 65536
#: Lines of context either side of a line that `scan_file` hands the filters and plugins
#: (`get_code_snippet`'s default, which the snippets here use too; a test holds the two equal).
CONTEXT_LINES = 5
#: A file's finding: (secret type, line).
Found = tuple[str, int | None]
#: (path, content digest) -> each finding in that file.
_results: OrderedDict[tuple[str, bytes], tuple[Found, ...]] = OrderedDict()
#: digest of (path, snippet) -> (secret type, secret hash) of each secret that line holds.
_lines: OrderedDict[bytes, tuple[tuple[str, str], ...]] = OrderedDict()


def _key(path: str, text: str) -> tuple[str, bytes]:
    return path, hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def check_secrets(ctx: CheckContext) -> ToolResult:
    # lazy: detect-secrets loads its plugins on import
    from detect_secrets.settings import default_settings

    files = ctx.sandbox.files
    keys = {path: _key(path, files[path]) for path in sorted(files)}
    found: dict[str, tuple[Found, ...]] = {}
    with _LOCK:
        for path, key in keys.items():
            if (hit := _results.get(key)) is not None:
                _results.move_to_end(key)
                found[path] = hit
        missing = [path for path in keys if path not in found]
        if missing:
            with default_settings():
                for path in missing:
                    found[path] = _results[keys[path]] = _scan_file(str(ctx.sandbox.root), path)
            while len(_results) > CACHE_SIZE:
                _results.popitem(last=False)
    findings = [
        Finding(rule=kind, path=path, line=line,
                message=f"possible secret ({kind}); remove it and rotate the credential", severity="error")
        for path, secrets in found.items() for kind, line in secrets
    ]
    findings.sort(key=lambda f: (f.path or "", f.line or 0, f.rule))
    return ToolResult(tool=TOOL, version=dist_version("detect-secrets"), status="fail" if findings else "pass",
                      findings=findings)


def _scan_file(root: str, path: str) -> tuple[Found, ...]:
    """What `SecretsCollection(root).scan_file(path)` records for `path`, as (type, line) pairs."""
    # lazy: detect-secrets loads its plugins on import
    from detect_secrets.core import scan

    filename = os.path.join(root, path)
    if scan._is_filtered_out(required_filter_parameters=["filename"], filename=filename):
        return ()
    first: dict[tuple[str, str], int] = {}  # (type, secret hash) -> its first line, as the collection's set keeps
    try:
        for lines in scan._get_lines_from_file(filename):
            for number, kind, digest in _scan_lines(path, filename, lines):
                first.setdefault((kind, digest), number)
            if first:
                break  # as scan_file: the eager transformers only for a file with nothing found
    except OSError:
        pass  # as scan_file: what was found stays, the rest of the file is not read
    return tuple((kind, number or None) for (kind, _), number in first.items())


def _scan_lines(path: str, filename: str, lines: list[str]) -> Iterator[tuple[int, str, str]]:
    """(line number, type, secret hash) of each secret `_process_line_based_plugins` finds."""
    # lazy: detect-secrets loads its plugins on import
    from detect_secrets.util.code_snippet import get_code_snippet

    for number, raw in enumerate(lines, start=1):
        snippet = get_code_snippet(lines=lines, line_number=number)  # as scan_file asks for it
        key = _line_key(path, snippet.lines, snippet.target_index)
        kept = _lines.get(key)
        if kept is None:
            kept = _lines[key] = _scan_line(filename, raw.rstrip(), number, snippet)
            if len(_lines) > LINE_CACHE_SIZE:
                _lines.popitem(last=False)
        else:
            _lines.move_to_end(key)
        for kind, digest in kept:
            yield number, kind, digest


def _scan_line(filename: str, line: str, number: int, snippet: object) -> tuple[tuple[str, str], ...]:
    """The body of detect-secrets' `_process_line_based_plugins` for one line.

    The line filters (an allowlist comment, an indirect reference, ...) run after the plugins
    rather than before, and only on a line where a plugin found something: a filter only takes a
    line's findings away, so a line with none needs no filter. Most lines have none, and the
    filters were a quarter of a line's CPU (the indirect-reference regex backtracks over every
    start of a line with a colon in it: 40 µs a line of sample data)."""
    # lazy: detect-secrets loads its plugins on import
    from detect_secrets.core import scan
    from detect_secrets.settings import get_plugins

    found = tuple(
        (secret.type, secret.secret_hash)
        for plugin in get_plugins()
        for secret in scan._scan_line(plugin=plugin, filename=filename, line=line, line_number=number,
                                      context=snippet)
        if not scan._is_filtered_out(required_filter_parameters=["context"], filename=secret.filename,
                                     secret=secret.secret_value, plugin=plugin, line=line, context=snippet)
    )
    if found and scan._is_filtered_out(required_filter_parameters=["line"], filename=filename, line=line,
                                       context=snippet):
        return ()
    return found


def _line_key(path: str, snippet: list[str], target: int) -> bytes:
    """A digest of everything a line's verdict depends on; lengths first, so no two differ alike."""
    h = hashlib.blake2b(digest_size=16)
    for part in (path, str(target), *snippet):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.digest()


def clear_cache() -> None:
    with _LOCK:
        _results.clear()
        _lines.clear()
