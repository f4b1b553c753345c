"""Number grammar: digits with either separator convention and magnitude suffixes.

Requirements are written by people in many locales: "2,500", "2.500", "1,5k", "€4.000",
"$1.2M", "10 000". One parser decides what a separator means so that every quantity
extractor reads numbers the same way.
"""

from __future__ import annotations

import math
import re

#: A number as written: digits with ',' '.' or thin/normal spaces between digit groups.
#: Digit runs and groups are bounded so that a run like "1,1,1,..." costs constant time
#: per position instead of scanning to its end from every start.
NUM = r"\d{1,15}(?:(?:[.,]|[ \u00a0\u202f](?=\d{3}(?!\d)))\d{1,15}){0,5}(?![\d])"
#: Magnitude suffix; the caller decides whether 'm' means million (money, counts).
SUFFIX = r"(?:\s?(?:k|K|thousand|mm|MM|m|M|mn|mio|million|millions|bn|b|B|billion|lakhs?|lacs?|crores?)(?![A-Za-z]))"

_MULT = {
    "k": 1e3, "thousand": 1e3,
    "m": 1e6, "mm": 1e6, "mn": 1e6, "mio": 1e6, "million": 1e6, "millions": 1e6,
    "b": 1e9, "bn": 1e9, "billion": 1e9,
    # the Indian system: "1 lakh INR" (100,000), "2 crore" (10 million)
    "lakh": 1e5, "lakhs": 1e5, "lac": 1e5, "lacs": 1e5, "crore": 1e7, "crores": 1e7,
}
_THOUSANDS_COMMA = re.compile(r"\d{1,3}(?:,\d{3})+")
_THOUSANDS_DOT = re.compile(r"\d{1,3}(?:\.\d{3})+")


def multiplier(suffix: str | None) -> float:
    """The factor of a magnitude suffix ('k' → 1000); 1 for none or unknown."""
    if not suffix:
        return 1.0
    return _MULT.get(suffix.strip().lower(), 1.0)


def parse_number(raw: str, dot_thousands: bool = False) -> float | None:
    """The value of a written number, or None when it is not one.

    A comma followed by exactly three digits groups thousands ("2,500"); otherwise it is a
    decimal comma ("1,5"). With both separators the later one is the decimal mark. A dot
    with three-digit groups is read as thousands only where the caller says so
    (`dot_thousands`, used for money: "€4.000"), since "99.999" is a percentage.
    """
    s = re.sub(r"[ \u00a0\u202f]", "", raw.strip())
    if not s or not s[0].isdigit():
        return None
    try:
        if "," in s and "." in s:
            if s.rfind(",") > s.rfind("."):
                s = s.replace(".", "").replace(",", ".")
            else:
                s = s.replace(",", "")
        elif "," in s:
            s = s.replace(",", "") if _THOUSANDS_COMMA.fullmatch(s) else s.replace(",", ".", 1).replace(",", "")
        elif "." in s and (s.count(".") > 1 or (dot_thousands and _THOUSANDS_DOT.fullmatch(s))):
            s = s.replace(".", "") if _THOUSANDS_DOT.fullmatch(s) else s.split(".")[0] + "." + s.split(".")[1]
        value = float(s)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return value


def parse_amount(raw: str, suffix: str | None = None, dot_thousands: bool = False) -> float | None:
    """A number with its magnitude suffix applied ("1,5" + "k" → 1500)."""
    value = parse_number(raw, dot_thousands=dot_thousands and not suffix)
    if value is None:
        return None
    return value * multiplier(suffix)


# ---------------------------------------------------------------- spelled-out numbers

_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
          "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
          "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
_NUMBER_WORD = rf"(?:{'|'.join(sorted(_UNITS, key=len, reverse=True))}|hundred|thousand|million|billion)"
#: A number written in words: "five thousand", "twenty-five thousand", "a million", "half a million".
#: Bounded to eight words ("one hundred and twenty-five thousand four hundred" is seven), so that a long
#: run of number words costs linear time, not a rescan of the run from every word.
WORD_NUM = rf"(?:(?:half[\s-]+)?an?[\s-]+)?{_NUMBER_WORD}(?:[\s-]+(?:and[\s-]+)?{_NUMBER_WORD}){{0,7}}(?![\w-])"


def parse_words(raw: str) -> float | None:
    """The value of a number written in words ("twenty five thousand" → 25000), or None."""
    tokens = [t for t in re.split(r"[\s-]+", raw.strip().lower()) if t and t != "and"]
    half = bool(tokens) and tokens[0] == "half"
    if half:
        tokens = tokens[1:]
    total, current, seen = 0.0, 0.0, False
    for i, tok in enumerate(tokens):
        if tok in ("a", "an"):
            if i != 0:
                return None
            current = 1.0
        elif tok in _UNITS:
            current += _UNITS[tok]
            seen = True
        elif tok == "hundred":
            current = (current or 1.0) * 100
            seen = True
        elif tok in _SCALES:
            total += (current or 1.0) * _SCALES[tok]
            current = 0.0
            seen = True
        else:
            return None
    if not seen:
        return None
    value = total + current
    return value / 2 if half else value


_DIGIT_WORDS = {"zero": 0, "oh": 0, "nought": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                "seven": 7, "eight": 8, "nine": 9}
_DIGIT_WORD = rf"(?:{'|'.join(_DIGIT_WORDS)})"
#: A decimal number in words: "ninety-nine point nine five" (digits after "point" one word each).
DECIMAL_WORDS = rf"{WORD_NUM}\s+point(?:[\s-]+{_DIGIT_WORD}){{1,6}}(?![\w-])"


def parse_decimal_words(raw: str) -> float | None:
    """The value of a decimal number in words ("ninety-nine point nine five" → 99.95), or None."""
    parts = re.split(r"\s+point[\s-]+", raw.strip().lower(), maxsplit=1)
    if len(parts) != 2:
        return None
    value = parse_words(parts[0])
    tokens = [t for t in re.split(r"[\s-]+", parts[1]) if t]
    if value is None or value != int(value) or not tokens or any(t not in _DIGIT_WORDS for t in tokens):
        return None
    digits = [str(_DIGIT_WORDS[t]) for t in tokens]
    return float(f"{int(value)}.{''.join(digits)}")
