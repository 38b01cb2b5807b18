"""The escalation ladder driven by the tick with the injected clock, on SQLite and PostgreSQL: from the first
absences to the 劝学书, the home visit reminder, the report to the township, the 复学通知书, the return and the
watch; school days counted on the calendar (Fri–Mon–Tue, a holiday week); a "sick" answer and 休学 keeping the
ladder still; reply reminders and the teacher's phone request; a tick twice and two ticks at once sending each
notice once."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import pytest
from sqlalchemy import delete, func, select

from bot.cases import (
    CaseError,
    CaseErrorCode,
    PersuasionInput,
    answer_persuasion_notice,
    close_case,
    issue_return_order,
    record_persuasion,
    request_support,
    student_marked_present,
)
from bot.core.policy import parse_policy
from bot.core.scope import load_actor
from bot.core.settings import Settings
from bot.families.replies import record_reply
from bot.notices.absence import RollCallChanges, notify_guardians
from bot.tick import run_tick
from storage.db import create_engine, create_sessionmaker
from storage.models import (
    Absence,
    AbsenceReason,
    AuditEvent,
    Case,
    CaseEvent,
    CaseOutcome,
    CaseStage,
    CaseStep,
    Consent,
    EnrolmentStatus,
    OutboxMessage,
    Person,
    RollCall,
    Student,
)
from tests.policies import AUTOMATIC_NOTICE
from tests.seed import World, link, seed_world

POLICY = parse_policy(AUTOMATIC_NOTICE)


def at(text: str) -> datetime:
    """A local (Beijing) instant, e.g. at("2026-09-15 18:00")."""
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00")


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None, policy=AUTOMATIC_NOTICE)


@pytest.fixture
async def world(sessions, clock) -> World:
    return await linked_world(sessions, clock)


async def linked_world(sessions, clock) -> World:
    """The seeded world with everyone linked to Telegram except Zhang's father."""
    async with sessions() as session, session.begin():
        world = await seed_world(session, clock.now())
        for person, telegram_id in ((world.teacher, 1001), (world.officer, 1002), (world.township_officer, 1003),
                                    (world.father_li, 2001), (world.grandma_zhang, 2002)):
            await link(session, person, telegram_id, clock.now())
        return world  # father_zhang stays unlinked


async def roll_call(session, world: World, day: date, absent: dict[int, str] | None = None) -> RollCall:
    """A submitted roll call of the class on `day` with these students absent (student id -> reason)."""
    row = await session.scalar(select(RollCall).where(RollCall.class_id == world.school_class.id,
                                                      RollCall.day == day))
    if row is None:
        row = RollCall(class_id=world.school_class.id, day=day, opened_by=world.teacher.id,
                       submitted_by=world.teacher.id, submitted_at=at(f"{day} 08:30"), revision=1)
        session.add(row)
        await session.flush()
    for student_id, reason in (absent or {}).items():
        session.add(Absence(student_id=student_id, roll_call_id=row.id, day=day, reason=reason,
                            excused=reason == AbsenceReason.APPROVED_LEAVE, recorded_by=world.teacher.id,
                            recorded_at=at(f"{day} 08:30")))
    await session.flush()
    return row


async def absent_on(sessions, world: World, student: Student, *days: str,
                    reason: str = AbsenceReason.UNEXPLAINED) -> None:
    async with sessions() as session, session.begin():
        for day in days:
            await roll_call(session, world, date.fromisoformat(day), {student.id: reason})


async def present_on(sessions, world: World, day: str) -> None:
    async with sessions() as session, session.begin():
        await roll_call(session, world, date.fromisoformat(day))


async def outbox(sessions, template: str | None = None) -> list[OutboxMessage]:
    async with sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if template is not None:
            query = query.where(OutboxMessage.template == template)
        return list(await session.scalars(query))


async def recipients(sessions, template: str) -> list[int]:
    return sorted(row.person_id for row in await outbox(sessions, template))


async def the_case(sessions, student: Student) -> Case | None:
    async with sessions() as session:
        return await session.scalar(select(Case).where(Case.student_id == student.id).order_by(Case.id.desc()))


async def events(sessions, case_id: int) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)
                                          .order_by(CaseEvent.id)))


async def actor_of(session, person: Person):
    return await load_actor(session, await session.get(Person, person.id))


async def home_visit(sessions, settings, world: World, case: Case, day: str, *, succeeded: bool = False) -> None:
    """The school officer records a home visit on `day` that did not bring the child back."""
    async with sessions() as session, session.begin():
        await record_persuasion(session, settings, POLICY, at(f"{day} 16:00"), await actor_of(session, world.officer),
                                case.id, PersuasionInput(date.fromisoformat(day), "home_visit", "赵强", None,
                                                         "family_hardship", "hesitant", None, succeeded=succeeded))


async def open_case(sessions, settings, world: World, student: Student) -> Case:
    """Absent Fri–Mon–Tue (2026-09-11, 14, 15) and a tick on Tuesday evening: the case opens."""
    await absent_on(sessions, world, student, "2026-09-11", "2026-09-14", "2026-09-15")
    await run_tick(sessions, settings, at("2026-09-15 18:00"))
    case = await the_case(sessions, student)
    assert case is not None
    return case


# --- counting school days -----------------------------------------------------------------------------------------


async def test_friday_monday_tuesday_are_three_school_days(sessions, settings, world):
    await absent_on(sessions, world, world.li_ming, "2026-09-11", "2026-09-14")
    report = await run_tick(sessions, settings, at("2026-09-14 18:00"))
    assert report.ladder.opened == 0
    assert await the_case(sessions, world.li_ming) is None

    await absent_on(sessions, world, world.li_ming, "2026-09-15")
    report = await run_tick(sessions, settings, at("2026-09-15 18:00"))
    assert report.ladder.opened == 1
    case = await the_case(sessions, world.li_ming)
    assert (case.stage, case.first_absent_day) == (CaseStage.OPEN, date(2026, 9, 11))
    assert case.home_visit_due == date(2026, 9, 17)  # two school days after Tuesday
    assert case.persuasion_deadline == date(2026, 9, 22)  # seven calendar days
    assert (case.school_id, case.township_id) == (world.school.id, world.township.id)
    assert await events(sessions, case.id) == ["opened", "persuasion_notice_sent"]

    assert await recipients(sessions, "case_opened_officer") == [world.officer.id]
    assert await recipients(sessions, "case_opened_teacher") == [world.teacher.id]
    [notice] = await outbox(sessions, "persuasion_notice")
    assert notice.person_id == world.father_li.id
    assert "李明" in notice.text and "义务教育法" in notice.text and "第五条" in notice.text
    assert "9月22日" in notice.text and "王丽" in notice.text
    assert "开除" not in notice.text  # never threaten expulsion
    assert [[(b["action"], b["ref"], b["value"]) for b in row] for row in notice.actions] == [
        [("case", case.id, "back_tomorrow")], [("case", case.id, "need_help")], [("case", case.id, "call_me")]]
    assert await outbox(sessions, "case_reported") == []


async def test_a_holiday_week_does_not_count(sessions, settings, world):
    await absent_on(sessions, world, world.li_ming, "2026-09-30", "2026-10-08")
    await run_tick(sessions, settings, at("2026-10-08 18:00"))  # nine calendar days, two school days
    assert await the_case(sessions, world.li_ming) is None
    await absent_on(sessions, world, world.li_ming, "2026-10-09")
    await run_tick(sessions, settings, at("2026-10-09 18:00"))
    case = await the_case(sessions, world.li_ming)
    assert case.first_absent_day == date(2026, 9, 30)


async def test_a_proper_reason_breaks_the_run(sessions, settings, world):
    await absent_on(sessions, world, world.li_ming, "2026-09-11", "2026-09-15")
    await absent_on(sessions, world, world.li_ming, "2026-09-14", reason=AbsenceReason.PERSONAL)
    await run_tick(sessions, settings, at("2026-09-15 18:00"))
    assert await the_case(sessions, world.li_ming) is None


async def test_a_sick_answer_on_day_one_stops_the_ladder(sessions, settings, world):
    await absent_on(sessions, world, world.li_ming, "2026-09-11")
    async with sessions() as session, session.begin():
        absence = await session.scalar(select(Absence).where(Absence.student_id == world.li_ming.id))
        result = await record_reply(session, settings, at("2026-09-11 09:00"),
                                    await actor_of(session, world.father_li), absence.id, "sick")
        assert result.ok
    async with sessions() as session:
        assert (await session.get(Absence, absence.id)).excused is True
    await absent_on(sessions, world, world.li_ming, "2026-09-14", "2026-09-15")
    report = await run_tick(sessions, settings, at("2026-09-15 18:00"))
    assert report.ladder.opened == 0
    assert await the_case(sessions, world.li_ming) is None


async def test_suspension_never_opens_a_case(sessions, settings, world):
    async with sessions() as session, session.begin():
        (await session.get(Student, world.li_ming.id)).status = EnrolmentStatus.SUSPENDED
    await absent_on(sessions, world, world.li_ming, "2026-09-11", "2026-09-14", "2026-09-15")
    await run_tick(sessions, settings, at("2026-09-15 18:00"))
    assert await the_case(sessions, world.li_ming) is None


# --- the whole ladder ---------------------------------------------------------------------------------------------


async def test_the_whole_ladder_from_absence_to_return_and_watch(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.zhang_xiaohong)
    # the grandmother is linked, the father is not: the officer is asked to deliver his 劝学书 by hand
    assert await recipients(sessions, "persuasion_notice") == [world.grandma_zhang.id]
    [by_hand] = await outbox(sessions, "deliver_by_hand")
    assert by_hand.person_id == world.officer.id and "张伟" in by_hand.text and "劝学书" in by_hand.text

    # Thursday: the home visit is due today, nothing yet; Friday: the officers are reminded, once
    assert (await run_tick(sessions, settings, at("2026-09-17 18:00"))).ladder.home_visits_overdue == 0
    assert (await run_tick(sessions, settings, at("2026-09-18 08:00"))).ladder.home_visits_overdue == 1
    assert (await run_tick(sessions, settings, at("2026-09-18 09:00"))).ladder.home_visits_overdue == 0
    assert await recipients(sessions, "home_visit_overdue") == [world.officer.id]

    # the officer visits; the family refuses
    async with sessions() as session, session.begin():
        result = await record_persuasion(
            session, settings, POLICY, at("2026-09-18 16:00"), await actor_of(session, world.officer), case.id,
            PersuasionInput(date(2026, 9, 18), "home_visit", "赵强、王丽", "张奶奶", "gone_to_work", "refusing",
                            "再次家访", succeeded=False, authorities_told=True),
        )
        assert (result.case.attempts, result.case.failed_attempts) == (1, 1)

    # the 劝学书 deadline (Sep 22) passes with the child not back: the tick files the 辍学报告 by itself
    assert (await run_tick(sessions, settings, at("2026-09-22 18:00"))).ladder.reported == 0
    assert (await run_tick(sessions, settings, at("2026-09-23 08:00"))).ladder.reported == 1
    case = await the_case(sessions, world.zhang_xiaohong)
    assert case.stage == CaseStage.REPORTED and case.reported_at == at("2026-09-23 08:00")
    [report] = await outbox(sessions, "case_reported")
    assert report.person_id == world.township_officer.id
    assert "张小红" in report.text and "外出务工" in report.text and "家访" in report.text
    assert await recipients(sessions, "case_reported_school") == sorted([world.officer.id, world.teacher.id])
    assert (await run_tick(sessions, settings, at("2026-09-23 09:00"))).ladder.reported == 0

    # the township orders the return (复学通知书)
    async with sessions() as session, session.begin():
        result = await issue_return_order(session, settings, POLICY, at("2026-09-24 10:00"),
                                          await actor_of(session, world.township_officer), case.id)
        assert result.case.stage == CaseStage.ORDERED
        assert [t.person_id for t in result.by_hand] == [world.father_zhang.id]
    case = await the_case(sessions, world.zhang_xiaohong)
    assert case.order_deadline == date(2026, 10, 8)  # ten days land on Sunday Oct 4, in the holiday: moved
    [order] = await outbox(sessions, "return_order")
    assert order.person_id == world.grandma_zhang.id
    for text in ("第五十八条", "第八十三条", "第五条", "第十六条", "第十七条", "2026年10月8日", "青山镇人民政府",
                 "正式", "逾期仍未送孩子返校的，将依法作进一步处理"):
        assert text in order.text
    assert len(await outbox(sessions, "deliver_by_hand")) == 2  # the 劝学书 and the 复学通知书
    assert await recipients(sessions, "case_moved") == sorted([world.officer.id, world.teacher.id])

    # the order's deadline passes: the township officer is reminded once, on a school day
    assert (await run_tick(sessions, settings, at("2026-10-08 18:00"))).ladder.orders_overdue == 0
    assert (await run_tick(sessions, settings, at("2026-10-09 08:00"))).ladder.orders_overdue == 1
    assert (await run_tick(sessions, settings, at("2026-10-09 09:00"))).ladder.orders_overdue == 0
    assert await recipients(sessions, "order_deadline_passed") == [world.township_officer.id]
    [passed] = await outbox(sessions, "order_deadline_passed")
    assert "第一百一十八条" in passed.text and "训诫" in passed.text  # legal steps off: the national options

    # back at school: the roll call marks her present; reported already, so the school officer closes the case
    await present_on(sessions, world, "2026-10-12")
    async with sessions() as session, session.begin():
        teacher = await actor_of(session, world.teacher)
        summary = await student_marked_present(session, settings, POLICY, at("2026-10-12 08:30"), teacher,
                                               world.zhang_xiaohong.id, date(2026, 10, 12))
        assert summary is None  # reported: not the teacher's to close
        with pytest.raises(CaseError) as refused:
            await close_case(session, settings, POLICY, at("2026-10-12 08:31"), teacher, case.id,
                             CaseOutcome.RETURNED)
        assert refused.value.code is CaseErrorCode.NOT_ALLOWED
    async with sessions() as session, session.begin():
        result = await close_case(session, settings, POLICY, at("2026-10-12 08:31"),
                                  await actor_of(session, world.officer), case.id, CaseOutcome.RETURNED)
        assert result.case.stage == CaseStage.CLOSED
    case = await the_case(sessions, world.zhang_xiaohong)
    assert (case.outcome, case.watch_until) == (CaseOutcome.RETURNED, date(2026, 11, 9))
    # everyone involved is told, except the officer who closed it; the township too, since it was reported
    assert await recipients(sessions, "case_closed") == sorted([world.teacher.id, world.township_officer.id])

    # in the follow-up period one unexplained absence goes straight to the officer
    await absent_on(sessions, world, world.zhang_xiaohong, "2026-10-13")
    report = await run_tick(sessions, settings, at("2026-10-13 18:00"))
    assert (report.ladder.watch_absences, report.ladder.opened) == (1, 0)
    assert (await run_tick(sessions, settings, at("2026-10-13 18:05"))).ladder.watch_absences == 0
    [watch] = await outbox(sessions, "watch_absence")
    assert watch.person_id == world.officer.id and "张小红" in watch.text

    # the follow-up period ends once
    assert (await run_tick(sessions, settings, at("2026-11-10 08:00"))).ladder.watch_ended == 1
    assert (await run_tick(sessions, settings, at("2026-11-10 09:00"))).ladder.watch_ended == 0
    history = await events(sessions, case.id)
    assert history == ["opened", "persuasion_notice_sent", "home_visit_overdue", "persuasion_recorded", "reported",
                       "return_order_issued",
                       "order_deadline_passed", "present", "closed", "watch_absence", "watch_ended"]


async def test_a_guardian_without_consent_gets_the_notice_by_hand(sessions, settings, world):
    async with sessions() as session, session.begin():
        await session.execute(delete(Consent).where(Consent.person_id == world.father_li.id))
    await open_case(sessions, settings, world, world.li_ming)
    assert await outbox(sessions, "persuasion_notice") == []  # PIPL art. 31: nothing before consent
    [by_hand] = await outbox(sessions, "deliver_by_hand")
    assert by_hand.person_id == world.officer.id and "李建国" in by_hand.text and "隐私说明" in by_hand.text


async def test_two_failed_home_visits_on_different_days_report_before_the_deadline(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.li_ming)

    async def attempt(day: int, method: str, hour: int) -> None:
        async with sessions() as session, session.begin():
            await record_persuasion(session, settings, POLICY, at(f"2026-09-{day} {hour}:00"),
                                    await actor_of(session, world.officer), case.id,
                                    PersuasionInput(date(2026, 9, day), method, "赵强", "李建国",
                                                    "learning_difficulty", "hesitant", None, succeeded=False))

    # two phone calls and two visits on the same day: one failed visit, no report
    await attempt(16, "phone", 10)
    await attempt(16, "phone", 11)
    await attempt(16, "home_visit", 15)
    await attempt(16, "home_visit", 16)
    assert (await run_tick(sessions, settings, at("2026-09-16 18:00"))).ladder.reported == 0
    # a second visit on another day: reported
    await attempt(17, "home_visit", 16)
    report = await run_tick(sessions, settings, at("2026-09-17 18:00"))
    assert report.ladder.reported == 1
    [row] = await outbox(sessions, "case_reported")
    assert "2 次家访" in row.text and "系统按规定" not in row.text and "县里规定的次数" in row.text


async def test_a_child_back_at_school_is_not_reported(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.li_ming)
    await present_on(sessions, world, "2026-09-16")
    assert (await run_tick(sessions, settings, at("2026-09-23 08:00"))).ladder.reported == 0
    assert (await the_case(sessions, world.li_ming)).stage == CaseStage.OPEN
    async with sessions() as session, session.begin():
        result = await close_case(session, settings, POLICY, at("2026-09-23 09:00"),
                                  await actor_of(session, world.teacher), case.id, CaseOutcome.RETURNED)
        assert result.case.stage == CaseStage.CLOSED
    assert await recipients(sessions, "case_closed") == [world.officer.id]  # never reported: not the township


async def test_a_closed_case_is_not_reopened_by_the_same_days(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.li_ming)
    async with sessions() as session, session.begin():
        await close_case(session, settings, POLICY, at("2026-09-15 19:00"), await actor_of(session, world.officer),
                         case.id, CaseOutcome.OTHER, "家长已办理转学手续，等待核实")
    assert (await run_tick(sessions, settings, at("2026-09-15 19:05"))).ladder.opened == 0
    await absent_on(sessions, world, world.li_ming, "2026-09-16", "2026-09-17", "2026-09-18")
    assert (await run_tick(sessions, settings, at("2026-09-18 18:00"))).ladder.opened == 1


# --- contact the family the same day -----------------------------------------------------------------------------


async def test_reply_reminder_after_four_hours_then_the_teacher_is_asked_to_phone(sessions, settings, world):
    async with sessions() as session, session.begin():
        row = await roll_call(session, world, date(2026, 9, 7),
                              {world.li_ming.id: AbsenceReason.UNEXPLAINED,
                               world.zhang_xiaohong.id: AbsenceReason.UNKNOWN})
        absences = list(await session.scalars(select(Absence).where(Absence.roll_call_id == row.id)))
        await notify_guardians(session, settings, at("2026-09-07 09:00"), row, RollCallChanges(new=absences))
    assert (await run_tick(sessions, settings, at("2026-09-07 12:59"))).ladder.reply_reminders == 0
    # the grandmother answers in time; the father does not
    async with sessions() as session, session.begin():
        absence = next(a for a in absences if a.student_id == world.zhang_xiaohong.id)
        await record_reply(session, settings, at("2026-09-07 11:00"), await actor_of(session, world.grandma_zhang),
                           absence.id, "family")
    assert (await run_tick(sessions, settings, at("2026-09-07 13:00"))).ladder.reply_reminders == 1
    assert (await run_tick(sessions, settings, at("2026-09-07 13:02"))).ladder.reply_reminders == 0
    [reminder] = await outbox(sessions, "reply_reminder")
    assert reminder.person_id == world.father_li.id and "李明" in reminder.text
    assert reminder.actions[0][0]["action"] == "reply"

    assert (await run_tick(sessions, settings, at("2026-09-07 16:59"))).ladder.phone_requests == 0
    assert (await run_tick(sessions, settings, at("2026-09-07 17:00"))).ladder.phone_requests == 1
    assert (await run_tick(sessions, settings, at("2026-09-07 17:02"))).ladder.phone_requests == 0
    [request] = await outbox(sessions, "teacher_phone_request")
    assert request.person_id == world.teacher.id
    assert "李明" in request.text and "李建国" in request.text and "13900001001" not in request.text


# --- exactly once -------------------------------------------------------------------------------------------------


async def test_a_tick_twice_sends_each_notice_once(sessions, settings, world):
    await absent_on(sessions, world, world.li_ming, "2026-09-11", "2026-09-14", "2026-09-15")
    first = await run_tick(sessions, settings, at("2026-09-15 18:00"))
    before = [(row.idempotency_key, row.person_id) for row in await outbox(sessions)]
    second = await run_tick(sessions, settings, at("2026-09-15 18:00"))
    assert first.ladder.opened == 1 and second.ladder.opened == 0
    assert [(row.idempotency_key, row.person_id) for row in await outbox(sessions)] == before
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 1
        assert await session.scalar(select(func.count()).select_from(CaseEvent)) == 2  # opened, notice sent


async def test_two_ticks_at_once_send_each_notice_once(db_url, sessions, settings, world):
    await absent_on(sessions, world, world.li_ming, "2026-09-11", "2026-09-14", "2026-09-15")
    await absent_on(sessions, world, world.zhang_xiaohong, "2026-09-11", "2026-09-14", "2026-09-15")
    engines = [create_engine(db_url), create_engine(db_url)]
    try:
        reports = await asyncio.gather(*(run_tick(create_sessionmaker(engine), settings, at("2026-09-15 18:00"))
                                         for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(r.ladder.opened for r in reports) == [0, 2]
    rows = await outbox(sessions)
    assert len({row.idempotency_key for row in rows}) == len(rows)
    assert await recipients(sessions, "case_opened_officer") == [world.officer.id, world.officer.id]
    assert len(await outbox(sessions, "persuasion_notice")) == 2  # father Li, grandmother Zhang
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 2
        assert await session.scalar(select(func.count()).select_from(CaseEvent)) == 4  # opened, notice sent

    # the later steps too: two ticks at once after the deadline alert about each case once (no home visit
    # recorded: the principal, or the officer where there is none, instead of the report)
    engines = [create_engine(db_url), create_engine(db_url)]
    try:
        reports = await asyncio.gather(*(run_tick(create_sessionmaker(engine), settings, at("2026-09-23 08:00"))
                                         for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(r.ladder.no_home_visit for r in reports) == [0, 2]
    assert sorted(r.ladder.home_visits_overdue for r in reports) == [0, 2]
    assert len(await outbox(sessions, "no_home_visit")) == 2
    async with sessions() as session:
        steps = list(await session.execute(select(CaseStep.case_id, CaseStep.step)))
        assert len(steps) == len(set(steps)) == 6


async def test_an_unknown_case_is_not_allowed(sessions, settings, world):
    from bot.cases import CaseError

    async with sessions() as session, session.begin():
        with pytest.raises(CaseError) as error:
            await close_case(session, settings, POLICY, at("2026-09-15 19:00"),
                             await actor_of(session, world.officer), 999, CaseOutcome.RETURNED)
        assert error.value.code is CaseErrorCode.NOT_ALLOWED


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
async def test_every_notice_speaks_the_recipients_language(sessions, settings, world, locale):
    async with sessions() as session, session.begin():
        for person in (world.teacher, world.officer, world.township_officer, world.father_li, world.grandma_zhang):
            (await session.get(Person, person.id)).locale = locale
    async with sessions() as session, session.begin():
        row = await roll_call(session, world, date(2026, 9, 15), {world.li_ming.id: AbsenceReason.UNEXPLAINED})
        absences = list(await session.scalars(select(Absence).where(Absence.roll_call_id == row.id)))
        await notify_guardians(session, settings, at("2026-09-15 09:00"), row, RollCallChanges(new=absences))
    await run_tick(sessions, settings, at("2026-09-15 13:00"))  # the father is reminded
    case = await open_case(sessions, settings, world, world.zhang_xiaohong)  # 18:00: the teacher phones Li too
    async with sessions() as session, session.begin():
        grandma = await actor_of(session, world.grandma_zhang)
        await answer_persuasion_notice(session, settings, POLICY, at("2026-09-16 10:00"), grandma, case.id,
                                       "need_help")
        await request_support(session, settings, POLICY, at("2026-09-16 10:01"), grandma, case.id, "cost")
    await run_tick(sessions, settings, at("2026-09-18 08:00"))  # the home visit is overdue
    await run_tick(sessions, settings, at("2026-09-23 08:00"))  # no home visit: the report waits, an alert
    await home_visit(sessions, settings, world, case, "2026-09-23")
    await run_tick(sessions, settings, at("2026-09-24 08:00"))  # the 辍学报告
    async with sessions() as session, session.begin():
        await issue_return_order(session, settings, POLICY, at("2026-09-24 10:00"),
                                 await actor_of(session, world.township_officer), case.id)
    await run_tick(sessions, settings, at("2026-10-09 08:00"))  # the 复学通知书's deadline has passed
    async with sessions() as session, session.begin():
        await close_case(session, settings, POLICY, at("2026-10-09 08:30"), await actor_of(session, world.officer),
                         case.id, CaseOutcome.RETURNED)
    await absent_on(sessions, world, world.zhang_xiaohong, "2026-10-12")
    await run_tick(sessions, settings, at("2026-10-12 18:00"))  # absent in the follow-up period

    rows = await outbox(sessions)
    templates = {row.template for row in rows}
    assert {"reply_reminder", "teacher_phone_request", "case_opened_officer", "case_opened_teacher",
            "persuasion_notice", "deliver_by_hand", "case_answer", "support_requested", "home_visit_overdue",
            "case_reported", "case_reported_school", "return_order", "case_moved", "order_deadline_passed",
            "case_closed", "watch_absence", "no_home_visit"} <= templates
    for row in rows:
        assert row.locale == locale, row.template
        assert "{{" not in row.text and "{%" not in row.text
        if locale == "en":
            assert "请" not in row.text and "學" not in row.text, row.template
        else:
            assert "请" not in row.text and "学校" not in row.text, row.template  # Traditional characters
    [order] = [row for row in rows if row.template == "return_order"]
    assert ("art. 58" if locale == "en" else "第五十八條") in order.text


# --- the return waits for the teacher's confirmation --------------------------------------------------------------


async def test_a_child_back_two_school_days_reminds_the_teacher_once_then_the_officer(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.li_ming)  # Tuesday 9月15日
    await present_on(sessions, world, "2026-09-16")
    assert (await run_tick(sessions, settings, at("2026-09-16 18:00"))).ladder.return_reminders == 0  # one day
    await present_on(sessions, world, "2026-09-17")
    assert (await run_tick(sessions, settings, at("2026-09-17 18:00"))).ladder.return_reminders == 1
    assert (await run_tick(sessions, settings, at("2026-09-17 18:05"))).ladder.return_reminders == 0
    [reminder] = await outbox(sessions, "return_reminder")
    assert reminder.person_id == world.teacher.id
    assert "李明" in reminder.text and "三年级1班" in reminder.text and "2 个教学日" in reminder.text
    assert "139" not in reminder.text  # no phone numbers
    assert [[(b["action"], b["ref"]) for b in row] for row in reminder.actions] == [[("case_returned", case.id)]]
    assert reminder.idempotency_key == f"return-reminder:{case.id}:2026-09-15:{world.teacher.id}"

    # three more school days (Friday, Sunday 9月20日 a make-up school day 调休, Monday) without the teacher's
    # confirmation: the officer, once, the day after
    for day in ("2026-09-18", "2026-09-20", "2026-09-21"):
        await present_on(sessions, world, day)
    assert (await run_tick(sessions, settings, at("2026-09-21 18:00"))).ladder.return_escalations == 0
    report = await run_tick(sessions, settings, at("2026-09-22 08:00"))
    assert (report.ladder.return_escalations, report.ladder.return_reminders, report.ladder.reported) == (1, 0, 0)
    assert (await run_tick(sessions, settings, at("2026-09-22 09:00"))).ladder.return_escalations == 0
    [escalation] = await outbox(sessions, "return_reminder_officer")
    assert escalation.person_id == world.officer.id
    assert "李明" in escalation.text and "王丽" in escalation.text and "5 个教学日" in escalation.text
    assert escalation.actions[0][0]["action"] == "case_returned"
    assert await events(sessions, case.id) == ["opened", "persuasion_notice_sent", "return_reminder",
                                               "home_visit_overdue", "return_reminder_officer"]
    async with sessions() as session:
        audited = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "case",
                                                                             AuditEvent.entity_id == case.id)))
    assert "case.return_reminder" in audited and "case.return_reminder_officer" in audited

    # the teacher confirms: nothing more
    async with sessions() as session, session.begin():
        await close_case(session, settings, POLICY, at("2026-09-22 10:00"), await actor_of(session, world.teacher),
                         case.id, CaseOutcome.RETURNED)
    report = await run_tick(sessions, settings, at("2026-09-30 08:00"))
    assert (report.ladder.return_reminders, report.ladder.return_escalations) == (0, 0)


async def test_no_return_reminder_on_days_that_are_not_school_days(sessions, settings, world):
    await open_case(sessions, settings, world, world.li_ming)
    await present_on(sessions, world, "2026-09-16")  # Wednesday
    await present_on(sessions, world, "2026-09-19")  # a roll call on a Saturday counts for nothing
    assert (await run_tick(sessions, settings, at("2026-09-19 18:00"))).ladder.return_reminders == 0
    assert (await run_tick(sessions, settings, at("2026-09-20 08:00"))).ladder.return_reminders == 0
    await present_on(sessions, world, "2026-09-20")  # Sunday, a make-up school day (调休): the second one back
    assert (await run_tick(sessions, settings, at("2026-09-20 18:00"))).ladder.return_reminders == 1


async def test_a_return_reminder_due_in_a_holiday_waits_for_the_next_school_day(sessions, settings, world):
    await open_case(sessions, settings, world, world.li_ming)
    for day in ("2026-09-23", "2026-09-24"):  # Wednesday, Thursday; then the Mid-Autumn holiday (9月25–27日)
        await present_on(sessions, world, day)
    assert (await run_tick(sessions, settings, at("2026-09-25 10:00"))).ladder.return_reminders == 0
    assert (await run_tick(sessions, settings, at("2026-09-27 10:00"))).ladder.return_reminders == 0
    assert (await run_tick(sessions, settings, at("2026-09-28 07:30"))).ladder.return_reminders == 1


async def test_no_return_reminder_when_the_child_is_absent_again(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.li_ming)
    await present_on(sessions, world, "2026-09-16")
    await absent_on(sessions, world, world.li_ming, "2026-09-17")
    await present_on(sessions, world, "2026-09-18")
    assert (await run_tick(sessions, settings, at("2026-09-18 18:00"))).ladder.return_reminders == 0
    # back two days, reminded; absent again: the officer is not reminded, the report goes up as before
    await present_on(sessions, world, "2026-09-21")
    assert (await run_tick(sessions, settings, at("2026-09-21 18:00"))).ladder.return_reminders == 1
    await absent_on(sessions, world, world.li_ming, "2026-09-22")
    await home_visit(sessions, settings, world, case, "2026-09-22")
    report = await run_tick(sessions, settings, at("2026-09-28 08:00"))
    assert (report.ladder.return_escalations, report.ladder.reported) == (0, 1)
    assert await outbox(sessions, "return_reminder_officer") == []
    assert (await the_case(sessions, world.li_ming)).stage == CaseStage.REPORTED
    assert "return_reminder" in await events(sessions, case.id)


async def test_return_reminders_take_the_same_queries_for_one_case_or_two(sessions, engine, settings, world):
    from sqlalchemy import event as sa_event

    for student in (world.li_ming, world.li_hua, world.zhang_xiaohong):
        await absent_on(sessions, world, student, "2026-09-11", "2026-09-14", "2026-09-15")
    await run_tick(sessions, settings, at("2026-09-15 18:00"))
    async with sessions() as session, session.begin():  # a home visit each, so that no other step falls due
        officer = await actor_of(session, world.officer)
        for case in await session.scalars(select(Case)):
            await record_persuasion(session, settings, POLICY, at("2026-09-16 16:00"), officer, case.id,
                                    PersuasionInput(date(2026, 9, 16), "home_visit", "赵强", "家长", "other",
                                                    "cooperative", None, succeeded=True))
    # 李明 back Wednesday and Thursday; 李华 and 张小红 absent once more, back Thursday and Friday
    await absent_on(sessions, world, world.li_hua, "2026-09-16")
    await absent_on(sessions, world, world.zhang_xiaohong, "2026-09-16")
    for day in ("2026-09-17", "2026-09-18"):
        await present_on(sessions, world, day)

    counted = [0]

    def count(*_args) -> None:
        counted[0] += 1

    async def queries_of_tick(when: str) -> tuple[int, int]:
        counted[0] = 0
        sa_event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            report = await run_tick(sessions, settings, at(when))
        finally:
            sa_event.remove(engine.sync_engine, "before_cursor_execute", count)
        return report.ladder.return_reminders, counted[0]

    one = await queries_of_tick("2026-09-17 18:00")
    two = await queries_of_tick("2026-09-18 18:00")
    assert (one[0], two[0]) == (1, 2)
    assert one[1] == two[1]
    assert len(await outbox(sessions, "return_reminder")) == 3
