"""Every SQL statement of the application, by table. Callers pass a pool or a connection.

Decision-set rows change only under the optimistic lock (`lock_version`); each writer sets the
columns of its own stage.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg
from amp_contracts import ConflictError, Event, IllegalTransition, NotFound, Status, StatusChange, lifecycle

Conn = asyncpg.Pool | asyncpg.Connection

DS_JSON_COLUMNS = ("input_constraints", "constraints", "coverage", "assumptions", "plan", "risks", "cost", "policy",
                   "gate", "approval", "reports", "diff")
DS_COLUMNS = frozenset({*DS_JSON_COLUMNS, "status", "stage", "artifact_key", "tree_key", "git_commit",
                        "prompt_pack_hash", "gate_expires_at", "gate_reminded", "requirements"})


def new_id() -> str:
    return str(uuid.uuid4())


def _row(record: asyncpg.Record | None) -> dict[str, Any] | None:
    if record is None:
        return None
    out = dict(record)
    for k, v in out.items():
        if isinstance(v, uuid.UUID):
            out[k] = str(v)
    return out


# --- projects -------------------------------------------------------------------------------

async def create_project(db: Conn, name: str, description: str = "", owner_id: str | None = None) -> dict[str, Any]:
    """A project; its creator (`owner_id`) becomes its first owner in the same statement."""
    rec = await db.fetchrow(
        "WITH p AS (INSERT INTO projects (id, name, description, owner_id) VALUES ($1, $2, $3, $4) RETURNING *), "
        "m AS (INSERT INTO project_members (project_id, user_id, role, added_by) "
        "SELECT id, owner_id, 'owner', owner_id FROM p WHERE owner_id IS NOT NULL) SELECT * FROM p",
        uuid.uuid4(), name, description, owner_id)
    return _row(rec)  # type: ignore[return-value]


async def get_project(db: Conn, project_id: str) -> dict[str, Any]:
    row = _row(await db.fetchrow("SELECT * FROM projects WHERE id = $1", _uuid(project_id, "project")))
    if row is None:
        raise NotFound(f"project {project_id} not found")
    return row


async def list_projects(db: Conn, limit: int = 100, user_id: str | None = None,
                        project_id: str | None = None) -> list[dict[str, Any]]:
    """The projects `user_id` is a member of (with their role), or the one an API key is scoped to."""
    rows = await db.fetch(
        "SELECT p.*, m.role FROM projects p LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = $2 "
        "WHERE (m.user_id IS NOT NULL OR p.id = $3) ORDER BY p.created_at DESC LIMIT $1",
        limit, user_id, uuid.UUID(project_id) if project_id else None)
    return [_row(r) for r in rows]  # type: ignore[misc]


async def set_project_settings(db: Conn, project_id: str, four_eyes: bool) -> None:
    await db.execute("UPDATE projects SET four_eyes = $2 WHERE id = $1", _uuid(project_id, "project"), four_eyes)


# --- members and roles ----------------------------------------------------------------------

async def member_role(db: Conn, project_id: str, user_id: str) -> str | None:
    try:
        pid = uuid.UUID(str(project_id))
    except ValueError:
        return None
    return await db.fetchval("SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2", pid, user_id)


async def decision_set_access(db: Conn, ds_id: str, user_id: str) -> tuple[str, str | None] | None:
    """(project id, the user's role there or None) of a decision set; None when it does not exist."""
    try:
        did = uuid.UUID(str(ds_id))
    except ValueError:
        return None
    rec = await db.fetchrow(
        "SELECT d.project_id, m.role FROM decision_sets d LEFT JOIN project_members m "
        "ON m.project_id = d.project_id AND m.user_id = $2 WHERE d.id = $1", did, user_id)
    return None if rec is None else (str(rec["project_id"]), rec["role"])


async def list_members(db: Conn, project_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT user_id, role, added_by, created_at FROM project_members WHERE project_id = $1 "
                          "ORDER BY created_at, user_id", _uuid(project_id, "project"))
    return [_row(r) for r in rows]  # type: ignore[misc]


async def put_member(conn: asyncpg.Connection, project_id: str, user_id: str, role: str, added_by: str) -> dict:
    """Add a member or change their role; the last owner cannot be demoted (a project keeps an owner)."""
    pid = _uuid(project_id, "project")
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM projects WHERE id = $1 FOR UPDATE", pid)
        if role != "owner":
            await _keep_an_owner(conn, pid, user_id)
        rec = await conn.fetchrow(
            "INSERT INTO project_members (project_id, user_id, role, added_by) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role RETURNING user_id, role, added_by, "
            "created_at", pid, user_id, role, added_by)
    return _row(rec)  # type: ignore[return-value]


async def delete_member(conn: asyncpg.Connection, project_id: str, user_id: str) -> None:
    pid = _uuid(project_id, "project")
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM projects WHERE id = $1 FOR UPDATE", pid)
        await _keep_an_owner(conn, pid, user_id)
        done = await conn.execute("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2", pid, user_id)
    if done.endswith(" 0"):
        raise NotFound(f"{user_id} is not a member of project {project_id}")


async def _keep_an_owner(conn: asyncpg.Connection, pid: uuid.UUID, user_id: str) -> None:
    others = await conn.fetchval("SELECT count(*) FROM project_members WHERE project_id = $1 AND role = 'owner' "
                                 "AND user_id <> $2", pid, user_id)
    is_owner = await conn.fetchval("SELECT role = 'owner' FROM project_members WHERE project_id = $1 AND user_id = $2",
                                   pid, user_id)
    if is_owner and not others:
        raise ConflictError(f"{user_id} is the project's last owner; make someone else owner first")


# --- API keys -------------------------------------------------------------------------------

API_KEY_PUBLIC = ("id", "project_id", "name", "role", "created_by", "created_at", "expires_at", "revoked_at",
                  "last_used_at")


async def create_api_key(db: Conn, key_id: str, project_id: str, name: str, role: str, key_hash: str,
                         created_by: str, expires_at: Any) -> dict[str, Any]:
    rec = await db.fetchrow(
        f"INSERT INTO api_keys (id, project_id, name, role, key_hash, created_by, expires_at) "
        f"VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {', '.join(API_KEY_PUBLIC)}",
        uuid.UUID(key_id), _uuid(project_id, "project"), name, role, key_hash, created_by, expires_at)
    return _row(rec)  # type: ignore[return-value]


async def list_api_keys(db: Conn, project_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(f"SELECT {', '.join(API_KEY_PUBLIC)} FROM api_keys WHERE project_id = $1 "
                          "ORDER BY created_at", _uuid(project_id, "project"))
    return [_row(r) for r in rows]  # type: ignore[misc]


async def revoke_api_key(db: Conn, project_id: str, key_id: str) -> None:
    done = await db.execute("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
                            "WHERE project_id = $1 AND id = $2", _uuid(project_id, "project"), _uuid(key_id, "API key"))
    if done.endswith(" 0"):
        raise NotFound(f"API key {key_id} not found")


async def live_api_key(db: Conn, key_id: str) -> dict[str, Any] | None:
    """A key that is neither revoked nor expired (its hash included, to compare); its use is noted."""
    return _row(await db.fetchrow(
        "UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > now()) RETURNING id, project_id, role, key_hash, name",
        uuid.UUID(key_id)))


async def set_project_policies(db: Conn, project_id: str, rules: list[dict]) -> None:
    done = await db.execute("UPDATE projects SET policies = $2 WHERE id = $1", _uuid(project_id, "project"), rules)
    if done.endswith(" 0"):
        raise NotFound(f"project {project_id} not found")


# --- decision sets --------------------------------------------------------------------------

async def create_decision_set(conn: asyncpg.Connection, project_id: str, *, requirements: str = "",
                              input_constraints: dict | None = None, parent_id: str | None = None,
                              status: str = "intake", stage: str = "intake", ds_id: str | None = None,
                              **columns: Any) -> dict[str, Any]:
    """Next version of a project's decision set; the project's counter numbers versions atomically."""
    version = await conn.fetchval("UPDATE projects SET ds_count = ds_count + 1 WHERE id = $1 RETURNING ds_count",
                                  _uuid(project_id, "project"))
    if version is None:
        raise NotFound(f"project {project_id} not found")
    cols = {"requirements": requirements, "input_constraints": input_constraints or {}, **columns}
    names = ", ".join(cols)
    params = ", ".join(f"${i}" for i in range(7, 7 + len(cols)))
    rec = await conn.fetchrow(
        f"INSERT INTO decision_sets (id, project_id, version, parent_id, status, stage, {names}) "
        f"VALUES ($1, $2, $3, $4, $5, $6, {params}) RETURNING *",
        uuid.UUID(ds_id) if ds_id else uuid.uuid4(), uuid.UUID(project_id), version,
        uuid.UUID(parent_id) if parent_id else None, status, stage, *cols.values())
    return _row(rec)  # type: ignore[return-value]


async def get_decision_set(db: Conn, ds_id: str, project_id: str | None = None) -> dict[str, Any]:
    """The decision set; with `project_id`, only if it belongs to that project (the gateway always names it)."""
    row = _row(await db.fetchrow("SELECT * FROM decision_sets WHERE id = $1 AND ($2::uuid IS NULL OR project_id = $2)",
                                 _uuid(ds_id, "decision set"), _uuid(project_id, "project") if project_id else None))
    if row is None:
        raise NotFound(f"decision set {ds_id} not found")
    return row


async def find_decision_set(db: Conn, ds_id: str, project_id: str | None = None) -> dict[str, Any] | None:
    return _row(await db.fetchrow("SELECT * FROM decision_sets WHERE id = $1 AND ($2::uuid IS NULL OR project_id = $2)",
                                  uuid.UUID(ds_id), uuid.UUID(project_id) if project_id else None))


async def list_decision_sets(db: Conn, project_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, project_id, version, parent_id, status, stage, created_at, updated_at, "
        "(cost->>'monthly_usd')::float AS monthly_usd, policy->>'overall' AS policy_overall "
        "FROM decision_sets WHERE project_id = $1 ORDER BY version", _uuid(project_id, "project"))
    return [_row(r) for r in rows]  # type: ignore[misc]


async def latest_decision_set(db: Conn, project_id: str) -> dict[str, Any] | None:
    return _row(await db.fetchrow("SELECT * FROM decision_sets WHERE project_id = $1 ORDER BY version DESC LIMIT 1",
                                  uuid.UUID(project_id)))


async def parent_cost(db: Conn, ds_id: str) -> dict | None:
    """The cost estimate of a decision set's parent version, for deltas."""
    return await db.fetchval("SELECT p.cost FROM decision_sets d JOIN decision_sets p ON p.id = d.parent_id "
                             "WHERE d.id = $1", uuid.UUID(ds_id))


async def due_gates(db: Conn, remind_before_s: float, limit: int = 100) -> list[dict[str, Any]]:
    """Gates whose reminder or expiry time has come (index on gate_expires_at for waiting rows)."""
    rows = await db.fetch(
        "SELECT id, project_id, status, gate, gate_expires_at, gate_reminded, gate_expires_at <= now() AS expired "
        "FROM decision_sets WHERE status IN ('waiting_approval', 'expiring') "
        "AND gate_expires_at <= now() + make_interval(secs => $1) ORDER BY gate_expires_at LIMIT $2",
        remind_before_s, limit)
    return [_row(r) for r in rows]  # type: ignore[misc]


async def update_decision_set(conn: asyncpg.Connection, ds_id: str, fields: dict[str, Any], *,
                              expect_status: Iterable[str] | None = None, expect_lock_version: int | None = None,
                              node: str = "", run_id: str | None = None, attempts: int = 5,
                              user_id: str | None = None) -> dict[str, Any]:
    """Set columns and bump `lock_version`, in one statement on the common path. The one way a status changes.

    A new `status` must be a transition the lifecycle allows from the row's current status
    (`amp_contracts.lifecycle`); the condition is part of the UPDATE, so the check and the write
    are atomic, and a refused transition raises `IllegalTransition` (a finished decision set is
    final). A change of status also records a `status-change` event in the same transaction; it
    comes back as `row["transition"]` for the caller to publish with its own events.

    Optimistic locking: a writer whose change rests on a row it read passes that row's
    `lock_version` (`expect_lock_version`) and gets a conflict if anyone wrote since; a status
    condition (`expect_status`) makes the update conditional on the row's status (a conflict, not
    a retry, when it does not hold): this is how one decision wins a gate. Writers whose change
    does not rest on a read (a step setting its own stage's columns) need neither.

    Returns the row's identity and status columns (not the large documents it holds).
    """
    bad = set(fields) - DS_COLUMNS
    if bad:
        raise ValueError(f"unknown decision-set columns {sorted(bad)}")
    new_status = Status(fields["status"]) if "status" in fields else None
    wanted: set[str] | None = set(expect_status) if expect_status is not None else None
    if new_status is not None:
        legal = {str(s) for s in lifecycle.sources(new_status)}
        wanted = legal if wanted is None else wanted & legal
    order = sorted(wanted) if wanted is not None else None
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(fields, start=4))
    for attempt in range(attempts):
        rec = await conn.fetchrow(
            f"WITH prev AS (SELECT id, status FROM decision_sets WHERE id = $1 FOR UPDATE) "
            f"UPDATE decision_sets d SET {sets}, lock_version = d.lock_version + 1, updated_at = now() FROM prev "
            f"WHERE d.id = prev.id AND ($2::text[] IS NULL OR prev.status = ANY($2::text[])) "
            f"AND ($3::int IS NULL OR d.lock_version = $3) "
            f"RETURNING d.id, d.project_id, d.version, d.parent_id, d.status, d.stage, d.lock_version, "
            f"prev.status AS previous_status",
            _uuid(ds_id, "decision set"), order, expect_lock_version, *fields.values())
        if rec is not None:
            row = _row(rec)
            row["transition"] = None  # type: ignore[index]
            if new_status is not None and row["previous_status"] != row["status"]:  # type: ignore[index]
                row["transition"] = await _record_transition(conn, row, node, run_id,  # type: ignore[index]
                                                             user_id)  # type: ignore[arg-type]
            return row  # type: ignore[return-value]
        current = await conn.fetchrow("SELECT lock_version, status FROM decision_sets WHERE id = $1", uuid.UUID(ds_id))
        if current is None:
            raise NotFound(f"decision set {ds_id} not found")
        if new_status is not None and not lifecycle.allowed(current["status"], new_status):
            raise IllegalTransition(f"decision set {ds_id} is {current['status']}: it cannot become {new_status}")
        if wanted is not None and current["status"] not in wanted:
            raise ConflictError(f"decision set {ds_id} is {current['status']}, not {' or '.join(sorted(wanted))}")
        if expect_lock_version is not None and current["lock_version"] != expect_lock_version:
            raise ConflictError(f"decision set {ds_id} changed since it was read "
                                f"(version {current['lock_version']}, expected {expect_lock_version})")
        await asyncio.sleep(min(0.5, 0.01 * 2 ** attempt) * (0.5 + random.random()))
    raise ConflictError(f"decision set {ds_id} kept changing; gave up after {attempts} attempts")


async def _record_transition(conn: asyncpg.Connection, row: dict[str, Any], node: str, run_id: str | None,
                             user_id: str | None = None) -> Event:
    change = StatusChange(decision_set_id=row["id"], previous=row["previous_status"], status=row["status"],
                          label=lifecycle.LABELS[Status(row["status"])])
    ev = Event(type="status-change", project_id=row["project_id"], decision_set_id=row["id"],
               run_id=run_id or str(uuid.uuid5(uuid.UUID(row["id"]), "run")), node_name=node or row["stage"] or "",
               data=change.model_dump(mode="json"), user_id=user_id)
    key = f"status:{row['id']}:{row['lock_version']}"  # one transition per row version
    return (await insert_events(conn, [ev], key, None))[0]


# --- events ---------------------------------------------------------------------------------

async def insert_events(conn: asyncpg.Connection, events: list[Event], step_key: str,
                        checkpoint_id: str | None) -> list[Event]:
    """Append a step's events in one statement; a replay of the same step returns the rows already there."""
    if not events:
        return []
    rows = await conn.fetch(
        "INSERT INTO events (project_id, decision_set_id, run_id, node_name, type, step_key, seq, checkpoint_id, "
        "data, ts, user_id) SELECT p, d, r, n, t, $6, s, $7, x, ts, usr FROM unnest($1::uuid[], $2::uuid[], "
        "$3::text[], $4::text[], $5::text[], $8::int[], $9::jsonb[], $10::timestamptz[], $11::text[]) WITH ORDINALITY "
        "AS u(p, d, r, n, t, s, x, ts, usr, o) ORDER BY o "
        "ON CONFLICT (decision_set_id, node_name, type, step_key, seq) DO UPDATE SET seq = events.seq "
        "RETURNING id, ts, seq",
        [uuid.UUID(e.project_id) for e in events], [uuid.UUID(e.decision_set_id) for e in events],
        [e.run_id for e in events], [e.node_name for e in events], [e.type for e in events], step_key,
        checkpoint_id, list(range(len(events))), [e.data for e in events], [e.ts for e in events],
        [e.user_id for e in events])
    by_seq = {r["seq"]: r for r in rows}
    return [ev.model_copy(update={"id": by_seq[i]["id"], "ts": by_seq[i]["ts"]}) for i, ev in enumerate(events)]


async def list_reason_cards(db: Conn, ds_id: str) -> list[dict[str, Any]]:
    """Only the Reason Cards of a decision set (what the rationale and the docs are built from)."""
    rows = await db.fetch("SELECT data FROM events WHERE decision_set_id = $1 AND type = 'reason-card' ORDER BY id",
                          _uuid(ds_id, "decision set"))
    return [r["data"] for r in rows]


async def list_events(db: Conn, ds_id: str, after_id: int = 0, limit: int = 10_000,
                      project_id: str | None = None) -> list[Event]:
    rows = await db.fetch(
        "SELECT id, project_id, decision_set_id, run_id, node_name, type, data, ts, user_id FROM events "
        "WHERE decision_set_id = $1 AND id > $2 AND ($4::uuid IS NULL OR project_id = $4) ORDER BY id LIMIT $3",
        _uuid(ds_id, "decision set"), after_id, limit, _uuid(project_id, "project") if project_id else None)
    return [Event.model_validate(_row(r)) for r in rows]


# --- agent runs -----------------------------------------------------------------------------

async def get_run(db: Conn, key: str) -> dict[str, Any] | None:
    return _row(await db.fetchrow("SELECT * FROM agent_runs WHERE idem_key = $1 AND ok", key))


async def insert_run(conn: asyncpg.Connection, key: str, project_id: str, ds_id: str, service: str, node: str,
                     output: dict, duration_ms: float) -> bool:
    """Record a finished step; False when another delivery recorded it first."""
    done = await conn.execute(
        "INSERT INTO agent_runs (idem_key, project_id, decision_set_id, service, node, ok, output, duration_ms) "
        "VALUES ($1, $2, $3, $4, $5, true, $6, $7) ON CONFLICT (idem_key) DO NOTHING",
        key, uuid.UUID(project_id), uuid.UUID(ds_id), service, node, output, duration_ms)
    return done.endswith(" 1")


# --- approvals, answers, costs --------------------------------------------------------------

async def insert_approval(conn: asyncpg.Connection, project_id: str, ds_id: str, status: str, comment: str, by: str,
                          waivers: list[dict]) -> dict[str, Any]:
    try:
        rec = await conn.fetchrow(
            "INSERT INTO approvals (id, project_id, decision_set_id, status, comment, decided_by, waivers) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
            uuid.uuid4(), uuid.UUID(project_id), uuid.UUID(ds_id), status, comment, by, waivers)
    except asyncpg.UniqueViolationError:
        raise ConflictError(f"decision set {ds_id} has already been decided") from None
    return _row(rec)  # type: ignore[return-value]


async def insert_answer(conn: asyncpg.Connection, project_id: str, ds_id: str, interrupt_id: str, answers: dict,
                        text: str) -> dict[str, Any]:
    try:
        rec = await conn.fetchrow(
            "INSERT INTO answers (id, project_id, decision_set_id, interrupt_id, answers, text) "
            "VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
            uuid.uuid4(), uuid.UUID(project_id), uuid.UUID(ds_id), interrupt_id, answers, text)
    except asyncpg.UniqueViolationError:
        raise ConflictError(f"these questions of decision set {ds_id} have already been answered") from None
    return _row(rec)  # type: ignore[return-value]


async def upsert_cost(conn: asyncpg.Connection, project_id: str, ds_id: str, estimate: dict) -> None:
    await conn.execute(
        "INSERT INTO cost_estimates (project_id, decision_set_id, monthly_usd, estimate) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (decision_set_id) DO UPDATE SET monthly_usd = EXCLUDED.monthly_usd, estimate = EXCLUDED.estimate",
        uuid.UUID(project_id), uuid.UUID(ds_id), estimate["monthly_usd"], estimate)


# --- idempotency keys of the REST API ---------------------------------------------------------

async def get_idempotent_response(db: Conn, key: str, route: str) -> dict[str, Any] | None:
    return _row(await db.fetchrow("SELECT * FROM idempotency_keys WHERE key = $1 AND route = $2", key, route))


async def put_idempotent_response(conn: asyncpg.Connection, key: str, route: str, request_hash: str, status_code: int,
                                  response: Any) -> None:
    await conn.execute(
        "INSERT INTO idempotency_keys (key, route, request_hash, status_code, response) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT DO NOTHING", key, route, request_hash, status_code, response)


# --- outbox ---------------------------------------------------------------------------------

async def add_outbox(conn: asyncpg.Connection, project_id: str, subject: str, msg_id: str, body: bytes) -> int:
    return await conn.fetchval(
        "INSERT INTO outbox (project_id, subject, msg_id, body) VALUES ($1, $2, $3, $4) RETURNING id",
        uuid.UUID(project_id), subject, msg_id, body)


async def unsent_outbox(db: Conn, limit: int = 100) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT id, subject, msg_id, body FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1",
                          limit)
    return [dict(r) for r in rows]


async def mark_sent(db: Conn, ids: list[int]) -> None:
    await db.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", ids)


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} {value} not found") from None
