"""Who may do what on a project: the roles and the actions each allows.

One table, read by the gateway for every project-scoped route. A non-member of a project gets
404 (its existence is not revealed); a member without the role an action needs gets 403.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["owner", "architect", "reviewer", "finops", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "architect", "reviewer", "finops", "viewer")

Action = Literal["read", "submit", "approve", "policies", "budget", "resume", "manage"]

#: The roles each action allows. Everyone on the project reads everything of it.
ALLOWED: dict[Action, frozenset[Role]] = {
    "read": frozenset(ROLES),
    # constraints, answers to intake questions, an edited repository
    "submit": frozenset({"owner", "architect"}),
    # approve, reject, request changes at the gate
    "approve": frozenset({"owner", "reviewer"}),
    # rule packs and waivers
    "policies": frozenset({"owner"}),
    # the project's LLM budget
    "budget": frozenset({"owner", "finops"}),
    # continuing a run paused by the budget: whoever may raise the budget or start runs
    "resume": frozenset({"owner", "architect", "finops"}),
    # members, API keys, webhooks, project settings
    "manage": frozenset({"owner"}),
}

DESCRIPTIONS: dict[Action, str] = {
    "read": "read the project, its versions, events, diffs and artifacts",
    "submit": "submit requirements, answer intake questions, upload an edited repository",
    "approve": "approve, reject or request changes at the approval gate",
    "policies": "set the project's rule packs and waivers",
    "budget": "set the project's LLM budget",
    "resume": "resume a run paused by the LLM budget",
    "manage": "manage members, API keys, webhooks and project settings",
}


def can(role: str | None, action: Action) -> bool:
    return role is not None and role in ALLOWED[action]


def four_eyes_refuses(enabled: bool, submitted_by: str | None, approver: str) -> bool:
    """With four eyes on, whoever submitted a version cannot decide its gate (an unknown
    submitter, from before identities were recorded, does not block)."""
    return enabled and submitted_by is not None and submitted_by == approver
