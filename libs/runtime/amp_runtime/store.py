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

from .telemetry import current_trace_id, current_traceparent

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
    """Next version of a project's decision set; the project's counter numbers versions atomically.

    The version remembers the trace it was created in, for the commands that later act on it.
    """
    columns.setdefault("traceparent", current_traceparent())
    cols = {"requirements": requirements, "input_constraints": input_constraints or {}, **columns}
    names = ", ".join(cols)
    params = ", ".join(f"${i}" for i in range(6, 6 + len(cols)))
    rec = await conn.fetchrow(  # the version from the project's counter, in the same statement
        "WITH v AS (UPDATE projects SET ds_count = ds_count + 1 WHERE id = $2 RETURNING ds_count) "
        f"INSERT INTO decision_sets (id, project_id, version, parent_id, status, stage, {names}) "
        f"SELECT $1, $2, v.ds_count, $3, $4, $5, {params} FROM v RETURNING *",
        uuid.UUID(ds_id) if ds_id else uuid.uuid4(), _uuid(project_id, "project"),
        uuid.UUID(parent_id) if parent_id else None, status, stage, *cols.values())
    if rec is None:
        raise NotFound(f"project {project_id} not found")
    return _row(rec)  # type: ignore[return-value]


async def traceparent_of(db: Conn, ds_id: str) -> str | None:
    """The trace a decision set lives in (None for an unknown id or a row older than traces)."""
    try:
        key = uuid.UUID(ds_id)
    except ValueError:
        return None
    return await db.fetchval("SELECT traceparent FROM decision_sets WHERE id = $1", key)


async def get_decision_set(db: Conn, ds_id: str, *, project_id: str) -> dict[str, Any]:
    """The decision set, only if it belongs to `project_id` (every read of a request names its project)."""
    row = _row(await db.fetchrow("SELECT * FROM decision_sets WHERE id = $1 AND project_id = $2",
                                 _uuid(ds_id, "decision set"), _uuid(project_id, "project")))
    if row is None:
        raise NotFound(f"decision set {ds_id} not found")
    return row


async def find_project_decision_set(db: Conn, ds_id: str, *, project_id: str) -> dict[str, Any] | None:
    """Like `get_decision_set`, None where the decision set is not one of the project's."""
    return _row(await db.fetchrow("SELECT * FROM decision_sets WHERE id = $1 AND project_id = $2",
                                  uuid.UUID(ds_id), uuid.UUID(project_id)))


async def find_decision_set(db: Conn, ds_id: str) -> dict[str, Any] | None:
    """A decision set by the id a service holds from its own message or row (a step, the sweeper, a
    dead letter, a delivery); never for a request, whose reads go through the project-scoped ones."""
    return _row(await db.fetchrow("SELECT * FROM decision_sets WHERE id = $1", uuid.UUID(ds_id)))


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


WAITING = ("waiting_intake", "waiting_approval", "expiring", "paused_budget")


async def waiting_gates(db: Conn) -> dict[str, Any]:
    """The oldest gate still waiting for a person (since its gate-waiting time), and how many waiting
    gates have already been sent their reminder."""
    row = await db.fetchrow(
        "WITH w AS (SELECT id, project_id, status, gate->>'gate' AS gate, gate_reminded, "
        "coalesce((gate->>'ts')::timestamptz, updated_at) AS since FROM decision_sets WHERE status = ANY($1::text[])) "
        "SELECT (SELECT count(*) FROM w) AS waiting, (SELECT count(*) FROM w WHERE gate_reminded) AS reminded, "
        "o.id, o.project_id, o.status, o.gate, o.since, extract(epoch FROM now() - o.since)::float AS waiting_s "
        "FROM (SELECT 1) one LEFT JOIN (SELECT * FROM w ORDER BY since LIMIT 1) o ON true", list(WAITING))
    oldest = None
    if row["id"] is not None:
        oldest = {"decision_set_id": str(row["id"]), "project_id": str(row["project_id"]), "status": row["status"],
                  "gate": row["gate"], "since": row["since"].isoformat(), "waiting_s": round(row["waiting_s"], 1)}
    return {"waiting": int(row["waiting"]), "reminded": int(row["reminded"]), "oldest": oldest}


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
                              user_id: str | None = None, record_transition: bool = True) -> dict[str, Any]:
    """Set columns and bump `lock_version`, in one statement on the common path. The one way a status changes.

    A new `status` must be a transition the lifecycle allows from the row's current status
    (`amp_contracts.lifecycle`); the condition is part of the UPDATE, so the check and the write
    are atomic, and a refused transition raises `IllegalTransition` (a finished decision set is
    final). A change of status also records a `status-change` event in the same transaction; it
    comes back as `row["transition"]` for the caller to publish with its own events. A caller that
    records events of its own in the same transaction passes `record_transition=False` and records
    the transition, returned unnumbered, first among them (one insert instead of two).

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
                row["transition"] = (  # type: ignore[index]
                    await _record_transition(conn, row, node, run_id, user_id) if record_transition  # type: ignore[arg-type]
                    else status_change_event(row, node, run_id, user_id)[0])  # type: ignore[arg-type]
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


def status_change_event(row: dict[str, Any], node: str, run_id: str | None,
                        user_id: str | None = None) -> tuple[Event, str]:
    """The `status-change` event of an updated row (`previous_status` → `status`), and its event key."""
    change = StatusChange(decision_set_id=row["id"], previous=row["previous_status"], status=row["status"],
                          label=lifecycle.LABELS[Status(row["status"])])
    ev = Event(type="status-change", project_id=row["project_id"], decision_set_id=row["id"],
               run_id=run_id or str(uuid.uuid5(uuid.UUID(row["id"]), "run")), node_name=node or row["stage"] or "",
               data=change.model_dump(mode="json"), user_id=user_id)
    return ev, f"status:{row['id']}:{row['lock_version']}"  # one transition per row version


async def _record_transition(conn: asyncpg.Connection, row: dict[str, Any], node: str, run_id: str | None,
                             user_id: str | None = None) -> Event:
    ev, key = status_change_event(row, node, run_id, user_id)
    return (await insert_events(conn, [ev], key, None))[0]


# --- events ---------------------------------------------------------------------------------

class StepRecordedConcurrently(ConflictError):
    """Another delivery of the same step committed its events first (this transaction is spoiled:
    the caller replays what that one recorded)."""


async def insert_events(conn: asyncpg.Connection, events: list[Event], step_key: str,
                        checkpoint_id: str | None) -> list[Event]:
    """Append a step's events; a replay of the same step returns the rows already there.

    Each event gets the next `number` of its decision set, counted on the decision set's row
    under its row lock, in the writing transaction: two writers of one decision set serialise
    here and commit in number order, so a reader following `number` (an SSE stream, a resume
    with Last-Event-ID) never sees a higher number before a lower one commits; a rolled-back
    writer gives its numbers back. A global sequence would hand out ids that commit out of order.
    Each event keeps the trace it was recorded in (its own `trace_id`, else the active span's).
    """
    if not events:
        return []
    ds_ids = sorted({e.decision_set_id for e in events})
    here = current_trace_id()
    try:
        rows = await conn.fetch(_INSERT_EVENTS, [uuid.UUID(d) for d in ds_ids],
                                [uuid.UUID(e.project_id) for e in events], [uuid.UUID(e.decision_set_id) for e in events],
                                [e.run_id for e in events], [e.node_name for e in events], [e.type for e in events],
                                step_key, checkpoint_id, [e.data for e in events], [e.ts for e in events],
                                [e.user_id for e in events], [e.trace_id or here for e in events])
    except asyncpg.UniqueViolationError as e:
        # The same step committed by another delivery between this statement's snapshot and its
        # lock: the next delivery finds that step recorded and replays it.
        raise StepRecordedConcurrently(f"step {step_key} was recorded concurrently") from e
    locked = {str(r["decision_set_id"]) for r in rows if r["seq"] is None}
    for ds in ds_ids:
        if ds not in locked:
            raise NotFound(f"decision set {ds} not found")
    written = {(str(r["decision_set_id"]), r["node_name"], r["type"], r["seq"]): r for r in rows if r["seq"] is not None}
    out = []
    for i, ev in enumerate(events):
        r = written[(ev.decision_set_id, ev.node_name, ev.type, i)]
        out.append(ev.model_copy(update={"id": r["id"], "ts": r["ts"], "number": r["number"], "trace_id": r["trace_id"]}))
    return out


# One statement, one round trip: lock the decision sets (in id order: one lock order for every
# writer, so no deadlock between two multi-set steps), find what this step recorded before, number
# and insert the rest after each set's count, and move the counts on. Returned: the inserted rows,
# the rows found, and one row per locked decision set (seq NULL) so a missing one is told apart.
_INSERT_EVENTS = """
WITH locked AS (
    SELECT id, event_count FROM decision_sets WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE),
seen AS (
    SELECT id, ts, seq, number, decision_set_id, node_name, type, trace_id FROM events
    WHERE step_key = $7 AND decision_set_id = ANY($1::uuid[])),
fresh AS (
    SELECT u.*, l.event_count + row_number() OVER (PARTITION BY u.d ORDER BY u.o) AS num
    FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $9::jsonb[], $10::timestamptz[],
                $11::text[], $12::text[]) WITH ORDINALITY AS u(p, d, r, n, t, x, ts, usr, tr, o)
    JOIN locked l ON l.id = u.d
    WHERE NOT EXISTS (SELECT 1 FROM seen WHERE seen.decision_set_id = u.d AND seen.node_name = u.n
                      AND seen.type = u.t AND seen.seq = u.o - 1)),
ins AS (
    INSERT INTO events (project_id, decision_set_id, run_id, node_name, type, step_key, seq, checkpoint_id, data, ts,
                        number, user_id, trace_id)
    SELECT p, d, r, n, t, $7, o - 1, $8, x, ts, num, usr, tr FROM fresh ORDER BY o
    RETURNING id, ts, seq, number, decision_set_id, node_name, type, trace_id),
cnt AS (
    UPDATE decision_sets SET event_count = decision_sets.event_count + c.k
    FROM (SELECT d, count(*) AS k FROM fresh GROUP BY d) c WHERE decision_sets.id = c.d)
SELECT * FROM ins
UNION ALL SELECT * FROM seen
UNION ALL SELECT NULL, NULL, NULL, NULL, id, NULL, NULL, NULL FROM locked
"""


async def list_reason_cards(db: Conn, ds_id: str, *, project_id: str) -> list[dict[str, Any]]:
    """Only the Reason Cards of a decision set of `project_id` (what the rationale and the docs are built from)."""
    rows = await db.fetch("SELECT data FROM events WHERE decision_set_id = $1 AND project_id = $2 "
                          "AND type = 'reason-card' ORDER BY number",
                          _uuid(ds_id, "decision set"), _uuid(project_id, "project"))
    return [r["data"] for r in rows]


async def list_events(db: Conn, ds_id: str, *, project_id: str, after: int = 0, limit: int = 10_000) -> list[Event]:
    """A decision set's events after number `after`, in number order (the order they committed in),
    only if the decision set belongs to `project_id` (every read names its project)."""
    rows = await db.fetch(
        "SELECT id, number, project_id, decision_set_id, run_id, node_name, type, data, ts, user_id, trace_id "
        "FROM events "
        "WHERE decision_set_id = $1 AND number > $2 AND project_id = $4 ORDER BY number "
        "LIMIT $3", _uuid(ds_id, "decision set"), after, limit, _uuid(project_id, "project"))
    return [Event.model_validate(_row(r)) for r in rows]


async def list_event_frames(db: Conn, ds_id: str, *, project_id: str, after: int = 0, limit: int = 10_000
                            ) -> list[tuple[int, str, str]]:
    """`list_events` as (number, type, JSON text) ready for an SSE frame: the event's data with its
    ids and time beside it, put together by Postgres. A replay of a long history then decodes,
    validates and re-encodes nothing per event (its data, a Reason Card, is kilobytes of JSON)."""
    rows = await db.fetch(
        "SELECT number, type, ((CASE WHEN jsonb_typeof(data) = 'object' THEN data ELSE '{}'::jsonb END) || "
        "jsonb_build_object('event_id', number, 'project_id', project_id, 'decision_set_id', decision_set_id, "
        "'run_id', run_id, 'node_name', node_name, "
        "'ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
        "'user_id', user_id, 'trace_id', trace_id))::text AS frame "
        "FROM events WHERE decision_set_id = $1 AND number > $2 AND project_id = $4 ORDER BY number LIMIT $3",
        _uuid(ds_id, "decision set"), after, limit, _uuid(project_id, "project"))
    return [(r["number"], r["type"], r["frame"]) for r in rows]


# --- agent runs -----------------------------------------------------------------------------

async def get_run(db: Conn, key: str) -> dict[str, Any] | None:
    """A finished step's record, its `output` whole: the messages it sent and the events it recorded.

    The record names the decision sets of its events (`event_sets`) rather than copying them:
    they are read back from `events` by the step's key, in the order the step made them (`seq`).
    Records written before that keep their copy (`events`)."""
    run = _row(await db.fetchrow("SELECT * FROM agent_runs WHERE idem_key = $1 AND ok", key))
    if run is not None and "events" not in run["output"]:
        run["output"]["events"] = await step_events(db, key, run["output"].get("event_sets", []))
    return run


async def step_events(db: Conn, key: str, ds_ids: list[str]) -> list[dict[str, Any]]:
    """The events a step recorded in these decision sets, in the order it made them."""
    rows = await db.fetch(
        "SELECT id, number, project_id, decision_set_id, run_id, node_name, type, data, ts, user_id, trace_id "
        "FROM events WHERE step_key = $1 AND decision_set_id = ANY($2::uuid[]) ORDER BY seq",
        key, [uuid.UUID(d) for d in ds_ids])
    return [_row(r) for r in rows]  # type: ignore[misc]


async def record_run(conn: asyncpg.Connection, key: str, project_id: str, ds_id: str, service: str, node: str,
                     output: dict, duration_ms: float, outbox_rows: list[tuple[str, str, bytes, str | None]],
                     relay_after_s: float = 0.0) -> list[int] | None:
    """Record a finished step and the outbox rows of what it publishes, in one statement: the ids of
    the rows (in their order), or None when another delivery recorded the step first (then no row
    is added)."""
    recs = await conn.fetch(
        "WITH run AS (INSERT INTO agent_runs (idem_key, project_id, decision_set_id, service, node, ok, output, "
        "duration_ms) VALUES ($1, $2, $3, $4, $5, true, $6, $7) ON CONFLICT (idem_key) DO NOTHING RETURNING 1), "
        "ob AS (INSERT INTO outbox (project_id, decision_set_id, subject, msg_id, body, next_attempt_at) "
        "SELECT $2, d, s, m, b, now() + make_interval(secs => $12) "
        "FROM unnest($8::uuid[], $9::text[], $10::text[], $11::bytea[]) WITH ORDINALITY AS u(d, s, m, b, o), run "
        "ORDER BY o RETURNING id, msg_id) "
        "SELECT id, msg_id FROM ob UNION ALL SELECT NULL, NULL FROM run",
        key, uuid.UUID(project_id), uuid.UUID(ds_id), service, node, output, duration_ms,
        *_outbox_columns(outbox_rows), relay_after_s)
    if not any(r["id"] is None for r in recs):
        return None
    return _ids_in_order(recs, outbox_rows)


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

async def get_idempotent_response(conn: asyncpg.Connection, caller: str, route: str, key: str) -> dict[str, Any] | None:
    """The stored response of a key, unless it has expired (an expired key is free again)."""
    return _row(await conn.fetchrow("SELECT * FROM idempotency_keys WHERE caller = $1 AND route = $2 AND key = $3 "
                                    "AND expires_at > now()", caller, route, key))


async def put_idempotent_response(conn: asyncpg.Connection, caller: str, route: str, key: str, request_hash: str,
                                  status_code: int, response: Any, headers: dict[str, str], ttl_s: float) -> None:
    """Store a key's response in the transaction of the command it answers (an expired row is replaced)."""
    await conn.execute(
        "INSERT INTO idempotency_keys (caller, route, key, request_hash, status_code, response, headers, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8)) "
        "ON CONFLICT (caller, route, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, "
        "status_code = EXCLUDED.status_code, response = EXCLUDED.response, headers = EXCLUDED.headers, "
        "created_at = now(), expires_at = EXCLUDED.expires_at WHERE idempotency_keys.expires_at <= now()",
        caller, route, key, request_hash, status_code, response, headers, ttl_s)


async def prune_idempotency_keys(db: Conn, limit: int = 1000) -> int:
    done = await db.execute("DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys "
                            "WHERE expires_at <= now() LIMIT $1))", limit)
    return int(done.split()[-1])


# --- outbox ---------------------------------------------------------------------------------

async def add_outbox(conn: asyncpg.Connection, project_id: str, subject: str, msg_id: str, body: bytes,
                     decision_set_id: str | None = None, relay_after_s: float = 0.0) -> int:
    """A message to publish once the transaction commits; the relay sends it after `relay_after_s`
    unless the writer has marked it sent by then (the writer publishes it itself, right after commit)."""
    return await conn.fetchval(
        "INSERT INTO outbox (project_id, decision_set_id, subject, msg_id, body, next_attempt_at) "
        "VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING id",
        uuid.UUID(project_id), uuid.UUID(decision_set_id) if decision_set_id else None, subject, msg_id, body,
        relay_after_s)


async def add_outbox_many(conn: asyncpg.Connection, project_id: str,
                          rows: list[tuple[str, str, bytes, str | None]], relay_after_s: float = 0.0) -> list[int]:
    """`add_outbox` for several (subject, message id, body, decision set) rows in one statement; the
    ids come back in the rows' order."""
    if not rows:
        return []
    recs = await conn.fetch(
        "INSERT INTO outbox (project_id, decision_set_id, subject, msg_id, body, next_attempt_at) "
        "SELECT $1, d, s, m, b, now() + make_interval(secs => $6) "
        "FROM unnest($2::uuid[], $3::text[], $4::text[], $5::bytea[]) WITH ORDINALITY AS u(d, s, m, b, o) "
        "ORDER BY o RETURNING id, msg_id",
        uuid.UUID(project_id), *_outbox_columns(rows), relay_after_s)
    return _ids_in_order(recs, rows)


def _outbox_columns(rows: list[tuple[str, str, bytes, str | None]]) -> tuple[list, list, list, list]:
    """(decision set, subject, message id, body) rows as the four arrays the outbox inserts unnest."""
    return ([uuid.UUID(d) if d else None for _, _, _, d in rows], [s for s, _, _, _ in rows],
            [m for _, m, _, _ in rows], [b for _, _, b, _ in rows])


def _ids_in_order(recs: list[asyncpg.Record], rows: list[tuple[str, str, bytes, str | None]]) -> list[int]:
    ids = {r["msg_id"]: r["id"] for r in recs if r["id"] is not None}
    return [ids[m] for _, m, _, _ in rows]


async def outbox_due(db: Conn) -> bool:
    """Whether any unsent row is due (its publish failed, or its writer has not marked it in time)."""
    return bool(await db.fetchval("SELECT EXISTS (SELECT 1 FROM outbox WHERE sent_at IS NULL "
                                  "AND next_attempt_at <= now())"))


async def claim_outbox(conn: asyncpg.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Due unsent rows, locked for this transaction; rows another relay holds are skipped, not waited for."""
    rows = await conn.fetch(
        "SELECT id, subject, msg_id, body, attempts FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= now() "
        "ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", limit)
    return [dict(r) for r in rows]


async def mark_sent(db: Conn, ids: list[int]) -> None:
    await db.execute("UPDATE outbox SET sent_at = now(), last_error = NULL WHERE id = ANY($1::bigint[]) "
                     "AND sent_at IS NULL", ids)


async def mark_unsent(db: Conn, row_id: int, error: str, delay_s: float) -> None:
    await db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = $2, "
                     "next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1", row_id, error[:500], delay_s)


async def prune_outbox(db: Conn, keep_s: float, limit: int = 1000) -> int:
    done = await db.execute("DELETE FROM outbox WHERE id = ANY(ARRAY(SELECT id FROM outbox WHERE sent_at IS NOT NULL "
                            "AND sent_at < now() - make_interval(secs => $1) LIMIT $2))", keep_s, limit)
    return int(done.split()[-1])


async def last_outbox_message(db: Conn, ds_id: str, exclude_prefix: str = "amp.events.") -> dict[str, Any] | None:
    """The newest message written for a decision set that is not one of its event batches: what moves it on."""
    return _row(await db.fetchrow(
        "SELECT id, subject, msg_id, body, sent_at FROM outbox WHERE decision_set_id = $1 AND NOT starts_with(subject, $2) "
        "ORDER BY id DESC LIMIT 1", uuid.UUID(ds_id), exclude_prefix))


# --- dead letters ---------------------------------------------------------------------------

async def add_dead_letter(conn: asyncpg.Connection, service: str, subject: str, node: str, code: str, reason: str,
                          body: bytes, digest: str, project_id: str | None, ds_id: str | None) -> int:
    """Keep a message no step could take; the same message dead-lettered again is one row."""
    return await conn.fetchval(
        "INSERT INTO dead_letters (service, subject, node, code, reason, body, digest, project_id, decision_set_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (service, subject, digest) "
        "DO UPDATE SET reason = EXCLUDED.reason, code = EXCLUDED.code, created_at = now(), replayed_at = NULL "
        "RETURNING id", service, subject, node, code, reason, body, digest,
        uuid.UUID(project_id) if project_id else None, uuid.UUID(ds_id) if ds_id else None)


async def list_dead_letters(db: Conn, limit: int = 100, include_replayed: bool = False,
                            owner_id: str | None = None) -> list[dict[str, Any]]:
    """Dead letters, newest first; with `owner_id`, only those of the projects that user owns."""
    rows = await db.fetch(
        "SELECT id, service, subject, node, code, reason, project_id, decision_set_id, created_at, replayed_at, replays "
        "FROM dead_letters WHERE ($2 OR replayed_at IS NULL) AND ($3::text IS NULL OR project_id IN "
        "(SELECT project_id FROM project_members WHERE user_id = $3 AND role = 'owner')) ORDER BY id DESC LIMIT $1",
        limit, include_replayed, owner_id)
    return [_row(r) for r in rows]  # type: ignore[misc]


async def dead_letter_counts(db: Conn) -> dict[str, int]:
    """Dead letters not yet replayed, per service (the backlog an operator has to triage)."""
    rows = await db.fetch("SELECT service, count(*) AS n FROM dead_letters WHERE replayed_at IS NULL GROUP BY service")
    return {r["service"]: int(r["n"]) for r in rows}


async def get_dead_letter(db: Conn, dl_id: int) -> dict[str, Any]:
    row = _row(await db.fetchrow("SELECT * FROM dead_letters WHERE id = $1", dl_id))
    if row is None:
        raise NotFound(f"dead letter {dl_id} not found")
    return row


async def mark_dead_letter_replayed(conn: asyncpg.Connection, dl_id: int) -> int:
    return await conn.fetchval("UPDATE dead_letters SET replayed_at = now(), replays = replays + 1 WHERE id = $1 "
                               "RETURNING replays", dl_id)


# --- stalled runs ---------------------------------------------------------------------------

async def stalled_decision_sets(db: Conn, after_s: float, limit: int = 50) -> list[dict[str, Any]]:
    """Decision sets in a running status that nothing has written to for `after_s` seconds."""
    rows = await db.fetch(
        "SELECT id, project_id, status, stage, redrives, lock_version, updated_at FROM decision_sets "
        "WHERE status = ANY($1::text[]) AND updated_at < now() - make_interval(secs => $2) "
        "ORDER BY updated_at LIMIT $3", sorted(str(s) for s in lifecycle.RUNNING), after_s, limit)
    return [_row(r) for r in rows]  # type: ignore[misc]


async def count_redrive(conn: asyncpg.Connection, ds_id: str, lock_version: int) -> bool:
    """Claim one re-drive of a stalled decision set (compare-and-set on its lock version: one sweeper wins)."""
    done = await conn.execute("UPDATE decision_sets SET redrives = redrives + 1, lock_version = lock_version + 1, "
                              "updated_at = now() WHERE id = $1 AND lock_version = $2", uuid.UUID(ds_id), lock_version)
    return done.endswith(" 1")


# --- git history (objects by content hash, refs by compare-and-set) ---------------------------

async def git_get_objects(db: Conn, repo: str, shas: list[str]) -> dict[str, tuple[int, bytes]]:
    rows = await db.fetch("SELECT sha, type, data FROM git_objects WHERE repo = $1 AND sha = ANY($2::text[])",
                          repo, shas)
    return {r["sha"]: (r["type"], bytes(r["data"])) for r in rows}


async def git_put_objects(db: Conn, repo: str, objects: dict[str, tuple[int, bytes]]) -> None:
    """Insert objects not stored yet: a row's key is its content's hash, so an existing row is the same."""
    shas = list(objects)
    await db.execute(
        "INSERT INTO git_objects (repo, sha, type, data) "
        "SELECT $1, * FROM unnest($2::text[], $3::smallint[], $4::bytea[]) ON CONFLICT DO NOTHING",
        repo, shas, [objects[s][0] for s in shas], [objects[s][1] for s in shas])


async def git_get_ref(db: Conn, repo: str, name: str) -> str | None:
    return await db.fetchval("SELECT target FROM git_refs WHERE repo = $1 AND name = $2", repo, name)


async def git_list_refs(db: Conn, repo: str) -> dict[str, str]:
    rows = await db.fetch("SELECT name, target FROM git_refs WHERE repo = $1", repo)
    return {r["name"]: r["target"] for r in rows}


async def git_create_ref(db: Conn, repo: str, name: str, target: str) -> bool:
    """Create the ref; False if it exists already (someone else created it first)."""
    return await db.fetchval("INSERT INTO git_refs (repo, name, target) VALUES ($1, $2, $3) "
                             "ON CONFLICT DO NOTHING RETURNING true", repo, name, target) is not None


async def git_move_ref(db: Conn, repo: str, name: str, old: str, new: str) -> bool:
    """Compare-and-set: move the ref to `new` only if it still points at `old`."""
    return await db.fetchval("UPDATE git_refs SET target = $4, updated_at = now() "
                             "WHERE repo = $1 AND name = $2 AND target = $3 RETURNING true",
                             repo, name, old, new) is not None


async def git_set_ref(db: Conn, repo: str, name: str, target: str) -> None:
    await db.execute("INSERT INTO git_refs (repo, name, target) VALUES ($1, $2, $3) ON CONFLICT (repo, name) "
                     "DO UPDATE SET target = EXCLUDED.target, updated_at = now()", repo, name, target)


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} {value} not found") from None
