"""The roll-call service and its reminder tick on SQLite and PostgreSQL: scope, the teacher's working copy and how it
is saved, approved leave, submission and correction, non-school days, stale taps, reminders."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.calendar.days import add_closure
from bot.core.scope import load_actor
from bot.core.settings import Settings
from bot.families.replies import ReplyStatus, record_reply
from bot.rollcall import service as rc
from bot.rollcall.service import Ask, Summary
from bot.rollcall.view import ErrorCode, Mark, RollCallError, toggled
from bot.tick import run_tick
from storage.models import (
    Absence,
    AbsenceReason,
    AuditEvent,
    LeaveRequest,
    LeaveStatus,
    OutboxMessage,
    Person,
    Role,
    RollCall,
    StaffRole,
    Student,
)
from tests.seed import link, seed_world


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture
async def world(sessions, clock):
    async with sessions() as session, session.begin():
        return await seed_world(session, clock.now())


async def open_as(sessions, clock, settings, person, class_id, working=None):
    async with sessions() as session, session.begin():
        return await rc.open_roll_call(session, clock.now(), await load_actor(session, person), class_id, settings.tz,
                                       working)


ACTOR = object()  # stands for the acting person's Actor in `call`'s arguments


async def call(sessions, person, fn, *args, **kwargs):
    """Run one service call for `person` in its own transaction, as a handler would."""
    async with sessions() as session, session.begin():
        the_actor = await load_actor(session, person)
        return await fn(session, *[the_actor if arg is ACTOR else arg for arg in args], **kwargs)


async def refused(coro) -> ErrorCode:
    with pytest.raises(RollCallError) as caught:
        await coro
    return caught.value.code


async def absences(sessions) -> list[Absence]:
    async with sessions() as session:
        return list(await session.scalars(select(Absence).order_by(Absence.id)))


async def audit_actions(sessions) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def outbox(sessions, template: str) -> list[OutboxMessage]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)))


async def add_teacher(sessions, clock, class_id: int, name: str = "周老师", phone: str = "13900000401") -> Person:
    async with sessions() as session, session.begin():
        teacher = Person(name=name, phone=phone, created_at=clock.now(), updated_at=clock.now())
        session.add(teacher)
        await session.flush()
        session.add(StaffRole(person_id=teacher.id, role=Role.CLASS_TEACHER, class_id=class_id))
        return teacher


# --- scope ----------------------------------------------------------------------------------------------------------


async def test_open_creates_a_draft_of_the_enrolled_roll(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        session.add(Student(class_id=world.school_class.id, name="王休学", status="suspended",
                            created_at=clock.now(), updated_at=clock.now()))
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    assert [m.name for m in view.marks] == ["李明", "李华", "张小红"]  # the suspended pupil is not on the roll
    assert view.day == date(2026, 9, 7) and view.revision == 0 and not view.submitted
    assert view.absent == [] and view.pages == 1
    again = await open_as(sessions, clock, settings, world.officer, world.school_class.id)  # the school's admin
    assert again.roll_call_id == view.roll_call_id
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(RollCall)) == 1
    assert await audit_actions(sessions) == ["roll_call.opened"]


async def test_only_the_teacher_or_the_schools_officers_may_open_or_change(sessions, clock, settings, world):
    other = await add_teacher(sessions, clock, world.other_class.id)
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    for outsider in (other, world.township_officer, world.father_li):
        assert await refused(open_as(sessions, clock, settings, outsider, world.school_class.id)) \
            is ErrorCode.NOT_ALLOWED
        assert await refused(call(sessions, outsider, rc.draft_view, clock.now(), ACTOR, view.roll_call_id,
                                  revision=0, tz=settings.tz)) is ErrorCode.NOT_ALLOWED
        assert await refused(call(sessions, outsider, rc.submit, settings, clock.now(), ACTOR, view.roll_call_id,
                                  revision=0, working=toggled(view, world.li_ming.id))) is ErrorCode.NOT_ALLOWED
        assert await refused(call(sessions, outsider, rc.mark_all_present, settings, clock.now(), ACTOR,
                                  view.roll_call_id, revision=0)) is ErrorCode.NOT_ALLOWED
    assert await refused(call(sessions, world.teacher, rc.draft_view, clock.now(), ACTOR, 999_999, revision=0,
                              tz=settings.tz)) is ErrorCode.NOT_ALLOWED
    async with sessions() as session:
        roll_call = await session.get(RollCall, view.roll_call_id)
        assert roll_call.draft["absent"] == {} and roll_call.submitted_at is None
    assert await absences(sessions) == []


# --- the draft --------------------------------------------------------------------------------------------------


async def test_toggling_sets_the_state_the_button_offered(sessions, clock, settings, world):
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    view = toggled(view, world.li_ming.id, absent=True)
    assert [m.name for m in view.absent] == ["李明"] and view.present_count == 2
    assert toggled(view, world.li_ming.id, absent=True) == view  # a double tap changes nothing
    assert toggled(view, world.li_ming.id).absent == []
    other_pupil = await _pupil_of(sessions, clock, world.other_class.id)
    with pytest.raises(RollCallError) as caught:
        toggled(view, other_pupil)
    assert caught.value.code is ErrorCode.NOT_ON_ROLL
    assert await refused(call(sessions, world.teacher, rc.draft_view, clock.now(), ACTOR, view.roll_call_id,
                              revision=3, tz=settings.tz)) is ErrorCode.OUTDATED


async def _pupil_of(sessions, clock, class_id: int) -> int:
    async with sessions() as session, session.begin():
        pupil = Student(class_id=class_id, name="外班生", created_at=clock.now(), updated_at=clock.now())
        session.add(pupil)
        await session.flush()
        return pupil.id


async def stored_draft(sessions, roll_call_id: int) -> dict:
    async with sessions() as session:
        return (await session.get(RollCall, roll_call_id)).draft


async def test_opening_again_saves_the_working_copy_for_the_schools_officers_to_see(sessions, clock, settings, world):
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    working = toggled(toggled(view, world.li_ming.id), world.zhang_xiaohong.id)
    assert (await stored_draft(sessions, view.roll_call_id))["absent"] == {}  # taps are the teacher's own
    again = await open_as(sessions, clock, settings, world.teacher, world.school_class.id, working)
    assert [m.name for m in again.absent] == ["李明", "张小红"]
    seen = await open_as(sessions, clock, settings, world.officer, world.school_class.id)
    assert [m.name for m in seen.absent] == ["李明", "张小红"]
    stale = replace(toggled(view, world.li_hua.id), revision=5)  # from before a submission: not saved
    assert [m.name for m in (await open_as(sessions, clock, settings, world.teacher, world.school_class.id,
                                           stale)).absent] == ["李明", "张小红"]


async def test_a_forged_working_copy_saves_nothing_and_never_gives_a_reason(sessions, clock, settings, world):
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    r, now = view.roll_call_id, clock.now()
    stranger = Mark(await _pupil_of(sessions, clock, world.other_class.id), "外班生", absent=True)
    assert await refused(call(sessions, world.teacher, rc.submit, settings, now, ACTOR, r, revision=0,
                              working=replace(view, marks=(*view.marks, stranger)))) is ErrorCode.NOT_ON_ROLL
    other_roll_call = replace(toggled(view, world.li_ming.id), roll_call_id=r + 1)
    assert await refused(call(sessions, world.teacher, rc.submit, settings, now, ACTOR, r, revision=0,
                              working=other_roll_call)) is ErrorCode.OUTDATED
    assert (await stored_draft(sessions, r))["absent"] == {} and await absences(sessions) == []
    sick = replace(view, marks=(replace(view.marks[0], absent=True, reason=AbsenceReason.SICK), *view.marks[1:]))
    step = await call(sessions, world.teacher, rc.submit, settings, now, ACTOR, r, revision=0, working=sick)
    assert isinstance(step, Ask) and step.student.name == "李明" and step.student.reason is None


async def test_two_submissions_of_the_same_keyboard_record_once(sessions, clock, settings, world):
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    results = await asyncio.gather(*(
        call(sessions, person, rc.mark_all_present, settings, clock.now(), ACTOR, view.roll_call_id, revision=0)
        for person in (world.teacher, world.officer)
    ), return_exceptions=True)
    assert sorted(type(result).__name__ for result in results) == ["RollCallError", "Summary"]
    assert next(r for r in results if isinstance(r, RollCallError)).code is ErrorCode.SUBMITTED
    async with sessions() as session:
        assert (await session.get(RollCall, view.roll_call_id)).revision == 1
    assert (await audit_actions(sessions)).count("roll_call.submitted") == 1


async def test_approved_leave_is_premarked_excused_and_not_notified(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        await link(session, world.father_li, 5001, clock.now())
        session.add(LeaveRequest(
            student_id=world.li_hua.id, requested_by=world.father_li.id, first_day=date(2026, 9, 7),
            last_day=date(2026, 9, 8), reason=AbsenceReason.SICK, status=LeaveStatus.APPROVED,
            requested_at=clock.now() - timedelta(days=1), decided_by=world.teacher.id,
            decided_at=clock.now() - timedelta(days=1),
        ))
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    assert [(m.name, m.reason) for m in view.absent] == [("李华", AbsenceReason.APPROVED_LEAVE)]
    summary = await call(sessions, world.teacher, rc.mark_all_present, settings, clock.now(), ACTOR,
                         view.roll_call_id, revision=0)
    assert isinstance(summary, Summary) and summary.present == 2 and summary.notified == ()
    [absence] = await absences(sessions)
    assert absence.student_id == world.li_hua.id and absence.excused
    assert absence.reason == AbsenceReason.APPROVED_LEAVE
    assert absence.expected_return == date(2026, 9, 9)  # the school day after the leave
    assert await outbox(sessions, "absence_notice") == []


# --- submitting and correcting ----------------------------------------------------------------------------------


async def test_submit_asks_each_reason_then_records_and_reports_unreachable_guardians(
    sessions, clock, settings, world
):
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    r, now, tz = view.roll_call_id, clock.now(), settings.tz
    working = toggled(toggled(view, world.li_ming.id), world.zhang_xiaohong.id)
    step = await call(sessions, world.teacher, rc.submit, settings, now, ACTOR, r, revision=0, working=working)
    assert isinstance(step, Ask) and step.student.name == "李明" and step.remaining == 2
    assert await refused(call(sessions, world.teacher, rc.set_reason, settings, now, ACTOR, r, world.li_ming.id,
                              AbsenceReason.APPROVED_LEAVE, revision=0)) is ErrorCode.BAD_VALUE
    step = await call(sessions, world.teacher, rc.set_reason, settings, now, ACTOR, r, world.li_ming.id,
                      AbsenceReason.SICK, revision=0, expected_return=date(2026, 9, 9))
    assert isinstance(step, Ask) and step.student.name == "张小红" and step.remaining == 1
    assert await absences(sessions) == []  # nothing recorded until every reason is in
    summary = await call(sessions, world.teacher, rc.set_reason, settings, now, ACTOR, r, world.zhang_xiaohong.id,
                         AbsenceReason.UNEXPLAINED, revision=0)
    assert isinstance(summary, Summary) and summary.recorded and not summary.corrected
    assert (summary.present, summary.total, summary.revision) == (1, 3, 1)
    assert [(m.name, m.reason) for m in summary.absent] == [("李明", AbsenceReason.SICK),
                                                            ("张小红", AbsenceReason.UNEXPLAINED)]
    assert {(u.guardian_name, u.student_name, u.has_phone) for u in summary.unreachable} == {
        ("李建国", "李明", True), ("张奶奶", "张小红", True), ("张伟", "张小红", True)}
    rows = await absences(sessions)
    assert [(a.student_id, a.reason, a.excused, a.expected_return) for a in rows] == [
        (world.li_ming.id, "sick", False, date(2026, 9, 9)),
        (world.zhang_xiaohong.id, "unexplained", False, None),
    ]
    async with sessions() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "roll_call.submitted"))
    assert event.details["absent_ids"] == [world.li_ming.id, world.zhang_xiaohong.id]
    assert event.details["present"] == 1 and event.actor_person_id == world.teacher.id
    assert await refused(call(sessions, world.teacher, rc.draft_view, now, ACTOR, r, revision=1, tz=tz)) \
        is ErrorCode.SUBMITTED


async def test_a_correction_withdraws_the_absence_and_is_audited(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        await link(session, world.father_li, 5001, clock.now())
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    r, now, tz = view.roll_call_id, clock.now(), settings.tz
    await call(sessions, world.teacher, rc.submit, settings, now, ACTOR, r, revision=0,
               working=toggled(view, world.li_ming.id))
    first = await call(sessions, world.teacher, rc.set_reason, settings, now, ACTOR, r, world.li_ming.id,
                       AbsenceReason.UNKNOWN, revision=0)
    assert [g.guardian_name for g in first.notified] == ["李建国"]

    clock.advance(timedelta(minutes=20))
    now = clock.now()
    view = await call(sessions, world.teacher, rc.reopen, now, ACTOR, r, tz)
    assert view.revision == 1 and not view.submitted and [m.name for m in view.absent] == ["李明"]
    assert await refused(call(sessions, world.teacher, rc.draft_view, now, ACTOR, r, revision=0, tz=tz)) \
        is ErrorCode.OUTDATED  # a keyboard from before the submission
    summary = await call(sessions, world.teacher, rc.submit, settings, now, ACTOR, r, revision=1,
                         working=toggled(view, world.li_ming.id))
    assert isinstance(summary, Summary) and summary.corrected and summary.revision == 2
    assert summary.absent == () and [m.name for m in summary.withdrawn] == ["李明"]
    assert [g.guardian_name for g in summary.notified] == ["李建国"]  # told of the correction
    [absence] = await absences(sessions)
    assert absence.withdrawn_at == now
    assert await audit_actions(sessions) == [
        "roll_call.opened", "roll_call.submitted", "absence.guardian_told", "roll_call.reopened",
        "roll_call.corrected", "absence.guardian_told",
    ]
    async with sessions() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "roll_call.corrected"))
    assert event.details["withdrawn_ids"] == [world.li_ming.id] and event.details["revision"] == 2
    assert len(await outbox(sessions, "absence_correction")) == 1


async def excused_by_the_father(sessions, clock, settings, world) -> int:
    """李明 recorded absent (reason unknown); his linked father answers "sick", which excuses it. The roll call id."""
    async with sessions() as session, session.begin():
        await link(session, world.father_li, 5001, clock.now())
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    r, now = view.roll_call_id, clock.now()
    await call(sessions, world.teacher, rc.submit, settings, now, ACTOR, r, revision=0,
               working=toggled(view, world.li_ming.id))
    await call(sessions, world.teacher, rc.set_reason, settings, now, ACTOR, r, world.li_ming.id,
               AbsenceReason.UNKNOWN, revision=0)
    [absence] = await absences(sessions)
    reply = await call(sessions, world.father_li, record_reply, settings, now, ACTOR, absence.id, "sick")
    assert reply.status is ReplyStatus.RECORDED
    assert (await absences(sessions))[0].excused
    return r


async def test_a_guardian_excused_absence_corrected_to_present_tells_the_guardian(sessions, clock, settings, world):
    r = await excused_by_the_father(sessions, clock, settings, world)
    now, tz = clock.now(), settings.tz
    reopened = await call(sessions, world.teacher, rc.reopen, now, ACTOR, r, tz)
    summary = await call(sessions, world.teacher, rc.submit, settings, now, ACTOR, r, revision=1,
                         working=toggled(reopened, world.li_ming.id))
    assert [m.name for m in summary.withdrawn] == ["李明"]
    assert [g.guardian_name for g in summary.notified] == ["李建国"]  # he was told: he hears of the correction
    assert len(await outbox(sessions, "absence_correction")) == 1


async def test_only_unexplained_takes_back_a_guardians_excuse(sessions, clock, settings, world):
    r = await excused_by_the_father(sessions, clock, settings, world)
    now, tz = clock.now(), settings.tz
    for revision, reason, excused in ((1, AbsenceReason.SICK, True), (2, AbsenceReason.UNEXPLAINED, False)):
        reopened = await call(sessions, world.teacher, rc.reopen, now, ACTOR, r, tz)
        changed = toggled(toggled(reopened, world.li_ming.id), world.li_ming.id)  # marked again: asks the reason
        step = await call(sessions, world.teacher, rc.submit, settings, now, ACTOR, r, revision=revision,
                          working=changed)
        assert isinstance(step, Ask)
        await call(sessions, world.teacher, rc.set_reason, settings, now, ACTOR, r, world.li_ming.id, reason,
                   revision=revision)
        [absence] = await absences(sessions)
        assert (absence.reason, absence.excused) == (reason.value, excused)
    assert len(await outbox(sessions, "absence_correction")) == 2  # told of each change of reason


async def test_expected_return_can_be_set_after_submitting(sessions, clock, settings, world):
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    r, now, tz = view.roll_call_id, clock.now(), settings.tz
    await call(sessions, world.teacher, rc.submit, settings, now, ACTOR, r, revision=0,
               working=toggled(view, world.li_ming.id))
    summary = await call(sessions, world.teacher, rc.set_reason, settings, now, ACTOR, r, world.li_ming.id,
                         AbsenceReason.PERSONAL, revision=0)
    assert [m.name for m in summary.return_candidates] == ["李明"]
    mark, days = await call(sessions, world.teacher, rc.return_day_choices, now, ACTOR, r, world.li_ming.id, tz)
    assert mark.name == "李明" and days == [date(2026, 9, 8), date(2026, 9, 9), date(2026, 9, 10)]
    status = await call(sessions, world.teacher, rc.set_expected_return, now, ACTOR, r, world.li_ming.id, days[1], tz)
    assert status.absent[0].expected_return == date(2026, 9, 9)
    assert (await absences(sessions))[0].expected_return == date(2026, 9, 9)
    assert await refused(call(sessions, world.teacher, rc.set_expected_return, now, ACTOR, r, world.li_ming.id,
                              date(2026, 9, 1), tz)) is ErrorCode.BAD_VALUE


# --- days -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["2026-09-12T08:00:00+08:00", "2026-10-01T08:00:00+08:00"])
async def test_no_roll_call_on_a_day_that_is_not_a_school_day(sessions, clock, settings, world, when):
    clock.set(datetime.fromisoformat(when))
    assert await refused(open_as(sessions, clock, settings, world.teacher, world.school_class.id)) \
        is ErrorCode.NOT_SCHOOL_DAY
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(RollCall)) == 0


async def test_a_closure_added_after_opening_stops_the_submission_and_the_reminder(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        await link(session, world.teacher, 4001, clock.now())
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    working = toggled(view, world.li_ming.id)
    await open_as(sessions, clock, settings, world.teacher, world.school_class.id, working)  # saved
    async with sessions() as session, session.begin():
        await add_closure(session, clock.now(), world.officer.id, world.school.id, date(2026, 9, 7), "台风")
    assert await refused(call(sessions, world.teacher, rc.mark_all_present, settings, clock.now(), ACTOR,
                              view.roll_call_id, revision=0)) is ErrorCode.NOT_SCHOOL_DAY
    async with sessions() as session:
        roll_call = await session.get(RollCall, view.roll_call_id)
    assert roll_call.draft["absent"] == {str(world.li_ming.id): None} and roll_call.revision == 0
    assert await absences(sessions) == []
    assert (await run_tick(sessions, settings, at("2026-09-07T10:30:00+08:00"))).rollcall_reminders == 0


async def test_yesterdays_roll_call_is_stale(sessions, clock, settings, world):
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    clock.advance(timedelta(days=1))
    for fn, args, kwargs in (
        (rc.draft_view, (clock.now(), ACTOR, view.roll_call_id), {"revision": 0, "tz": settings.tz}),
        (rc.mark_all_present, (settings, clock.now(), ACTOR, view.roll_call_id), {"revision": 0}),
        (rc.reopen, (clock.now(), ACTOR, view.roll_call_id, settings.tz), {}),
    ):
        assert await refused(call(sessions, world.teacher, fn, *args, **kwargs)) is ErrorCode.STALE_DAY
    assert await absences(sessions) == []


# --- the reminder tick ------------------------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_one_reminder_after_ten_on_a_school_day(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        await link(session, world.teacher, 4001, clock.now())
    assert (await run_tick(sessions, settings, at("2026-09-07T09:59:00+08:00"))).rollcall_reminders == 0
    assert (await run_tick(sessions, settings, at("2026-09-07T10:00:00+08:00"))).rollcall_reminders == 1
    assert (await run_tick(sessions, settings, at("2026-09-07T10:05:00+08:00"))).rollcall_reminders == 0
    [reminder] = await outbox(sessions, "rollcall_reminder")
    assert reminder.person_id == world.teacher.id and "三年级1班" in reminder.text
    assert reminder.actions[0][0]["action"] == "rollcall" and reminder.actions[0][0]["ref"] == world.school_class.id
    assert (await run_tick(sessions, settings, at("2026-09-08T10:00:00+08:00"))).rollcall_reminders == 1  # next day


async def test_no_reminder_on_a_holiday_or_once_submitted(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        await link(session, world.teacher, 4001, clock.now())
    assert (await run_tick(sessions, settings, at("2026-10-01T10:30:00+08:00"))).rollcall_reminders == 0
    assert (await run_tick(sessions, settings, at("2026-09-12T10:30:00+08:00"))).rollcall_reminders == 0
    view = await open_as(sessions, clock, settings, world.teacher, world.school_class.id)
    assert (await run_tick(sessions, settings, at("2026-09-07T09:00:00+08:00"))).rollcall_reminders == 0
    await call(sessions, world.teacher, rc.mark_all_present, settings, clock.now(), ACTOR, view.roll_call_id,
               revision=0)
    assert (await run_tick(sessions, settings, at("2026-09-07T10:30:00+08:00"))).rollcall_reminders == 0
    assert await outbox(sessions, "rollcall_reminder") == []


async def test_officers_hear_once_when_next_years_holidays_are_missing(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        await link(session, world.officer, 4002, clock.now())
    first = await run_tick(sessions, settings, at("2026-11-10T10:00:00+08:00"))
    again = await run_tick(sessions, settings, at("2026-11-11T10:00:00+08:00"))
    assert (first.calendar_warnings, again.calendar_warnings) == (1, 0)
    [warning] = await outbox(sessions, "calendar_missing_year")
    assert warning.person_id == world.officer.id and "2027" in warning.text
