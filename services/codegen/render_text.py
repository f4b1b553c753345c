"""Text helpers of the renderer: template loading, placeholder substitution and escaping.

Templates are plain files under `templates/`; placeholders are `%%name` or `%%{name}` so
that they never collide with Terraform (`${...}`, `%{...}`), GitHub Actions (`${{ ... }}`)
or Python syntax. Files are read lazily and cached, so importing this module does no I/O.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).parent / "templates"


class _Template(Template):
    """`string.Template` with a delimiter no target language uses."""

    delimiter = "%%"


@lru_cache(maxsize=512)
def load(relpath: str) -> str | None:
    """The text of one template, or None when it does not exist (callers fall back)."""
    path = TEMPLATES / relpath
    return path.read_text(encoding="utf-8") if path.is_file() else None


def template(relpath: str) -> str:
    """The text of a template that must exist."""
    text = load(relpath)
    if text is None:
        raise FileNotFoundError(f"codegen template missing: {relpath}")
    return text


def fill(relpath: str, **values: object) -> str:
    """A template with every placeholder replaced; a missing value is a bug, so it raises."""
    return _Template(template(relpath)).substitute({k: str(v) for k, v in values.items()})


_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_len: int = 24) -> str:
    """A resource-name-safe slug: lowercase letters, digits and single hyphens, starting with a letter.

    Clouds differ in what they accept (S3, GCS, Key Vault, storage accounts); this common
    subset fits all of them once the environment suffix is added. A long name is cut at a word
    boundary ("real-time-card-fraud", not "real-time-card-fraud-sco"); only a single word longer
    than the limit is cut inside it.
    """
    slug = _SLUG.sub("-", text.lower()).strip("-") or "mlops"
    if not slug[0].isalpha():
        slug = f"p-{slug}"
    if len(slug) > max_len:
        head = slug[:max_len]
        slug = head if slug[max_len] == "-" or "-" not in head else head[:head.rfind("-")]
    return slug.rstrip("-")


def identifier(text: str) -> str:
    """A snake_case identifier usable as a Python name, HCL key or Mermaid node id."""
    ident = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"
    return f"x_{ident}" if ident[0].isdigit() else ident


def md_inline(text: object) -> str:
    """User text made safe inside a Markdown paragraph or list item.

    Only what can break the document is escaped: raw HTML, line breaks that would end a
    list item, and characters that open emphasis, code or links mid-sentence (an intraword
    underscore, as in `serving_online`, is left alone: it never opens emphasis).
    """
    s = " ".join(str(text).split())
    s = s.replace("\\", "\\\\")
    s = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", s)
    for ch in "`*[]<>":
        s = s.replace(ch, "\\" + ch)
    if s[:1] in {"#", "-", "+", ">", "|"} or re.match(r"\d+[.)](\s|$)", s):
        s = "\\" + s
    return s


def md_code(text: object) -> str:
    """User text as an inline code span (backticks inside become quotes so the span cannot end early)."""
    return "`" + " ".join(str(text).split()).replace("`", "'") + "`"


def md_cell(text: object) -> str:
    """User text made safe inside a Markdown table cell (no pipes, no line breaks)."""
    return md_inline(text).replace("|", "\\|") or " "


def mermaid_label(text: str) -> str:
    """Text for a quoted Mermaid label: quotes and angle brackets become entity codes."""
    s = " ".join(str(text).split())
    return s.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
