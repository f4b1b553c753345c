"""The REST routes: thin handlers over commands, queries and the event stream."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from amp_contracts import BudgetExceeded, ConflictError, Forbidden, NotFound, ValidationFailed, api
from amp_domain.policy.packs import validate_rule_pack
from amp_domain.redaction import redact_text
from amp_domain.requirements.coverage import check_coverage
from amp_domain.requirements.extraction import extract
from amp_domain.requirements.questions import next_questions
from amp_runtime import store
from amp_runtime.gitstore import RefMoved, record_user_tree, unified_diff, user_tree_head
from amp_runtime.providers import check_budget, estimates_vs_actuals, set_budget
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from . import commands, views
from .auth import Access, Principal, caller, on_decision_set, on_project
from .idempotency import command, connection
from .openapi import Diff, EventStream, Zip, errors, idempotency_key, typed
from .review import review
from .schemas import (
    AnswersSubmit,
    Approve,
    BudgetPut,
    ConstraintsSubmit,
    PoliciesPut,
    Preview,
    ProjectCreate,
    ProjectPatch,
)
from .sse import ended_before, stream_response
from .uploads import read_zip
from .wizard import wizard

router = APIRouter()
MAX_EVENT_NUMBER = 2**63 - 1  # a Postgres bigint: anything larger could not be an event's number


def _deps(request: Request):
    return request.app.state.deps


@router.get("/healthz", tags=["ops"], operation_id="getHealth", summary="Liveness and the bus connection",
            responses=errors(503), **typed(api.Health))
async def healthz(request: Request) -> dict[str, Any]:
    """Answers within the pool's acquire timeout, whatever the load: 503 when no connection frees up."""
    d = _deps(request)
    async with connection(d.pool, min(2.0, d.settings.db_acquire_timeout_s)) as conn:
        await conn.fetchval("SELECT 1")
    return {"status": "ok", "nats": d.nc.is_connected}


@router.post("/projects", status_code=201, tags=["projects"], operation_id="createProject",
             summary="Create a project (its creator is its owner)", dependencies=[Depends(idempotency_key)],
             responses=errors(403), **typed(api.Project))
async def create_project(request: Request, body: ProjectCreate, who: Principal = Depends(caller)) -> JSONResponse:
    """A new project; its creator is its owner."""
    if who.api_key_id is not None:
        raise Forbidden("an API key acts on its own project only; sign in as a user to create projects")
    return await command(request, body.model_dump(), 201, lambda u: _created_project(u, body, who))


async def _created_project(u, body: ProjectCreate, who: Principal) -> dict[str, Any]:
    row = await commands.create_project(u, body.name, body.description, who.sub, body.four_eyes)
    return views.project({**row, "role": "owner"}, [])


@router.get("/projects", tags=["projects"], operation_id="listProjects", summary="The caller's projects",
            **typed(api.ProjectList))
async def list_projects(request: Request, limit: int = Query(100, ge=1, le=1000),
                        who: Principal = Depends(caller)) -> dict[str, Any]:
    """The caller's projects (those they are a member of), with their role on each."""
    rows = await store.list_projects(_deps(request).pool, limit, user_id=None if who.api_key_id else who.sub,
                                     project_id=who.project_id)
    if who.api_key_id:
        rows = [{**r, "role": who.role} for r in rows]
    return jsonable_encoder({"projects": [views.project(r) for r in rows]})


@router.get("/projects/{project_id}", tags=["projects"], operation_id="getProject",
            summary="A project with its versions", **typed(api.Project))
async def get_project(request: Request, project_id: str, access: Access = on_project("read")) -> dict[str, Any]:
    d = _deps(request)
    row = await store.get_project(d.pool, project_id)
    return jsonable_encoder(views.project({**row, "role": access.role},
                                          await store.list_decision_sets(d.pool, project_id)))


@router.patch("/projects/{project_id}", tags=["projects"], operation_id="updateProject",
              summary="Change a project's settings (owner)", **typed(api.Project))
async def patch_project(request: Request, project_id: str, body: ProjectPatch,
                        access: Access = on_project("manage")) -> dict[str, Any]:
    """Project settings (owner): `four_eyes` keeps whoever submitted a version from approving it."""
    d = _deps(request)
    if body.four_eyes is not None:
        await store.set_project_settings(d.pool, project_id, body.four_eyes)
    return await get_project(request, project_id, access)


@router.put("/projects/{project_id}/policies", tags=["projects"], operation_id="putProjectPolicies",
            summary="Set the project's rule packs and waivers (owner)", **typed(api.Policies))
async def put_policies(request: Request, project_id: str, body: PoliciesPut,
                       access: Access = on_project("policies")) -> dict[str, Any]:
    """The project's rule packs and waivers (owner); each waiver records the caller as its grantor."""
    d = _deps(request)
    rules = validate_rule_pack(body.rules)
    doc = {"rules": rules, "waivers": [{**w.model_dump(mode="json"), "by": access.user_id,
                                        "reason": redact_text(w.reason)} for w in body.waivers]}
    await store.set_project_policies(d.pool, project_id, doc)
    return doc


@router.post("/projects/{project_id}/constraints", status_code=202, tags=["decision sets"],
             operation_id="submitConstraints", summary="Start a new version from requirements",
             dependencies=[Depends(idempotency_key)], **typed(api.Submitted))
async def submit_constraints(request: Request, project_id: str, body: ConstraintsSubmit,
                             access: Access = on_project("submit")) -> JSONResponse:
    """Start a new decision-set version from requirements text and/or structured constraints."""
    return await command(request, {"project": project_id, **body.model_dump()}, 202,
                         lambda u: commands.submit_constraints(u, project_id, body, access.user_id))


@router.get("/decision-sets/{ds_id}", tags=["decision sets"], operation_id="getDecisionSet",
            summary="A decision set (one version) with its review", **typed(api.DecisionSet))
async def get_decision_set(request: Request, ds_id: str, access: Access = on_decision_set("read")) -> dict[str, Any]:
    pool = _deps(request).pool
    row = await store.get_decision_set(pool, ds_id, project_id=access.project_id)
    parent = (await store.find_project_decision_set(pool, row["parent_id"], project_id=access.project_id)
              if row.get("parent_id") else None)
    return jsonable_encoder({**views.decision_set(row), "review": review(row, parent)})


@router.get("/decision-sets/{ds_id}/events", tags=["decision sets"], operation_id="listEvents",
            summary="A page of the decision set's events", **typed(api.EventsPage))
async def get_events(request: Request, ds_id: str, after: int = Query(0, ge=0, le=MAX_EVENT_NUMBER),
                     limit: int = Query(1000, ge=1, le=10_000),
                     access: Access = on_decision_set("read")) -> dict[str, Any]:
    d = _deps(request)
    events = await store.list_events(d.pool, ds_id, project_id=access.project_id, after=after, limit=limit)
    return jsonable_encoder({"decision_set_id": ds_id, "events": [e.model_dump(mode="json") for e in events]})


@router.post("/decision-sets/{ds_id}/answers", status_code=202, tags=["decision sets"], operation_id="answerQuestions",
             summary="Answer the intake questions", dependencies=[Depends(idempotency_key)], responses=errors(409),
             **typed(api.Accepted))
async def post_answers(request: Request, ds_id: str, body: AnswersSubmit,
                       access: Access = on_decision_set("submit")) -> JSONResponse:
    """Answer the intake questions of a `gate-waiting {gate: intake}` event."""
    return await command(request, {"ds": ds_id, **body.model_dump()}, 202,
                         lambda u: commands.answer(u, ds_id, body, access))


@router.post("/decision-sets/{ds_id}/approve", status_code=202, tags=["decision sets"], operation_id="decideGate",
             summary="Approve, reject or request changes at the approval gate",
             dependencies=[Depends(idempotency_key)], responses=errors(409), **typed(api.Accepted))
async def post_approve(request: Request, ds_id: str, body: Approve,
                       access: Access = on_decision_set("approve")) -> JSONResponse:
    """Decide the pre-codegen gate: approved, rejected or changes_requested (with a comment).

    The decider (and each waiver's grantor) is the caller; a `by` in the body is ignored.
    """
    return await command(request, {"ds": ds_id, **body.model_dump(mode="json")}, 202,
                         lambda u: commands.approve(u, ds_id, body, access))


@router.post("/decision-sets/{ds_id}/resume", status_code=202, tags=["decision sets"], operation_id="resumeRun",
             summary="Resume a run paused by its budget or stopped after errors",
             dependencies=[Depends(idempotency_key)], responses=errors(402, 409), **typed(api.Accepted))
async def post_resume(request: Request, ds_id: str, access: Access = on_decision_set("resume")) -> JSONResponse:
    """Continue a run paused by the project's LLM budget (raise the budget first), or stopped after
    repeated errors (`stalled`: the step runs again)."""
    return await command(request, {"ds": ds_id, "resume": True}, 202, lambda u: commands.resume(u, ds_id, access))


@router.put("/projects/{project_id}/llm-budget", tags=["projects"], operation_id="putLlmBudget",
            summary="Set or remove the project's LLM budget", **typed(api.LlmUsage))
async def put_llm_budget(request: Request, project_id: str, body: BudgetPut,
                         access: Access = on_project("budget")) -> dict[str, Any]:
    """Set (or with null remove) the project's LLM budget in USD: a warning at 80 %, a pause at 100 %."""
    d = _deps(request)
    await store.get_project(d.pool, project_id)
    await set_budget(d.pool, project_id, body.limit_usd)
    return await llm_usage(request, project_id, access)


@router.get("/projects/{project_id}/llm-usage", tags=["projects"], operation_id="getLlmUsage",
            summary="The project's LLM spend against its budget", **typed(api.LlmUsage))
async def llm_usage(request: Request, project_id: str, access: Access = on_project("read")) -> dict[str, Any]:
    """Tokens and USD the project's model calls used, by node; per version, the pre-run estimate beside the
    spend; and where the project stands against its budget."""

    d = _deps(request)
    await store.get_project(d.pool, project_id)
    rows = await d.pool.fetch(
        "SELECT node, provider, model, count(*) AS calls, sum(input_tokens) AS input_tokens, "
        "sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens, "
        "sum(cache_write_tokens) AS cache_write_tokens, sum(usd)::float AS usd FROM llm_usage "
        "WHERE project_id = $1 GROUP BY node, provider, model ORDER BY node", uuid.UUID(project_id))
    try:
        status = (await check_budget(d.pool, project_id)).model_dump(mode="json")
    except BudgetExceeded as e:
        status = {"level": "exceeded", "message": e.message, **((e.details or [{}])[0])}
    return jsonable_encoder({"project_id": project_id, "budget": status, "by_node": [dict(r) for r in rows],
                             "by_version": await estimates_vs_actuals(d.pool, project_id)})


@router.get("/streams/{ds_id}", tags=["decision sets"], operation_id="streamEvents",
            summary="The decision set's events as Server-Sent Events", response_class=EventStream,
            responses={200: {"description": "`id:` the event's number, `event:` its type, `data:` the event as "
                                            "JSON; `run-complete` ends the stream; `ping` events keep it open.",
                             "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                       204: {"description": "The stream has ended before `Last-Event-ID`: nothing follows (an "
                                            "EventSource stops reconnecting on 204)."},
                       **errors(422, 429)})
async def stream(request: Request, ds_id: str, last_event_id: str | None = Header(None),
                 after: int | None = Query(None, ge=0, le=MAX_EVENT_NUMBER), access: Access = on_decision_set("read")):
    """The decision set's events as SSE; the web page's session cookie is accepted here too."""
    d = _deps(request)
    try:
        last = int(last_event_id.strip()) if last_event_id else (after or 0)
    except ValueError:
        raise ValidationFailed("Last-Event-ID must be an event number (an integer)") from None
    if not 0 <= last <= MAX_EVENT_NUMBER:
        raise ValidationFailed(f"Last-Event-ID must be between 0 and {MAX_EVENT_NUMBER}")
    if last and await ended_before(d.pool, ds_id, last, project_id=access.project_id):
        return Response(status_code=204)
    slots = request.app.state.auth.streams
    slots.take(access.user_id)
    return stream_response(d.pool, d.extras["hub"], ds_id, last, project_id=access.project_id,
                           max_duration_s=d.settings.sse_max_duration_s, on_close=lambda: slots.give_back(access.user_id))


@router.get("/decision-sets/{ds_id}/diff", tags=["decision sets"], operation_id="getDiff",
            summary="The generated repository's unified diff against another version",
            response_class=Diff, response_model=None,
            responses={200: {"description": "The unified diff as text (`format=text`), or with its summary as JSON "
                                            "(`format=json`).",
                             "content": {"text/x-diff": {"schema": {"type": "string"}},
                                         "application/json": {"schema": {"$ref": "#/components/schemas/DiffDocument"}}}}})
async def get_diff(request: Request, ds_id: str, against: str | None = None,
                   format: str = Query("text", pattern="^(text|json)$"),
                   access: Access = on_decision_set("read")) -> Response:
    """The unified diff of the generated repository against the parent version (or `against`, of the same project)."""
    d = _deps(request)
    ds = await store.get_decision_set(d.pool, ds_id, project_id=access.project_id)
    if not ds.get("git_commit"):
        raise NotFound(f"decision set {ds_id} has no generated repository yet")
    other_id = against or ds.get("parent_id")
    other = await store.get_decision_set(d.pool, other_id, project_id=access.project_id) if other_id else None
    text = await unified_diff(d.git.repo(ds["project_id"]), other.get("git_commit") if other else None,
                              ds["git_commit"])
    if format == "json":
        return JSONResponse(jsonable_encoder({"decision_set_id": ds_id, "against": other_id, "summary": ds.get("diff"),
                                              "unified": text}))
    return PlainTextResponse(text, media_type="text/x-diff")


@router.get("/decision-sets/{ds_id}/artifact", tags=["decision sets"], operation_id="getArtifact",
            summary="The generated repository as a zip", response_class=Zip, response_model=None,
            responses={200: {"description": "The zip.",
                             "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                       307: {"description": "A time-boxed presigned URL of the zip (artifacts on S3).",
                             "headers": {"Location": {"schema": {"type": "string"}}}}})
async def get_artifact(request: Request, ds_id: str, access: Access = on_decision_set("read")) -> Response:
    """The generated repository as a zip: the bytes, or with S3 a redirect to a presigned URL of them."""
    d = _deps(request)
    ds = await store.get_decision_set(d.pool, ds_id, project_id=access.project_id)
    key = ds.get("artifact_key")
    if not key:
        raise NotFound(f"decision set {ds_id} has no artifact yet (status {ds['status']})")
    if not await d.artifacts.exists(key):
        raise NotFound(f"the artifact of decision set {ds_id} is no longer stored "
                       "(the artifact bucket's lifecycle rule expires old zips)")
    filename = f"decision-set-v{ds['version']}-{ds_id[:8]}.zip"
    url = await d.artifacts.download_url(key, filename, d.settings.artifact_url_ttl_s)
    if url:
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    data = await d.artifacts.get(key)
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/projects/{project_id}/repo", status_code=201, tags=["projects"], operation_id="uploadRepository",
             summary="Upload an edited repository (a zip) for the next versions to merge",
             responses=errors(409, 422), **typed(api.RepoUpload),
             openapi_extra={"requestBody": {"required": True, "description": "The repository as a zip archive "
                                            "(at most 20 MiB; text files are kept, binaries left out).",
                                            "content": {"application/zip": {"schema": {"type": "string",
                                                                                       "format": "binary"}}}}})
async def push_repo(request: Request, project_id: str, base: str | None = Query(None, description=
                    "the decision set whose repository was edited (default: the latest completed one)"),
                    if_match: str | None = Header(None, description=
                    "the upload (commit) these edits replace, from a previous answer; `none` for the first one"),
                    access: Access = on_project("submit")) -> JSONResponse:
    """Upload an edited repository (a zip); the next versions merge these edits into what they generate.

    Uploads to one project move the user-tree ref by compare-and-set, against `If-Match` when
    given (the upload the client last saw), else against the ref as it was when this request
    began: of two racing uploads one wins, the other gets 409 and can upload again on top of it.
    """

    d = _deps(request)
    await store.get_project(d.pool, project_id)
    repo = d.git.repo(project_id)
    seen = await user_tree_head(repo)
    if if_match is not None:
        wanted = if_match.strip().strip('"')
        expected = None if wanted.lower() == "none" else wanted
        if expected != seen:
            raise ConflictError(f"the latest upload to project {project_id} is {seen or 'none'}, not {wanted}; "
                                "fetch it and upload again on top of it")
    if base:
        ds = await store.get_decision_set(d.pool, base, project_id=project_id)
    else:
        done = [r for r in await store.list_decision_sets(d.pool, project_id) if r["status"] == "completed"]
        if not done:
            raise NotFound(f"project {project_id} has no completed decision set to base the edits on")
        ds = await store.get_decision_set(d.pool, done[-1]["id"], project_id=project_id)
    if ds["project_id"] != project_id or not ds.get("git_commit"):
        raise ValidationFailed(f"decision set {ds['id']} has no generated repository of this project")
    files = await asyncio.to_thread(read_zip, await request.body())
    try:
        commit = await record_user_tree(repo, files, ds["git_commit"], ds["id"], expected=seen)
    except RefMoved as exc:
        raise ConflictError(f"another upload to project {project_id} landed first (now {exc.actual}); "
                       "upload again to replace it") from None
    return JSONResponse({"project_id": project_id, "commit": commit, "base_decision_set_id": ds["id"],
                         "files": len(files)}, status_code=201)


@router.get("/intake/schema", tags=["intake"], operation_id="getIntakeSchema",
            summary="The Guided Setup wizard's fields", **typed(api.IntakeSchema))
async def intake_schema(who: Principal = Depends(caller)) -> dict[str, Any]:
    """The Guided Setup wizard: fields, types, options, order and help, from the contracts' JSON Schema."""
    return wizard()


@router.post("/intake/preview", tags=["intake"], operation_id="previewIntake",
             summary="What a requirement text states, without starting a run", **typed(api.IntakePreview))
async def intake_preview(body: Preview, who: Principal = Depends(caller)) -> dict[str, Any]:
    """Extraction and coverage of a text without starting a run (the live coverage meter)."""
    found = extract(body.text)
    cov = check_coverage(found.constraints)
    return {"constraints": found.constraints.stated(), "coverage": cov.model_dump(mode="json"),
            "spans": [s.model_dump(mode="json") for s in found.spans],
            "questions": [q.model_dump(mode="json") for q in next_questions(found.constraints, cov)]}


