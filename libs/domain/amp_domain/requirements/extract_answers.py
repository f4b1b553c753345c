"""Typed answers to intake questions → field values, with errors that name the field.

An answer arrives from a form, a terminal prompt or an API client, as a string, number,
list or choice. It is read with the same vocabulary and unit grammar as freeform text
("$6k" and "6000" both mean 6000.0; "Frankfurt" on Azure means germanywestcentral), and
rejected loudly when it cannot be, so that a typo never silently becomes "unknown".
"""

from __future__ import annotations

import math
import re
from typing import Any, get_args

from amp_contracts import ConstraintSchema, ValidationFailed
from amp_contracts.constraints import Cadence, Cloud, Compliance, DataClass, Deployment, Residency, Workload

from ..catalog import region_geo
from .extract_gazetteer import gazetteer
from .extract_numbers import NUM, SUFFIX, parse_amount
from .extract_quantities import extract_availability, extract_budget, extract_data_volume, extract_latency
from .extract_text import dedupe, prepare

_NONE_WORDS = frozenset({"none", "no", "n/a", "na", "nothing", "-"})
_CLOUD_ALIASES = {"amazon": "aws", "amazon web services": "aws", "google": "gcp", "google cloud": "gcp",
                  "google cloud platform": "gcp", "microsoft": "azure", "microsoft azure": "azure"}
_WORKLOAD_ALIASES = {"stream": "streaming", "streams": "streaming", "real-time": "online", "realtime": "online",
                     "api": "online", "request/response": "online", "scheduled": "batch", "offline": "batch"}
_DEPLOY_ALIASES = {"kubernetes": "containers", "k8s": "containers", "container": "containers", "eks": "containers",
                   "gke": "containers", "aks": "containers", "ecs": "containers", "docker": "containers",
                   "functions": "serverless", "lambda": "serverless", "faas": "serverless"}
_CADENCE_ALIASES = {"nightly": "daily", "every day": "daily", "every night": "daily", "every week": "weekly",
                    "every month": "monthly", "every hour": "hourly"}
_BOOL = {"yes": True, "y": True, "true": True, "1": True, "needed": True, "required": True,
         "no": False, "n": False, "false": False, "0": False, "not needed": False, "none": False}
_PLAIN_NUMBER = re.compile(rf"^\s*(?P<num>{NUM})(?P<suf>{SUFFIX})?\s*$")


def _fail(name: str, value: Any, expected: str) -> ValidationFailed:
    return ValidationFailed(f"invalid answer for '{name}': {value!r} is not {expected}",
                            details=[{"field": name, "value": repr(value)[:200]}])


def _items(value: Any) -> list[Any]:
    """A list answer from a list, a single choice, or a comma/semicolon/'and'-separated string."""
    if isinstance(value, (list, tuple, set)):
        return list(value)
    if isinstance(value, str):
        if value.strip().lower() in _NONE_WORDS:
            return []
        return [p for p in re.split(r"\s*(?:,|;|\band\b|\+|/(?!sub))\s*", value.strip()) if p]
    return [value]


def _number(name: str, value: Any, reader: Any = None) -> float:
    if isinstance(value, bool):
        raise _fail(name, value, "a number")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        m = _PLAIN_NUMBER.match(value)
        parsed = parse_amount(m.group("num"), m.group("suf"), dot_thousands=True) if m else None
        if parsed is None and reader is not None:
            hits = reader(prepare(value))
            parsed = hits[0].value if hits else None
        if parsed is None:
            raise _fail(name, value, "a number")
        number = float(parsed)
    else:
        raise _fail(name, value, "a number")
    if not math.isfinite(number) or number < 0:
        raise _fail(name, value, "a non-negative finite number")
    return number


def _choice(name: str, value: Any, allowed: tuple[str, ...], aliases: dict[str, str] | None = None) -> str:
    if not isinstance(value, str):
        raise _fail(name, value, f"one of {', '.join(allowed)}")
    key = value.strip().lower()
    key = (aliases or {}).get(key, key)
    if key not in allowed:
        raise _fail(name, value, f"one of {', '.join(allowed)}")
    return key


def _aliased_list(name: str, value: Any, table: Any, allowed: tuple[str, ...] | None) -> list[str]:
    out: list[str] = []
    for item in _items(value):
        if not isinstance(item, str) or not item.strip():
            raise _fail(name, item, "a name")
        cid = table.lookup(item) or item.strip().lower()
        if allowed is not None and cid not in allowed:
            raise _fail(name, item, f"one of {', '.join(allowed)}")
        out.append(cid)
    return dedupe(out)


#: A jurisdiction answered in words: "EU", "Europe", "the United States".
_RESIDENCY_ALIASES = {"eu": "eea", "e.u.": "eea", "europe": "eea", "european union": "eea",
                      "european economic area": "eea", "usa": "us", "u.s.": "us", "united states": "us",
                      "america": "us", "govcloud": "us-gov", "us government": "us-gov", "azure government": "us-gov",
                      "united kingdom": "uk", "britain": "uk", "switzerland": "ch", "canada": "ca"}


def _residency(name: str, value: Any, cloud: str | None) -> str:
    """A jurisdiction code (a catalog geo), from a code, a name, or a place whose region has one."""
    text = value.strip().lower().removeprefix("the ") if isinstance(value, str) else value
    if isinstance(text, str):
        if text in get_args(Residency):
            return text
        if text in _RESIDENCY_ALIASES:
            return _RESIDENCY_ALIASES[text]
        code = gazetteer().resolve_place(value, cloud)
        if code is not None and (geo := region_geo(code)) is not None:
            return geo
    raise _fail(name, value, "a jurisdiction (eea, us, uk, ch, ...) or a country")


def coerce_answer(name: str, value: Any, cloud: str | None) -> Any:
    """The value of field `name` an answer stands for; ValidationFailed when it stands for none."""
    g = gazetteer()
    if name == "cloud":
        return _choice(name, value, get_args(Cloud), _CLOUD_ALIASES)
    if name == "regions":
        codes: list[str] = []
        for item in _items(value):
            code = g.resolve_place(item, cloud) if isinstance(item, str) else None
            if code is None:
                raise _fail(name, item, f"a region code or place of {cloud or 'a known cloud'}")
            codes.append(code)
        return dedupe(codes)
    if name == "budget_monthly_usd":
        return _number(name, value, extract_budget)
    if name == "sla_latency_ms":
        number = _number(name, value, extract_latency)
        if number <= 0:
            raise _fail(name, value, "a positive latency")
        return number
    if name == "availability_target":
        if isinstance(value, str):
            value = re.sub(r"\s*(?:%|percent)\s*$", "", value.strip(), flags=re.IGNORECASE) or value
        number = _number(name, value, extract_availability)
        if not 0 < number <= 100:
            raise _fail(name, value, "a percentage between 0 and 100")
        return number
    if name == "throughput_rps":
        return _number(name, value)
    if name == "data_volume_gb":
        return _number(name, value, extract_data_volume)
    if name == "workload_types":
        return dedupe([_choice(name, v, get_args(Workload), _WORKLOAD_ALIASES) for v in _items(value)])
    if name == "deployment_pref":
        return _choice(name, value, get_args(Deployment), _DEPLOY_ALIASES)
    if name == "data_classification":
        if isinstance(value, str):
            cid = g.data_classes.lookup(value)
            if cid:
                return cid
        return _choice(name, value, get_args(DataClass))
    if name == "compliance":
        return _aliased_list(name, value, g.compliance, get_args(Compliance))
    if name == "team_languages":
        return _aliased_list(name, value, g.languages, None)
    if name == "existing_stack":
        return [re.sub(r"[\s_]+", "-", v) for v in _aliased_list(name, value, g.stack, None)]
    if name in ("storage_prefs", "observability_prefs"):
        items = _items(value)
        if not all(isinstance(i, str) and i.strip() for i in items):
            raise _fail(name, value, "a list of names")
        return dedupe([i.strip().lower() for i in items])
    if name == "gpu":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOL:
            return _BOOL[value.strip().lower()]
        raise _fail(name, value, "yes or no")
    if name in ("training_cadence", "scoring_cadence"):
        return _choice(name, value, get_args(Cadence), _CADENCE_ALIASES)
    if name == "request_rps":
        return _number(name, value)
    if name == "data_residency":
        return _residency(name, value, cloud)
    if name in ConstraintSchema.model_fields:
        return value
    raise ValidationFailed(f"unknown constraint field '{name}'", details=[{"field": name}])
