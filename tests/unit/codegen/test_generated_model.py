"""The generated baseline model (`services/common/model.py` of every generated repository): each
task is fitted to its regularised optimum, deterministically, on the domains' own sample data."""

from __future__ import annotations

import csv
import io
import math
import sys
import types

import pytest

from bench.validation import render as generated_tree
from services.codegen.render_domain import DOMAINS, Domain, generic_domain, sample_csv
from tests.evaldata import scenarios

L2 = 0.001  # `fit`'s default


@pytest.fixture(scope="module")
def model_module() -> types.ModuleType:
    """The module as a generated repository carries it, imported from the rendered text."""
    files = generated_tree(scenarios()[0]["text"], "model-probe")
    module = types.ModuleType("generated_model")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    try:
        exec(compile(files["services/common/model.py"], "services/common/model.py", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


def _rows(domain: Domain) -> tuple[list[dict[str, float]], list[str], list[str]]:
    records = list(csv.DictReader(io.StringIO(sample_csv(domain))))
    features = [f.name for f in domain.features]
    return [{f: float(r[f]) for f in features} for r in records], [r[domain.label] for r in records], features


MULTICLASS = {"document": DOMAINS["document"], "image": DOMAINS["image"],
              "generic": generic_domain("transaction categorization")}


def _softmax_gradient(model, rows, labels) -> list[float]:
    """The gradient of the mean softmax loss plus L2/2 on the weights, at the model's parameters."""
    n = len(rows)
    xs = [[(row[f] - mu) / s for f, mu, s in zip(model.features, model.means, model.scales, strict=True)]
          for row in rows]
    grad_w = [[0.0] * len(model.features) for _ in model.classes]
    grad_b = [0.0] * len(model.classes)
    for x, label in zip(xs, labels, strict=True):
        zs = [b + sum(w * v for w, v in zip(ws, x, strict=True)) for ws, b in zip(model.weights, model.biases, strict=True)]
        top = max(zs)
        es = [math.exp(z - top) for z in zs]
        for c, cls in enumerate(model.classes):
            err = es[c] / sum(es) - (cls == label)
            grad_b[c] += err / n
            for j, v in enumerate(x):
                grad_w[c][j] += err * v / n
    return [g + L2 * w for gs, ws in zip(grad_w, model.weights, strict=True) for g, w in zip(gs, ws, strict=True)] + grad_b


@pytest.mark.parametrize("domain", MULTICLASS.values(), ids=MULTICLASS.keys())
def test_a_multiclass_model_is_fitted_to_its_optimum(model_module, domain: Domain) -> None:
    rows, labels, features = _rows(domain)
    assert domain.task == "multiclass" and len(set(labels)) == len(domain.classes) >= 3
    model = model_module.fit(rows, labels, features, task="multiclass", label=domain.label, version="v",
                             classes=domain.classes)
    # at the optimum every partial derivative vanishes (up to the stored weights' six decimals);
    # 120 epochs of gradient descent left some at 2e-3
    assert max(abs(g) for g in _softmax_gradient(model, rows, labels)) < 1e-4
    again = model_module.fit(rows, labels, features, task="multiclass", label=domain.label, version="v",
                             classes=domain.classes)
    assert again == model
    accuracy = sum(model.predict(r) == y for r, y in zip(rows, labels, strict=True)) / len(rows)
    assert accuracy > 1.5 / len(domain.classes)  # far better than chance on its own sample


def test_a_class_without_rows_gets_finite_weights_and_is_never_predicted(model_module) -> None:
    domain = MULTICLASS["document"]
    rows, labels, features = _rows(domain)
    absent = domain.classes[0]
    kept = [(r, y) for r, y in zip(rows, labels, strict=True) if y != absent]
    model = model_module.fit([r for r, _ in kept], [y for _, y in kept], features, task="multiclass",
                             label=domain.label, version="v", classes=domain.classes)
    assert all(math.isfinite(v) for ws in model.weights for v in ws) and all(map(math.isfinite, model.biases))
    assert absent not in {model.predict(r) for r, _ in kept}
