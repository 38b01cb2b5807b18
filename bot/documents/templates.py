"""The document templates: Jinja2 files `locales/<locale>/documents/<name>.j2` (autoescape on), rendered to the
tagged lines that bot.documents.layout lays out (block tags may stand on lines of their own: the empty lines
they leave are skipped). A value is always one line: newlines in it become spaces, so no
value can start a block of its own."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.core.i18n import LOCALES_DIR, babel_locale

from .layout import TAGS, Block, parse


def _one_line(value: Any) -> Any:
    return value.replace("\r", " ").replace("\n", " ") if isinstance(value, str) else value


def as_date(value: date | str | None) -> date | None:
    """Dates come as `date` or, from the stored facts, as ISO strings."""
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@cache
def environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(LOCALES_DIR / locale / "documents"),
        autoescape=True,
        undefined=StrictUndefined,
        lstrip_blocks=True,
        finalize=_one_line,
    )

    def day(value: date | str | None, fmt: str = "long") -> str:
        found = as_date(value)
        return format_date(found, fmt, locale=babel_locale(locale)) if found else ""

    env.filters["day"] = day
    return env


def render_blocks(name: str, locale: str, values: dict[str, Any], tags: frozenset[str] = TAGS) -> list[Block]:
    return parse(environment(locale).get_template(f"{name}.j2").render(**values), tags)
