"""The whole platform on one machine: embedded servers when no URLs are set, every agent and the gateway.

Each agent runs in its own process (`amp serve <agent>`), as in production; this module starts,
watches and stops them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from amp_contracts import AGENTS, SUBSCRIBERS
from amp_runtime.bootstrap import import_local_history
from amp_runtime.db import migrate
from amp_runtime.embedded import EmbeddedNats, EmbeddedPostgres, die_with_parent, free_port
from amp_runtime.identity import EmbeddedIssuer
from amp_runtime.settings import Settings

from .errors import StartError

#: Every service `amp up` runs besides the gateway.
BACKGROUND: tuple[str, ...] = (*AGENTS, *SUBSCRIBERS)
T = TypeVar("T")


def _embedded(what: str, directory: Path, start: Callable[[], T]) -> T:
    try:
        return start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        reason = (e.stderr.decode(errors="replace").strip() if isinstance(e, subprocess.CalledProcessError)
                  and e.stderr else str(e))
        raise StartError(f"the embedded {what} did not start: {reason}\n(its files are in {directory}; another "
                         "`amp` using the same data directory may still be running: stop it, or pass "
                         "--data-dir)") from e


@dataclass
class Stack:
    settings: Settings
    replicas: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    quiet: bool = True
    #: Each process gets its own empty data dir (under `data_dir/procs/`) instead of sharing
    #: `data_dir`: how a test shows that replicas share nothing but NATS, Postgres and S3.
    isolated_data: bool = False
    #: How long `start_services` waits for the gateway to answer (many processes starting on a
    #: loaded machine take longer than one).
    ready_timeout_s: float = 60.0
    nats: EmbeddedNats | None = None
    postgres: EmbeddedPostgres | None = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    #: name → (restarts in a row, when the next restart may happen, when the current process started)
    backoff: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    #: name → when the current process was last seen running
    alive: dict[str, float] = field(default_factory=dict)
    #: give every agent process a health port of its own (GET /healthz and /metrics), recorded here by process name
    health: bool = False
    health_ports: dict[str, int] = field(default_factory=dict)

    #: A process that stayed up this long has recovered: its next crash restarts it at once again.
    STABLE_S = 30.0
    MAX_BACKOFF_S = 30.0

    @property
    def gateway_url(self) -> str:
        return f"http://{self.settings.gateway_host}:{self.settings.gateway_port}"

    def start_servers(self) -> None:
        data = self.settings.data_dir.resolve()
        data.mkdir(parents=True, exist_ok=True)
        updates: dict[str, object] = {"data_dir": data}
        if not self.settings.nats_url:
            self.nats = _embedded("nats-server", data / "nats", EmbeddedNats(data / "nats").start)
            updates["nats_url"] = self.nats.url
        if not self.settings.database_url:
            self.postgres = _embedded("Postgres", data / "postgres", EmbeddedPostgres(data / "postgres").start)
            updates["database_url"] = self.postgres.url
        self.settings = self.settings.model_copy(update=updates)
        if not self.settings.oidc:  # the embedded issuer's key, before any process reads it
            EmbeddedIssuer.load(self.settings.data_dir)
        asyncio.run(migrate(self.settings.database_url))  # type: ignore[arg-type]
        asyncio.run(import_local_history(self.settings))  # history kept on disk by an older version

    def token(self, user: str, ttl_s: float = 12 * 3600, **claims: str) -> str:
        """A token of the embedded issuer for `user` (the stack's own sign-in; not with external OIDC)."""
        if self.settings.oidc:
            raise RuntimeError("this stack accepts an external issuer's tokens (AMP_OIDC_ISSUER); get one there")
        return EmbeddedIssuer.load(self.settings.data_dir).mint(user, ttl_s, **claims)

    def _spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        # AMP_HEALTH_PORT is one port per container: inherited by processes on one host, they would collide on it;
        # OTEL_SERVICE_NAME names one service: inherited, every process would report under the same name
        inherited = {k: v for k, v in os.environ.items() if k not in ("AMP_HEALTH_PORT", "OTEL_SERVICE_NAME")}
        env = {**inherited, **self.settings.service_env(), "PYTHONUNBUFFERED": "1", **self.env, **(extra_env or {})}
        if self.health and name != "gateway" and "AMP_HEALTH_PORT" not in env:
            self.health_ports[name] = free_port()
            env["AMP_HEALTH_PORT"] = str(self.health_ports[name])
        if self.isolated_data:
            own = self.process_data_dir(name)
            own.mkdir(parents=True, exist_ok=True)
            env["AMP_DATA_DIR"] = str(own)
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as out:  # the child has its own copy of the descriptor
            return subprocess.Popen([sys.executable, "-m", "amp_cli.main", *argv], env=env, stdout=out, stderr=out,
                                    start_new_session=True, preexec_fn=die_with_parent())

    def process_data_dir(self, name: str) -> Path:
        """Where process `name` keeps its data: its own directory with `isolated_data`, else the shared one."""
        return self.settings.data_dir / "procs" / name if self.isolated_data else self.settings.data_dir

    def start_services(self, agents: tuple[str, ...] = BACKGROUND, gateway: bool = True) -> None:
        if gateway and not self.settings.gateway_port:  # first: the services' links point at the gateway
            self.settings = self.settings.model_copy(update={"gateway_port": free_port()})
        for agent in agents:
            for i in range(self.replicas.get(agent, 1)):
                self.procs[f"{agent}-{i}"] = self._spawn(f"{agent}-{i}", ["serve", agent])
        if gateway:
            self.procs["gateway"] = self._spawn("gateway", ["serve", "gateway", "--host", self.settings.gateway_host,
                                                            "--port", str(self.settings.gateway_port)])
            self.wait_gateway(self.ready_timeout_s)

    def wait_gateway(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            gw = self.procs.get("gateway")
            if gw is not None and gw.poll() is not None:
                raise RuntimeError(f"the gateway exited; see {self.settings.data_dir / 'logs' / 'gateway.log'}")
            try:
                with urllib.request.urlopen(self.gateway_url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the gateway did not become ready")

    def start(self) -> Stack:
        """Servers, then services; a part that cannot start stops what already started."""
        try:
            self.start_servers()
            self.start_services()
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, name: str) -> None:
        """Kill a service process hard (SIGKILL) and start it again: crash recovery in tests."""
        proc = self.procs[name]
        proc.kill()
        proc.wait()
        agent = name.rsplit("-", 1)[0]
        self.procs[name] = self._spawn(name, ["serve", agent])

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait()

    def spawn_agent(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        self.procs[name] = self._spawn(name, ["serve", name.rsplit("-", 1)[0]], extra_env)

    def supervise(self, now: float | None = None) -> list[str]:
        """Restart every exited service, with a backoff per service (0.5 s doubling to 30 s, reset
        after it has stayed up for `STABLE_S`), never giving up and never waiting on one: a gateway
        that exits again before it is ready is simply restarted again later. Returns what it did."""
        now = time.monotonic() if now is None else now
        said = []
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                self.alive[name] = now
                continue
            restarts, not_before, started = self.backoff.get(name, (0, 0.0, 0.0))
            if self.alive.get(name, -1.0) - started >= self.STABLE_S:
                restarts = 0
            if now < not_before:
                continue
            delay = min(self.MAX_BACKOFF_S, 0.5 * 2 ** restarts)
            try:
                if name == "gateway":
                    self.procs[name] = self._spawn("gateway", ["serve", "gateway", "--host",
                                                               self.settings.gateway_host,
                                                               "--port", str(self.settings.gateway_port)])
                else:
                    self.spawn_agent(name)
            except OSError as e:  # could not even start it (no memory, no descriptors): try again later
                self.backoff[name] = (restarts + 1, now + delay, started)
                said.append(f"{name} could not be restarted ({e}); trying again in {delay:g} s")
                continue
            self.backoff[name] = (restarts + 1, now + delay, now)
            self.alive.pop(name, None)
            said.append(f"{name} exited ({proc.returncode}); restarted (next restart no sooner than {delay:g} s)")
        return said

    def rss_bytes(self) -> dict[str, int]:
        out = {}
        for name, proc in self.procs.items():
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                out[name] = next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS"))
            except (OSError, StopIteration):
                pass
        return out

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()
        if self.nats:
            self.nats.stop()
        if self.postgres:
            self.postgres.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
