"""detect-secrets over every file of the tree, in-process; any finding fails the run.

Files are scanned one by one with `scan_file` rather than `scan_files`, which forks a
multiprocessing pool per call: forking from the threads validators run in is unsafe, and the
trees are small. detect-secrets keeps its plugin settings in module state, hence the lock.
Findings name the secret type and line, never the secret.

A file's findings depend only on its path (which plugins' transformers and filters apply) and its
content, under the fixed default settings, so they are remembered by (path, SHA-256 of the
content): most files of a new version, and about half of a new project's, are those of an earlier
tree, and scanning costs about a second of CPU per generated repository.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from ..report import Finding, ToolResult
from .base import CheckContext, dist_version

TOOL = "detect-secrets"
_LOCK = threading.Lock()
#: Files whose findings are kept (least recently used dropped first); a tree has about a hundred.
CACHE_SIZE = 8192
#: (path, content digest) -> (secret type, line) of each finding in that file.
_results: OrderedDict[tuple[str, bytes], tuple[tuple[str, int | None], ...]] = OrderedDict()


def _key(path: str, text: str) -> tuple[str, bytes]:
    return path, hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def check_secrets(ctx: CheckContext) -> ToolResult:
    # lazy: detect-secrets loads its plugins on import
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    files = ctx.sandbox.files
    keys = {path: _key(path, files[path]) for path in sorted(files)}
    found: dict[str, tuple[tuple[str, int | None], ...]] = {}
    with _LOCK:
        for path, key in keys.items():
            if (hit := _results.get(key)) is not None:
                _results.move_to_end(key)
                found[path] = hit
        missing = [path for path in keys if path not in found]
        if missing:
            collection = SecretsCollection(root=str(ctx.sandbox.root))
            with default_settings():
                for path in missing:
                    collection.scan_file(path)
            for path in missing:
                found[path] = _results[keys[path]] = tuple(
                    (secret.type, secret.line_number or None) for secret in collection.data.get(path, ()))
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


def clear_cache() -> None:
    with _LOCK:
        _results.clear()
