"""Limits on the free text that reaches prompts, events and files: length and characters.

Text from users (requirements, answers, approval comments, waiver reasons) and the short names
inside constraints (existing_stack, team_languages, …) travel into model prompts, Reason Cards,
git commits and generated docs. Limits here make each of those safe to build: no NUL or other
control characters (tabs and newlines excepted in prose), a bounded length, and for names a small
character set, so a "tool name" cannot carry a paragraph of instructions or a prompt delimiter.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

MAX_TEXT = 20_000
MAX_SHORT_TEXT = 2_000
MAX_NAME = 64
MAX_NAMES = 32

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NAME = re.compile(r"^[a-z0-9.][a-z0-9 ._+#/-]*$")


def no_control_chars(value: str) -> str:
    if (m := _CONTROL.search(value)) is not None:
        raise ValueError(f"control character U+{ord(m.group()):04X} at position {m.start()} is not allowed")
    return value


def _name(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _name_chars(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("names are lowercase letters, digits, spaces and . _ + # / - (starting with a letter or "
                         "digit)")
    return value


#: Prose from a person (requirements, answers, comments).
FreeText = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(no_control_chars)]
#: A short reason or note (waiver reasons, by-lines).
ShortText = Annotated[str, Field(max_length=MAX_SHORT_TEXT), AfterValidator(no_control_chars)]
#: The name of a tool, language or preference: normalised to lowercase, small character set.
Name = Annotated[str, BeforeValidator(_name), Field(min_length=1, max_length=MAX_NAME), AfterValidator(_name_chars)]
Names = Annotated[list[Name], Field(max_length=MAX_NAMES)]
