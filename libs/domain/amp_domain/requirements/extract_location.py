"""Cloud and regions: explicit names, region codes, provider services, display names and places.

The cloud is a weighted vote (a name or a region code counts more than a service that
only runs there), so "whatever cloud is cheapest, but we have AWS credits" still reads as
AWS and "BigQuery on AWS" stays AWS. Regions resolve in tiers: codes and display names
first; a city only when no region is named; a country or state only when the text
speaks of hosting or residency there ("stay in the UK", "must not leave Germany"), since
"California users" is about people, not a region. A jurisdiction wider than a region ("the data
must stay in the EU", "any EU region") is the data's residency: the planner picks a region in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..catalog import region_geo
from .extract_gazetteer import CLOUDS, gazetteer
from .extract_text import Hit, capped, clause_bounds, dedupe, is_negated

_MIGRATED_FROM = re.compile(
    r"\b(?:migrat\w*|mov\w*|switch\w*|leav\w*|port\w*|lift\w*|transition\w*|coming|exit\w*)\b[^.;]{0,40}?"
    r"\b(?:from|off|out\s+of)\s+(?:(?!(?:to|onto|into|towards?)\b)\w+\s+){0,2}$|\b(?:away\s+from|off\s+of|currently\s+on|today\s+on)\s+$",
    re.IGNORECASE)
_RESIDENCY = re.compile(
    r"\b(?:stay\w*|remain\w*|resid\w*|host\w*|deploy\w*|located|locate|keep|kept|stor\w*|regions?|data\s*cent(?:er|re)s?|"
    r"sovereign\w*|in-country|onshore|must\s+be\s+in|run\w*\s+in|serve\w*\s+from|datacenters?)\b", re.IGNORECASE)
#: Denying that data leaves a place keeps it there: "must not leave Germany", "never leaves the EU",
#: "nothing may be stored outside Switzerland". Read just before the place.
_KEPT_IN = re.compile(
    r"\b(?:not|never|no|nothing|none|n't|cannot|may\s+not)\b[^.;:]{0,40}?\b(?:leav(?:e|es|ing)|exit\w*|"
    r"go(?:es)?\s+out(?:side)?(?:\s+of)?|outside(?:\s+of)?|beyond|cross(?:es|ing)?)\s+(?:the\s+)?$", re.IGNORECASE)
#: Jurisdictions wider than one region, by the catalogs' geo tags. "US" is read in capitals only. A
#: government cloud named is where the system runs, with or without a residency word.
_GOVERNMENT = re.compile(r"\b(?:GovCloud|Azure\s+Government|Azure\s+Gov|US\s+Gov(?:ernment)?\s+(?:regions?|cloud))\b",
                         re.IGNORECASE)
_JURISDICTIONS = (
    ("us-gov", _GOVERNMENT),
    ("eea", re.compile(r"\b(?:E\.U\.(?!\w)|(?:EU|EEA|European\s+(?:Union|Economic\s+Area)|Europe)\b)(?![- ](?:West|North|"
                       r"Central|East|South)\b)(?!\s*\()", re.IGNORECASE)),
    ("us", re.compile(r"\b(?:U\.S\.(?:A\.)?|USA\b|US\b|(?i:United\s+States(?:\s+of\s+America)?)\b)(?![- ](?:East|"
                      r"West|Central|North|South|Gov)\b)(?!\s*\()")),
)
#: What makes a jurisdiction the data's residency rather than a market: where the data or the system
#: must be ("stay in the EU", "EU only", "hosted in Europe", "any EU region", "EU data residency").
_RESIDENCY_ONLY = re.compile(r"^\s*[- ]?only\b|^\s*-\s*only\b|^\s+(?:data\s+)?(?:residen\w*|regions?|data\s*cent\w*)\b",
                             re.IGNORECASE)
#: A verb of keeping or hosting that governs the jurisdiction: "stays in the EU", "hosted within the
#: US", "must be in Europe", "within the EU". ("Our store in the US", "EU customers' data is stored in
#: us-east-1" name a market.)
_HELD_IN = re.compile(
    r"(?:\b(?:stay(?:s|ed|ing)?|remain(?:s|ed|ing)?|kept|keep(?:s|ing)?|stored|storing|hosted|hosting|resid(?:e|es|ing)|"
    r"located|deployed|deploy(?:s|ing)?|run(?:s|ning)?|processed|live[sd]?|must\s+be|only)\s+(?:\w+\s+){0,2}?"
    r"(?:in|within|inside)|\bwithin|\binside|\bin-country\s+in)\s+(?:(?:the|an?|our)\s+)?$", re.IGNORECASE)
#: "EU residency is not required", "Azure Government is not needed": a requirement denied after it.
_NOT_REQUIRED_AFTER = re.compile(r"^[^.;,]{0,40}?\b(?:not|n't|no\s+longer)\s+(?:be\s+)?(?:required|needed|necessary|"
                                 r"a\s+requirement|mandatory|an?\s+(?:issue|concern|constraint))", re.IGNORECASE)
#: A government cloud named where the system runs: "on AWS GovCloud", a sentence that opens with it.
_ON_GOVERNMENT = re.compile(r"(?:\b(?:on|in|into|to|using|use|with|via)\s+(?:the\s+)?(?:AWS\s+|Microsoft\s+)?|^\W*)$",
                            re.IGNORECASE)


@dataclass
class Location:
    cloud: str | None = None
    cloud_hits: list[Hit] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    region_hits: list[Hit] = field(default_factory=list)
    negated_regions: list[str] = field(default_factory=list)
    negated_clouds: list[str] = field(default_factory=list)
    cloud_explicit: bool = False
    residency: str | None = None
    residency_hits: list[Hit] = field(default_factory=list)


def _kept_in(text: str, start: int) -> bool:
    """Data must not leave the place that starts at `start`."""
    lo, _ = clause_bounds(text, start, start)
    return bool(_KEPT_IN.search(text[max(lo, start - 80):start]))


def _excluded(text: str, start: int, end: int) -> bool:
    """Denied ("not on GCP") or left behind ("migrating from AWS"); "must not leave X" keeps X."""
    if is_negated(text, start, end):
        return not _kept_in(text, start)
    lo, _ = clause_bounds(text, start, end)
    return bool(_MIGRATED_FROM.search(text[max(lo, start - 80):start]))


def _vote(text: str, codes: list[tuple[str, str, Hit]]) -> tuple[str | None, list[Hit], list[str], bool]:
    g = gazetteer()
    score = {c: 0.0 for c in CLOUDS}
    first: dict[str, int] = {}
    evidence: dict[str, list[Hit]] = {c: [] for c in CLOUDS}
    negated: list[str] = []
    explicit = False
    for key, m in capped(g.cloud_mentions.finditer(text)):
        cloud, _ = key.split(":")
        if _excluded(text, m.start(), m.end()):
            negated.append(cloud)
            continue
        score[cloud] += g.cloud_mentions.tags.get(key, 1.0)
        explicit = explicit or key.endswith(":names")
        first.setdefault(cloud, m.start())
        evidence[cloud].append(Hit("cloud", cloud, m.start(), m.end(), m.group(0)))
    for _code, cloud, hit in codes:
        score[cloud] += 3.0
        first.setdefault(cloud, hit.start)
        evidence[cloud].append(Hit("cloud", cloud, hit.start, hit.end, hit.text))
    ranked = sorted((c for c in CLOUDS if score[c] > 0), key=lambda c: (-score[c], first.get(c, 0)))
    if not ranked:
        return None, [], dedupe(negated), False
    if len(ranked) > 1 and score[ranked[0]] == score[ranked[1]]:
        return None, [], dedupe(negated), False  # two clouds stated equally: ask, do not guess
    best = ranked[0]
    return best, sorted(evidence[best], key=lambda h: h.start), dedupe(negated), explicit


def _places(text: str, table_by_cloud: dict, cloud: str, residency: bool) -> tuple[list[Hit], list[str]]:
    hits: list[Hit] = []
    negated: list[str] = []
    for code, m in capped(table_by_cloud[cloud].finditer(text)):
        if _excluded(text, m.start(), m.end()):
            negated.append(code)
            continue
        if residency and not _residency_of(text, m.start(), m.end()):
            continue
        hits.append(Hit("regions", code, m.start(), m.end(), m.group(0)))
    return hits, negated


def _residency_of(text: str, start: int, end: int) -> bool:
    """The place at [start, end) is where data or the system must be, not a market or a people."""
    lo, hi = clause_bounds(text, start, end)
    near = text[max(lo, start - 50):min(hi, end + 25)]
    return bool(_RESIDENCY.search(near) or _kept_in(text, start) or _RESIDENCY_ONLY.match(text[end:min(hi, end + 20)]))


def _held_there(text: str, start: int, end: int, government: bool = False) -> bool:
    """The jurisdiction at [start, end) is where the data or the system must be, and is not denied."""
    lo, hi = clause_bounds(text, start, end)
    if _NOT_REQUIRED_AFTER.match(text[end:hi]):
        return False
    before = text[max(lo, start - 60):start]
    if government:
        return bool(_ON_GOVERNMENT.search(before) or _HELD_IN.search(before))
    return bool(_kept_in(text, start) or _HELD_IN.search(before) or _RESIDENCY_ONLY.match(text[end:min(hi, end + 20)]))


def _national(text: str, cloud: str | None) -> dict[str, list[Hit]]:
    """Countries the data must stay in whose law is their own (Switzerland, the UK, Canada, ...).

    A country the text keeps the data in is also its region when no region is named; where one is
    ("must not leave Switzerland, but deploy in West Europe"), the residency is what stays of it.
    Countries of the EEA share one jurisdiction in the catalogs: "must not leave Germany" keeps the
    data in the EEA at least.
    """
    if cloud not in CLOUDS:
        return {}
    hits, _ = _places(text, gazetteer().areas, cloud, residency=True)
    found: dict[str, list[Hit]] = {}
    for h in hits:
        geo = region_geo(h.value)
        if geo is not None and _held_there(text, h.start, h.end):
            found.setdefault(geo, []).append(Hit("data_residency", geo, h.start, h.end, h.text))
    return found


def _jurisdiction(text: str, named: list[Hit], national: dict[str, list[Hit]]) -> tuple[str | None, list[Hit]]:
    """The one jurisdiction wider than a region that the data must stay in, if the text names one.

    `named` are the regions' own mentions: "Europe" in "West Europe" names a region, not the EU.
    """
    found: dict[str, list[Hit]] = {geo: list(hits) for geo, hits in national.items()}
    for geo, pattern in _JURISDICTIONS:
        for m in capped(pattern.finditer(text)):
            if any(h.start <= m.start() < h.end or m.start() <= h.start < m.end() for h in named):
                continue
            if _excluded(text, m.start(), m.end()) or not _held_there(text, m.start(), m.end(),
                                                                      government=pattern is _GOVERNMENT):
                continue
            found.setdefault(geo, []).append(Hit("data_residency", geo, m.start(), m.end(), m.group(0)))
    if "us-gov" in found:
        found.pop("us", None)  # US government regions are in the US: the narrower one holds both
    if len(found) != 1:
        return None, []  # none, or several stated: regions decide, or the reviewer does
    (geo, hits), = found.items()
    return geo, hits


def extract_location(text: str, cloud_hint: str | None = None) -> Location:
    """Cloud and region codes stated in `text`; `cloud_hint` resolves places when no cloud is named."""
    g = gazetteer()
    codes: list[tuple[str, str, Hit]] = []
    loc = Location()
    for m in capped(g.code_regex.finditer(text)):
        code = m.group(0).lower()
        cloud = g.cloud_of_region(code)
        if cloud is None:
            continue
        if _excluded(text, m.start(), m.end()):
            loc.negated_regions.append(code)
            continue
        codes.append((code, cloud, Hit("regions", code, m.start(), m.end(), m.group(0))))
    loc.cloud, loc.cloud_hits, loc.negated_clouds, loc.cloud_explicit = _vote(text, codes)
    tier1 = [hit for _, _, hit in codes]
    place_cloud = loc.cloud or cloud_hint
    if place_cloud in CLOUDS:
        display, neg = _places(text, g.display, place_cloud, residency=False)
        loc.negated_regions += neg
        tier1 = sorted(tier1 + display, key=lambda h: h.start)
        hits = tier1
        if not hits:
            hits, neg = _places(text, g.cities, place_cloud, residency=False)
            loc.negated_regions += neg
        if not hits:
            hits, neg = _places(text, g.areas, place_cloud, residency=True)
            loc.negated_regions += neg
    else:
        hits = tier1
    loc.region_hits = hits
    loc.regions = [r for r in dedupe([h.value for h in hits]) if r not in loc.negated_regions]
    loc.negated_regions = dedupe(loc.negated_regions)
    named = tier1 + [h for h in hits if h not in tier1]
    loc.residency, loc.residency_hits = _jurisdiction(text, named, _national(text, place_cloud))
    return loc
