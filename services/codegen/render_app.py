"""The Python side of the generated repository: training, serving, drift, pipelines and project files.

The code is static templates; the domain (task, features, label, sample data, split, metrics and
gate thresholds), the cloud's storage SDK and which pipelines exist depend on the plan and the
requirement. Everything renders to ruff-clean, ruff-formatted code.
"""

from __future__ import annotations

import json

from .render_domain import LOWER_IS_BETTER, Domain, example_row, sample_csv
from .render_text import fill, template

PY_LINE_LENGTH = 100

#: The SDK each cloud's object store needs (services.common.storage imports it lazily).
CLOUD_SDK: dict[str, tuple[str, ...]] = {
    "aws": ("boto3>=1.34",),
    "gcp": ("google-cloud-storage>=2.16",),
    "azure": ("azure-storage-blob>=12.19", "azure-identity>=1.16"),
}

#: Static modules and tests, copied as they are.
_STATIC = (
    "services/common/model.py", "services/common/storage.py", "services/common/registry.py",
    "services/common/tests/test_storage.py",
    "services/training/data.py", "services/training/metrics.py", "services/training/train.py",
    "services/training/promote.py",
    "services/training/tests/test_train.py", "services/training/tests/test_data.py",
    "services/training/tests/test_metrics.py",
    "services/drift/stats.py", "services/drift/job.py", "services/drift/tests/test_drift.py",
)
_PACKAGES = {
    "services": "Services of the ML system: training, serving, drift and shared model code.",
    "services/common": "Code shared by training, serving, the drift job and the pipelines.",
    "services/training": "Model training: data, split, metrics, evaluation gate and registration.",
    "services/serving": "Online inference API.",
    "services/drift": "Feature drift against the approved model's training data.",
}


def _tuple_lines(items: list[str]) -> str:
    return "\n".join(f"    {json.dumps(i)}," for i in items)


def _request_field(name: str, low: float, high: float, description: str) -> str:
    line = f"    {name}: float = Field(ge={low!r}, le={high!r}, description={json.dumps(description)})"
    if len(line) <= PY_LINE_LENGTH:
        return line
    inner = f"        ge={low!r}, le={high!r}, description={json.dumps(description)}"
    if len(inner) <= PY_LINE_LENGTH:
        return f"    {name}: float = Field(\n{inner}\n    )"
    return (f"    {name}: float = Field(\n        ge={low!r},\n        le={high!r},\n"
            f"        description={json.dumps(description)},\n    )")


def training_config(domain: Domain) -> str:
    """config/training.toml: the split, the gate's thresholds, the decision point and drift limits."""
    gate = "\n".join(f"{metric} = {{ {'max' if metric in LOWER_IS_BETTER else 'min'} = {value!r} }}"
                     for metric, value in domain.gate)
    decision = (f"\n[decision]\n# The decision threshold is set where this share of the holdout's negatives "
                f"would be flagged.\ntarget_fpr = {domain.target_fpr!r}\n" if domain.task == "binary" else "")
    return (
        f"# Training and evaluation of the {domain.title} model, reviewed like code.\n"
        f"# Metrics reported: {', '.join(domain.metrics)}.\n\n"
        f"[data]\n# Rows that cannot be trained on (a feature that is not a number, a missing or unknown\n"
        f"# label) are set aside; above this share of the rows the run fails and trains nothing.\n"
        f"max_rejected_fraction = 0.01\n\n"
        f"[split]\n# {domain.split_why}\nstrategy = {json.dumps(domain.split)}\nholdout_fraction = 0.2\n\n"
        f"[gate]\n# A run whose holdout metrics miss any of these fails and registers nothing.\n{gate}\n"
        f"{decision}\n"
        f"[drift]\n# The drift job flags a feature whose PSI or KS distance to the training data exceeds these.\n"
        f"bins = 10\npsi_alert = 0.2\nks_alert = 0.2\n"
    )


#: Dockerfile lines of an adapter a platform needs to run the serving image's web server.
ADAPTERS = {
    "": "",
    "lambda_web_adapter": (
        "\n# Lambda runs this web server through the Lambda Web Adapter extension: it forwards each\n"
        "# invocation to port 8080 once /healthz answers (outside Lambda the extension is inert).\n"
        "COPY --from=public.ecr.aws/awsguru/aws-lambda-adapter:0.8.4 /lambda-adapter /opt/extensions/lambda-adapter\n"
        "ENV AWS_LWA_PORT=8080 AWS_LWA_READINESS_CHECK_PATH=/healthz\n"),
    "sagemaker": (
        "\n# SageMaker starts the container as `<image> serve` and asks /ping and /invocations on 8080\n"
        "# (services/serving/sagemaker.py maps them onto /healthz and /predict).\n"
        "RUN printf '#!/bin/sh\\nexec uvicorn services.serving.sagemaker:app --host 0.0.0.0 --port 8080\\n' \\\n"
        "    > /usr/local/bin/serve && chmod 755 /usr/local/bin/serve\n"),
}


def _pipelines(caps: set[str], cloud: str, failed_queue: bool = False) -> list[str]:
    """The batch and stream entry points the plan runs (as jobs from the serving image).

    Ingestion is code of ours on AWS (its Glue and Batch jobs run it) and Google Cloud (a Cloud
    Run job from this image); Azure's Data Factory copies with its own activities.
    `failed_queue`: the infrastructure records the stream batches its consumer failed on a queue,
    which `replay_failed` scores again.
    """
    return [name for name, needed in (("batch_score", "serving_batch" in caps),
                                      ("stream_consumer", bool(caps & {"stream_processing", "ingest_stream"})),
                                      ("replay_failed", failed_queue),
                                      ("ingest", "ingest_batch" in caps and cloud in ("aws", "gcp")))
            if needed]


def _pipelines_copy(caps: set[str], cloud: str) -> str:
    if not _pipelines(caps, cloud):
        return ""
    return ("# The batch and stream jobs run from this same image (python -m pipelines.<job>).\n"
            "COPY pipelines ./pipelines\n")


def render_python(domain: Domain, caps: set[str], version: str, cloud: str = "aws",
                  adapter: str = "", packages: tuple[str, ...] = (), failed_queue: bool = False) -> dict[str, str]:
    """Every generated Python module, test, Dockerfile, the training config and the sample data.

    `adapter` names what the serving platform needs in the image to run a plain web server
    (`serving_access.ServingAccess.adapter`); `failed_queue`, that the infrastructure records
    failed stream batches on a queue (`_pipelines`).
    """
    names = [f.name for f in domain.features]
    schema = fill(
        "app/services/common/schema.py.tmpl",
        domain=json.dumps(domain.title), task=json.dumps(domain.task), label=json.dumps(domain.label),
        classes=", ".join(json.dumps(c) for c in domain.classes) + ("," if len(domain.classes) == 1 else ""),
        group=json.dumps(domain.group), version=json.dumps(version),
        features=_tuple_lines(names),
        descriptions="\n".join(f"    {json.dumps(f.name)}: {json.dumps(f.description)}," for f in domain.features),
        ranges="\n".join(f"    {json.dumps(f.name)}: ({f.low!r}, {f.high!r})," for f in domain.features),
    )
    fields = "\n".join(_request_field(f.name, f.low, f.high, f.description) for f in domain.features)
    example = "\n".join(f"    {json.dumps(k)}: {v!r}," for k, v in example_row(domain).items())
    sdk = "".join(f' "{d}"' for d in (*CLOUD_SDK.get(cloud, ()), *packages))
    files = {f"{pkg}/__init__.py": f'"""{doc}"""\n' for pkg, doc in _PACKAGES.items()}
    files.update({path: template(f"app/{path}.tmpl") for path in _STATIC})
    files.update({
        "conftest.py": template("app/conftest.py.tmpl"),
        "config/training.toml": training_config(domain),
        "services/common/schema.py": schema,
        "services/serving/app.py": fill("app/services/serving/app.py.tmpl", request_fields=fields),
        "services/serving/tests/test_app.py": fill("app/services/serving/tests/test_app.py.tmpl", example=example),
        "services/serving/Dockerfile": fill("app/services/serving/Dockerfile", cloud_sdk=sdk,
                                             adapter=ADAPTERS[adapter], pipelines=_pipelines_copy(caps, cloud)),
        "services/training/Dockerfile": fill("app/services/training/Dockerfile", cloud_sdk=sdk),
        "data/sample.csv": sample_csv(domain),
    })
    if adapter == "sagemaker":
        files["services/serving/sagemaker.py"] = template("app/services/serving/sagemaker/sagemaker.py.tmpl")
        files["services/serving/tests/test_sagemaker.py"] = fill(
            "app/services/serving/sagemaker/test_sagemaker.py.tmpl", example=example)
    pipelines = _pipelines(caps, cloud, failed_queue)
    if pipelines:
        files["pipelines/__init__.py"] = '"""Batch jobs and stream scoring entry points."""\n'
    for name in pipelines:
        files[f"pipelines/{name}.py"] = template(f"app/pipelines/{name}.py.tmpl")
        files[f"pipelines/tests/test_{name}.py"] = template(f"app/pipelines/tests/test_{name}.py.tmpl")
    if "feature_store" in caps:
        files["features/__init__.py"] = '"""Feature definitions shared with the feature store."""\n'
        files["features/definitions.py"] = fill("app/features/definitions.py.tmpl", ttl_days=1 if "ingest_stream" in caps else 7)
    return files


def render_project(slug: str, title: str, cloud: str = "aws") -> dict[str, str]:
    """Root project files: dependencies and tool config, Makefile, ignores, hooks."""
    deps = "\n".join(f'  "{d}",' for d in CLOUD_SDK.get(cloud, ()))
    return {
        "pyproject.toml": fill("app/pyproject.toml.tmpl", slug=slug, title=json.dumps(title)[1:-1],
                               line_length=PY_LINE_LENGTH, cloud_deps=deps),
        "Makefile": template("app/Makefile"),
        ".dockerignore": template("app/dockerignore"),
        ".gitignore": template("app/gitignore"),
        ".pre-commit-config.yaml": template("app/pre-commit-config.yaml"),
    }
