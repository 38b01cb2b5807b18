"""Locales and gettext catalogs shared by the bot, the CLI and notice rendering.

Catalogs live in `locales/<locale>/LC_MESSAGES/messages.po`; the compiled `.mo` files are built from them on first
use (and whenever a `.po` is newer), so a fresh clone needs no separate compile step.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES = ("zh_Hans", "zh_Hant", "en")
DEFAULT_LOCALE = "zh_Hans"
DOMAIN = "messages"
LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"

_TRADITIONAL_REGIONS = ("tw", "hk", "mo", "hant")
_BABEL_LOCALES = {"zh_Hans": "zh_Hans_CN", "zh_Hant": "zh_Hant_TW"}  # with a territory, for CLDR's date patterns


def babel_locale(locale: str) -> str:
    """Babel's name for one of our locales (dates and weekdays are formatted with it)."""
    return _BABEL_LOCALES.get(locale, locale)


def locale_for_language_code(code: str | None, fallback: str = DEFAULT_LOCALE) -> str:
    """Map a Telegram `language_code` (IETF tag such as zh-hans, zh-TW, en-GB) to one of our locales."""
    if not code:
        return fallback
    tag = code.replace("_", "-").lower()
    if tag.startswith("zh"):
        return "zh_Hant" if any(part in _TRADITIONAL_REGIONS for part in tag.split("-")[1:]) else "zh_Hans"
    if tag.startswith("en"):
        return "en"
    return fallback


def compile_catalogs(locales_dir: Path = LOCALES_DIR) -> None:
    """Compile every `messages.po` into `messages.mo` where the `.mo` is missing or older."""
    for po_path in locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp.replace(mo_path)


@cache
def translations(locale: str) -> NullTranslations:  # NullTranslations when the catalog is missing
    compile_catalogs()
    return Translations.load(str(LOCALES_DIR), [locale], DOMAIN)


def gettext(message: str, locale: str) -> str:
    return translations(locale).gettext(message)


def ngettext(singular: str, plural: str, n: int, locale: str) -> str:
    return translations(locale).ngettext(singular, plural, n)
