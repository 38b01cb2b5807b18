"""The ladder in the tick: everything due at `now`, found with set-based queries and done once.

`run_ladder(session, settings, policy, now)` runs in one transaction (the tick's). On PostgreSQL it first takes a
transaction-level advisory lock, so two ticks at once run the ladder one after the other; SQLite's BEGIN IMMEDIATE
does the same. Every case step is claimed by inserting its `CaseStep(case_id, step)` row with ON CONFLICT DO
NOTHING *before* acting, and every notice has an idempotency key, so a second tick, or a concurrent one, does
nothing new. The queries are a constant number whatever the number of students or of cases due: each step reads
what is due in one or two queries, the people involved for all its cases at once (`load_casts`), and every notice,
history event and audit record of the run is written at the end in one executemany each (`NoticeBatch`).

Steps, their keys, and who is told:
a. reply reminder: a guardian asked about today's unexplained/unknown absence, reached `contact.reply_reminder_after`
   ago, and nobody in the family answered → `reply_reminder` (outbox key `reply-reminder:<absence>:<guardian>`);
b. phone request: at `contact.teacher_phone_at` on the school day, absences of today still without any answer →
   the class teacher is asked to phone (`teacher_phone_request`, key `teacher-phone:<absence>:<teacher>`);
   neither a nor b for a student with an open case: the case's steps are the family's contact then;
c. opening: an ENROLLED student absent without a proper reason on each of their school's last
   `suspected_dropout.after` school days, with no open case → a case (the partial unique index on open cases is
   the key), `case_opened_officer` to the school's officers, the 劝学书 (`persuasion_notice`, answer buttons) to
   every guardian (`deliver_by_hand` to the officers for those it cannot reach), `case_opened_teacher`;
   a student in the watch window after a return with a new such absence → `watch_absence` to the school's
   officers at once (step `watch_absence:<absence>` on the closed case);
d. home visit overdue: an OPEN case without any persuasion attempt after `home_visit_due` → `home_visit_overdue`
   to the officers (step `home_visit_overdue`);
e. report upward: an OPEN case whose 劝学书 deadline passed, or with `report.failed_attempts` failed attempts, the
   child not back (not marked present on a roll call after the last absence: that case waits for the teacher to
   confirm the return) → the 辍学报告 as `report_to_township(actor=None)` files it (step `report`);
f. order deadline passed: an ORDERED case after its `order_deadline` → `order_deadline_passed` to the township's
   officers, with the next recordable legal step where the policy provides them (step `order_deadline_passed`);
g. watch ended: a RETURNED case after `watch_until` → event `watch_ended` (step `watch_ended`);
h. return not confirmed: on a school day, an open case whose child has been marked present on the roll call on
   `return_confirmation.teacher_after` school days since their last absence (so the report in e waits) → the class
   teacher (the school's officers when the class has none) is asked once to confirm the return, with a button that
   closes the case as returned (`return_reminder`, step `return_reminder:<last absence day>`); still open
   `return_confirmation.officer_after` school days after that → the school's officers, once
   (`return_reminder_officer`, step `return_reminder_officer:<last absence day>`). An absence in between moves
   the last absence day: no reminder for the old run, the ladder's other steps take over.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.calendar.days import SchoolCalendar, load_calendars
from bot.core.clock import iso_day, to_local
from bot.core.policy import Policy
from bot.core.settings import Settings
from bot.documents.records import issue, issue_report, reference_of, state
from bot.notices.absence import REPLY_REASONS, TOLD, answer_actions
from bot.notices.outbox import Action, Delivery, next_send_time, queued_keys
from storage.models import (
    Absence,
    AbsenceReply,
    AuditEvent,
    Case,
    CaseOutcome,
    CaseStage,
    CaseStep,
    ContactPoint,
    DocumentKind,
    EnrolmentStatus,
    Guardianship,
    OutboxMessage,
    Person,
    PersuasionAttempt,
    Role,
    RollCall,
    School,
    SchoolClass,
    StaffRole,
    Student,
)

from .actions import file_report
from .common import (
    COUNTED_REASONS,
    OFFICER_ROLES,
    Cast,
    case_ref,
    is_dialect,
    load_casts,
    local_today,
    tell_guardians,
    tell_many,
)
from .facts import family_answers_many, report_values_many
from .model import ANSWER_LABELS, CASE_ACTION, LEGAL_ORDER, RETURNED_ACTION, RETURNED_LABEL, Recipient
from .outbox import NoticeBatch

log = logging.getLogger(__name__)

ADVISORY_LOCK = 0x51584C41  # "QXLA": the ladder's transaction-level lock on PostgreSQL
STREAK_LOOKBACK_DAYS = 60  # how far back the start of an absence streak is looked for
CHUNK = 500  # rows per multi-row INSERT


@dataclass
class LadderReport:
    reply_reminders: int = 0
    phone_requests: int = 0
    opened: int = 0
    watch_absences: int = 0
    home_visits_overdue: int = 0
    reported: int = 0
    orders_overdue: int = 0
    watch_ended: int = 0
    return_reminders: int = 0
    return_escalations: int = 0


async def run_ladder(session: AsyncSession, settings: Settings, policy: Policy, now: datetime) -> LadderReport:
    """Do everything on the ladder that is due at `now` (see the module's docstring), once."""
    if is_dialect(session, "postgresql"):
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    report = LadderReport()
    today = local_today(settings, now)
    batch = NoticeBatch(session, settings, now)  # every notice of the run, written at the end in a few INSERTs
    report.reply_reminders = await _reply_reminders(batch, policy, today)
    report.phone_requests = await _phone_requests(batch, policy, today)
    calendars = await load_calendars(session)
    report.opened = await _open_cases(batch, policy, today, calendars)
    report.watch_absences = await _watch_absences(batch, today)
    report.home_visits_overdue = await _home_visits_overdue(batch, today)
    report.reported = await _report_upward(batch, policy, today)
    report.orders_overdue = await _orders_overdue(batch, policy, today)
    report.watch_ended = await _watch_ended(batch, today)
    report.return_reminders, report.return_escalations = await _return_reminders(batch, policy, today, calendars)
    await batch.flush()
    return report


# --- helpers ------------------------------------------------------------------------------------------------------


def _insert(session: AsyncSession):
    return pg_insert if is_dialect(session, "postgresql") else sqlite_insert


async def claim(session: AsyncSession, now: datetime, pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Insert `CaseStep(case_id, step)` rows, skipping existing ones; returns the pairs this call claimed. A pair
    another transaction claimed first is not returned (on PostgreSQL the insert waits for that transaction)."""
    claimed: set[tuple[int, str]] = set()
    pairs = list(dict.fromkeys(pairs))
    for start in range(0, len(pairs), CHUNK):
        rows = [{"case_id": case_id, "step": step, "done_at": now} for case_id, step in pairs[start:start + CHUNK]]
        stmt = (
            _insert(session)(CaseStep).values(rows)
            .on_conflict_do_nothing(index_elements=["case_id", "step"])
            .returning(CaseStep.case_id, CaseStep.step)
        )
        claimed |= {(case_id, step) for case_id, step in await session.execute(stmt)}
    return claimed


def _step_done(step: str):
    return exists().where(CaseStep.case_id == Case.id, CaseStep.step == step)


def _start_of(day: date, settings: Settings) -> datetime:
    return datetime.combine(day, time(0, 0), settings.tz).astimezone(UTC)


def _due_at(settings: Settings, now: datetime, since: time) -> bool:
    """Whether the local time is `since` or later and outside quiet hours (a notice queued now is read today)."""
    return to_local(now, settings.tz).time() >= since and next_send_time(now, settings) == now


def _unanswered_today(today: date):
    """Today's absences that ask the family why and have no answer yet, of students without an open case (for
    those the case's own steps reach the family and the school)."""
    answered = exists().where(AbsenceReply.absence_id == Absence.id)
    in_case = exists().where(Case.student_id == Absence.student_id, Case.closed_at.is_(None))
    return and_(
        Absence.day == today, Absence.withdrawn_at.is_(None), Absence.excused.is_(False),
        Absence.reason.in_(REPLY_REASONS), ~answered, ~in_case,
    )


# --- a. reply reminders -------------------------------------------------------------------------------------------


async def _reply_reminders(batch: NoticeBatch, policy: Policy, today: date) -> int:
    session, settings, now = batch.session, batch.settings, batch.now
    after = policy.contact.reply_reminder_after.as_timedelta()
    if not _due_at(settings, now, time(0, 0)):
        return 0
    told_rows = (
        await session.execute(
            select(AuditEvent.entity_id, AuditEvent.details, AuditEvent.at, Student.name, SchoolClass.name,
                   Absence.day)
            .join(Absence, Absence.id == AuditEvent.entity_id)
            .join(Student, Student.id == Absence.student_id)
            .join(SchoolClass, SchoolClass.id == Student.class_id)
            .where(AuditEvent.at >= _start_of(today, settings), AuditEvent.at <= now - after,
                   AuditEvent.action == TOLD, AuditEvent.entity == "absence", _unanswered_today(today))
            .order_by(AuditEvent.id)
        )
    ).all()
    latest: dict[tuple[int, int], tuple[datetime, str, str, date]] = {}
    for absence_id, details, at, child, class_name, day in told_rows:
        if not details.get("reason"):
            continue  # told "corrected to present"
        latest[(absence_id, int(details["guardian_id"]))] = (at, child, class_name, day)
    if not latest:
        return 0
    # when the guardian's notice was really sent (quiet hours may have held it back)
    guardians = {guardian for _, guardian in latest}
    first = min(at for at, *_ in latest.values())
    sent: dict[tuple[int, datetime], datetime] = {}
    for person_id, created_at, sent_at, next_attempt_at in await session.execute(
        select(OutboxMessage.person_id, OutboxMessage.created_at, OutboxMessage.sent_at, OutboxMessage.next_attempt_at)
        .where(OutboxMessage.template == "absence_notice", OutboxMessage.person_id.in_(guardians),
               OutboxMessage.created_at >= first)
    ):
        sent[(person_id, created_at)] = sent_at or next_attempt_at
    due = {
        key: value for key, value in latest.items()
        if max(value[0], sent.get((key[1], value[0]), value[0])) + after <= now
    }
    keys = {f"reply-reminder:{absence_id}:{guardian}": (absence_id, guardian) for absence_id, guardian in due}
    done = await queued_keys(session, keys)
    todo = {key: pair for key, pair in keys.items() if key not in done}
    if not todo:
        return 0
    people = {p.id: p for p in await session.scalars(select(Person).where(
        Person.id.in_({guardian for _, guardian in todo.values()})))}
    await batch.prefetch(people)
    queued = 0
    for key, (absence_id, guardian) in todo.items():
        _at, child, class_name, day = due[(absence_id, guardian)]
        person = people.get(guardian)
        if person is None:
            continue
        values = {"guardian": person.name, "child": child, "class_name": class_name, "day": day}
        delivery = batch.add(person, "reply_reminder", values, key, actions=answer_actions(absence_id),
                             entity="absence", entity_id=absence_id)
        queued += delivery is Delivery.QUEUED
    return queued


# --- b. the teacher is asked to phone -----------------------------------------------------------------------------


async def _phone_requests(batch: NoticeBatch, policy: Policy, today: date) -> int:
    session, settings, now = batch.session, batch.settings, batch.now
    if not _due_at(settings, now, policy.contact.teacher_phone_at):
        return 0
    rows = (
        await session.execute(
            select(Absence.id, Absence.student_id, Student.name, SchoolClass.id, SchoolClass.name,
                   SchoolClass.school_id)
            .join(Student, Student.id == Absence.student_id)
            .join(SchoolClass, SchoolClass.id == Student.class_id)
            .where(_unanswered_today(today), Student.status == EnrolmentStatus.ENROLLED)
            .order_by(SchoolClass.id, Student.name, Absence.id)
        )
    ).all()
    if not rows:
        return 0
    class_ids = {row[3] for row in rows}
    school_ids = {row[5] for row in rows}
    teachers: dict[int | None, list[Person]] = defaultdict(list)
    officers: dict[int | None, list[Person]] = defaultdict(list)
    for role, class_id, school_id, person in await session.execute(
        select(StaffRole.role, StaffRole.class_id, StaffRole.school_id, Person)
        .join(Person, Person.id == StaffRole.person_id)
        .where(((StaffRole.role == Role.CLASS_TEACHER) & StaffRole.class_id.in_(class_ids))
               | (StaffRole.role.in_(OFFICER_ROLES) & StaffRole.school_id.in_(school_ids)))
        .order_by(StaffRole.id)
    ):
        (teachers[class_id] if role == Role.CLASS_TEACHER else officers[school_id]).append(person)
    wanted: dict[str, tuple[Any, Person]] = {}
    for row in rows:
        for person in teachers.get(row[3]) or officers.get(row[5], []):
            wanted[f"teacher-phone:{row[0]}:{person.id}"] = (row, person)
    done = await queued_keys(session, wanted)
    todo = {key: value for key, value in wanted.items() if key not in done}
    if not todo:
        return 0
    students = {row[1] for row, _ in todo.values()}
    family: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for student_id, relation, person, reachable in await session.execute(
        select(Guardianship.student_id, Guardianship.relation, Person, ContactPoint.reachable)
        .join(Person, Person.id == Guardianship.person_id)
        .outerjoin(ContactPoint, ContactPoint.person_id == Person.id)
        .where(Guardianship.student_id.in_(students))
        .order_by(Guardianship.rank, Guardianship.id)
    ):
        family[student_id].append({"name": person.name, "relation": relation or "", "has_phone": bool(person.phone),
                                   "linked": reachable is not None, "reachable": bool(reachable)})
    await batch.prefetch({person.id for _, person in todo.values()})
    queued = 0
    for key, (row, person) in todo.items():
        absence_id, student_id, child, _class_id, class_name, _school_id = row
        values = {"child": child, "class_name": class_name, "day": today, "guardians": family.get(student_id, [])}
        delivery = batch.add(person, "teacher_phone_request", values, key, entity="absence", entity_id=absence_id)
        queued += delivery is Delivery.QUEUED
    return queued


# --- c. opening ---------------------------------------------------------------------------------------------------


def case_actions(case: Case) -> list[list[Action]]:
    """The 劝学书's answer buttons: one per row."""
    return [[Action(label, CASE_ACTION, case.id, answer.value)] for answer, label in ANSWER_LABELS.items()]


async def _open_cases(batch: NoticeBatch, policy: Policy, today: date, calendars: dict[int, SchoolCalendar]) -> int:
    session, settings, now = batch.session, batch.settings, batch.now
    n = policy.suspected_dropout.after.amount
    windows: dict[int, tuple[date, ...]] = {}
    for school_id, calendar in calendars.items():
        window = tuple(calendar.school_days_before(today, n))
        if len(window) == n:
            windows[school_id] = window
    days = sorted({day for window in windows.values() for day in window})
    if not days:
        return 0
    counted = and_(Absence.day.in_(days), Absence.withdrawn_at.is_(None), Absence.excused.is_(False),
                   Absence.reason.in_(COUNTED_REASONS))
    # students absent on at least n of those days (the database counts); then exactly their school's window
    runs = (
        select(Absence.student_id).where(counted).group_by(Absence.student_id).having(func.count() >= n).subquery()
    )
    open_case = exists().where(Case.student_id == Absence.student_id, Case.closed_at.is_(None))
    rows = (
        await session.execute(
            select(Absence.student_id, Absence.day, SchoolClass.school_id)
            .join(runs, runs.c.student_id == Absence.student_id)
            .join(Student, Student.id == Absence.student_id)
            .join(SchoolClass, SchoolClass.id == Student.class_id)
            .where(counted, Student.status == EnrolmentStatus.ENROLLED, ~open_case)
        )
    ).all()
    absent: dict[int, set[date]] = defaultdict(set)
    school_of: dict[int, int] = {}
    for student_id, day, school_id in rows:
        absent[student_id].add(day)
        school_of[student_id] = school_id
    candidates = [
        sid for sid, seen in absent.items()
        if school_of[sid] in windows and set(windows[school_of[sid]]) <= seen
    ]
    if not candidates:
        return 0
    # a case closed on or after the streak's window began is not reopened by the same days
    last_closed = {
        student_id: closed_at
        for student_id, closed_at in await session.execute(
            select(Case.student_id, func.max(Case.closed_at)).where(Case.student_id.in_(candidates),
                                                                    Case.closed_at.is_not(None))
            .group_by(Case.student_id)
        )
        if closed_at is not None
    }
    candidates = [
        sid for sid in candidates
        if sid not in last_closed or to_local(_aware(last_closed[sid]), settings.tz).date()
        < windows[school_of[sid]][0]
    ]
    if not candidates:
        return 0
    first_day, history = await _streak_starts(session, candidates, school_of, windows, calendars, today)
    township_of: dict[int, int] = dict((await session.execute(
        select(Student.id, _township_of_student()).join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Student.id.in_(candidates))
    )).all())
    rows_to_insert = []
    for sid in candidates:
        school_id = school_of[sid]
        calendar = calendars[school_id]
        rows_to_insert.append({
            "student_id": sid, "school_id": school_id, "township_id": township_of[sid],
            "stage": CaseStage.OPEN.value, "first_absent_day": first_day[sid], "opened_at": now,
            "persuasion_deadline": policy.suspected_dropout.persuasion_deadline.after(today, calendar),
            "home_visit_due": policy.suspected_dropout.home_visit_within.after(today, calendar),
        })
    new_ids: list[int] = []
    for start in range(0, len(rows_to_insert), CHUNK):
        stmt = (
            _insert(session)(Case).values(rows_to_insert[start:start + CHUNK])
            .on_conflict_do_nothing(index_elements=["student_id"], index_where=Case.closed_at.is_(None))
            .returning(Case.id)
        )
        new_ids += list(await session.scalars(stmt))
    if not new_ids:
        return 0
    cases = list(await session.scalars(select(Case).where(Case.id.in_(new_ids)).order_by(Case.id)))
    casts = await load_casts(session, cases)
    await batch.prefetch({pid for cast in casts.values() for pid in cast.person_ids})
    answers = await family_answers_many(session, cases, casts)
    watched = set(await session.scalars(
        select(Case.student_id).where(Case.student_id.in_([c.student_id for c in cases]),
                                      Case.outcome == CaseOutcome.RETURNED, Case.watch_until >= today)
    ))
    for case in cases:
        cast = casts.get(case.id)
        if cast is None:
            continue
        documents = await issue(session, settings, now, case, DocumentKind.PERSUASION_NOTICE, None, {},
                                guardians=cast.guardians)
        state(documents, _announce_opening(batch, case, cast, history[case.student_id], answers.get(case.id, []),
                                           watch=case.student_id in watched, reference=reference_of(documents)))
    return len(cases)


def _township_of_student():
    return select(School.township_id).where(School.id == SchoolClass.school_id).scalar_subquery()


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


async def _streak_starts(
    session: AsyncSession, students: list[int], school_of: dict[int, int], windows: dict[int, tuple[date, ...]],
    calendars: dict[int, SchoolCalendar], today: date,
) -> tuple[dict[int, date], dict[int, set[date]]]:
    """The first day of each student's unbroken run of school days absent without a proper reason (the window's
    first day at least), looking back `STREAK_LOOKBACK_DAYS`."""
    floor = today - timedelta(days=STREAK_LOOKBACK_DAYS)
    history: dict[int, set[date]] = defaultdict(set)
    for student_id, day in await session.execute(
        select(Absence.student_id, Absence.day).where(
            Absence.student_id.in_(students), Absence.day >= floor, Absence.withdrawn_at.is_(None),
            Absence.excused.is_(False), Absence.reason.in_(COUNTED_REASONS),
        )
    ):
        history[student_id].add(day)
    starts = {}
    for sid in students:
        calendar, start = calendars[school_of[sid]], windows[school_of[sid]][0]
        while True:
            before = calendar.school_days_before(start - timedelta(days=1), 1)
            if not before or before[0] < floor or before[0] not in history[sid]:
                break
            start = before[0]
        starts[sid] = start
    return starts, history


def _announce_opening(
    batch: NoticeBatch, case: Case, cast: Cast, absent_days: set[date], answers: list[dict[str, Any]], *,
    watch: bool, reference: str | None = None,
) -> dict[str, Any]:
    """The opening's notices; returns the 劝学书's values (`reference`: its number; the others show the case's)."""
    settings = batch.settings
    days = sorted(d for d in absent_days if d >= case.first_absent_day)
    batch.event(case, None, "opened", stage=CaseStage.OPEN.value,
              first_absent_day=case.first_absent_day.isoformat(), days=[d.isoformat() for d in days],
              persuasion_deadline=iso_day(case.persuasion_deadline),
              home_visit_due=iso_day(case.home_visit_due), watch=watch)
    teacher = cast.teachers[0].name if cast.teachers else ""
    base = {
        "child": cast.student.name, "class_name": cast.school_class.name, "school": cast.school_name,
        "first_absent_day": case.first_absent_day, "days": days, "days_absent": len(days),
        "deadline": case.persuasion_deadline, "home_visit_due": case.home_visit_due, "ref": case_ref(case, settings),
        "teacher": teacher, "issued": case.opened_at.astimezone(settings.tz).date(), "watch": watch,
    }
    guardians = [
        {"name": p.name, "relation": r or "", "linked": p.id in cast.reachable,
         "reachable": cast.reachable.get(p.id, False), "has_phone": bool(p.phone)}
        for p, r in cast.guardians
    ]
    officer_values = base | {"answers": answers, "guardians": guardians}
    tell_many(batch, cast.school_staff, Recipient.SCHOOL_OFFICER, "case_opened_officer", officer_values,
              f"case-opened:{case.id}", case)
    letter = base | {"ref": reference} if reference else base  # the 劝学书 carries its own number
    tell_guardians(batch, case, cast, "persuasion_notice", letter, case.persuasion_deadline, case_actions(case))
    if cast.officers:  # without officers the teachers had the officers' alert already
        tell_many(batch, cast.teachers, Recipient.TEACHER, "case_opened_teacher", base,
                  f"case-opened-teacher:{case.id}", case, {p.id for p in cast.officers})
    return letter


# --- c'. the watch window -----------------------------------------------------------------------------------------


async def _watch_absences(batch: NoticeBatch, today: date) -> int:
    session, settings, now = batch.session, batch.settings, batch.now
    # three index-driven queries: the watched cases, their students' recent absences, the steps done already
    other = aliased(Case)
    open_case = exists().where(other.student_id == Case.student_id, other.closed_at.is_(None))
    watched = {
        case.student_id: case
        for case in await session.scalars(
            select(Case).join(Student, Student.id == Case.student_id)
            .where(Case.outcome == CaseOutcome.RETURNED, Case.watch_until >= today,
                   Student.status == EnrolmentStatus.ENROLLED, ~open_case)
            .order_by(Case.closed_at)  # a student's latest returned case wins
        )
    }
    returned_on = {
        sid: to_local(case.closed_at, settings.tz).date() for sid, case in watched.items() if case.closed_at is not None
    }
    if not returned_on:
        return 0
    floor = min(returned_on.values())
    rows = (
        await session.execute(
            select(Absence.student_id, Absence.id, Absence.day, Absence.reason).where(
                Absence.student_id.in_(list(returned_on)), Absence.day > floor, Absence.day <= today,
                Absence.withdrawn_at.is_(None), Absence.excused.is_(False), Absence.reason.in_(COUNTED_REASONS),
            ).order_by(Absence.day, Absence.id)
        )
    ).all()
    candidates = [(watched[sid], absence_id, day, reason) for sid, absence_id, day, reason in rows
                  if day > returned_on[sid]]
    if not candidates:
        return 0
    done = set(await session.execute(
        select(CaseStep.case_id, CaseStep.step).where(
            CaseStep.case_id.in_({case.id for case, *_ in candidates}), CaseStep.step.like("watch_absence:%"))
    ))
    due = [item for item in candidates if (item[0].id, f"watch_absence:{item[1]}") not in done]
    if not due:
        return 0
    claimed = await claim(session, now, [(case.id, f"watch_absence:{absence_id}") for case, absence_id, *_ in due])
    due = [item for item in due if (item[0].id, f"watch_absence:{item[1]}") in claimed]
    casts = await load_casts(session, {item[0].id: item[0] for item in due}.values())
    await batch.prefetch({pid for cast in casts.values() for pid in cast.person_ids})
    for case, absence_id, day, reason in due:
        cast = casts.get(case.id)
        if cast is None:
            continue
        batch.event(case, None, "watch_absence", absence_id=absence_id, day=day.isoformat(),
                  reason=reason)
        values = {
            "child": cast.student.name, "class_name": cast.school_class.name, "day": day, "reason": reason,
            "returned": returned_on[case.student_id], "watch_until": case.watch_until,
            "ref": case_ref(case, settings),
        }
        tell_many(batch, cast.school_staff, Recipient.SCHOOL_OFFICER, "watch_absence", values,
                  f"watch-absence:{absence_id}", case)
    return len(due)


# --- d. home visit overdue ----------------------------------------------------------------------------------------


async def _home_visits_overdue(batch: NoticeBatch, today: date) -> int:
    session, settings, now = batch.session, batch.settings, batch.now
    step = "home_visit_overdue"
    attempted = exists().where(PersuasionAttempt.case_id == Case.id)
    cases = list(await session.scalars(
        select(Case).where(Case.stage == CaseStage.OPEN, Case.home_visit_due < today, ~attempted, ~_step_done(step))
        .order_by(Case.id)
    ))
    cases = await _claimed(session, now, cases, step)
    casts = await load_casts(session, cases)
    await batch.prefetch({pid for cast in casts.values() for pid in cast.person_ids})
    for case in cases:
        cast = casts.get(case.id)
        if cast is None:
            continue
        batch.event(case, None, step, home_visit_due=iso_day(case.home_visit_due))
        values = {
            "child": cast.student.name, "class_name": cast.school_class.name, "due": case.home_visit_due,
            "first_absent_day": case.first_absent_day, "deadline": case.persuasion_deadline,
            "ref": case_ref(case, settings),
        }
        tell_many(batch, cast.school_staff, Recipient.SCHOOL_OFFICER, "home_visit_overdue", values,
                  f"home-visit-overdue:{case.id}", case)
    return len(cases)


async def _claimed(session: AsyncSession, now: datetime, cases: list[Case], step: str) -> list[Case]:
    if not cases:
        return []
    claimed = await claim(session, now, [(case.id, step) for case in cases])
    return [case for case in cases if (case.id, step) in claimed]


# --- e. report upward ---------------------------------------------------------------------------------------------


async def _report_upward(batch: NoticeBatch, policy: Policy, today: date) -> int:
    session, settings, now = batch.session, batch.settings, batch.now
    step = "report"
    failed_count = (
        select(func.count()).select_from(PersuasionAttempt)
        .where(PersuasionAttempt.case_id == Case.id, PersuasionAttempt.succeeded.is_(False))
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(Case.id, Case.student_id, Case.persuasion_deadline, failed_count)
            .where(Case.stage == CaseStage.OPEN, Case.closed_at.is_(None), ~_step_done(step),
                   (Case.persuasion_deadline < today) | (failed_count >= policy.report.failed_attempts))
            .order_by(Case.id)
        )
    ).all()
    if not rows:
        return 0
    back = await _back_at_school(session, [student_id for _, student_id, *_ in rows])
    due = [(case_id, deadline, n) for case_id, student_id, deadline, n in rows if student_id not in back]
    if not due:
        return 0
    claimed = await claim(session, now, [(case_id, step) for case_id, *_ in due])
    failed = {case_id: n for case_id, _deadline, n in due if (case_id, step) in claimed}
    if not failed:
        return 0
    cases = list(await session.scalars(
        select(Case).where(Case.id.in_(list(failed)), Case.stage == CaseStage.OPEN).order_by(Case.id)
        .with_for_update().execution_options(populate_existing=True)
    ))
    casts = await load_casts(session, cases)
    await batch.prefetch({pid for cast in casts.values() for pid in cast.person_ids})
    values = await report_values_many(session, settings, [c for c in cases if c.id in casts], casts)
    for case in cases:
        if case.id not in casts:
            continue
        why = "failed_attempts" if failed[case.id] >= policy.report.failed_attempts else "deadline"
        file_report(batch, case, casts[case.id], None, values[case.id], why=why, note=None)
        await issue_report(session, settings, now, case, None, values[case.id] | {"why": why, "note": ""})
    return len(values)


async def _back_at_school(session: AsyncSession, student_ids: list[int]) -> set[int]:
    """Students marked present on a roll call after their latest absence: the child is back, so the case waits
    for the teacher's confirmation instead of going up the ladder."""
    last_absent = dict((await session.execute(
        select(Absence.student_id, func.max(Absence.day))
        .where(Absence.student_id.in_(student_ids), Absence.withdrawn_at.is_(None))
        .group_by(Absence.student_id)
    )).all())
    last_roll = dict((await session.execute(
        select(Student.id, func.max(RollCall.day))
        .join(RollCall, RollCall.class_id == Student.class_id)
        .where(Student.id.in_(student_ids), RollCall.revision > 0)
        .group_by(Student.id)
    )).all())
    return {sid for sid in student_ids
            if sid in last_roll and sid in last_absent and last_roll[sid] > last_absent[sid]}


# --- f. order deadline passed -------------------------------------------------------------------------------------


async def _orders_overdue(batch: NoticeBatch, policy: Policy, today: date) -> int:
    session, settings, now = batch.session, batch.settings, batch.now
    step = "order_deadline_passed"
    cases = list(await session.scalars(
        select(Case).where(Case.stage == CaseStage.ORDERED, Case.order_deadline < today, ~_step_done(step))
        .order_by(Case.id)
    ))
    cases = await _claimed(session, now, cases, step)
    casts = await load_casts(session, cases)
    await batch.prefetch({pid for cast in casts.values() for pid in cast.person_ids})
    next_step = LEGAL_ORDER[0].value if policy.legal_steps.enabled else ""
    for case in cases:
        cast = casts.get(case.id)
        if cast is None:
            continue
        batch.event(case, None, step, deadline=iso_day(case.order_deadline))
        values = {
            "child": cast.student.name, "class_name": cast.school_class.name, "school": cast.school_name,
            "deadline": case.order_deadline, "legal": policy.legal_steps.enabled, "next_step": next_step,
            "ref": case_ref(case, settings),
        }
        people = cast.township_officers or cast.school_staff
        role = Recipient.TOWNSHIP_OFFICER if cast.township_officers else Recipient.SCHOOL_OFFICER
        tell_many(batch, people, role, "order_deadline_passed", values, f"order-deadline:{case.id}", case)
    return len(cases)


# --- g. watch ended -----------------------------------------------------------------------------------------------


async def _watch_ended(batch: NoticeBatch, today: date) -> int:
    session, now = batch.session, batch.now
    step = "watch_ended"
    cases = list(await session.scalars(
        select(Case).where(Case.outcome == CaseOutcome.RETURNED, Case.watch_until < today, ~_step_done(step))
        .order_by(Case.id)
    ))
    cases = await _claimed(session, now, cases, step)
    for case in cases:
        batch.event(case, None, step, watch_until=iso_day(case.watch_until))
    return len(cases)


# --- h. the return waits for the teacher's confirmation -----------------------------------------------------------

TEACHER_STEP, OFFICER_STEP = "return_reminder", "return_reminder_officer"


async def _return_reminders(
    batch: NoticeBatch, policy: Policy, today: date, calendars: dict[int, SchoolCalendar]
) -> tuple[int, int]:
    """Step h (see the module's docstring): (teacher reminders, officer reminders) claimed now. Two reading queries
    (the open cases' school days present since their last absence, the reminder steps done), then the claim, the
    casts and the contact points for all of them at once."""
    session, settings, now = batch.session, batch.settings, batch.now
    rule = policy.return_confirmation
    open_students = select(Case.student_id).where(Case.closed_at.is_(None))
    last = (
        select(Absence.student_id, func.max(Absence.day).label("since"))
        .where(Absence.student_id.in_(open_students), Absence.withdrawn_at.is_(None))
        .group_by(Absence.student_id).subquery()
    )
    rows = (
        await session.execute(
            select(Case.id, Case.school_id, last.c.since, RollCall.day)
            .join(Student, Student.id == Case.student_id)
            .join(last, last.c.student_id == Case.student_id)
            .join(RollCall, and_(RollCall.class_id == Student.class_id, RollCall.day > last.c.since))
            .where(Case.closed_at.is_(None), Student.status == EnrolmentStatus.ENROLLED, RollCall.revision > 0,
                   RollCall.day <= today, RollCall.day >= today - timedelta(days=STREAK_LOOKBACK_DAYS))
        )
    ).all()
    present: dict[int, set[date]] = defaultdict(set)
    since_of: dict[int, date] = {}
    for case_id, school_id, since, day in rows:
        calendar = calendars.get(school_id)
        if calendar is None or not calendar.is_school_day(today) or not calendar.is_school_day(day):
            continue
        present[case_id].add(day)
        since_of[case_id] = since
    if not present:
        return 0, 0
    done = {
        (case_id, step): done_at
        for case_id, step, done_at in await session.execute(
            select(CaseStep.case_id, CaseStep.step, CaseStep.done_at)
            .where(CaseStep.case_id.in_(list(present)), CaseStep.step.like(f"{TEACHER_STEP}%"))  # and OFFICER_STEP
        )
    }
    school_of = {case_id: school_id for case_id, school_id, *_ in rows}
    wanted: list[tuple[int, str]] = []
    for case_id, days in present.items():
        since = since_of[case_id].isoformat()
        teacher_step, officer_step = f"{TEACHER_STEP}:{since}", f"{OFFICER_STEP}:{since}"
        reminded = done.get((case_id, teacher_step))
        if reminded is None:
            if len(days) >= rule.teacher_after.amount:
                wanted.append((case_id, teacher_step))
        elif (case_id, officer_step) not in done:
            reminded_on = to_local(_aware(reminded), settings.tz).date()
            if rule.officer_after.after(reminded_on, calendars[school_of[case_id]]) < today:
                wanted.append((case_id, officer_step))
    if not wanted:
        return 0, 0
    claimed = await claim(session, now, wanted)
    due = [(case_id, step) for case_id, step in wanted if (case_id, step) in claimed]
    cases = {case.id: case for case in await session.scalars(
        select(Case).where(Case.id.in_({case_id for case_id, _ in due})))}
    casts = await load_casts(session, cases.values())
    await batch.prefetch({pid for cast in casts.values() for pid in cast.person_ids})
    counts = {TEACHER_STEP: 0, OFFICER_STEP: 0}
    for case_id, step in due:
        case, cast = cases[case_id], casts.get(case_id)
        kind = step.split(":", 1)[0]
        counts[kind] += 1
        if cast is None:
            continue
        since, back_days = since_of[case_id], sorted(present[case_id])
        batch.event(case, None, kind, since=since.isoformat(), days_present=len(back_days))
        values = {"child": cast.student.name, "class_name": cast.school_class.name, "days_present": len(back_days),
                  "back_since": back_days[0], "ref": case_ref(case, settings)}
        actions = [[Action(RETURNED_LABEL, RETURNED_ACTION, case.id)]]
        key = f"{kind.replace('_', '-')}:{case.id}:{since.isoformat()}"  # then :<person id>
        if kind == TEACHER_STEP:
            people, role = (cast.teachers, Recipient.TEACHER) if cast.teachers else (cast.officers,
                                                                                     Recipient.SCHOOL_OFFICER)
        else:
            people, role = cast.school_staff, Recipient.SCHOOL_OFFICER
            values["teachers"] = [p.name for p in cast.teachers]
        tell_many(batch, people, role, kind, values, key, case, actions=actions)
    return counts[TEACHER_STEP], counts[OFFICER_STEP]


__all__ = ["LadderReport", "claim", "run_ladder"]
