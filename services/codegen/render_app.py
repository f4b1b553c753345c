"""The Python side of the generated repository: training, serving, pipelines and project files.

The code is static templates; only the domain (features, label, sample data) and which
pipelines exist depend on the plan. Everything renders to ruff-clean, ruff-formatted code.
"""

from __future__ import annotations

import json

from .render_domain import Domain, example_row, sample_csv
from .render_text import fill, template

PY_LINE_LENGTH = 100


def _tuple_lines(items: list[str]) -> str:
    return "\n".join(f"    {json.dumps(i)}," for i in items)


def _request_field(name: str, low: float, high: float, description: str) -> str:
    line = f"    {name}: float = Field(ge={low!r}, le={high!r}, description={json.dumps(description)})"
    if len(line) <= PY_LINE_LENGTH:
        return line
    return (f"    {name}: float = Field(\n        ge={low!r}, le={high!r}, description={json.dumps(description)}\n    )")


def render_python(domain: Domain, caps: set[str], version: str) -> dict[str, str]:
    """Every generated Python module, test and the sample data."""
    names = [f.name for f in domain.features]
    schema = fill(
        "app/services/common/schema.py.tmpl",
        domain=json.dumps(domain.title), label=json.dumps(domain.label), version=json.dumps(version),
        features=_tuple_lines(names),
        descriptions="\n".join(f"    {json.dumps(f.name)}: {json.dumps(f.description)}," for f in domain.features),
        ranges="\n".join(f"    {json.dumps(f.name)}: ({f.low!r}, {f.high!r})," for f in domain.features),
    )
    fields = "\n".join(_request_field(f.name, f.low, f.high, f.description) for f in domain.features)
    example = "\n".join(f"    {json.dumps(k)}: {v!r}," for k, v in example_row(domain).items())
    files = {
        "services/__init__.py": '"""Services of the ML system: training, serving and shared model code."""\n',
        "services/common/__init__.py": '"""Code shared by training, serving and the pipelines."""\n',
        "services/common/model.py": template("app/services/common/model.py.tmpl"),
        "services/common/schema.py": schema,
        "services/training/__init__.py": '"""Model training."""\n',
        "services/training/train.py": template("app/services/training/train.py.tmpl"),
        "services/training/tests/test_train.py": template("app/services/training/tests/test_train.py.tmpl"),
        "services/serving/__init__.py": '"""Online inference API."""\n',
        "services/serving/app.py": fill("app/services/serving/app.py.tmpl", request_fields=fields),
        "services/serving/tests/test_app.py": fill("app/services/serving/tests/test_app.py.tmpl", example=example),
        "services/serving/Dockerfile": template("app/services/serving/Dockerfile"),
        "data/sample.csv": sample_csv(domain),
    }
    pipelines = []
    if "serving_batch" in caps:
        pipelines.append("batch_score")
    if caps & {"stream_processing", "ingest_stream"}:
        pipelines.append("stream_consumer")
    if pipelines:
        files["pipelines/__init__.py"] = '"""Batch and stream scoring entry points."""\n'
    for name in pipelines:
        files[f"pipelines/{name}.py"] = template(f"app/pipelines/{name}.py.tmpl")
        files[f"pipelines/tests/test_{name}.py"] = template(f"app/pipelines/tests/test_{name}.py.tmpl")
    if "feature_store" in caps:
        files["features/__init__.py"] = '"""Feature definitions shared with the feature store."""\n'
        files["features/definitions.py"] = fill("app/features/definitions.py.tmpl", ttl_days=1 if "ingest_stream" in caps else 7)
    return files


def render_project(slug: str, title: str) -> dict[str, str]:
    """Root project files: dependencies and tool config, Makefile, ignores, hooks."""
    return {
        "pyproject.toml": fill("app/pyproject.toml.tmpl", slug=slug, title=json.dumps(title)[1:-1],
                               line_length=PY_LINE_LENGTH),
        "Makefile": template("app/Makefile"),
        ".dockerignore": template("app/dockerignore"),
        ".gitignore": template("app/gitignore"),
        ".pre-commit-config.yaml": template("app/pre-commit-config.yaml"),
    }
