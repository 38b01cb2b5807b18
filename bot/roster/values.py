"""Single cell values: text, names, dates, gender, phones, tags and roles. A bad value raises `Invalid` with an
error code (and params) that bot.roster.messages knows how to say."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bot.core.phones import normalize_phone
from bot.roster.reading import Cell, LostDigits
from storage.models import EnrolmentStatus, Role

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
_GENDERS |= {"1": "M", "2": "F", "1-男": "M", "2-女": "F", "1男": "M", "2女": "F"}  # the registry's codes
_YES = {"是", "1", "y", "yes", "true", "√", "✓", "有", "1-是"}
_NO_DISABILITY = {"无", "否", "非残疾", "0", "n", "no", "false", "2-否", "0-否"}
# 学籍状态 as the registry and schools write it → the student's status.
_STATUSES = {
    "在籍": EnrolmentStatus.ENROLLED, "在读": EnrolmentStatus.ENROLLED, "在校": EnrolmentStatus.ENROLLED,
    "正常": EnrolmentStatus.ENROLLED, "enrolled": EnrolmentStatus.ENROLLED,
    "休学": EnrolmentStatus.SUSPENDED, "suspended": EnrolmentStatus.SUSPENDED,
    "延缓入学": EnrolmentStatus.DEFERRED, "deferred": EnrolmentStatus.DEFERRED,
    "送教上门": EnrolmentStatus.HOME_TEACHING, "home_teaching": EnrolmentStatus.HOME_TEACHING,
    "转出": EnrolmentStatus.TRANSFERRED, "转学": EnrolmentStatus.TRANSFERRED,
    "transferred": EnrolmentStatus.TRANSFERRED,
    "毕业": EnrolmentStatus.GRADUATED, "graduated": EnrolmentStatus.GRADUATED,
}  # fmt: skip
_GARBLED = re.compile("[?？\ufffd]")
_SCIENTIFIC = re.compile(r"\d(\.\d+)?E\+?\d+", re.IGNORECASE)  # 4.10102E+17: a long number a spreadsheet rounded
_PHONE_SPLIT = re.compile(r"\s*[/,;、或]\s*|(?<=\d{11})\s+")  # 139…/138…, 139… 138… (after full-width → half)
_ID_NUMBER = re.compile(r"\d{17}[\dX]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
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
    """Whitespace collapsed; removed altogether in Chinese names ('王  丽' → '王丽'). A `?` where a character was
    is refused: a file saved as GBK CSV replaces rare characters with it, and 吉? is nobody's name."""
    name = text(value)
    if name and _GARBLED.search(name):
        raise Invalid("garbled_name")
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
    gender = _GENDERS.get(str(value).replace(" ", "").casefold())
    if gender is None:
        raise Invalid("bad_gender")
    return gender


def parse_phones(value: Cell) -> tuple[str, ...]:
    """One or more numbers in a cell ('13900040004/13900040014'), each as `parse_phone` makes it."""
    raw = text(value)
    if raw is None:
        return ()
    exact(value)
    parts = [part for part in _PHONE_SPLIT.split(raw) if part]
    phones = (parse_phone(part) for part in parts)
    return tuple(dict.fromkeys(phone for phone in phones if phone))


def parse_phone(value: Cell) -> str | None:
    """Normalised; a mainland number must be an 11-digit mobile or a landline with its area code."""
    exact(value)
    try:
        phone = normalize_phone(text(value))
    except ValueError as exc:
        raise Invalid("bad_phone") from exc
    if phone and not (phone.startswith("+") or _MAINLAND_PHONE.fullmatch(phone)):
        raise Invalid("bad_phone")
    return phone


def exact(value: Cell) -> None:
    """Refuse a long number that a spreadsheet stored as a number and rounded (lost its last digits)."""
    if isinstance(value, LostDigits) or (isinstance(value, str) and _SCIENTIFIC.fullmatch(value)):
        raise Invalid("lost_digits", value=str(value))


def parse_student_no(value: Cell, max_length: int) -> str | None:
    exact(value)
    return (text(value, max_length) or "").upper() or None


def parse_id_number(value: Cell) -> str | None:
    """An 18-character resident ID number (身份证号) with a valid check character, in capitals."""
    exact(value)
    number = (text(value) or "").replace(" ", "").upper()
    if not number:
        return None
    if not _ID_NUMBER.fullmatch(number):
        raise Invalid("bad_id_number")
    total = sum(int(digit) * weight for digit, weight in zip(number, _ID_WEIGHTS, strict=False))
    if _ID_CHECK[total % 11] != number[17]:
        raise Invalid("bad_id_checksum")
    if id_birth_date(number) is None:
        raise Invalid("bad_id_number")
    return number


def id_birth_date(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def id_gender(number: str) -> str:
    return "M" if int(number[16]) % 2 else "F"


def parse_yes(value: Cell) -> bool:
    """是 / 1 / Y … in a yes-or-no column (是否留守儿童)."""
    return value is not None and str(value).strip().casefold() in _YES


def parse_disability(value: Cell) -> bool:
    """A 残疾类别 column: any category but 无 / 非残疾 means the child has a disability."""
    return value is not None and str(value).strip().casefold() not in _NO_DISABILITY


def parse_status(value: Cell) -> EnrolmentStatus | None:
    """学籍状态: 在籍, 休学, 转出, 送教上门 … ('01-在籍' and '在籍学生' too)."""
    raw = text(value)
    if raw is None:
        return None
    key = re.sub(r"^\d+[-_]?|学生$", "", raw).casefold()
    status = _STATUSES.get(key)
    if status is None:
        raise Invalid("bad_status")
    return status


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
