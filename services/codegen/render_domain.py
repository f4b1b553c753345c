"""The workload domain of the generated baseline, chosen from what the user wrote.

A generated repository must train and serve something its team recognises: a fraud API learns
from transactions with about one fraud in a hundred, a demand forecast is scored with MAPE on the
last weeks, a ranker with NDCG per query. Each domain is data (features, label, task, the split
that fits its data, its metrics and gate thresholds, the imbalance of its sample); `choose_domain`
scores every domain on the requirement's words, with the constraints as tie-breakers only, and a
requirement no domain recognises gets a generic tabular template named in the user's own words,
never another domain's. The sample is synthetic and deterministic (a fixed seed and a known rule).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

from amp_contracts import ConstraintSchema, Plan

Task = Literal["binary", "regression", "ranking", "multiclass"]
Split = Literal["time", "group", "stratified"]

#: Metrics where a lower value is better; the gate reads them as maxima.
LOWER_IS_BETTER = frozenset({"log_loss", "mape", "rmse", "mae"})


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    low: float
    high: float
    weight: float = 0.0  # effect per standard deviation in the synthetic rule


@dataclass(frozen=True)
class Domain:
    """A workload domain as data: everything the generated code and docs need to differ by."""

    key: str
    title: str
    entity: str
    label: str
    task: Task
    features: tuple[Feature, ...]
    metrics: tuple[str, ...]  # the first is the primary metric
    gate: tuple[tuple[str, float], ...]  # (metric, threshold): min, or max for LOWER_IS_BETTER
    split: Split
    split_why: str
    positive_rate: float = 0.3  # binary: share of positives in the sample
    classes: tuple[str, ...] = ()  # multiclass: label values
    group: str = ""  # group split and ranking: the column rows are grouped by
    group_size: int = 1
    rows: int = 1200
    noise: float = 1.2
    target_fpr: float = 0.05  # binary: the decision threshold's false-positive rate on the holdout
    base: float = 0.0  # regression: the target's level
    cues: tuple[tuple[str, float], ...] = ()
    boosts: tuple[tuple[Callable[[ConstraintSchema, set[str]], bool], float], ...] = field(default=(), compare=False)
    user_words: str = ""  # set when the title is the user's own phrase


def _emb(kind: str, n: int = 8) -> tuple[Feature, ...]:
    return tuple(Feature(f"embedding_{i:02d}", f"Dimension {i} of the {kind} embedding (the encoder's output, "
                                                f"computed upstream).", -1.0, 1.0) for i in range(n))


def _generic_features(n: int = 5) -> tuple[Feature, ...]:
    weights = (1.4, -1.0, 0.8, 0.0, -0.5)
    return tuple(Feature(f"feature_{i + 1}", f"Numeric input {i + 1}: rename to a column of your data.", 0.0, 100.0,
                         weights[i % len(weights)]) for i in range(n))


_PCI = (lambda c, caps: c.data_classification == "pci" or "pci_dss" in c.compliance, 1.0)
_PHI = (lambda c, caps: c.data_classification == "phi" or "hipaa" in c.compliance, 1.0)
_STREAM = (lambda c, caps: "streaming" in c.workload_types or bool(caps & {"ingest_stream", "stream_processing"}), 1.0)
_BATCH = (lambda c, caps: "batch" in c.workload_types or "serving_batch" in caps, 0.5)
_ONLINE = (lambda c, caps: "online" in c.workload_types or "serving_online" in caps, 0.5)
_GPU = (lambda c, caps: bool(c.gpu), 1.0)

_BINARY_BALANCED = ("roc_auc", "pr_auc", "log_loss")
_TIME_WHY = "time-based: the model is judged on the most recent rows, as it will be in production"

DOMAINS: dict[str, Domain] = {d.key: d for d in (
    Domain(
        "fraud", "fraud detection", "transaction", "is_fraud", "binary", (
            Feature("amount_usd", "Transaction amount in USD.", 0.0, 5000.0, 1.4),
            Feature("merchant_risk", "Risk score of the merchant category (0-1).", 0.0, 1.0, 1.2),
            Feature("hour_of_day", "Local hour the payment was made.", 0.0, 23.0, -0.4),
            Feature("account_age_days", "Days since the card or account was opened.", 0.0, 3650.0, -0.8),
            Feature("txn_last_24h", "Transactions on the card or account in the last 24 hours.", 0.0, 50.0, 1.1),
            Feature("distance_from_home_km", "Distance from the holder's usual location in km.", 0.0, 2000.0, 0.9),
        ),
        metrics=("pr_auc", "recall_at_fpr", "roc_auc"), gate=(("pr_auc", 0.25), ("recall_at_fpr", 0.3)),
        split="time", split_why=_TIME_WHY + " (fraud patterns drift; a random split leaks the future)",
        positive_rate=0.01, rows=4000, noise=0.7, target_fpr=0.01,
        cues=((r"fraud\w*", 3), (r"chargebacks?", 3), (r"money[- ]laundering|\baml\b", 3), (r"account takeovers?", 3),
              (r"scams?", 2), (r"suspicious\s+(?:transactions?|activity|payments?|logins?)", 2)),
        boosts=(_PCI,),
    ),
    Domain(
        "churn", "customer churn prediction", "customer", "churned", "binary", (
            Feature("tenure_months", "Months since the customer signed up.", 0.0, 120.0, -1.4),
            Feature("monthly_spend_usd", "Average monthly spend in USD.", 0.0, 500.0, -0.6),
            Feature("support_tickets_90d", "Support tickets opened in the last 90 days.", 0.0, 20.0, 1.3),
            Feature("usage_hours_30d", "Product usage hours in the last 30 days.", 0.0, 300.0, -1.1),
        ),
        metrics=_BINARY_BALANCED, gate=(("roc_auc", 0.75), ("pr_auc", 0.45)),
        split="stratified", split_why="stratified by the label: one row per customer, both classes in each part",
        positive_rate=0.2,
        cues=((r"churn\w*", 3), (r"attrition", 3), (r"(?:customers?|subscribers?|users?|members?)\s+(?:who\s+)?(?:are\s+|is\s+)?"
               r"(?:likely|about|going)\s+to\s+(?:leave|cancel|lapse|quit)", 3), (r"retention", 1), (r"cancellations?", 1)),
        boosts=(_BATCH,),
    ),
    Domain(
        "forecasting", "demand forecasting", "store_day", "units_sold", "regression", (
            Feature("lag_7_units", "Units sold on the same weekday a week earlier.", 0.0, 400.0, 0.6),
            Feature("mean_28d_units", "Mean daily units over the previous 28 days.", 0.0, 400.0, 0.3),
            Feature("day_of_week", "Day of the week (0 = Monday).", 0.0, 6.0, 0.05),
            Feature("promo", "Share of the assortment on promotion that day (0-1).", 0.0, 1.0, 40.0),
            Feature("price_index", "Price relative to the 28-day average (1 = unchanged).", 0.7, 1.3, -60.0),
        ),
        metrics=("mape", "rmse", "mae"), gate=(("mape", 0.2),),
        split="time", split_why=_TIME_WHY + " (a forecast is tested on days after those it learned from)",
        rows=1400, noise=25.0, base=250.0,
        cues=((r"forecast\w*", 3), (r"demand\s+(?:planning|prediction|estimation|sensing)", 3), (r"time[- ]series", 2.5),
              (r"(?:predict\w*|estimat\w*|project\w*)\s+(?:\w+\s+){0,2}?(?:demand|sales|volumes?|load|traffic|"
               r"inventory|footfall|call\s+volumes?)", 3),
              (r"capacity\s+planning", 2), (r"replenishment", 2)),
        boosts=(_BATCH,),
    ),
    Domain(
        "ranking", "recommendation and ranking", "query_item", "relevance", "ranking", (
            Feature("text_match", "Lexical or semantic match between the query (or user) and the item (0-1).",
                    0.0, 1.0, 1.5),
            Feature("item_popularity", "Normalised recent popularity of the item (0-1).", 0.0, 1.0, 0.8),
            Feature("user_affinity", "Affinity of the user for the item's category (0-1).", 0.0, 1.0, 1.0),
            Feature("freshness_days", "Days since the item was published.", 0.0, 365.0, -0.6),
            Feature("price_ratio", "Item price relative to the user's typical spend.", 0.0, 3.0, -0.4),
        ),
        metrics=("ndcg_at_10", "mrr"), gate=(("ndcg_at_10", 0.75),),
        split="group", split_why="grouped by query: every candidate of a query is on one side, so NDCG is "
                                 "measured on unseen queries",
        group="query_id", group_size=10, rows=1200, noise=1.2,
        cues=((r"recommend\w*", 3), (r"rank\w*", 3), (r"personali[sz]\w*", 2), (r"relevance", 2),
              (r"next[- ]best[- ](?:offer|action)", 3), (r"search\s+(?:results|ranking|relevance)", 3),
              (r"similar\s+(?:items|products|articles)", 2), (r"retrieval", 1)),
        boosts=(_ONLINE,),
    ),
    Domain(
        "ctr", "click-through prediction", "impression", "clicked", "binary", (
            Feature("ad_position", "Slot of the ad on the page (1 = top).", 1.0, 10.0, -1.0),
            Feature("historical_ctr", "Click-through rate of the ad over the last 7 days.", 0.0, 0.2, 1.4),
            Feature("user_topic_affinity", "Affinity of the user for the ad's topic (0-1).", 0.0, 1.0, 1.0),
            Feature("hour_of_day", "Local hour of the impression.", 0.0, 23.0, 0.2),
            Feature("session_depth", "Pages viewed so far in the session.", 0.0, 50.0, 0.5),
        ),
        metrics=("log_loss", "roc_auc", "pr_auc"), gate=(("roc_auc", 0.7), ("log_loss", 0.3)),
        split="time", split_why=_TIME_WHY, positive_rate=0.05, rows=3000, noise=1.2,
        cues=((r"click[- ]?through", 3), (r"\bctr\b", 3), (r"(?:ads?|advert\w*)\s+(?:\w+\s+)?clicks?", 3),
              (r"click\s+(?:prediction|probability|rates?)", 3), (r"conversion\s+(?:prediction|probability|rates?)", 2)),
        boosts=(_ONLINE,),
    ),
    Domain(
        "anomaly", "anomaly detection on sensor data", "reading", "is_anomaly", "binary", (
            Feature("temperature_c", "Sensor temperature in degrees Celsius.", -10.0, 120.0, 1.3),
            Feature("vibration_mm_s", "Vibration velocity in mm/s.", 0.0, 50.0, 1.6),
            Feature("pressure_kpa", "Line pressure in kPa.", 80.0, 400.0, -0.6),
            Feature("rpm", "Rotational speed in revolutions per minute.", 0.0, 6000.0, 0.5),
            Feature("hours_since_service", "Operating hours since the last maintenance.", 0.0, 5000.0, 0.9),
        ),
        metrics=("pr_auc", "recall_at_fpr", "roc_auc"), gate=(("pr_auc", 0.3), ("recall_at_fpr", 0.3)),
        split="time", split_why=_TIME_WHY + " (anomalies are judged on later readings than those learned from)",
        positive_rate=0.02, rows=3000, noise=0.7, target_fpr=0.01,
        cues=((r"anomal\w*", 3), (r"outliers?", 2), (r"predictive\s+maintenance", 3),
              (r"(?:equipment|machine|component|device|pump|turbine)s?\s+failures?", 2), (r"fault\s+detection", 3),
              (r"intrusion\s+detection", 2), (r"sensors?", 1), (r"telemetry", 1), (r"\biot\b", 1)),
        boosts=(_STREAM,),
    ),
    Domain(
        "credit", "credit risk scoring", "application", "defaulted", "binary", (
            Feature("income_k_usd", "Annual income in thousands of USD.", 10.0, 300.0, -0.9),
            Feature("debt_to_income", "Monthly debt payments over monthly income.", 0.0, 1.0, 1.3),
            Feature("credit_utilization", "Share of revolving credit in use (0-1).", 0.0, 1.0, 1.1),
            Feature("delinquencies_2y", "Payments 30+ days late in the last two years.", 0.0, 10.0, 1.0),
            Feature("credit_history_years", "Years since the first credit line.", 0.0, 40.0, -0.7),
        ),
        metrics=("roc_auc", "ks", "pr_auc"), gate=(("roc_auc", 0.75), ("ks", 0.35)),
        split="stratified", split_why="stratified by the label: defaults are rare and each part needs its share",
        positive_rate=0.08, rows=2500, noise=1.2,
        cues=((r"credit\s+(?:risk|scor\w*|default\w*|decision\w*|limits?)", 3),
              (r"loans?\s+(?:defaults?|approvals?|risk|underwriting|applications?)", 3),
              (r"probability\s+of\s+default", 3), (r"underwrit\w*", 2), (r"default\s+risk", 3)),
    ),
    Domain(
        "readmission", "patient readmission risk", "encounter", "readmitted_30d", "binary", (
            Feature("age_years", "Patient age in years.", 18.0, 95.0, 0.8),
            Feature("prior_admissions", "Admissions in the previous 12 months.", 0.0, 12.0, 1.5),
            Feature("length_of_stay_days", "Length of the index stay in days.", 1.0, 30.0, 0.7),
            Feature("chronic_conditions", "Number of chronic conditions on record.", 0.0, 10.0, 1.0),
        ),
        metrics=_BINARY_BALANCED, gate=(("roc_auc", 0.75), ("pr_auc", 0.4)),
        split="group", split_why="grouped by patient: no patient's encounters are on both sides",
        positive_rate=0.15, group="patient_id", group_size=3, rows=1500,
        cues=((r"readmission\w*", 3), (r"re-?admit\w*", 3), (r"(?:patient|clinical)\s+(?:risk|deterioration|outcomes?)", 2),
              (r"sepsis", 2), (r"length\s+of\s+stay", 2), (r"mortality", 2)),
        boosts=(_PHI,),
    ),
    Domain(
        "document", "document classification", "document", "category", "multiclass", _emb("text"),
        metrics=("macro_f1", "accuracy"), gate=(("macro_f1", 0.7),),
        split="stratified", split_why="stratified by class: every category is in both parts in its share",
        classes=("category_a", "category_b", "category_c"), rows=900, noise=0.8,
        cues=((r"(?:documents?|texts?|e-?mails?|tickets?|messages?|reviews?|contracts?|invoices?|claims?|articles?|"
               r"notes?|transcripts?|posts?|comments?)\s+(?:classification|categori[sz]ation|tagging|routing|triage|"
               r"labell?ing|moderation)", 3),
              (r"classify\w*\s+(?:\w+\s+){0,2}?(?:documents?|texts?|e-?mails?|tickets?|messages?|reviews?|contracts?)", 3),
              (r"sentiment", 3), (r"intents?\b", 3), (r"topic\s+(?:classification|model\w*|detection)", 3),
              (r"spam", 3), (r"moderation", 1), (r"nlp\b|natural\s+language", 1),
              (r"ocr\b|scanned\s+documents?", 1)),
    ),
    Domain(
        "image", "image classification", "image", "category", "multiclass", _emb("image"),
        metrics=("macro_f1", "accuracy"), gate=(("macro_f1", 0.7),),
        split="stratified", split_why="stratified by class: every category is in both parts in its share",
        classes=("category_a", "category_b", "category_c"), rows=900, noise=0.8,
        cues=((r"image\s+(?:classification|recognition|tagging|triage)", 3),
              (r"(?<!container\s)(?<!docker\s)(?<!vm\s)images?\b", 2), (r"imaging", 3),
              (r"photos?|pictures?", 2),
              (r"classify\w*\s+(?:\w+\s+){0,2}?(?:images?|photos?|pictures?|scans?|frames?)", 3), (r"computer\s+vision|\bvision\b", 2), (r"x-?rays?|\bmri\b|ct\s+scans?", 3),
              (r"(?:visual|defect)\s+inspection", 3), (r"cameras?|video\s+frames?", 1), (r"moderation", 1)),
        boosts=(_GPU,),
    ),
)}

#: Below this a domain is not recognised: one weak cue plus a constraint is not enough.
MIN_SCORE = 2.5


@dataclass(frozen=True)
class DomainScore:
    key: str
    score: float
    cues: tuple[str, ...]


def score_domains(text: str, constraints: ConstraintSchema, caps: set[str] | None = None) -> list[DomainScore]:
    """Every domain's score on the text, highest first.

    Each distinct cue counts once; the constraints (data class, workloads, GPU) add a little to a
    domain the words already name, and never make one on their own.
    """
    caps = caps or set()
    out = []
    for d in DOMAINS.values():
        found = []
        score = 0.0
        for rx, weight in d.cues:
            m = re.search(rf"\b(?:{rx})", text, re.IGNORECASE)
            if m and not _negated(text, m.start()):
                found.append(m.group(0).lower())
                score += weight
        if score:
            score += sum(w for pred, w in d.boosts if pred(constraints, caps))
        out.append(DomainScore(d.key, score, tuple(found)))
    return sorted(out, key=lambda s: -s.score)


_NEGATION = re.compile(r"\b(?:no|not|without|never|isn't|aren't)\s+(?:\w+\s+){0,2}$", re.IGNORECASE)


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATION.search(text[max(0, start - 30):start]))


def choose_domain(plan: Plan, constraints: ConstraintSchema, text: str = "") -> Domain:
    """The domain the requirement describes, or a generic template named in its words."""
    caps = {c.capability for c in plan.components}
    scores = score_domains(text, constraints, caps)
    best = scores[0] if scores else None
    if best is not None and best.score >= MIN_SCORE:
        return DOMAINS[best.key]
    return generic_domain(text)


# ---------------------------------------------------------------- the generic fallback

_TASK_NOUN = (r"categori[sz]ation|classification|prediction|predictions|scoring|detection|estimation|pricing|matching|"
              r"tagging|triage|segmentation|recognition|extraction|propensity|valuation|routing|moderation|"
              r"optimi[sz]ation|quality\s+estimation|assessment|analysis|analytics|model|models")
_TASK = re.compile(rf"((?:[A-Za-z][\w-]*\s+){{0,3}}?)\b({_TASK_NOUN})\b", re.IGNORECASE)
_FILLER = frozenset("""a an the our we us my your their its need needs want wants build building built for of to on in
with and or is are be this that new real-time realtime online batch streaming nightly daily weekly api apis ml
machine learning ai model models service system platform simple basic some do does using use me something it them
every each whether if how what which when within in at by from into per under over about after before as""".split())
_REGRESSION_NOUNS = frozenset({"estimation", "pricing", "valuation", "quality estimation"})
_MULTICLASS_NOUNS = frozenset({"categorization", "categorisation", "classification", "tagging", "triage", "routing",
                               "recognition"})


_VERB_NOUN = {"score": "scoring", "classify": "classification", "categorize": "categorization",
              "categorise": "categorisation", "predict": "prediction", "detect": "detection", "estimate": "estimation",
              "price": "pricing", "tag": "tagging", "route": "routing", "match": "matching", "triage": "triage"}
_VERB = re.compile(rf"\b({'|'.join(_VERB_NOUN)})\s+(?:the\s+|our\s+|new\s+|incoming\s+|all\s+)?([a-z][a-z-]+)",
                   re.IGNORECASE)


def task_phrase(text: str) -> str:
    """The user's own words for what the model does ("transaction categorization"), or "".

    A qualified noun ("transaction categorization") first, then a verb and its object ("score
    leads" -> "lead scoring"), then a bare task noun.
    """
    bare = ""
    for m in _TASK.finditer(text):
        words: list[str] = []
        for w in reversed(m.group(1).split()):  # the words right before the noun, up to the first filler
            if w.lower() in _FILLER or re.search(r"\d", w):
                break
            words.insert(0, w)
        noun = " ".join(m.group(2).lower().split())
        if words:
            return " ".join([*(w.lower() for w in words[-2:]), noun])
        if not bare and noun not in {"model", "models", "analysis", "analytics", "assessment"}:
            bare = noun
    for v in _VERB.finditer(text):
        obj = v.group(2).lower()
        if obj in _FILLER:
            continue
        obj = obj[:-1] if obj.endswith("s") and not obj.endswith("ss") and len(obj) > 3 else obj
        return f"{obj} {_VERB_NOUN[v.group(1).lower()]}"
    return bare


def _user_words(text: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z][\w-]*", text) if w.lower() not in _FILLER][:4]
    return " ".join(w.lower() for w in words)


def generic_domain(text: str) -> Domain:
    """A tabular template with neutral feature names, titled with the requirement's own words.

    The task follows the words: "pricing" or "estimation" asks for a number (regression),
    "categorization" or "classification" for one of several classes, anything else a yes/no score.
    """
    phrase = task_phrase(text)
    title = phrase or _user_words(text) or "tabular prediction"
    noun = next((n for n in (*_REGRESSION_NOUNS, *_MULTICLASS_NOUNS) if phrase.endswith(n)), "")
    head = phrase.split()[0] if len(phrase.split()) > 1 else "record"
    entity = re.sub(r"[^a-z0-9]+", "_", head.lower()).strip("_") or "record"
    if entity.endswith("s") and len(entity) > 3:
        entity = entity[:-1]
    base = Domain(
        "generic", title, entity, "target", "binary", _generic_features(),
        metrics=_BINARY_BALANCED, gate=(("roc_auc", 0.7),), split="stratified",
        split_why="stratified by the label: rows are assumed independent; change to a time split if they are "
                  "ordered in time",
        positive_rate=0.3, rows=1000, user_words=title,
    )
    if noun in _REGRESSION_NOUNS:
        return replace(base, label="target_value", task="regression", metrics=("mape", "rmse", "mae"),
                       gate=(("mape", 0.25),), split_why="random split: rows are assumed independent",
                       features=tuple(replace(f, weight=f.weight / 2) for f in base.features), noise=12.0, base=120.0)
    if noun in _MULTICLASS_NOUNS:
        return replace(base, label="category", task="multiclass", metrics=("macro_f1", "accuracy"),
                       gate=(("macro_f1", 0.6),), classes=("class_a", "class_b", "class_c"), noise=0.8)
    return base


# ---------------------------------------------------------------- synthetic sample data

def _std(f: Feature, v: float) -> float:
    return (v - (f.low + f.high) / 2) / ((f.high - f.low) / math.sqrt(12))


def _stamp(i: int, rows: int) -> str:
    """Timestamps in row order over about 90 days, so a time split has a past and a future."""
    minutes = int(i * (90 * 24 * 60) / max(rows, 1))
    day, rest = divmod(minutes, 24 * 60)
    month_days = (31, 29, 31, 30)
    month = 0
    while day >= month_days[month]:
        day -= month_days[month]
        month += 1
    return f"2024-{month + 1:02d}-{day + 1:02d}T{rest // 60:02d}:{rest % 60:02d}:00Z"


def sample_rows(domain: Domain, seed: int = 7) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the deterministic sample: features uniform in range, label by the domain's rule."""
    rng = random.Random(f"{domain.key}:{domain.title}:{seed}")
    n = domain.rows
    group_col = [domain.group] if domain.group else []
    header = ["entity_id", "event_time", *group_col, *(f.name for f in domain.features), domain.label]
    feats = [[rng.uniform(f.low, f.high) for f in domain.features] for _ in range(n)]
    if domain.task == "multiclass":
        centres = [[rng.uniform(-0.6, 0.6) for _ in domain.features] for _ in domain.classes]
        for i, row in enumerate(feats):
            k = i % len(domain.classes)
            for j, f in enumerate(domain.features):
                spread = domain.noise * (f.high - f.low) / 2
                centre = f.low + (centres[k][j] + 1) / 2 * (f.high - f.low)
                row[j] = min(f.high, max(f.low, centre + rng.gauss(0.0, spread / 2)))
        labels = [domain.classes[i % len(domain.classes)] for i in range(n)]
        order = list(range(n))
        rng.shuffle(order)
        feats, labels = [feats[i] for i in order], [labels[i] for i in order]
    else:
        z = [sum(f.weight * _std(f, v) for f, v in zip(domain.features, row, strict=True)) for row in feats]
        if domain.task == "regression":
            labels = [f"{max(1.0, domain.base + s + rng.gauss(0.0, domain.noise)):.1f}" for s in _regression(domain, feats)]
        elif domain.task == "ranking":
            noisy = [v + rng.gauss(0.0, domain.noise) for v in z]
            cuts = sorted(noisy)
            q = [cuts[int(n * p)] for p in (0.5, 0.8, 0.95)]
            labels = [str(sum(v >= c for c in q)) for v in noisy]
        else:
            noisy = [v + rng.gauss(0.0, domain.noise) for v in z]
            cut = sorted(noisy, reverse=True)[max(1, round(n * domain.positive_rate)) - 1]
            labels = ["1" if v >= cut else "0" for v in noisy]
    rows = []
    for i in range(n):
        group = [f"{domain.group.removesuffix('_id')}-{i // domain.group_size:04d}"] if domain.group else []
        rows.append([f"{domain.entity}-{i:05d}", _stamp(i, n), *group, *(f"{v:.4g}" for v in feats[i]), labels[i]])
    return header, rows


def _regression(domain: Domain, feats: list[list[float]]) -> list[float]:
    """The target's systematic part around its level: weights are target units per unit of the feature."""
    return [sum(f.weight * (v - (f.low + f.high) / 2) for f, v in zip(domain.features, row, strict=True))
            for row in feats]


@lru_cache(maxsize=32)
def sample_csv(domain: Domain, seed: int = 7) -> str:
    """The sample as CSV; cached, since thousands of rows cost more than the rest of a render."""
    header, rows = sample_rows(domain, seed)
    return "\n".join(",".join(r) for r in [header, *rows]) + "\n"


def example_row(domain: Domain) -> dict[str, float]:
    """A valid request: the middle of every range."""
    return {f.name: round((f.low + f.high) / 2, 2) for f in domain.features}
