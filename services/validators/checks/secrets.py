"""detect-secrets over every file of the tree, in-process; any finding fails the run.

Files are scanned one by one with `scan_file` rather than `scan_files`, which forks a
multiprocessing pool per call: forking from the threads validators run in is unsafe, and the
trees are small. detect-secrets keeps its plugin settings in module state, hence the lock.
Findings name the secret type and line, never the secret.
"""

from __future__ import annotations

import threading

from ..report import Finding, ToolResult
from .base import CheckContext, dist_version

TOOL = "detect-secrets"
_LOCK = threading.Lock()


def check_secrets(ctx: CheckContext) -> ToolResult:
    # lazy: detect-secrets loads its plugins on import
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    collection = SecretsCollection(root=str(ctx.sandbox.root))
    with _LOCK, default_settings():
        for path in sorted(ctx.sandbox.files):
            collection.scan_file(path)
    findings = [
        Finding(rule=secret.type, path=filename, line=secret.line_number or None,
                message=f"possible secret ({secret.type}); remove it and rotate the credential", severity="error")
        for filename, secret in collection
    ]
    findings.sort(key=lambda f: (f.path or "", f.line or 0, f.rule))
    return ToolResult(tool=TOOL, version=dist_version("detect-secrets"), status="fail" if findings else "pass",
                      findings=findings)
