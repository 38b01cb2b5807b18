"""Every interface string and every notice exists in 简体中文, 繁體中文 and English, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from bot.core.i18n import LOCALES, LOCALES_DIR

ROOT = Path(__file__).resolve().parents[2]
# The same keywords as `make locales`: aiogram's _/__/lazy_gettext, handlers.texts.t, bot.core.i18n.gettext.
KEYWORDS = {**DEFAULT_KEYWORDS, "__": None, "lazy_gettext": None, "t": None}
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _extracted() -> set[str]:
    found = set()
    for folder in ("bot", "handlers"):
        for _name, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(locale: str):
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file, locale=locale)


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    messages = _extracted()
    assert len(messages) > 200  # the extraction found the code's strings, not nothing
    return messages


@pytest.mark.parametrize("locale", LOCALES)
def test_every_interface_string_is_translated(extracted, locale):
    catalog = _catalog(locale)
    missing = sorted(m for m in extracted if not (catalog.get(m) and catalog.get(m).string))
    assert missing == [], f"{locale}: {len(missing)} strings without a translation"


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_chinese_catalogs_are_really_chinese(extracted, locale):
    catalog = _catalog(locale)
    english_left = sorted(m for m in extracted if catalog.get(m) and catalog.get(m).string == m
                          and re.search(r"[A-Za-z]{4,}", re.sub(r"<[^>]+>|/\w+|\{\w*\}|English", "", m)))
    assert english_left == []


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match(locale):
    for message in _catalog(locale):
        if message.id and message.string:
            assert set(PLACEHOLDER.findall(message.id)) == set(PLACEHOLDER.findall(message.string)), message.id


def test_simplified_and_traditional_differ():
    hans, hant = _catalog("zh_Hans"), _catalog("zh_Hant")
    same = [m.id for m in hans if m.id and hant.get(m.id) and m.string == hant.get(m.id).string
            and re.search(r"[\u4e00-\u9fff]{6,}", m.string)]
    assert len(same) < 0.1 * len(hans), same[:10]  # long Chinese texts must be written in Traditional characters


def test_every_notice_exists_in_every_locale():
    names = {locale: {p.name for p in (LOCALES_DIR / locale / "notices").glob("*.j2")} for locale in LOCALES}
    assert names["zh_Hans"], "no notice templates found"
    assert names["zh_Hans"] == names["zh_Hant"] == names["en"]
