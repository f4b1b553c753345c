"""Unit grammars for the numeric constraints: budget, latency, availability, throughput, volume.

Each extractor returns every reading it accepts as a `Hit`; a small selection rule per
field then picks the value (the budget nearest the word "budget", the p95 latency, the
peak rate), so that the choice is explainable from the spans.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .extract_numbers import (
    DECIMAL_WORDS,
    NUM,
    SUFFIX,
    WORD_NUM,
    parse_amount,
    parse_decimal_words,
    parse_number,
    parse_words,
)
from .extract_text import Hit, capped, clause_bounds, sentence_bounds, window

# ---------------------------------------------------------------- budget

#: Currencies are read at face value: a rate is not stable enough to fix in a rule, and
#: the budget is a planning bound, not an invoice.
#: ISO codes of currencies; those that are also common abbreviations (SAR, TRY, PEN, PHP) are left out.
_CODES = (r"USD|EUR|GBP|CAD|AUD|NZD|CHF|SEK|NOK|DKK|PLN|JPY|INR|SGD|HKD|BRL|MXN|ZAR|AED|IDR|QAR|ILS|KRW|CNY|TWD|"
          r"THB|MYR|VND|KWD|BHD|OMR|EGP|NGN|KES|CZK|HUF|RON|CLP|COP|ARS|PKR")
_CUR_PRE = rf"(?P<pre>(?:US|CA|AU|NZ|A|C|S|NZ|HK|R)\$|{_CODES}|\$|€|£|¥|₹)"
_CUR_POST = rf"(?P<post>{_CODES}|dollars?|euros?|pounds?|bucks|francs?|kronor|krona|yen|rupees?|\$|€|£|¥|₹)"
_PERIOD_AFTER = re.compile(
    rf"^\s*(?:{_CODES}|dollars?|euros?|pounds?)?\s*(?:total\s+|in\s+total\s+|max(?:imum)?\s+|budget\s+|of\s+spend\s+)?"
    r"(?:(?:/|(?:per|a|an|each|every)\b|p\.?)\s*|(?:for\s+the(?:\s+(?:whole|full|entire))?|for\s+(?:a|one)(?:\s+(?:whole|"
    r"full))?|this|over\s+the)\s+(?=(?:months?|quarters?|years?)\b))?"
    r"(?P<per>months?|mo|mos|mth|monthly|years?|yr|yrs|annum|annually|yearly|annual|weeks?|wk|weekly|days?|daily|"
    r"quarters?|quarterly|pm|pa|p\.a\.?)(?![A-Za-z])",
    re.IGNORECASE)
_PERIOD_BEFORE = re.compile(
    r"(?P<per>annual(?:ly)?|yearly|per\s+year|a\s+year|per\s+annum|monthly|per\s+month|a\s+month|weekly|per\s+week|"
    r"quarterly|per\s+quarter|daily|per\s+day)\b[^$€£\d]{0,30}$", re.IGNORECASE)
_PER_MONTH_FACTOR = {
    "month": 1.0, "months": 1.0, "mo": 1.0, "mos": 1.0, "mth": 1.0, "monthly": 1.0, "pm": 1.0,
    "year": 1 / 12, "years": 1 / 12, "yr": 1 / 12, "yrs": 1 / 12, "annum": 1 / 12, "annually": 1 / 12,
    "yearly": 1 / 12, "annual": 1 / 12, "pa": 1 / 12, "p.a": 1 / 12, "p.a.": 1 / 12,
    "week": 52 / 12, "weeks": 52 / 12, "wk": 52 / 12, "weekly": 52 / 12,
    "day": 365 / 12, "days": 365 / 12, "daily": 365 / 12,
    "quarter": 1 / 3, "quarters": 1 / 3, "quarterly": 1 / 3,
}
_BUDGET_WORD = re.compile(r"\b(?:budget\w*|spend(?:ing)?|cost(?:s|ing)?|cap(?:ped)?|afford\w*|cheap\w*|under|below|"
                          r"up\s+to|at\s+most|max(?:imum)?|no\s+more\s+than|less\s+than|limit(?:ed)?|keep\s+it|total|"
                          r"within|around|about|roughly|approx\w*|~)\b|~", re.IGNORECASE)
#: A ceiling is what the budget field holds: "stay under $2.5k" beats "about $3k now".
_CAP_WORD = re.compile(r"\b(?:budget\w*|cap(?:ped)?|ceiling|under|below|up\s+to|at\s+most|max(?:imum)?|"
                       r"no\s+more\s+than|less\s+than|limit(?:ed)?|stay\w*|keep\w*|afford\w*)\b", re.IGNORECASE)
_CURRENT_SPEND = re.compile(r"\b(?:now|currently|today|at\s+the\s+moment|so\s+far|current(?:ly)?\s+(?:spend|bill|"
                            r"cost)\w*|we\s+(?:pay|spend)|last\s+(?:month|year))\b", re.IGNORECASE)
_NOT_BUDGET = re.compile(r"\b(?:credits?|revenue|sales|saves?|saving|savings|loss(?:es)?|worth|raised|funding|salary|"
                         r"salaries|arr|mrr|gmv|fraud\s+of|fines?|penalt\w+|price[sd]?|valuation|turnover|losing)\b",
                         re.IGNORECASE)
_PER_UNIT_AFTER = re.compile(r"^\s*(?:/|(?:per|a|an|each)\b)\s*(?!month|mo\b|year|yr|annum|week|day|quarter)"
                             r"(?:1k|1,?000|thousand|million|[a-z]+)", re.IGNORECASE)
_UNIT_AFTER = re.compile(r"^\s*(?:ms|msec|milliseconds?|s|secs?|seconds?|minutes?|mins?|hours?|hrs?|%|percent|rps|qps|"
                         r"tps|gb|tb|pb|mb|requests?|events?|users?|stores?|cameras?|devices?|nodes?|gpus?|cpus?|"
                         r"x\b|times)\b", re.IGNORECASE)
_LATENCY_BUDGET = re.compile(r"\b(?:latency|error|time|timeout|compute|memory|token|performance)\s+budget\s*$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _money_regexes() -> tuple[re.Pattern[str], ...]:
    num, suf = rf"(?P<num>{NUM})", rf"(?P<suf>{SUFFIX})?"
    rng = rf"(?:\s*(?:-|to|and)\s*(?:US\$|\$|€|£|¥|₹)?\s*(?P<num2>{NUM})(?P<suf2>{SUFFIX})?)?"
    marked_pre = re.compile(rf"{_CUR_PRE}\s?{num}{suf}{rng}(?:\s?{_CUR_POST})?(?![\w%])")
    marked_post = re.compile(rf"(?<![\w$€£.,]){num}{suf}{rng}\s?{_CUR_POST}(?![A-Za-z])")
    after_word = re.compile(
        rf"\bbudget\w*(?:[^\d$€£.;:!?\n]|:){{0,30}}?(?<![\w$€£.,]){num}{suf}{rng}(?![\w%$€£])", re.IGNORECASE)
    # "five thousand dollars a month": an amount in words needs a currency word after it.
    in_words = re.compile(rf"(?<![\w$€£-])(?P<num>{WORD_NUM})\s+{_CUR_POST}(?![A-Za-z])", re.IGNORECASE)
    # "1.2M per year to spend": no currency, so the period and a spending word must both be there.
    per_period = re.compile(rf"(?<![\w$€£.,]){num}{suf}(?=\s*(?:/|per\b|a\b|an\b|each\b)\s*(?:months?|mo\b|"
                            r"years?|yr\b|annum|quarters?))", re.IGNORECASE)
    return marked_pre, marked_post, after_word, in_words, per_period


#: Spending words that make a bare "N per year" a budget (kind 4 above), anywhere in the sentence.
_SPEND_SENTENCE = re.compile(r"\b(?:budget\w*|spend(?:ing)?|to\s+spend|afford\w*|cost\s+(?:cap|ceiling|limit)|"
                             r"cloud\s+(?:bill|costs?))\b", re.IGNORECASE)


_USD_MARK = re.compile(r"^(?:US\$|\$|USD|dollars?|bucks|us\s+dollars?)$", re.IGNORECASE)
#: "£8k pcm, roughly $10,000", "CHF 27,000 per quarter (≈ USD 30,000)", "EUR 96,000 per annum, which
#: finance puts at USD 104,000": a USD figure right after a foreign amount, joined by a word of equivalence.
_USD_BESIDE = re.compile(
    rf"(?P<gap>[^\d;\n]{{0,45}}?)(?:(?P<pre>US\$|\$|USD)\s?(?P<num>{NUM})(?P<suf>{SUFFIX})?"
    # "i.e. roughly $11.5k to $15.3k": a range, whose upper end bounds the budget
    rf"(?:\s*(?:-|to)\s*(?:US\$|\$)?\s?(?P<num2>{NUM})(?P<suf2>{SUFFIX})?)?(?![\w%])|"
    rf"(?<![\w$€£.,])(?P<num_b>{NUM})(?P<suf_b>{SUFFIX})?\s?(?:USD|US\s+dollars?|dollars?)(?![A-Za-z]))",
    re.IGNORECASE)
_EQUIVALENT = re.compile(r"[(≈~=]|\b(?:roughly|about|around|approx\w*|i\.?\s?e|call\s+it|equivalent|equals?|"
                         r"or|which\s+is|that\s+is|that's|puts?\s+(?:it\s+)?at|works?\s+out|comes?\s+to|"
                         r"convert\w*|translates?\s+to|in\s+(?:usd|dollars))\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?]\s+[A-Z]")


def _is_foreign(groups: dict[str, str | None]) -> bool:
    """Whether an amount is marked with a currency other than the US dollar."""
    marks = [g for g in (groups.get("pre"), groups.get("post")) if g]
    return bool(marks) and not any(_USD_MARK.match(g.strip()) for g in marks)


def _usd_beside(text: str, end: int) -> tuple[float, int, str | None] | None:
    """The USD equivalent written right after a foreign amount: (value, end, its own period or None).

    Budgets in another currency often carry the figure finance plans with; that figure is the
    one in the field's unit, so it is taken as written rather than converted at a guessed rate.
    """
    m = _USD_BESIDE.match(text, end, min(len(text), end + 90))
    if m is None or not _EQUIVALENT.search(m.group("gap")) or _SENTENCE_END.search(m.group("gap")):
        return None
    if _NOT_BUDGET.search(m.group("gap")) or _CURRENT_SPEND.search(m.group("gap")):
        return None
    num, suf = (m.group("num"), m.group("suf")) if m.group("num") else (m.group("num_b"), m.group("suf_b"))
    if m.group("num2"):
        num, suf = m.group("num2"), m.group("suf2")
    value = parse_amount(num, suf, dot_thousands=True)
    if value is None:
        return None
    per = _PERIOD_AFTER.match(text[m.end():m.end() + 60])
    return value, m.end(), (per.group("per").lower() if per else None)


#: Spending that happened or happens, in the words just before the amount: "we paid our previous vendor",
#: "we currently pay", "the vendor charged us", "our current bill is". Unlike `_CURRENT_SPEND`, which
#: lowers an amount's score wherever it stands in the sentence, this drops the amount it governs.
_PAST_SPEND = re.compile(
    r"\b(?:we(?:['’]re|\s+are|\s+were)?\s+(?:currently\s+|now\s+|still\s+|already\s+)?(?:paid|pay|paying|spent|spend|"
    r"spending)|(?:currently|today)\s+(?:pay(?:ing)?|spend(?:ing)?|costs?)|charged|(?:costs?|costing|bills?|billed)\s+us|"
    r"(?:current|previous|old|existing|present)\s+(?:monthly\s+|annual\s+|cloud\s+)?(?:bill|spend|costs?|invoice|"
    r"run[- ]rate))\b(?:\s+[\w'’-]+){0,4}?\s*(?:is|was|of|at|:|around|about|roughly|~)?\s*$", re.IGNORECASE)


def _past_spend(before: str) -> bool:
    """Whether the words before an amount say it is spent now or was spent, not allowed.

    Past or current spend is never the budget, even where no budget is stated; a cap said with it
    ("we spend no more than $5k") still is one.
    """
    m = _PAST_SPEND.search(before)
    return m is not None and not _CAP_WORD.search(before, m.start())


#: "$1.5M over 12 months", "€90k for the next 18 months": a total over a stated number of months or years.
_SPAN_AFTER = re.compile(
    r"\s*(?:in\s+total\s+|total\s+)?(?:over|for|across|spread\s+(?:over|across)|covering)\s+(?:the\s+)?"
    r"(?:next\s+|first\s+|coming\s+|following\s+)?(?P<n>\d{1,3}|two|three|four|five|six|nine|twelve|eighteen|"
    r"twenty[- ]four|thirty[- ]six)\s+(?P<unit>months?|years?|quarters?)\b", re.IGNORECASE)
_SPAN_UNIT_MONTHS = {"m": 1.0, "y": 12.0, "q": 3.0}


def _span_months(after: str) -> float | None:
    """The months a total is spread over ("over 12 months" → 12), or None."""
    m = _SPAN_AFTER.match(after)
    if m is None:
        return None
    n = parse_number(m.group("n")) if m.group("n")[0].isdigit() else parse_words(m.group("n"))
    return n * _SPAN_UNIT_MONTHS[m.group("unit")[0].lower()] if n else None


def _is_usd(groups: dict[str, str | None]) -> bool:
    """Whether an amount is marked as US dollars."""
    marks = [g for g in (groups.get("pre"), groups.get("post")) if g]
    return bool(marks) and all(_USD_MARK.match(g.strip()) for g in marks)


def _foreign_period_before(text: str, start: int) -> str | None:
    """The period of the foreign amount a USD figure restates, or None.

    "between £9k and £12k per quarter, i.e. roughly $11.5k to $15.3k": the USD range is the
    same quarter's, even where the foreign amount itself is not read as a budget.
    """
    last: re.Match[str] | None = None
    for rx in _money_regexes()[:2]:
        for fm in capped(rx.finditer(text, max(0, start - 100), start)):
            if _is_foreign(fm.groupdict()) and (last is None or fm.end() > last.end()):
                last = fm
    if last is None:
        return None
    between = text[last.end():start]
    per = _PERIOD_AFTER.match(between)
    gap = between[per.end():] if per else ""
    if per is None or len(gap) > 45 or re.search(r"\d", gap) or _SENTENCE_END.search(gap):
        return None
    return per.group("per").lower() if _EQUIVALENT.search(gap) else None


def _period(text: str, start: int, before: str, after: str, groups: dict[str, str | None]) -> tuple[str | None, float]:
    """The period an amount is stated over and the factor that makes it monthly.

    Said after it ("$6k/month") or before it ("annual budget of $60,000"); a total spread over
    some months ("$1.5M over 12 months"); else, for a USD figure restating a foreign amount, that
    amount's period. None (taken as monthly) when the text gives none.
    """
    per_m = _PERIOD_AFTER.match(after)
    period = per_m.group("per").lower() if per_m else None
    if period is None:
        pb = _PERIOD_BEFORE.search(before)
        period = re.sub(r"^(?:per|a)\s+", "", pb.group("per").lower()) if pb else None
    if period is not None and period not in _PER_MONTH_FACTOR:
        period = period.rstrip(".")
    if period is None and (months := _span_months(after)):
        return "span", 1.0 / months
    if period is None and _is_usd(groups):
        period = _foreign_period_before(text, start)
    return period, _PER_MONTH_FACTOR.get(period or "month", 1.0)


def _money_hits(text: str) -> list[tuple[Hit, int]]:
    """Every amount that reads as a spending limit, with a preference score."""
    found: dict[int, tuple[Hit, int]] = {}
    for kind, rx in enumerate(_money_regexes()):
        for m in capped(rx.finditer(text)):
            start, end = m.start("num"), m.end()
            if start in found:
                continue
            before, after = window(text, m.start(), end, 60, 40)
            if _UNIT_AFTER.match(after) or _NOT_BUDGET.search(before[-35:]) or _NOT_BUDGET.search(after[:25]):
                continue
            if kind == 2 and _LATENCY_BUDGET.search(text[max(0, m.start() - 30):m.start() + 6]):
                continue
            groups = m.groupdict()
            if kind == 3:
                value = parse_words(m.group("num"))
            else:
                num, suf = groups.get("num2") or m.group("num"), groups.get("suf2") or m.group("suf")
                if groups.get("num2") and not groups.get("suf2"):
                    suf = None
                value = parse_amount(num, suf, dot_thousands=True)
            if value is None:
                continue
            if _past_spend(before):
                continue  # "we paid our previous vendor $38,000 a month": what was spent, not a limit
            if _PERIOD_AFTER.match(after) is None and _PER_UNIT_AFTER.match(after):
                continue  # "$0.02 per prediction", "$5 per GB": a price, not a budget
            period, factor = _period(text, m.start(), before, after, groups)
            sent_lo, sent_hi = sentence_bounds(text, start, end)
            sentence = text[sent_lo:sent_hi]
            budgety = bool(_BUDGET_WORD.search(before[-40:])) or "budget" in sentence.lower()
            if kind in (0, 1, 3) and period is None and not budgety:
                continue
            if kind == 4 and not _SPEND_SENTENCE.search(sentence):
                continue
            near = before[-40:]
            score = ((3 if "budget" in sentence.lower() else 0) + (2 if period else 0) + (1 if budgety else 0)
                     + (2 if _CAP_WORD.search(near) else 0) - (3 if _CURRENT_SPEND.search(sentence) else 0))
            hit_end = end
            if _is_foreign(groups) and (usd := _usd_beside(text, end)) is not None:
                value, hit_end = usd[0], usd[1]  # the stated USD equivalent, over the same period unless it names one
                factor = _PER_MONTH_FACTOR.get(usd[2], factor) if usd[2] else factor
            found[start] = (Hit("budget_monthly_usd", round(value * factor, 2), m.start(), hit_end,
                                text[m.start():hit_end]), score)
    return sorted(found.values(), key=lambda hs: hs[0].start)


def extract_budget(text: str) -> list[Hit]:
    """The monthly spending limit in USD (currencies at face value; annual figures / 12)."""
    hits = _money_hits(text)
    if not hits:
        return []
    best = max(hits, key=lambda hs: hs[1])  # max keeps the first of equal scores
    return [best[0]]


# ---------------------------------------------------------------- latency

_LAT = re.compile(
    rf"(?<![\w.,])(?:(?P<lo>{NUM})\s?(?:-|to)\s?)?(?P<num>{NUM})\s?-?"
    r"(?P<unit>µs|μs|usec|usecs|microseconds?|ms|msec|msecs|millis|milliseconds?|s|sec|secs|seconds?|min|mins|minutes?)"
    r"(?![\w/])", re.IGNORECASE)
_LAT_CONTEXT = re.compile(
    r"\b(?:within|under|below|less\s+than|up\s+to|at\s+most|max(?:imum)?|no\s+more\s+than|p\d{2,3}|percentile|"
    r"(?:not|never|n't)\s+(?:to\s+)?(?:exceed|go\s+(?:over|above))|"
    r"latency|latencies|respond\w*|response|answer\w*|reply|replies|return\w*|budget|sla|slo|take|takes|took|"
    r"sub|fast(?:er)?|in|decisions?|alert\w*|detect\w*|round[- ]trip|end[- ]to[- ]end|e2e|turnaround)\b|[<≤]", re.IGNORECASE)
_LAT_EXCLUDE_BEFORE = re.compile(r"\b(?:every|each|per|after|for|last|past|over|cold[- ]starts?\s+(?:of|take|are)?|"
                                 r"timeouts?\s+(?:of)?|ttl\s+(?:of)?|window\s+(?:of)?|retention\s+(?:of)?)\s*$", re.IGNORECASE)
_LAT_EXCLUDE_AFTER = re.compile(r"^\s*(?:-?\s*)?(?:windows?|intervals?|tumbling|sliding|buckets?|batches|of\s+"
                                r"(?:audio|video|speech|footage|data|history)|clips?|long|cold|ttl|timeouts?|"
                                r"retention|ago|delay(?:ed)?\s+is\s+fine|old)\b", re.IGNORECASE)
#: A latency word or a percentile right after the figure: "2.2 s at p95", "1.2 s at the 99th percentile".
_LAT_CONTEXT_AFTER = re.compile(r"\s*(?:at\s+(?:the\s+)?)?(?:p\d{2}|\d{2}(?:\.\d+)?(?:th)?[- ]percentile|budget|"
                                r"latency|sla|slo)\b", re.IGNORECASE)
_PCT_TAG = re.compile(r"\bp\s?(?P<p>\d{2,3}(?:\.\d+)?)\b|\b(?P<q>\d{2}(?:\.\d+)?)(?:th)?[- ]percentile|"
                      r"\b(?P<avg>median|average|avg|mean|typical(?:ly)?)\b", re.IGNORECASE)
_UNIT_MS = {"µs": 0.001, "μs": 0.001, "usec": 0.001, "usecs": 0.001, "microsecond": 0.001, "microseconds": 0.001,
            "ms": 1.0, "msec": 1.0, "msecs": 1.0, "millis": 1.0, "millisecond": 1.0, "milliseconds": 1.0,
            "s": 1000.0, "sec": 1000.0, "secs": 1000.0, "second": 1000.0, "seconds": 1000.0,
            "min": 60_000.0, "mins": 60_000.0, "minute": 60_000.0, "minutes": 60_000.0}


def _percentile(before: str, after: str) -> float | None:
    """The percentile a latency names: p95 → 95; median/mean → 50; None when untagged.

    A tag after the figure belongs to it only before the clause ends: in "p99 under 0.5 s; median
    around 50 ms" the median is the next figure's."""
    after = re.split(r"[;,]|\.(?:\s|$)", after, maxsplit=1)[0]
    tags_after = [m for m in capped(_PCT_TAG.finditer(after[:14]))]
    tags_before = [m for m in capped(_PCT_TAG.finditer(before[-40:]))]
    m = tags_after[0] if tags_after else (tags_before[-1] if tags_before else None)
    if m is None:
        return None
    if m.group("avg"):
        return 50.0
    return parse_number(m.group("p") or m.group("q") or "")


#: Durations in words: "half a second", "a quarter of a second", "two seconds", "a second and a half".
_LAT_WORDS = re.compile(
    r"(?<![\w-])(?P<num>half\s+an?|an?\s+quarter(?:\s+of\s+an?)?|three\s+quarters\s+of\s+an?|"
    r"an?\s+tenth\s+of\s+an?|an?|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"fifteen|twenty|thirty|sixty)\s+(?P<unit>seconds?|minutes?|milliseconds?)(?P<half>\s+and\s+a\s+half)?(?![\w-])",
    re.IGNORECASE)
_WORD_QTY = {"half a": 0.5, "half an": 0.5, "a quarter of a": 0.25, "a quarter of an": 0.25,
             "an quarter of a": 0.25, "a quarter": 0.25, "three quarters of a": 0.75, "three quarters of an": 0.75,
             "a tenth of a": 0.1, "a tenth of an": 0.1, "a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0,
             "five": 5.0, "six": 6.0, "seven": 7.0, "eight": 8.0, "nine": 9.0, "ten": 10.0, "fifteen": 15.0,
             "twenty": 20.0, "thirty": 30.0, "sixty": 60.0}
#: "a second region", "one second replica": the ordinal, not a duration. A singular
#: duration must end its phrase (punctuation, a percentile, "or less", ...).
_SINGULAR_END = re.compile(r"^\s*(?:$|[.,;:!?)\]]|-|p\d{2}|(?:or|and|at|for|with|per|in|on|max(?:imum)?|tops|"
                           r"end-to-end|e2e|latency|sla|slo|budget|is|are|should|must|will|would)\b)", re.IGNORECASE)


def _latency_mentions(text: str) -> list[tuple[int, int, str, float, str]]:
    """(start, end, text, value, unit) for every duration written in digits or in words."""
    out: list[tuple[int, int, str, float, str]] = []
    for m in capped(_LAT.finditer(text)):
        value = parse_number(m.group("num"))
        if value is not None:
            out.append((m.start(), m.end(), m.group(0), value, m.group("unit").lower()))
    for m in capped(_LAT_WORDS.finditer(text)):
        words = re.sub(r"\s+", " ", m.group("num").lower())
        unit = m.group("unit").lower()
        if not unit.endswith("s") and not m.group("half") and not _SINGULAR_END.match(text[m.end():m.end() + 20]):
            continue
        value = _WORD_QTY.get(words)
        if value is None:
            continue
        if m.group("half"):
            value += 0.5
        out.append((m.start(), m.end(), m.group(0), value, unit))
    return sorted(out)


def extract_latency(text: str) -> list[Hit]:
    """The decision latency bound in ms: p95 where given, else the strictest stated bound."""
    tagged: list[tuple[float, Hit]] = []
    untagged: list[Hit] = []
    averages: list[Hit] = []
    for m_start, m_end, m_text, value, unit in _latency_mentions(text):
        before, after = window(text, m_start, m_end, 45, 30)
        if _LAT_EXCLUDE_BEFORE.search(before) or _LAT_EXCLUDE_AFTER.match(after):
            continue
        if re.search(r"\bcold[- ]starts?\b", before[-30:] + after[:20], re.IGNORECASE):
            continue
        if _UNIT_MS.get(unit, 1000.0) > 1.0:
            strong = _LAT_CONTEXT.search(before[-30:]) or _LAT_CONTEXT_AFTER.match(after)
            if not strong:
                continue
            if unit.startswith("m") and not re.search(r"\b(?:within|under|less\s+than|up\s+to|at\s+most|no\s+more"
                                                      r"\s+than|latency|p\d{2})\b", before[-30:], re.IGNORECASE):
                continue
        if value <= 0:
            continue
        ms = value * _UNIT_MS.get(unit, 1.0)
        hit = Hit("sla_latency_ms", round(ms, 3), m_start, m_end, m_text)
        pct = _percentile(before, after)
        if pct is None:
            untagged.append(hit)
        elif pct >= 90:
            tagged.append((pct, hit))
        else:
            averages.append(hit)
    if tagged:
        p95 = [h for p, h in tagged if abs(p - 95) < 1e-9]
        if p95:
            return [min(p95, key=lambda h: h.value)]
        top = max(p for p, _ in tagged)
        return [min((h for p, h in tagged if p == top), key=lambda h: h.value)]
    if untagged:
        return [min(untagged, key=lambda h: h.value)]
    return [min(averages, key=lambda h: h.value)] if averages else []


# ---------------------------------------------------------------- availability

_AVAIL_PCT = re.compile(rf"(?<![\w.])(?P<num>{NUM})\s?(?:%|percent\b|per\s+cent\b)", re.IGNORECASE)
_AVAIL_BARE = re.compile(r"\b(?:availability|uptime|up-time|sla|slo)\s*(?:target|goal|of|:|=|at|>=|≥|is|\s)*\s*"
                         r"(?P<num>\d{2}\.\d+)(?![\d%])"
                         # "a 99.99 SLA", "99.9 uptime": the figure first
                         r"|(?<![\w.])(?P<first>\d{2}\.\d+)\s*(?:availability|uptime|up-time|sla|slo)\b", re.IGNORECASE)
_AVAIL_WORD = re.compile(r"\b(?:availab\w*|uptime|up-time|sla|slo|downtime|nines|reliab\w*|highly\s+available)\b",
                         re.IGNORECASE)
_NINES = re.compile(r"\b(?P<n>two|three|four|five|six|2|3|4|5|6)(?P<half>\s+and\s+a\s+half)?\s*(?:-\s*)?(?:nines|9['’]?s)\b",
                    re.IGNORECASE)
#: A percentage in words: "ninety-nine point nine five percent".
_AVAIL_PCT_WORDS = re.compile(rf"(?<![\w-])(?P<num>{DECIMAL_WORDS})\s*(?:%|percent\b|per\s+cent\b)", re.IGNORECASE)
_NINE_COUNT = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6}


def _nines(n: int, half: bool) -> float:
    value = 100.0 - 100.0 * 10 ** (-n)
    if half:
        value += 5 * 10 ** (-n + 2) / 10
    return round(value, 6)


#: Downtime allowed per period: "no more than 43 minutes of downtime per month", "downtime under 5 min a year".
_DOWN_UNIT = r"(?P<unit>seconds?|secs?|minutes?|mins?|hours?|hrs?|h|days?)"
_DOWN_PERIOD = r"(?:per|a|an|each|every|/|in\s+a|in\s+any)\s*(?P<per>day|week|month|quarter|year|annum)\b"
_DOWNTIME = re.compile(
    rf"(?<![\w.,])(?P<num>{NUM})\s?{_DOWN_UNIT}\s+(?:of\s+)?(?:(?:unplanned|planned|total|allowed|acceptable)\s+)?"
    rf"(?:downtime|outages?|unavailability)\s+{_DOWN_PERIOD}"
    rf"|\b(?:downtime|outages?|unavailability)\s+(?:budget\s+)?(?:of\s+|under\s+|below\s+|at\s+most\s+|"
    rf"up\s+to\s+|no\s+more\s+than\s+|less\s+than\s+|<\s*|≤\s*|:\s*|is\s+|must\s+stay\s+under\s+)*"
    rf"(?:about\s+|around\s+|roughly\s+|~\s*)?(?P<num2>{NUM})\s?(?P<unit2>seconds?|secs?|minutes?|mins?|hours?|hrs?|h|"
    rf"days?)\s+(?:(?:per|a|an|each|every|/|in\s+a|in\s+any)\s*(?P<per2>day|week|month|quarter|year|annum)\b)",
    re.IGNORECASE)
_MINUTES = {"s": 1 / 60, "m": 1.0, "h": 60.0, "d": 1440.0}
_PERIOD_MINUTES = {"day": 1440.0, "week": 10080.0, "month": 43830.0, "quarter": 131490.0, "year": 525960.0,
                   "annum": 525960.0}
#: The targets people mean when they give a downtime allowance instead of a percentage.
_STANDARD_TARGETS = (99.0, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999)
#: How far a stated allowance may be from a standard target's own (as a fraction of it) and still mean it:
#: allowances are quoted rounded ("43 minutes a month" for 99.9%, "5 minutes a year" for five nines).
_ALLOWANCE_TOLERANCE = 0.1


def _availability_from_downtime(down_min: float, period_min: float) -> float | None:
    """The availability a downtime allowance implies, snapped to the standard target it rounds.

    A figure within _ALLOWANCE_TOLERANCE of a standard target's allowance is that target; any other
    is the exact share of the period, since it was then not meant as one of the usual nines.
    """
    if not 0 < down_min < period_min:
        return None
    exact = 100.0 * (1 - down_min / period_min)
    for target in _STANDARD_TARGETS:
        allowance = period_min * (100.0 - target) / 100.0
        if abs(down_min - allowance) <= _ALLOWANCE_TOLERANCE * allowance:
            return target
    return round(exact, 4) if exact >= 90 else None


def _downtime_hits(text: str) -> list[Hit]:
    hits: list[Hit] = []
    for m in capped(_DOWNTIME.finditer(text)):
        num, unit, per = ((m.group("num"), m.group("unit"), m.group("per")) if m.group("num")
                          else (m.group("num2"), m.group("unit2"), m.group("per2")))
        value = parse_number(num)
        if value is None:
            continue
        down = value * _MINUTES[unit[0].lower() if not unit.lower().startswith("min") else "m"]
        target = _availability_from_downtime(down, _PERIOD_MINUTES[per.lower()])
        if target is not None:
            hits.append(Hit("availability_target", target, m.start(), m.end(), m.group(0)))
    return hits


_NOT_AVAILABILITY = re.compile(r"\b(?:accura\w*|precision|recall|f1|auc|confiden\w*|coverage|utili[sz]\w*|cpu|gpu|"
                               r"memory|disk)\b", re.IGNORECASE)


def _about_availability(text: str, start: int, end: int) -> bool:
    """Whether a percentage is an availability: an availability word near it, no model metric or resource."""
    lo, hi = sentence_bounds(text, start, end)
    return bool(_AVAIL_WORD.search(text, max(lo, start - 50), min(hi, end + 40))) and not _NOT_AVAILABILITY.search(
        text, max(lo, start - 25), min(hi, end + 15))


def extract_availability(text: str) -> list[Hit]:
    """The availability target in percent ("99.95%", "three nines", "uptime 99.9")."""
    hits: list[Hit] = []
    for m in capped(_NINES.finditer(text)):
        hits.append(Hit("availability_target", _nines(_NINE_COUNT[m.group("n").lower()], bool(m.group("half"))),
                        m.start(), m.end(), m.group(0)))
    for rx, parse in ((_AVAIL_PCT, parse_number), (_AVAIL_PCT_WORDS, parse_decimal_words)):
        for m in capped(rx.finditer(text)):
            value = parse(m.group("num"))
            if value is not None and 90 <= value <= 100 and _about_availability(text, m.start(), m.end()):
                hits.append(Hit("availability_target", value, m.start(), m.end(), m.group(0)))
    for m in capped(_AVAIL_BARE.finditer(text)):
        group = "num" if m.group("num") else "first"
        value = parse_number(m.group(group))
        if value is not None and 90 <= value <= 100:
            hits.append(Hit("availability_target", value, m.start(group), m.end(group), m.group(group)))
    hits.sort(key=lambda h: h.start)
    return hits[:1] or _downtime_hits(text)[:1]  # a percentage said outright wins over a downtime allowance


# ---------------------------------------------------------------- throughput

_RATE = re.compile(
    rf"(?<![\w.,$€£])(?:(?P<num>{NUM})(?P<suf>{SUFFIX})?|(?P<word>once|twice|thrice)|(?P<wnum>{WORD_NUM}))\s*"
    r"(?:(?P<abbr>rps|qps|tps|eps|fps|req/s|reqs/s|rq/s|msg/s|msgs/s|ops/s|op/s|ev/s|events/s|inferences/s|"
    r"requests/s|predictions/s)(?![\w/])"
    r"|(?P<abbr_min>rpm|qpm|tpm|req/min|reqs/min|requests/min|events/min|msgs?/min)(?![\w/])"
    r"|(?P<noun>(?:[A-Za-z][\w'-]*(?:\s+|(?=/))){0,3}?)"
    r"(?:(?:per|/|from\s+each|for\s+each|each)\s+(?P<unit1>[A-Za-z][\w-]*)\s+)?"
    r"(?:per|/|a|an|each|every)\s*(?P<per>seconds?|secs?|s|minutes?|mins?|min|hours?|hrs?|hr|h)(?![\w/]))",
    re.IGNORECASE)
#: "a GPS ping every 2 seconds", "one reading every 30 s", "(vans) report their position every
#: 5 s": a count over an interval.
_EVERY = re.compile(
    rf"(?<![\w.,$€£])(?:(?P<num>{NUM})(?P<suf>{SUFFIX})?|(?P<word>once|twice|thrice|an?|one|their|its|each))\s+"
    r"(?P<noun>(?:[A-Za-z][\w'-]*\s+){0,3}?)every\s+(?P<n>\d{1,4}(?:\.\d+)?|two|three|four|five|ten|fifteen|"
    r"twenty|thirty|sixty)\s*(?P<per>seconds?|secs?|s|minutes?|mins?|min)(?![\w/])",
    re.IGNORECASE)
_INTERVAL_WORDS = {"two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "ten": 10.0, "fifteen": 15.0,
                   "twenty": 20.0, "thirty": 30.0, "sixty": 60.0}
#: Per-hour counts of these are schedules, not traffic ("3 runs per hour").
_SCHEDULE_NOUN = re.compile(r"\b(?:runs?|jobs?|batch(?:es)?|times?|re-?train\w*|refresh\w*|backups?|snapshots?|"
                            r"deploy\w*|builds?|releases?|reports?|exports?|syncs?)\b", re.IGNORECASE)
_BAD_NOUN = re.compile(r"\b(?:ms|msec|milliseconds?|seconds?|secs?|minutes?|mins?|hours?|days?|times?|dollars?|"
                       r"usd|eur|gb|tb|mb|pb|percent|nines|p\d\d|x)\b", re.IGNORECASE)
_COUNT = r"(?P<n>{num})(?P<s>{suf})?\s+(?:(?!(?:per|each|a|an|every|from|for)\b)[A-Za-z][\w-]*\s+)?{unit}(?:e?s)?\b"
#: A count of things: "12 cameras", "2,000 smart meters".
_COUNTED = rf"(?P<n>{NUM})(?P<s>{SUFFIX})?\s+(?:[A-Za-z][\w-]*\s+)?(?P<unit>[A-Za-z][\w-]*s)\b"
#: "500 devices, each sending 2 readings per second": the rate is in the clause "each" opens (a later
#: clause, "..., and operators query an API (about 50 requests per second)", is another rate's).
_EACH_BEFORE = re.compile(_COUNTED + r"[^.;]{0,25}?\b(?:each|every\s+one|apiece)\b[^.;,()]*$", re.IGNORECASE)
_EACH_UNIT_BEFORE = re.compile(r"\b(?:each|every|per|a\s+single)\s+(?P<unit>[A-Za-z][\w-]*)\b[^.;]{0,40}$", re.IGNORECASE)
_TIMES_AFTER = re.compile(rf"^\s*(?:per\s+[A-Za-z]+\s*)?(?:x|\*|times|multiplied\s+by)\s*(?P<n>{NUM})(?P<s>{SUFFIX})?",
                          re.IGNORECASE)
_WORD_COUNT = {"once": 1.0, "twice": 2.0, "thrice": 3.0}
#: What a bare rate counts, named just before it in its sentence: "events at 2 million per hour", "orders:
#: 50k/h", "playback events stream in at 1.44 million per hour", "readings arrive continuously, 2.16 million
#: per hour".
_TRAFFIC_BEFORE = re.compile(
    r"\b(?P<noun>events?|requests?|messages?|msgs|transactions?|txns?|readings?|records?|calls?|queries|"
    r"predictions?|inferences?|orders?|clicks?|impressions?|images?|frames?|documents?|payments?|logins?|"
    r"sessions?|pings?)\b\s*(?:(?:[\w-]+\s+){0,3}?(?:at|of|:|=|around|about|~|peak(?:s|ing)?\s+at|reach\w*)|"
    r"(?:[\w-]+\s+){0,2}[\w-]+,)\s*$", re.IGNORECASE)
#: A rate that ends "each" or "apiece" is per unit of the count before it ("12 cameras at 30 fps each").
_TRAILING_EACH = re.compile(r"^\s*(?:each|apiece)\b", re.IGNORECASE)
#: What devices do with the data they make: "meters push a reading", "vans report their position".
_SENDS = re.compile(r"\b(?:send|emit|report|push|publish|transmit|upload|post|stream|produce|ping|beacon|log)"
                    r"(?:s|es|ed|ing)?\b", re.IGNORECASE)
#: "90,000 cows each report every 10 minutes", "5,000 meters send every 15 minutes": the things counted,
#: then the verb (plural, so "3 reports every 10 minutes" stays a schedule of reports).
_SENDERS_REPORT = re.compile(r"[A-Za-z][\w'-]*\s+(?:each\s+|all\s+|also\s+)?(?:send|emit|report|push|publish|"
                             r"transmit|upload|post|stream|ping|beacon)\s*$", re.IGNORECASE)
#: A count of things on its own, the nearest before a per-unit rate is what it is per.
_COUNT_BEFORE = re.compile(r"(?<![\w.,$€£])" + _COUNTED, re.IGNORECASE)
_PEAK = re.compile(r"(?<!off-)(?<!off\s)(?<!non-)\b(?:peak\w*|burst\w*|max(?:imum)?|spikes?|up\s+to|high\s+season)\b",
                   re.IGNORECASE)
#: "12k QPS during the evening peak", "90k RPM peak": a peak word after the rate, in its clause.
_PEAK_AFTER = re.compile(r"^[^\d]{0,30}?(?<!off-)(?<!off\s)(?<!non-)\b(?:peak\w*|bursts?|max(?:imum)?|at\s+most\b(?!\s+times))\b",
                         re.IGNORECASE)
#: Revolutions, not requests: "turbines spinning at 1,800 RPM".
_REVOLUTIONS = re.compile(r"\b(?:spin\w*|rotat\w*|motors?|engines?|shafts?|turbines?|fans?|spindles?|rev\w*|"
                          r"drills?|wheels?|rotors?|pumps?)\b", re.IGNORECASE)
_AVG = re.compile(r"\b(?:average|avg|mean|typical(?:ly)?|normal(?:ly)?|baseline|steady|off-?\s?peak|quiet(?:er)?|"
                  r"overnight|at\s+night)\b", re.IGNORECASE)
#: A peak stated as a multiple of the rate before it: "500 tps on average, with peaks at 5x".
_FACTOR_NUM = r"\d+(?:\.\d+)?|two|three|four|five|six|eight|ten"
_PEAK_FACTOR = re.compile(rf"\b(?:peak\w*|burst\w*|spikes?)(?:\s+(?:rate|traffic|load|volume|throughput))?\s+"
                          rf"(?:is\s+|are\s+|of\s+|at\s+|around\s+|about\s+|up\s+to\s+|reach\w*\s+)*"
                          rf"(?:(?P<f>{_FACTOR_NUM})\s*(?:x|×|times)(?![\w])|(?P<twice>twice|double))"
                          rf"|\b(?P<g>{_FACTOR_NUM})\s*(?:x|×|times)\s+"
                          r"(?:that\s+|this\s+)?(?:at\s+)?(?:peaks?|bursts?)\b"
                          # "2,000 rps normally and 3x that during campaign launches": a multiple of the rate
                          # just stated ("3x that of last year" compares with something else)
                          rf"|\b(?P<h>{_FACTOR_NUM})\s*(?:x|×|times)\s+(?:that|this|it)\b(?!\s+of\b)", re.IGNORECASE)
_FACTOR_WORDS = {"two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0, "eight": 8.0, "ten": 10.0}
#: A daily count is a rate only where the text also gives its peak as a multiple of it
#: ("8.64 million events per day, and the peak is three times the average"); alone it is a volume.
_PER_DAY = re.compile(
    rf"(?<![\w.,$€£])(?P<num>{NUM})(?P<suf>{SUFFIX})?\s+(?P<noun>(?:[A-Za-z][\w'-]*\s+){{1,3}}?)"
    r"(?:per|a|each|every|/)\s*day\b", re.IGNORECASE)


def _factor(m: re.Match[str]) -> float:
    """The multiple a peak-factor phrase states ("5x", "three times", "twice")."""
    if m.group("twice"):
        return 2.0
    raw = (m.group("f") or m.group("g") or m.group("h")).lower()
    return _FACTOR_WORDS.get(raw) or float(raw)


def _daily_peak(text: str) -> list[tuple[Hit, bool, bool]]:
    """Peak rates from a daily count and the peak factor stated after it in the sentence."""
    out: list[tuple[Hit, bool, bool]] = []
    for m in capped(_PER_DAY.finditer(text)):
        if _BAD_NOUN.search(m.group("noun")) or _SCHEDULE_NOUN.search(m.group("noun")):
            continue
        _, hi = sentence_bounds(text, m.start(), m.end())
        pf = _PEAK_FACTOR.search(text, m.end(), hi)
        value = parse_amount(m.group("num"), m.group("suf"))
        if pf is None or value is None or _RATE.search(text, m.end(), pf.start()):
            continue
        out.append((Hit("throughput_rps", round(value / 86400 * _factor(pf), 3), m.start(), m.end(), m.group(0)),
                    True, False))
    return out


def _count_of(text: str, unit: str, lo: int, hi: int, skip: tuple[int, int]) -> float | None:
    """How many `unit`s the text states ("500 cameras"), preferring the given sentence."""
    stem = re.escape(unit.lower().rstrip("s") if len(unit) > 3 else unit.lower())
    rx = re.compile(_COUNT.format(num=NUM, suf=SUFFIX, unit=stem), re.IGNORECASE)
    for segment_lo, segment_hi in ((lo, hi), (0, len(text))):
        for m in capped(rx.finditer(text, segment_lo, segment_hi)):
            if skip[0] <= m.start() < skip[1]:
                continue
            value = parse_amount(m.group("n"), m.group("s"))
            if value:
                return value
    return None


#: A rate of requests an API answers, told apart from a rate of events a stream carries.
_REQUEST_ABBR = frozenset({"rps", "qps", "req/s", "reqs/s", "rq/s", "requests/s", "predictions/s", "inferences/s",
                           "rpm", "qpm", "req/min", "reqs/min", "requests/min"})
_REQUEST_NOUN = re.compile(r"\b(?:requests?|reqs?|queries|query|calls?|lookups?|predictions?|inferences?|hits)\b",
                           re.IGNORECASE)
_EVENT_NOUN = re.compile(r"\b(?:events?|messages?|msgs|readings?|records?|transactions?|txns?|clicks?|impressions?|"
                         r"pings?|frames?|logs?|signals?|updates?|measurements?|telemetry|rows?)\b", re.IGNORECASE)
_EVENT_ABBR = frozenset({"eps", "ev/s", "events/s", "msg/s", "msgs/s", "fps", "events/min", "msg/min", "msgs/min"})
_API_BEFORE = re.compile(r"\b(?:api|apis|endpoints?|serv(?:e|es|ing)|answers?|responds?|lookups?)\b[^.;]{0,40}$",
                         re.IGNORECASE)


def _kind(m: re.Match[str], noun: str, text: str, lo: int) -> str:
    """`request`, `event` or `other`: what a rate counts, by its unit, its noun or an API just before it."""
    abbr = (m.groupdict().get("abbr") or m.groupdict().get("abbr_min") or "").lower()
    if abbr in _REQUEST_ABBR or _REQUEST_NOUN.search(noun):
        return "request"
    if abbr in _EVENT_ABBR or _EVENT_NOUN.search(noun):
        return "event"
    if _API_BEFORE.search(text, max(lo, m.start() - 50), m.start()):
        return "request"
    return "other"


def _pick(hits: list[tuple[Hit, bool, bool]]) -> Hit | None:
    """The peak among rates: one said to be the peak, else the largest not said to be an average."""
    if not hits:
        return None
    peaks = [h for h, peak, _ in hits if peak]
    pool = peaks or [h for h, _, avg in hits if not avg] or [h for h, _, _ in hits]
    return max(pool, key=lambda h: h.value)


def extract_rates(text: str) -> tuple[list[Hit], list[Hit]]:
    """(peak rate, the API's own peak requests): the second only where the text gives the API's requests
    apart from a larger event rate ("50,000 events per second in, about 500 requests per second on the
    API"), and the first is then the events'. An average or off-peak rate is never the API's peak."""
    rates = _rates(text)
    overall = _pick([(h, peak, avg) for h, peak, avg, _ in rates])
    if overall is None:
        return [], []
    requests = _pick([(h, peak, avg) for h, peak, avg, kind in rates if kind == "request" and not avg])
    events = _pick([(h, peak, avg) for h, peak, avg, kind in rates if kind == "event"])
    if requests is None or events is None or requests.value >= events.value:
        return [overall], []
    peak = events if events.value > overall.value else overall
    return [peak], [Hit("request_rps", requests.value, requests.start, requests.end, requests.text)]


def _rates(text: str) -> list[tuple[Hit, bool, bool, str]]:
    """Every rate stated: (hit, said to be the peak, said to be an average, what it counts)."""
    hits: list[tuple[Hit, bool, bool, str]] = []
    mentions = sorted(list(capped(_RATE.finditer(text))) + list(capped(_EVERY.finditer(text))), key=lambda x: x.start())
    for m in mentions:
        g = m.groupdict()
        noun = g.get("noun") or ""
        if _BAD_NOUN.search(noun) or _BAD_NOUN.search(g.get("unit1") or ""):
            continue
        per = "min" if g.get("abbr_min") else (g.get("per") or "s").lower()
        if g.get("abbr_min") and _REVOLUTIONS.search(text, max(0, m.start() - 60), m.start()):
            continue
        if not g.get("abbr") and not g.get("abbr_min") and per == "s" and not re.search(r"/\s*s$", m.group(0)) and not g.get("n"):
            continue  # "a s" is not a unit; only "/s"
        hourly = per.startswith("h")
        if not noun.strip() and (named := _TRAFFIC_BEFORE.search(text, max(0, m.start() - 40), m.start())):
            noun = named.group("noun")  # "events at 2 million per hour"
        if hourly and (per == "h" and not re.search(r"/\s*h$", m.group(0)) or not noun.strip()
                       or _SCHEDULE_NOUN.search(noun)):
            continue  # "3 runs per hour" is a schedule; "h" alone only as "/h"
        senders = bool(g.get("n") and g.get("num") and _SENDERS_REPORT.match(noun))
        if g.get("n") and _SCHEDULE_NOUN.search(noun) and not senders:
            continue  # "a snapshot every 30 minutes" is a schedule too
        word = (g.get("word") or "").lower()
        value = (_WORD_COUNT.get(word, 1.0) if word else parse_words(g["wnum"]) if g.get("wnum")
                 else parse_amount(m.group("num"), m.group("suf")))
        if value is None:
            continue
        if g.get("n"):  # "... every 2 seconds"
            interval = _INTERVAL_WORDS.get(g["n"].lower()) or parse_number(g["n"])
            if not interval:
                continue
            value /= interval
        if per.startswith("min"):
            value /= 60.0
        elif hourly:
            value /= 3600.0
        lo, hi = sentence_bounds(text, m.start(), m.end())
        before = text[lo:m.start()]
        after = text[m.end():hi]
        unit = g.get("unit1")
        if unit is None:
            um = re.match(r"^\s*(?:per|/|for\s+each|from\s+each|each)\s+(?:of\s+)?(?:the\s+|our\s+)?"
                          rf"(?:(?P<n>{NUM})(?P<s>{SUFFIX})?\s+)?(?P<unit>[A-Za-z][\w-]*)", after, re.IGNORECASE)
            if um and um.group("n"):
                count = parse_amount(um.group("n"), um.group("s"))
                value *= count or 1.0
                unit = None
            elif um:
                unit = um.group("unit")
        count: float | None = None
        tm = _TIMES_AFTER.match(after)
        if tm:
            count = parse_amount(tm.group("n"), tm.group("s"))
        elif unit:
            count = _count_of(text, unit, lo, hi, (m.start(), m.end()))
        else:
            eb = _EACH_BEFORE.search(before)
            if eb:
                count = parse_amount(eb.group("n"), eb.group("s"))
            else:
                ub = _EACH_UNIT_BEFORE.search(before)
                if ub and ub.group("unit").lower() not in ("second", "sec", "minute", "min", "day", "hour", "month", "week", "year", "night"):
                    count = _count_of(text, ub.group("unit"), lo, hi, (m.start(), m.end()))
        each = word == "each" or bool(_TRAILING_EACH.match(after))
        if not count and not unit and (g.get("n") or each):
            # "12 cameras at 30 fps each", "2,000 meters push a reading every 30 s": per unit of the
            # things counted before it in the sentence; an interval only where they send it
            counted = [cb for cb in _COUNT_BEFORE.finditer(text, lo, m.start()) if not _BAD_NOUN.search(cb.group(0))]
            if counted and (not g.get("n") or each or _SENDS.search(text, counted[-1].end(), m.start())):
                count = parse_amount(counted[-1].group("n"), counted[-1].group("s"))
        if g.get("n") and not count and senders:
            count = 1.0  # "90,000 cows each report every 10 minutes": the number counts the senders
        if g.get("n") and not count:
            continue  # "a checkpoint every 30 s" alone is a schedule; per device it is traffic
        value *= count or 1.0
        c_lo, _ = clause_bounds(text, m.start(), m.end())
        near = text[max(lo, m.start() - 40):m.end()]
        near = near[near.rfind("(") + 1:]  # "peak (daytime is around 3k QPS)": the aside is not the peak
        _, c_hi = clause_bounds(text, m.start(), m.end())
        peak = bool(_PEAK.search(near)) or bool(_PEAK_AFTER.match(text[m.end():c_hi]))
        if (pf := _PEAK_FACTOR.search(text, m.end(), hi)) is not None and not _RATE.search(text, m.end(), pf.start()):
            value *= _factor(pf)  # the peak is this rate times the factor
            peak = True
        hits.append((Hit("throughput_rps", round(value, 3), m.start(), m.end(), m.group(0)),
                     peak, bool(_AVG.search(text[max(c_lo, m.start() - 30):m.start()])), _kind(m, noun, text, lo)))
    hits += [(h, peak, avg, "event") for h, peak, avg in _daily_peak(text)]
    return hits


# ---------------------------------------------------------------- data volume

_VOLUME = re.compile(rf"(?<![\w.,])(?P<num>{NUM})\s?(?P<unit>KB|MB|GB|TB|PB|kilobytes?|megabytes?|gigabytes?|"
                     r"terabytes?|petabytes?)(?![\w/])", re.IGNORECASE)
_VOLUME_GB = {"k": 1e-6, "m": 1e-3, "g": 1.0, "t": 1e3, "p": 1e6}
_NOT_STORED = re.compile(r"\b(?:ram|memory|vram|hbm|per\s+(?:day|hour|month|second|minute|node|gpu)|a\s+day|/day|"
                         r"/hour|/s|daily|hourly|each\s+day|model|weights|image\s+size|file\s+size)\b", re.IGNORECASE)


def extract_data_volume(text: str) -> list[Hit]:
    """Data volume held, in GB (decimal units): "2 TB of history" → 2000; memory sizes ignored."""
    best: Hit | None = None
    for m in capped(_VOLUME.finditer(text)):
        before, after = window(text, m.start(), m.end(), 25, 25)
        if _NOT_STORED.search(before[-15:] + " " + after[:20]):
            continue
        value = parse_number(m.group("num"))
        if value is None:
            continue
        gb = value * _VOLUME_GB[m.group("unit")[0].lower()]
        if best is None or gb > best.value:
            best = Hit("data_volume_gb", round(gb, 6), m.start(), m.end(), m.group(0))
    return [best] if best else []
