"""The three ledgers (适龄儿童台账, 疑似辍学学生台账, 辍学学生台账) as views over the data, for one scope and period.

`load_records` reads everything a report needs with a fixed number of set-based queries (never one per student or
per class; see bench/), whatever the size of the scope:
classes, students, enrolment changes, submitted roll calls, absences,
cases, persuasion attempts per case, case events per case, guardian notices per case.

A case that was struck off (动态销号: closed) stays in its ledger with its outcome and the date it was struck off.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot.records.period import Period
from bot.records.scope import ReportScope
from storage.models import (
    Absence,
    AbsenceReason,
    Case,
    CaseEvent,
    EnrolmentChange,
    EnrolmentStatus,
    OutboxMessage,
    PersuasionAttempt,
    RollCall,
    School,
    SchoolClass,
    Student,
    Township,
)

GUARDIAN_DOCUMENTS = ("persuasion_notice", "return_order")  # notices about a case that a guardian receives
UNEXCUSED = (AbsenceReason.UNEXPLAINED.value, AbsenceReason.UNKNOWN.value)
# On the roll (counted in the enrolment and the 巩固率): attending, suspended (休学) or taught at home (送教上门).
ON_ROLL = frozenset({EnrolmentStatus.ENROLLED, EnrolmentStatus.SUSPENDED, EnrolmentStatus.HOME_TEACHING})


@dataclass(frozen=True)
class ClassRow:
    id: int
    name: str
    school_id: int
    school: str
    township_id: int
    township: str


@dataclass(frozen=True)
class ChangeRow:
    student_id: int
    kind: str
    effective_on: date
    status_after: str


@dataclass(slots=True)
class StudentRow:
    """A line of the 适龄儿童台账."""

    id: int
    name: str
    class_id: int
    gender: str | None
    status: str
    tags: tuple[str, ...]
    absent_days: int = 0  # in the period
    unexcused_days: int = 0
    changes: list[ChangeRow] = field(default_factory=list)  # oldest first

    def status_on(self, day: date) -> str:
        """The status on `day`: the newest change on or before it; before any change, the status the first change
        started from (enrolled, or not here before a 转入); with no change at all, today's status."""
        before = [change for change in self.changes if change.effective_on <= day]
        if before:
            return before[-1].status_after
        if self.changes:
            first = self.changes[0]
            return EnrolmentStatus.TRANSFERRED.value if first.kind == "transfer_in" else EnrolmentStatus.ENROLLED.value
        return self.status

    def on_roll(self, day: date) -> bool:
        return self.status_on(day) in ON_ROLL

    def attending(self, day: date) -> bool:
        return self.status_on(day) == EnrolmentStatus.ENROLLED


@dataclass(slots=True)
class CaseRow:
    """A line of the 疑似辍学 ledger (and, once reported, of the 辍学 ledger)."""

    id: int
    student_id: int
    school_id: int
    stage: str
    first_absent_day: date
    opened_on: date
    reported_on: date | None
    ordered_on: date | None
    order_deadline: date | None
    closed_on: date | None  # struck off (动态销号)
    outcome: str | None
    reason_found: str | None
    home_visits: int = 0
    other_attempts: int = 0
    notices_sent: int = 0
    answers: int = 0
    legal_steps: int = 0
    absent_days: int = 0  # since the first absent day, to the end of the period


@dataclass
class RecordsData:
    scope: ReportScope
    period: Period
    classes: dict[int, ClassRow]
    students: dict[int, StudentRow]
    roll_call_days: dict[int, list[date]]  # class id → days with a submitted roll call in the period
    class_day_absences: dict[tuple[int, date], int]  # (class, day) → students absent
    student_day_absent: set[tuple[int, date]]  # (student, day) absent in the period
    cases: list[CaseRow]
    queries: int = 0

    @cached_property
    def cases_by_student(self) -> dict[int, list[CaseRow]]:
        index: dict[int, list[CaseRow]] = defaultdict(list)
        for row in self.cases:
            index[row.student_id].append(row)
        return dict(index)


async def load_records(session: AsyncSession, scope: ReportScope, period: Period) -> RecordsData:
    """Everything the ledgers and rates of `scope` for `period` need, in nine queries."""
    schools = scope.school_ids().scalar_subquery()
    classes = await _classes(session, schools)
    students = await _students(session, schools, period)
    await _add_changes(session, schools, period, students)
    roll_days = await _roll_call_days(session, schools, period)
    day_absences, student_days = await _absences(session, schools, period, students)
    cases = await _cases(session, schools, period)
    _count_case_absences(cases, student_days)
    return RecordsData(scope, period, classes, students, roll_days, day_absences, student_days, cases, queries=9)


async def _classes(session: AsyncSession, schools) -> dict[int, ClassRow]:
    rows = await session.execute(
        select(SchoolClass.id, SchoolClass.name, School.id, School.name, Township.id, Township.name)
        .join(School, School.id == SchoolClass.school_id).join(Township, Township.id == School.township_id)
        .where(School.id.in_(schools)).order_by(Township.name, School.name, SchoolClass.name)
    )
    return {row[0]: ClassRow(*row) for row in rows}


def _in_scope(schools):
    return SchoolClass.school_id.in_(schools)


async def _students(session: AsyncSession, schools, period: Period) -> dict[int, StudentRow]:
    # The tags as the stored JSON text, decoded only when there are any: most children have none, and decoding
    # 100,000 empty lists is a third of this query's time.
    raw_tags = type_coerce(Student.tags, String)
    rows = await session.execute(
        select(Student.id, Student.name, Student.class_id, Student.gender, Student.status, raw_tags)
        .join(SchoolClass, SchoolClass.id == Student.class_id).where(_in_scope(schools)).order_by(Student.id)
    )
    return {sid: StudentRow(sid, name, class_id, gender, status, _tags(tags))
            for sid, name, class_id, gender, status, tags in rows}


def _tags(raw: str | list[str] | None) -> tuple[str, ...]:
    """The JSON text SQLite returns, or the list asyncpg's codec already made of it on PostgreSQL."""
    if isinstance(raw, list):
        return tuple(raw)
    return tuple(json.loads(raw)) if raw and raw not in ("[]", "null") else ()


async def _add_changes(session: AsyncSession, schools, period: Period, students: dict[int, StudentRow]) -> None:
    rows = await session.execute(
        select(EnrolmentChange.student_id, EnrolmentChange.kind, EnrolmentChange.effective_on,
               EnrolmentChange.status_after)
        .join(Student, Student.id == EnrolmentChange.student_id).join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(_in_scope(schools)).order_by(EnrolmentChange.effective_on, EnrolmentChange.id)
    )
    for row in rows:
        if row[0] in students:
            students[row[0]].changes.append(ChangeRow(*row))


async def _roll_call_days(session: AsyncSession, schools, period: Period) -> dict[int, list[date]]:
    rows = await session.execute(
        select(RollCall.class_id, RollCall.day).join(SchoolClass, SchoolClass.id == RollCall.class_id)
        .where(_in_scope(schools), RollCall.day.between(period.start, period.end), RollCall.submitted_at.is_not(None))
        .order_by(RollCall.day)
    )
    days: dict[int, list[date]] = defaultdict(list)
    for class_id, day in rows:
        days[class_id].append(day)
    return dict(days)


async def _absences(
    session: AsyncSession, schools, period: Period, students: dict[int, StudentRow]
) -> tuple[dict[tuple[int, date], int], set[tuple[int, date]]]:
    """Per student: absent and unexcused days; per class and day: how many were absent (withdrawn ones never)."""
    rows = await session.execute(
        select(Absence.student_id, Absence.day, Absence.reason, Absence.excused)
        .join(Student, Student.id == Absence.student_id).join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Absence.withdrawn_at.is_(None), Absence.day.between(period.start, period.end), _in_scope(schools))
    )
    counts: dict[tuple[int, date], int] = defaultdict(int)
    student_days: set[tuple[int, date]] = set()
    for student_id, day, reason, excused in rows:
        student = students.get(student_id)
        if student is None or (student_id, day) in student_days:
            continue
        student_days.add((student_id, day))
        counts[(student.class_id, day)] += 1
        student.absent_days += 1
        student.unexcused_days += reason in UNEXCUSED and not excused
    return dict(counts), student_days


async def _cases(session: AsyncSession, schools, period: Period) -> list[CaseRow]:
    """Cases open at some time in the period or before its end and not struck off before it began."""
    rows = list(await session.scalars(
        select(Case).where(Case.school_id.in_(schools), Case.first_absent_day <= period.end)
        .order_by(Case.opened_at, Case.id)
    ))
    cases = {
        c.id: CaseRow(c.id, c.student_id, c.school_id, c.stage, c.first_absent_day, c.opened_at.date(),
                      c.reported_at.date() if c.reported_at else None, c.ordered_at.date() if c.ordered_at else None,
                      c.order_deadline, c.closed_at.date() if c.closed_at else None, c.outcome, c.reason_found)
        for c in rows if c.closed_at is None or c.closed_at.date() >= period.start
    }
    ids = select(Case.id).where(Case.school_id.in_(schools)).scalar_subquery()
    attempts = await session.execute(
        select(PersuasionAttempt.case_id, PersuasionAttempt.method, func.count())
        .where(PersuasionAttempt.case_id.in_(ids)).group_by(PersuasionAttempt.case_id, PersuasionAttempt.method)
    )
    for case_id, method, count in attempts:
        if case_id in cases:
            if method == "home_visit":
                cases[case_id].home_visits += count
            else:
                cases[case_id].other_attempts += count
    events = await session.execute(
        select(CaseEvent.case_id, CaseEvent.kind, func.count())
        .where(CaseEvent.case_id.in_(ids), CaseEvent.kind.in_(("guardian_answer", "legal_step")))
        .group_by(CaseEvent.case_id, CaseEvent.kind)
    )
    for case_id, kind, count in events:
        if case_id in cases:
            if kind == "guardian_answer":
                cases[case_id].answers = count
            else:
                cases[case_id].legal_steps = count
    notices = await session.execute(
        select(OutboxMessage.entity_id, func.count())
        .where(OutboxMessage.entity == "case", OutboxMessage.entity_id.in_(ids),
               OutboxMessage.template.in_(GUARDIAN_DOCUMENTS))
        .group_by(OutboxMessage.entity_id)
    )
    for entity_id, count in notices:
        if entity_id is not None and entity_id in cases:
            cases[entity_id].notices_sent = int(count)
    return list(cases.values())


def _count_case_absences(cases: list[CaseRow], student_days: set[tuple[int, date]]) -> None:
    """Each case's absent days in the period from its first absent day on."""
    days: dict[int, list[date]] = defaultdict(list)
    wanted = {row.student_id for row in cases}
    for student_id, day in student_days:
        if student_id in wanted:
            days[student_id].append(day)
    for row in cases:
        row.absent_days = sum(1 for day in days.get(row.student_id, ()) if day >= row.first_absent_day)
