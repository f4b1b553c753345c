"""The intake vocabulary (gazetteer.yaml) as compiled, cached lookup tables.

Kept as data so that a new region, service or alias is a one-line change reviewed as
such, not a code change. Loaded on first use and cached for the life of the process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .extract_text import capped, phrase_pattern

GAZETTEER_PATH = Path(__file__).with_name("gazetteer.yaml")
CLOUDS: tuple[str, ...] = ("aws", "gcp", "azure")

#: Region-code shapes, for codes newer than the gazetteer.
_AWS_CODE = r"(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-(?:gov-|iso-|isob-)?(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-\d{1,2}"
#: Clouds whose region display names are plain place names ("Iowa", "Tokyo"): those
#: count as cities, not as explicit region names.
_PLACE_NAMED = frozenset({"gcp"})
_GCP_CODE = r"(?:us|europe|asia|australia|northamerica|southamerica|me|africa)-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)\d{1,2}"


def _first_letter(entry: str) -> str:
    """The character every match of an alias entry starts with, or '' when not fixed."""
    if entry.startswith("cs:"):
        return ""  # case-sensitive: a case-insensitive lookahead would still be right, keep it simple
    body = entry.removeprefix("re:")
    depth = 0
    for ch in body:  # a top-level alternation can start with anything
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "|" and depth == 0:
            return ""
    ch = body[:1]
    if ch.isalnum() and (len(body) < 2 or body[1] not in "?*{|"):
        return ch.lower()
    return ""


class AliasTable:
    """One regex over all aliases of a category; each match names its canonical id."""

    def __init__(self, table: dict[str, list[str]], tags: dict[str, Any] | None = None) -> None:
        entries: list[tuple[str, str]] = [(cid, e) for cid, aliases in table.items() for e in aliases or []]
        # Longer aliases first so that "soc 2 type ii" wins over "soc 2", "azure devops" over "azure".
        entries.sort(key=lambda ce: -len(ce[1]))
        self._ids: list[str] = []
        # Alternatives are grouped by their first letter behind a lookahead, so that at each
        # word start the engine tries only the aliases that can begin there (a flat
        # alternation of hundreds of aliases costs milliseconds per paragraph).
        buckets: dict[str, list[str]] = {}
        for i, (cid, entry) in enumerate(entries):
            self._ids.append(cid)
            buckets.setdefault(_first_letter(entry), []).append(f"(?P<a{i}>{phrase_pattern(entry)})")
        parts = [f"(?={re.escape(k)})(?:{'|'.join(v)})" for k, v in buckets.items() if k]
        parts += buckets.get("", [])
        body = "|".join(parts) or r"(?!x)x"
        self.regex: re.Pattern[str] = re.compile(rf"(?<!\w)(?:{body})", re.IGNORECASE)
        self.tags = tags or {}

    def finditer(self, text: str) -> list[tuple[str, re.Match[str]]]:
        """Every alias occurrence as (canonical id, match), in text order."""
        out: list[tuple[str, re.Match[str]]] = []
        for m in capped(self.regex.finditer(text)):
            name = m.lastgroup
            if name is not None:
                out.append((self._ids[int(name[1:])], m))
        return out

    def lookup(self, value: str) -> str | None:
        """The canonical id of a whole string (an answer), or None."""
        m = self.regex.fullmatch(value.strip())
        return self._ids[int(m.lastgroup[1:])] if m and m.lastgroup else None


@dataclass(frozen=True)
class Gazetteer:
    """Compiled vocabulary: region tables per cloud and alias tables per category."""

    raw: dict[str, Any]
    region_cloud: dict[str, str]
    display: dict[str, AliasTable]
    cities: dict[str, AliasTable]
    areas: dict[str, AliasTable]
    cloud_mentions: AliasTable
    compliance: AliasTable
    languages: AliasTable
    stack: AliasTable
    data_classes: AliasTable
    code_regex: re.Pattern[str]
    ambiguous_languages: frozenset[str] = field(default_factory=frozenset)
    list_only_language_aliases: frozenset[str] = field(default_factory=frozenset)

    def cloud_of_region(self, code: str) -> str | None:
        """The cloud a region code belongs to, from the gazetteer or the code's shape."""
        code = code.strip().lower()
        if code in self.region_cloud:
            return self.region_cloud[code]
        if re.fullmatch(_AWS_CODE, code):
            return "aws"
        if re.fullmatch(_GCP_CODE, code):
            return "gcp"
        return None

    def regions_of(self, cloud: str) -> list[str]:
        """All known region codes of `cloud`, in gazetteer order."""
        return list((self.raw.get("regions") or {}).get(cloud) or {})

    def common_regions(self, cloud: str | None) -> list[str]:
        """A handful of frequently chosen region codes (all clouds when `cloud` is unknown)."""
        common = self.raw.get("common_regions") or {}
        if cloud in common:
            return list(common[cloud])
        return [code for c in CLOUDS for code in (common.get(c) or [])[:2]]

    def eu_default(self, cloud: str | None) -> str | None:
        return (self.raw.get("eu_default_region") or {}).get(cloud or "")

    def resolve_place(self, value: str, cloud: str | None) -> str | None:
        """A region code for a code, display name or city given as an answer."""
        v = value.strip()
        if self.cloud_of_region(v):
            return v.lower()
        clouds = [cloud] if cloud else list(CLOUDS)
        for c in clouds:
            for table in (self.display, self.cities, self.areas):
                code = table[c].lookup(v)
                if code:
                    return code
        return None


def _place_table(regions: dict[str, Any], keys: tuple[str, ...]) -> AliasTable:
    table: dict[str, list[str]] = {}
    claimed: set[str] = set()
    for code, info in regions.items():
        values: list[str] = []
        for key in keys:
            values += [info.get(key)] if key == "name" else list(info.get(key) or [])
        for place in values:
            if place and place.lower() not in claimed:  # the first region listing a place wins
                claimed.add(place.lower())
                table.setdefault(code, []).append(place)
    return AliasTable(table)


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The compiled vocabulary (loaded once)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw: dict[str, Any] = yaml.load(GAZETTEER_PATH.read_text(encoding="utf-8"), Loader=loader) or {}
    regions: dict[str, dict[str, Any]] = raw.get("regions") or {}
    region_cloud = {code.lower(): cloud for cloud, table in regions.items() for code in table}
    mentions: dict[str, list[str]] = {}
    weights: dict[str, float] = {}
    for cloud, info in (raw.get("clouds") or {}).items():
        for kind, weight in (("names", 3.0), ("services", 1.0), ("weak", 0.5)):
            key = f"{cloud}:{kind}"
            mentions[key] = list(info.get(kind) or [])
            weights[key] = weight
    known_codes = sorted(region_cloud, key=len, reverse=True)
    code_regex = re.compile(
        rf"(?<![\w-])(?:{'|'.join(map(re.escape, known_codes))}|{_AWS_CODE}|{_GCP_CODE})(?![\w-])", re.IGNORECASE)
    return Gazetteer(
        raw=raw,
        region_cloud=region_cloud,
        display={c: _place_table(regions.get(c) or {}, () if c in _PLACE_NAMED else ("name",)) for c in CLOUDS},
        cities={c: _place_table(regions.get(c) or {}, ("name", "cities") if c in _PLACE_NAMED else ("cities",))
                for c in CLOUDS},
        areas={c: _place_table(regions.get(c) or {}, ("areas",)) for c in CLOUDS},
        cloud_mentions=AliasTable(mentions, tags=weights),
        compliance=AliasTable(raw.get("compliance") or {}),
        languages=AliasTable(raw.get("languages") or {}),
        stack=AliasTable(raw.get("stack") or {}),
        data_classes=AliasTable(raw.get("data_classes") or {}),
        code_regex=code_regex,
        ambiguous_languages=frozenset(raw.get("ambiguous_languages") or []),
        list_only_language_aliases=frozenset(a.lower() for a in raw.get("list_only_language_aliases") or []),
    )
