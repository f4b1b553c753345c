"""Warm Terraform providers: one long-lived provider plugin per provider build per validators process.

Every Terraform command that loads a large provider starts it afresh: the AWS provider spends
about 1.7 s of CPU starting and building its schema before Terraform asks it anything, and
`terraform init` reads all 700 MB of it to record its checksum. A provider started once in
debug mode (`-debug`, which every provider built on HashiCorp's plugin SDKs accepts) serves
any number of Terraform runs that attach to it through `TF_REATTACH_PROVIDERS`, so a
validation's `terraform test` costs Terraform's own work and the provider's answers only.

Terraform treats an attached provider as installed by someone else: `init` neither resolves
its version nor installs it. So that the tree's version constraints are still judged by
Terraform itself, `init` runs against a *stub mirror*: the real mirror's layout (the same
providers and versions) with empty files in place of the binaries, so resolving and "installing"
costs nothing, and the version it locks is the build the warm provider must be.

A warm provider serves untrusted configurations, so it runs sandboxed like every tool (under
bubblewrap where available: the provider's directory read-only, no network, a memory limit);
its socket lives in a directory of its own that only the Terraform runs attaching to it also
see. It only validates configurations and answers schema requests (the generated plan tests
mock the providers: nothing is configured, nothing reaches a cloud). It is restarted when it
dies and after `MAX_USES` runs, and stopped after `IDLE_S` seconds unused, giving its memory
(~0.9 GB for the AWS provider) back to an idle platform.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

from ..sandbox import limited_command, run_pid, spawn_worker, stop_worker, worker_dir
from .schema_cut import SchemaCache

log = logging.getLogger("amp.validators.terraform")

#: A provider process is replaced after this many runs: a bound on whatever state it keeps.
MAX_USES = 500
#: Stopped after this long without a run.
IDLE_S = 300.0
#: How long a provider may take to start and print where to attach.
START_TIMEOUT_S = 60.0
HOST = "registry.terraform.io"
_REATTACH_LINE = re.compile(r"TF_REATTACH_PROVIDERS='(\{.*\})'")
_LOCKED = re.compile(r'provider\s+"([^"]+)"\s*\{[^}]*?\bversion\s*=\s*"([^"]+)"', re.DOTALL)
_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i386": "386", "i686": "386"}


class ProviderGone(RuntimeError):
    """The provider could not start, or stopped before saying where to attach."""


def os_arch() -> str:
    """This host's platform as Terraform names it (`linux_amd64`)."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_GOARCH.get(machine, machine)}"


def locked_providers(lock_text: str) -> list[tuple[str, str]]:
    """(address, version) of every provider a `.terraform.lock.hcl` locks."""
    return _LOCKED.findall(lock_text)


def provider_binary(mirror: Path, address: str, version: str) -> Path | None:
    """The provider build `init` locked, in an unpacked filesystem mirror; None if it is not there."""
    if address.count("/") != 2:
        return None
    platform_dir = mirror / address / version / os_arch()
    _, _, name = address.split("/")
    try:
        found = sorted(p for p in platform_dir.iterdir() if p.name.startswith(f"terraform-provider-{name}"))
    except OSError:
        return None
    return found[0] if found and os.access(found[0], os.X_OK) else None


def mirror_builds(mirror: Path) -> list[Path]:
    """Every provider build in an unpacked mirror, relative to it (host/ns/name/version/os_arch/file)."""
    return [path.relative_to(mirror) for path in sorted((mirror / HOST).glob("*/*/*/*/terraform-provider-*"))]


_stubs: dict[tuple[str, tuple[Path, ...]], Path] = {}
_stubs_lock = threading.Lock()


def stub_mirror(mirror: Path, builds: list[Path] | None = None) -> Path:
    """A mirror with the real one's providers and versions and empty files for their binaries.

    Built once per process for each state of the real mirror (a provider added to it is seen);
    `builds`: the mirror's `mirror_builds`, where the caller has just listed them.
    """
    key = (str(mirror), tuple(mirror_builds(mirror) if builds is None else builds))
    with _stubs_lock:
        stub = _stubs.get(key)
        if stub is None or not stub.is_dir():
            stub = worker_dir("amp-tf-stub-mirror-")
            for rel in key[1]:
                target = stub / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.touch(mode=0o755)
            _stubs[key] = stub
        return stub


class WarmProvider:
    """One provider build kept running in debug mode; `attach()` says how a Terraform run reaches it."""

    def __init__(self, binary: Path, *, memory_mb: int, env: dict[str, str] | None = None) -> None:
        self.binary = binary
        self.memory_mb = memory_mb
        self.env = dict(env or {})
        self.base = worker_dir("amp-tf-provider-")
        self.sockets = self.base / "sockets"
        self.home = self.base / "home"
        self.sockets.mkdir(mode=0o700)
        self.home.mkdir()
        self.proc: subprocess.Popen[bytes] | None = None
        self.attach_to: dict | None = None
        self.uses = 0
        self.last_used = time.monotonic()
        self._lock = threading.Lock()
        #: Its whole schema, asked once per build (a restart of the same build answers the same).
        self.schemas = SchemaCache()

    def attach(self) -> tuple[str, dict]:
        """(provider address, reattach entry) of the running provider, starting it if needed."""
        with self._lock:
            if self.proc is None or self.proc.poll() is not None or self.uses >= MAX_USES:
                self._stop()
                self._start()
            assert self.attach_to is not None
            self.uses += 1
            self.last_used = time.monotonic()
            return next(iter(self.attach_to.items()))

    def _start(self) -> None:
        # go-plugin puts the provider's socket under TMPDIR: the one directory attaching runs see.
        full, child_env, _ = limited_command(
            [str(self.binary), "-debug"], cwd=Path("/"), home=self.home, memory_mb=self.memory_mb, cpu_s=0,
            env={**self.env, "TMPDIR": str(self.sockets)}, readonly=[self.binary.parent], writable=[self.sockets],
            etc_dir=self.base / ".etc", die_with_parent=True)
        proc = spawn_worker(full, child_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.proc = proc
        found: list[dict] = []
        ready = threading.Event()
        threading.Thread(target=_read_attach, args=(proc, found, ready), daemon=True,
                         name="amp-tf-provider-output").start()
        if not ready.wait(START_TIMEOUT_S) or not found:
            self._stop()
            raise ProviderGone(f"{self.binary.name} did not say where to attach within {START_TIMEOUT_S:.0f} s")
        self.attach_to = found[0]
        self.uses = 0
        log.info("warm provider %s started (pid %s)", self.binary.name, proc.pid)

    def _stop(self) -> None:
        if self.proc is not None:
            stop_worker(self.proc)
            self.proc = None
            self.attach_to = None
            for leftover in self.sockets.iterdir():
                leftover.unlink(missing_ok=True)

    def stop_if_idle(self, idle_s: float) -> None:
        with self._lock:
            if self.proc is not None and time.monotonic() - self.last_used > idle_s:
                log.info("warm provider %s stopped after %.0f s unused", self.binary.name, idle_s)
                self._stop()

    def close(self) -> None:
        with self._lock:
            self._stop()
        shutil.rmtree(self.base, ignore_errors=True)


def _read_attach(proc: subprocess.Popen[bytes], found: list[dict], ready: threading.Event) -> None:
    """Find the reattach line in the provider's output, then keep draining it (a full pipe would stall it)."""
    assert proc.stdout is not None
    for raw in proc.stdout:
        if not ready.is_set():
            m = _REATTACH_LINE.search(raw.decode("utf-8", "replace"))
            if m:
                try:
                    doc = json.loads(m.group(1))
                except json.JSONDecodeError:
                    doc = None
                if isinstance(doc, dict) and len(doc) == 1:
                    found.append(doc)
                ready.set()
    ready.set()


_providers: dict[Path, WarmProvider] = {}
_providers_lock = threading.Lock()
_reaper: threading.Thread | None = None


def _reap() -> None:
    while True:
        time.sleep(min(30.0, IDLE_S / 2))
        with _providers_lock:
            providers = list(_providers.values())
        for provider in providers:
            provider.stop_if_idle(IDLE_S)


def warm_provider(binary: Path, *, memory_mb: int, env: dict[str, str] | None = None) -> WarmProvider:
    """This process's warm provider for that build (created on first use; started by `attach`)."""
    global _reaper
    with _providers_lock:
        provider = _providers.get(binary)
        if provider is None:
            provider = _providers[binary] = WarmProvider(binary, memory_mb=memory_mb, env=env)
        if _reaper is None:
            _reaper = threading.Thread(target=_reap, daemon=True, name="amp-tf-provider-reaper")
            _reaper.start()
            atexit.register(close_all)
        return provider


def close_all() -> None:
    """Stop every warm provider and remove their directories and the stub mirrors (at exit)."""
    with _providers_lock:
        providers = list(_providers.values())
        _providers.clear()
    for provider in providers:
        provider.close()
    with _stubs_lock:
        for stub in _stubs.values():
            shutil.rmtree(stub, ignore_errors=True)
        _stubs.clear()


def reattach_env(entries: dict[str, dict]) -> str:
    """The `TF_REATTACH_PROVIDERS` value for these (address -> entry) attachments, for a run under
    `run_limited`.

    Terraform (go-plugin) polls each reattached provider's Pid once a second and, once it finds no
    such process, cancels every call to that provider ("Request cancelled"). A provider served
    here, or in a sandbox of its own, is not a process of the run's pid namespace: each entry names
    a pid the run sees alive for as long as it lasts instead (`run_pid`). Without it a call that
    outlived the first poll, as on a busy machine, failed the run.
    """
    pid = run_pid()
    return json.dumps({address: {**entry, "Pid": pid} for address, entry in entries.items()}, separators=(",", ":"))
