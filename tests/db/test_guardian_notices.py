"""Guardian notices, replies and leave on SQLite and PostgreSQL: one notice per guardian for siblings, asking or
informing by reason, running totals, corrections, unreachable guardians, idempotency, reply scope, leave requests
and decisions."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bot.core.scope import load_actor
from bot.core.settings import Settings
from bot.families import leave as lv
from bot.families.replies import ReplyStatus, record_reply
from bot.notices.absence import GuardianReach, RollCallChanges, notify_guardians
from bot.notices.outbox import Delivery
from bot.tick import run_tick
from storage.models import (
    Absence,
    AbsenceReason,
    AbsenceReply,
    AuditEvent,
    ContactPoint,
    LeaveRequest,
    LeaveStatus,
    OutboxMessage,
    Person,
    Role,
    RollCall,
    StaffRole,
    Student,
    Term,
)
from tests.seed import World, link, seed_world

TODAY = date(2026, 9, 7)  # the clock's day (Monday)


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture
async def world(sessions, clock) -> World:
    async with sessions() as session, session.begin():
        world = await seed_world(session, clock.now())
        await link(session, world.teacher, 1001, clock.now())
        await link(session, world.father_li, 2001, clock.now())
        await link(session, world.grandma_zhang, 2002, clock.now())
        return world


async def roll_call_of(session, world: World, day: date) -> RollCall:
    existing = await session.scalar(select(RollCall).where(RollCall.class_id == world.school_class.id,
                                                           RollCall.day == day))
    if existing is not None:
        return existing
    roll_call = RollCall(class_id=world.school_class.id, day=day, opened_by=world.teacher.id,
                         submitted_by=world.teacher.id, revision=1)
    session.add(roll_call)
    await session.flush()
    return roll_call


async def absent(session, clock, world: World, student: Student, reason: str, day: date = TODAY) -> Absence:
    roll_call = await roll_call_of(session, world, day)
    absence = Absence(student_id=student.id, roll_call_id=roll_call.id, day=day, reason=reason,
                      excused=reason == AbsenceReason.APPROVED_LEAVE, recorded_by=world.teacher.id,
                      recorded_at=clock.now())
    session.add(absence)
    await session.flush()
    return absence


async def submit(sessions, clock, settings, world: World, reasons: dict[str, str], day: date = TODAY
                 ) -> tuple[list[GuardianReach], dict[str, int]]:
    """A first submission: these students (by attribute name on World) absent with these reasons."""
    async with sessions() as session, session.begin():
        rows = {name: await absent(session, clock, world, getattr(world, name), reason, day)
                for name, reason in reasons.items()}
        roll_call = await roll_call_of(session, world, day)
        reaches = await notify_guardians(session, settings, clock.now(), roll_call,
                                         RollCallChanges(new=list(rows.values())))
        return reaches, {name: row.id for name, row in rows.items()}


async def correct(sessions, clock, settings, world: World, withdraw=(), reasons: dict[int, str] | None = None,
                  day: date = TODAY) -> list[GuardianReach]:
    """A correction: bump the revision, withdraw these absence ids, change these reasons."""
    async with sessions() as session, session.begin():
        roll_call = await roll_call_of(session, world, day)
        roll_call.revision += 1
        changes = RollCallChanges()
        for absence_id in withdraw:
            row = await session.get(Absence, absence_id)
            row.withdrawn_at = clock.now()
            changes.withdrawn.append(row)
        for absence_id, reason in (reasons or {}).items():
            row = await session.get(Absence, absence_id)
            row.reason = reason
            changes.reason_changed.append(row)
        return await notify_guardians(session, settings, clock.now(), roll_call, changes)


async def outbox(sessions, template: str | None = None, person: Person | None = None) -> list[OutboxMessage]:
    async with sessions() as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if template:
            stmt = stmt.where(OutboxMessage.template == template)
        if person:
            stmt = stmt.where(OutboxMessage.person_id == person.id)
        return list(await session.scalars(stmt))


def labels(message: OutboxMessage) -> list[str]:
    return [button["label"] for row in message.actions for button in row]


def reach_set(reaches: list[GuardianReach]) -> set[tuple[int, str, Delivery]]:
    return {(r.student_id, r.guardian.name, r.delivery) for r in reaches}


# --- notices ------------------------------------------------------------------------------------------------------


async def test_siblings_absent_the_same_day_get_one_notice_naming_both(sessions, clock, settings, world):
    reaches, ids = await submit(sessions, clock, settings, world,
                                {"li_ming": AbsenceReason.UNEXPLAINED, "li_hua": AbsenceReason.UNKNOWN})
    notices = await outbox(sessions, "absence_notice")
    assert len(notices) == 1
    notice = notices[0]
    assert notice.person_id == world.father_li.id and notice.locale == "zh_Hans"
    assert "李明" in notice.text and "李华" in notice.text and "请先点孩子的名字" in notice.text
    # the child first, then the answer: one button per child, ids only in the data
    assert labels(notice) == ["👉 李华", "👉 李明"]
    assert {(b["action"], b["ref"]) for row in notice.actions for b in row} == {
        ("pick", ids["li_ming"]), ("pick", ids["li_hua"])}
    assert reach_set(reaches) == {(world.li_ming.id, "李建国", Delivery.QUEUED),
                                  (world.li_hua.id, "李建国", Delivery.QUEUED)}
    assert "学籍号" not in notice.text and "1390000" not in notice.text


async def test_unexplained_asks_for_a_reply_sick_informs_approved_leave_is_silent(sessions, clock, settings, world):
    await submit(sessions, clock, settings, world,
                 {"li_ming": AbsenceReason.UNEXPLAINED, "zhang_xiaohong": AbsenceReason.SICK})
    to_father = (await outbox(sessions, "absence_notice", world.father_li))[0]
    assert labels(to_father) == ["生病", "家里有事", "明天返校", "请老师联系我", "其他"]
    assert [b["value"] for row in to_father.actions for b in row] == [
        "sick", "family", "back_tomorrow", "call_me", "other"]
    assert "没有请假" in to_father.text and "请点下面的按钮" in to_father.text
    to_grandma = (await outbox(sessions, "absence_notice", world.grandma_zhang))[0]
    assert to_grandma.actions == [] and "病假" in to_grandma.text and "不需要回复" in to_grandma.text

    reaches, _ = await submit(sessions, clock, settings, world, {"li_hua": AbsenceReason.APPROVED_LEAVE},
                              day=TODAY + timedelta(days=1))
    assert reaches == []
    assert len(await outbox(sessions, "absence_notice")) == 2


async def test_notices_state_the_running_totals_of_the_month_and_the_term(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        session.add(Term(county_id=world.township.county_id, name="2026年秋季学期", start_date=date(2026, 9, 1),
                         end_date=date(2027, 1, 22)))
        for day in (date(2026, 9, 28), date(2026, 9, 29), date(2026, 10, 9)):
            await absent(session, clock, world, world.li_ming, AbsenceReason.SICK, day)
        withdrawn = await absent(session, clock, world, world.li_ming, AbsenceReason.SICK, date(2026, 10, 8))
        withdrawn.withdrawn_at = clock.now()
        await absent(session, clock, world, world.li_ming, AbsenceReason.SICK, date(2025, 10, 8))  # last year
    await submit(sessions, clock, settings, world, {"li_ming": AbsenceReason.UNEXPLAINED}, day=date(2026, 10, 12))
    text = (await outbox(sessions, "absence_notice"))[0].text
    assert "本月累计缺课 2 天" in text and "本学期累计 4 天" in text
    assert "每天上课都很重要" in text and "王丽老师" in text  # supportive, and whom to tell


async def test_without_a_term_only_the_month_is_counted(sessions, clock, settings, world):
    await submit(sessions, clock, settings, world, {"zhang_xiaohong": AbsenceReason.SICK})
    text = (await outbox(sessions, "absence_notice", world.grandma_zhang))[0].text
    assert "本月累计缺课 1 天" in text and "本学期" not in text


async def test_a_guardian_reads_the_notice_in_their_language_and_names_are_escaped(sessions, clock, settings,
                                                                                   world):
    async with sessions() as session, session.begin():
        (await session.get(Person, world.father_li.id)).locale = "en"
        (await session.get(Student, world.li_ming.id)).name = "<b>小明</b> & Co"
    await submit(sessions, clock, settings, world, {"li_ming": AbsenceReason.UNKNOWN})
    notice = (await outbox(sessions, "absence_notice"))[0]
    assert notice.locale == "en" and "was not at school" in notice.text
    assert "&lt;b&gt;小明&lt;/b&gt; &amp; Co" in notice.text and "<b>小明</b>" not in notice.text
    assert labels(notice) == ["Sick", "Family matter", "Back tomorrow", "Please call me", "Other"]
    assert "missed 1 day this month" in notice.text


async def test_unlinked_and_blocked_guardians_are_reported_for_the_teacher(sessions, clock, settings, world):
    reaches, _ = await submit(sessions, clock, settings, world, {"zhang_xiaohong": AbsenceReason.UNEXPLAINED})
    assert reach_set(reaches) == {(world.zhang_xiaohong.id, "张奶奶", Delivery.QUEUED),
                                  (world.zhang_xiaohong.id, "张伟", Delivery.NOT_LINKED)}
    async with sessions() as session, session.begin():
        contact = await session.scalar(select(ContactPoint).where(ContactPoint.person_id == world.father_li.id))
        contact.reachable = False
    reaches, _ = await submit(sessions, clock, settings, world, {"li_ming": AbsenceReason.UNEXPLAINED},
                              day=TODAY + timedelta(days=1))
    assert reach_set(reaches) == {(world.li_ming.id, "李建国", Delivery.UNREACHABLE)}


async def test_a_second_submission_without_changes_sends_nothing_new(sessions, clock, settings, world):
    _, ids = await submit(sessions, clock, settings, world,
                          {"li_ming": AbsenceReason.UNEXPLAINED, "zhang_xiaohong": AbsenceReason.SICK})
    before = len(await outbox(sessions))
    async with sessions() as session, session.begin():
        roll_call = await roll_call_of(session, world, TODAY)
        rows = [await session.get(Absence, i) for i in ids.values()]
        # the same revision again (a retried submission), then a new revision that lists them again: only the
        # guardian who still cannot be reached is reported again
        still_unlinked = {(world.zhang_xiaohong.id, "张伟", Delivery.NOT_LINKED)}
        again = await notify_guardians(session, settings, clock.now(), roll_call, RollCallChanges(new=rows))
        assert reach_set(again) == still_unlinked
        roll_call.revision += 1
        again = await notify_guardians(session, settings, clock.now(), roll_call, RollCallChanges(new=rows))
        assert reach_set(again) == still_unlinked
        assert await notify_guardians(session, settings, clock.now(), roll_call, RollCallChanges()) == []
    assert len(await outbox(sessions)) == before


async def test_a_correction_reaches_only_guardians_who_were_told(sessions, clock, settings, world):
    _, ids = await submit(sessions, clock, settings, world,
                          {"li_ming": AbsenceReason.UNEXPLAINED, "zhang_xiaohong": AbsenceReason.SICK})
    async with sessions() as session, session.begin():  # 张伟 links after the first notices went out
        await link(session, world.father_zhang, 2003, clock.now())

    reaches = await correct(sessions, clock, settings, world, withdraw=[ids["li_ming"]],
                            reasons={ids["zhang_xiaohong"]: AbsenceReason.UNEXPLAINED})
    fixes = await outbox(sessions, "absence_correction")
    assert [m.person_id for m in fixes] == [world.father_li.id, world.grandma_zhang.id]
    to_father, to_grandma = fixes
    assert "李明" in to_father.text and "当天在校" in to_father.text and to_father.actions == []
    assert "没有请假" in to_grandma.text and labels(to_grandma)[0] == "生病"  # now asks for a reply
    # 张伟 was never told: he gets the notice itself (asking), not a correction
    to_zhang_wei = await outbox(sessions, "absence_notice", world.father_zhang)
    assert len(to_zhang_wei) == 1 and labels(to_zhang_wei[0])[0] == "生病"
    assert reach_set(reaches) == {(world.li_ming.id, "李建国", Delivery.QUEUED),
                                  (world.zhang_xiaohong.id, "张奶奶", Delivery.QUEUED),
                                  (world.zhang_xiaohong.id, "张伟", Delivery.QUEUED)}
    assert len(await outbox(sessions, "absence_notice")) == 3  # no repeat of the first notices

    # the same correction submitted again: nothing new
    count = len(await outbox(sessions))
    assert await correct(sessions, clock, settings, world, reasons={ids["zhang_xiaohong"]:
                                                                    AbsenceReason.UNEXPLAINED}) == []
    assert len(await outbox(sessions)) == count


async def test_an_absence_marked_again_after_a_withdrawal_is_announced_again(sessions, clock, settings, world):
    _, ids = await submit(sessions, clock, settings, world, {"li_ming": AbsenceReason.UNEXPLAINED})
    await correct(sessions, clock, settings, world, withdraw=[ids["li_ming"]])
    async with sessions() as session, session.begin():
        roll_call = await roll_call_of(session, world, TODAY)
        roll_call.revision += 1
        row = await session.get(Absence, ids["li_ming"])
        row.withdrawn_at = None
        await notify_guardians(session, settings, clock.now(), roll_call, RollCallChanges(new=[row]))
    assert [m.template for m in await outbox(sessions, person=world.father_li)] == [
        "absence_notice", "absence_correction", "absence_notice"]


async def test_a_change_to_approved_leave_tells_the_guardian_no_reply_is_needed(sessions, clock, settings, world):
    _, ids = await submit(sessions, clock, settings, world, {"li_ming": AbsenceReason.UNEXPLAINED})
    await correct(sessions, clock, settings, world, reasons={ids["li_ming"]: AbsenceReason.APPROVED_LEAVE})
    fix = (await outbox(sessions, "absence_correction"))[0]
    assert "已批准的请假" in fix.text and fix.actions == []


# --- replies ------------------------------------------------------------------------------------------------------


async def reply(sessions, clock, settings, person, absence_id, answer, text=None):
    async with sessions() as session, session.begin():
        actor = await load_actor(session, person)
        return await record_reply(session, settings, clock.now(), actor, absence_id, answer, text)


async def test_a_reply_is_stored_audited_and_forwarded_and_can_be_changed(sessions, clock, settings, world):
    _, ids = await submit(sessions, clock, settings, world, {"li_ming": AbsenceReason.UNEXPLAINED})
    result = await reply(sessions, clock, settings, world.father_li, ids["li_ming"], "sick")
    assert result.status is ReplyStatus.RECORDED and result.teacher_reached
    again = await reply(sessions, clock, settings, world.father_li, ids["li_ming"], "sick")
    assert again.status is ReplyStatus.UNCHANGED and again.forwarded == []
    clock.advance(timedelta(hours=30))  # late, and changed
    changed = await reply(sessions, clock, settings, world.father_li, ids["li_ming"], "other", "  <去外婆家> & 回来  ")
    assert changed.status is ReplyStatus.RECORDED and changed.previous.answer == "sick"
    async with sessions() as session:
        replies = list(await session.scalars(select(AbsenceReply).order_by(AbsenceReply.id)))
        events = list(await session.scalars(select(AuditEvent).where(AuditEvent.action == "absence.reply")))
    assert [(r.answer, r.text) for r in replies] == [("sick", None), ("other", "<去外婆家> & 回来")]
    assert len(events) == 2 and events[0].actor_person_id == world.father_li.id
    assert "去外婆家" not in str(events[0].details)  # ids, not words
    forwarded = await outbox(sessions, "guardian_reply")
    assert [m.person_id for m in forwarded] == [world.teacher.id, world.teacher.id]
    assert "李建国（父亲）回复" in forwarded[0].text and "<b>生病</b>" in forwarded[0].text
    assert "更改了回复" in forwarded[1].text and "&lt;去外婆家&gt; &amp; 回来" in forwarded[1].text
    assert "之前的回复：生病" in forwarded[1].text


async def test_a_reply_is_refused_outside_the_guardians_scope(sessions, clock, settings, world):
    _, ids = await submit(sessions, clock, settings, world, {"li_ming": AbsenceReason.UNEXPLAINED})
    for outsider in (world.grandma_zhang, world.teacher, world.township_officer):
        result = await reply(sessions, clock, settings, outsider, ids["li_ming"], "sick")
        assert result.status is ReplyStatus.FORBIDDEN and result.absence is None
    assert (await reply(sessions, clock, settings, world.father_li, 999_999, "sick")).status is ReplyStatus.FORBIDDEN
    bad = [("maybe", None), ("other", None), ("other", "   "), ("other", "长" * 501)]
    for answer, text in bad:
        result = await reply(sessions, clock, settings, world.father_li, ids["li_ming"], answer, text)
        assert result.status is ReplyStatus.INVALID
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AbsenceReply)) == 0
    assert await outbox(sessions, "guardian_reply") == []


async def test_a_reply_to_a_withdrawn_absence_is_stale(sessions, clock, settings, world):
    _, ids = await submit(sessions, clock, settings, world, {"li_ming": AbsenceReason.UNEXPLAINED})
    await correct(sessions, clock, settings, world, withdraw=[ids["li_ming"]])
    result = await reply(sessions, clock, settings, world.father_li, ids["li_ming"], "sick")
    assert result.status is ReplyStatus.STALE and result.student.name == "李明"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AbsenceReply)) == 0


# --- leave --------------------------------------------------------------------------------------------------------


async def ask(sessions, clock, settings, person, student, first, last, reason="sick", note=None):
    async with sessions() as session, session.begin():
        actor = await load_actor(session, person)
        return await lv.request_leave(session, settings, clock.now(), actor, student.id, first, last, reason, note)


async def decide(sessions, clock, settings, person, leave_id, approve=True):
    async with sessions() as session, session.begin():
        actor = await load_actor(session, person)
        return await lv.decide_leave(session, settings, clock.now(), actor, leave_id, approve)


async def test_a_leave_request_is_validated(sessions, clock, settings, world):
    tomorrow = TODAY + timedelta(days=1)
    cases = [
        (world.grandma_zhang, world.li_ming, tomorrow, tomorrow, "sick", None, lv.LeaveProblem.FORBIDDEN),
        (world.teacher, world.li_ming, tomorrow, tomorrow, "sick", None, lv.LeaveProblem.FORBIDDEN),
        (world.father_li, world.li_ming, tomorrow, TODAY, "sick", None, lv.LeaveProblem.BAD_RANGE),
        (world.father_li, world.li_ming, TODAY - timedelta(days=1), TODAY, "sick", None, lv.LeaveProblem.IN_PAST),
        (world.father_li, world.li_ming, TODAY, TODAY + timedelta(days=30), "sick", None, lv.LeaveProblem.TOO_LONG),
        (world.father_li, world.li_ming, TODAY, TODAY, "unexplained", None, lv.LeaveProblem.BAD_REASON),
        (world.father_li, world.li_ming, TODAY, TODAY, "sick", "长" * 501, lv.LeaveProblem.NOTE_TOO_LONG),
    ]
    for person, student, first, last, reason, note, problem in cases:
        result = await ask(sessions, clock, settings, person, student, first, last, reason, note)
        assert result.problem is problem, (first, last, reason)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LeaveRequest)) == 0

    ok = await ask(sessions, clock, settings, world.father_li, world.li_ming, TODAY, TODAY + timedelta(days=2),
                   "personal", "  回老家 <奔丧>  ")
    assert ok.ok and ok.leave.status == LeaveStatus.PENDING and ok.leave.note == "回老家 <奔丧>"
    assert [(p.name, d) for p, d in ok.teachers] == [("王丽", Delivery.QUEUED)]
    overlap = await ask(sessions, clock, settings, world.father_li, world.li_ming, tomorrow, tomorrow)
    assert overlap.problem is lv.LeaveProblem.OVERLAP and overlap.existing.id == ok.leave.id
    assert (await ask(sessions, clock, settings, world.father_li, world.li_hua, tomorrow, tomorrow)).ok  # sibling

    request = (await outbox(sessions, "leave_request"))[0]
    assert request.person_id == world.teacher.id and labels(request) == ["批准", "不批准"]
    assert [(b["action"], b["ref"], b["value"]) for row in request.actions for b in row] == [
        ("leave", ok.leave.id, "yes"), ("leave", ok.leave.id, "no")]
    assert "李明" in request.text and "事假" in request.text and "&lt;奔丧&gt;" in request.text


async def test_leave_longer_than_a_teacher_may_approve_goes_to_the_school_officer(sessions, clock, settings,
                                                                                     world):
    async with sessions() as session, session.begin():
        await link(session, world.officer, 1002, clock.now())
    # Monday to the next Monday: six school days, over the default five
    long = await ask(sessions, clock, settings, world.father_li, world.li_ming, TODAY, TODAY + timedelta(days=7))
    assert long.ok and long.teachers == [] and [p.id for p, _ in long.school] == [world.officer.id]
    [request] = await outbox(sessions, "leave_request")
    assert request.person_id == world.officer.id and "超过 5 个上学日" in request.text
    refused = await decide(sessions, clock, settings, world.teacher, long.leave.id)
    assert refused.status is lv.DecisionStatus.NEEDS_OFFICER and refused.leave.status == LeaveStatus.PENDING
    assert (await decide(sessions, clock, settings, world.officer, long.leave.id)).ok
    [told] = await outbox(sessions, "leave_decided_by_school")  # the class teacher learns what the school decided
    assert told.person_id == world.teacher.id and not told.actions
    assert "学校已批准请假：李明（三年级1班）" in told.text and "由赵强决定" in told.text
    assert "这几天点名时孩子会显示为请假" in told.text
    # five school days: the class teacher decides, and is not told of their own decision
    short = await ask(sessions, clock, settings, world.father_li, world.li_hua, TODAY, TODAY + timedelta(days=4))
    assert [p.id for p, _ in short.teachers] == [world.teacher.id]
    assert (await decide(sessions, clock, settings, world.teacher, short.leave.id)).ok
    assert len(await outbox(sessions, "leave_decided_by_school")) == 1


async def test_a_request_that_reached_nobody_reaches_the_officer_who_joins_later(sessions, clock, settings, world):
    # six school days, over the teacher's limit: only the school officer decides, and they are not in the bot yet
    long = await ask(sessions, clock, settings, world.father_li, world.li_ming, TODAY, TODAY + timedelta(days=7))
    assert long.ok and not long.school_reached and await outbox(sessions, "leave_request") == []
    assert (await run_tick(sessions, settings, clock.now())).leave_requests_asked_again == 0  # still nobody
    async with sessions() as session, session.begin():
        await link(session, world.officer, 1002, clock.now())
    assert (await run_tick(sessions, settings, clock.now())).leave_requests_asked_again == 1
    [request] = await outbox(sessions, "leave_request")
    assert request.person_id == world.officer.id and "超过 5 个上学日" in request.text and labels(request)
    assert (await run_tick(sessions, settings, clock.now())).leave_requests_asked_again == 0  # asked once
    assert len(await outbox(sessions, "leave_request")) == 1


async def test_only_the_class_teacher_or_a_school_admin_decides_and_only_once(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        other_teacher = Person(name="周老师", phone="13900000401", created_at=clock.now(), updated_at=clock.now())
        session.add(other_teacher)
        await session.flush()
        session.add(StaffRole(person_id=other_teacher.id, role=Role.CLASS_TEACHER, class_id=world.other_class.id))
    leave = (await ask(sessions, clock, settings, world.father_li, world.li_ming, TODAY,
                       TODAY + timedelta(days=1))).leave
    for outsider in (other_teacher, world.father_li, world.grandma_zhang, world.township_officer):
        assert (await decide(sessions, clock, settings, outsider, leave.id)).status is lv.DecisionStatus.FORBIDDEN
    assert (await decide(sessions, clock, settings, world.teacher, 999_999)).status is lv.DecisionStatus.NOT_FOUND

    decided = await decide(sessions, clock, settings, world.teacher, leave.id, approve=False)
    assert decided.ok and decided.leave.status == LeaveStatus.DECLINED and decided.leave.decided_by == world.teacher.id
    assert decided.guardian_delivery is Delivery.QUEUED
    stale = await decide(sessions, clock, settings, world.officer, leave.id, approve=True)
    assert stale.status is lv.DecisionStatus.STALE and stale.decided_by.name == "王丽"
    assert stale.leave.status == LeaveStatus.DECLINED
    notice = (await outbox(sessions, "leave_decision"))
    assert len(notice) == 1 and notice[0].person_id == world.father_li.id and "没有批准" in notice[0].text

    # the school's officer may decide too
    other = (await ask(sessions, clock, settings, world.father_li, world.li_hua, TODAY, TODAY)).leave
    assert (await decide(sessions, clock, settings, world.officer, other.id)).ok


async def test_approval_excuses_absences_already_recorded_and_feeds_the_roll_call(sessions, clock, settings, world):
    _, ids = await submit(sessions, clock, settings, world, {"zhang_xiaohong": AbsenceReason.UNEXPLAINED})
    leave = (await ask(sessions, clock, settings, world.grandma_zhang, world.zhang_xiaohong, TODAY,
                       TODAY + timedelta(days=2), "sick", "发烧")).leave
    result = await decide(sessions, clock, settings, world.teacher, leave.id)
    assert result.ok and [a.id for a in result.excused] == [ids["zhang_xiaohong"]]
    async with sessions() as session:
        absence = await session.get(Absence, ids["zhang_xiaohong"])
        assert absence.reason == AbsenceReason.APPROVED_LEAVE and absence.excused
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "absence.excused_by_leave"))
        assert event.details["previous_reason"] == "unexplained" and event.entity_id == absence.id
        for day, covered in ((TODAY, True), (TODAY + timedelta(days=2), True), (TODAY + timedelta(days=3), False)):
            found = await lv.approved_leave(session, [world.zhang_xiaohong.id, world.li_ming.id], day)
            assert (world.zhang_xiaohong.id in found) is covered and world.li_ming.id not in found
    decision = (await outbox(sessions, "leave_decision"))[0]
    assert decision.person_id == world.grandma_zhang.id and "请假已批准" in decision.text
    assert "9月7日已记录的缺课改为请假" in decision.text


async def test_two_teachers_deciding_at_once_decide_once(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        second = Person(name="周老师", phone="13900000401", created_at=clock.now(), updated_at=clock.now())
        session.add(second)
        await session.flush()
        session.add(StaffRole(person_id=second.id, role=Role.CLASS_TEACHER, class_id=world.school_class.id))
    leave = (await ask(sessions, clock, settings, world.father_li, world.li_ming, TODAY, TODAY)).leave
    results = await asyncio.gather(decide(sessions, clock, settings, world.teacher, leave.id, True),
                                   decide(sessions, clock, settings, second, leave.id, False))
    assert sorted(r.status for r in results) == [lv.DecisionStatus.DECIDED, lv.DecisionStatus.STALE]
    assert len(await outbox(sessions, "leave_decision")) == 1


async def test_leave_length_counts_school_days(sessions, clock, world):
    async with sessions() as session:
        friday = date(2026, 9, 11)
        assert await lv.leave_last_day(session, world.li_ming.id, friday, 1) == friday
        assert await lv.leave_last_day(session, world.li_ming.id, friday, 2) == date(2026, 9, 14)  # over the weekend
