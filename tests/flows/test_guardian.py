"""Guardians end to end: absence notices delivered by the real Sender through the fake Bot API server, answers
tapped and forwarded to the class teacher (「明天返校」 and 「请老师联系我」: what is stored, what the teacher reads,
and that an answer stops the scheduler chasing the family), forged taps refused, and a leave request from the menu to
the teacher's one-tap approval and the next day's roll call. While no class teacher can be reached in the bot, answers
and leave requests go to the school's officers (who decide the leave), or the guardian is asked to phone the school."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select

from bot.cases import run_ladder
from bot.core.policy import load_policy
from bot.core.settings import Settings
from bot.delivery.telegram import NoticeAction
from bot.fakeapi import FakeTelegram, FakeUser
from bot.fakeapi.state import Record
from bot.families import leave as lv
from bot.notices.absence import RollCallChanges, notify_guardians
from bot.tick import run_tick
from handlers.forms import FormTap
from storage.models import (
    Absence,
    AbsenceReply,
    AuditEvent,
    ContactPoint,
    Guardianship,
    LeaveRequest,
    LeaveStatus,
    OutboxMessage,
    Person,
    Role,
    RollCall,
    StaffRole,
    Student,
)
from tests.flows.conftest import TOKEN
from tests.seed import World, link

TEACHER_ID, FATHER_ID, GRANDMA_ID, ZHANG_FATHER_ID, OFFICER_ID, PRINCIPAL_ID = 101, 201, 202, 203, 301, 302
TODAY = date(2026, 9, 7)
LEAVE_MENU = "📝 请假"
ROLL_MENU = "📋 点名"


@pytest.fixture
def policy() -> str:
    """The policy file's text over the shipped defaults (none: the defaults)."""
    return ""


@pytest.fixture
def settings(db_url, telegram, policy, tmp_path) -> Settings:
    """Generous sending limits: a test taps faster than a thumb."""
    path = None
    if policy:
        path = tmp_path / "policy.toml"
        path.write_text(policy, encoding="utf-8")
    return Settings(_env_file=None, bot_token=TOKEN, bot_username="quanxue_bot", telegram_api=telegram.base_url,
                    database_url=db_url, send_rate_global=1000, send_rate_per_chat=1000, sender_poll_seconds=0.05,
                    policy=path)


def opened(telegram: FakeTelegram, user_id: int, name: str, language_code: str = "zh-hans") -> FakeUser:
    """A Telegram user who has opened the bot before (so the bot may write to them)."""
    user = telegram.user(user_id, name, language_code=language_code)
    user.state.started = True
    return user


@pytest.fixture
async def people(app, telegram: FakeTelegram, world: World, clock) -> SimpleNamespace:
    """王丽 (teacher), 李建国 (father of 李明 and 李华, Chinese) and 张奶奶 (grandmother of 张小红, reads English)."""
    telegram.set_rate_limits(per_chat_rate=1000, per_chat_burst=1000)
    async with app.sessions() as session, session.begin():
        await link(session, world.teacher, TEACHER_ID, clock.now())
        await link(session, world.father_li, FATHER_ID, clock.now())
        await link(session, world.grandma_zhang, GRANDMA_ID, clock.now())
        (await session.get(Person, world.grandma_zhang.id)).locale = "en"
    return SimpleNamespace(
        teacher=opened(telegram, TEACHER_ID, "丽"),
        father=opened(telegram, FATHER_ID, "建国"),
        grandma=opened(telegram, GRANDMA_ID, "Nainai", "en"),
    )


async def absent(app, world: World, clock, reasons: dict[Student, str], day: date = TODAY) -> dict[str, int]:
    """Record a submitted roll call with these absences, have the guardians told, and deliver the outbox."""
    async with app.sessions() as session, session.begin():
        roll_call = RollCall(class_id=world.school_class.id, day=day, opened_by=world.teacher.id,
                             submitted_by=world.teacher.id, submitted_at=clock.now(), revision=1)
        session.add(roll_call)
        await session.flush()
        rows = [Absence(student_id=student.id, roll_call_id=roll_call.id, day=day, reason=reason,
                        recorded_by=world.teacher.id, recorded_at=clock.now()) for student, reason in reasons.items()]
        session.add_all(rows)
        await session.flush()
        await notify_guardians(session, app.settings, clock.now(), roll_call, RollCallChanges(new=rows))
        ids = {student.name: row.id for student, row in zip(reasons, rows, strict=True)}
    await app.sender.drain()
    return ids


async def replies(app) -> list[AbsenceReply]:
    async with app.sessions() as session:
        return list(await session.scalars(select(AbsenceReply).order_by(AbsenceReply.id)))


def notice_of(user: FakeUser) -> Record:
    """The newest bot message with inline buttons (the notice)."""
    return next(record for record in reversed(user.bot_messages()) if record.buttons())


async def tap_starting(user: FakeUser, prefix: str) -> list[Record]:
    label = next(label for label in user.buttons() if label.startswith(prefix))
    return await user.tap(label)


# --- notices and answers ------------------------------------------------------------------------------------------


async def test_each_guardian_gets_the_notice_in_their_language(app, people, world, clock):
    await absent(app, world, clock, {world.li_ming: "unexplained", world.zhang_xiaohong: "unexplained"})
    father, grandma = people.father.last(), people.grandma.last()
    assert "李明" in father.text and "没有到校" in father.text and "本月累计缺课 1 天" in father.text
    assert father.buttons() == ["生病", "家里有事", "明天返校", "请老师联系我", "其他"]
    assert "张小红" in grandma.text and "was not at school" in grandma.text and "1 day this month" in grandma.text
    assert grandma.buttons() == ["Sick", "Family matter", "Back tomorrow", "Please call me", "Other"]
    assert father.parse_mode == "HTML" and "<b>李明</b>" in father.raw


async def test_every_answer_is_stored_and_forwarded_and_can_be_changed(app, people, world, clock):
    ids = await absent(app, world, clock, {world.li_ming: "unexplained"})
    father, teacher = people.father, people.teacher
    notice = notice_of(father)
    forwarded = []
    for label, answer in (("生病", "sick"), ("家里有事", "family"), ("明天返校", "back_tomorrow"),
                          ("请老师联系我", "call_me")):
        produced = await father.tap(label, notice)
        thanks = next(r for r in produced if r is not notice)
        assert "谢谢您" in thanks.text and label in thanks.text and "已经转告班主任" in thanks.text
        assert f"✓ {label}" in notice.buttons()  # the keyboard stays, showing the answer
        await app.sender.drain()
        forwarded.append(teacher.last().text)
        assert (await replies(app))[-1].answer == answer
        clock.advance(timedelta(minutes=5))
        if answer == "sick":  # tapping the answer already given changes nothing and sends nothing
            before = len(teacher.bot_messages())
            assert await father.tap("✓ 生病", notice) == []
            assert father.callback_answers[-1] == "您已经回复过：生病。"
            await app.sender.drain()
            assert len(teacher.bot_messages()) == before and len(await replies(app)) == 1
    assert "家长回复" in forwarded[0] and "李建国（父亲）回复：生病" in forwarded[0]
    assert "更改了回复：家里有事" in forwarded[1] and "之前的回复：生病" in forwarded[1]
    assert "请尽快回电" in forwarded[3]

    # 其他: a short text follows
    [prompt] = await father.tap("其他", notice)
    assert "请写几句话" in prompt.text and "/cancel" in prompt.text
    produced = await father.send("<去外婆家> & 明天回")
    assert any("谢谢您" in r.text and "<去外婆家> & 明天回" in r.text for r in produced)
    assert "✓ 其他" in notice.buttons()
    await app.sender.drain()
    last = teacher.last()
    assert "<去外婆家> & 明天回" in last.text and "&lt;去外婆家&gt; &amp; 明天回" in last.raw
    assert any(entity["type"] == "blockquote" for entity in last.entities)
    stored = await replies(app)
    assert [r.answer for r in stored] == ["sick", "family", "back_tomorrow", "call_me", "other"]
    assert stored[-1].text == "<去外婆家> & 明天回" and {r.absence_id for r in stored} == {ids["李明"]}



async def test_other_can_be_cancelled_and_a_long_text_is_refused(app, people, world, clock):
    await absent(app, world, clock, {world.li_ming: "unknown"})
    father = people.father
    notice = notice_of(father)
    await father.tap("其他", notice)
    [too_long] = await father.send("长" * 501)
    assert "501" in too_long.text and "500" in too_long.text
    [cancelled] = await father.send("/cancel")
    assert "已取消" in cancelled.text
    assert await replies(app) == []
    # the menu button while a text is awaited starts the leave flow rather than becoming the answer
    await father.tap("其他", notice)
    [which] = await father.send(LEAVE_MENU)
    assert "为哪个孩子请假" in which.text
    assert await replies(app) == []


async def test_the_words_for_other_are_a_form_with_its_cancel(app, people, world, clock):
    """The words for 其他 are asked for under the notice with ✖ 取消; a forged button of the form is refused and the
    words are still awaited; ✖ 取消 ends it (nothing sent, the notice unchanged); another answer tapped while the words
    are awaited ends the wait too."""
    await absent(app, world, clock, {world.li_ming: "unknown"})
    father = people.father
    notice = notice_of(father)
    [prompt] = await father.tap("其他", notice)
    assert "请写几句话" in prompt.text and prompt.buttons() == ["✖ 取消"]
    forged = FormTap(form="reply_words", n="0000", step="words", do="cancel").pack()
    await father.tap_data(forged, prompt.message_id)
    assert father.callback_answers[-1] == "这个按钮属于前面的步骤，没有做任何更改。请回答最新的问题。"
    assert "请写几句话" in prompt.text and prompt.buttons() == ["✖ 取消"]
    await father.tap("✖ 取消", prompt)
    assert father.callback_answers[-1] == "已取消，没有发送任何内容。"
    assert prompt.text == "已取消，没有发送任何内容。" and prompt.buttons() == []
    await father.send("他去外婆家了")  # no longer the words of an answer
    assert await replies(app) == [] and "✓ 其他" not in notice.buttons()

    [prompt] = await father.tap("其他", notice)
    await father.tap("生病", notice)  # another answer: the words are no longer awaited
    await father.send("他去外婆家了")
    assert [(r.answer, r.text) for r in await replies(app)] == [("sick", None)]
    await father.tap("✖ 取消", prompt)  # a button of the form that is over
    assert father.callback_answers[-1] == "如需更改，点通知下面的按钮就可以。" and prompt.buttons() == []
    assert len(await replies(app)) == 1


async def test_siblings_one_notice_choose_the_child_then_the_answer(app, people, world, clock):
    await absent(app, world, clock, {world.li_ming: "unexplained", world.li_hua: "unexplained"})
    father = people.father
    notices = [r for r in father.bot_messages() if r.buttons()]
    assert len(notices) == 1
    notice = notices[0]
    assert "李明" in notice.text and "李华" in notice.text and notice.buttons() == ["👉 李华", "👉 李明"]
    await father.tap("👉 李明", notice)
    assert notice.buttons() == ["生病", "家里有事", "明天返校", "请老师联系我", "其他", "‹ 返回孩子名单"]
    await father.tap("生病", notice)
    assert notice.buttons() == ["👉 李华", "✓ 李明: 生病"]
    await father.tap("👉 李华", notice)
    await father.tap("家里有事", notice)
    assert notice.buttons() == ["✓ 李华: 家里有事", "✓ 李明: 生病"]
    async with app.sessions() as session:
        rows = (await session.execute(select(Student.name, AbsenceReply.answer).join(
            Absence, Absence.id == AbsenceReply.absence_id).join(Student, Student.id == Absence.student_id))).all()
    assert sorted(rows) == [("李华", "family"), ("李明", "sick")]


async def test_forged_and_stale_taps_are_refused_and_change_nothing(app, people, world, clock):
    ids = await absent(app, world, clock, {world.li_ming: "unexplained", world.zhang_xiaohong: "unexplained"})
    grandma, father = people.grandma, people.father
    own = notice_of(grandma).message_id
    for action in ("reply", "pick", "kids"):
        await grandma.tap_data(NoticeAction(action=action, ref=ids["李明"], value="sick").pack(), own)
        assert "not for you" in grandma.callback_answers[-1]
    await grandma.tap_data(NoticeAction(action="reply", ref=ids["李明"], value="other").pack(), own)
    await grandma.send("I am not his grandmother")  # no state was set: nothing is recorded
    assert await replies(app) == []

    # the teacher corrects the roll call: 李明 was there after all
    async with app.sessions() as session, session.begin():
        absence = await session.get(Absence, ids["李明"])
        absence.withdrawn_at = clock.now()
    await father.tap("生病", notice_of(father))
    assert "老师已更正" in father.callback_answers[-1]
    assert await replies(app) == []


async def test_only_guardians_answer_and_a_guardian_no_longer_linked_records_nothing(app, people, world, clock,
                                                                                     telegram):
    """The answer buttons behind the guardian filter: an account nobody linked and the class teacher hear the
    refusal; a person who is no longer anyone's guardian when their words for 其他 arrive is refused too, and the
    words are not stored, and the words' form ends."""
    ids = await absent(app, world, clock, {world.li_ming: "unexplained"})
    stranger = opened(telegram, 999, "路人")
    for user in (stranger, people.teacher):
        for action in ("reply", "pick", "kids"):
            await user.tap_data(NoticeAction(action=action, ref=ids["李明"], value="sick").pack(), 1)
            assert user.callback_answers[-1] == "这个按钮不是给您的，或已经失效。没有做任何更改。"
    father = people.father
    await father.tap("其他", notice_of(father))
    async with app.sessions() as session, session.begin():
        await session.execute(delete(Guardianship).where(Guardianship.person_id == world.father_li.id))
    [refused] = await father.send("他去外婆家了")
    assert refused.text == "这个按钮不是给您的，或已经失效。没有做任何更改。\n已取消，没有发送任何内容。"
    [again] = await father.send("他去外婆家了")  # the form is over: these words are not an answer either
    assert "没有做任何更改" not in again.text
    assert await replies(app) == []


async def test_a_childs_name_is_escaped_everywhere(app, people, world, clock):
    async with app.sessions() as session, session.begin():
        (await session.get(Student, world.li_ming.id)).name = "<b>小明</b>"
    await absent(app, world, clock, {world.li_ming: "unexplained"})
    notice = people.father.last()
    assert "<b>小明</b>" in notice.text  # shown as typed, not as bold
    assert not any(e["type"] == "bold" and notice.text[e["offset"]:e["offset"] + e["length"]] == "小明"
                   for e in notice.entities)
    produced = await people.father.tap("生病", notice)
    assert any("<b>小明</b>" in (r.text or "") for r in produced)
    await app.sender.drain()
    assert "<b>小明</b>" in people.teacher.last().text


# --- "back tomorrow" and "please call me" -------------------------------------------------------------------------


async def tick(app, clock, at: str) -> None:
    """The scheduler's run at `at`, and its notices delivered."""
    clock.set(datetime.fromisoformat(at))
    async with app.sessions() as session, session.begin():
        await run_ladder(session, app.settings, load_policy(app.settings), clock.now())
    await app.sender.drain()


async def reply_audits(app) -> list[tuple[int, int, dict]]:
    """(absence id, who, details) of each audited answer, oldest first."""
    async with app.sessions() as session:
        rows = await session.scalars(select(AuditEvent).where(AuditEvent.action == "absence.reply")
                                     .order_by(AuditEvent.id))
        return [(row.entity_id, row.actor_person_id, row.details) for row in rows]


async def test_back_tomorrow_reaches_the_teacher_and_ends_the_chasing(app, people, world, clock):
    ids = await absent(app, world, clock, {world.li_ming: "unexplained", world.zhang_xiaohong: "unexplained"})
    father, grandma, teacher = people.father, people.grandma, people.teacher
    notice = notice_of(father)
    produced = await father.tap("明天返校", notice)
    assert father.callback_answers[-1] == "谢谢您！"
    [thanks] = [r for r in produced if r is not notice]
    assert thanks.text == ("谢谢您。李明（9月7日周一）的回复：明天返校。\n已经转告班主任。\n"
                           "如需更改，点通知下面的按钮就可以。")
    assert notice.buttons() == ["生病", "家里有事", "✓ 明天返校", "请老师联系我", "其他"]
    [reply] = await replies(app)
    assert (reply.absence_id, reply.person_id, reply.answer, reply.text) == (
        ids["李明"], world.father_li.id, "back_tomorrow", None)
    assert await reply_audits(app) == [
        (ids["李明"], world.father_li.id, {"reply_id": reply.id, "answer": "back_tomorrow", "changed": False})]
    async with app.sessions() as session:
        assert (await session.get(Absence, ids["李明"])).excused is False  # only "sick" excuses the day
    await app.sender.drain()
    told = teacher.last()
    assert told.text == "家长回复：李明（三年级1班）9月7日缺课\n李建国（父亲）回复：明天（9月8日周二）返校"
    assert "<b>明天（9月8日周二）返校</b>" in told.raw and told.buttons() == []

    # the answer ends the chasing for 李明: at 12:30 only 张奶奶, who has not answered, is reminded; at 17:00 the
    # teacher is asked to phone about 张小红 alone
    before = len(father.bot_messages())
    await tick(app, clock, "2026-09-07T12:30:00+08:00")
    assert "张小红" in grandma.last().text and "has not heard from you" in grandma.last().text
    await tick(app, clock, "2026-09-07T17:00:00+08:00")
    assert len(father.bot_messages()) == before
    phone = teacher.last().text
    assert "请电话联系家长" in phone and "张小红" in phone and "李明" not in phone


@pytest.mark.parametrize(("answered", "meant", "meant_en"), [
    ("2026-09-11T19:30:00+08:00", "明天（9月14日周一）返校", "back tomorrow (Mon, Sep 14)"),  # a Friday evening
    ("2026-09-24T18:00:00+08:00", "明天（9月28日周一）返校", "back tomorrow (Mon, Sep 28)"),  # before 中秋节 (Fri 9-25)
    ("2026-09-30T12:00:00+08:00", "明天（10月8日周四）返校", "back tomorrow (Thu, Oct 8)"),  # before the National Day
], ids=["friday", "before-mid-autumn", "before-national-day"])
async def test_back_tomorrow_names_the_next_school_day(app, people, world, clock, answered, meant, meant_en):
    clock.set(datetime.fromisoformat(answered).replace(hour=8, minute=30))
    day = clock.now().date()
    ids = await absent(app, world, clock, {world.li_ming: "unexplained", world.zhang_xiaohong: "unexplained"},
                       day=day)
    clock.set(datetime.fromisoformat(answered))
    father, teacher, grandma = people.father, people.teacher, people.grandma
    await father.tap("明天返校", notice_of(father))
    await app.sender.drain()
    told = teacher.last()
    assert told.text == f"家长回复：李明（三年级1班）{day.month}月{day.day}日缺课\n李建国（父亲）回复：{meant}"
    assert f"<b>{meant}</b>" in told.raw
    [reply] = await replies(app)
    assert (reply.absence_id, reply.answer) == (ids["李明"], "back_tomorrow")

    # a teacher who reads English reads the day in English
    async with app.sessions() as session, session.begin():
        (await session.get(Person, world.teacher.id)).locale = "en"
    await grandma.tap("Back tomorrow", notice_of(grandma))
    await app.sender.drain()
    assert f"张奶奶 (奶奶) answered: {meant_en}" in teacher.last().text


async def test_please_call_me_asks_the_teacher_to_call_back(app, people, world, clock, telegram):
    async with app.sessions() as session, session.begin():  # 张小红's father is on Quanxue too
        await link(session, world.father_zhang, ZHANG_FATHER_ID, clock.now())
    father = opened(telegram, ZHANG_FATHER_ID, "伟")
    ids = await absent(app, world, clock, {world.zhang_xiaohong: "unknown"})
    grandma, teacher = people.grandma, people.teacher
    notice = notice_of(grandma)
    produced = await grandma.tap("Please call me", notice)
    [thanks] = [r for r in produced if r is not notice]
    assert thanks.text == ("Thank you. Your answer for 张小红 (Mon, Sep 7): Please call me.\n"
                           "The class teacher has been told.\n"
                           "You can change your answer with the buttons on the notice.")
    assert notice.buttons() == ["Sick", "Family matter", "Back tomorrow", "✓ Please call me", "Other"]
    await app.sender.drain()
    assert teacher.last().text == ("家长回复：张小红（三年级1班）9月7日缺课\n张奶奶（奶奶）回复：请老师联系我\n"
                                   "家长希望老师打电话联系，请尽快回电。")

    # the father answers on his own notice: his first answer, not a change of the grandmother's
    await father.tap("明天返校", notice_of(father))
    await app.sender.drain()
    told = teacher.last().text
    assert "张伟（父亲）回复：明天（9月8日周二）返校" in told and "更改" not in told and "请尽快回电" not in told

    # the grandmother changes her answer: the teacher sees the change, and no call is asked for any more
    await grandma.tap("Back tomorrow", notice)
    assert notice.buttons() == ["Sick", "Family matter", "✓ Back tomorrow", "Please call me", "Other"]
    await app.sender.drain()
    told = teacher.last().text
    assert "张奶奶（奶奶）更改了回复：明天（9月8日周二）返校" in told and "之前的回复：请老师联系我" in told
    assert "请尽快回电" not in told
    stored = await replies(app)
    assert [(r.person_id, r.answer) for r in stored] == [
        (world.grandma_zhang.id, "call_me"), (world.father_zhang.id, "back_tomorrow"),
        (world.grandma_zhang.id, "back_tomorrow")]
    assert {r.absence_id for r in stored} == {ids["张小红"]}
    assert [(who, details["answer"], details["changed"]) for _, who, details in await reply_audits(app)] == [
        (world.grandma_zhang.id, "call_me", False), (world.father_zhang.id, "back_tomorrow", False),
        (world.grandma_zhang.id, "back_tomorrow", True)]
    async with app.sessions() as session:
        forwarded = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.template == "guardian_reply")
                                              .order_by(OutboxMessage.id)))
    assert [(m.person_id, m.entity_id) for m in forwarded] == [(world.teacher.id, ids["张小红"])] * 3


async def test_please_call_me_when_the_teacher_is_not_on_quanxue(app, people, world, clock):
    async with app.sessions() as session, session.begin():
        await session.delete(await session.scalar(
            select(ContactPoint).where(ContactPoint.person_id == world.teacher.id)))
    ids = await absent(app, world, clock, {world.li_ming: "unexplained"})
    father = people.father
    notice = notice_of(father)
    produced = await father.tap("请老师联系我", notice)
    [thanks] = [r for r in produced if r is not notice]
    assert "李明（9月7日周一）的回复：请老师联系我" in thanks.text
    # nobody at the school is on Quanxue either (the school officer has not linked): the guardian is asked to phone
    assert "回复已保存，但现在无法通过劝学联系到班主任，请给学校打电话。" in thanks.text
    assert "已经转告" not in thanks.text and "还没有使用劝学" not in thanks.text
    [reply] = await replies(app)
    assert (reply.absence_id, reply.answer) == (ids["李明"], "call_me")
    async with app.sessions() as session:
        assert await session.scalar(select(OutboxMessage).where(OutboxMessage.template == "guardian_reply")) is None


async def school_on_quanxue(app, world: World, clock, telegram: FakeTelegram) -> SimpleNamespace:
    """The school officer 赵强 and the principal 周校长 (a new person), both on Quanxue."""
    async with app.sessions() as session, session.begin():
        principal = Person(name="周校长", phone="13900000202", created_at=clock.now(), updated_at=clock.now())
        session.add(principal)
        await session.flush()
        session.add(StaffRole(person_id=principal.id, role=Role.PRINCIPAL, school_id=world.school.id))
        await link(session, world.officer, OFFICER_ID, clock.now())
        await link(session, principal, PRINCIPAL_ID, clock.now())
    return SimpleNamespace(principal=principal, officer=opened(telegram, OFFICER_ID, "强"),
                           head=opened(telegram, PRINCIPAL_ID, "校长"))


async def test_an_answer_goes_to_the_school_when_no_class_teacher_can_be_reached(app, people, world, clock, telegram):
    school = await school_on_quanxue(app, world, clock, telegram)
    officer, head, principal = school.officer, school.head, school.principal
    father, teacher = people.father, people.teacher
    ids = await absent(app, world, clock, {world.li_ming: "unexplained"})
    await teacher.block()  # the class teacher blocked the bot
    async with app.sessions() as session:
        assert not (await session.scalar(select(ContactPoint).where(
            ContactPoint.person_id == world.teacher.id))).reachable

    notice = notice_of(father)
    produced = await father.tap("请老师联系我", notice)
    [thanks] = [r for r in produced if r is not notice]
    assert "现在无法通过劝学联系到班主任，已经转告学校。" in thanks.text
    assert "还没有使用劝学" not in thanks.text and "请给学校打电话" not in thanks.text
    await app.sender.drain()
    for person in (officer, head):
        assert person.last().text == ("家长回复：李明（三年级1班）9月7日缺课\n李建国（父亲）回复：请老师联系我\n"
                                      "家长希望老师打电话联系，请尽快回电。\n"
                                      "班主任现在无法通过劝学收到这条回复，所以转给学校：请转告班主任，或直接联系家长。")
    assert teacher.bot_messages() == []

    # the teacher is back on Quanxue: the next answer goes to the teacher alone
    await teacher.unblock()
    clock.advance(timedelta(minutes=5))
    await father.tap("家里有事", notice)
    await app.sender.drain()
    assert "李建国（父亲）更改了回复：家里有事" in teacher.last().text and "转给学校" not in teacher.last().text
    async with app.sessions() as session:
        forwarded = (await session.execute(select(OutboxMessage.person_id, OutboxMessage.entity_id).where(
            OutboxMessage.template == "guardian_reply").order_by(OutboxMessage.id))).all()
    assert forwarded == [(world.officer.id, ids["李明"]), (principal.id, ids["李明"]), (world.teacher.id, ids["李明"])]
    assert [r.answer for r in await replies(app)] == ["call_me", "family"]


# --- leave --------------------------------------------------------------------------------------------------------


async def show_menus(people) -> None:
    """The greeting puts each person's daily button on their keyboard."""
    await people.father.start()
    await people.teacher.start()
    assert LEAVE_MENU in people.father.keyboard() and ROLL_MENU in people.teacher.keyboard()


async def test_leave_request_approved_with_one_tap_and_premarked_in_the_roll_call(app, people, world, clock):
    await show_menus(people)
    father, teacher = people.father, people.teacher
    [which] = await father.press(LEAVE_MENU)
    assert which.buttons() == ["李华", "李明", "✖ 取消"]
    [step] = await father.tap("李明")
    assert step.message_id == which.message_id and "从哪天开始" in step.text
    assert [b.split(" · ")[0] for b in step.buttons()] == ["今天", "明天", "后天", "📅 其他日期", "◀ 返回", "✖ 取消"]
    [step] = await tap_starting(father, "明天")
    assert "请几天" in step.text and step.buttons() == ["1天", "2天", "3天", "5天", "10天", "◀ 返回", "✖ 取消"]
    [step] = await father.tap("2天")
    assert step.buttons() == ["🤒 病假", "🏠 事假", "◀ 返回", "✖ 取消"]
    [step] = await father.tap("🤒 病假")
    assert "跳过" in step.buttons()
    [too_long] = await father.send("发" * 501)  # over the note's limit: said so, and the step waits for a shorter one
    assert too_long.text == "这段话有501个字，请不要超过500个字。"
    [confirm] = await father.send("发烧 <38度>")
    assert "请核对" in confirm.text and "<38度>" in confirm.text and "病假" in confirm.text
    [sent] = await father.tap("✅ 提交申请")
    assert "已发给班主任" in sent.text and sent.buttons() == []
    async with app.sessions() as session:
        leave = await session.scalar(select(LeaveRequest))
    assert (leave.student_id, leave.first_day, leave.last_day, leave.reason, leave.note, leave.status) == (
        world.li_ming.id, date(2026, 9, 8), date(2026, 9, 9), "sick", "发烧 <38度>", LeaveStatus.PENDING)

    await app.sender.drain()
    request = teacher.last()
    assert "请假申请" in request.text and "李明" in request.text and "<38度>" in request.text
    assert request.buttons() == ["批准", "不批准"]
    [decided] = await teacher.tap("批准")
    assert decided.message_id == request.message_id and "王丽已批准" in decided.text and decided.buttons() == []
    await teacher.tap_data(NoticeAction(action="leave", ref=leave.id, value="no").pack(), request.message_id)
    assert "已经处理过了" in teacher.callback_answers[-1]  # a late second tap changes nothing
    await app.sender.drain()
    assert "请假已批准" in father.last().text and "李明" in father.last().text
    async with app.sessions() as session:
        assert (await session.get(LeaveRequest, leave.id)).status == LeaveStatus.APPROVED
        assert world.li_ming.id in await lv.approved_leave(session, [world.li_ming.id], date(2026, 9, 8))

    # the next morning the roll call has 李明 pre-marked as on leave, and no absence notice goes out for him
    clock.set(datetime.fromisoformat("2026-09-08T08:00:00+08:00"))
    [roll] = await teacher.press(ROLL_MENU)
    assert "李明" in roll.text and "已准假" in roll.text and "❌ 李明" in roll.buttons()
    before = len(father.bot_messages())
    await teacher.tap("提交")
    await app.sender.drain()
    assert len(father.bot_messages()) == before


async def test_leave_refusals_forged_decision_and_typed_date(app, people, world, clock, telegram):
    await show_menus(people)
    father, grandma = people.father, people.grandma
    await father.press(LEAVE_MENU)
    await father.tap("李华")
    await father.tap("📅 其他日期")
    [bad] = await father.send("明天吧")
    assert "没看懂这个日期" in bad.text
    [past] = await father.send("9-1")
    assert "已经过去" in past.text
    [step] = await father.send("9月10日")
    assert "9月10日" in step.text and "请几天" in step.text
    await father.tap("1天")
    await father.tap("🏠 事假")
    await father.tap("跳过")
    await father.tap("✅ 提交申请")
    async with app.sessions() as session:
        leave = await session.scalar(select(LeaveRequest))
    assert (leave.student_id, leave.first_day, leave.last_day, leave.reason) == (
        world.li_hua.id, date(2026, 9, 10), date(2026, 9, 10), "personal")

    # a guardian cannot decide, even with forged data, and a forged child in the flow is refused
    await father.tap_data(NoticeAction(action="leave", ref=leave.id, value="yes").pack(), 1)
    assert "只有孩子的班主任" in father.callback_answers[-1]
    await grandma.tap_data(NoticeAction(action="leave", ref=leave.id, value="yes").pack(), 1)
    assert "class teacher" in grandma.callback_answers[-1]
    stranger = opened(telegram, 999, "路人")  # an account nobody linked
    await stranger.tap_data(NoticeAction(action="leave", ref=leave.id, value="no").pack(), 1)
    assert stranger.callback_answers[-1] == "只有孩子的班主任或学校控辍专干可以处理这个请假。没有做任何更改。"
    async with app.sessions() as session:
        assert (await session.get(LeaveRequest, leave.id)).status == LeaveStatus.PENDING

    # the same days again: refused with what is already there
    await father.press(LEAVE_MENU)
    await father.tap("李华")
    await father.tap("📅 其他日期")
    await father.send("2026-09-10")
    await father.tap("1天")
    await father.tap("🤒 病假")
    await father.tap("跳过")
    [overlap] = await father.tap("✅ 提交申请")
    assert "已经有请假申请" in overlap.text and "等待批准" in overlap.text


# --- leave while no class teacher can be reached --------------------------------------------------------------------


async def ask_leave(father: FakeUser, child: str) -> Record:
    """`child`'s father asks for one day of personal leave tomorrow, without a note; what the bot answers last."""
    await father.press(LEAVE_MENU)
    await father.tap(child)
    await tap_starting(father, "明天")
    for label in ("1天", "🏠 事假", "跳过"):
        await father.tap(label)
    [sent] = await father.tap("✅ 提交申请")
    return sent


async def leave_requests_sent(app) -> list[tuple[int, int]]:
    """(recipient, leave request) of each 请假申请 notice queued, oldest first."""
    async with app.sessions() as session:
        return (await session.execute(select(OutboxMessage.person_id, OutboxMessage.entity_id).where(
            OutboxMessage.template == "leave_request").order_by(OutboxMessage.id))).all()


async def test_leave_goes_to_the_school_when_the_class_teacher_blocked_the_bot(app, people, world, clock, telegram):
    school = await school_on_quanxue(app, world, clock, telegram)
    father, teacher, officer, head = people.father, people.teacher, school.officer, school.head
    await father.start()
    await teacher.block()

    sent = await ask_leave(father, "李明")
    assert sent.text == "✅ 现在无法通过劝学联系到班主任，申请已转给学校：李明请假，9月8日周二。处理后会通知您。"
    assert "还没有使用劝学" not in sent.text and sent.buttons() == []
    async with app.sessions() as session:
        leave = await session.scalar(select(LeaveRequest))
    assert (leave.student_id, leave.first_day, leave.last_day, leave.reason, leave.status) == (
        world.li_ming.id, date(2026, 9, 8), date(2026, 9, 8), "personal", LeaveStatus.PENDING)
    assert await leave_requests_sent(app) == [(world.officer.id, leave.id), (school.principal.id, leave.id)]
    await app.sender.drain()
    for person in (officer, head):
        request = person.last()
        assert request.text.startswith("请假申请：李明（三年级1班）\n李建国（父亲）申请事假：9月8日（星期二）")
        assert request.text.endswith("请点「批准」或「不批准」，结果会自动告诉家长。\n"
                                     "班主任现在无法通过劝学收到这条申请，所以转给学校：请代为审批，并告知班主任。")
        assert request.buttons() == ["批准", "不批准"]
    assert teacher.bot_messages() == []

    # the principal approves with one tap; the officer's tap after that changes nothing
    [decided] = await head.tap("批准")
    assert head.callback_answers[-1] == "好的，会通知家长。" and "✅ 周校长已批准。" in decided.text
    assert decided.buttons() == []
    await officer.tap("不批准")
    assert officer.callback_answers[-1] == "这个请假已经处理过了：✅ 周校长已批准。"
    async with app.sessions() as session:
        leave = await session.get(LeaveRequest, leave.id)
    assert (leave.status, leave.decided_by) == (LeaveStatus.APPROVED, school.principal.id)
    await app.sender.drain()
    told = father.last().text
    assert "请假已批准" in told and "学校（周校长）已批准" in told and "周校长老师" not in told

    # the teacher is back on Quanxue: the next request goes to the teacher alone
    await teacher.unblock()
    sent = await ask_leave(father, "李华")
    assert sent.text.startswith("✅ 已发给班主任：李华请假")
    await app.sender.drain()
    assert "请假申请：李华" in teacher.last().text and "转给学校" not in teacher.last().text
    assert [who for who, _ in await leave_requests_sent(app)] == [world.officer.id, school.principal.id,
                                                                  world.teacher.id]


@pytest.mark.parametrize("policy", ["[leave]\nteacher_max = { school_days = 2 }\n"], ids=["teacher-max-2"])
async def test_leave_over_the_teachers_limit_is_decided_by_the_school_officer(app, people, world, clock, telegram):
    school = await school_on_quanxue(app, world, clock, telegram)
    father, teacher, officer = people.father, people.teacher, school.officer
    await father.start()
    await father.press(LEAVE_MENU)
    await father.tap("李明")
    await tap_starting(father, "明天")
    for label in ("3天", "🏠 事假", "跳过"):  # three school days, over the policy's two
        await father.tap(label)
    [sent] = await father.tap("✅ 提交申请")
    assert sent.text.startswith("✅ 超过 2 个上学日的请假由学校审批，申请已转给学校：李明请假，")
    async with app.sessions() as session:
        leave = await session.scalar(select(LeaveRequest))
    assert {who for who, _ in await leave_requests_sent(app)} == {world.officer.id, school.principal.id}

    # the class teacher's tap (an old or forwarded button) is refused and changes nothing
    await teacher.tap_data(NoticeAction(action="leave", ref=leave.id, value="yes").pack(), 1)
    assert teacher.callback_answers[-1] == "超过 2 个上学日的请假由学校控辍专干审批。没有做任何更改。"
    async with app.sessions() as session:
        assert (await session.get(LeaveRequest, leave.id)).status == LeaveStatus.PENDING

    await app.sender.drain()
    [decided] = await officer.tap("批准")
    assert "赵强已批准" in decided.text
    async with app.sessions() as session:
        leave = await session.get(LeaveRequest, leave.id)
    assert (leave.status, leave.decided_by) == (LeaveStatus.APPROVED, world.officer.id)


async def test_leave_nobody_at_the_school_can_receive_asks_the_guardian_to_phone(app, people, world, clock):
    async with app.sessions() as session, session.begin():  # the teacher has not linked, nor has the school officer
        await session.delete(await session.scalar(
            select(ContactPoint).where(ContactPoint.person_id == world.teacher.id)))
    await people.father.start()
    sent = await ask_leave(people.father, "李明")
    assert sent.text == ("李明的请假申请已保存，但现在无法通过劝学联系到学校的任何人。请给学校打电话请假；"
                         "学校有人使用劝学后，申请也会转给学校。")
    async with app.sessions() as session:
        leave = await session.scalar(select(LeaveRequest))
    assert (leave.student_id, leave.status) == (world.li_ming.id, LeaveStatus.PENDING)
    assert await leave_requests_sent(app) == []

    # the teacher joins the bot: the scheduler's next tick passes the request on, and one tap decides it
    async with app.sessions() as session, session.begin():
        await link(session, world.teacher, people.teacher.id, clock.now())
    assert (await run_tick(app.sessions, app.settings, clock.now())).leave_requests_asked_again == 1
    await app.sender.drain()
    request = people.teacher.last()
    assert request.text.startswith("请假申请：李明（三年级1班）") and request.buttons() == ["批准", "不批准"]
    [decided] = await people.teacher.tap("批准")
    assert "王丽已批准" in decided.text
    await app.sender.drain()
    assert "请假已批准" in people.father.last().text


# --- the leave form's ◀ Back, ✖ Cancel, stale taps, and a guardian unlinked mid-form ----------------------------


def form_tap(record: Record, label: str) -> FormTap:
    return FormTap.unpack(next(b["callback_data"] for b in record.inline_buttons() if b["text"] == label))


async def test_leave_form_back_cancel_and_stale_taps(app, people, world, clock):
    await show_menus(people)
    father = people.father
    [form] = await father.press(LEAVE_MENU)
    await father.tap("李明", form)
    await tap_starting(father, "明天")
    assert "请几天" in form.text
    await father.tap("◀ 返回", form)
    assert "从哪天开始" in form.text and "李明" in form.text
    await father.tap("◀ 返回", form)
    assert "为哪个孩子请假" in form.text and form.buttons() == ["李华", "李明", "✖ 取消"]
    # another family's child, forged: refused, and the form stays where it is
    forged = form_tap(form, "李明").model_copy(update={"v": str(world.zhang_xiaohong.id)})
    assert await father.tap_data(forged.pack(), form.message_id) == []
    assert father.callback_answers[-1] == "这个按钮不是给您的，或已经失效。没有做任何更改。"
    assert "为哪个孩子请假" in form.text
    await father.tap("李华", form)
    await tap_starting(father, "今天")
    earlier = form_tap(form, "1天")
    await father.tap("✖ 取消", form)
    assert father.callback_answers[-1] == "已取消，没有发送任何内容。"
    assert form.text == "已取消，没有发送任何内容。" and form.buttons() == []

    # a new form: a button of the cancelled one changes nothing; /cancel while a day is typed
    [form] = await father.press(LEAVE_MENU)
    await father.tap("李华", form)
    await tap_starting(father, "今天")
    shown = form.text
    assert await father.tap_data(earlier.pack(), form.message_id) == []
    assert father.callback_answers[-1] == "这个按钮属于前面的步骤，没有做任何更改。请回答最新的问题。"
    assert form.text == shown
    await father.tap("◀ 返回", form)
    await father.tap("📅 其他日期", form)
    assert form.buttons() == ["◀ 返回", "✖ 取消"]
    [cancelled] = await father.send("/cancel")
    assert cancelled.text == "已取消，没有发送任何内容。" and LEAVE_MENU in father.keyboard()
    [reply] = await father.send("9月10日")  # no longer an answer to the form
    assert "请几天" not in reply.text
    await father.tap("◀ 返回", form)  # the form is over: its buttons go
    assert father.callback_answers[-1] == "这一步已经结束了。请点“📝 请假”重新开始。" and form.buttons() == []
    async with app.sessions() as session:
        assert await session.scalar(select(LeaveRequest)) is None


async def test_leave_form_of_a_guardian_unlinked_mid_form_ends(app, people, world, clock):
    await show_menus(people)
    father = people.father
    [form] = await father.press(LEAVE_MENU)
    await father.tap("李明", form)
    async with app.sessions() as session, session.begin():
        await session.delete(await session.scalar(
            select(ContactPoint).where(ContactPoint.person_id == world.father_li.id)))
    await tap_starting(father, "明天")
    assert father.callback_answers[-1] == "请假功能是给家长和监护人用的。\n已取消，没有发送任何内容。"
    await tap_starting(father, "明天")
    assert father.callback_answers[-1] == "这一步已经结束了。请点“📝 请假”重新开始。"
    async with app.sessions() as session:
        assert await session.scalar(select(LeaveRequest)) is None
