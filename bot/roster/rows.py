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
from functools import lru_cache
from typing import Any, TypeVar

from bot.roster.columns import TAG_COLUMNS
from bot.roster.reading import Cell, Row, Table
from bot.roster.values import (
    MAX_LENGTH,
    RELATION_LENGTH,
    Invalid,
    check_birth_date,
    id_birth_date,
    id_gender,
    parse_birth_date,
    parse_disability,
    parse_gender,
    parse_id_number,
    parse_phone,
    parse_phones,
    parse_role,
    parse_status,
    parse_student_no,
    parse_tags,
    parse_yes,
    person_name,
    text,
)
from storage.models import EnrolmentStatus, Role

ROSTER_REQUIRED = ("school", "class", "name")
IDENTITY_COLUMNS = ("birth_date", "id_number", "student_no")  # at least one of them
STAFF_REQUIRED = ("name", "phone", "role", "unit")

T = TypeVar("T")


@dataclass(frozen=True)
class RowError:
    """A problem with one row (or with the header row: missing or doubled columns). `field` is canonical."""

    row: int
    field: str | None
    code: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


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
    township: str | None  # None until the importer finds the school's township (the registry has no 乡镇 column)
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
    id_number: str | None = None
    status: EnrolmentStatus | None = None
    warnings: tuple[RowError, ...] = ()

    @property
    def class_key(self) -> tuple[str, str, str, str]:
        return (self.county, self.township or "", self.school, self.class_name)

    @property
    def identity(self) -> tuple[str, str | None, str, str, date | None]:
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
    office_phone: str | None = None  # the unit's office phone, shown in its documents (劝学书, 复学通知书)
    issuer: str | None = None  # a township's name on its documents, e.g. 青山镇人民政府 (乡镇专干 rows only)


# --- columns ---------------------------------------------------------------------------------------------------


def check_columns(table: Table, required: Iterable[str]) -> list[RowError]:
    """File-level errors, reported on the header row: required columns missing, a column given twice."""
    missing = [RowError(table.header_row, name, "missing_column") for name in required if name not in table.headers]
    doubled = [RowError(table.header_row, name, "duplicate_column") for name in dict.fromkeys(table.duplicates)]
    return missing + doubled


def check_roster_columns(table: Table) -> list[RowError]:
    """Roster columns: school, class and name; a birth date, ID number or 学籍号; a phone column with guardians."""
    errors = check_columns(table, ROSTER_REQUIRED)
    if not any(name in table.headers for name in IDENTITY_COLUMNS):
        errors.insert(0, RowError(table.header_row, "birth_date", "missing_identity_column"))
    if "guardian" in table.headers and "guardian_phone" not in table.headers:
        errors.insert(0, RowError(table.header_row, "guardian_phone", "missing_column"))
    return errors


# --- one row ---------------------------------------------------------------------------------------------------


class _Fields:
    """Reads a row's fields, collecting one error per bad field instead of stopping at the first."""

    def __init__(self, number: int, values: dict[str, Cell]) -> None:
        self.number = number
        self.values = values
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []

    def get(self, name: str, parse: Callable[[Cell], T], *, required: bool = False) -> T | None:
        """The field, parsed; a blank or absent cell is None without asking the parser (each finds nothing there)."""
        value = self.values.get(name)
        try:
            result = None if value is None else parse(value)
        except Invalid as exc:
            self.errors.append(RowError(self.number, name, exc.code, {"value": str(value), **exc.params}))
            return None
        if result is None and required:
            self.errors.append(RowError(self.number, name, "required"))
        return result

    def fail(self, name: str, code: str, **params: Any) -> None:
        self.errors.append(RowError(self.number, name, code, params))

    def warn(self, column: str, code: str, **params: Any) -> None:
        self.warnings.append(RowError(self.number, column, code, params))

    def failed(self, *names: str) -> bool:
        return any(error.field in names for error in self.errors)


def _limited(name: str) -> Callable[[Cell], str | None]:
    return lambda value: text(value, MAX_LENGTH[name])


def _relation(value: Cell) -> str | None:
    return text(value, RELATION_LENGTH)


def student_row(number: int, values: dict[str, Cell], *, today: date, county: str) -> StudentRow | list[RowError]:
    """One roster row, or its errors."""
    f = _Fields(number, values)
    township = f.get("township", _limited("township"))
    school = f.get("school", _limited("school"), required=True)
    class_name = _class_name(f)
    name = f.get("name", person_name, required=True)
    student_no = f.get("student_no", lambda v: parse_student_no(v, MAX_LENGTH["student_no"]))
    id_number = f.get("id_number", parse_id_number)
    gender = f.get("gender", parse_gender)
    born = f.get("birth_date", lambda value: parse_birth_date(value, today))
    if id_number:
        born, gender = _from_id_number(f, id_number, born, gender, today)
    if born is None and student_no is None and id_number is None and not f.failed(*IDENTITY_COLUMNS):
        f.fail("birth_date", "no_identity")
    guardians = _guardians(f)
    teacher = _teacher(f)
    tags = _tags(f)
    status = f.get("status", parse_status)
    row_county = f.get("county", _limited("county")) or county
    if f.errors or not (school and class_name and name):
        return f.errors
    if not guardians:
        f.warn("guardian", "no_guardian", name=name)
    return StudentRow(
        number, row_county, township, school, class_name, name, student_no, gender, born, guardians, teacher, tags,
        _optional_columns(frozenset(values), bool(id_number)), id_number, status, tuple(f.warnings),
    )  # fmt: skip


@lru_cache(maxsize=256)  # one set shared by the rows of a file, not a copy on each of tens of thousands of rows
def _optional_columns(names: frozenset[str], has_id_number: bool) -> frozenset[str]:
    """The optional columns a row brings up to date: an ID number gives gender and birth date; a tag column, tags."""
    columns = names | ({"gender", "birth_date"} if has_id_number else set())
    if any(column in TAG_COLUMNS for column in names):
        columns |= {"tags"}
    return columns - set(ROSTER_REQUIRED)


def _class_name(f: _Fields) -> str | None:
    """年级 and 班级 in one name when the file has both: 五年级 + (1)班 → 五年级(1)班; 五年级 + 1 → 五年级1班."""
    class_name = f.get("class", _limited("class"), required=True)
    grade = f.get("grade", _limited("class"))
    if class_name and class_name.isdigit():
        class_name += "班"
    if class_name and grade and not class_name.startswith(grade):
        class_name = grade + class_name
    return class_name


def _from_id_number(
    f: _Fields, id_number: str, born: date | None, gender: str | None, today: date
) -> tuple[date | None, str | None]:
    """The birth date and gender inside the ID number, when their columns are missing or blank; a different
    birth date in its column is an error (one of them is mistyped)."""
    id_born = id_birth_date(id_number)
    if born is not None and id_born != born:
        f.fail("birth_date", "id_birth_mismatch")
        return born, gender
    if born is None and id_born is not None:
        try:
            born = check_birth_date(id_born, today)
        except Invalid as exc:
            f.fail("id_number", exc.code, **exc.params)
    return born, gender or id_gender(id_number)


def _tags(f: _Fields) -> tuple[str, ...]:
    tags = list(f.get("tags", parse_tags) or ())
    for column, (tag, _) in TAG_COLUMNS.items():
        parse = parse_disability if column == "tag_disabled" else parse_yes
        if f.get(column, parse) and tag not in tags:
            tags.append(tag)
    return tuple(tags)


def _guardians(f: _Fields) -> tuple[GuardianEntry, ...]:
    """Up to two guardians. A registry member marked 是否监护人 = 否 is not one; a second number in the first
    guardian's phone cell goes to guardian 2 when their phone is blank."""
    first, first_more = _guardian(f, 1, "guardian", "guardian_phone", "relation", "guardian_flag")
    second, second_more = _guardian(f, 2, "guardian2", "guardian2_phone", "relation2", "guardian2_flag")
    if first and second and first.phone and first.phone == second.phone:
        f.fail("guardian2_phone", "same_guardian_twice")
        return (first,)
    if first_more and second and second.phone is None:
        second, first_more = GuardianEntry(2, second.name, first_more[0], second.relation), first_more[1:]
    if first_more or second_more:
        f.warn(
            "guardian_phone" if first_more else "guardian2_phone", "extra_phones", count=len(first_more + second_more)
        )
    guardians = [entry for entry in (first, second) if entry]
    return tuple(GuardianEntry(rank, g.name, g.phone, g.relation) for rank, g in enumerate(guardians, start=1))


def _guardian(
    f: _Fields, rank: int, name_field: str, phone_field: str, relation_field: str, flag_field: str
) -> tuple[GuardianEntry | None, tuple[str, ...]]:
    """The guardian and any further numbers in their phone cell (kept nowhere: a person has one number)."""
    name = f.get(name_field, person_name)
    phones = f.get(phone_field, parse_phones) or ()
    relation = f.get(relation_field, _relation)
    if flag_field in f.values and f.values[flag_field] is not None and not parse_yes(f.values[flag_field]):
        return None, ()
    if name is None:
        if phones or relation is not None:
            f.fail(name_field, "name_missing")
        return None, ()
    return GuardianEntry(rank, name, phones[0] if phones else None, relation), phones[1:]


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
    office_phone = f.get("office_phone", parse_phone)
    issuer = f.get("issuer", _limited("issuer"))
    if issuer and role is not None and role is not Role.TOWNSHIP_OFFICER:
        f.fail("issuer", "issuer_not_township")
    if f.errors or name is None or phone is None or role is None or unit is None:
        return f.errors
    return StaffRow(number, row_county, name, phone, role, unit, township, office_phone, issuer)


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
    """The same 学籍号 or ID number twice; or the same (school, name, birth date) where either row lacks a 学籍号."""
    errors: list[RowError] = []
    by_number: dict[str, int] = {}
    by_id_number: dict[str, int] = {}
    by_identity: dict[tuple, StudentRow] = {}
    for row in rows:
        if row.student_no and row.student_no in by_number:
            errors.append(RowError(row.row, "student_no", "duplicate_student_no", {"other": by_number[row.student_no]}))
            continue
        if row.id_number and by_id_number.setdefault(row.id_number, row.row) != row.row:
            errors.append(RowError(row.row, "id_number", "duplicate_id_number", {"other": by_id_number[row.id_number]}))
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
