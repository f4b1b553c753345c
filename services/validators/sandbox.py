"""A throwaway directory holding a generated tree, and a way to run tools against it.

Generated code is untrusted: every tool runs as a subprocess with a wall-clock timeout, an
address-space limit, its own process group (so a timeout kills grandchildren too) and a
minimal environment: no proxies, no credentials, HOME and TMPDIR inside the sandbox, and the
offline switches the tools understand. The limits are applied by a tiny Python trampoline that
calls `resource.setrlimit` and then `exec`s the tool, rather than by `preexec_fn`, because
validators run checks from several threads and `preexec_fn` is unsafe after fork in a
threaded parent.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from amp_domain.paths import safe_relpath

DEFAULT_MEMORY_MB = 2048

# Environment variables passed through from the parent; everything else is dropped.
_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")

# Offline switches for tools that would otherwise phone home.
_OFFLINE_ENV = {
    "NO_PROXY": "*",
    "no_proxy": "*",
    "PIP_NO_INDEX": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "CHECKPOINT_DISABLE": "1",  # Terraform's version/alert check
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
    "BC_SKIP_MAPPING": "TRUE",  # checkov: do not fetch the Bridgecrew ID mapping
    "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
    "ANSIBLE_NOCOLOR": "1",
}

# Sets the limits, then replaces itself with the tool; argv: mem_bytes, cpu_s, tool argv...
_TRAMPOLINE = (
    "import os,resource,sys\n"
    "m=int(sys.argv[1]);c=int(sys.argv[2])\n"
    "if m>0: resource.setrlimit(resource.RLIMIT_AS,(m,m))\n"
    "if c>0: resource.setrlimit(resource.RLIMIT_CPU,(c,c+5))\n"
    "resource.setrlimit(resource.RLIMIT_CORE,(0,0))\n"
    "os.execvpe(sys.argv[3],sys.argv[3:],os.environ)\n"
)


@dataclass(frozen=True)
class RunResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_ms: int
    timed_out: bool = False


def scrubbed_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: PATH/locale from the parent, everything network-ish removed."""
    env = {k: v for k, v in os.environ.items() if k in _PASSTHROUGH}
    # The interpreter's own bin dir first, so `python`/`ruff` resolve to the project's tools.
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "/usr/bin:/bin")])
    tmp = home / ".tmp"
    tmp.mkdir(exist_ok=True)
    env.update(_OFFLINE_ENV)
    env.update({"HOME": str(home), "TMPDIR": str(tmp), "XDG_CACHE_HOME": str(home / ".cache")})
    if extra:
        env.update(extra)
    return env


@functools.cache
def no_network_prefix() -> tuple[str, ...]:
    """The command prefix that runs a tool in a network namespace of its own (no interface but a
    down loopback), or () where the kernel or the user cannot make one (then only the scrubbed
    environment stands between the tool and the network)."""
    if not shutil.which("unshare"):
        return ()
    for cmd in (("unshare", "--net"), ("unshare", "--map-root-user", "--net")):
        try:
            if subprocess.run([*cmd, "true"], capture_output=True, timeout=10).returncode == 0:
                return cmd
        except (OSError, subprocess.TimeoutExpired):
            continue
    return ()


def run_limited(argv: list[str], *, cwd: Path, home: Path, timeout_s: float,
                memory_mb: int = DEFAULT_MEMORY_MB, env: dict[str, str] | None = None,
                stdin: str | None = None) -> RunResult:
    """Run argv under limits; on timeout the whole process group is killed."""
    cpu_s = int(timeout_s) + 1 if timeout_s > 0 else 0
    full = [*no_network_prefix(), sys.executable, "-S", "-c", _TRAMPOLINE, str(memory_mb * 1024 * 1024), str(cpu_s),
            *argv]
    started = time.monotonic()
    proc = subprocess.Popen(
        full, cwd=cwd, env=scrubbed_env(home, env), stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
    )
    timed_out = False
    try:
        out, err = proc.communicate(input=stdin, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    return RunResult(tuple(argv), proc.returncode, out, err, int((time.monotonic() - started) * 1000), timed_out)


class Sandbox:
    """A temp dir with the tree written into it; removed on exit.

    `root` is the repository root the tools see; `home` is a sibling directory used as HOME so
    tool caches never land inside the tree being checked (and never get scanned by it).
    """

    def __init__(self, files: dict[str, str], *, prefix: str = "amp-validate-") -> None:
        self._files = files
        self._prefix = prefix
        self._base: Path | None = None

    def __enter__(self) -> Self:
        self._base = Path(tempfile.mkdtemp(prefix=self._prefix))
        self.root.mkdir()
        self.home.mkdir()
        for path, text in self._files.items():
            target = self.root / safe_relpath(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)

    @property
    def root(self) -> Path:
        assert self._base is not None, "Sandbox used outside its `with` block"
        return self._base / "repo"

    @property
    def home(self) -> Path:
        assert self._base is not None, "Sandbox used outside its `with` block"
        return self._base / "home"

    @property
    def files(self) -> dict[str, str]:
        return self._files

    def paths(self, *suffixes: str) -> list[str]:
        """Tree paths ending with any of the suffixes, sorted for stable reports."""
        return sorted(p for p in self._files if p.endswith(suffixes))

    def run(self, argv: list[str], *, timeout_s: float, memory_mb: int = DEFAULT_MEMORY_MB,
            env: dict[str, str] | None = None, cwd: Path | None = None) -> RunResult:
        return run_limited(argv, cwd=cwd or self.root, home=self.home, timeout_s=timeout_s,
                           memory_mb=memory_mb, env=env)
