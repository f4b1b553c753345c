"""`amp up` with no URLs runs everything on embedded servers, stops cleanly, and finds its data again."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import asyncpg
import httpx
import pytest
from amp_cli.client import Client
from amp_cli.credentials import mint_local
from amp_runtime.embedded import EmbeddedPostgres, free_port

pytestmark = pytest.mark.integration

#: Requirements complete enough that intake asks nothing (the e2e tests' fraud-scoring text).
REQUIREMENTS = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
                "99.9% availability, budget $6,000 per month. Cardholder data, PCI DSS and GDPR. Containers. "
                "Retrain weekly.")


def start(data_dir, port) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    return subprocess.Popen([sys.executable, "-m", "amp_cli.main", "up", "--data-dir", str(data_dir), "--port",
                             str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "amp up exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("amp up did not become ready")


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    return out


def test_amp_up_restarts_on_its_own_data(tmp_path) -> None:
    data = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start(data, port)
    try:
        wait_ready(url, proc)
        anonymous = httpx.post(f"{url}/projects", json={"name": "nobody's"})
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
        token = mint_local(data, "alice")  # what `amp token --user alice` prints
        auth = {"Authorization": f"Bearer {token}"}
        project = httpx.post(f"{url}/projects", json={"name": "survives restarts"}, headers=auth).json()
        page = httpx.get(url + "/")
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        out = stop(proc)
    assert proc.returncode == 0, out
    assert "amp token --user NAME" in out and token not in out
    assert stat.S_IMODE((data / "secrets" / "issuer-es256.pem").stat().st_mode) == 0o600
    assert EmbeddedPostgres(data / "postgres").pgdata.joinpath("PG_VERSION").exists()
    assert (data / "nats" / "jetstream").exists()
    for secret in (data / "nats" / "password", data / "postgres" / "password"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
        assert secret.read_text() not in out  # `amp up` shows the servers' URLs without their passwords
    proc = start(data, port)
    try:
        wait_ready(url, proc)
        again = httpx.get(f"{url}/projects/{project['id']}", headers=auth)  # the key survived the restart
        assert again.status_code == 200 and again.json()["name"] == "survives restarts"
    finally:
        stop(proc)
        cluster = EmbeddedPostgres(data / "postgres").home
        if cluster != data / "postgres":  # outside the data directory (root, closed parents): not a tmp file
            shutil.rmtree(cluster, ignore_errors=True)


@pytest.mark.slow
def test_amp_up_with_replicas_keeps_history_in_the_shared_store(tmp_path) -> None:
    """`amp up --replicas 2`: the runs' history lives in Postgres (no repository directory), any replica serves it."""
    data = tmp_path / "data"
    data.parent.chmod(0o755)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL", "AMP_S3_BUCKET")}
    proc = subprocess.Popen([sys.executable, "-m", "amp_cli.main", "up", "--data-dir", str(data), "--port", str(port),
                             "--replicas", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(url, proc, timeout=240)
        assert len(list((data / "logs").glob("validators-*.log"))) == 2
        client = Client(url, timeout=120, token=mint_local(data, "alice"))
        project = client.create_project("replicas on one host")
        ds = client.submit(project["id"], REQUIREMENTS)["decision_set_id"]
        deadline = time.monotonic() + 900
        while (row := client.decision_set(ds))["status"] != "completed" and time.monotonic() < deadline:
            assert row["status"] not in ("failed", "rejected", "stale"), row
            if row["status"] == "waiting_approval":
                client.approve(ds, "approved", "", [{"rule_id": r["id"], "reason": "test", "by": "t"}
                                                   for r in row["policy"]["rules"] if r["status"] == "fail"])
            time.sleep(2)
        assert row["status"] == "completed" and row["git_commit"]
        assert "+++ b/" in client.diff(ds)
        assert not (data / "repos").exists()  # no process keeps history on disk
        database = EmbeddedPostgres(data / "postgres", port=int((data / "postgres" / "pg.port").read_text())).url

        async def ref() -> str | None:
            conn = await asyncpg.connect(database)
            try:
                return await conn.fetchval("SELECT target FROM git_refs WHERE repo = $1 AND name = 'refs/heads/main'",
                                           project["id"])
            finally:
                await conn.close()

        assert asyncio.run(ref()) == row["git_commit"]
        client.close()
    finally:
        stop(proc)
        cluster = EmbeddedPostgres(data / "postgres").home
        if cluster != data / "postgres":  # outside the data directory (root, closed parents): not a tmp file
            shutil.rmtree(cluster, ignore_errors=True)
