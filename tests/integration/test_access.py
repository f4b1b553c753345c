"""Who reaches what, over the real gateway with real tokens: every project-scoped route and the stream.

For each route: anonymous → 401 with `WWW-Authenticate: Bearer`; a non-member → 404 (the
project's existence is not revealed); a member whose role lacks the action → 403; a member
with the role gets past the check. Then what the identity changes: listings, the recorded
approver, four eyes, API keys, the session cookie, rate limits and stream slots.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import sys
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from amp_cli.client import Client
from amp_contracts import Envelope, GateExpire
from amp_domain.access import ALLOWED, ROLES
from amp_runtime import store
from amp_runtime.agent import Route, dead_letter
from amp_runtime.bootstrap import open_deps
from amp_runtime.embedded import free_port
from amp_runtime.step_store import PostgresStepStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from flows import FRAUD, follow, is_gate, waivers_for  # noqa: E402

pytestmark = pytest.mark.integration

INTERNAL = FRAUD.replace("Cardholder data, PCI DSS and GDPR", "Internal data")
VAGUE = "Sentiment model behind an API, about 5 requests per second, budget $300/month."


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ZERO = "00000000-0000-0000-0000-000000000000"


def park(settings, project: str, permanent: bool = False) -> str:
    """A decision set of `project` stopped after repeated errors, its message a dead letter (on a subject no
    agent reads, so that resuming or replaying it moves nothing else); returns the decision set's id."""
    async def main() -> str:
        async with open_deps(settings, "test") as deps:
            async with deps.pool.acquire() as conn, conn.transaction():
                ds = (await store.create_decision_set(conn, project, requirements="x"))["id"]
                await store.update_decision_set(conn, ds, {"status": "planning"}, expect_status={"intake"})
            env = Envelope[GateExpire](project_id=project, decision_set_id=ds, run_id=str(uuid.uuid4()),
                                       payload=GateExpire(interrupt_id=f"i-{uuid.uuid4().hex[:6]}", kind="reminder"))
            await dead_letter(PostgresStepStore(deps.pool, deps.js), "tester", Route(f"amp.test.access.{uuid.uuid4().hex[:6]}", "gate_expire"),
                              env.model_dump_json().encode(), "gate_expire failed: outage", "unavailable",
                              permanent=permanent)
            return ds

    return asyncio.run(main())


def dead_letter_of(settings, ds: str) -> int:
    async def main() -> int:
        async with open_deps(settings, "test") as deps:
            return await deps.pool.fetchval("SELECT id FROM dead_letters WHERE decision_set_id = $1", uuid.UUID(ds))

    return asyncio.run(main())


def members(owner: Client, project: str) -> None:
    for role in ROLES:
        if role != "owner":
            owner._send("PUT", f"/projects/{project}/members/{role}-1", json={"role": role})


@pytest.fixture(scope="module")
def team(stack, settings):
    """A project owned by `owner-1` with one member of every other role, a decision set waiting at its gate,
    a webhook subscription and a dead letter."""
    tokens = {role: stack.token(f"{role}-1") for role in ROLES}
    tokens["outsider"] = stack.token("outsider-1")
    owner = Client(stack.gateway_url, timeout=60, token=tokens["owner"])
    project = owner.create_project("access matrix")
    members(owner, project["id"])
    hook = owner.post(f"/projects/{project['id']}/webhooks", {"url": "http://127.0.0.1:9/hook",
                                                               "events": ["gate.waiting"]})
    submitted = owner.submit(project["id"], INTERNAL)
    ds = submitted["decision_set_id"]
    follow(owner, ds, is_gate)
    dl = dead_letter_of(settings, park(settings, project["id"], permanent=True))
    yield {"tokens": tokens, "project": project["id"], "ds": ds, "owner": owner, "run_id": submitted["run_id"],
           "ids": {"project_id": project["id"], "ds_id": ds, "webhook_id": hook["id"], "delivery_id": ZERO,
                   "dl_id": dl, "user_id": "nobody-at-all", "key_id": ZERO}}
    owner.close()


#: (method, path template, an invalid or harmless JSON body, action) of every project-scoped route.
#: "dead-letter": a dead letter is seen by its project's owners only; other members get 404 like strangers.
ROUTES: list[tuple[str, str, dict | None, str]] = [
    ("GET", "/projects/{project_id}", None, "read"),
    ("GET", "/projects/{project_id}/llm-usage", None, "read"),
    ("GET", "/projects/{project_id}/members", None, "read"),
    ("GET", "/decision-sets/{ds_id}", None, "read"),
    ("GET", "/decision-sets/{ds_id}/events", None, "read"),
    ("GET", "/decision-sets/{ds_id}/diff", None, "read"),
    ("GET", "/decision-sets/{ds_id}/artifact", None, "read"),
    ("GET", "/streams/{ds_id}", None, "read"),
    ("POST", "/projects/{project_id}/constraints", {"text": "   "}, "submit"),
    ("POST", "/decision-sets/{ds_id}/answers", {"answers": {}}, "submit"),
    ("POST", "/projects/{project_id}/repo", None, "submit"),
    ("POST", "/decision-sets/{ds_id}/approve", {"status": "bogus"}, "approve"),
    ("PUT", "/projects/{project_id}/policies", {"rules": [{"bogus": 1}]}, "policies"),
    ("PUT", "/projects/{project_id}/llm-budget", {"limit_usd": -1}, "budget"),
    ("POST", "/decision-sets/{ds_id}/resume", None, "resume"),
    ("PATCH", "/projects/{project_id}", {"four_eyes": "maybe"}, "manage"),
    ("PUT", "/projects/{project_id}/members/{user_id}", {"role": "emperor"}, "manage"),
    ("DELETE", "/projects/{project_id}/members/{user_id}", None, "manage"),
    ("GET", "/projects/{project_id}/api-keys", None, "manage"),
    ("POST", "/projects/{project_id}/api-keys", {"name": ""}, "manage"),
    ("DELETE", "/projects/{project_id}/api-keys/{key_id}", None, "manage"),
    ("GET", "/projects/{project_id}/webhooks", None, "manage"),
    ("POST", "/projects/{project_id}/webhooks", {"url": "", "events": []}, "manage"),
    ("GET", "/projects/{project_id}/webhooks/{webhook_id}", None, "manage"),
    ("PATCH", "/projects/{project_id}/webhooks/{webhook_id}", {"enabled": "maybe"}, "manage"),
    ("POST", "/projects/{project_id}/webhooks/{webhook_id}/rotate-secret", {"overlap_s": -1}, "manage"),
    ("GET", "/projects/{project_id}/webhooks/{webhook_id}/deliveries", None, "manage"),
    ("GET", "/projects/{project_id}/webhooks/{webhook_id}/deliveries/{delivery_id}", None, "manage"),
    ("POST", "/projects/{project_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", None, "manage"),
    ("DELETE", "/projects/{project_id}/webhooks/{webhook_id}", None, "manage"),  # last of the hook's: owners delete it
    ("GET", "/dead-letters/{dl_id}", None, "dead-letter"),
    ("POST", "/dead-letters/{dl_id}/replay", {}, "dead-letter"),
]

#: The path parameters that make a route project-scoped: the project itself, or something of one.
SCOPED_PARAMS = ("{project_id}", "{ds_id}", "{dl_id}")


def test_the_matrix_covers_every_project_scoped_route(stack) -> None:
    """The routes come from the running gateway's own OpenAPI document: a new route cannot escape the matrix."""
    doc = httpx.get(f"{stack.gateway_url}/openapi.json", timeout=30).json()
    served = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops
              if method in ("get", "post", "put", "patch", "delete") and any(p in path for p in SCOPED_PARAMS)}
    covered = {(method, path) for method, path, _, _ in ROUTES}
    assert served, "the OpenAPI document lists no project-scoped route"
    assert served <= covered, f"project-scoped routes missing from the role matrix: {sorted(served - covered)}"
    assert covered <= served, f"matrix routes the gateway does not serve: {sorted(covered - served)}"


def routes(ids: dict[str, Any]) -> list[tuple[str, str, dict | None, str]]:
    return [(m, path.format(**ids), body, action) for m, path, body, action in ROUTES]


def call(http: httpx.Client, method: str, path: str, body: dict | None, headers: dict[str, str]) -> httpx.Response:
    if path.startswith("/streams/"):
        with http.stream(method, path, headers=headers) as r:
            r.read() if r.status_code >= 400 else None
            return r
    return http.request(method, path, json=body, headers=headers)


def check_identity(http: httpx.Client, method: str, path: str, body: dict | None, tokens: dict[str, str]) -> None:
    """Anonymous and forged callers get 401, a stranger 404."""
    where = f"{method} {path}"
    r = call(http, method, path, body, {})
    assert r.status_code == 401, where
    assert r.headers["www-authenticate"] == "Bearer" and r.json()["error"]["code"] == "unauthorized", where
    r = call(http, method, path, body, bearer("not.a.token"))
    assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"], where
    r = call(http, method, path, body, bearer(tokens["outsider"]))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", where


def check_denied(http: httpx.Client, method: str, path: str, body: dict | None, action: str,
                 tokens: dict[str, str]) -> None:
    """A member whose role lacks the action gets 403 (a dead letter: 404, it is its owners' alone)."""
    for role in ROLES:
        if role in allowed(action):
            continue
        r = call(http, method, path, body, bearer(tokens[role]))
        expected = 404 if action == "dead-letter" else 403
        assert r.status_code == expected, (method, path, role, r.status_code)
        assert r.json()["error"]["code"] == ("not_found" if expected == 404 else "forbidden"), (method, path)


def allowed(action: str) -> frozenset[str]:
    return ALLOWED["manage"] if action == "dead-letter" else ALLOWED[action]


def test_every_route_checks_identity_membership_and_role(stack, team) -> None:
    p, tokens = team["project"], team["tokens"]
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        for method, path, body, action in routes(team["ids"]):
            where = f"{method} {path}"
            check_identity(http, method, path, body, tokens)
            message = call(http, method, path, body, bearer(tokens["outsider"])).json()["error"]["message"]
            assert p not in message or "not found" in message, (where, message)
            check_denied(http, method, path, body, action, tokens)
            for role in allowed(action):
                r = call(http, method, path, body, bearer(tokens[role]))
                # past the check: the request itself is answered (valid bodies 2xx, these bad ones 4xx)
                assert r.status_code not in (401, 403), (where, role, r.text)
                if r.status_code == 404:
                    assert "not found" not in r.json()["error"]["message"] or "nobody" in path \
                        or ZERO in path, (where, role, r.text)


def repo_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("docs/notes.md", "# Notes\n\nOn-call: the platform team.\n")
    return buf.getvalue()


def test_each_write_succeeds_for_an_allowed_role_with_a_valid_request(stack, settings) -> None:
    """Valid requests: refused as before to strangers (404), the anonymous (401) and the wrong roles (403);
    answered 2xx for a role that has the action."""
    tokens = {role: stack.token(f"{role}-v") for role in ROLES}
    tokens["outsider"] = stack.token("outsider-v")
    owner = Client(stack.gateway_url, timeout=60, token=tokens["owner"])
    p = owner.create_project("valid writes")["id"]
    for role in ROLES:
        if role != "owner":
            owner._send("PUT", f"/projects/{p}/members/{role}-v", json={"role": role})
    receiver = free_port()  # nothing listens there: deliveries are recorded, then fail
    hook = owner.post(f"/projects/{p}/webhooks", {"url": f"http://127.0.0.1:{receiver}/h", "events": ["gate.waiting"]})
    gated = owner.submit(p, INTERNAL)["decision_set_id"]
    asking = owner.submit(p, VAGUE)["decision_set_id"]
    intake = follow(owner, asking, lambda ev, d: ev == "gate-waiting" and d.get("gate") == "intake")[-1][1]
    stalled, replayed = park(settings, p), park(settings, p)
    letter = dead_letter_of(settings, replayed)
    pack = json.loads((Path(__file__).resolve().parents[1] / "e2e" / "policy_pack.json").read_text())
    answers = {q["field"]: v for q in intake["questions"]
               for f, v in {"cloud": "gcp", "regions": ["europe-west4"], "data_classification": "internal"}.items()
               if q["field"] == f}
    http = httpx.Client(base_url=stack.gateway_url, timeout=60)
    deliveries: list[dict] = []
    try:
        def write(method: str, path: str, body: Any, action: str, role: str, status: int, **kw: Any) -> httpx.Response:
            if kw.get("content") is None:
                check_identity(http, method, path, body, tokens)
                check_denied(http, method, path, body, action, tokens)
            headers = {**bearer(tokens[role]), **kw.pop("headers", {})}
            r = http.request(method, path, json=body, headers=headers, **kw)
            assert r.status_code == status, (method, path, role, r.status_code, r.text)
            return r

        hooks = f"/projects/{p}/webhooks/{hook['id']}"
        write("PATCH", f"/projects/{p}", {"four_eyes": False}, "manage", "owner", 200)
        write("PUT", f"/projects/{p}/members/newcomer-v", {"role": "viewer"}, "manage", "owner", 200)
        write("DELETE", f"/projects/{p}/members/newcomer-v", None, "manage", "owner", 204)
        key = write("POST", f"/projects/{p}/api-keys", {"name": "ci", "role": "viewer"}, "manage", "owner", 201)
        write("DELETE", f"/projects/{p}/api-keys/{key.json()['id']}", None, "manage", "owner", 204)
        write("PUT", f"/projects/{p}/policies", {"rules": pack}, "policies", "owner", 200)
        write("PUT", f"/projects/{p}/llm-budget", {"limit_usd": 50}, "budget", "finops", 200)
        write("POST", f"/decision-sets/{asking}/answers", {"answers": answers, "interrupt_id": intake["interrupt_id"]},
              "submit", "architect", 202)
        write("POST", f"/decision-sets/{stalled}/resume", None, "resume", "finops", 202)
        write("PATCH", hooks, {"description": "the team's receiver"}, "manage", "owner", 200)
        write("POST", f"{hooks}/rotate-secret", {"overlap_s": 60}, "manage", "owner", 200)
        deadline = time.monotonic() + 60
        while not deliveries and time.monotonic() < deadline:
            deliveries = http.get(f"{hooks}/deliveries", headers=bearer(tokens["owner"])).json()["deliveries"]
            time.sleep(0.3)
        assert deliveries, "no delivery was recorded for the gate"
        write("GET", f"{hooks}/deliveries", None, "manage", "owner", 200)
        one = f"{hooks}/deliveries/{deliveries[0]['id']}"
        write("GET", one, None, "manage", "owner", 200)
        write("POST", f"{one}/redeliver", None, "manage", "owner", 202)
        write("GET", f"/dead-letters/{letter}", None, "dead-letter", "owner", 200)
        write("POST", f"/dead-letters/{letter}/replay", {}, "dead-letter", "owner", 202)
        gate = follow(owner, gated, is_gate)[-1][1]
        write("POST", f"/decision-sets/{gated}/approve", {"status": "approved", "comment": "fine",
                                                          "waivers": waivers_for(gate.get("policy") or {"rules": []})},
              "approve", "reviewer", 202)
        assert follow(owner, gated, lambda ev, d: ev == "run-complete")[-1][1]["status"] in ("completed", "failed")
        write("POST", f"/projects/{p}/repo", None, "submit", "architect", 201, content=repo_zip(),
              params={"base": gated}, headers={"Content-Type": "application/zip"})
        write("POST", f"/projects/{p}/constraints", {"text": VAGUE}, "submit", "architect", 202)
        write("DELETE", hooks, None, "manage", "owner", 204)
    finally:
        http.close()
        owner.close()


def test_reads_succeed_for_every_member_and_the_stream_opens(stack, team) -> None:
    p, d, tokens = team["project"], team["ds"], team["tokens"]
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        for role in ROLES:
            assert http.get(f"/projects/{p}", headers=bearer(tokens[role])).json()["role"] == role
            assert http.get(f"/decision-sets/{d}/events", headers=bearer(tokens[role])).status_code == 200
        with http.stream("GET", f"/streams/{d}", headers=bearer(tokens["viewer"])) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")


def test_listing_shows_only_the_callers_projects(stack, team) -> None:
    mine = Client(stack.gateway_url, token=stack.token("lister-1"))
    try:
        own = mine.create_project("only mine")
        ids = {x["id"] for x in mine.projects()}
        assert own["id"] in ids and team["project"] not in ids
    finally:
        mine.close()
    viewer = Client(stack.gateway_url, token=team["tokens"]["viewer"])
    try:
        listed = {x["id"]: x for x in viewer.projects()}
        assert team["project"] in listed and own["id"] not in listed and listed[team["project"]]["role"] == "viewer"
    finally:
        viewer.close()


def test_a_diff_against_another_projects_version_is_not_reachable(stack, team) -> None:
    other = Client(stack.gateway_url, token=stack.token("other-owner"))
    try:
        foreign = other.submit(other.create_project("foreign")["id"], "nightly batch scoring on GCP")["decision_set_id"]
    finally:
        other.close()
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers=bearer(team["tokens"]["owner"])) as http:
        assert http.get(f"/decision-sets/{foreign}").status_code == 404
        r = http.get(f"/decision-sets/{team['ds']}/diff", params={"against": foreign})
        assert r.status_code == 404, r.text


def test_the_approver_is_the_token_subject_and_four_eyes_holds(stack) -> None:
    alice = Client(stack.gateway_url, timeout=60, token=stack.token("alice-4e"))
    bob = Client(stack.gateway_url, timeout=60, token=stack.token("bob-4e"))
    try:
        project = alice.post("/projects", {"name": "four eyes", "four_eyes": True})
        alice._send("PUT", f"/projects/{project['id']}/members/bob-4e", json={"role": "reviewer"})
        ds = alice.submit(project["id"], INTERNAL)["decision_set_id"]
        follow(alice, ds, is_gate)
        with pytest.raises(Exception, match="four eyes"):
            alice.approve(ds, "approved", comment="my own")
        bob.approve(ds, "approved", comment="ok", by="someone-else")  # a `by` in the body is ignored
        follow(bob, ds, lambda ev, data: ev == "run-complete")
        decided = bob.decision_set(ds)
        assert decided["approval"]["by"] == "bob-4e", decided["approval"]
    finally:
        alice.close()
        bob.close()


def test_api_keys_are_scoped_shown_once_and_revoked_at_once(stack, team) -> None:
    owner, p = team["owner"], team["project"]
    created = owner.post(f"/projects/{p}/api-keys", {"name": "ci", "role": "viewer"})
    key = created["key"]
    assert created["role"] == "viewer" and key.startswith("ampk_")
    listed = owner.get(f"/projects/{p}/api-keys")["api_keys"]
    assert created["id"] in {k["id"] for k in listed} and key not in str(listed)
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers=bearer(key)) as ci:
        assert ci.get(f"/projects/{p}").status_code == 200
        assert ci.get(f"/decision-sets/{team['ds']}").status_code == 200
        assert ci.put(f"/projects/{p}/llm-budget", json={"limit_usd": 5}).status_code == 403
        assert [x["id"] for x in ci.get("/projects").json()["projects"]] == [p]
        other = owner.create_project("not the key's")
        assert ci.get(f"/projects/{other['id']}").status_code == 404
        assert ci.post("/projects", json={"name": "by a key"}).status_code == 403
        assert owner._send("DELETE", f"/projects/{p}/api-keys/{created['id']}") == b""
        r = ci.get(f"/projects/{p}")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_an_idempotency_key_is_the_callers_own(stack) -> None:
    key = {"Idempotency-Key": "shared-key-1"}
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        a = http.post("/projects", json={"name": "same"}, headers={**key, **bearer(stack.token("idem-a"))})
        b = http.post("/projects", json={"name": "same"}, headers={**key, **bearer(stack.token("idem-b"))})
        assert a.status_code == b.status_code == 201
        assert a.json()["id"] != b.json()["id"] and "idempotent-replayed" not in b.headers


def log_lines(stack) -> dict[str, list[dict]]:
    """The JSON lines each service of the stack wrote to its log file."""
    out: dict[str, list[dict]] = {}
    for path in (stack.settings.data_dir / "logs").glob("*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.setdefault(path.stem, []).append(json.loads(line))
                except ValueError:
                    continue
    return out


def test_events_cards_and_logs_name_the_person(stack, team) -> None:
    events = team["owner"].all_events(team["ds"])
    assert any(e.get("user_id") == "owner-1" for e in events if e["type"] == "status-change")
    cards = [e for e in events if e["type"] == "reason-card"]
    assert cards and all(e.get("user_id") == "owner-1" for e in cards)
    assert all(e["data"].get("user_id") == "owner-1" for e in cards)  # the card itself names the person

    run = team["run_id"]
    deadline = time.monotonic() + 30
    while True:  # a line reaches the file once the service has written it
        logs = log_lines(stack)
        gateway = [x for x in logs.get("gateway", []) if x.get("run_id") == run]
        agents = [x for name, lines in logs.items() if name != "gateway" for x in lines if x.get("run_id") == run]
        if (gateway and agents) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert gateway, "no gateway log line names the run"
    assert agents, "no agent log line names the run"
    first = gateway[0]
    assert first["user_id"] == "owner-1" and first["request_id"] and first["decision_set_id"] == team["ds"]
    intake = [x for x in agents if x.get("service") == "intake"]
    assert intake and intake[0]["user_id"] == "owner-1"
    assert intake[0]["request_id"] == first["request_id"]  # the submitting request, carried on the bus
    assert intake[0]["thread_id"] == f"{team['ds']}/intake" and intake[0]["decision_set_id"] == team["ds"]


def test_members_keep_an_owner(stack, team) -> None:
    owner, p = team["owner"], team["project"]
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers=bearer(team["tokens"]["owner"])) as http:
        assert http.put(f"/projects/{p}/members/owner-1", json={"role": "viewer"}).status_code == 409
        assert http.delete(f"/projects/{p}/members/owner-1").status_code == 409
        assert http.put(f"/projects/{p}/members/temp-1", json={"role": "finops"}).json()["role"] == "finops"
        assert http.delete(f"/projects/{p}/members/temp-1").status_code == 204
        members = {m["user_id"]: m["role"] for m in owner.get(f"/projects/{p}/members")["members"]}
        assert members["owner-1"] == "owner" and "temp-1" not in members


def test_the_session_cookie_signs_in_the_page_and_writes_need_the_header(stack) -> None:
    token = stack.token("cookie-user")
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        r = http.post("/auth/session", json={"token": token})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert http.get("/me").json()["user_id"] == "cookie-user"
        assert http.post("/projects", json={"name": "by cookie"}).status_code == 403  # no X-AMP-Request
        made = http.post("/projects", json={"name": "by cookie"}, headers={"X-AMP-Request": "1"})
        assert made.status_code == 201
        ds = http.post(f"/projects/{made.json()['id']}/constraints", json={"text": "nightly batch on GCP"},
                       headers={"X-AMP-Request": "1"}).json()["decision_set_id"]
        with http.stream("GET", f"/streams/{ds}") as s:
            assert s.status_code == 200
        assert http.delete("/auth/session", headers={"X-AMP-Request": "1"}).status_code == 204
        assert http.get("/me").status_code == 401
        assert http.post("/auth/session", json={"token": token[:-4] + "AAAA"}).status_code == 401


def test_public_routes_and_the_edge(stack) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        for path in ("/healthz", "/", "/signin", "/openapi.json", "/asyncapi.json", "/.well-known/jwks.json",
                     "/.well-known/openid-configuration", "/static/js/app.js"):
            r = http.get(path)
            assert r.status_code == 200, path
        r = http.get("/")
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        for path in ("/", "/projects", "/.well-known/jwks.json"):  # a rebinding page reads nothing
            rebound = http.get(path, headers={"Host": "attacker.example"})
            assert rebound.status_code == 400 and rebound.json()["error"]["code"] == "validation_failed", path
        assert http.get("/healthz", headers={"Host": "10.1.2.3:8080"}).status_code == 200  # a probe by address
        assert http.get("/pipeline").status_code == 401


@pytest.fixture(scope="module")
def tight(stack, tmp_path_factory):
    """A second gateway of the same servers and issuer, with a low write limit and one stream per user."""
    from amp_cli.stack import Stack

    data = tmp_path_factory.mktemp("tight")
    shutil.copytree(stack.settings.data_dir / "secrets", data / "secrets")
    s = Stack(stack.settings.model_copy(update={"gateway_port": free_port(), "data_dir": data,
                                                "rate_limit_per_min": 3, "sse_streams_per_user": 1}))
    s.start_services(agents=(), gateway=True)
    yield s
    s.stop()


def test_writes_are_rate_limited_per_user_and_streams_capped(tight, team) -> None:
    token = tight.token("busy-user")
    with httpx.Client(base_url=tight.gateway_url, timeout=30, headers=bearer(token)) as http:
        codes = [http.post("/projects", json={"name": f"n{i}"}).status_code for i in range(4)]
        assert codes[:3] == [201, 201, 201] and codes[3] == 429
        r = http.post("/projects", json={"name": "again"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["retry_after_s"] >= 1
        other = http.post("/projects", json={"name": "someone else"}, headers=bearer(tight.token("calm-user")))
        assert other.status_code == 201  # the limit is per user
    viewer = bearer(team["tokens"]["viewer"])
    with httpx.Client(base_url=tight.gateway_url, timeout=30, headers=viewer) as http:
        with http.stream("GET", f"/streams/{team['ds']}") as first:
            assert first.status_code == 200
            second = http.get(f"/streams/{team['ds']}")
            assert second.status_code == 429 and second.headers["retry-after"]
        deadline = time.monotonic() + 30
        while True:  # the slot comes back once the first stream has closed
            with http.stream("GET", f"/streams/{team['ds']}") as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "the stream slot was never given back"
            time.sleep(0.5)
