"""Small hand-written generated trees for the validators' tests (one clean tree the checks pass), and
detect-secrets itself over a tree, for the secret scan's tests to compare with."""

from __future__ import annotations

import tempfile
from pathlib import Path

PYPROJECT = """\
[project]
name = "demo-ml"
version = "0.1.0"
requires-python = ">=3.11"

[tool.ruff]
line-length = 100
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "I"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

TRAIN = '''\
"""Train a tiny model and write it where the serving code loads it."""

import json
from pathlib import Path

MODEL = Path(__file__).resolve().parents[2] / "artifacts" / "model.json"


def train() -> dict[str, float]:
    xs = [1.0, 2.0, 3.0]
    ys = [2.0, 4.0, 6.0]
    slope = sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs)
    return {"slope": slope}


if __name__ == "__main__":
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    MODEL.write_text(json.dumps(train()))
'''

SERVE = '''\
"""Load the trained model and predict."""

import json
from pathlib import Path

MODEL = Path(__file__).resolve().parents[2] / "artifacts" / "model.json"


def predict(x: float) -> float:
    model = json.loads(MODEL.read_text())
    return model["slope"] * x
'''

TEST = '''\
from services.serving.app import predict


def test_predict() -> None:
    assert predict(2.0) == 4.0
'''

MAIN_TF = """\
terraform {
  required_version = ">= 1.5"
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

resource "aws_s3_bucket" "data" {
  bucket = "demo-ml-data"
}

output "bucket" {
  value = aws_s3_bucket.data.bucket
}
"""

WORKFLOW = """\
name: ci
on:
  push:
    branches: [main]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - run: python -m pytest -q
"""

README = "# demo-ml\n\nA tiny generated ML service.\n"


def clean_tree() -> dict[str, str]:
    return {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        "services/__init__.py": "",
        "services/training/__init__.py": "",
        "services/training/train.py": TRAIN,
        "services/serving/__init__.py": "",
        "services/serving/app.py": SERVE,
        "tests/test_serving.py": TEST,
        "infra/main.tf": MAIN_TF,
        ".github/workflows/ci.yml": WORKFLOW,
    }


def fresh_secret_scan(files: dict[str, str]) -> list[tuple[str, int | None, str]]:
    """detect-secrets itself over the tree, nothing remembered: what the secret scan must report."""
    # lazy: detect-secrets loads its plugins on import
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            (Path(root) / path).parent.mkdir(parents=True, exist_ok=True)
            (Path(root) / path).write_text(text)
        collection = SecretsCollection(root=root)
        with default_settings():
            for path in sorted(files):
                collection.scan_file(path)
        return sorted((f, s.line_number or None, s.type) for f, s in collection)
