"""The class teacher's daily roll call (点名): a draft tapped student by student, a reason per absent student, then
recorded as `Absence` rows; reopened and submitted again, it is recorded as a correction.

No aiogram: the handlers (and any other caller) pass the session, `now`, the acting person and ids, and render
what comes back. Every function re-checks the actor's scope and that the student is on this class's roll: ids come
from callback data, which anyone can forge. The roll-call row is read `FOR UPDATE` (SQLite serialises with
BEGIN IMMEDIATE), so two people acting on it at once never lose one another's change. Refusals raise
`RollCallError` with a code.

Taps on names and pages change only the teacher's working copy of the view (`bot.rollcall.view`), without the
database; opening the roll call again and submitting it save that copy into the draft (`_fold`). Until then the
taps are the teacher's own: a school officer opening the same roll call sees the draft as last saved.

The draft (`RollCall.draft`) is JSON: {"absent": {student_id: reason | null}, "expected": {student_id: iso date},
"leave": {student_id: iso date | null}, "page": n}; "leave" holds the students on approved leave today and their
expected return. Only ENROLLED students are on the roll; approved leave is pre-marked, excused, and never notified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import SchoolCalendar, load_calendar
from bot.core import audit
from bot.core.clock import to_local
from bot.core.scope import Actor
from bot.core.settings import Settings
from bot.families.leave import approved_leave
from bot.notices.absence import GuardianReach, RollCallChanges, notify_guardians
from bot.notices.outbox import Delivery
from bot.rollcall.view import ErrorCode, Mark, RollCallError, RollCallView, page_count
from storage.models import Absence, AbsenceReason, EnrolmentStatus, Role, RollCall, SchoolClass, Student

TEACHER_REASONS = (AbsenceReason.SICK, AbsenceReason.PERSONAL, AbsenceReason.UNEXPLAINED, AbsenceReason.UNKNOWN)
RETURN_REASONS = (AbsenceReason.SICK, AbsenceReason.PERSONAL)  # absences that may carry an expected return date
RETURN_HORIZON_DAYS = 60
REACHED = (Delivery.QUEUED, Delivery.DUPLICATE)


@dataclass(frozen=True)
class ClassRef:
    id: int
    name: str
    school_id: int


@dataclass(frozen=True)
class Ask:
    """Submitting needs a reason for `student` first (`remaining` absent students lack one, this one included)."""

    view: RollCallView
    student: Mark
    remaining: int


@dataclass(frozen=True)
class Reach:
    """A guardian the summary names. Their phone number stays in the roster: messages never carry it."""

    student_name: str
    guardian_name: str
    has_phone: bool


@dataclass(frozen=True)
class Summary:
    """A submitted roll call. `recorded` is True right after a submission, with whom the notices reach."""

    roll_call_id: int
    class_name: str
    day: date
    revision: int
    recorded: bool
    corrected: bool
    present: int
    total: int
    absent: tuple[Mark, ...]
    withdrawn: tuple[Mark, ...] = ()
    notified: tuple[Reach, ...] = ()
    unreachable: tuple[Reach, ...] = ()
    return_candidates: tuple[Mark, ...] = ()  # absent students an expected return can be set for


@dataclass
class _Loaded:
    roll_call: RollCall
    school_class: SchoolClass
    students: list[Student]

    def student(self, student_id: int) -> Student:
        found = next((s for s in self.students if s.id == student_id), None)
        if found is None:
            raise RollCallError(ErrorCode.NOT_ON_ROLL)
        return found


def today_in(now: datetime, tz: tzinfo) -> date:
    return to_local(now, tz).date()


# --- which classes ------------------------------------------------------------------------------------------------


async def roll_call_classes(session: AsyncSession, actor: Actor) -> list[ClassRef]:
    """The classes the actor takes the roll for: the ones they teach, then those of the schools they run."""
    taught = {s.class_id for s in actor.roles if s.role is Role.CLASS_TEACHER and s.class_id is not None}
    schools = {s.school_id for s in actor.roles if s.role in (Role.SCHOOL_ADMIN, Role.PRINCIPAL) and s.school_id}
    if not taught and not schools:
        return []
    where = SchoolClass.id.in_(taught) | SchoolClass.school_id.in_(schools)
    rows = await session.scalars(select(SchoolClass).where(where).order_by(SchoolClass.school_id, SchoolClass.id))
    refs = [ClassRef(c.id, c.name, c.school_id) for c in rows]
    return sorted(refs, key=lambda ref: ref.id not in taught)


# --- opening and tapping ------------------------------------------------------------------------------------------


async def open_roll_call(
    session: AsyncSession, now: datetime, actor: Actor, class_id: int, tz: tzinfo, working: RollCallView | None = None
) -> RollCallView:
    """Today's roll call of the class, created as a draft (approved leave pre-marked) the first time. The actor's
    `working` copy of it (taps not saved yet) is saved into the draft first, unless the roll call changed since."""
    school_class = await session.get(SchoolClass, class_id)
    if school_class is None or not actor.can_manage_class(school_class.id, school_class.school_id):
        raise RollCallError(ErrorCode.NOT_ALLOWED)
    today = today_in(now, tz)
    calendar = await load_calendar(session, school_class.school_id)
    if not calendar.is_school_day(today):
        raise RollCallError(ErrorCode.NOT_SCHOOL_DAY, day=today)
    loaded = _Loaded(await _today_roll_call(session, now, actor, class_id, today), school_class,
                     await _roster(session, class_id))
    if loaded.roll_call.submitted_at is None:
        if working is not None and working.revision == loaded.roll_call.revision:
            _fold(loaded, working)
        await _merge_leave(session, loaded.roll_call, loaded.students, calendar)
    return _view(loaded)


async def current_view(
    session: AsyncSession, now: datetime, actor: Actor, roll_call_id: int, tz: tzinfo
) -> RollCallView:
    """The roll call as it is now (a draft or submitted), for re-showing it under an outdated keyboard."""
    return _view(await _load(session, now, actor, roll_call_id, tz, draft=False))


async def draft_view(
    session: AsyncSession, now: datetime, actor: Actor, roll_call_id: int, *, revision: int, tz: tzinfo
) -> RollCallView:
    """The stored draft, after every check a tap needs: for a tap the actor's working copy cannot serve."""
    return _view(await _load(session, now, actor, roll_call_id, tz, revision=revision))


# --- submitting ---------------------------------------------------------------------------------------------------


async def mark_all_present(
    session: AsyncSession, settings: Settings, now: datetime, actor: Actor, roll_call_id: int, *, revision: int
) -> Summary:
    """Record the whole class present (students still marked on approved leave stay on leave)."""
    loaded = await _load(session, now, actor, roll_call_id, settings.tz, revision=revision)
    draft = _draft(loaded.roll_call)
    draft["absent"] = {k: v for k, v in draft["absent"].items() if v == AbsenceReason.APPROVED_LEAVE}
    return await _record(session, settings, now, actor, loaded, draft)


async def submit(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    actor: Actor,
    roll_call_id: int,
    *,
    revision: int,
    working: RollCallView | None = None,
) -> Ask | Summary:
    """Record the draft with the actor's `working` copy saved into it, or ask for the first missing reason."""
    loaded = await _load(session, now, actor, roll_call_id, settings.tz, revision=revision)
    if working is not None:
        _fold(loaded, working)
    return await _ask_or_record(session, settings, now, actor, loaded, _draft(loaded.roll_call))


async def set_reason(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    actor: Actor,
    roll_call_id: int,
    student_id: int,
    reason: AbsenceReason | str,
    *,
    revision: int,
    expected_return: date | None = None,
) -> Ask | Summary:
    """Give an absent student's reason; once every absent student has one, the roll call is recorded."""
    if reason not in TEACHER_REASONS:
        raise RollCallError(ErrorCode.BAD_VALUE)
    loaded = await _load(session, now, actor, roll_call_id, settings.tz, revision=revision)
    loaded.student(student_id)
    draft = _draft(loaded.roll_call)
    key = str(student_id)
    if key not in draft["absent"]:
        raise RollCallError(ErrorCode.OUTDATED)  # marked present again since the question was asked
    draft["absent"][key] = AbsenceReason(reason).value
    if expected_return is not None:
        _check_return_day(expected_return, loaded.roll_call.day)
        draft["expected"][key] = expected_return.isoformat()
    return await _ask_or_record(session, settings, now, actor, loaded, draft)


async def _ask_or_record(
    session: AsyncSession, settings: Settings, now: datetime, actor: Actor, loaded: _Loaded, draft: dict[str, Any]
) -> Ask | Summary:
    on_roll = {s.id for s in loaded.students}
    if any(reason is None and int(key) in on_roll for key, reason in draft["absent"].items()):
        loaded.roll_call.draft = draft
        view = _view(loaded)
        missing = [mark for mark in view.absent if mark.reason is None]
        return Ask(view, missing[0], len(missing))
    return await _record(session, settings, now, actor, loaded, draft)


async def _record(
    session: AsyncSession, settings: Settings, now: datetime, actor: Actor, loaded: _Loaded, draft: dict[str, Any]
) -> Summary:
    """Write `draft` as Absence rows (new, withdrawn, changed), audit it, and have the guardians told. Nothing
    changes when the day stopped being a school day (a closure added since the draft was opened)."""
    roll_call = loaded.roll_call
    calendar = await load_calendar(session, loaded.school_class.school_id)
    if not calendar.is_school_day(roll_call.day):
        raise RollCallError(ErrorCode.NOT_SCHOOL_DAY, day=roll_call.day)
    draft["page"] = 0
    roll_call.draft = draft
    changes, withdrawn = await _write_absences(session, now, actor, loaded)
    corrected = roll_call.revision > 0
    roll_call.revision += 1
    roll_call.submitted_at = now
    roll_call.submitted_by = actor.person_id
    view = _view(loaded)
    audit.record(
        session, now, "roll_call.corrected" if corrected else "roll_call.submitted", "roll_call", roll_call.id,
        actor_person_id=actor.person_id, class_id=roll_call.class_id, day=roll_call.day.isoformat(),
        revision=roll_call.revision, present=view.present_count, absent=len(view.absent),
        absent_ids=[m.student_id for m in view.absent], new_ids=sorted(a.student_id for a in changes.new),
        withdrawn_ids=sorted(withdrawn), reason_changed_ids=sorted(a.student_id for a in changes.reason_changed),
    )
    reaches = await notify_guardians(session, settings, now, roll_call, changes)
    names = {s.id: s.name for s in loaded.students}
    notified, unreachable = _reaches(reaches, names)
    return Summary(
        roll_call.id, loaded.school_class.name, roll_call.day, roll_call.revision, recorded=True,
        corrected=corrected, present=view.present_count, total=len(view.marks), absent=tuple(view.absent),
        withdrawn=tuple(Mark(sid, names.get(sid, "")) for sid in sorted(withdrawn)),
        notified=notified, unreachable=unreachable, return_candidates=_return_candidates(view.absent),
    )


async def _write_absences(
    session: AsyncSession, now: datetime, actor: Actor, loaded: _Loaded
) -> tuple[RollCallChanges, list[int]]:
    """Bring the day's Absence rows in line with the draft, and return every change (`notify_guardians` tells
    each guardian what differs from what they were told) and the withdrawn student ids for the audit. A reason the
    teacher changes keeps the absence excused (by a guardian's "sick" or by leave), except "unexplained", which
    takes the excuse back; approved leave is always excused."""
    roll_call = loaded.roll_call
    draft = _draft(roll_call)
    on_roll = {s.id for s in loaded.students}
    wanted = {int(k): AbsenceReason(v) for k, v in draft["absent"].items() if int(k) in on_roll and v}
    existing = {
        row.student_id: row
        for row in await session.scalars(
            select(Absence).where(Absence.day == roll_call.day, Absence.student_id.in_(on_roll))
        )
    }
    changes, withdrawn = RollCallChanges(), []
    for student_id, absence in existing.items():
        if absence.withdrawn_at is None and student_id not in wanted:
            absence.withdrawn_at = now
            withdrawn.append(student_id)
            changes.withdrawn.append(absence)
    for student_id, reason in wanted.items():
        expected = _expected_return(draft, student_id, reason)
        row = existing.get(student_id)
        if row is None or row.withdrawn_at is not None:
            row = row or Absence(student_id=student_id, day=roll_call.day)
            session.add(row)
            _fill(row, roll_call, reason, expected, reason is AbsenceReason.APPROVED_LEAVE, actor, now)
            changes.new.append(row)
            continue
        if row.reason != reason:
            keeps_excuse = row.excused and reason is not AbsenceReason.UNEXPLAINED
            _fill(row, roll_call, reason, expected, reason is AbsenceReason.APPROVED_LEAVE or keeps_excuse, actor, now)
            changes.reason_changed.append(row)
        row.expected_return = expected
    await session.flush()
    return changes, withdrawn


def _fill(
    row: Absence, roll_call: RollCall, reason: AbsenceReason, expected: date | None, excused: bool, actor: Actor,
    now: datetime,
) -> None:
    row.roll_call_id = roll_call.id
    row.reason = reason.value
    row.expected_return = expected
    row.excused = excused
    row.recorded_by = actor.person_id
    row.recorded_at = now
    row.withdrawn_at = None


def _expected_return(draft: dict[str, Any], student_id: int, reason: AbsenceReason) -> date | None:
    key = str(student_id)
    raw = draft["expected"].get(key)
    if raw is None and reason is AbsenceReason.APPROVED_LEAVE:
        raw = draft["leave"].get(key)
    return _day(raw)


def _reaches(reaches: list[GuardianReach], names: dict[int, str]) -> tuple[tuple[Reach, ...], tuple[Reach, ...]]:
    notified: list[Reach] = []
    unreachable: list[Reach] = []
    for reach in reaches:
        item = Reach(names.get(reach.student_id, ""), reach.guardian.name, bool(reach.guardian.phone))
        (notified if reach.delivery in REACHED else unreachable).append(item)
    return tuple(dict.fromkeys(notified)), tuple(dict.fromkeys(unreachable))


# --- after submission ---------------------------------------------------------------------------------------------


async def status(session: AsyncSession, now: datetime, actor: Actor, roll_call_id: int, tz: tzinfo) -> Summary:
    """Today's submitted roll call as recorded (no notices are sent)."""
    loaded = await _load(session, now, actor, roll_call_id, tz, draft=False)
    return await _status(session, loaded)


async def reopen(session: AsyncSession, now: datetime, actor: Actor, roll_call_id: int, tz: tzinfo) -> RollCallView:
    """Load today's recorded absences back into the draft to correct them (a no-op on a draft)."""
    loaded = await _load(session, now, actor, roll_call_id, tz, draft=False)
    roll_call = loaded.roll_call
    if roll_call.submitted_at is None:
        return _view(loaded)
    draft = _draft(roll_call)
    rows = await _active_absences(session, roll_call)
    draft["absent"] = {str(row.student_id): row.reason for row in rows}
    draft["expected"] = {str(r.student_id): r.expected_return.isoformat() for r in rows if r.expected_return}
    draft["page"] = 0
    roll_call.draft = draft
    roll_call.submitted_at = None
    audit.record(session, now, "roll_call.reopened", "roll_call", roll_call.id, actor_person_id=actor.person_id,
                 class_id=roll_call.class_id, day=roll_call.day.isoformat(), revision=roll_call.revision)
    return _view(loaded)


async def return_day_choices(
    session: AsyncSession, now: datetime, actor: Actor, roll_call_id: int, student_id: int, tz: tzinfo, n: int = 3
) -> tuple[Mark, list[date]]:
    """The student (absent, sick or personal leave) and the next `n` school days to offer as their return."""
    loaded = await _load(session, now, actor, roll_call_id, tz, draft=False, submitted=True)
    mark = await _return_candidate(session, loaded, student_id)
    calendar = await load_calendar(session, loaded.school_class.school_id)
    return mark, calendar.school_days_after(loaded.roll_call.day, n)


async def set_expected_return(
    session: AsyncSession,
    now: datetime,
    actor: Actor,
    roll_call_id: int,
    student_id: int,
    expected: date | None,
    tz: tzinfo,
) -> Summary:
    """Record when a sick or personal-leave student is expected back (None: not known)."""
    loaded = await _load(session, now, actor, roll_call_id, tz, draft=False, submitted=True)
    await _return_candidate(session, loaded, student_id)
    if expected is not None:
        _check_return_day(expected, loaded.roll_call.day)
    row = next(r for r in await _active_absences(session, loaded.roll_call) if r.student_id == student_id)
    row.expected_return = expected
    draft = _draft(loaded.roll_call)
    draft["expected"].pop(str(student_id), None)
    if expected is not None:
        draft["expected"][str(student_id)] = expected.isoformat()
    loaded.roll_call.draft = draft
    audit.record(session, now, "absence.expected_return_set", "absence", row.id, actor_person_id=actor.person_id,
                 student_id=student_id, expected_return=expected.isoformat() if expected else None)
    return await _status(session, loaded)


async def _return_candidate(session: AsyncSession, loaded: _Loaded, student_id: int) -> Mark:
    loaded.student(student_id)
    summary = await _status(session, loaded)
    mark = next((m for m in summary.return_candidates if m.student_id == student_id), None)
    if mark is None:
        raise RollCallError(ErrorCode.OUTDATED)
    return mark


def _check_return_day(expected: date, day: date) -> None:
    if not day < expected <= day + timedelta(days=RETURN_HORIZON_DAYS):
        raise RollCallError(ErrorCode.BAD_VALUE)


async def _status(session: AsyncSession, loaded: _Loaded) -> Summary:
    roll_call = loaded.roll_call
    names = {s.id: s.name for s in loaded.students}
    rows = await _active_absences(session, roll_call)
    absent = tuple(
        Mark(r.student_id, names[r.student_id], True, AbsenceReason(r.reason), r.expected_return)
        for r in sorted(rows, key=lambda r: r.student_id)
        if r.student_id in names
    )
    return Summary(
        roll_call.id, loaded.school_class.name, roll_call.day, roll_call.revision, recorded=False,
        corrected=roll_call.revision > 1, present=len(names) - len(absent), total=len(names), absent=absent,
        return_candidates=_return_candidates(absent),
    )


def _return_candidates(absent: list[Mark] | tuple[Mark, ...]) -> tuple[Mark, ...]:
    return tuple(mark for mark in absent if mark.reason in RETURN_REASONS)


async def _active_absences(session: AsyncSession, roll_call: RollCall) -> list[Absence]:
    rows = await session.scalars(
        select(Absence).where(Absence.roll_call_id == roll_call.id, Absence.withdrawn_at.is_(None))
    )
    return list(rows)


# --- loading ------------------------------------------------------------------------------------------------------


async def _load(
    session: AsyncSession,
    now: datetime,
    actor: Actor,
    roll_call_id: int,
    tz: tzinfo,
    *,
    draft: bool = True,
    submitted: bool = False,
    revision: int | None = None,
) -> _Loaded:
    """The roll call, locked, after the checks every tap needs: scope, today, draft or submitted, revision."""
    roll_call = await session.scalar(
        select(RollCall).where(RollCall.id == roll_call_id).with_for_update().execution_options(populate_existing=True)
    )
    if roll_call is None:
        raise RollCallError(ErrorCode.NOT_ALLOWED)
    school_class = await session.get(SchoolClass, roll_call.class_id)
    if school_class is None or not actor.can_manage_class(school_class.id, school_class.school_id):
        raise RollCallError(ErrorCode.NOT_ALLOWED)
    if roll_call.day != today_in(now, tz):
        raise RollCallError(ErrorCode.STALE_DAY, day=roll_call.day)
    if draft and roll_call.submitted_at is not None:
        raise RollCallError(ErrorCode.SUBMITTED, roll_call_id=roll_call.id)
    if submitted and roll_call.submitted_at is None:
        raise RollCallError(ErrorCode.OUTDATED)
    if revision is not None and revision != roll_call.revision:
        raise RollCallError(ErrorCode.OUTDATED)
    return _Loaded(roll_call, school_class, await _roster(session, school_class.id))


async def _roster(session: AsyncSession, class_id: int) -> list[Student]:
    rows = await session.scalars(
        select(Student)
        .where(Student.class_id == class_id, Student.status == EnrolmentStatus.ENROLLED)
        .order_by(Student.id)
    )
    return list(rows)


async def _today_roll_call(session: AsyncSession, now: datetime, actor: Actor, class_id: int, day: date) -> RollCall:
    """Today's roll call of the class, locked; created (concurrency-safe) when missing."""
    query = (
        select(RollCall)
        .where(RollCall.class_id == class_id, RollCall.day == day)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    roll_call = await session.scalar(query)
    if roll_call is not None:
        return roll_call
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {"class_id": class_id, "day": day, "draft": _empty_draft(), "opened_by": actor.person_id, "revision": 0}
    created = await session.execute(
        insert(RollCall).values(values).on_conflict_do_nothing(index_elements=["class_id", "day"]).returning(
            RollCall.id
        )
    )
    new_id = created.scalar()
    roll_call = (await session.execute(query)).scalar_one()
    if new_id is not None:
        audit.record(session, now, "roll_call.opened", "roll_call", new_id, actor_person_id=actor.person_id,
                     class_id=class_id, day=day.isoformat())
    return roll_call


async def _merge_leave(
    session: AsyncSession, roll_call: RollCall, students: list[Student], calendar: SchoolCalendar
) -> None:
    """Pre-mark students whose approved leave covers today (also leave approved after the draft was opened)."""
    leave = await approved_leave(session, [s.id for s in students], roll_call.day)
    draft = _draft(roll_call)
    new = {str(sid): request for sid, request in leave.items() if str(sid) not in draft["leave"]}
    if not new:
        return
    for key, request in new.items():
        back = calendar.school_days_after(request.last_day, 1)
        draft["leave"][key] = back[0].isoformat() if back else None
        draft["absent"][key] = AbsenceReason.APPROVED_LEAVE.value
    roll_call.draft = draft


# --- the draft ----------------------------------------------------------------------------------------------------


def _empty_draft() -> dict[str, Any]:
    return {"absent": {}, "expected": {}, "leave": {}, "page": 0}


def _draft(roll_call: RollCall) -> dict[str, Any]:
    """A fresh copy of the draft (JSON columns only notice reassignment, never in-place changes)."""
    current = roll_call.draft or {}
    return {
        "absent": dict(current.get("absent", {})),
        "expected": dict(current.get("expected", {})),
        "leave": dict(current.get("leave", {})),
        "page": int(current.get("page", 0)),
    }


def _fold(loaded: _Loaded, working: RollCallView) -> None:
    """Save the actor's working copy (who is absent, and the page) into the stored draft. A reason is kept only
    where the copy shows the stored one: the copy never gives a reason, the service does."""
    if working.roll_call_id != loaded.roll_call.id or working.revision != loaded.roll_call.revision:
        raise RollCallError(ErrorCode.OUTDATED)
    shown_absent = working.absent_reasons()
    for student_id in shown_absent:
        loaded.student(student_id)  # every id on the roll before anything changes
    draft = _draft(loaded.roll_call)
    absent = {}
    for student_id, shown in shown_absent.items():
        key = str(student_id)
        stored = draft["absent"].get(key)
        if key in draft["absent"] and (shown.value if shown else None) == stored:
            absent[key] = stored
        else:
            absent[key] = AbsenceReason.APPROVED_LEAVE.value if key in draft["leave"] else None
    draft["expected"] = {k: v for k, v in draft["expected"].items() if k in absent and absent[k] == draft["absent"][k]}
    draft["absent"] = absent
    draft["page"] = working.page
    loaded.roll_call.draft = draft


def _view(loaded: _Loaded) -> RollCallView:
    roll_call, students = loaded.roll_call, loaded.students
    draft = _draft(roll_call)
    marks = tuple(_mark(student, draft) for student in students)
    pages = page_count(len(students))
    return RollCallView(
        roll_call.id, loaded.school_class.id, loaded.school_class.name, roll_call.day, roll_call.revision,
        roll_call.submitted_at is not None, min(draft["page"], pages - 1), pages, marks,
    )


def _mark(student: Student, draft: dict[str, Any]) -> Mark:
    key = str(student.id)
    on_leave, leave_return = key in draft["leave"], _day(draft["leave"].get(key))
    if key not in draft["absent"]:
        return Mark(student.id, student.name, on_leave=on_leave, leave_return=leave_return)
    raw = draft["absent"][key]
    reason = AbsenceReason(raw) if raw else None
    expected = _expected_return(draft, student.id, reason) if reason else None
    return Mark(student.id, student.name, True, reason, expected, on_leave=on_leave, leave_return=leave_return)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
