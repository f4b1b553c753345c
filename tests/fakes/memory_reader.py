"""An in-memory double of what handlers read (`amp_runtime.reader.Reader`), for handler tests.

Only reads: what a step writes goes through the step protocol, which the integration tests run
against the real database and bus.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from amp_contracts import NotFound


@dataclass
class MemoryReader:
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    decision_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    cards: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add_project(self, name: str = "fraud-scoring", **columns: Any) -> str:
        pid = str(uuid.uuid4())
        self.projects[pid] = {"id": pid, "name": name, "description": "", "policies": {}, **columns}
        return pid

    def add_decision_set(self, project_id: str, parent_id: str | None = None, **columns: Any) -> str:
        ds = str(uuid.uuid4())
        version = 1 + sum(1 for d in self.decision_sets.values() if d["project_id"] == project_id)
        self.decision_sets[ds] = {"id": ds, "project_id": project_id, "version": version, "parent_id": parent_id,
                                  "status": "intake", "stage": "intake", "requirements": "", "input_constraints": {},
                                  "cost": None, "gate_expires_at": None, **columns}
        return ds

    async def project(self, project_id: str) -> dict[str, Any]:
        if project_id not in self.projects:
            raise NotFound(f"project {project_id} not found")
        return self.projects[project_id]

    async def decision_set(self, ds_id: str, *, project_id: str) -> dict[str, Any]:
        if ds_id not in self.decision_sets or self.decision_sets[ds_id]["project_id"] != project_id:
            raise NotFound(f"decision set {ds_id} not found")
        return self.decision_sets[ds_id]

    async def find_decision_set(self, ds_id: str) -> dict[str, Any] | None:
        return self.decision_sets.get(ds_id)

    async def parent_cost(self, ds_id: str) -> dict[str, Any] | None:
        parent = self.decision_sets.get(self.decision_sets[ds_id].get("parent_id") or "")
        return parent.get("cost") if parent else None

    async def reason_cards(self, ds_id: str, *, project_id: str) -> list[dict[str, Any]]:
        if ds_id in self.decision_sets and self.decision_sets[ds_id]["project_id"] != project_id:
            return []
        return list(self.cards.get(ds_id, []))
