"""Single cell values: text, names, dates, gender, phones, tags and roles. A bad value raises `Invalid` with an
error code (and params) that bot.roster.messages knows how to say."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bot.core.phones import normalize_phone
from bot.roster.reading import Cell
from storage.models import Role

MIN_AGE, MAX_AGE = 3, 20
MAX_LENGTH = {"county": 100, "township": 100, "school": 100, "unit": 100, "class": 50, "student_no": 40,
              "issuer": 100}
NAME_LENGTH, RELATION_LENGTH = 50, 20

# Known tags in any accepted spelling → the stored Chinese form. Unknown tags are kept as written.
KNOWN_TAGS = {
    "留守儿童": ("留守儿童", "留守", "留守兒童", "left-behind", "left behind"),
    "残疾": ("残疾", "残疾儿童", "殘疾", "殘疾兒童", "disabled", "disability"),
    "困境": ("困境", "困境儿童", "困境兒童", "in difficulty"),
    "随迁子女": ("随迁子女", "随迁", "隨遷子女", "migrant", "migrant child"),
    "脱贫户": ("脱贫户", "脱贫家庭", "脫貧戶", "formerly poor", "formerly poor household"),
    "孤儿": ("孤儿", "孤兒", "orphan"),
    "事实无人抚养": ("事实无人抚养", "事实无人抚养儿童", "事實無人撫養", "事實無人撫養兒童", "de facto unattended"),
}
_TAG_LOOKUP = {alias.casefold(): tag for tag, aliases in KNOWN_TAGS.items() for alias in aliases}
_TAG_SEPARATORS = re.compile(r"[、,，;；]")

_GENDERS = {"男": "M", "男性": "M", "m": "M", "male": "M", "女": "F", "女性": "F", "f": "F", "female": "F"}
_ROLES = {
    Role.SCHOOL_ADMIN: ("控辍专干", "控輟專幹", "学校控辍专干", "school_admin"),
    Role.PRINCIPAL: ("校长", "校長", "principal"),
    Role.TOWNSHIP_OFFICER: ("乡镇专干", "鄉鎮專幹", "乡镇控辍专干", "township_officer"),
    Role.COUNTY_OFFICER: ("县教育局控辍专干", "縣教育局控輟專幹", "县级专干", "县专干", "縣專幹", "县教育局",
                          "縣教育局", "county_officer"),
}
_ROLE_NOISE = re.compile(r"[\s_\-]")
_ROLE_LOOKUP = {_ROLE_NOISE.sub("", alias).casefold(): role for role, aliases in _ROLES.items() for alias in aliases}
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\s+0{1,2}:00(?::00)?)?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_MAINLAND_PHONE = re.compile(r"1\d{10}|0\d{9,11}")


class Invalid(Exception):
    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def text(value: Cell, max_length: int | None = None) -> str | None:
    if value is None:
        return None
    result = value.isoformat() if isinstance(value, date) else " ".join(str(value).split())
    if max_length is not None and len(result) > max_length:
        raise Invalid("too_long", max=max_length)
    return result or None


def person_name(value: Cell) -> str | None:
    """Whitespace collapsed; removed altogether in Chinese names ('王  丽' → '王丽')."""
    name = text(value)
    if name and not _ASCII_LETTER.search(name):
        name = name.replace(" ", "")
    if name and len(name) > NAME_LENGTH:
        raise Invalid("too_long", max=NAME_LENGTH)
    return name


def parse_date(value: Cell) -> date | None:
    """2015-03-04, 2015/3/4, 2015.3.4, 2015年3月4日, 20150304, or a spreadsheet date cell."""
    if value is None or isinstance(value, date):
        return value
    raw = str(value).strip()
    match = _DATE.fullmatch(raw) or _COMPACT_DATE.fullmatch(raw)
    if not match:
        raise Invalid("bad_date")
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError as exc:
        raise Invalid("bad_date") from exc


def parse_birth_date(value: Cell, today: date) -> date | None:
    born = parse_date(value)
    return None if born is None else check_birth_date(born, today)


def check_birth_date(born: date, today: date) -> date:
    if born > today:
        raise Invalid("future_date")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if not MIN_AGE <= age <= MAX_AGE:
        raise Invalid("age_out_of_range", age=age, min=MIN_AGE, max=MAX_AGE)
    return born


def parse_gender(value: Cell) -> str | None:
    if value is None:
        return None
    gender = _GENDERS.get(str(value).strip().casefold())
    if gender is None:
        raise Invalid("bad_gender")
    return gender


def parse_phone(value: Cell) -> str | None:
    """Normalised; a mainland number must be an 11-digit mobile or a landline with its area code."""
    try:
        phone = normalize_phone(text(value))
    except ValueError as exc:
        raise Invalid("bad_phone") from exc
    if phone and not (phone.startswith("+") or _MAINLAND_PHONE.fullmatch(phone)):
        raise Invalid("bad_phone")
    return phone


def parse_tags(value: Cell) -> tuple[str, ...]:
    """Split on 、 , ， ; and store known tags in their Chinese form; duplicates dropped, order kept."""
    parts = (part.strip() for part in _TAG_SEPARATORS.split(text(value) or ""))
    tags = (_TAG_LOOKUP.get(part.casefold(), part) for part in parts if part)
    return tuple(dict.fromkeys(tags))


def parse_role(value: Cell) -> Role | None:
    if value is None:
        return None
    role = _ROLE_LOOKUP.get(_ROLE_NOISE.sub("", str(value)).casefold())
    if role is None:
        raise Invalid("bad_role")
    return role
