"""Text plumbing shared by the intake extractors: bounded input, clause windows, negation.

Every extractor works on the same prepared text, whose offsets equal those of the input
(characters are replaced one for one, never inserted or dropped), so that each value can
cite the exact span it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any, TypeVar

T = TypeVar("T")

#: Work is capped so that a pasted novel costs no more than a long requirement.
MAX_CHARS = 20_000
#: Mentions read per pattern: real requirements name a thing a handful of times, and
#: each mention costs a clause scan, so a text repeating "AWS" 5,000 times stays cheap.
MAX_MATCHES = 200

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
#: Bullets ("• no FaaS • Python/TS") end an item as a full stop would.
_CLAUSE_SEPARATORS = ".;:!?\n()[]{}|,\u2022\u25aa\u25e6\u2023\u25cf"


@dataclass(frozen=True)
class Hit:
    """One value found in the text, with the span it came from."""

    field: str
    value: Any
    start: int
    end: int
    text: str


@lru_cache(maxsize=1)
def _translation() -> dict[int, str]:
    """Control characters become spaces and dash variants a plain hyphen, one for one."""
    table: dict[int, str] = {c: " " for c in range(32) if c != 10}
    table.update({c: " " for c in range(127, 160)})
    table.update({ord(d): "-" for d in _DASHES})
    table[ord("\u2028")] = "\n"
    table[ord("\u2029")] = "\n"
    table[ord("\u00d7")] = "x"  # multiplication sign
    return table


def prepare(text: object) -> str:
    """The bounded, offset-preserving form of `text` every extractor reads."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    text = text[:MAX_CHARS]
    text = text.translate(_translation())
    # Lone surrogates cannot be encoded anywhere downstream; keep offsets, drop them.
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = "".join(" " if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def _is_separator(text: str, i: int) -> bool:
    """A clause boundary: punctuation (not a decimal point or thousands comma) or ' - '."""
    ch = text[i]
    if ch == "-":
        return 0 < i < len(text) - 1 and text[i - 1] == " " and text[i + 1] == " "
    if ch not in _CLAUSE_SEPARATORS:
        return False
    if ch in ".,:" and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit():
        return False
    # A dot inside a token ("node.js", "N.Virginia", "e.g.") does not end a clause.
    return not (ch == "." and 0 < i < len(text) - 1 and not text[i + 1].isspace())


def clause_bounds(text: str, start: int, end: int, limit: int = 160) -> tuple[int, int]:
    """The clause around [start, end): up to the nearest separator either side (bounded)."""
    lo = start
    floor = max(0, start - limit)
    while lo > floor and not _is_separator(text, lo - 1):
        lo -= 1
    hi = end
    ceil = min(len(text), end + limit)
    while hi < ceil and not _is_separator(text, hi):
        hi += 1
    return lo, hi


def sentence_bounds(text: str, start: int, end: int, limit: int = 300) -> tuple[int, int]:
    """The sentence around [start, end): up to '.', '!', '?', ';' followed by space, or a newline."""
    lo = start
    floor = max(0, start - limit)
    while lo > floor:
        ch = text[lo - 1]
        if ch == "\n" or (ch in ".!?;" and (lo >= len(text) or text[lo].isspace())):
            break
        lo -= 1
    hi = end
    ceil = min(len(text), end + limit)
    while hi < ceil:
        ch = text[hi]
        if ch == "\n" or (ch in ".!?;" and (hi + 1 >= len(text) or text[hi + 1].isspace())):
            break
        hi += 1
    return lo, hi


_NEG_WORDS = frozenset({
    "no", "not", "non", "without", "never", "avoid", "avoiding", "exclude", "excluding", "except", "nor",
    "neither", "cannot", "drop", "remove", "skip", "ban", "forbid", "forbidden", "prohibit", "prohibited",
    "lacks",
})
_NEG_PHRASES = re.compile(
    r"\b(?:instead of|rather than|other than|no longer|away from|moving off|move off|migrat\w* (?:off|from)|"
    r"mov\w* (?:away )?from|switch\w* (?:away )?from|get rid of|free of|not on|not in|"
    r"out of (?:the )?scope (?:for|of)|outside (?:the )?scope of)\b", re.IGNORECASE)
#: A move's source, not its destination: "migrated from Datadog to Prometheus" denies Datadog only.
_MOVE_SOURCE = re.compile(r"\b(?:from|off)\b", re.IGNORECASE)
_DESTINATION = re.compile(r"\b(?:to|onto|into|towards?)\b", re.IGNORECASE)
#: "... and from Jenkins to GitHub Actions": a source named after the verb that moves it.
_MOVE_VERB = re.compile(r"\b(?:migrat\w*|mov(?:e|ed|es|ing)|switch\w*|transition\w*|shift\w*|port(?:ed|ing)|"
                        r"went|replac\w*)\b", re.IGNORECASE)
_FROM_BEFORE = re.compile(r"\bfrom\s+(?:[\w-]+\s+){0,2}$", re.IGNORECASE)
#: "out of PCI scope", "outside the PCI DSS scope": the regime named, and denied, inside the phrase.
_OUT_OF_SCOPE_BEFORE = re.compile(r"\b(?:out\s+of|outside(?:\s+of)?|not\s+in|no\s+longer\s+in|descoped\s+from|"
                                  r"removed\s+from)\s+(?:the\s+|our\s+)?$", re.IGNORECASE)
_SCOPE_AFTER = re.compile(r"^[\s-]*(?:dss\s+|v?\d(?:\.\d)?\s+)?scope\b", re.IGNORECASE)
_WORD = re.compile(r"[\w'’/+-]+")
_NEG_AFTER = re.compile(
    r"^\s*(?:\([^)]{0,40}\)\s*)?(?:(?:is|are|was|were|will|would|should|must|can|could)\s+)?(?:be\s+)?"
    r"(?:not\b|never\b|n['’]t\b|isn['’]t\b|aren['’]t\b|doesn['’]t\b|does not\b|don['’]t\b|do not\b|won['’]t\b|"
    r"can['’]t\b|cannot\b|off the table|out of scope|excluded\b|forbidden\b|prohibited\b|banned\b|"
    r"unnecessary\b|not needed|not required|ruled out)", re.IGNORECASE)


def is_negated(text: str, start: int, end: int, words_before: int = 4) -> bool:
    """Whether the mention at [start, end) is denied in its clause.

    Looks at the last few words before it ("no PII", "we don't want to run clusters",
    "not on GCP") and at what directly follows ("serverless is not an option",
    "HIPAA does not apply"). The clause bound keeps "No PII, the data is public" from
    denying "public". A denial also reaches it through an or/nor list ("no clusters or
    Kubernetes"), a concession ("HIPAA was raised but does not apply") or a move away.
    """
    if _denied_in_clause(text, start, end, words_before) or _conceded_then_denied(text, start, end):
        return True
    return _moved_from(text, start, end) or _negated_list_head(text, start, end, words_before)


def _denied_in_clause(text: str, start: int, end: int, words_before: int) -> bool:
    """The words of the mention's own clause deny it: a negation just before or just after."""
    lo, hi = clause_bounds(text, start, end)
    before = text[max(lo, start - 60):start]
    words = _WORD.findall(before)[-words_before:]
    for w in words:
        lw = w.lower().replace("’", "'").strip("-/")
        if lw in _NEG_WORDS or lw.endswith("n't"):
            return True
    joined = " ".join(words)
    phrase = _NEG_PHRASES.search(joined) if words else None
    if phrase is not None and not (_MOVE_SOURCE.search(phrase.group(0)) and _DESTINATION.search(joined, phrase.end())):
        return True
    after = text[end:min(hi, end + 60)]
    if _OUT_OF_SCOPE_BEFORE.search(before) and _SCOPE_AFTER.match(after):
        return True
    return bool(_NEG_AFTER.match(after))


#: "HIPAA was raised but does not apply", "GDPR came up, but it is not relevant": a regime
#: mentioned, then denied in the same sentence.
_CONCEDED_AFTER = re.compile(
    r"\s*(?:(?:was|were|has\s+been|have\s+been|got|is|are)\s+)?(?:raised|mentioned|discussed|considered|"
    r"asked\s+about|brought\s+up|flagged|suggested|came\s+up|comes\s+up)\b(?:\s+[\w-]+){0,3}?\s*,?\s+but\s+"
    r"(?:it\s+|they\s+|this\s+|that\s+)?(?:does\s+not|doesn['’]t|do\s+not|don['’]t|is\s+not|isn['’]t|are\s+not|"
    r"aren['’]t|was\s+not|wasn['’]t|turned\s+out\s+not\s+to)\s+(?:apply|applies|relevant|needed|required|"
    r"in\s+scope|be\s+relevant)\b", re.IGNORECASE)


def _conceded_then_denied(text: str, start: int, end: int) -> bool:
    """Whether the mention is conceded and then denied in its sentence ("X was raised but does not apply").

    The comma before "but" would end the clause, so the sentence is read instead (bounded).
    """
    m = _CONCEDED_AFTER.match(text, end, min(len(text), end + 120))
    return m is not None and sentence_bounds(text, start, end, limit=120)[1] >= m.end()


_ITEM = r"[\w/+.'’-]+(?:\s+[\w/+.'’-]+){0,2}"
#: The item (up to three words) joined to a mention by "or"/"nor" ("clusters or Kubernetes"), or by a
#: comma inside such a list.
_LIST_LINK_BEFORE = re.compile(rf"(?P<item>{_ITEM})(?:\s*,\s*(?P<or>or|nor)?|\s+(?P<or2>or|nor))\s+$", re.IGNORECASE)
_LINK_END = re.compile(r"(?:\bn?or|,)\s+$", re.IGNORECASE)
_ITEM_WORD = re.compile(r"[\w/+.'’-]+")
#: The rest of an or/nor list after a middle item: "GCP" in "no AWS, GCP or Azure".
_OR_LIST_AFTER = re.compile(rf"(?:\s*,\s*{_ITEM}){{0,4}}\s*,?\s+(?:or|nor)\s+[\w/+.'’-]", re.IGNORECASE)
_MAX_LIST_ITEMS = 5


def _negated_list_head(text: str, start: int, end: int, words_before: int, in_or_list: bool = False,
                       depth: int = 0) -> bool:
    """Whether a negation earlier in an or/nor list covers this item too.

    "We don't want to manage clusters or Kubernetes", "no AWS, GCP or Azure": the negation
    before the first item denies every item the list joins with "or"/"nor". A list joined by
    "and", or a comma alone ("No PII, public data"), carries nothing: a comma links items only
    inside a list that "or"/"nor" closes (`in_or_list`, or an "or" already crossed).
    """
    if depth >= _MAX_LIST_ITEMS or not _LINK_END.search(text, max(0, start - 6), start):
        return False
    link = _LIST_LINK_BEFORE.search(text, max(0, start - 40), start)
    if link is None:
        return False
    if not (in_or_list or link.group("or") or link.group("or2")
            or _OR_LIST_AFTER.match(text, end, min(len(text), end + 80))):
        return False
    # the item may be several words ("Google Cloud or Azure"): any of them denied denies the list
    words = list(_ITEM_WORD.finditer(text, link.start("item"), link.end("item")))
    if any(_denied_in_clause(text, w.start(), w.end(), words_before) for w in reversed(words)):
        return True
    return _negated_list_head(text, link.start("item"), link.end("item"), words_before, True, depth + 1)


def _moved_from(text: str, start: int, end: int) -> bool:
    """Whether the mention is the source of a move stated earlier in its sentence ("..., and from X to Y")."""
    lo, hi = sentence_bounds(text, start, end)
    src = _FROM_BEFORE.search(text, max(lo, start - 40), start)
    if src is None or not _MOVE_VERB.search(text, lo, src.start()):
        return False
    _, c_hi = clause_bounds(text, start, end)
    return bool(re.match(r"\s+(?:[\w-]+\s+){0,2}?(?:to|onto|into)\b", text[end:c_hi], re.IGNORECASE))


def window(text: str, start: int, end: int, before: int, after: int, clause: bool = True) -> tuple[str, str]:
    """Text just before and after a mention, cut at its clause (or sentence) bounds."""
    lo, hi = clause_bounds(text, start, end) if clause else sentence_bounds(text, start, end)
    return text[max(lo, start - before):start], text[end:min(hi, end + after)]


def phrase_pattern(entry: str) -> str:
    """Regex source for an alias entry: a plain phrase, 're:' regex, or 'cs:' case-sensitive phrase."""
    if entry.startswith("re:"):
        body = entry[3:]
    else:
        cs = entry.startswith("cs:")
        phrase = entry[3:] if cs else entry
        parts = [re.escape(p) for p in re.split(r"[\s-]+", phrase.strip()) if p]
        body = r"[\s-]+".join(parts)
        if cs:
            body = f"(?-i:{body})"
    return rf"(?<!\w)(?:{body})(?!\w)"


def capped(matches: Iterable[T], limit: int = MAX_MATCHES) -> Iterator[T]:
    """The first `limit` items of a match iterator (see MAX_MATCHES)."""
    return islice(matches, limit)


def dedupe(values: list[Any]) -> list[Any]:
    """`values` without repeats, first occurrence kept."""
    seen: set[Any] = set()
    out: list[Any] = []
    for v in values:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out
