"""Interface text: translate in the current locale and HTML-escape every value put into it.

Replies are sent with parse_mode HTML, so a name such as "<b>" must never reach Telegram unescaped. `t()` is
the one way handlers build text with values; pybabel extracts its first argument (keyword `t`).
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram.utils.i18n import gettext


def t(message: str, **values: Any) -> str:
    text = gettext(message)
    if not values:
        return text
    return text.format(**{key: escape(str(value)) for key, value in values.items()})
