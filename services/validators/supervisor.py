"""The process that runs an untrusted run's steps inside the sandbox (passed to the interpreter with `-c`).

Standard library only; it is never imported by the platform. argv[1] is a JSON list of modules to
import first; then it reads the run's JSON spec from stdin (the sandbox can start before the tree
exists: `sandbox.Spares`), copies the tree from the read-only bind into the tmpfs at /repo, sets
the limits, runs each step, kills what a step left running, and reports one JSON line after a
marker on stdout.

A step that is this interpreter's own (`python -c CODE …` or `python -m MODULE …`) runs in a fork
of this process, with the libraries of argv[1] already imported (pytest, FastAPI and the HTTP
client the generated tests use cost more CPU to import than most trees' tests take to run). The
fork is made to look like a new interpreter: its own session, stdin from /dev/null, the step's
environment, working directory and argv, a fresh `__main__`, and at the end the interpreter's own
exit: non-daemon threads joined, `atexit` run, streams flushed, `SystemExit` codes and uncaught
exceptions turned into the exit status. Those libraries were imported before the tree was there,
so a tree could not have replaced them; a tree that would (its own module of a name this process
has loaded, or a `sitecustomize`) runs every step in a new interpreter instead, as do other steps
and any step while this process has a thread left.
"""

import atexit
import builtins
import gc
import importlib
import importlib.machinery
import json
import os
import resource
import runpy
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import types


def _preload(names):
    """Import `names`, then keep what they built out of the collector's passes.

    Those objects live as long as the process and every fork of it; a step's collections would
    otherwise walk them all each time (pytest alone runs about 200 collections and two full ones
    over a generated tree, 0.1 s of its 0.8 s of CPU). Frozen, they are still there and still
    reachable; only `gc.get_objects()` and `gc.get_referrers()` no longer list them."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - a library that will not import is imported cold by the step, if at all
            continue
    gc.collect()
    gc.freeze()


def _read_spec():
    chunks = []
    while chunk := os.read(0, 65536):
        chunks.append(chunk)
    return json.loads(b"".join(chunks) or b"null")


def setlim(kind, value):
    if value > 0:
        try:
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            pass


def others():
    me = os.getpid()
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]


def kill_all():
    killed = set()
    for _ in range(50):
        pids = others()
        if not pids:
            break
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
                killed.add(p)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
        for p in pids:
            try:
                os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                pass
    return len(killed)


def reader(stream, buf, cap):
    while True:
        chunk = stream.read(65536)
        if not chunk:
            break
        buf["total"] += len(chunk)
        buf["data"] = (buf["data"] + chunk)[-cap:]


def full(path):
    try:
        st = os.statvfs(path)
        return st.f_bavail * st.f_frsize < 64 * 1024
    except OSError:
        return False


# ------------------------------------------------------------------ steps in a fork of this process

SHADOWING = (".py", ".pyc", ".so", ".pyd")


def shadowed(repo):
    """Names a tree's top level would import in place of a module this process has loaded."""
    provided = set()
    for entry in os.listdir(repo):
        path = os.path.join(repo, entry)
        if os.path.isdir(path):
            if os.path.exists(os.path.join(path, "__init__.py")):
                provided.add(entry)
        elif entry.endswith(SHADOWING):
            provided.add(entry.split(".", 1)[0])
    loaded = {name.partition(".")[0] for name in sys.modules}
    return sorted(provided & (loaded | {"sitecustomize", "usercustomize"}))


def own_step(argv):
    """(mode, target, args) of a step this interpreter can run in a fork, or None."""
    if len(argv) >= 3 and argv[0] == sys.executable and argv[1] in ("-c", "-m"):
        return argv[1], argv[2], argv[3:]
    return None


def _exit_status(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        print(code, file=sys.stderr)
    except Exception:  # noqa: BLE001, S110 - the status is what is left to report
        pass
    return 1


def _finish(status):
    """What the interpreter does when its main module ends."""
    try:
        threading._shutdown()
    except BaseException:  # noqa: BLE001, S110
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001, S110
        pass
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110
            pass
    os._exit(status & 0xFF)


def _child(step, cwd, out_w, err_w):
    """In the fork: become the step's interpreter; never returns."""
    status = 1
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.closerange(3, 65536)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(step["env"])
        mode, target, rest = own_step(step["argv"])
        sys.orig_argv = list(step["argv"])
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        try:
            if mode == "-c":
                sys.argv = ["-c", *rest]
                sys.path[0] = ""
                main.__dict__["__loader__"] = importlib.machinery.BuiltinImporter
                exec(compile(target, "<string>", "exec"), main.__dict__)  # noqa: S102 - the step, in its sandbox
            else:
                sys.argv = ["-m", *rest]
                sys.path[0] = os.getcwd()
                runpy._run_module_as_main(target, True)
            status = 0
        except SystemExit as exc:
            status = _exit_status(exc)
        except BaseException:  # noqa: BLE001 - an uncaught exception: its traceback, status 1
            sys.excepthook(*sys.exc_info())
            status = 1
    finally:
        _finish(status)


def _wait(pid, timeout):
    """The child's wait status, or None when `timeout` passed first."""
    deadline = time.monotonic() + timeout
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if fd is not None:
                select.select([fd], [], [], left)
            else:
                time.sleep(min(left, 0.01))
    finally:
        if fd is not None:
            os.close(fd)


def _read(streams, outs, errs, cap):
    """Reader threads draining a step's stdout and stderr into `outs` and `errs`."""
    ts = [threading.Thread(target=reader, args=(s, b, cap), daemon=True)
          for s, b in zip(streams, (outs, errs), strict=True)]
    for t in ts:
        t.start()
    return ts


def run_forked(step, cwd, outs, errs, cap):
    """A step run in a fork of this process: (return code, timed out, reader threads, streams)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(err_r)
        _child(step, cwd, out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    streams = [os.fdopen(out_r, "rb", buffering=0), os.fdopen(err_r, "rb", buffering=0)]
    ts = _read(streams, outs, errs, cap)
    status = _wait(pid, step["timeout"])
    timed_out = status is None
    if timed_out:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), timed_out, ts, streams


def run_new(step, cwd, outs, errs, cap):
    """A step run in a new process: (return code, timed out, reader threads, streams)."""
    p = subprocess.Popen(step["argv"], cwd=cwd, env=step["env"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    ts = _read([p.stdout, p.stderr], outs, errs, cap)
    timed_out = False
    try:
        rc = p.wait(timeout=step["timeout"])
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc = p.wait()
    return rc, timed_out, ts, [p.stdout, p.stderr]


def main():
    _preload(json.loads(sys.argv[1]) if len(sys.argv) > 1 else [])
    spec = _read_spec()
    if not isinstance(spec, dict):
        return
    lim = spec["limits"]
    shutil.copytree(spec["src"], spec["repo"], dirs_exist_ok=True, symlinks=True)
    importlib.invalidate_caches()  # the finders saw /repo empty
    replaced = shadowed(spec["repo"])
    setlim(resource.RLIMIT_CORE, 0)
    setlim(resource.RLIMIT_AS, lim["memory"])
    setlim(resource.RLIMIT_NPROC, lim["processes"])
    setlim(resource.RLIMIT_NOFILE, lim["files"])
    setlim(resource.RLIMIT_FSIZE, lim["file_size"])
    cpu_hard = int(max([s["timeout"] for s in spec["steps"]] or [0])) + 6
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_hard, cpu_hard))
    results = []
    for step in spec["steps"]:
        step = {**step, "env": dict(os.environ, **step.get("env", {}))}
        started = time.monotonic()
        resource.setrlimit(resource.RLIMIT_CPU, (int(step["timeout"]) + 1, cpu_hard))
        outs, errs = {"total": 0, "data": b""}, {"total": 0, "data": b""}
        forked = own_step(step["argv"]) is not None and not replaced and threading.active_count() == 1
        run = run_forked if forked else run_new
        rc, timed_out, ts, streams = run(step, spec["repo"], outs, errs, lim["output"])
        leftovers = kill_all()
        for t, s in zip(ts, streams, strict=True):
            t.join(2)
            if not t.is_alive():
                s.close()
        out, err = outs["data"].decode("utf-8", "replace"), errs["data"].decode("utf-8", "replace")
        cut = max(outs["total"], errs["total"]) > lim["output"]
        results.append({"argv": step["argv"], "returncode": rc, "stdout": out, "stderr": err,
                        "duration_ms": int((time.monotonic() - started) * 1000), "timed_out": timed_out,
                        "leftovers": leftovers, "output_truncated": cut, "forked": forked,
                        "repo_full": full(spec["repo"]), "tmp_full": full("/tmp")})
        if rc != 0 and step.get("stop_on_failure"):
            break
    sys.stdout.write("\n" + spec["marker"] + json.dumps(results) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
