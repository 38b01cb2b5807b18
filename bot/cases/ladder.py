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
c. opening: an ENROLLED student absent without a proper reason on each of their class's last
   `suspected_dropout.after` school days with a roll call (a day without one is neither present nor a break), with
   no open case → a case (the partial unique index on open cases is the key), `case_opened_officer` to the school's
   officers (with the one-tap button that sends the 劝学书, `actions.confirm_persuasion_notice`), and
   `case_opened_teacher` (phone the family today); under `suspected_dropout.persuasion_notice = "automatic"`, or
   when the school has no officer, the 劝学书 (`persuasion_notice`, answer buttons) goes to every guardian at once
   (`deliver_by_hand` to the officers for those it cannot reach; case step `persuasion_notice`);
   a student in the watch window after a return with a new such absence → `watch_absence` to the school's
   officers at once (step `watch_absence:<absence>` on the closed case);
c''. the 劝学书 not confirmed `suspected_dropout.confirm_reminder_after` after opening → the school's officers are
   reminded once, with the button (`persuasion_confirm_reminder`, step `confirm_reminder`);
d. home visit overdue (on the school's school days): an OPEN case without any persuasion attempt after
   `home_visit_due` → `home_visit_overdue` to the officers (step `home_visit_overdue`);
e. report upward (on the school's school days): an OPEN case whose 劝学书 deadline passed, or with
   `report.failed_home_visits` failed home visits on different days, the child not back (not marked present on a
   roll call after the last absence: that case waits for the teacher to confirm the return) → every absence since
   the 劝学书 excused: the report waits, `report_waits` to the school's officers (step `report_waits`); no home visit
   recorded: `no_home_visit` to the principals (the officers where none is registered; step `no_home_visit`);
   else the 辍学报告 as `report_to_township(actor=None)` files it, to the township and the county (step `report`);
f. order deadline passed (on the school's school days): an ORDERED case after its `order_deadline` →
   `order_deadline_passed` to the township's officers, with the next recordable legal step where the policy
   provides them, else the national options (step `order_deadline_passed`);
g. watch ended: a RETURNED case after `watch_until` → event `watch_ended` (step `watch_ended`);
h. return not confirmed: on a school day, an open case whose child has been marked present on the roll call on
   `return_confirmation.teacher_after` school days since their last absence (so the report in e waits) → the class
   teacher (the school's officers when the class has none) is asked once to confirm the return, with a button that
   closes the case as returned (`return_reminder`, step `return_reminder:<last absence day>`); still open
   `return_confirmation.officer_after` school days after that → the school's officers, once
   (`return_reminder_officer`, step `return_reminder_officer:<last absence day>`). An absence in between moves
   the last absence day: no reminder for the old run, the ladder's other steps take over;
j. patterns (on the school's school days): absences this month reaching `patterns.*_days_per_month` → a watch item
   and `pattern_alert` to the school's officers, once per month and kind (`bot.cases.patterns`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.calendar.days import SchoolCalendar, load_calendars
from bot.core.clock import iso_day, to_local
from bot.core.policy import NoticeSending, Policy
from bot.core.settings import Settings
from bot.documents.records import issue_report
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
    CHUNK,
    COUNTED_REASONS,
    OFFICER_ROLES,
    Cast,
    case_ref,
    claim,
    failed_visit,
    insert_for,
    is_dialect,
    load_casts,
    local_today,
    tell_many,
)
from .facts import family_answers_many, report_values_many
from .model import LEGAL_ORDER, RETURNED_ACTION, RETURNED_LABEL, PersuasionMethod, Recipient
from .notice import PERSUASION_STEP, confirm_actions, notice_sent_on, notice_values, send_notice
from .outbox import NoticeBatch
from .patterns import raise_watch_items

log = logging.getLogger(__name__)

ADVISORY_LOCK = 0x51584C41  # "QXLA": the ladder's transaction-level lock on PostgreSQL
STREAK_LOOKBACK_DAYS = 60  # how far back the start of an absence streak is looked for
WINDOW_LOOKBACK_DAYS = 30  # how far back a class's last roll calls are looked for (a run's window)


@dataclass
class LadderReport:
    reply_reminders: int = 0
    phone_requests: int = 0
    opened: int = 0
    watch_absences: int = 0
    home_visits_overdue: int = 0
    reported: int = 0
    reports_waiting: int = 0
    no_home_visit: int = 0
    confirm_reminders: int = 0
    orders_overdue: int = 0
    watch_items: int = 0
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
    stricter = policy.priority_groups.suspected_after
    if policy.priority_groups.tags and stricter.amount < policy.suspected_dropout.after.amount:
        # priority groups (孤儿, 留守儿童 …) after fewer days: a second pass over their children only
        closer = policy.model_copy(update={"suspected_dropout": policy.suspected_dropout.model_copy(
            update={"after": stricter})})
        report.opened += await _open_cases(batch, closer, today, calendars, policy.priority_groups.tags)
    report.watch_absences = await _watch_absences(batch, today)
    school_day = {school_id for school_id, calendar in calendars.items() if calendar.is_school_day(today)}
    report.confirm_reminders = await _confirm_reminders(batch, policy)
    report.home_visits_overdue = await _home_visits_overdue(batch, today, school_day)
    report.reported, report.reports_waiting, report.no_home_visit = await _report_upward(
        batch, policy, today, school_day)
    report.orders_overdue = await _orders_overdue(batch, policy, today, school_day)
    report.watch_items = await raise_watch_items(batch, policy, today, school_day)
    report.watch_ended = await _watch_ended(batch, today)
    report.return_reminders, report.return_escalations = await _return_reminders(batch, policy, today, calendars)
    await batch.flush()
    return report


# --- helpers ------------------------------------------------------------------------------------------------------


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


async def _open_cases(batch: NoticeBatch, policy: Policy, today: date, calendars: dict[int, SchoolCalendar],
                      only_tags: tuple[str, ...] = ()) -> int:
    """Open the cases of runs of `policy.suspected_dropout.after` days (only students with one of `only_tags`,
    when given)."""
    session, settings, now = batch.session, batch.settings, batch.now
    n = policy.suspected_dropout.after.amount
    windows = await _roll_call_windows(session, calendars, today, n)
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
            select(Absence.student_id, Absence.day, SchoolClass.school_id, SchoolClass.id, Student.tags)
            .join(runs, runs.c.student_id == Absence.student_id)
            .join(Student, Student.id == Absence.student_id)
            .join(SchoolClass, SchoolClass.id == Student.class_id)
            .where(counted, Student.status == EnrolmentStatus.ENROLLED, ~open_case)
        )
    ).all()
    absent: dict[int, set[date]] = defaultdict(set)
    school_of: dict[int, int] = {}
    class_of: dict[int, int] = {}
    for student_id, day, school_id, class_id, tags in rows:
        if only_tags and not set(only_tags) & set(tags or ()):
            continue
        absent[student_id].add(day)
        school_of[student_id] = school_id
        class_of[student_id] = class_id
    candidates = [
        sid for sid, seen in absent.items()
        if class_of[sid] in windows and set(windows[class_of[sid]]) <= seen
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
        < windows[class_of[sid]][0]
    ]
    if not candidates:
        return 0
    first_day, history = await _streak_starts(session, candidates, school_of, class_of, windows, calendars, today)
    township_of: dict[int, int] = dict((await session.execute(
        select(Student.id, _township_of_student()).join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Student.id.in_(candidates))
    )).all())
    rows_to_insert = []
    automatic = policy.suspected_dropout.persuasion_notice is NoticeSending.AUTOMATIC
    for sid in candidates:
        school_id = school_of[sid]
        calendar = calendars[school_id]
        rows_to_insert.append({
            "student_id": sid, "school_id": school_id, "township_id": township_of[sid],
            "stage": CaseStage.OPEN.value, "first_absent_day": first_day[sid], "opened_at": now,
            "persuasion_deadline": policy.suspected_dropout.persuasion_deadline.after(today, calendar)
            if automatic else None,
            "home_visit_due": policy.suspected_dropout.home_visit_within.after(today, calendar),
        })
    new_ids: list[int] = []
    for start in range(0, len(rows_to_insert), CHUNK):
        stmt = (
            insert_for(session)(Case).values(rows_to_insert[start:start + CHUNK])
            .on_conflict_do_nothing(index_elements=["student_id"], index_where=Case.closed_at.is_(None))
            .returning(Case.id)
        )
        new_ids += list(await session.scalars(stmt))
    if not new_ids:
        return 0
    cases = list(await session.scalars(select(Case).where(Case.id.in_(new_ids)).order_by(Case.id)))
    casts = await load_casts(session, cases)
    # the 劝学书 goes out now under "automatic", and where the school has no officer to confirm it
    send_now = [c for c in cases if automatic or (c.id in casts and not casts[c.id].officers)]
    for case in send_now:
        case.persuasion_deadline = case.persuasion_deadline or policy.suspected_dropout.persuasion_deadline.after(
            today, calendars[case.school_id])
    await claim(session, now, [(case.id, PERSUASION_STEP) for case in send_now])
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
        await _announce_opening(batch, case, cast, history[case.student_id], answers.get(case.id, []),
                                watch=case.student_id in watched, send=case in send_now)
    return len(cases)


def _township_of_student():
    return select(School.township_id).where(School.id == SchoolClass.school_id).scalar_subquery()


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


async def _roll_call_windows(
    session: AsyncSession, calendars: dict[int, SchoolCalendar], today: date, n: int
) -> dict[int, tuple[date, ...]]:
    """Per class, its last `n` school days with a submitted roll call up to today (within `WINDOW_LOOKBACK_DAYS`):
    a school day whose roll call was never taken is neither present nor a break in a run of absences."""
    taken: dict[int, set[date]] = defaultdict(set)
    school_of: dict[int, int] = {}
    for class_id, school_id, day in await session.execute(
        select(RollCall.class_id, SchoolClass.school_id, RollCall.day)
        .join(SchoolClass, SchoolClass.id == RollCall.class_id)
        .where(RollCall.revision > 0, RollCall.day <= today,
               RollCall.day > today - timedelta(days=WINDOW_LOOKBACK_DAYS))
    ):
        taken[class_id].add(day)
        school_of[class_id] = school_id
    windows = {}
    for class_id, days in taken.items():
        calendar = calendars.get(school_of[class_id])
        school_days = sorted(d for d in days if calendar is not None and calendar.is_school_day(d))
        if len(school_days) >= n:
            windows[class_id] = tuple(school_days[-n:])
    return windows


async def _streak_starts(
    session: AsyncSession, students: list[int], school_of: dict[int, int], class_of: dict[int, int],
    windows: dict[int, tuple[date, ...]], calendars: dict[int, SchoolCalendar], today: date,
) -> tuple[dict[int, date], dict[int, set[date]]]:
    """The first day of each student's unbroken run of school days absent without a proper reason (the window's
    first day at least), looking back `STREAK_LOOKBACK_DAYS`; school days without a roll call are passed over."""
    floor = today - timedelta(days=STREAK_LOOKBACK_DAYS)
    taken: dict[int, set[date]] = defaultdict(set)
    for class_id, day in await session.execute(
        select(RollCall.class_id, RollCall.day).where(
            RollCall.class_id.in_(set(class_of.values())), RollCall.revision > 0, RollCall.day >= floor)
    ):
        taken[class_id].add(day)
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
        calendar, start = calendars[school_of[sid]], windows[class_of[sid]][0]
        day = start
        while True:
            before = calendar.school_days_before(day - timedelta(days=1), 1)
            if not before or before[0] < floor:
                break
            day = before[0]
            if day not in taken[class_of[sid]]:
                continue  # no roll call that day: neither present nor a break
            if day not in history[sid]:
                break
            start = day
        starts[sid] = start
    return starts, history


async def _announce_opening(
    batch: NoticeBatch, case: Case, cast: Cast, absent_days: set[date], answers: list[dict[str, Any]], *,
    watch: bool, send: bool,
) -> None:
    """The school's officers are alerted; the 劝学书 goes out now (`send`: its step was claimed with the case) or
    waits for an officer's one tap; the class teachers are asked to phone the family today."""
    settings = batch.settings
    days = sorted(d for d in absent_days if d >= case.first_absent_day)
    batch.event(case, None, "opened", stage=CaseStage.OPEN.value,
                first_absent_day=case.first_absent_day.isoformat(), days=[d.isoformat() for d in days],
                persuasion_deadline=iso_day(case.persuasion_deadline),
                home_visit_due=iso_day(case.home_visit_due), watch=watch)
    base = notice_values(batch, case, cast, days, case.opened_at.astimezone(settings.tz).date()) | {
        "watch": watch, "pending": not send}
    guardians = [
        {"name": p.name, "relation": r or "", "linked": p.id in cast.reachable,
         "reachable": cast.reachable.get(p.id, False), "has_phone": bool(p.phone)}
        for p, r in cast.guardians
    ]
    officer_values = base | {"answers": answers, "guardians": guardians}
    tell_many(batch, cast.school_staff, Recipient.SCHOOL_OFFICER, "case_opened_officer", officer_values,
              f"case-opened:{case.id}", case, actions=None if send else confirm_actions(case))
    if send:
        batch.event(case, None, "persuasion_notice_sent", deadline=iso_day(case.persuasion_deadline))
        await send_notice(batch, case, cast, base, None)
    if cast.officers:  # without officers the teachers had the officers' alert already
        tell_many(batch, cast.teachers, Recipient.TEACHER, "case_opened_teacher", base | {"guardians": guardians},
                  f"case-opened-teacher:{case.id}", case, {p.id for p in cast.officers})


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


# --- c''. the 劝学书 waits for the officer's tap -----------------------------------------------------------------


async def _confirm_reminders(batch: NoticeBatch, policy: Policy) -> int:
    """Under `persuasion_notice = "officer_confirms"`: an OPEN case whose 劝学书 is still not sent
    `confirm_reminder_after` after the case opened → the school's officers are reminded once, with the button
    (`persuasion_confirm_reminder`, step `confirm_reminder`)."""
    rule = policy.suspected_dropout
    if rule.persuasion_notice is not NoticeSending.OFFICER_CONFIRMS:
        return 0
    session, settings, now = batch.session, batch.settings, batch.now
    step = "confirm_reminder"
    since = now - rule.confirm_reminder_after.as_timedelta()
    cases = list(await session.scalars(
        select(Case).where(Case.stage == CaseStage.OPEN, Case.opened_at <= since, ~_step_done(PERSUASION_STEP),
                           ~_step_done(step))
        .order_by(Case.id)
    ))
    cases = await _claimed(session, now, cases, step)
    casts = await load_casts(session, cases)
    await batch.prefetch({pid for cast in casts.values() for pid in cast.person_ids})
    for case in cases:
        cast = casts.get(case.id)
        if cast is None:
            continue
        batch.event(case, None, step)
        values = {"child": cast.student.name, "class_name": cast.school_class.name,
                  "first_absent_day": case.first_absent_day, "ref": case_ref(case, settings)}
        tell_many(batch, cast.school_staff, Recipient.SCHOOL_OFFICER, "persuasion_confirm_reminder", values,
                  f"confirm-reminder:{case.id}", case, actions=confirm_actions(case))
    return len(cases)


# --- d. home visit overdue ----------------------------------------------------------------------------------------


async def _home_visits_overdue(batch: NoticeBatch, today: date, school_day: set[int]) -> int:
    session, settings, now = batch.session, batch.settings, batch.now
    step = "home_visit_overdue"
    attempted = exists().where(PersuasionAttempt.case_id == Case.id)
    cases = list(await session.scalars(
        select(Case).where(Case.stage == CaseStage.OPEN, Case.home_visit_due < today, ~attempted, ~_step_done(step),
                           Case.school_id.in_(school_day))
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


async def _report_upward(
    batch: NoticeBatch, policy: Policy, today: date, school_day: set[int]
) -> tuple[int, int, int]:
    """Step e (see the module's docstring), on the school's school days only: (reported, waiting because every
    absence since the 劝学书 is excused, principals alerted because no home visit is recorded)."""
    session, settings, now = batch.session, batch.settings, batch.now
    step = "report"
    visits = (
        select(func.count(PersuasionAttempt.on_day.distinct()))
        .where(PersuasionAttempt.case_id == Case.id, failed_visit())
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(Case.id, Case.student_id, visits)
            .where(Case.stage == CaseStage.OPEN, Case.closed_at.is_(None), ~_step_done(step),
                   Case.school_id.in_(school_day),
                   (Case.persuasion_deadline < today) | (visits >= policy.report.failed_home_visits))
            .order_by(Case.id)
        )
    ).all()
    if not rows:
        return 0, 0, 0
    back = await _back_at_school(session, [student_id for _, student_id, _ in rows])
    failed = {case_id: n for case_id, student_id, n in rows if student_id not in back}
    waiting = await _excused_since_notice(session, settings, failed)
    visited = set(await session.scalars(
        select(PersuasionAttempt.case_id).where(PersuasionAttempt.case_id.in_(list(failed)),
                                                PersuasionAttempt.method == PersuasionMethod.HOME_VISIT)
    )) if failed else set()
    wanted = {case_id: "report_waits" if case_id in waiting else step if case_id in visited else "no_home_visit"
              for case_id in failed}
    claimed = await claim(session, now, list(wanted.items()))
    todo = {case_id: kind for case_id, kind in wanted.items() if (case_id, kind) in claimed}
    if not todo:
        return 0, 0, 0
    cases = list(await session.scalars(
        select(Case).where(Case.id.in_(list(todo)), Case.stage == CaseStage.OPEN).order_by(Case.id)
        .with_for_update().execution_options(populate_existing=True)
    ))
    casts = await load_casts(session, cases)
    await batch.prefetch({pid for cast in casts.values() for pid in cast.person_ids})
    values = await report_values_many(session, settings, [c for c in cases if c.id in casts], casts)
    counts = {step: 0, "report_waits": 0, "no_home_visit": 0}
    for case in cases:
        if case.id not in casts:
            continue
        kind = todo[case.id]
        counts[kind] += 1
        if kind == step:
            why = "failed_attempts" if failed[case.id] >= policy.report.failed_home_visits else "deadline"
            file_report(batch, case, casts[case.id], None, values[case.id], why=why, note=None)
            await issue_report(batch.session, batch.settings, batch.now, case, None,
                               values[case.id] | {"why": why, "note": ""})
        else:
            _hold_report(batch, case, casts[case.id], values[case.id], kind)
    return counts[step], counts["report_waits"], counts["no_home_visit"]


def _hold_report(batch: NoticeBatch, case: Case, cast: Cast, values: dict[str, Any], kind: str) -> None:
    """The report does not go out by itself: every absence since the 劝学书 is excused (the school's officers are
    asked), or no home visit is recorded (the principal is alerted: persuasion first, 未成年人保护法 art. 28(2))."""
    batch.event(case, None, kind, deadline=iso_day(case.persuasion_deadline))
    people = cast.school_staff if kind == "report_waits" else cast.principals or cast.school_staff
    tell_many(batch, people, Recipient.SCHOOL_OFFICER, kind, values, f"{kind.replace('_', '-')}:{case.id}", case)


async def _excused_since_notice(session: AsyncSession, settings: Settings, cases: dict[int, int]) -> set[int]:
    """Of these cases, those whose child has been absent since the day the 劝学书 went out, every time excused
    (sick leave, personal leave, approved leave): the report waits for the school's officer."""
    sent = {case_id: local_today(settings, _aware(at))
            for case_id, at in (await notice_sent_on(session, list(cases))).items()}
    if not sent:
        return set()
    student_of = dict((await session.execute(
        select(Case.id, Case.student_id).where(Case.id.in_(list(sent))))).all())
    cases_of: dict[int, list[int]] = defaultdict(list)
    for case_id, student_id in student_of.items():
        cases_of[student_id].append(case_id)
    proper: dict[int, list[bool]] = defaultdict(list)
    for student_id, day, excused, reason in await session.execute(
        select(Absence.student_id, Absence.day, Absence.excused, Absence.reason).where(
            Absence.student_id.in_(list(cases_of)), Absence.day > min(sent.values()),
            Absence.withdrawn_at.is_(None))
    ):
        for case_id in cases_of[student_id]:
            if day > sent[case_id]:
                proper[case_id].append(excused or reason not in COUNTED_REASONS)
    return {case_id for case_id, found in proper.items() if found and all(found)}


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


async def _orders_overdue(batch: NoticeBatch, policy: Policy, today: date, school_day: set[int]) -> int:
    session, settings, now = batch.session, batch.settings, batch.now
    step = "order_deadline_passed"
    cases = list(await session.scalars(
        select(Case).where(Case.stage == CaseStage.ORDERED, Case.order_deadline < today, ~_step_done(step),
                           Case.school_id.in_(school_day))
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
