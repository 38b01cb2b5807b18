"""The teacher's roll call end to end: 王丽 taps through the real bot over the fake Bot API server. Taps are counted
explicitly (menu presses and inline taps); every tap on the roll call edits the one message."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, event, func, select

from bot.app import App
from bot.fakeapi import FakeUser
from handlers.teacher.view import AllPresent, ReturnDay, Tap
from storage.models import Absence, AuditEvent, Guardianship, Person, Role, RollCall, StaffRole, Student
from tests.flows.harness import running
from tests.seed import link

TEACHER_ID = 101
MENU = "📋 点名"


class Thumb:
    """The teacher's thumb: presses and taps, counted."""

    def __init__(self, user: FakeUser) -> None:
        self.user = user
        self.taps = 0

    async def press(self, label: str):
        self.taps += 1
        return await self.user.press(label)

    async def tap(self, label: str):
        self.taps += 1
        return await self.user.tap(label)


@pytest.fixture
async def teacher(app, telegram, world, clock) -> FakeUser:
    """王丽, linked, with the roll-call menu on her keyboard (as the greeting shows it)."""
    telegram.set_rate_limits(per_chat_rate=1000, per_chat_burst=1000)  # a test taps faster than a thumb
    async with app.sessions() as session, session.begin():
        await link(session, world.teacher, TEACHER_ID, clock.now())
    user = telegram.user(TEACHER_ID, "丽")
    await user.start()
    assert MENU in user.keyboard()  # the greeting puts the roll call on her keyboard
    return user


async def roll_call(app) -> RollCall | None:
    async with app.sessions() as session:
        return await session.scalar(select(RollCall))


async def absences(app) -> list[Absence]:
    async with app.sessions() as session:
        return list(await session.scalars(select(Absence).order_by(Absence.id)))


def sends_and_edits(telegram) -> tuple[int, int]:
    return telegram.stats.calls["sendMessage"], telegram.stats.calls["editMessageText"]


async def test_all_present_takes_two_taps(app, telegram, teacher, world):
    thumb = Thumb(teacher)
    sent, edited = sends_and_edits(telegram)
    [keyboard] = await thumb.press(MENU)
    assert "三年级1班" in keyboard.text and "到校 3/3" in keyboard.text
    assert keyboard.buttons() == ["✅ 李明", "✅ 李华", "✅ 张小红", "全部到校", "提交"]
    [summary] = await thumb.tap("全部到校")
    assert thumb.taps == 2
    assert summary.message_id == keyboard.message_id
    assert "点名已记录" in summary.text and "无人缺勤" in summary.text
    assert sends_and_edits(telegram) == (sent + 1, edited + 1)
    stored = await roll_call(app)
    assert stored.submitted_at is not None and stored.revision == 1 and stored.submitted_by == world.teacher.id
    assert await absences(app) == []

    await teacher.tap_data(AllPresent(r=stored.id, v=0).pack(), keyboard.message_id)  # a late double tap
    assert "已经提交" in teacher.callback_answers[-1]
    assert "✏️ 修改" in teacher.last().buttons()
    assert (await roll_call(app)).revision == 1


async def test_one_absent_with_a_reason_in_four_taps(app, telegram, teacher, world):
    thumb = Thumb(teacher)
    sent, edited = sends_and_edits(telegram)
    [keyboard] = await thumb.press(MENU)
    [marked] = await thumb.tap("✅ 李明")
    assert "❌ 李明" in marked.buttons() and "李明：原因待选" in marked.text
    [ask] = await thumb.tap("提交")
    assert "李明" in ask.text and ask.buttons() == ["病假", "事假", "无故缺勤", "原因不明", "◀ 返回"]
    [summary] = await thumb.tap("病假")
    assert thumb.taps == 4
    assert {marked.message_id, ask.message_id, summary.message_id} == {keyboard.message_id}
    assert sends_and_edits(telegram) == (sent + 1, edited + 3)
    assert "点名已记录" in summary.text and "到校 2/3" in summary.text and "李明：病假" in summary.text
    [absence] = await absences(app)
    assert (absence.student_id, absence.reason, absence.excused) == (world.li_ming.id, "sick", False)
    assert absence.day == date(2026, 9, 7) and absence.recorded_by == world.teacher.id
    # 李明's father has not linked his account: the teacher is asked to phone him, with the number left in the
    # class roster (messages cross the border: they carry no one's phone number)
    assert "请打电话" in summary.text and "• 李建国（李明）" in summary.text and "13900001001" not in summary.text


async def test_every_toggle_edits_the_same_message(app, telegram, teacher):
    [keyboard] = await teacher.press(MENU)
    sent, edited = sends_and_edits(telegram)
    for label in ("✅ 李明", "✅ 李华", "❌ 李明", "✅ 张小红"):
        [record] = await teacher.tap(label)
        assert record.message_id == keyboard.message_id
    assert sends_and_edits(telegram) == (sent, edited + 4)
    assert [h.text.splitlines()[1] for h in keyboard.history] == [
        "到校 3/3 · 缺勤 0", "到校 2/3 · 缺勤 1", "到校 1/3 · 缺勤 2", "到校 2/3 · 缺勤 1"]
    assert teacher.last().buttons()[:3] == ["✅ 李明", "❌ 李华", "❌ 张小红"]
    assert all(answer is None for answer in teacher.callback_answers)  # every tap answered, silently


async def test_a_class_of_45_is_paginated_and_page_two_can_be_marked(app, telegram, teacher, world, clock):
    async with app.sessions() as session, session.begin():
        session.add_all([Student(class_id=world.school_class.id, name=f"学生{n:02d}", created_at=clock.now(),
                                 updated_at=clock.now()) for n in range(4, 46)])
    thumb = Thumb(teacher)
    [first] = await thumb.press(MENU)
    names = [label for label in first.buttons() if label.startswith("✅")]
    assert len(names) == 23 and "第 1/2 页" in first.text and "▶" in first.buttons()
    assert "✅ 学生40" not in first.buttons()
    await thumb.tap("▶")
    assert "第 2/2 页" in teacher.last().text and "✅ 学生40" in teacher.last().buttons()
    assert "◀" in teacher.last().buttons()
    await thumb.tap("✅ 学生40")
    await thumb.tap("提交")
    [summary] = await thumb.tap("事假")
    assert thumb.taps == 5 and summary.message_id == first.message_id
    assert "到校 44/45" in summary.text and "学生40：事假" in summary.text
    [absence] = await absences(app)
    async with app.sessions() as session:
        assert (await session.get(Student, absence.student_id)).name == "学生40"


async def test_reopen_and_correct(app, telegram, teacher, world):
    await teacher.press(MENU)
    await teacher.tap("✅ 李明")
    await teacher.tap("提交")
    await teacher.tap("无故缺勤")
    thumb = Thumb(teacher)
    [reopened] = await thumb.tap("✏️ 修改")
    assert "正在修改" in reopened.text and "❌ 李明" in reopened.buttons()
    await thumb.tap("❌ 李明")
    [summary] = await thumb.tap("提交")
    assert thumb.taps == 3
    assert "更正已记录" in summary.text and "改为到校：李明" in summary.text and "无人缺勤" in summary.text
    [absence] = await absences(app)
    assert absence.withdrawn_at is not None
    async with app.sessions() as session:
        actions = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "roll_call")))
        corrected = await session.scalar(select(AuditEvent).where(AuditEvent.action == "roll_call.corrected"))
    assert actions == ["roll_call.opened", "roll_call.submitted", "roll_call.reopened", "roll_call.corrected"]
    assert corrected.details["withdrawn_ids"] == [world.li_ming.id]
    assert (await roll_call(app)).revision == 2


async def test_linked_guardians_are_told_and_unlinked_ones_are_listed_to_call(app, telegram, teacher, world, clock):
    async with app.sessions() as session, session.begin():
        await link(session, world.grandma_zhang, 301, clock.now())
    grandma = telegram.user(301, "奶奶")
    await grandma.send("/start")
    await teacher.press(MENU)
    await teacher.tap("✅ 张小红")
    await teacher.tap("提交")
    [summary] = await teacher.tap("原因不明")
    assert "将通知的家长：\n• 张奶奶（张小红）" in summary.text
    assert "请打电话" in summary.text and "• 张伟（张小红）" in summary.text and "13900001004" not in summary.text
    assert "张奶奶（张小红）：" not in summary.text
    await app.sender.drain()
    assert "张小红" in grandma.last().text


async def test_a_child_with_no_guardian_on_file_is_named_for_a_phone_call_or_visit(app, teacher, world):
    async with app.sessions() as session, session.begin():
        await session.execute(delete(Guardianship).where(Guardianship.student_id == world.li_ming.id))
    await teacher.press(MENU)
    await teacher.tap("✅ 李明")
    await teacher.tap("提交")
    [summary] = await teacher.tap("无故缺勤")
    assert "📞 以下学生没有登记监护人，请电话联系或家访：李明" in summary.text
    assert "• 李建国（李明）" not in summary.text


async def test_a_forged_callback_from_another_teacher_changes_nothing(app, telegram, teacher, world, clock):
    async with app.sessions() as session, session.begin():
        other = Person(name="周老师", phone="13900000401", created_at=clock.now(), updated_at=clock.now())
        session.add(other)
        await session.flush()
        session.add(StaffRole(person_id=other.id, role=Role.CLASS_TEACHER, class_id=world.other_class.id))
        await link(session, other, 202, clock.now())
        stranger = Student(class_id=world.other_class.id, name="外班生", created_at=clock.now(), updated_at=clock.now())
        session.add(stranger)
    [keyboard] = await teacher.press(MENU)
    rc_id = (await roll_call(app)).id
    zhou = telegram.user(202, "周")
    [greeting] = await zhou.start()
    await zhou.tap_data(Tap(r=rc_id, s=world.li_ming.id, a=1, v=0).pack(), greeting.message_id)
    await zhou.tap_data(AllPresent(r=rc_id, v=0).pack(), greeting.message_id)
    assert zhou.callback_answers == ["你不能查看或修改这次点名。"] * 2
    await teacher.tap_data(Tap(r=rc_id, s=stranger.id, a=1, v=0).pack(), keyboard.message_id)
    assert teacher.callback_answers[-1] == "这名学生不在本班点名名单上。"
    stored = await roll_call(app)
    assert stored.draft["absent"] == {} and stored.submitted_at is None
    assert await absences(app) == []
    assert not keyboard.edited and not greeting.edited


async def test_yesterdays_keyboard_is_refused(app, telegram, teacher, clock):
    [keyboard] = await teacher.press(MENU)
    clock.advance(timedelta(days=1))
    sent, edited = sends_and_edits(telegram)
    await teacher.tap("✅ 李明", keyboard)
    assert "已经过期" in teacher.callback_answers[-1] and "9月7日" in teacher.callback_answers[-1]
    assert sends_and_edits(telegram) == (sent, edited)
    async with app.sessions() as session:
        [stored] = list(await session.scalars(select(RollCall)))
    assert stored.day == date(2026, 9, 7) and stored.draft["absent"] == {}


@pytest.mark.parametrize("when", ["2026-09-12T08:00:00+08:00", "2026-10-01T08:00:00+08:00"])
async def test_no_roll_call_on_a_day_without_school(app, telegram, teacher, clock, when):
    clock.set(datetime.fromisoformat(when))
    [reply] = await teacher.press(MENU)
    assert "不是上学日" in reply.text and reply.buttons() == []
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(RollCall)) == 0


async def test_roll_command_and_reminder_button_open_the_roll_call(app, telegram, teacher, world, clock):
    [by_command] = await teacher.send("/roll")
    assert "✅ 李明" in by_command.buttons()
    clock.set(datetime.fromisoformat("2026-09-07T10:00:00+08:00"))
    from bot.tick import run_tick

    assert (await run_tick(app.sessions, app.settings, clock.now())).rollcall_reminders == 1
    await app.sender.drain()
    reminder = teacher.last()
    assert "还没点名" in reminder.text and reminder.buttons() == [MENU]
    [opened] = await teacher.tap(MENU, reminder)
    assert opened.message_id != reminder.message_id and "✅ 李明" in opened.buttons()


async def test_only_class_teachers_and_officers_open_the_roll_call(app, telegram, world, clock):
    """The menu's 「📋 点名」 and /roll from a guardian: the roll call is for class teachers; from an account nobody
    linked: how to link. No roll call is opened."""
    telegram.set_rate_limits(per_chat_rate=1000, per_chat_burst=1000)
    async with app.sessions() as session, session.begin():
        await link(session, world.father_li, 201, clock.now())
    father, stranger = telegram.user(201, "建国"), telegram.user(999, "路人")
    for user in (father, stranger):
        user.state.started = True
    for text in (MENU, "/roll"):
        [refused] = await father.send(text)
        assert refused.text == "点名只供班主任使用。"
        [unlinked] = await stranger.send(text)
        assert "您的账号还没有绑定" in unlinked.text and "📱 用手机号登录" in unlinked.text
    assert await roll_call(app) is None


# --- the working copy: taps on names need no database, and a restart never records lost marks silently ----------


@asynccontextmanager
async def restarted(app: App, telegram):
    """The bot stopped and started again on the same database, its memory (and so the working copies) gone."""
    await app.stop()
    async with running(app.settings, app.clock, telegram) as again:
        yield again


async def test_taps_on_names_and_pages_touch_no_table_until_submitted(app, telegram, teacher, world):
    [keyboard] = await teacher.press(MENU)
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(app.engine.sync_engine, "before_cursor_execute", record)
    try:
        for label in ("✅ 李明", "✅ 李华", "❌ 李明"):
            await teacher.tap(label)
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", record)
    assert statements == []
    assert teacher.last().buttons()[:3] == ["✅ 李明", "❌ 李华", "✅ 张小红"]
    assert (await roll_call(app)).draft["absent"] == {}  # the taps are the teacher's own until she submits
    await teacher.tap("提交")
    [summary] = await teacher.tap("事假")
    assert summary.message_id == keyboard.message_id and "李华：事假" in summary.text and "李明" not in summary.text
    [absence] = await absences(app)
    assert absence.student_id == world.li_hua.id


async def test_pressing_the_menu_again_keeps_the_marks_and_saves_them(app, telegram, teacher, world):
    await teacher.press(MENU)
    await teacher.tap("✅ 张小红")
    [again] = await teacher.press(MENU)
    assert "❌ 张小红" in again.buttons() and "缺勤 1" in again.text
    assert (await roll_call(app)).draft["absent"] == {str(world.zhang_xiaohong.id): None}


async def test_marks_lost_in_a_restart_are_shown_and_never_recorded_silently(app, telegram, teacher, world):
    [keyboard] = await teacher.press(MENU)
    await teacher.tap("✅ 李明")
    async with restarted(app, telegram) as again:
        await teacher.tap("提交", keyboard)
        assert "重启" in teacher.callback_answers[-1]
        assert teacher.last().buttons()[:3] == ["✅ 李明", "✅ 李华", "✅ 张小红"]  # shown as saved
        assert await absences(again) == [] and (await roll_call(again)).submitted_at is None
        await teacher.tap("✅ 李明")
        await teacher.tap("提交")
        [summary] = await teacher.tap("病假")
        assert "李明：病假" in summary.text
        [absence] = await absences(again)
        assert absence.student_id == world.li_ming.id


async def test_a_tap_after_a_restart_is_applied_and_says_what_was_lost(app, telegram, teacher):
    [keyboard] = await teacher.press(MENU)
    await teacher.tap("✅ 李明")
    async with restarted(app, telegram):
        await teacher.tap("✅ 李华", keyboard)
        assert "重启" in teacher.callback_answers[-1]
        assert teacher.last().buttons()[:3] == ["✅ 李明", "❌ 李华", "✅ 张小红"]
        await teacher.tap("✅ 张小红")  # the copy is back: no more alerts
        assert teacher.callback_answers[-1] is None
        assert teacher.last().buttons()[:3] == ["✅ 李明", "❌ 李华", "❌ 张小红"]


async def test_the_roll_call_speaks_the_teachers_language_on_every_tap(app, telegram, teacher, world):
    async with app.sessions() as session, session.begin():
        (await session.get(Person, world.teacher.id)).locale = "en"
    [keyboard] = await teacher.press(MENU)
    assert "Present 3/3" in keyboard.text
    [marked] = await teacher.tap("✅ 李明")
    assert "Present 2/3 · absent 1" in marked.text and "Submit" in marked.buttons()


async def test_a_stale_or_bad_return_day_tap_is_refused_clearly(app, telegram, teacher, world, clock):
    await teacher.press(MENU)
    await teacher.tap("✅ 李明")
    await teacher.tap("提交")
    [summary] = await teacher.tap("病假")
    assert "📅 返校日期" in summary.buttons()
    rc_id = (await roll_call(app)).id
    bad_day = ReturnDay(r=rc_id, s=world.li_ming.id, d=20261399).pack()
    await teacher.tap_data(bad_day, summary.message_id)
    assert teacher.callback_answers[-1] == "这个按钮已经失效了。"
    clock.advance(timedelta(days=1))  # the next school day: yesterday's summary is stale
    await teacher.tap("📅 返校日期", summary)
    assert teacher.callback_answers[-1] == "这是9月7日周一的点名，已经过期。今天的点名请点「📋 点名」。"
    [absence] = await absences(app)
    assert absence.expected_return is None
