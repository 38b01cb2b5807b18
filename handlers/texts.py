"""Interface text: translate in the current locale and HTML-escape every value put into it.

Replies are sent with parse_mode HTML, so a name such as "<b>" must never reach Telegram unescaped. `t()` is
the one way handlers build text with values; pybabel extracts its first argument (keyword `t`).
"""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from typing import Any

from aiogram.utils.i18n import get_i18n, gettext
from babel.dates import format_date, format_skeleton

from bot.core.i18n import babel_locale


def t(message: str, **values: Any) -> str:
    text = gettext(message)
    if not values:
        return text
    return text.format(**{key: escape(str(value)) for key, value in values.items()})


def _locale() -> str:
    return babel_locale(get_i18n().current_locale)


def short_day(day: date | datetime) -> str:
    """A day as a person reads it: 9月7日周一 / Mon, Sep 7."""
    return format_skeleton("MMMEd", day, locale=_locale())


def day_in_year(day: date, today: date) -> str:
    """`short_day`, with the year when it is not this year: 9月7日周一 / 2027年3月22日周一."""
    if day.year == today.year:
        return short_day(day)
    return format_skeleton("yMMMEd", day, locale=_locale())


def month_day(day: date | datetime) -> str:
    """9月7日 / Sep 7."""
    return format_skeleton("MMMd", day, locale=_locale())


def month_year(day: date) -> str:
    """2026年9月 / Sep 2026."""
    return format_skeleton("yMMM", day, locale=_locale())


def long_day(day: date) -> str:
    """2026年9月7日星期一 / Monday, September 7, 2026."""
    return format_date(day, "full", locale=_locale())
