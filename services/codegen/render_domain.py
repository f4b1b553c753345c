"""The workload domain of the generated baseline: features, label and bundled sample data.

A generated repository must train and serve something real out of the box; a dataset
flavoured by the workload (fraud for card data, readmission for health data, sensor
anomalies for streams, churn otherwise) makes the baseline recognisable to its team.
The sample is synthetic and deterministic: a fixed seed and a known logistic rule.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from amp_contracts import ConstraintSchema, Plan


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    low: float
    high: float
    weight: float  # effect on the log-odds per standard deviation, in the synthetic rule


@dataclass(frozen=True)
class Domain:
    key: str
    title: str
    label: str
    entity: str
    features: tuple[Feature, ...]
    bias: float = -0.4


DOMAINS: dict[str, Domain] = {
    "fraud": Domain("fraud", "card payment fraud detection", "is_fraud", "transaction", (
        Feature("amount_usd", "Transaction amount in USD.", 0.0, 5000.0, 1.6),
        Feature("merchant_risk", "Risk score of the merchant category (0-1).", 0.0, 1.0, 1.2),
        Feature("hour_of_day", "Local hour the card was used.", 0.0, 23.0, -0.5),
        Feature("card_age_days", "Days since the card was issued.", 0.0, 3650.0, -0.9),
        Feature("txn_last_24h", "Transactions on the card in the last 24 hours.", 0.0, 50.0, 1.1),
    )),
    "readmission": Domain("readmission", "hospital readmission risk", "readmitted_30d", "encounter", (
        Feature("age_years", "Patient age in years.", 18.0, 95.0, 0.8),
        Feature("prior_admissions", "Admissions in the previous 12 months.", 0.0, 12.0, 1.5),
        Feature("length_of_stay_days", "Length of the index stay in days.", 1.0, 30.0, 0.7),
        Feature("chronic_conditions", "Number of chronic conditions on record.", 0.0, 10.0, 1.0),
    )),
    "anomaly": Domain("anomaly", "equipment anomaly detection on sensor streams", "is_anomaly", "device", (
        Feature("temperature_c", "Sensor temperature in degrees Celsius.", -10.0, 120.0, 1.3),
        Feature("vibration_mm_s", "Vibration velocity in mm/s.", 0.0, 50.0, 1.6),
        Feature("pressure_kpa", "Line pressure in kPa.", 80.0, 400.0, -0.6),
        Feature("rpm", "Rotational speed in revolutions per minute.", 0.0, 6000.0, 0.5),
    )),
    "churn": Domain("churn", "customer churn prediction", "churned", "customer", (
        Feature("tenure_months", "Months since the customer signed up.", 0.0, 120.0, -1.4),
        Feature("monthly_spend_usd", "Average monthly spend in USD.", 0.0, 500.0, -0.6),
        Feature("support_tickets_90d", "Support tickets opened in the last 90 days.", 0.0, 20.0, 1.3),
        Feature("usage_hours_30d", "Product usage hours in the last 30 days.", 0.0, 300.0, -1.1),
    )),
}


def choose_domain(plan: Plan, constraints: ConstraintSchema) -> Domain:
    """The domain whose data best matches the constraints (data class and compliance first)."""
    if constraints.data_classification == "pci" or "pci_dss" in constraints.compliance:
        return DOMAINS["fraud"]
    if constraints.data_classification == "phi" or "hipaa" in constraints.compliance:
        return DOMAINS["readmission"]
    caps = {c.capability for c in plan.components}
    if "streaming" in constraints.workload_types or caps & {"ingest_stream", "stream_processing"}:
        return DOMAINS["anomaly"]
    return DOMAINS["churn"]


def sample_csv(domain: Domain, rows: int = 200, seed: int = 7) -> str:
    """Deterministic synthetic rows: features uniform in range, label from a noisy logistic rule."""
    rng = random.Random(f"{domain.key}:{seed}")
    header = ["entity_id", "event_time", *(f.name for f in domain.features), domain.label]
    lines = [",".join(header)]
    for i in range(rows):
        values = [rng.uniform(f.low, f.high) for f in domain.features]
        z = domain.bias + sum(
            f.weight * (v - (f.low + f.high) / 2) / ((f.high - f.low) / math.sqrt(12))
            for f, v in zip(domain.features, values, strict=True)
        )
        label = int(z + rng.gauss(0.0, 0.6) > 0)
        day, hour = divmod(i, 24)
        stamp = f"2024-01-{day + 1:02d}T{hour:02d}:00:00Z"
        cells = [f"{domain.entity}-{i:04d}", stamp, *(f"{v:.2f}" for v in values), str(label)]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def example_row(domain: Domain) -> dict[str, float]:
    """A valid request: the middle of every range."""
    return {f.name: round((f.low + f.high) / 2, 2) for f in domain.features}
