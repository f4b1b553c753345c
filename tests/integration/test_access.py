"""Who reaches what, over the real gateway with real tokens: every project-scoped route and the stream.

For each route: anonymous → 401 with `WWW-Authenticate: Bearer`; a non-member → 404 (the
project's existence is not revealed); a member whose role lacks the action → 403; a member
with the role gets past the check. Then what the identity changes: listings, the recorded
approver, four eyes, API keys, the session cookie, rate limits and stream slots.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import httpx
import pytest
from amp_cli.client import Client
from amp_domain.access import ALLOWED, ROLES
from amp_runtime.embedded import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from flows import FRAUD, follow, is_gate  # noqa: E402

pytestmark = pytest.mark.integration

INTERNAL = FRAUD.replace("Cardholder data, PCI DSS and GDPR", "Internal data")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def team(stack):
    """A project owned by `owner-1` with one member of every other role, a decision set waiting at its gate."""
    tokens = {role: stack.token(f"{role}-1") for role in ROLES}
    tokens["outsider"] = stack.token("outsider-1")
    owner = Client(stack.gateway_url, timeout=60, token=tokens["owner"])
    project = owner.create_project("access matrix")
    for role in ROLES:
        if role != "owner":
            owner._send("PUT", f"/projects/{project['id']}/members/{role}-1", json={"role": role})
    ds = owner.submit(project["id"], INTERNAL)["decision_set_id"]
    follow(owner, ds, is_gate)
    yield {"tokens": tokens, "project": project["id"], "ds": ds, "owner": owner}
    owner.close()


def routes(p: str, d: str) -> list[tuple[str, str, dict | None, str]]:
    """(method, path, JSON body, action) of every project-scoped route; bodies are valid requests."""
    hooks = f"/projects/{p}/webhooks"
    return [
        ("GET", f"/projects/{p}", None, "read"),
        ("GET", f"/projects/{p}/llm-usage", None, "read"),
        ("GET", f"/projects/{p}/members", None, "read"),
        ("GET", f"/decision-sets/{d}", None, "read"),
        ("GET", f"/decision-sets/{d}/events", None, "read"),
        ("GET", f"/decision-sets/{d}/diff", None, "read"),
        ("GET", f"/decision-sets/{d}/artifact", None, "read"),
        ("GET", f"/streams/{d}", None, "read"),
        ("POST", f"/projects/{p}/constraints", {"text": "   "}, "submit"),
        ("POST", f"/decision-sets/{d}/answers", {"answers": {}}, "submit"),
        ("POST", f"/projects/{p}/repo", None, "submit"),
        ("POST", f"/decision-sets/{d}/approve", {"status": "bogus"}, "approve"),
        ("PUT", f"/projects/{p}/policies", {"rules": [{"bogus": 1}]}, "policies"),
        ("PUT", f"/projects/{p}/llm-budget", {"limit_usd": -1}, "budget"),
        ("POST", f"/decision-sets/{d}/resume", None, "resume"),
        ("PATCH", f"/projects/{p}", {"four_eyes": "maybe"}, "manage"),
        ("PUT", f"/projects/{p}/members/someone", {"role": "emperor"}, "manage"),
        ("DELETE", f"/projects/{p}/members/nobody-at-all", None, "manage"),
        ("GET", f"/projects/{p}/api-keys", None, "manage"),
        ("POST", f"/projects/{p}/api-keys", {"name": ""}, "manage"),
        ("DELETE", f"/projects/{p}/api-keys/00000000-0000-0000-0000-000000000000", None, "manage"),
        ("GET", hooks, None, "manage"),
        ("POST", hooks, {"url": "", "events": []}, "manage"),
        ("GET", f"{hooks}/00000000-0000-0000-0000-000000000000", None, "manage"),
        ("DELETE", f"{hooks}/00000000-0000-0000-0000-000000000000", None, "manage"),
    ]


def call(http: httpx.Client, method: str, path: str, body: dict | None, headers: dict[str, str]) -> httpx.Response:
    if path.startswith("/streams/"):
        with http.stream(method, path, headers=headers) as r:
            r.read() if r.status_code >= 400 else None
            return r
    return http.request(method, path, json=body, headers=headers)


def test_every_route_checks_identity_membership_and_role(stack, team) -> None:
    p, d, tokens = team["project"], team["ds"], team["tokens"]
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        for method, path, body, action in routes(p, d):
            where = f"{method} {path}"
            r = call(http, method, path, body, {})
            assert r.status_code == 401, where
            assert r.headers["www-authenticate"] == "Bearer" and r.json()["error"]["code"] == "unauthorized", where
            r = call(http, method, path, body, bearer("not.a.token"))
            assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"], where

            r = call(http, method, path, body, bearer(tokens["outsider"]))
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", where
            assert p not in r.json()["error"]["message"] or "not found" in r.json()["error"]["message"]

            for role in ROLES:
                r = call(http, method, path, body, bearer(tokens[role]))
                if role in ALLOWED[action]:
                    # past the check: the request itself is answered (valid bodies 2xx, these bad ones 4xx)
                    assert r.status_code not in (401, 403), (where, role, r.text)
                    if r.status_code == 404:
                        assert "not found" not in r.json()["error"]["message"] or "nobody" in path \
                            or "0000" in path, (where, role, r.text)
                else:
                    assert r.status_code == 403, (where, role, r.status_code)
                    assert r.json()["error"]["code"] == "forbidden", where


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


def test_events_and_logs_name_the_person(stack, team) -> None:
    events = team["owner"].all_events(team["ds"])
    assert any(e.get("user_id") == "owner-1" for e in events if e["type"] == "status-change")
    assert any(e.get("user_id") == "owner-1" for e in events if e["type"] == "reason-card")


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
