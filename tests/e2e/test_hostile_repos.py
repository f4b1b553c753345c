"""The hostile corpus through the real API and the real validators.

A user uploads edits that carry escape attempts (tests/hostile/corpus.py); the next version runs
them in the validators' sandbox. From outside: no marker reached the host, no platform secret is in
the report, the events or the artifact, no escapee is still running, the platform answers and
the next run completes; and the report says what the sandbox stopped.
"""

from __future__ import annotations

import io
import json
import random
import re
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
from flows import FRAUD, follow, is_gate, waivers_for

from tests.hostile.corpus import escape_tests, sleep_forever_test

pytestmark = pytest.mark.integration

PLANTED = f"sk-ant-planted-{uuid.uuid4().hex}"
LEAK = re.compile(r"LEAK:[A-Z_]+@")
CONNECTED = re.compile(r"CONNECTED:[/\d]")


@pytest.fixture(scope="module")
def hostile_stack(settings, tmp_root):
    from amp_cli.stack import Stack
    from amp_runtime.embedded import EmbeddedNats, free_port

    from services.validators.isolation import isolation

    if not isolation().available:
        pytest.skip(f"no isolation on this host: {isolation().reason}")
    bus = EmbeddedNats(tmp_root / "hostile-nats").start()  # its own bus: its agents have their own timeout
    s = Stack(settings.model_copy(update={"gateway_port": free_port(), "data_dir": tmp_root / "hostile-data",
                                          "nats_url": bus.url, "validators_timeout_s": 45.0,
                                          "ack_wait_s": 300.0}),  # a loaded machine may need the time
              env={"ANTHROPIC_API_KEY": PLANTED, "AMP_PROVIDER": "deterministic"})
    s.start_services()
    yield s
    s.stop()
    bus.stop()


def run_to_end(client, project_id: str, text: str) -> dict:
    ds = client.submit(project_id, text)["decision_set_id"]
    gate = follow(client, ds, is_gate, timeout=180)[-1]
    if gate[0] == "gate-waiting":
        client.approve(ds, "approved", "", waivers_for(gate[1]["policy"], "hostile corpus", "t"))
    follow(client, ds, lambda ev, d: ev == "run-complete", timeout=180)
    return client.decision_set(ds)


def upload(client, project_id: str, base: str, files: dict[str, str], if_match: str | None = None) -> httpx.Response:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return client.http.post(f"{client.base_url}/projects/{project_id}/repo", params={"base": base}, content=buf.getvalue(),
                      headers={"Content-Type": "application/zip", **({"If-Match": if_match} if if_match else {})},
                      timeout=60)


def host_processes_with(tag: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if tag in line and "ps -eo" not in line]


def test_a_hostile_upload_is_contained_and_the_platform_carries_on(hostile_stack) -> None:
    from amp_cli.client import Client

    stack = hostile_stack
    settings = stack.settings
    client = Client(stack.gateway_url, timeout=60, token=stack.token("test-user"))
    project = client.create_project("hostile upload")
    v1 = run_to_end(client, project["id"], FRAUD)
    assert v1["status"] == "completed"
    with zipfile.ZipFile(io.BytesIO(client.artifact(v1["id"]))) as z:
        original = {n: z.read(n).decode() for n in z.namelist()}

    markers = [f"/tmp/amp-hostile-{uuid.uuid4().hex}", str(settings.data_dir.resolve() / "hostile-marker"),
               str(Path(sys.prefix) / "hostile-marker"), str(Path(__file__).resolve().parents[2] / "hostile-marker")]
    pg_port = int(re.search(r":(\d+)/", settings.database_url).group(1))
    nats_port = int(settings.nats_url.rsplit(":", 1)[1])
    sockets = [str(p) for p in settings.data_dir.resolve().rglob(".s.PGSQL.*")] + [f"/tmp/.s.PGSQL.{pg_port}"]
    tag = f"86399.{random.randrange(10**6):06d}"
    corpus = escape_tests(markers, [settings.gateway_port, nats_port, pg_port], sockets, tag)
    r = upload(client, project["id"], v1["id"], {**original, "services/serving/tests/test_hostile_escape.py": corpus})
    assert r.status_code == 201, r.text

    v2 = run_to_end(client, project["id"], FRAUD.replace("$6,000", "$7,000"))
    assert v2["status"] == "failed"  # its (hostile) tests fail, so its validation does: the version ends failed
    assert v2["reports"]["validation"]["overall"] == "fail"
    pytest_result = next(t for t in v2["reports"]["validation"]["tools"] if t["tool"] == "pytest")
    report = json.dumps(v2["reports"]["validation"])
    events = json.dumps(client.events(v2["id"]))
    with zipfile.ZipFile(io.BytesIO(client.artifact(v2["id"]))) as z:
        artifact = "\n".join(z.read(n).decode(errors="replace") for n in z.namelist())
    # contained: nothing reached the host, nothing leaked, nothing survived
    assert not [m for m in markers if Path(m).exists()]
    for text in (report, events, artifact):
        assert PLANTED not in text and settings.database_url not in text
        assert not LEAK.search(text) and not CONNECTED.search(text)
    assert not host_processes_with(tag)
    # the report shows what ran where and what was stopped
    assert pytest_result["status"] == "fail" and pytest_result["isolation"].startswith("bubblewrap")
    messages = " ".join(f["message"] for f in pytest_result["findings"])
    assert "MARKERS written=" in messages and "FORKED" in messages and "PORTS tried=" in messages
    stopped = [f["message"] for f in pytest_result["findings"] if f["rule"] == "sandbox-stopped"]
    assert any("left running were killed" in m for m in stopped), pytest_result
    assert any("reached its" in m for m in stopped), pytest_result
    card = next(e["data"] for e in client.events(v2["id"]) if e["type"] == "reason-card"
                and e["data"]["node_name"] == "validators")
    assert any("sandbox" in risk for risk in card["risks"])

    # sleep forever: stopped at the validators' time limit, and said so
    r = upload(client, project["id"], v1["id"], {**original, "services/serving/tests/test_hostile_sleep.py": sleep_forever_test()})
    assert r.status_code == 201, r.text
    v3 = run_to_end(client, project["id"], FRAUD.replace("$6,000", "$8,000"))
    sleep_result = next(t for t in v3["reports"]["validation"]["tools"] if t["tool"] == "pytest")
    assert sleep_result["status"] == "fail"
    assert any(f["rule"] == "pytest-timeout" for f in sleep_result["findings"]), sleep_result

    # the platform is up and the next, clean run completes with the generated tests passing
    assert httpx.get(f"{client.base_url}/healthz", timeout=10).status_code == 200
    r = upload(client, project["id"], v1["id"], original)
    assert r.status_code == 201, r.text
    v4 = run_to_end(client, project["id"], FRAUD.replace("$6,000", "$9,000"))
    assert v4["status"] == "completed"
    clean = next(t for t in v4["reports"]["validation"]["tools"] if t["tool"] == "pytest")
    assert clean["status"] == "pass", clean
    client.close()


def test_unsafe_zip_entries_and_racing_uploads_are_4xx(hostile_stack) -> None:
    from amp_cli.client import Client

    client = Client(hostile_stack.gateway_url, timeout=60, token=hostile_stack.token("test-user"))
    project = client.create_project("zip edges")
    v1 = run_to_end(client, project["id"], FRAUD)
    for name in ("./.git/config", "..\\evil.py", "C:/x.txt", "src/.GIT/hooks/post-checkout", "aux.txt"):
        r = upload(client, project["id"], v1["id"], {"README.md": "# r\n", name: "[core]\n"})
        assert r.status_code == 422 and name.split("/")[-1].split("\\")[-1] in r.json()["error"]["message"], r.text
    bad_crc = bytearray()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("README.md", "hello world\n")
    bad_crc = bytearray(buf.getvalue())
    bad_crc[bad_crc.index(b"hello")] ^= 1
    r = client.http.post(f"{client.base_url}/projects/{project['id']}/repo", content=bytes(bad_crc),
                   headers={"Content-Type": "application/zip"}, timeout=30)
    assert r.status_code == 422 and "README.md" in r.json()["error"]["message"]

    # uploads move the user-tree ref by compare-and-set: two edits of the same upload, the second loses
    first = upload(client, project["id"], v1["id"], {"README.md": "# first\n"})
    assert first.status_code == 201, first.text
    head = first.json()["commit"]
    a = upload(client, project["id"], v1["id"], {"README.md": "# a\n"}, if_match=head)
    b = upload(client, project["id"], v1["id"], {"README.md": "# b\n"}, if_match=head)
    assert (a.status_code, b.status_code) == (201, 409), (a.text, b.text)
    assert b.json()["error"]["code"] == "conflict" and a.json()["commit"] in b.json()["error"]["message"]
    # racing without If-Match: never a 5xx, and whatever won is the ref's one history
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        codes = [f.result().status_code for f in [pool.submit(upload, client, project["id"], v1["id"],
                                                              {"README.md": f"# {i}\n"}) for i in range(6)]]
    assert set(codes) <= {201, 409} and 201 in codes, codes
    client.close()
