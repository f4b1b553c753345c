"""A throwaway directory holding a generated tree, and two ways to run things against it.

`Sandbox.run` is for the platform's own static tools (ruff, terraform fmt, checkov, actionlint,
shellcheck): they only read the tree. They run under bubblewrap when the host allows it (see
`isolation`), the tree bound read-only, and always with rlimits, a wall-clock timeout, their own
process group and a scrubbed environment.

`Sandbox.run_untrusted` is for code *from* the tree (the training entry point, the generated
tests, any script): it runs only under bubblewrap, or not at all (`NoIsolation`). Inside, the tree
is copied into a size-capped tmpfs at /repo, the only writable place besides tmpfs /tmp and home;
each step runs with limits on CPU time, address space, processes, open files and file size, and
after each step every process left in the sandbox's pid namespace (a `setsid` or double-forked
escapee) is killed; the namespace itself dies with the run. What was stopped is reported per step.
Each run has a sandbox of its own, started before the run (`Spares`) so that its interpreter has
imported the test libraries by then (`supervisor`).

Limits are applied by a tiny Python trampoline that calls `resource.setrlimit` and then `exec`s
(or, inside the sandbox, supervises) the tool, rather than by `preexec_fn`, because validators run
checks from several threads and `preexec_fn` is unsafe after fork in a threaded parent. Output is
read with a bound, so a tool that prints without end cannot exhaust the validators' memory.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from amp_domain.paths import safe_relpath

from . import isolation as iso
from . import remote

DEFAULT_MEMORY_MB = 2048
#: Untrusted runs: processes (threads count too), open files, one file's size, tmpfs sizes.
MAX_PROCESSES = 128
MAX_OPEN_FILES = 1024
MAX_FILE_MB = 64
REPO_TMPFS_MB = 256
TMP_TMPFS_MB = 128
HOME_TMPFS_MB = 32
#: Bytes of a tool's stdout/stderr kept (the tail: summaries come last).
OUTPUT_LIMIT = 4 * 1024 * 1024

# Environment variables passed through from the parent; everything else is dropped.
_PASSTHROUGH = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")

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

# Sets the limits, then replaces itself with the tool; argv: mem_bytes, cpu_s, die_with_parent, tool argv...
# die_with_parent (1): killed when the thread that started it exits (PR_SET_PDEATHSIG), as bubblewrap's
# --die-with-parent does where bubblewrap runs; for long-lived workers, which would otherwise outlive a
# platform process that stops without closing them.
_TRAMPOLINE = (
    "import os,resource,sys\n"
    "m=int(sys.argv[1]);c=int(sys.argv[2])\n"
    "if m>0: resource.setrlimit(resource.RLIMIT_AS,(m,m))\n"
    "if c>0: resource.setrlimit(resource.RLIMIT_CPU,(c,c+5))\n"
    "resource.setrlimit(resource.RLIMIT_CORE,(0,0))\n"
    "if sys.argv[3]=='1' and sys.platform.startswith('linux'):\n"
    " import ctypes;ctypes.CDLL(None,use_errno=True).prctl(1,9,0,0,0)\n"
    "os.execvpe(sys.argv[4],sys.argv[4:],os.environ)\n"
)

_RESULT_MARKER = "@@amp-sandbox-result@@"


@dataclass(frozen=True)
class RunResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_ms: int
    timed_out: bool = False
    #: What the sandbox stopped or cut short in this run, in words for the report.
    stopped: tuple[str, ...] = ()
    #: The isolation this ran under ("" = limits only, no sandbox).
    isolation: str = ""
    #: The step ran in a fork of the sandbox's interpreter, its libraries already imported (`supervisor`).
    warm: bool = False


@dataclass(frozen=True)
class Step:
    """One command of an untrusted run; later steps see what earlier ones wrote into /repo."""

    argv: list[str]
    timeout_s: float
    env: dict[str, str] = field(default_factory=dict)
    stop_on_failure: bool = False


def tool_path() -> str:
    """The PATH tools run with: the interpreter's bin first, then the system's."""
    return os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])


def scrubbed_env(home: Path | str, extra: dict[str, str] | None = None, tmp: str | None = None) -> dict[str, str]:
    """A minimal environment: locale from the parent, `tool_path()`, offline switches."""
    env = {k: v for k, v in os.environ.items() if k in _PASSTHROUGH}
    env["PATH"] = tool_path()
    if tmp is None:
        tmp_path = Path(home) / ".tmp"
        tmp_path.mkdir(exist_ok=True)
        tmp = str(tmp_path)
    env.update(_OFFLINE_ENV)
    env.update({"HOME": str(home), "TMPDIR": tmp, "XDG_CACHE_HOME": f"{home}/.cache", "USER": "sandbox",
                "LOGNAME": "sandbox", "LANG": env.get("LANG", "C.UTF-8")})
    if extra:
        env.update(extra)
    return env


@functools.cache
def no_network_prefix() -> tuple[str, ...]:
    """Without bubblewrap: the prefix that gives a static tool a network namespace of its own, or ()."""
    if not shutil.which("unshare"):
        return ()
    for cmd in (("unshare", "--net"), ("unshare", "--map-root-user", "--net")):
        try:
            if subprocess.run([*cmd, "true"], capture_output=True, timeout=10).returncode == 0:
                return cmd
        except (OSError, subprocess.TimeoutExpired):
            continue
    return ()


def _drain(stream, keep: list[bytes], limit: int) -> None:
    """Read a pipe to its end, keeping only the last `limit` bytes."""
    size = 0
    while chunk := stream.read(65536):
        keep.append(chunk)
        size += len(chunk)
        while size > limit and len(keep) > 1:
            size -= len(keep.pop(0))
    stream.close()


def communicate_bounded(proc: subprocess.Popen, stdin: bytes | None, timeout_s: float,
                        limit: int = OUTPUT_LIMIT) -> tuple[str, str, bool]:
    """Like `communicate`, but keeping at most `limit` bytes per stream; on timeout the group is killed."""
    outs: list[bytes] = []
    errs: list[bytes] = []
    readers = [threading.Thread(target=_drain, args=(proc.stdout, outs, limit), daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, errs, limit), daemon=True)]
    for t in readers:
        t.start()
    if proc.stdin is not None:
        try:
            if stdin:
                proc.stdin.write(stdin)
            proc.stdin.close()
        except BrokenPipeError:
            pass
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    if timed_out or proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    for t in readers:
        t.join(5)
    return (b"".join(outs).decode("utf-8", "replace"), b"".join(errs).decode("utf-8", "replace"), timed_out)


def _tool_dirs(argv: list[str]) -> list[str]:
    """A tool outside the interpreter's venv (a tool env's console script): its venv, read-only."""
    exe = argv[0]
    if os.path.isabs(exe):
        return [str(Path(exe).parent.parent)]
    return []


def run_pid() -> int:
    """A pid every process of a `run_limited` run sees alive for the whole run: bubblewrap's init
    (pid 1 of the run's own pid namespace), or, without bubblewrap, this process."""
    return 1 if iso.isolation().available else os.getpid()


def limited_command(argv: list[str], *, cwd: Path, home: Path, memory_mb: int, cpu_s: int,
                    env: dict[str, str] | None = None, readonly: list[Path] | None = None,
                    writable: list[Path] | None = None, extra_ro: list[str] | None = None,
                    etc_dir: Path | None = None, die_with_parent: bool = False,
                    ) -> tuple[list[str], dict[str, str], str]:
    """(argv, environment, isolation label) of `argv` under limits, and under bubblewrap where available.

    `cpu_s` 0 sets no CPU-time limit (a long-lived worker bounds each request's wall time instead);
    `die_with_parent` stops it with the thread that starts it even where bubblewrap does not run.
    """
    limited = [sys.executable, "-S", "-c", _TRAMPOLINE, str(memory_mb * 1024 * 1024), str(cpu_s),
               "1" if die_with_parent else "0", *argv]
    found = iso.isolation()
    if not found.available:
        return [*no_network_prefix(), *limited], scrubbed_env(home, env), ""
    prefix = iso.bwrap_argv(found.bwrap, flags=found.flags, cwd=str(cwd), env=scrubbed_env(home, env, tmp="/tmp"),
                            ro=[*(str(p) for p in readonly or [cwd]), *_tool_dirs(argv), *(extra_ro or [])],
                            binds=[(str(p), str(p)) for p in [home, *(writable or [])]],
                            ro_at=iso.etc_files(etc_dir or home.parent / ".etc"), tmpfs=[("/tmp", TMP_TMPFS_MB << 20)])
    return [*prefix, *limited], {}, found.label


#: One thread, living as long as the process, starts every long-lived worker: bubblewrap's
#: --die-with-parent and the parent-death signal follow the *thread* that started a process, so a
#: worker started from a check's pool thread would die with that thread after one use.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amp-worker-spawner")


def worker_dir(prefix: str) -> Path:
    """A temporary directory for a long-lived worker of this process, named by the process's pid.

    A platform process stopped without closing its workers (killed, or ended by a signal it does
    not handle) leaves their directories behind: each new one removes those of processes that
    no longer run.
    """
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{prefix}*"):
        pid, _, _ = old.name[len(prefix):].partition("-")
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: it runs, as another user
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def spawn_worker(argv: list[str], env: dict[str, str], **popen: Any) -> subprocess.Popen[bytes]:
    """Start a long-lived worker (argv from `limited_command(..., die_with_parent=True)`) in its own group."""
    return _SPAWNER.submit(subprocess.Popen, argv, env=env, cwd="/", start_new_session=True, **popen).result()


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """Kill a worker's whole process group and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def run_limited(argv: list[str], *, cwd: Path, home: Path, timeout_s: float,
                memory_mb: int = DEFAULT_MEMORY_MB, env: dict[str, str] | None = None,
                stdin: str | None = None, readonly: list[Path] | None = None,
                writable: list[Path] | None = None, extra_ro: list[str] | None = None) -> RunResult:
    """Run a static tool under limits (and bubblewrap when available); on timeout the group is killed.

    `readonly`/`writable` are host directories the tool may see (at the same paths); without
    bubblewrap they are only advisory and the tool runs with rlimits and, if possible, no network.
    """
    cpu_s = int(timeout_s) + 1 if timeout_s > 0 else 0
    full, child_env, label = limited_command(argv, cwd=cwd, home=home, memory_mb=memory_mb, cpu_s=cpu_s, env=env,
                                             readonly=readonly, writable=writable, extra_ro=extra_ro)
    started = time.monotonic()
    proc = subprocess.Popen(full, cwd=cwd, env=child_env,
                            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    out, err, timed_out = communicate_bounded(proc, stdin.encode() if stdin is not None else None, timeout_s)
    stopped = (f"stopped after the {timeout_s:.0f} s time limit",) if timed_out else ()
    return RunResult(tuple(argv), proc.returncode, out, err, int((time.monotonic() - started) * 1000), timed_out,
                     stopped, label)


_SIGNAL_WORDS = {
    signal.SIGXCPU: "stopped at the CPU-time limit",
    signal.SIGXFSZ: f"stopped at the file-size limit ({MAX_FILE_MB} MB)",
    signal.SIGKILL: "killed (memory or time limit)",
    signal.SIGSEGV: "crashed (segmentation fault)",
}


def _stops(r: dict, timeout_s: float) -> tuple[str, ...]:
    out: list[str] = []
    rc = r["returncode"]
    if r["timed_out"]:
        out.append(f"stopped after the {timeout_s:.0f} s time limit")
    elif rc < 0:
        out.append(_SIGNAL_WORDS.get(-rc, f"ended by signal {signal.Signals(-rc).name}"))
    if r["leftovers"]:
        out.append(f"{r['leftovers']} process(es) left running were killed")
    if r["repo_full"]:
        out.append(f"the repository copy reached its {REPO_TMPFS_MB} MB limit")
    if r["tmp_full"]:
        out.append(f"/tmp reached its {TMP_TMPFS_MB} MB limit")
    if r["output_truncated"]:
        out.append(f"output beyond {OUTPUT_LIMIT >> 20} MB was dropped")
    return tuple(out)


# --------------------------------------------------------------------------- spare sandboxes

#: Libraries an untrusted run's steps are likely to import, imported by its sandbox's supervisor
#: before the tree arrives: the test runner, and what the platform's generated services and their
#: tests import (FastAPI, its test client, the async libraries). pytest plugins named with `-p`
#: stay out: pytest cannot rewrite the asserts of a plugin module that is already imported.
WARM_IMPORTS = ("pytest", "fastapi", "fastapi.testclient", "httpx", "pydantic", "anyio", "asyncio")
#: A spare sandbox unused this long is stopped, giving its memory back to an idle platform.
SPARE_IDLE_S = 300.0
#: How long after an untrusted run ends the next run's sandbox is started, if no run is under way
#: by then: past the rest of that validation (its rationale and commit), which the spare's imports
#: would otherwise slow down. Only where a spare cannot run at a low priority (`can_restore_priority`).
SPARE_DELAY_S = 1.0
#: The niceness a spare starts at where its priority can be given back when a run takes it: its
#: imports then take only CPU that nothing else wants.
SPARE_NICE = 19


@functools.cache
def _nice() -> str | None:
    """The `nice` a low-priority spare is started with (its path: the spare's environment is empty)."""
    return shutil.which("nice")


@functools.cache
def can_restore_priority() -> bool:
    """Whether this process may give a process it lowered to `SPARE_NICE` its normal priority back.

    Lowering a niceness needs CAP_SYS_NICE in the host's user namespace (or an RLIMIT_NICE that
    allows it), which a platform in a container usually lacks; the capability bits a process sees
    may be its user namespace's, so it is tried: a thread of this process lowers itself, and this
    thread raises it again. A spare is started with `nice`, so that must be there too."""
    if _nice() is None:
        return False
    lowered = threading.Event()
    done = threading.Event()
    tid: list[int] = []

    def lower() -> None:
        tid.append(threading.get_native_id())
        try:
            os.setpriority(os.PRIO_PROCESS, 0, SPARE_NICE)  # Linux: 0 is the calling thread
        finally:
            lowered.set()
            done.wait(5)

    probe = threading.Thread(target=lower, name="amp-nice-probe", daemon=True)
    probe.start()
    try:
        lowered.wait(5)
        base = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, tid[0], base)
        return os.getpriority(os.PRIO_PROCESS, tid[0]) == base
    except (OSError, IndexError):
        return False
    finally:
        done.set()
        probe.join(5)


def tree_tasks(pid: int, renice: int | None = None) -> list[int]:
    """Every thread of `pid` and of its descendants (host ids, from /proc), each set to niceness
    `renice` (if given) before its children are read: a child forked before that is found, one
    forked after inherits the new niceness. Raises PermissionError where that is not allowed."""
    found: list[int] = []
    todo = [pid]
    while todo:
        proc = todo.pop()
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{proc}/task")]
        except (OSError, ValueError):
            continue
        for tid in tids:
            if renice is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.setpriority(os.PRIO_PROCESS, tid, renice)
            found.append(tid)
        todo += _children(proc, tids)
    return found


def _children(proc: int, tids: list[int]) -> list[int]:
    """The child processes of `proc`: from each thread's `children` list, or, on a kernel without
    those lists, from every process's parent in /proc."""
    children: list[int] = []
    if os.path.exists(f"/proc/{proc}/task/{proc}/children"):
        for tid in tids:
            try:
                with open(f"/proc/{proc}/task/{tid}/children") as f:
                    children += [int(c) for c in f.read().split()]
            except (OSError, ValueError):
                continue  # a thread that has just ended
        return children
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rpartition(")")[2].split()[1]) == proc:  # the field after the state
                        children.append(int(entry))
    return children


@functools.cache
def supervisor_code() -> str:
    """The source the sandbox's interpreter runs (`supervisor.py`, passed with `-c`)."""
    return Path(__file__).with_name("supervisor.py").read_text(encoding="utf-8")


def _link_tree(tree: Path, into: Path) -> None:
    """The tree's files in a spare's source directory: hard links where they share a filesystem."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(tree, into, dirs_exist_ok=True, symlinks=True, copy_function=link)


class Spare:
    """A sandbox for one untrusted run, started before its tree exists.

    bubblewrap is up and the supervisor has imported `WARM_IMPORTS` by the time the run's tree is
    linked into `src` (bound read-only at `isolation.SRC`) and its spec written to stdin: the run
    pays neither, and each sandbox still serves one run only. The supervisor imports nothing from
    the tree before it is there (`supervisor`).
    """

    def __init__(self, found: iso.Isolation, *, low_priority: bool = False) -> None:
        self.found = found
        self.low_priority = low_priority
        self.base = worker_dir("amp-spare-")
        self.src = self.base / "src"
        self.src.mkdir()
        env = scrubbed_env(iso.HOME, {"PYTHONPATH": iso.REPO}, tmp="/tmp")
        prefix = iso.bwrap_argv(found.bwrap, flags=found.flags, cwd=iso.REPO, env=env,
                                ro_at=[(str(self.src), iso.SRC), *iso.etc_files(self.base / ".etc")],
                                tmpfs=[(iso.REPO, REPO_TMPFS_MB << 20), (iso.HOME, HOME_TMPFS_MB << 20),
                                       ("/tmp", TMP_TMPFS_MB << 20)])
        self.cap = iso.ProcessCap(MAX_PROCESSES).__enter__()
        try:
            nice = [_nice() or "nice", "-n", str(SPARE_NICE)] if low_priority else []
            self.proc = spawn_worker([*nice, *self.cap.prefix(), *prefix, sys.executable, "-c", supervisor_code(),
                                      json.dumps(WARM_IMPORTS)], {}, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except BaseException:
            self.cap.__exit__(None, None, None)
            shutil.rmtree(self.base, ignore_errors=True)
            raise
        self.started = time.monotonic()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def restore_priority(self) -> bool:
        """Give every process and thread of a low-priority spare this process's priority (before
        its run's spec is sent, so the run's steps inherit it). False if one could not be raised."""
        if not self.low_priority:
            return True
        try:
            tree_tasks(self.proc.pid, renice=os.getpriority(os.PRIO_PROCESS, 0))
        except OSError:
            return False
        self.low_priority = False
        return True

    def close(self) -> None:
        """Kill what is left of it and remove its directory (after its run, or unused)."""
        stop_worker(self.proc)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        self.cap.__exit__(None, None, None)
        shutil.rmtree(self.base, ignore_errors=True)


class Spares:
    """One spare sandbox kept ready for this process's next untrusted run.

    A run takes the spare (or, when there is none, starts its own the same way). When it is done,
    the next run's sandbox is started at once at the lowest priority, where this process can give
    it its priority back when a run takes it (`can_restore_priority`): its imports take only CPU
    nothing else wants, so even validations that follow each other without a pause find it ready,
    or partly ready. Elsewhere it is started `delay_s` later, if no run is under way then, so its
    imports happen between runs rather than in one; where validations follow each other without a
    pause (the spare would share the CPU with the next one), each run then starts its own.
    Unused for `idle_s` the spare is stopped; the next run then starts its own.
    """

    def __init__(self, idle_s: float = SPARE_IDLE_S, delay_s: float = SPARE_DELAY_S,
                 low_priority: bool | None = None) -> None:
        self.idle_s = idle_s
        self.delay_s = delay_s
        self._low_priority = low_priority  # None: where `can_restore_priority`
        self._lock = threading.Lock()
        self._ready: Spare | None = None
        self._running = 0
        self._reaper: threading.Thread | None = None

    def take(self, found: iso.Isolation) -> Spare:
        """The sandbox of a run that starts now; `release` it when the run is over."""
        with self._lock:
            spare, self._ready = self._ready, None
            self._running += 1
        try:
            if spare is not None and not (spare.found == found and spare.alive() and self._raised(spare)):
                spare.close()
                spare = None
            return spare or Spare(found)
        except BaseException:
            with self._lock:
                self._running -= 1
            raise

    def _raised(self, spare: Spare) -> bool:
        """Whether the spare runs at this process's priority now; a spare that could not be raised
        (a process of it another user's, say) ends low-priority spares here."""
        if spare.restore_priority():
            return True
        self._low_priority = False
        return False

    def release(self, found: iso.Isolation) -> None:
        """A run taken from here is over: the next one's sandbox is started now at a low priority,
        or (where its priority could not be given back) `delay_s` later if no run is under way then."""
        with self._lock:
            self._running -= 1
        low = can_restore_priority() if self._low_priority is None else self._low_priority
        timer = threading.Timer(0.0 if low else self.delay_s, self.refill, args=(found,),
                                kwargs={"unless_running": not low, "low_priority": low})
        timer.daemon = True
        timer.start()

    def refill(self, found: iso.Isolation, *, unless_running: bool = False, low_priority: bool = False) -> None:
        """Start the next run's sandbox, unless one is ready (or, `unless_running`, a run is under way:
        that run's `release` tries again)."""
        with self._lock:
            if self._ready is not None or (unless_running and self._running):
                return
            try:
                self._ready = Spare(found, low_priority=low_priority)
            except OSError:
                return  # the next run starts its own and reports what fails
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap, daemon=True, name="amp-spare-reaper")
                self._reaper.start()

    def ready(self) -> bool:
        with self._lock:
            return self._ready is not None

    def _reap(self) -> None:
        while True:
            time.sleep(min(30.0, self.idle_s / 2))
            with self._lock:
                spare = self._ready
                if spare is None or time.monotonic() - spare.started < self.idle_s:
                    continue
                self._ready = None
            spare.close()

    def close(self) -> None:
        with self._lock:
            spare, self._ready = self._ready, None
        if spare is not None:
            spare.close()


SPARES = Spares()
atexit.register(SPARES.close)


class Sandbox:
    """A temp dir with the tree written into it; removed on exit.

    `root` is the repository root the tools see; `home` is a sibling directory used as HOME so
    tool caches never land inside the tree being checked (and never get scanned by it).
    """

    def __init__(self, files: dict[str, str], *, prefix: str = "amp-validate-") -> None:
        self._files = files
        self._prefix = prefix
        self._base: Path | None = None
        self._seen = threading.local()  # what the calling thread's last run ran under (for its report)

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
            env: dict[str, str] | None = None, cwd: Path | None = None,
            readonly: list[Path] | None = None, writable: list[Path] | None = None) -> RunResult:
        """A static tool over the tree (read-only where bubblewrap runs); `writable`: its caches."""
        res = run_limited(argv, cwd=cwd or self.root, home=self.home, timeout_s=timeout_s,
                          memory_mb=memory_mb, env=env, readonly=readonly or [self.root], writable=writable)
        self._seen.label = res.isolation or "limits only (time, memory, CPU; no sandbox on this host)"
        return res

    def take_isolation(self) -> str:
        """What the calling thread's runs ran under since the last call ("" if it ran nothing)."""
        label = getattr(self._seen, "label", "")
        self._seen.label = ""
        return label

    def run_untrusted(self, steps: list[Step], *, memory_mb: int = DEFAULT_MEMORY_MB) -> list[RunResult]:
        """Run code from the tree under bubblewrap; raises `NoIsolation` where there is none.

        Returns one result per step that ran (a failed `stop_on_failure` step ends the run). With
        `AMP_SANDBOX_RUNNER_URL` set the run happens in that validation runner instead (`remote`).
        """
        if url := remote.runner_url():
            label, results = remote.run_remote(url, self._files, steps, memory_mb)
            self._seen.label = label
            return results
        found = iso.require()
        self._seen.label = found.label
        assert self._base is not None, "Sandbox used outside its `with` block"
        spec = {"src": iso.SRC, "repo": iso.REPO, "marker": _RESULT_MARKER,
                "steps": [{"argv": s.argv, "timeout": s.timeout_s, "env": s.env, "stop_on_failure": s.stop_on_failure}
                          for s in steps],
                "limits": {"memory": memory_mb << 20, "processes": MAX_PROCESSES, "files": MAX_OPEN_FILES,
                           "file_size": MAX_FILE_MB << 20, "output": OUTPUT_LIMIT}}
        wall = sum(s.timeout_s for s in steps) + 10 * len(steps) + 10
        spare = SPARES.take(found)
        try:
            _link_tree(self.root, spare.src)
            started = time.monotonic()
            out, err, timed_out = communicate_bounded(spare.proc, json.dumps(spec).encode(), wall,
                                                      limit=4 * OUTPUT_LIMIT + (1 << 20))
            elapsed = int((time.monotonic() - started) * 1000)
            returncode = spare.proc.returncode
        finally:
            spare.close()
            SPARES.release(found)
        _, _, payload = out.rpartition(_RESULT_MARKER)
        try:
            raw = json.loads(payload.strip().splitlines()[0]) if payload else None
        except (json.JSONDecodeError, IndexError):
            raw = None
        if not isinstance(raw, list):
            why = "stopped after the wall-time limit" if timed_out else f"sandbox exited {returncode}"
            return [RunResult(tuple(steps[0].argv), returncode if returncode is not None else -9, "",
                              f"{why}: {err.strip()[-500:]}", elapsed, timed_out, (why,), found.label)]
        return [RunResult(tuple(r["argv"]), int(r["returncode"]), str(r["stdout"]), str(r["stderr"]),
                          int(r["duration_ms"]), bool(r["timed_out"]), _stops(r, step.timeout_s), found.label,
                          bool(r.get("forked")))
                for r, step in zip(raw, steps, strict=False)]
