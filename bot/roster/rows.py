"""Validation of file rows into typed rows (`StudentRow`, `StaffRow`) or `RowError`s with a code and params.

Everything that can be decided from the file alone is checked here, including conflicts between rows (the same
学籍号 twice, one phone under two names, two homeroom teachers for one class); checks against the database are the
importer's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from bot.roster.reading import Cell, Row, Table
from bot.roster.values import (
    MAX_LENGTH,
    RELATION_LENGTH,
    Invalid,
    parse_birth_date,
    parse_gender,
    parse_phone,
    parse_role,
    parse_tags,
    person_name,
    text,
)
from storage.models import Role

ROSTER_REQUIRED = ("township", "school", "class", "name", "birth_date", "guardian", "guardian_phone")
STAFF_REQUIRED = ("name", "phone", "role", "unit")

T = TypeVar("T")


@dataclass(frozen=True)
class RowError:
    """A problem with one row (or with the header row: missing or doubled columns). `field` is canonical."""

    row: int
    field: str | None
    code: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)  # `field` is the attribute above


@dataclass(frozen=True)
class GuardianEntry:
    rank: int
    name: str
    phone: str | None
    relation: str | None


@dataclass(frozen=True)
class TeacherEntry:
    name: str
    phone: str


@dataclass(frozen=True)
class StudentRow:
    row: int
    county: str
    township: str
    school: str
    class_name: str
    name: str
    student_no: str | None
    gender: str | None
    birth_date: date | None
    guardians: tuple[GuardianEntry, ...]
    teacher: TeacherEntry | None
    tags: tuple[str, ...]
    columns: frozenset[str]  # the optional columns the file has: only those are brought up to date

    @property
    def class_key(self) -> tuple[str, str, str, str]:
        return (self.county, self.township, self.school, self.class_name)

    @property
    def identity(self) -> tuple[str, str, str, str, date | None]:
        return (self.county, self.township, self.school, self.name, self.birth_date)


@dataclass(frozen=True)
class StaffRow:
    row: int
    county: str
    name: str
    phone: str
    role: Role
    unit: str
    township: str | None


# --- columns ---------------------------------------------------------------------------------------------------


def check_columns(table: Table, required: Iterable[str]) -> list[RowError]:
    """File-level errors, reported on the header row: required columns missing, a column given twice."""
    missing = [RowError(table.header_row, name, "missing_column") for name in required if name not in table.headers]
    doubled = [RowError(table.header_row, name, "duplicate_column") for name in dict.fromkeys(table.duplicates)]
    return missing + doubled


# --- one row ---------------------------------------------------------------------------------------------------


class _Fields:
    """Reads a row's fields, collecting one error per bad field instead of stopping at the first."""

    def __init__(self, number: int, values: dict[str, Cell]) -> None:
        self.number = number
        self.values = values
        self.errors: list[RowError] = []

    def get(self, name: str, parse: Callable[[Cell], T], *, required: bool = False) -> T | None:
        try:
            result = parse(self.values.get(name))
        except Invalid as exc:
            self.errors.append(RowError(self.number, name, exc.code, exc.params))
            return None
        if result is None and required:
            self.errors.append(RowError(self.number, name, "required"))
        return result

    def fail(self, name: str, code: str, **params: Any) -> None:
        self.errors.append(RowError(self.number, name, code, params))


def _limited(name: str) -> Callable[[Cell], str | None]:
    return lambda value: text(value, MAX_LENGTH[name])


def _relation(value: Cell) -> str | None:
    return text(value, RELATION_LENGTH)


def student_row(number: int, values: dict[str, Cell], *, today: date, county: str) -> StudentRow | list[RowError]:
    """One roster row, or its errors."""
    f = _Fields(number, values)
    places = [f.get(name, _limited(name), required=True) for name in ("township", "school", "class")]
    name = f.get("name", person_name, required=True)
    student_no = f.get("student_no", lambda v: (text(v, MAX_LENGTH["student_no"]) or "").upper() or None)
    gender = f.get("gender", parse_gender)
    born = f.get("birth_date", lambda value: parse_birth_date(value, today))
    if born is None and student_no is None and "birth_date" not in {e.field for e in f.errors}:
        f.fail("birth_date", "no_identity")
    guardians = _guardians(f)
    teacher = _teacher(f)
    tags = f.get("tags", parse_tags) or ()
    row_county = f.get("county", _limited("county")) or county
    if f.errors:
        return f.errors
    township, school, class_name = places
    # required fields: missing ones were errors above
    assert township is not None and school is not None and class_name is not None and name is not None
    optional = frozenset(values) - set(ROSTER_REQUIRED)
    return StudentRow(
        number, row_county, township, school, class_name, name, student_no, gender, born, guardians, teacher, tags,
        optional,
    )  # fmt: skip


def _guardians(f: _Fields) -> tuple[GuardianEntry, ...]:
    first = _guardian(f, 1, "guardian", "guardian_phone", "relation", required=True)
    second = _guardian(f, 2, "guardian2", "guardian2_phone", "relation2", required=False)
    if first and second and first.phone and first.phone == second.phone:
        f.fail("guardian2_phone", "same_guardian_twice")
        return (first,)
    return tuple(entry for entry in (first, second) if entry)


def _guardian(
    f: _Fields, rank: int, name_field: str, phone_field: str, relation_field: str, *, required: bool
) -> GuardianEntry | None:
    name = f.get(name_field, person_name, required=required)
    phone = f.get(phone_field, parse_phone)
    relation = f.get(relation_field, _relation)
    if name is None:
        if not required and (phone is not None or relation is not None):
            f.fail(name_field, "name_missing")
        return None
    return GuardianEntry(rank, name, phone, relation)


def _teacher(f: _Fields) -> TeacherEntry | None:
    name = f.get("homeroom_teacher", person_name)
    phone = f.get("teacher_phone", parse_phone)
    if name and not phone and "teacher_phone" not in {e.field for e in f.errors}:
        f.fail("teacher_phone", "teacher_phone_missing")
    elif phone and not name:
        f.fail("homeroom_teacher", "name_missing")
    return TeacherEntry(name, phone) if name and phone else None


def staff_row(number: int, values: dict[str, Cell], *, county: str) -> StaffRow | list[RowError]:
    """One staff row, or its errors."""
    f = _Fields(number, values)
    name = f.get("name", person_name, required=True)
    phone = f.get("phone", parse_phone, required=True)
    role = f.get("role", parse_role, required=True)
    unit = f.get("unit", _limited("unit"), required=True)
    township = f.get("township", _limited("township"))
    row_county = f.get("county", _limited("county")) or county
    if f.errors:
        return f.errors
    assert name is not None and phone is not None and role is not None and unit is not None  # required: see above
    return StaffRow(number, row_county, name, phone, role, unit, township)


# --- the whole file --------------------------------------------------------------------------------------------


def validate_students(rows: list[Row], *, today: date, county: str) -> tuple[list[StudentRow], list[RowError]]:
    """Typed rows and every error found in the file alone (row-level and between rows)."""
    good: list[StudentRow] = []
    errors: list[RowError] = []
    for number, values in rows:
        result = student_row(number, values, today=today, county=county)
        if isinstance(result, list):
            errors.extend(result)
        else:
            good.append(result)
    errors += _duplicate_students(good) + _phone_conflicts(_student_phones(good)) + _teacher_conflicts(good)
    return good, errors


def validate_staff(rows: list[Row], *, county: str) -> tuple[list[StaffRow], list[RowError]]:
    good: list[StaffRow] = []
    errors: list[RowError] = []
    for number, values in rows:
        result = staff_row(number, values, county=county)
        if isinstance(result, list):
            errors.extend(result)
        else:
            good.append(result)
    errors += _phone_conflicts((row.row, "phone", row.phone, row.name) for row in good)
    return good, errors


def _duplicate_students(rows: list[StudentRow]) -> list[RowError]:
    """The same 学籍号 twice; or the same (school, name, birth date) where either row lacks a 学籍号."""
    errors: list[RowError] = []
    by_number: dict[str, int] = {}
    by_identity: dict[tuple, StudentRow] = {}
    for row in rows:
        if row.student_no and row.student_no in by_number:
            errors.append(RowError(row.row, "student_no", "duplicate_student_no", {"other": by_number[row.student_no]}))
            continue
        earlier = by_identity.get(row.identity)
        if earlier and not (earlier.student_no and row.student_no):
            errors.append(RowError(row.row, "name", "duplicate_student", {"other": earlier.row}))
            continue
        if row.student_no:
            by_number[row.student_no] = row.row
        by_identity.setdefault(row.identity, row)
    return errors


def _student_phones(rows: list[StudentRow]) -> Iterable[tuple[int, str, str, str]]:
    phone_fields = {1: "guardian_phone", 2: "guardian2_phone"}
    for row in rows:
        for guardian in row.guardians:
            if guardian.phone:
                yield row.row, phone_fields[guardian.rank], guardian.phone, guardian.name
        if row.teacher:
            yield row.row, "teacher_phone", row.teacher.phone, row.teacher.name


def _phone_conflicts(entries: Iterable[tuple[int, str, str, str]]) -> list[RowError]:
    """One phone is one person: the same phone under two names is an error on the later row."""
    errors: list[RowError] = []
    first: dict[str, tuple[str, int]] = {}
    for number, phone_field, phone, name in entries:
        known_name, known_row = first.setdefault(phone, (name, number))
        if known_name != name:
            errors.append(RowError(number, phone_field, "phone_name_conflict", {"other": known_row}))
    return errors


def _teacher_conflicts(rows: list[StudentRow]) -> list[RowError]:
    """A class has one homeroom teacher: every row of a class naming one must name the same."""
    errors: list[RowError] = []
    first: dict[tuple, tuple[str, int]] = {}
    for row in rows:
        if row.teacher:
            phone, number = first.setdefault(row.class_key, (row.teacher.phone, row.row))
            if phone != row.teacher.phone:
                errors.append(RowError(row.row, "teacher_phone", "teacher_conflict", {"other": number}))
    return errors
