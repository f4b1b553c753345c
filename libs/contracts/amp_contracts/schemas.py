"""Export the JSON Schema of every bus message and API body, for subscribers in other languages."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from .bus import PAYLOADS, envelope_type
from .constraints import ConstraintSchema
from .cost import CostEstimate
from .diff import DiffSummary
from .errors import ErrorResponse
from .events import Event, EventBatch, GateWaiting, RunComplete, RunError
from .policy import PolicyResults
from .reason import ReasonCard
from .webhooks import WebhookPayload

DOCUMENTS: dict[str, type[BaseModel]] = {
    "ConstraintSchema": ConstraintSchema, "ReasonCard": ReasonCard, "PolicyResults": PolicyResults,
    "CostEstimate": CostEstimate, "DiffSummary": DiffSummary, "ErrorResponse": ErrorResponse,
    "Event": Event, "EventBatch": EventBatch, "GateWaiting": GateWaiting, "RunError": RunError, "RunComplete": RunComplete,
    "WebhookPayload": WebhookPayload,
}


def all_schemas() -> dict[str, dict]:
    out = {f"subject/{subject}": envelope_type(subject).model_json_schema() for subject in PAYLOADS}
    out.update({f"model/{name}": model.model_json_schema() for name, model in DOCUMENTS.items()})
    return out


def write_schemas(directory: str | Path) -> list[Path]:
    """Write one `<name>.schema.json` per message; returns the paths written."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in sorted(all_schemas().items()):
        path = root / (name.replace("/", "__") + ".schema.json")
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":  # python -m amp_contracts.schemas DIR
    import sys

    for p in write_schemas(sys.argv[1] if len(sys.argv) > 1 else "schemas"):
        print(p)
