"""Batch scoring runs, and is priced, at the cadence the requirements state.

Every batch scoring module ran nightly whatever the text said ("monthly batch scoring of our sales
leads"), and the cost critic priced 30 runs a month; on AWS the Batch-on-Fargate scorer ran at
02:00, beside the night's ingest rather than after it. The scoring cadence is now a constraint,
passed to every environment as `score_schedule` in the cloud scheduler's syntax, and sizes the
scoring compute.
"""

from __future__ import annotations

import re

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.build import SCHEDULES, SCORE_SCHEDULES, score_schedule
from amp_domain.catalog import load_catalog
from amp_domain.requirements.extraction import extract

from services.codegen.render import render_repository
from services.codegen.render_text import TEMPLATES
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from tests.unit.codegen.conftest import inputs_for

_DEFAULT = re.compile(r'variable "score_schedule" \{\n(?:  .*\n)*?  default\s+= "(.*)"\n')


@pytest.mark.parametrize(("text", "cadence"), [
    ("Nightly batch churn scoring on GCP.", "daily"),
    ("Monthly batch scoring of 10,000 sales leads on AWS.", "monthly"),
    ("Demand forecasting for 2,000 stores. Retrain weekly, produce forecasts every night.", "daily"),
    ("Weekly batch predictions for marketing; the model is retrained monthly.", "weekly"),
    ("Scores refreshed every hour for the dashboard.", "hourly"),
    ("We score leads in batch each Monday.", "weekly"),
    ("Lead scoring in batch, nightly. Keep monthly spend predictable at around $2k.", "daily"),
    ("We want predictable monthly spend. Nightly batch scoring of churn on AWS.", "daily"),
])
def test_the_scoring_cadence_is_what_the_scores_are_said_to_follow(text: str, cadence: str) -> None:
    assert extract(text).constraints.scoring_cadence == cadence


@pytest.mark.parametrize("text", [
    "Real-time fraud scoring API, retrained weekly.",   # online, and the cadence is the training's
    "Fraud scoring, retrained weekly.",
    "Train the model daily.",
    "Nightly ingest of CSVs, real-time scoring API.",
    "Quarterly revenue forecasts.",                     # rarer than any cadence the schema holds
    "We want predictable monthly spend on AWS.",         # the bill's cadence, not the scores'
    "Our monthly budget is $4k for the predictive model.",
    "Monthly cost estimates for the board; the model is trained weekly.",
])
def test_a_cadence_of_training_or_of_real_time_scoring_is_not_the_scores(text: str) -> None:
    assert extract(text).constraints.scoring_cadence is None


def _batch_plan(cloud: str, cadence: str | None) -> tuple[ConstraintSchema, object]:
    c = ConstraintSchema(cloud=cloud, workload_types=["batch"], scoring_cadence=cadence, data_volume_gb=400)
    return c, compose_plan(c)


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_the_scoring_compute_is_priced_per_run(cloud: str) -> None:
    def scoring_usd(cadence: str | None) -> float:
        c, plan = _batch_plan(cloud, cadence)
        scorer = plan.component("serving_batch").pattern_id
        return sum(b.usd for b in estimate(plan, c).breakdown if b.component == scorer)

    daily, weekly, monthly = scoring_usd("daily"), scoring_usd("weekly"), scoring_usd("monthly")
    assert scoring_usd(None) == daily > weekly > monthly > 0
    assert weekly == pytest.approx(daily * 4.3 / 30, rel=0.1) and monthly == pytest.approx(daily / 30, rel=0.1)


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
@pytest.mark.parametrize("cadence", [None, "weekly", "monthly"])
def test_every_environment_schedules_the_scorer_at_the_plans_cadence(cloud: str, cadence: str | None) -> None:
    c, plan = _batch_plan(cloud, cadence)
    files = render_repository(plan, c, *inputs_for(plan), "Acme leads", "")
    found = _DEFAULT.findall(files["infra/variables.tf"])
    assert found == [score_schedule(cloud, cadence)], found
    scorer = files["infra/modules/serving_batch/main.tf"]
    assert "var.score_schedule" in scorer
    assert "score_schedule = var.score_schedule" in re.sub(r" +", " ", files["infra/main.tf"])


def test_no_batch_scoring_module_keeps_a_schedule_of_its_own() -> None:
    """Every module that starts batch scoring reads the plan's schedule; AWS's Batch-on-Fargate module
    also runs ingestion, which keeps its 02:00 slot before the scores."""
    modules = {(cloud, p.module) for cloud in ("aws", "gcp", "azure") for p in load_catalog(cloud).patterns
               if p.capability == "serving_batch" and p.buildable and p.module}
    modules |= {(cloud, "serving_batch") for cloud in ("aws", "gcp", "azure")}  # the generic stand-ins
    assert len(modules) >= 4
    for cloud, module in sorted(modules):
        text = (TEMPLATES / "terraform" / cloud / "modules" / f"{module}.tf").read_text(encoding="utf-8")
        assert "var.score_schedule" in text, (cloud, module)
        scheduled = [line for line in text.splitlines() if re.search(r"^\s*(schedule|schedule_expression|"
                                                                     r"cron_expression)\s+=", line)]
        assert scheduled and all("score_schedule" in s or "local.schedule" in s for s in scheduled), scheduled
    fargate = (TEMPLATES / "terraform" / "aws" / "modules" / "batch_fargate.tf").read_text(encoding="utf-8")
    assert 'basename(path.module) == "serving_batch" ? var.score_schedule : "cron(0 2 * * ? *)"' in fargate


def _hour(expression: str) -> int:
    """The hour field of a cron expression, in either scheduler's syntax."""
    return int(expression.removeprefix("cron(").split()[1])


def test_scores_follow_the_nights_ingest_and_retraining() -> None:
    """A day's scores are made after that night's ingest and retraining have run, on every cloud."""
    ingest = {"aws": (TEMPLATES / "terraform" / "aws" / "modules" / "ingest_batch.tf"),
              "gcp": (TEMPLATES / "terraform" / "gcp" / "modules" / "ingest_batch.tf")}
    for cloud, table in SCORE_SCHEDULES.items():
        daily = _hour(table["daily"])
        if cloud in ("aws", "gcp"):
            assert daily > _hour(SCHEDULES[cloud]["daily"])  # retraining (Azure's runs by frequency)
        if cloud in ingest:
            crons = re.findall(r'schedule\s+= "((?:cron\()?[\d*]+ [\d*]+ [^"]*)"', ingest[cloud].read_text())
            assert crons and all(daily > _hour(c) for c in crons), (cloud, crons)
        assert all(_hour(table[c]) == daily for c in ("weekly", "monthly")), cloud
