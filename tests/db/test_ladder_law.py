"""The ladder as the law and the seeds have it (issue 10), on SQLite and PostgreSQL: the school officer confirms the
劝学书 with one tap (reminded if not); deadlines that land in a holiday move to the next school day and reports wait
for a school day; persuasion before reporting (a home visit, or the principal is alerted; excused absences since the
劝学书 hold the report); a day without roll call does not break a run; the county education bureau gets a copy of
every report and order and sees its county's cases; what the 劝学书 and the 复学通知书 say."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.cases import (
    CaseAction,
    CaseError,
    CaseErrorCode,
    PersuasionInput,
    case_detail,
    confirm_persuasion_notice,
    issue_return_order,
    list_cases,
    list_watch_items,
    record_persuasion,
    report_to_township,
)
from bot.core.policy import default_policy, parse_policy
from bot.core.settings import Settings
from bot.tick import run_tick
from storage.models import AbsenceReason, County, Guardianship, Person, Role, StaffRole, Township
from tests.db.test_ladder import (
    absent_on,
    actor_of,
    at,
    events,
    home_visit,
    linked_world,
    open_case,
    outbox,
    present_on,
    recipients,
    the_case,
)
from tests.policies import AUTOMATIC_NOTICE
from tests.seed import World, link

POLICY = default_policy()  # the officer confirms the 劝学书
AUTOMATIC = parse_policy(AUTOMATIC_NOTICE)


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture
def automatic() -> Settings:
    return Settings(_env_file=None, policy=AUTOMATIC_NOTICE)


@pytest.fixture
async def world(sessions, clock) -> World:
    return await linked_world(sessions, clock)


async def staff(sessions, clock, name: str, phone: str, telegram_id: int, **role) -> Person:
    async with sessions() as session, session.begin():
        person = Person(name=name, phone=phone, created_at=clock.now(), updated_at=clock.now())
        session.add(person)
        await session.flush()
        session.add(StaffRole(person_id=person.id, **role))
        await link(session, person, telegram_id, clock.now())
        return person


async def county_officer(sessions, clock, world: World) -> Person:
    return await staff(sessions, clock, "周县", "13900000401", 1004, role=Role.COUNTY_OFFICER,
                       county_id=world.township.county_id)


# --- the 劝学书 waits for the officer's one tap --------------------------------------------------------------------


async def test_the_officer_confirms_the_letter_with_one_tap(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.li_ming)  # Tuesday 18:00
    assert case.persuasion_deadline is None
    assert await outbox(sessions, "persuasion_notice") == []
    [alert] = await outbox(sessions, "case_opened_officer")
    assert alert.person_id == world.officer.id and "发出劝学书" in alert.text
    assert [[(b["action"], b["ref"]) for b in row] for row in alert.actions] == [[("case_confirm", case.id)]]
    [teacher] = await outbox(sessions, "case_opened_teacher")
    assert "今天就给家长打电话" in teacher.text  # the same-day phone request stays

    async with sessions() as session, session.begin():
        detail = await case_detail(session, settings, POLICY, at("2026-09-16 08:00"),
                                   await actor_of(session, world.officer), case.id)
        assert detail.notice_pending and CaseAction.CONFIRM_NOTICE in detail.actions
        with pytest.raises(CaseError) as refused:  # the teacher does not send it
            await confirm_persuasion_notice(session, settings, POLICY, at("2026-09-16 08:00"),
                                            await actor_of(session, world.teacher), case.id)
        assert refused.value.code is CaseErrorCode.NOT_ALLOWED

    # not confirmed four hours later: the officer is reminded once (quiet hours hold the message till morning)
    assert (await run_tick(sessions, settings, at("2026-09-15 21:59"))).ladder.confirm_reminders == 0
    assert (await run_tick(sessions, settings, at("2026-09-15 22:00"))).ladder.confirm_reminders == 1
    assert (await run_tick(sessions, settings, at("2026-09-16 07:00"))).ladder.confirm_reminders == 0
    [reminder] = await outbox(sessions, "persuasion_confirm_reminder")
    assert reminder.person_id == world.officer.id and reminder.actions[0][0]["action"] == "case_confirm"

    async with sessions() as session, session.begin():
        officer = await actor_of(session, world.officer)
        result = await confirm_persuasion_notice(session, settings, POLICY, at("2026-09-16 17:00"), officer, case.id)
        assert result.changed and [t.person_id for t in result.told] == [world.father_li.id]
        again = await confirm_persuasion_notice(session, settings, POLICY, at("2026-09-16 17:01"), officer, case.id)
        assert not again.changed
    case = await the_case(sessions, world.li_ming)
    assert case.persuasion_deadline == date(2026, 9, 23)  # seven days from Wednesday, the day it went out
    [notice] = await outbox(sessions, "persuasion_notice")
    assert notice.person_id == world.father_li.id and "9月23日" in notice.text
    assert await events(sessions, case.id) == ["opened", "confirm_reminder", "persuasion_notice_sent"]


async def test_without_an_officer_the_letter_goes_out_at_once(sessions, settings, world):
    async with sessions() as session, session.begin():
        for role in await session.scalars(select(StaffRole).where(StaffRole.person_id == world.officer.id)):
            await session.delete(role)
    case = await open_case(sessions, settings, world, world.li_ming)
    assert case.persuasion_deadline == date(2026, 9, 22)
    assert await recipients(sessions, "persuasion_notice") == [world.father_li.id]


# --- school days ---------------------------------------------------------------------------------------------------


async def test_deadlines_in_a_holiday_move_to_the_next_school_day_and_reports_wait_for_one(sessions, automatic,
                                                                                             world):
    await absent_on(sessions, world, world.li_ming, "2026-09-24", "2026-09-28",
                    "2026-09-29")
    await run_tick(sessions, automatic, at("2026-09-29 18:00"))
    case = await the_case(sessions, world.li_ming)
    # seven days from Tuesday Sep 29 is Oct 6, in the National Day holiday: the family has until Thursday Oct 8
    assert case.persuasion_deadline == date(2026, 10, 8)
    [notice] = await outbox(sessions, "persuasion_notice")
    assert "2026年10月8日" in notice.text
    await home_visit(sessions, automatic, world, case, "2026-09-30")
    for day in ("2026-10-07 08:00", "2026-10-08 18:00"):  # a holiday, then the deadline day itself
        assert (await run_tick(sessions, automatic, at(day))).ladder.reported == 0
    assert (await run_tick(sessions, automatic, at("2026-10-09 08:00"))).ladder.reported == 1


# --- persuasion before reporting -----------------------------------------------------------------------------------


async def test_no_home_visit_alerts_the_principal_instead_of_reporting(sessions, clock, automatic, world):
    principal = await staff(sessions, clock, "吴校长", "13900000501", 1005, role=Role.PRINCIPAL,
                            school_id=world.school.id)
    case = await open_case(sessions, automatic, world, world.li_ming)
    async with sessions() as session, session.begin():  # a phone call is recorded, but it is not a visit
        await record_persuasion(session, automatic, AUTOMATIC, at("2026-09-16 10:00"),
                                await actor_of(session, world.officer), case.id,
                                PersuasionInput(date(2026, 9, 16), "phone", "赵强", "李建国", "other", "hesitant",
                                                None, succeeded=False))
    report = await run_tick(sessions, automatic, at("2026-09-23 08:00"))
    assert (report.ladder.reported, report.ladder.no_home_visit) == (0, 1)
    assert await recipients(sessions, "no_home_visit") == [principal.id]
    assert (await the_case(sessions, world.li_ming)).stage == "open"
    assert (await run_tick(sessions, automatic, at("2026-09-23 09:00"))).ladder.no_home_visit == 0
    # a home visit, and the next school day's tick reports
    await home_visit(sessions, automatic, world, case, "2026-09-23")
    assert (await run_tick(sessions, automatic, at("2026-09-24 08:00"))).ladder.reported == 1


async def test_excused_absences_since_the_letter_hold_the_report(sessions, automatic, world):
    case = await open_case(sessions, automatic, world, world.li_ming)
    await home_visit(sessions, automatic, world, case, "2026-09-16")
    await absent_on(sessions, world, world.li_ming, "2026-09-16", "2026-09-17", "2026-09-18", "2026-09-21",
                    "2026-09-22", reason=AbsenceReason.SICK)
    report = await run_tick(sessions, automatic, at("2026-09-23 08:00"))
    assert (report.ladder.reported, report.ladder.reports_waiting) == (0, 1)
    [asked] = await outbox(sessions, "report_waits")
    assert asked.person_id == world.officer.id and "病假" in asked.text
    assert (await the_case(sessions, world.li_ming)).stage == "open"
    # the officer decides to report all the same
    async with sessions() as session, session.begin():
        result = await report_to_township(session, automatic, AUTOMATIC, at("2026-09-23 10:00"),
                                          await actor_of(session, world.officer), case.id)
        assert result.case.stage == "reported"


async def test_child_labour_found_asks_whether_the_authorities_were_told(sessions, automatic, world):
    case = await open_case(sessions, automatic, world, world.li_ming)
    visit = PersuasionInput(date(2026, 9, 16), "home_visit", "赵强", "李建国", "early_marriage", "refusing", None,
                            succeeded=False)
    async with sessions() as session, session.begin():
        officer = await actor_of(session, world.officer)
        with pytest.raises(CaseError) as refused:
            await record_persuasion(session, automatic, AUTOMATIC, at("2026-09-16 18:00"), officer, case.id, visit)
        assert (refused.value.code, refused.value.details) == (CaseErrorCode.BAD_VALUE, {"field": "authorities_told"})
    async with sessions() as session, session.begin():
        officer = await actor_of(session, world.officer)
        told = PersuasionInput(**{**visit.__dict__, "authorities_told": True})
        await record_persuasion(session, automatic, AUTOMATIC, at("2026-09-16 18:00"), officer, case.id, told)
        detail = await case_detail(session, automatic, AUTOMATIC, at("2026-09-16 18:01"), officer, case.id)
        assert [a.authorities_told for a in detail.attempts] == [True]


# --- roll calls -----------------------------------------------------------------------------------------------------


async def test_a_day_without_roll_call_does_not_break_the_run(sessions, automatic, world):
    # Monday absent, Tuesday no roll call at all, Wednesday and Thursday absent: three school days of roll call
    await absent_on(sessions, world, world.li_ming, "2026-09-14")
    await absent_on(sessions, world, world.li_ming, "2026-09-16")
    assert (await run_tick(sessions, automatic, at("2026-09-16 18:00"))).ladder.opened == 0
    await absent_on(sessions, world, world.li_ming, "2026-09-17")
    assert (await run_tick(sessions, automatic, at("2026-09-17 18:00"))).ladder.opened == 1
    case = await the_case(sessions, world.li_ming)
    assert case.first_absent_day == date(2026, 9, 14)


async def test_a_present_day_still_breaks_the_run(sessions, automatic, world):
    await absent_on(sessions, world, world.li_ming, "2026-09-14")
    await present_on(sessions, world, "2026-09-15")
    await absent_on(sessions, world, world.li_ming, "2026-09-16", "2026-09-17")
    assert (await run_tick(sessions, automatic, at("2026-09-17 18:00"))).ladder.opened == 0


# --- the county education bureau ------------------------------------------------------------------------------------


async def test_the_county_gets_a_copy_of_each_report_and_order_and_sees_its_cases(sessions, clock, automatic, world):
    county = await county_officer(sessions, clock, world)
    case = await open_case(sessions, automatic, world, world.zhang_xiaohong)
    async with sessions() as session, session.begin():
        township = await session.get(Township, world.township.id)
        township.issuer_name, township.office_phone = "青山镇人民政府教育办", "0871-5550101"
        (await session.scalar(select(Guardianship).where(Guardianship.person_id == world.father_zhang.id))
         ).relation = "被委托人"
        await link(session, world.father_zhang, 2003, clock.now())
        await report_to_township(session, automatic, AUTOMATIC, at("2026-09-16 10:00"),
                                 await actor_of(session, world.officer), case.id, note="家访两次未果")
    [copy] = [row for row in await outbox(sessions, "case_reported") if row.person_id == county.id]
    assert "抄送县教育局" in copy.text and "张小红" in copy.text
    school_note = [row for row in await outbox(sessions, "case_reported_school")]
    assert all("县教育局" in row.text for row in school_note)

    async with sessions() as session, session.begin():
        await issue_return_order(session, automatic, AUTOMATIC, at("2026-09-17 10:00"),
                                 await actor_of(session, world.township_officer), case.id)
    assert await recipients(sessions, "return_order_county") == [county.id]
    orders = {row.person_id: row.text for row in await outbox(sessions, "return_order")}
    grandma, carer = orders[world.grandma_zhang.id], orders[world.father_zhang.id]
    assert "张小红的父母或其他法定监护人张奶奶" in grandma and "抄送" not in grandma
    assert "抄送：张伟（受委托照护人）" in carer
    for text in (grandma, carer):
        assert "青山镇人民政府教育办" in text and "0871-5550101" in text and "进一步处理" in text

    async with sessions() as session, session.begin():
        bureau = await actor_of(session, county)
        listed = await list_cases(session, automatic, AUTOMATIC, at("2026-09-17 11:00"), bureau)
        assert [c.id for c in listed] == [case.id]
        detail = await case_detail(session, automatic, AUTOMATIC, at("2026-09-17 11:00"), bureau, case.id)
        assert detail.actions == {CaseAction.PRINT} and not detail.in_charge and detail.events  # reads and prints
        with pytest.raises(CaseError):
            await issue_return_order(session, automatic, AUTOMATIC, at("2026-09-17 11:00"), bureau, case.id)
        # a county officer of another county sees nothing
        other = County(name="邻县")
        session.add(other)
        await session.flush()
        role = await session.scalar(select(StaffRole).where(StaffRole.person_id == county.id))
        role.county_id = other.id
    async with sessions() as session:
        bureau = await actor_of(session, county)
        assert await list_cases(session, automatic, AUTOMATIC, at("2026-09-17 11:00"), bureau) == []
        with pytest.raises(CaseError) as hidden:
            await case_detail(session, automatic, AUTOMATIC, at("2026-09-17 11:00"), bureau, case.id)
        assert hidden.value.code is CaseErrorCode.NOT_ALLOWED


# --- what the 劝学书 says -------------------------------------------------------------------------------------------


async def test_the_letter_names_the_school_phone_and_what_happens_next(sessions, automatic, world):
    async with sessions() as session, session.begin():
        (await session.get(type(world.school), world.school.id)).office_phone = "0871-5550202"
    await open_case(sessions, automatic, world, world.li_ming)
    [notice] = await outbox(sessions, "persuasion_notice")
    assert "既没有请假，也没有告诉学校原因" in notice.text and "没有正当理由" not in notice.text
    assert "0871-5550202" in notice.text and "13900000101" not in notice.text  # the office, never a person's phone
    assert "乡镇人民政府和县教育局" in notice.text and "第二十八条" in notice.text


async def test_a_missing_roll_call_reaches_the_school_officer_at_the_end_of_the_day(sessions, settings, world):
    await present_on(sessions, world, "2026-09-16")  # only the first class; the other has no pupils
    async with sessions() as session, session.begin():
        session.add(type(world.li_ming)(class_id=world.other_class.id, name="钱小东", gender="M",
                                        created_at=at("2026-09-01 08:00"), updated_at=at("2026-09-01 08:00")))
    assert (await run_tick(sessions, settings, at("2026-09-16 16:59"))).rollcall_alerts == 0
    assert (await run_tick(sessions, settings, at("2026-09-16 17:00"))).rollcall_alerts == 1
    assert (await run_tick(sessions, settings, at("2026-09-16 17:05"))).rollcall_alerts == 0
    [alert] = await outbox(sessions, "rollcall_missing_officer")
    assert alert.person_id == world.officer.id and "五年级2班" in alert.text and "三年级1班" not in alert.text
    assert (await run_tick(sessions, settings, at("2026-09-19 17:00"))).rollcall_alerts == 0  # a Saturday


# --- patterns, not only runs ----------------------------------------------------------------------------------------


async def test_repeated_truancy_and_piling_leave_reach_the_officer_once_a_month(sessions, automatic, world):
    absent = {"2026-09-07", "2026-09-09", "2026-09-14", "2026-09-16", "2026-09-21"}  # never 3 in a row
    for day in ("2026-09-07", "2026-09-08", "2026-09-09", "2026-09-10", "2026-09-11", "2026-09-14", "2026-09-15",
                "2026-09-16", "2026-09-17", "2026-09-18"):
        await present_on(sessions, world, day)
    await absent_on(sessions, world, world.li_ming, *sorted(absent - {"2026-09-21"}))
    for day in ("2026-09-07", "2026-09-08", "2026-09-09", "2026-09-10", "2026-09-11", "2026-09-14", "2026-09-15",
                "2026-09-16", "2026-09-17", "2026-09-18"):
        await absent_on(sessions, world, world.li_hua, day, reason=AbsenceReason.SICK)
    report = await run_tick(sessions, automatic, at("2026-09-18 18:00"))
    assert (report.ladder.opened, report.ladder.watch_items) == (0, 1)  # Li Hua: 10 sick days
    await absent_on(sessions, world, world.li_ming, "2026-09-21")
    report = await run_tick(sessions, automatic, at("2026-09-21 18:00"))
    assert (report.ladder.opened, report.ladder.watch_items) == (0, 1)  # Li Ming: 5 unexplained days
    await present_on(sessions, world, "2026-09-22")
    await absent_on(sessions, world, world.li_ming, "2026-09-23")
    assert (await run_tick(sessions, automatic, at("2026-09-23 18:00"))).ladder.watch_items == 0  # once a month
    alerts = await outbox(sessions, "pattern_alert")
    assert [row.person_id for row in alerts] == [world.officer.id, world.officer.id]
    assert "李华" in alerts[0].text and "李明" in alerts[1].text and "第二十八条" in alerts[1].text
    async with sessions() as session:
        listed = await list_watch_items(session, automatic, at("2026-09-23 18:00"),
                                        await actor_of(session, world.teacher))
        assert [(w.student_name, w.kind, w.days) for w in listed] == [("李明", "unexplained", 5),
                                                                      ("李华", "excused", 10)]
