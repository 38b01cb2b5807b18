"""The ladder's chat flows end to end over the fake Bot API server: a case opened by the tick over three absences,
the school officer's `/cases` and guided home-visit record, the report to the township, the township's 复学通知书
reaching the guardian, the guardian asking for help with getting to school, and the class teacher closing the case
as returned from the roll call. Scope: another township's officer sees nothing and their forged taps change
nothing; a card the case has moved past is refused as stale."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from bot.cases import run_ladder
from bot.fakeapi import FakeTelegram, FakeUser
from bot.fakeapi.state import Record
from bot.policy import load_policy
from bot.settings import Settings
from handlers.cases import STAGES, CaseCard, CaseDo, Do
from storage.models import (
    Absence,
    Case,
    CaseEvent,
    CaseOutcome,
    CaseStage,
    Person,
    PersuasionAttempt,
    Role,
    RollCall,
    StaffRole,
    SupportReferral,
    Term,
    Township,
)
from tests.flows.conftest import TOKEN
from tests.seed import World, link

TEACHER_ID, OFFICER_ID, TOWNSHIP_ID, FATHER_ID, STRANGER_ID = 101, 301, 401, 201, 501
ABSENT_DAYS = (date(2026, 9, 7), date(2026, 9, 8), date(2026, 9, 9))


@pytest.fixture
def settings(db_url, telegram) -> Settings:
    return Settings(_env_file=None, bot_token=TOKEN, bot_username="quanxue_bot", telegram_api=telegram.base_url,
                    database_url=db_url, send_rate_global=1000, send_rate_per_chat=1000, sender_poll_seconds=0.05)


def opened(telegram: FakeTelegram, user_id: int, name: str) -> FakeUser:
    user = telegram.user(user_id, name, language_code="zh-hans")
    user.state.started = True
    return user


@pytest.fixture
async def people(app, telegram: FakeTelegram, world: World, clock) -> SimpleNamespace:
    """王丽 (teacher), 赵强 (school officer), 孙敏 (township officer), 李建国 (father of 李明), and 钱多, the officer of
    another township."""
    telegram.set_rate_limits(per_chat_rate=1000, per_chat_burst=1000)
    async with app.sessions() as session, session.begin():
        now = clock.now()
        for person, telegram_id in ((world.teacher, TEACHER_ID), (world.officer, OFFICER_ID),
                                    (world.township_officer, TOWNSHIP_ID), (world.father_li, FATHER_ID)):
            await link(session, person, telegram_id, now)
        other = Township(name="白石乡", county_id=world.township.county_id)
        stranger = Person(name="钱多", phone="13900000999", created_at=now, updated_at=now)
        session.add_all([other, stranger])
        await session.flush()
        session.add(StaffRole(person_id=stranger.id, role=Role.TOWNSHIP_OFFICER, township_id=other.id))
        await link(session, stranger, STRANGER_ID, now)
        session.add(Term(county_id=world.township.county_id, name="2026年秋季学期", start_date=date(2026, 9, 1),
                         end_date=date(2027, 1, 22)))
    return SimpleNamespace(
        teacher=opened(telegram, TEACHER_ID, "丽"), officer=opened(telegram, OFFICER_ID, "强"),
        township=opened(telegram, TOWNSHIP_ID, "敏"), father=opened(telegram, FATHER_ID, "建国"),
        stranger=opened(telegram, STRANGER_ID, "多"),
    )


async def open_case(app, world: World, clock) -> int:
    """李明 absent without explanation Monday to Wednesday; the tick on Wednesday evening opens his case."""
    async with app.sessions() as session, session.begin():
        for day in ABSENT_DAYS:
            at = datetime.fromisoformat(f"{day.isoformat()}T09:00:00+08:00")
            roll_call = RollCall(class_id=world.school_class.id, day=day, opened_by=world.teacher.id,
                                 submitted_by=world.teacher.id, submitted_at=at, revision=1)
            session.add(roll_call)
            await session.flush()
            session.add(Absence(student_id=world.li_ming.id, roll_call_id=roll_call.id, day=day, reason="unexplained",
                                recorded_by=world.teacher.id, recorded_at=at))
    clock.set(datetime.fromisoformat("2026-09-09T18:00:00+08:00"))
    async with app.sessions() as session, session.begin():
        report = await run_ladder(session, app.settings, load_policy(app.settings), clock.now())
        assert report.opened == 1
        case_id = await session.scalar(select(Case.id).where(Case.student_id == world.li_ming.id))
    await app.sender.drain()
    return case_id


async def case_row(app, case_id: int) -> Case:
    async with app.sessions() as session:
        return await session.get(Case, case_id)


async def count(app, model, **where) -> int:
    async with app.sessions() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return await session.scalar(query)


async def tap_starting(user: FakeUser, prefix: str, message: Record | None = None) -> list[Record]:
    record = message or next(r for r in reversed(user.bot_messages()) if any(b.startswith(prefix)
                                                                             for b in r.buttons()))
    label = next(label for label in record.buttons() if label.startswith(prefix))
    return await user.tap(label, record)


async def open_card(user: FakeUser, child: str = "李明") -> Record:
    [listing] = await user.send("/cases")
    assert child in listing.text
    await tap_starting(user, f"1. {child}", listing)
    return listing  # edited in place into the card


# --- the whole ladder in chat -------------------------------------------------------------------------------------


async def test_from_home_visit_to_return(app, people, world, clock):
    case_id = await open_case(app, world, clock)
    officer, township, father, teacher = people.officer, people.township, people.father, people.teacher
    persuasion_notice = next(r for r in father.bot_messages() if r.buttons())
    assert any(label.startswith("🤝") for label in persuasion_notice.buttons())

    # the school officer: /cases → the case → the guided home-visit record (11 taps and two typed answers)
    [listing] = await officer.send("/cases")
    assert "李明" in listing.text and "三年级1班" in listing.text and "疑似辍学" in listing.text
    assert "缺课 3 个教学日" in listing.text
    card = await open_card(officer)
    assert "李明" in card.text and "2026-" in card.text and "9月7日" in card.text
    assert "📤 上报乡镇" in card.buttons() and "📝 记录劝返" in card.buttons()
    assert "📨 发出复学通知书" not in card.buttons()  # the township's step
    await officer.tap("📝 记录劝返", card)
    assert "怎样联系" in card.text
    await officer.tap("家访", card)
    await officer.tap("今天", card)
    await officer.tap("我自己", card)
    [question] = await officer.send("李明的父亲、奶奶")
    assert "原因" in question.text
    await officer.tap("家庭困难", question)
    await officer.tap("犹豫", question)
    await officer.tap("否", question)
    [check] = await officer.send("下周一再访，申请资助")
    assert "请核对" in check.text and "家访" in check.text and "赵强" in check.text and "家庭困难" in check.text
    await officer.tap("💾 保存", check)
    assert "已记录" in check.text and "劝返记录" in check.text and "下周一再访" in check.text
    async with app.sessions() as session:
        [attempt] = list(await session.scalars(select(PersuasionAttempt)))
    assert (attempt.method, attempt.visitors, attempt.people_met, attempt.reason_found, attempt.attitude,
            attempt.succeeded, attempt.on_day) == ("home_visit", "赵强", "李明的父亲、奶奶", "family_hardship",
                                                  "hesitant", False, date(2026, 9, 9))

    # report to the township: two taps on the card
    await officer.tap("📤 上报乡镇", check)
    assert "辍学报告" in check.text
    await officer.tap("📤 确认上报", check)
    assert "已上报乡镇" in check.text and "孙敏" in check.text
    assert (await case_row(app, case_id)).stage == CaseStage.REPORTED
    await app.sender.drain()
    assert "李明" in township.last().text

    # the township officer: /cases → the case → issue the 复学通知书 (two taps after the card)
    card = await open_card(township)
    assert "已上报乡镇" in card.text and "📨 发出复学通知书" in card.buttons()
    assert "📤 上报乡镇" not in card.buttons()
    await township.tap("📨 发出复学通知书", card)
    await township.tap("📨 确认发出", card)
    assert "复学通知书已发出" in card.text and "李建国" in card.text
    row = await case_row(app, case_id)
    assert row.stage == CaseStage.ORDERED and row.order_deadline is not None
    before = len(father.bot_messages())
    await app.sender.drain()
    assert len(father.bot_messages()) > before and "李明" in father.last().text

    # the guardian: "we need help" on the 劝学书 → which help → getting to school
    produced = await tap_starting(father, "🤝", persuasion_notice)
    assert any(label.startswith("✓ 🤝") for label in persuasion_notice.buttons())
    ask = next(r for r in produced if r is not persuasion_notice)
    assert "什么帮助" in ask.text and len(ask.buttons()) == 4
    transport = ask.buttons()[1]
    produced = await father.tap(transport, ask)
    assert f"✓ {transport}" in ask.buttons()
    assert any("谢谢" in r.text and transport in r.text for r in produced if r is not ask)
    async with app.sessions() as session:
        [referral] = list(await session.scalars(select(SupportReferral)))
    assert referral.kind == "transport" and referral.case_id == case_id and referral.requested_by == world.father_li.id
    await app.sender.drain()
    assert "李明" in officer.last().text

    # the class teacher: the roll call marks 李明 present → 「李明 已返校，结案」 → confirm
    clock.set(datetime.fromisoformat("2026-09-10T08:10:00+08:00"))
    await teacher.send("/roll")
    produced = await teacher.tap("全部到校")
    prompt = next(r for r in produced if "李明 已返校，结案" in r.buttons())
    assert "到校" in prompt.text
    await teacher.tap("李明 已返校，结案", prompt)
    assert "确认结案" in " ".join(prompt.buttons())
    await teacher.tap("✅ 确认结案", prompt)
    assert "已结案" in prompt.text and "已返校" in prompt.text
    row = await case_row(app, case_id)
    assert row.stage == CaseStage.CLOSED and row.outcome == CaseOutcome.RETURNED and row.watch_until is not None
    await app.sender.drain()
    assert "李明" in township.last().text  # it was reported, so the township is told

    # closed cases stay listed for the township under "show closed"
    [listing] = await township.send("/cases")
    assert "没有进行中的案件" in listing.text
    await township.tap("显示已结案", listing)
    assert "李明" in listing.text and "已返校" in listing.text


# --- scope and stale cards ----------------------------------------------------------------------------------------


async def test_another_township_sees_nothing_and_forged_taps_change_nothing(app, people, world, clock):
    case_id = await open_case(app, world, clock)
    async with app.sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        case.stage, case.reported_at = CaseStage.REPORTED, clock.now()
    stranger = people.stranger
    [listing] = await stranger.send("/cases")
    assert "李明" not in listing.text and "没有进行中的案件" in listing.text
    events = await count(app, CaseEvent, case_id=case_id)

    forged = CaseDo(i=case_id, a=Do.ORDER, s=STAGES.index(CaseStage.REPORTED), c=1).pack()
    assert await stranger.tap_data(forged, listing.message_id) == []
    assert stranger.callback_answers[-1] == "您无权查看或处理此案件。"
    assert await stranger.tap_data(CaseCard(i=case_id).pack(), listing.message_id) == []
    assert stranger.callback_answers[-1] == "您无权查看或处理此案件。"
    assert "李明" not in listing.text
    row = await case_row(app, case_id)
    assert row.stage == CaseStage.REPORTED and row.ordered_at is None
    assert await count(app, CaseEvent, case_id=case_id) == events

    # the school officer cannot issue the order either, even with a forged button
    await people.officer.send("/cases")
    assert await people.officer.tap_data(forged, people.officer.last().message_id) == []
    assert people.officer.callback_answers[-1] == "您无权查看或处理此案件。"
    assert (await case_row(app, case_id)).stage == CaseStage.REPORTED


async def test_a_stale_card_is_refused_and_shown_as_it_is(app, people, world, clock):
    case_id = await open_case(app, world, clock)
    officer = people.officer
    card = await open_card(officer)
    await officer.tap("📤 上报乡镇", card)
    # meanwhile the case moves on (the tick files the report itself)
    async with app.sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        case.stage, case.reported_at = CaseStage.REPORTED, clock.now()
    events = await count(app, CaseEvent, case_id=case_id)
    await officer.tap("📤 确认上报", card)
    assert "案件已有新进展" in officer.callback_answers[-1]
    assert "已上报乡镇" in card.text and "📤 确认上报" not in card.buttons()
    assert await count(app, CaseEvent, case_id=case_id) == events

    # a persuasion form left open on the old stage is refused at the end as well
    clock.advance(timedelta(minutes=1))
    async with app.sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        case.stage = CaseStage.OPEN
    card = await open_card(officer)
    await officer.tap("📝 记录劝返", card)
    for label in ("电话", "今天", "我自己", "跳过", "其他原因", "配合"):
        await officer.tap(label, card)
    await officer.tap("是，孩子会返校", card)
    await officer.tap("跳过", card)
    async with app.sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        case.stage = CaseStage.REPORTED
    await officer.tap("💾 保存", card)
    assert "案件已有新进展" in officer.callback_answers[-1]
    assert await count(app, PersuasionAttempt) == 0
