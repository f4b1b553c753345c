"""The Guided Setup wizard, derived from the ConstraintSchema's JSON Schema (one source of truth)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from amp_contracts import ConstraintSchema

#: Wizard order: what a policy needs first, then what shapes the plan, then preferences.
ORDER = ("cloud", "regions", "data_residency", "data_classification", "compliance", "workload_types", "budget_monthly_usd",
         "sla_latency_ms", "throughput_rps", "request_rps", "availability_target", "deployment_pref", "training_cadence", "scoring_cadence", "gpu",
         "data_volume_gb", "team_languages", "existing_stack", "storage_prefs", "observability_prefs")
SUGGESTIONS = {
    "regions": ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "europe-west4", "us-central1", "westeurope",
                "northeurope", "eastus"],
    "team_languages": ["python", "sql", "go", "java", "scala", "typescript", "r", "rust", "c++"],
    "existing_stack": ["kafka", "kubernetes", "mlflow", "airflow", "snowflake", "bigquery", "databricks", "dbt",
                       "terraform", "github-actions", "prometheus", "grafana", "datadog"],
}
STEPS = {"cloud": "Where", "regions": "Where", "data_residency": "Where", "data_classification": "Data", "compliance": "Data",
         "workload_types": "Workload", "budget_monthly_usd": "Budget", "sla_latency_ms": "SLOs",
         "throughput_rps": "SLOs", "request_rps": "SLOs", "availability_target": "SLOs"}


def _options(prop: dict[str, Any]) -> tuple[str, list[Any]]:
    for variant in prop.get("anyOf", [prop]):
        if "enum" in variant:
            return "choice", variant["enum"]
        if variant.get("type") == "array":
            items = variant.get("items", {})
            return "multi", items.get("enum", [])
        if variant.get("type") in ("number", "integer"):
            return "number", []
        if variant.get("type") == "boolean":
            return "boolean", []
    return "text", []


@lru_cache(maxsize=1)
def wizard() -> dict[str, Any]:
    schema = ConstraintSchema.model_json_schema()
    props = schema["properties"]
    fields = []
    for name in ORDER:
        prop = props[name]
        kind, options = _options(prop)
        fields.append({"name": name, "title": prop.get("title", name), "kind": kind, "options": options,
                       "suggestions": SUGGESTIONS.get(name, []), "help": prop.get("description", ""),
                       "step": STEPS.get(name, "Preferences"),
                       "required": name in ("cloud", "regions", "data_classification", "workload_types",
                                            "budget_monthly_usd")})
    return {"fields": fields, "steps": ["Where", "Data", "Workload", "Budget", "SLOs", "Preferences"],
            "schema": schema}
