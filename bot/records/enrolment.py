"""Enrolment changes (学籍变动): transfer out and in, suspension, return, home teaching, graduation, death.

`record_enrolment_change` is the one way a student's status changes after the import: the bot's form, the CLI and
the roster importer (its 学籍状态 column) call it. Each change carries its date, a note and who recorded it; lawful
non-attendance needs its proof (休学: the approving township government or county education department and the
document number; 送教上门: the county's assessment and its number; 转出: the receiving school and its confirmation).

Roll calls and the ladder count only ENROLLED students, so setting the status stops (or, on 复学 and 转入, restarts)
the counting. An open case is closed with the outcome the change means: a transfer closes it as "transferred" (not
"returned"), a suspension or home teaching as a lawful absence, graduation and death as "other".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.actions import finish_closing
from bot.cases.common import lock_case
from bot.core import audit
from bot.core.clock import Clock
from bot.core.errors import CodedError
from bot.core.policy import Policy, load_policy
from bot.core.scope import Actor
from bot.core.settings import Settings
from storage.models import (
    Case,
    CaseOutcome,
    EnrolmentChange,
    EnrolmentChangeKind,
    EnrolmentStatus,
    School,
    SchoolClass,
    Student,
)

MAX_FIELD = {"destination_school": 100, "origin_school": 100, "approving_body": 100, "document_no": 60, "note": 500}

STATUS_AFTER = {
    EnrolmentChangeKind.TRANSFER_OUT: EnrolmentStatus.TRANSFERRED,
    EnrolmentChangeKind.TRANSFER_IN: EnrolmentStatus.ENROLLED,
    EnrolmentChangeKind.SUSPENSION: EnrolmentStatus.SUSPENDED,
    EnrolmentChangeKind.RESUMPTION: EnrolmentStatus.ENROLLED,
    EnrolmentChangeKind.HOME_TEACHING: EnrolmentStatus.HOME_TEACHING,
    EnrolmentChangeKind.GRADUATION: EnrolmentStatus.GRADUATED,
    EnrolmentChangeKind.DEATH: EnrolmentStatus.DECEASED,
}
# What each change needs besides its date: the fields that make it lawful.
REQUIRED = {
    EnrolmentChangeKind.TRANSFER_OUT: ("destination_school", "document_no"),
    EnrolmentChangeKind.SUSPENSION: ("approving_body", "document_no"),
    EnrolmentChangeKind.HOME_TEACHING: ("approving_body", "document_no"),
}
# The statuses a change may start from (a return only after a suspension or home teaching, …).
ALLOWED_FROM = {
    EnrolmentChangeKind.TRANSFER_OUT: {EnrolmentStatus.ENROLLED, EnrolmentStatus.SUSPENDED,
                                       EnrolmentStatus.HOME_TEACHING},
    EnrolmentChangeKind.TRANSFER_IN: {EnrolmentStatus.TRANSFERRED, EnrolmentStatus.ENROLLED,
                                      EnrolmentStatus.DEFERRED},
    EnrolmentChangeKind.SUSPENSION: {EnrolmentStatus.ENROLLED, EnrolmentStatus.HOME_TEACHING},
    EnrolmentChangeKind.RESUMPTION: {EnrolmentStatus.SUSPENDED, EnrolmentStatus.HOME_TEACHING},
    EnrolmentChangeKind.HOME_TEACHING: {EnrolmentStatus.ENROLLED, EnrolmentStatus.SUSPENDED},
    EnrolmentChangeKind.GRADUATION: {EnrolmentStatus.ENROLLED, EnrolmentStatus.HOME_TEACHING},
    EnrolmentChangeKind.DEATH: {EnrolmentStatus.ENROLLED, EnrolmentStatus.SUSPENDED, EnrolmentStatus.HOME_TEACHING,
                                EnrolmentStatus.DEFERRED},
}
CASE_OUTCOME = {
    EnrolmentChangeKind.TRANSFER_OUT: CaseOutcome.TRANSFERRED,
    EnrolmentChangeKind.SUSPENSION: CaseOutcome.LAWFUL_ABSENCE,
    EnrolmentChangeKind.HOME_TEACHING: CaseOutcome.LAWFUL_ABSENCE,
    EnrolmentChangeKind.GRADUATION: CaseOutcome.OTHER,
    EnrolmentChangeKind.DEATH: CaseOutcome.OTHER,
}


class EnrolmentErrorCode(StrEnum):
    NOT_ALLOWED = "not_allowed"  # out of the actor's scope, or no such student (the same answer)
    BAD_KIND = "bad_kind"
    MISSING = "missing"  # a required field is empty: `field` names it
    TOO_LONG = "too_long"  # `field` is longer than the column holds
    WRONG_STATUS = "wrong_status"  # e.g. 复学 for a student who is not suspended: `status` is the current one
    FUTURE = "future"  # an effective date after today
    BAD_CLASS = "bad_class"  # 转入 into a class the actor does not manage


class EnrolmentError(CodedError[EnrolmentErrorCode]):
    """Why an enrolment change was not recorded."""


@dataclass(frozen=True)
class EnrolmentChangeResult:
    change_id: int
    student_id: int
    status: EnrolmentStatus
    closed_case_id: int | None  # the open case this change closed


def may_record(actor: Actor, school_id: int, township_id: int, county_id: int) -> bool:
    """School officers and principals of the school, the township's and the county's officers."""
    return (actor.administers_school(school_id) or actor.oversees_township(township_id)
            or actor.oversees_county(county_id))


async def record_enrolment_change(
    session: AsyncSession,
    actor: Actor | None,
    clock: Clock,
    student_id: int,
    kind: EnrolmentChangeKind | str,
    effective_on: date,
    *,
    settings: Settings,
    policy: Policy | None = None,
    destination_school: str | None = None,
    origin_school: str | None = None,
    approving_body: str | None = None,
    document_no: str | None = None,
    to_class_id: int | None = None,
    note: str | None = None,
) -> EnrolmentChangeResult:
    """Record one change in the caller's transaction: checks scope and proof, sets the student's status (and, for
    a 转入 with `to_class_id`, their class), closes an open case with the matching outcome, audits. `actor=None` is
    an import or the CLI (trusted). Raises `EnrolmentError`; nothing is changed then."""
    kind = _kind(kind)
    now = clock.now()
    fields = _clean({"destination_school": destination_school, "origin_school": origin_school,
                     "approving_body": approving_body, "document_no": document_no, "note": note})
    for name in REQUIRED.get(kind, ()):
        if not fields[name]:
            raise EnrolmentError(EnrolmentErrorCode.MISSING, field=name)
    if effective_on > now.astimezone(settings.tz).date():
        raise EnrolmentError(EnrolmentErrorCode.FUTURE)
    student, school_class, school = await _student_in_scope(session, actor, student_id)
    if EnrolmentStatus(student.status) not in ALLOWED_FROM[kind]:
        raise EnrolmentError(EnrolmentErrorCode.WRONG_STATUS, status=student.status)
    if kind is EnrolmentChangeKind.TRANSFER_IN and to_class_id is not None:
        school_class, school = await _receiving_class(session, actor, to_class_id)
        student.class_id = school_class.id
    status = STATUS_AFTER[kind]
    student.status = status.value
    student.updated_at = now
    change = EnrolmentChange(
        student_id=student.id, kind=kind.value, effective_on=effective_on, status_after=status.value,
        school_id=school.id, class_id=school_class.id, recorded_by=actor.person_id if actor else None,
        recorded_at=now, **fields,
    )
    session.add(change)
    await session.flush()
    closed = await _close_open_case(session, settings, policy or load_policy(settings), actor, student.id, kind,
                                    change, now)
    change.closed_case_id = closed
    audit.record(session, now, f"enrolment.{kind.value}", "student", student.id,
                 actor_person_id=actor.person_id if actor else None, actor="person" if actor else "cli",
                 change_id=change.id, status=status.value, case_id=closed)
    return EnrolmentChangeResult(change.id, student.id, status, closed)


def _kind(value: EnrolmentChangeKind | str) -> EnrolmentChangeKind:
    try:
        return EnrolmentChangeKind(value)
    except ValueError:
        raise EnrolmentError(EnrolmentErrorCode.BAD_KIND) from None


def _clean(fields: dict[str, str | None]) -> dict[str, str | None]:
    cleaned = {}
    for name, value in fields.items():
        text = (value or "").strip() or None
        if text is not None and len(text) > MAX_FIELD[name]:
            raise EnrolmentError(EnrolmentErrorCode.TOO_LONG, field=name)
        cleaned[name] = text
    return cleaned


async def _student_in_scope(
    session: AsyncSession, actor: Actor | None, student_id: int
) -> tuple[Student, SchoolClass, School]:
    row = (await session.execute(
        select(Student, SchoolClass, School).join(SchoolClass, SchoolClass.id == Student.class_id)
        .join(School, School.id == SchoolClass.school_id).where(Student.id == student_id).with_for_update(of=Student)
    )).first()
    if row is None:
        raise EnrolmentError(EnrolmentErrorCode.NOT_ALLOWED)
    student, school_class, school = row
    if actor is not None and not may_record(actor, school.id, school.township_id, school.township.county_id):
        raise EnrolmentError(EnrolmentErrorCode.NOT_ALLOWED)
    return student, school_class, school


async def _receiving_class(session: AsyncSession, actor: Actor | None, class_id: int) -> tuple[SchoolClass, School]:
    school_class = await session.get(SchoolClass, class_id)
    if school_class is None:
        raise EnrolmentError(EnrolmentErrorCode.BAD_CLASS)
    school = school_class.school
    if actor is not None and not may_record(actor, school.id, school.township_id, school.township.county_id):
        raise EnrolmentError(EnrolmentErrorCode.BAD_CLASS)
    return school_class, school


async def _close_open_case(
    session: AsyncSession, settings: Settings, policy: Policy, actor: Actor | None, student_id: int,
    kind: EnrolmentChangeKind, change: EnrolmentChange, now: datetime,
) -> int | None:
    outcome = CASE_OUTCOME.get(kind)
    if outcome is None:
        return None
    case_id = await session.scalar(select(Case.id).where(Case.student_id == student_id, Case.closed_at.is_(None)))
    case = await lock_case(session, case_id) if case_id is not None else None
    if case is None:
        return None
    parts = (change.destination_school, change.approving_body, change.document_no, change.note)
    note = " ".join(part for part in parts if part) or None
    await finish_closing(session, settings, policy, now, actor, case, outcome, note[:500] if note else None)
    return case.id
