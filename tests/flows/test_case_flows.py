"""The ladder's chat flows end to end over the fake Bot API server: a case opened by the tick over three absences,
the school officer's `/cases` and guided home-visit record, the report to the township, the township's 复学通知书
reaching the guardian, the guardian asking for help with getting to school, and the class teacher closing the case
as returned from the roll call. Scope: another township's officer sees nothing and their forged taps change
nothing; a card the case has moved past is refused as stale. Then the steps off that path: the township's legal
steps once the 复学通知书's deadline has passed (where the policy provides them, and where it does not), closing with
another outcome and its note, help asked for by the school on the family's behalf, a persuasion record on a typed
day with "other" answers, and /cancel; a note typed for a step refused meanwhile comes back with the card as it is;
the family's 「明天返校」 reaches the school with the school day it means."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, func, select

from bot.cases import CASE_ACTION, SUPPORT_ACTION, LegalStepKind, run_ladder
from bot.core.policy import load_policy
from bot.core.scope import load_actor
from bot.core.settings import Settings
from bot.delivery.telegram import NoticeAction
from bot.documents.records import documents_of_case, record_delivery
from bot.fakeapi import FakeTelegram, FakeUser
from bot.fakeapi.state import Record
from bot.records.enrolment import record_enrolment_change
from handlers.cases.base import CaseCard, CaseDo, CaseList, Do
from handlers.forms import FormTap
from storage.models import (
    Absence,
    AuditEvent,
    Case,
    CaseEvent,
    CaseOutcome,
    CaseStage,
    ContactPoint,
    DeliveryManner,
    DocumentKind,
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
from tests.policies import AUTOMATIC_NOTICE
from tests.seed import World, link

TEACHER_ID, OFFICER_ID, TOWNSHIP_ID, FATHER_ID, STRANGER_ID = 101, 301, 401, 201, 501
ABSENT_DAYS = (date(2026, 9, 7), date(2026, 9, 8), date(2026, 9, 9))


LEGAL_STEPS = "[legal_steps]\nenabled = true\n"  # a policy where local regulation provides penalty steps


@pytest.fixture
def policy() -> str:
    """The policy file's text over the shipped defaults and, unless it has a [suspected_dropout] section,
    `AUTOMATIC_NOTICE` (the 劝学书 goes out when the case opens); a test parametrizes it to change them."""
    return ""


@pytest.fixture
def settings(db_url, telegram, policy, tmp_path) -> Settings:
    path = tmp_path / "policy.toml"
    automatic = "" if "[suspected_dropout]" in policy else AUTOMATIC_NOTICE.read_text(encoding="utf-8")
    path.write_text(automatic + "\n" + policy, encoding="utf-8")
    return Settings(_env_file=None, bot_token=TOKEN, bot_username="quanxue_bot", telegram_api=telegram.base_url,
                    database_url=db_url, send_rate_global=1000, send_rate_per_chat=1000, sender_poll_seconds=0.05,
                    policy=path)


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

    # the class teacher marks 李明 present; reported already, so the school officer closes the case: 「已返校」
    clock.set(datetime.fromisoformat("2026-09-10T08:10:00+08:00"))
    await teacher.send("/roll")
    produced = await teacher.tap("全部到校")
    assert not any("李明 已返校，结案" in r.buttons() for r in produced)  # not the teacher's to close any more
    card = await open_card(officer)
    await officer.tap("✅ 结案", card)
    await officer.tap("已返校", card)
    await officer.tap("✅ 确认结案", card)
    assert "已结案" in card.text and "已返校" in card.text
    row = await case_row(app, case_id)
    assert row.stage == CaseStage.CLOSED and row.outcome == CaseOutcome.RETURNED and row.watch_until is not None
    await app.sender.drain()
    assert "李明" in township.last().text  # it was reported, so the township is told
    assert "李明" in teacher.last().text

    # closed cases stay listed for the township under "show closed"
    [listing] = await township.send("/cases")
    assert "没有进行中的个案" in listing.text
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
    assert "李明" not in listing.text and "没有进行中的个案" in listing.text
    events = await count(app, CaseEvent, case_id=case_id)

    forged = CaseDo(i=case_id, a=Do.ORDER, s=CaseStage.REPORTED, c=1).pack()
    assert await stranger.tap_data(forged, listing.message_id) == []
    assert stranger.callback_answers[-1] == "您无权查看或处理此个案。"
    assert await stranger.tap_data(CaseCard(i=case_id).pack(), listing.message_id) == []
    assert stranger.callback_answers[-1] == "您无权查看或处理此个案。"
    assert "李明" not in listing.text
    row = await case_row(app, case_id)
    assert row.stage == CaseStage.REPORTED and row.ordered_at is None
    assert await count(app, CaseEvent, case_id=case_id) == events

    # the school officer cannot issue the order either, even with a forged button: he works on the case, so he
    # hears that the step is not there, and sees the case as it is
    card = await open_card(people.officer)
    shown = card.text
    await people.officer.tap("✅ 结案", card)
    assert card.text != shown
    assert await people.officer.tap_data(forged, card.message_id) == [card]
    assert people.officer.callback_answers[-1] == "此个案现在不能进行这一步，没有做任何更改。"
    assert card.text == shown and "📨 发出复学通知书" not in card.buttons()
    assert (await case_row(app, case_id)).stage == CaseStage.REPORTED


async def test_a_teacher_forging_the_townships_step_changes_nothing(app, people, world, clock):
    """The class teacher works on the case, so a forged 「确认发出」 (the township's return order) is refused as a step
    not there now; the card stays as it is (nothing new is sent)."""
    case_id = await open_case(app, world, clock)
    async with app.sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        case.stage, case.reported_at = CaseStage.REPORTED, clock.now()
    teacher = people.teacher
    card = await open_card(teacher)
    events = await count(app, CaseEvent, case_id=case_id)
    forged = CaseDo(i=case_id, a=Do.ORDER, s=CaseStage.REPORTED, c=1).pack()
    assert await teacher.tap_data(forged, card.message_id) in ([], [card])
    assert teacher.callback_answers[-1] == "此个案现在不能进行这一步，没有做任何更改。"
    assert "📁 李明" in card.text and "📨 发出复学通知书" not in card.buttons()
    row = await case_row(app, case_id)
    assert row.stage == CaseStage.REPORTED and row.ordered_at is None
    assert await count(app, CaseEvent, case_id=case_id) == events


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
    assert "个案已有新进展" in officer.callback_answers[-1]
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
    assert "个案已有新进展" in officer.callback_answers[-1]
    assert await count(app, PersuasionAttempt) == 0


# --- the family's answers to the 劝学书 ------------------------------------------------------------------------------


@pytest.mark.parametrize(("answered", "meant"), [
    ("2026-09-11T19:30:00+08:00", "9月14日周一"),  # a Friday evening
    ("2026-09-30T12:00:00+08:00", "10月8日周四"),  # the day before the National Day holidays
], ids=["friday", "before-national-day"])
async def test_back_tomorrow_on_the_persuasion_notice_names_the_next_school_day(app, people, world, clock, answered,
                                                                                 meant):
    case_id = await open_case(app, world, clock)
    father, teacher, officer = people.father, people.teacher, people.officer
    notice = next(r for r in father.bot_messages() if r.buttons())
    clock.set(datetime.fromisoformat(answered))
    produced = await father.tap("✅ 孩子明天返校", notice)
    assert "✓ ✅ 孩子明天返校" in notice.buttons()
    [thanks] = [r for r in produced if r is not notice]
    assert "谢谢" in thanks.text and "已经转告学校" in thanks.text
    [event] = await events(app, case_id, "guardian_answer")
    assert (event.actor_person_id, event.details["answer"]) == (world.father_li.id, "back_tomorrow")
    await app.sender.drain()
    for person in (officer, teacher):
        told = person.last()
        assert told.text.startswith(f"家长回复劝学书：李明（三年级1班）\n李建国（父亲）回复：明天（{meant}）返校\n"
                                    f"请在{meant}点名时留意孩子是否到校。\n个案编号 ")
        assert f"<b>明天（{meant}）返校</b>" in told.raw and "请明天点名" not in told.text


async def test_only_guardians_answer_the_letter_and_only_staff_write_a_case_note(app, people, world, clock,
                                                                                 telegram):
    """The family's buttons behind the guardian filter, the case note behind the staff filter: the teacher and an
    account nobody linked are refused on the 劝学书's buttons; the father forging the school's 「其他结果」 is refused
    and what he types next is no note; a school officer who lost his role while the note was awaited hears the
    refusal and the note's form ends. Nothing is recorded."""
    case_id = await open_case(app, world, clock)
    events = await count(app, CaseEvent, case_id=case_id)
    stranger = opened(telegram, 999, "路人")
    for user in (people.teacher, stranger):
        for action, value in ((CASE_ACTION, "back_tomorrow"), (SUPPORT_ACTION, "transport")):
            await user.tap_data(NoticeAction(action=action, ref=case_id, value=value).pack(), 1)
            assert user.callback_answers[-1] == "这份通知与您的孩子无关，没有记录任何内容。"
    father = people.father
    await father.tap_data(CaseDo(i=case_id, a=Do.CLOSE, s=CaseStage.OPEN, v=CaseOutcome.OTHER).pack(), 1)
    assert father.callback_answers[-1] == "您无权查看或处理此个案。"
    [reply] = await father.send("孩子不想上学了")
    assert "没有看懂" in reply.text

    officer = people.officer
    card = await open_card(officer)
    await officer.tap("✅ 结案", card)
    await officer.tap("其他结果", card)
    async with app.sessions() as session, session.begin():
        await session.execute(delete(StaffRole).where(StaffRole.person_id == world.officer.id))
    [over] = await officer.send("随父母迁往广东")
    assert over.text == "您无权查看或处理此个案。\n已取消，没有记录任何内容。"
    [reply] = await officer.send("随父母迁往广东")  # the form is over: no longer a note
    assert "没有看懂" in reply.text
    assert (await case_row(app, case_id)).stage == CaseStage.OPEN
    assert await count(app, CaseEvent, case_id=case_id) == events
    assert await count(app, SupportReferral, case_id=case_id) == 0


# --- the township's legal steps -----------------------------------------------------------------------------------


async def order_issued(app, people, world: World, clock) -> int:
    """李明's case (see `open_case`) reported by the school officer and the 复学通知书 issued by the township, on
    Wednesday evening: its deadline, Saturday 9月19日, moves to the next school day, Sunday 9月20日 (调休)."""
    case_id = await open_case(app, world, clock)
    card = await open_card(people.officer)
    await people.officer.tap("📤 上报乡镇", card)
    await people.officer.tap("📤 确认上报", card)
    card = await open_card(people.township)
    await people.township.tap("📨 发出复学通知书", card)
    await people.township.tap("📨 确认发出", card)
    row = await case_row(app, case_id)
    assert row.stage == CaseStage.ORDERED and row.order_deadline == date(2026, 9, 20)
    return case_id


async def tick(app, clock, at: str):
    """The scheduler's ladder at `at`, and its notices delivered."""
    clock.set(datetime.fromisoformat(at))
    async with app.sessions() as session, session.begin():
        report = await run_ladder(session, app.settings, load_policy(app.settings), clock.now())
    await app.sender.drain()
    return report


async def audits(app, action: str) -> list[AuditEvent]:
    async with app.sessions() as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                          .order_by(AuditEvent.id)))


async def record_served(app, clock, officer: Person, case_id: int, kind: DocumentKind) -> None:
    """The officer records today that the document was handed to the guardian (the service the button calls)."""
    async with app.sessions() as session, session.begin():
        actor = await load_actor(session, await session.get(Person, officer.id))
        document = next(d for d in await documents_of_case(session, case_id) if d.kind == kind and not d.copy)
        now = clock.now()
        await record_delivery(session, app.settings, now, actor, document.id, now.astimezone(app.settings.tz).date(),
                              DeliveryManner.IN_PERSON)


async def events(app, case_id: int, kind: str) -> list[CaseEvent]:
    async with app.sessions() as session:
        return list(await session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
                                          .order_by(CaseEvent.id)))


@pytest.mark.parametrize("policy", [LEGAL_STEPS], ids=["legal-steps-enabled"])
async def test_legal_steps_after_the_return_order_goes_unanswered(app, people, world, clock):
    case_id = await order_issued(app, people, world, clock)
    township, officer, teacher = people.township, people.officer, people.teacher
    card = await open_card(township)
    assert "⚖️ 记录法律措施" not in card.buttons()  # not before the order's deadline

    # the Monday after the deadline: the tick tells the township and names the next step the policy provides
    report = await tick(app, clock, "2026-09-21T09:00:00+08:00")
    assert report.orders_overdue == 1
    assert "复学期限已过：李明" in township.last().text and "可记录的下一步：行政处罚告知" in township.last().text
    card = await open_card(township)
    assert "复学通知书期限已过（系统）" in card.text  # the tick's step in the history, by name
    await township.tap("⚖️ 记录法律措施", card)
    assert "乡镇对李明的监护人采取了哪项法律措施" in card.text and "仅作记录" in card.text
    # each step only after the one it needs: the notice of intended penalty (告知) comes first
    assert card.buttons() == ["行政处罚告知书", "◀ 返回个案"]
    await township.tap("行政处罚告知书", card)
    assert "请输入简短备注（如文书编号）" in card.text
    assert card.buttons() == ["⚖️ 不加备注，直接记录", "◀ 返回个案", "✖ 取消"]
    [done] = await township.send("青教罚告〔2026〕3号")
    assert "⚖️ 已记录：行政处罚告知书。" in done.text and "已通知：赵强、王丽" in done.text
    assert "个案 2026-" in done.text and "· 法律措施" in done.text and "法律措施：行政处罚告知书" in done.text
    assert (await case_row(app, case_id)).stage == CaseStage.LEGAL
    [event] = await events(app, case_id, "legal_step")
    assert event.actor_person_id == world.township_officer.id
    assert (event.details["step"], event.details["note"]) == ("penalty_notice", "青教罚告〔2026〕3号")
    [audited] = await audits(app, "case.legal_step")
    assert audited.entity_id == case_id and audited.actor_person_id == world.township_officer.id
    assert audited.details == {"student_id": world.li_ming.id, "stage": "legal", "step": "penalty_notice"}
    await app.sender.drain()
    for person in (officer, teacher):
        told = person.last().text
        assert "法律程序：李明" in told and "乡镇（孙敏）已记录：行政处罚告知" in told and "青教罚告〔2026〕3号" in told

    # the penalty decision and the demand for performance (催告书), without notes; a step recorded is not offered
    # again
    for step, recorded in (("行政处罚决定书", "行政处罚告知书、行政处罚决定书"),
                           ("催告书", "行政处罚告知书、行政处罚决定书、催告书")):
        await township.tap("⚖️ 记录法律措施", done)
        assert "行政处罚告知书" not in done.buttons() and done.buttons() == [step, "◀ 返回个案"]
        await township.tap(step, done)
        await township.tap("⚖️ 不加备注，直接记录", done)
        assert f"⚖️ 已记录：{step}。" in done.text and f"法律措施：{recorded}" in done.text
    assert (await events(app, case_id, "legal_step"))[-1].details["note"] is None

    # the application to the court: only once the guardian's time to seek review (60 days) and to sue (6 months)
    # from the decision has lapsed (行政强制法 art. 53), and 10 days after the 催告书 was delivered (art. 54). Until
    # its delivery is recorded nothing says when; then the card says from when, and until then it is not offered
    court_from = "申请法院强制执行：2027年3月22日周一起可以记录。"  # next year's date carries its year
    assert "起可以记录" not in done.text
    await record_served(app, clock, world.township_officer, case_id, DocumentKind.DEMAND_FOR_PERFORMANCE)
    done = await open_card(township)
    assert court_from in done.text and "⚖️ 记录法律措施" not in done.buttons()
    # a tap on it all the same (a forged button) is refused at once, before any note is asked for
    court = LegalStepKind.COURT_APPLICATION
    for confirmed in (0, 1):
        forged = CaseDo(i=case_id, a=Do.LEGAL, s=CaseStage.LEGAL, v=court, c=confirmed).pack()
        await township.tap_data(forged, done.message_id)
        assert township.callback_answers[-1] == "此个案现在不能进行这一步，没有做任何更改。"
        assert "请输入简短备注" not in township.last().text and "⚖️ 记录法律措施" not in township.last().buttons()
    [reply] = await township.send("（2026）青0102行审3号")  # no note was asked for: this text records nothing
    assert "已记录" not in reply.text and "没有看懂" in reply.text
    assert len(await events(app, case_id, "legal_step")) == 3
    clock.set(datetime.fromisoformat("2027-03-22T09:00:00+08:00"))
    card = await open_card(township)
    assert "起可以记录" not in card.text
    await township.tap("⚖️ 记录法律措施", card)
    assert card.buttons() == ["申请法院强制执行", "◀ 返回个案"]
    await township.tap("申请法院强制执行", card)
    clock.set(datetime.fromisoformat("2027-07-01T09:00:00+08:00"))  # the note comes after the window closed
    [late] = await township.send("（2026）青0102行审3号")
    assert "申请法院强制执行的期限已于2027年" in late.text and "届满。没有做任何更改。" in late.text
    assert len(await events(app, case_id, "legal_step")) == 3
    card = await open_card(township)
    assert "起可以记录" not in card.text and "⚖️ 记录法律措施" not in card.buttons()
    clock.set(datetime.fromisoformat("2027-03-22T09:00:00+08:00"))
    card = await open_card(township)
    await township.tap("⚖️ 记录法律措施", card)
    await township.tap("申请法院强制执行", card)
    [done] = await township.send("（2026）青0102行审3号")
    assert "⚖️ 已记录：申请法院强制执行。" in done.text
    steps = ["penalty_notice", "penalty_decision", "demand_for_performance", "court_application"]
    assert [e.details["step"] for e in await events(app, case_id, "legal_step")] == steps
    assert [a.details["step"] for a in await audits(app, "case.legal_step")] == steps


async def test_without_legal_steps_in_the_policy_the_township_keeps_pressing(app, people, world, clock):
    case_id = await order_issued(app, people, world, clock)
    township = people.township
    await tick(app, clock, "2026-09-21T09:00:00+08:00")
    told = township.last().text
    assert "复学期限已过：李明" in told and "行政处罚" not in told
    assert "村民委员会或居民委员会" in told and "训诫" in told and "家庭教育指导" in told  # the national options
    card = await open_card(township)
    assert "⚖️ 记录法律措施" not in card.buttons() and "✅ 结案" in card.buttons()
    shown, buttons = card.text, card.buttons()

    # a tap for a legal step (an old button, a forged one): the case's own township officer is told the step is
    # not there for this case now (not that the case is none of hers), and the card is shown again as it is
    for v, c in (("", 0), (LegalStepKind.PENALTY_NOTICE, 0), (LegalStepKind.PENALTY_NOTICE, 1)):
        forged = CaseDo(i=case_id, a=Do.LEGAL, s=CaseStage.ORDERED, v=v, c=c).pack()
        await township.tap("✅ 结案", card)  # the message shows something else now: the refusal brings the card back
        assert card.text != shown
        await township.tap_data(forged, card.message_id)
        assert township.callback_answers[-1] == "此个案现在不能进行这一步，没有做任何更改。"
        assert (card.text, card.buttons()) == (shown, buttons)
    [reply] = await township.send("（2026）青教罚决1号")  # no note was asked for: a text records nothing
    assert "已记录" not in reply.text
    assert (await case_row(app, case_id)).stage == CaseStage.ORDERED
    assert await events(app, case_id, "legal_step") == [] and await audits(app, "case.legal_step") == []

    # someone out of scope keeps the refusal
    assert await people.stranger.tap_data(forged, card.message_id) == []
    assert people.stranger.callback_answers[-1] == "您无权查看或处理此个案。"


@pytest.mark.parametrize("policy", [LEGAL_STEPS], ids=["legal-steps-enabled"])
async def test_a_note_typed_for_a_step_refused_meanwhile_is_given_back(app, people, world, clock):
    case_id = await order_issued(app, people, world, clock)
    township = people.township
    await tick(app, clock, "2026-09-21T09:00:00+08:00")
    card = await open_card(township)
    await township.tap("⚖️ 记录法律措施", card)
    await township.tap("行政处罚告知书", card)
    assert "请输入简短备注（如文书编号）" in card.text

    # meanwhile the school records the transfer with the receiving school's confirmation: the case closes
    async with app.sessions() as session, session.begin():
        await record_enrolment_change(session, None, clock, world.li_ming.id, "transfer_out", date(2026, 9, 21),
                                      settings=app.settings, destination_school="外省某小学", document_no="转学-1")
    assert (await case_row(app, case_id)).stage == CaseStage.CLOSED

    note = "青教罚告〔2026〕3号：已于9月20日送达"
    [reply] = await township.send(note)
    assert reply.text.startswith("个案已有新进展，这些按钮已过期。没有做任何更改，以下是个案的最新情况。\n"
                                 f"您输入的备注没有记录，原文如下，可以再用：{note}\n\n📁 李明 · 三年级1班")
    # the card as it is now: closed, with nothing left to record
    assert "· 已结案" in reply.text and "结果：已转学" in reply.text and "⚖️" not in reply.text
    assert reply.buttons() == ["📄 PDF：个案档案和文书", "◀ 全部个案", "🔄 刷新"]  # only the file to print
    assert await events(app, case_id, "legal_step") == [] and await audits(app, "case.legal_step") == []


@pytest.mark.parametrize("policy", [LEGAL_STEPS], ids=["legal-steps-enabled"])
async def test_once_legal_steps_began_the_orders_deadline_is_no_longer_overdue(app, people, world, clock):
    case_id = await order_issued(app, people, world, clock)
    township = people.township
    await tick(app, clock, "2026-09-21T09:00:00+08:00")

    # the order's deadline has passed: overdue in the list and on the card, with one warning sign each
    [listing] = await township.send("/cases")
    assert "复学通知书期限 9月20日周日 ⚠️" in listing.text and listing.text.count("⚠️") == 1
    assert "1. 李明 ⚠️" in listing.buttons()
    await township.tap("1. 李明 ⚠️", listing)
    assert "⚠️ 已逾期：复学通知书期限 9月20日周日\n" in listing.text and listing.text.count("⚠️") == 1

    # the township records its first legal step: the order's deadline is no longer overdue work
    await township.tap("⚖️ 记录法律措施", listing)
    await township.tap("行政处罚告知书", listing)
    await township.tap("⚖️ 不加备注，直接记录", listing)
    assert "⚖️ 已记录：行政处罚告知书。" in listing.text
    assert (await case_row(app, case_id)).stage == CaseStage.LEGAL
    for text in (listing.text, (await township.send("/cases"))[0].text):
        assert "⚠️" not in text and "已逾期" not in text and "9月20日" not in text and "法律措施" in text
    assert "⚠️" not in " ".join(township.last().buttons()) and "1. 李明" in township.last().buttons()
    [listing] = await people.officer.send("/cases")  # the school sees the case too, not overdue
    assert "李明" in listing.text and "法律措施" in listing.text and "⚠️" not in listing.text


# --- closing with another outcome ---------------------------------------------------------------------------------


async def test_closing_with_another_outcome_needs_a_note(app, people, world, clock):
    case_id = await open_case(app, world, clock)
    officer, teacher, township = people.officer, people.teacher, people.township
    card = await open_card(officer)
    await officer.tap("✅ 结案", card)
    assert "李明的个案以什么结果结案" in card.text
    assert card.buttons() == ["已返校", "已转学", "依法批准不到校（休学等）", "其他结果", "◀ 返回个案"]
    await officer.tap("其他结果", card)
    assert "请简要说明李明的个案如何结案（不超过 500 字）" in card.text and card.buttons() == ["◀ 返回个案", "✖ 取消"]

    # back to the case: the note is no longer awaited, and what is typed next closes nothing
    await officer.tap("◀ 返回个案", card)
    assert "✅ 结案" in card.buttons()
    [reply] = await officer.send("家长说下周再说")
    assert "没有看懂" in reply.text
    assert (await case_row(app, case_id)).stage == CaseStage.OPEN and await events(app, case_id, "closed") == []

    await officer.tap("✅ 结案", card)
    await officer.tap("其他结果", card)
    [too_long] = await officer.send("长" * 501)
    assert "501" in too_long.text and "500" in too_long.text
    assert (await case_row(app, case_id)).stage == CaseStage.OPEN
    note = "随父母迁往广东，已在当地入学，等待学籍转接"
    [closed] = await officer.send(note)
    assert "✅ 已结案：其他结果。" in closed.text and "已通知：王丽" in closed.text
    assert "结果：其他结果" in closed.text and f"说明：{note}" in closed.text
    assert closed.buttons() == ["📄 PDF：个案档案和文书", "◀ 全部个案", "🔄 刷新"]  # the file for the archive
    row = await case_row(app, case_id)
    assert (row.stage, row.outcome, row.outcome_note, row.watch_until) == (
        CaseStage.CLOSED, CaseOutcome.OTHER, note, None)
    [event] = await events(app, case_id, "closed")
    assert (event.details["outcome"], event.details["note"], event.actor_person_id) == ("other", note,
                                                                                         world.officer.id)
    [audited] = await audits(app, "case.closed")
    assert audited.details == {"student_id": world.li_ming.id, "stage": "closed", "outcome": "other"}
    await app.sender.drain()
    told = teacher.last().text
    assert "个案已结案：李明" in told and "结果：其他" in told and f"说明：{note}" in told and "确认人：赵强" in told
    assert not any("李明" in r.text for r in township.bot_messages())  # never reported: not the township's case


# --- help asked for by the school ---------------------------------------------------------------------------------


async def test_staff_ask_for_help_on_the_familys_behalf(app, people, world, clock):
    case_id = await open_case(app, world, clock)
    teacher, officer = people.teacher, people.officer
    card = await open_card(teacher)
    await teacher.tap("🤝 为家庭申请帮扶", card)
    assert "李明的家庭需要什么帮扶" in card.text
    assert card.buttons() == ["上学费用", "上学路途", "学习辅导", "家里无人照看", "◀ 返回个案"]
    await teacher.tap("上学费用", card)
    assert "确定为李明的家庭申请“上学费用”吗" in card.text and card.buttons() == ["🤝 确认申请", "◀ 返回个案"]
    await teacher.tap("🤝 确认申请", card)
    assert "🤝 已申请帮扶：上学费用。" in card.text and "已通知：赵强" in card.text
    assert "上学费用 · 9月9日 18:00 · 待落实" in card.text
    async with app.sessions() as session:
        [referral] = list(await session.scalars(select(SupportReferral)))
    assert (referral.case_id, referral.kind, referral.requested_by, referral.resolved_at) == (
        case_id, "cost", world.teacher.id, None)
    [event] = await events(app, case_id, "support_requested")
    assert event.details == {"referral_id": referral.id, "kind": "cost"}
    [audited] = await audits(app, "case.support_requested")
    assert audited.actor_person_id == world.teacher.id and audited.details["kind"] == "cost"
    await app.sender.drain()
    told = officer.last().text
    assert "需要帮助：李明" in told and "王丽代家里提出：上学费用方面有困难" in told

    # the same help again: nothing new is stored and nobody is told twice
    before = len(officer.bot_messages())
    card = await open_card(teacher)
    await teacher.tap("🤝 为家庭申请帮扶", card)
    await teacher.tap("上学费用", card)
    await teacher.tap("🤝 确认申请", card)
    assert "没有变化：这一步之前已经完成。" in card.text
    await app.sender.drain()
    assert len(officer.bot_messages()) == before and await count(app, SupportReferral) == 1

    # the school officer asks for help with lessons himself: recorded; he is the one who arranges it
    card = await open_card(officer)
    await officer.tap("🤝 为家庭申请帮扶", card)
    await officer.tap("学习辅导", card)
    await officer.tap("🤝 确认申请", card)
    assert "🤝 已申请帮扶：学习辅导。" in card.text and "已通知" not in card.text
    assert "上学费用 · 9月9日 18:00 · 待落实" in card.text and "学习辅导 · 9月9日 18:00 · 待落实" in card.text
    async with app.sessions() as session:
        rows = (await session.execute(select(SupportReferral.kind, SupportReferral.requested_by)
                                      .order_by(SupportReferral.id))).all()
    assert rows == [("cost", world.teacher.id), ("learning", world.officer.id)]
    await app.sender.drain()
    assert len(officer.bot_messages()) == before + 1  # only the /cases listing he asked for


# --- the persuasion form: a typed day, "other" answers, /cancel ---------------------------------------------------


async def test_persuasion_record_on_a_typed_day_with_other_answers(app, people, world, clock):
    case_id = await open_case(app, world, clock)  # today is Wednesday 9月9日
    officer = people.officer
    card = await open_card(officer)
    await officer.tap("📝 记录劝返", card)
    await officer.tap("其他方式", card)
    assert "是哪一天" in card.text
    await officer.tap("其他日期", card)
    assert "请输入日期，如 2026-09-15 或 9-15" in card.text and card.buttons() == ["◀ 返回", "✖ 取消"]
    for typed, answer in (("上周五吧", "没看懂这个日期"), ("2026-09-10", "这一天还没到"),
                          ("9-10", "这一天还没到"),  # tomorrow, not a year ago
                          ("2026-05-20", "这已经是 90 天以前了")):
        [reply] = await officer.send(typed)
        assert answer in reply.text and reply.buttons() == []
    [step] = await officer.send("９月８日")  # full-width digits, as a Chinese keyboard may type them
    assert "谁去的（或谁打的电话）" in step.text and step.buttons() == ["我自己", "◀ 返回", "✖ 取消"]
    [step] = await officer.send("赵强、王丽")
    assert "见到了谁" in step.text
    await officer.tap("跳过", step)
    await officer.tap("其他原因", step)
    await officer.tap("未见到监护人", step)
    await officer.tap("否", step)
    [check] = await officer.send("请村委会协助联系监护人")
    for line in ("方式：其他方式", "日期：9月8日周二", "走访人：赵强、王丽", "了解到的原因：其他原因",
                 "监护人态度：未见到监护人", "结果：未成功", "下一步：请村委会协助联系监护人"):
        assert line in check.text
    assert "见到" not in check.text.split("请核对")[1].replace("未见到监护人", "")  # people met was skipped
    await officer.tap("💾 保存", check)
    assert officer.callback_answers[-1] == "已保存。" and "✅ 已记录本次劝返。" in check.text
    assert "9月8日周二 其他方式 · 赵强、王丽 · 其他原因 · 未见到监护人 · 未成功" in check.text
    async with app.sessions() as session:
        [attempt] = list(await session.scalars(select(PersuasionAttempt)))
    assert (attempt.on_day, attempt.method, attempt.visitors, attempt.people_met, attempt.reason_found,
            attempt.attitude, attempt.succeeded, attempt.next_step, attempt.recorded_by) == (
        date(2026, 9, 8), "other", "赵强、王丽", None, "other", "not_met", False, "请村委会协助联系监护人",
        world.officer.id)
    assert (await case_row(app, case_id)).reason_found == "other"
    [event] = await events(app, case_id, "persuasion_recorded")
    assert (event.details["on_day"], event.details["method"], event.details["reason"]) == ("2026-09-08", "other",
                                                                                          "other")
    [audited] = await audits(app, "case.persuasion_recorded")
    assert audited.details["attempt_id"] == attempt.id and audited.details["succeeded"] is False


async def test_cancel_leaves_the_case_form_and_its_buttons(app, people, world, clock):
    case_id = await open_case(app, world, clock)
    officer = people.officer
    card = await open_card(officer)
    await officer.tap("📝 记录劝返", card)
    await officer.tap("家访", card)
    await officer.tap("今天", card)
    [step] = await officer.send("赵强")
    assert "见到了谁" in step.text
    [cancelled] = await officer.send("/cancel")
    assert cancelled.text == "已取消，没有记录任何内容。"
    [reply] = await officer.send("李明的奶奶")  # no longer an answer to the form
    assert "没有看懂" in reply.text
    await officer.tap("跳过", step)  # a button of the abandoned form
    assert officer.callback_answers[-1] == "这份记录表已结束。请用 /cases 重新打开个案。"
    assert step.buttons() == []
    assert await count(app, PersuasionAttempt) == 0

    # the form's own ✖ 取消: the card again
    card = await open_card(officer)
    await officer.tap("📝 记录劝返", card)
    await officer.tap("✖ 取消", card)
    assert officer.callback_answers[-1] == "已取消，没有记录任何内容。"
    assert "📁 李明" in card.text and "📝 记录劝返" in card.buttons()

    # /cancel while a closing note is awaited
    await officer.tap("✅ 结案", card)
    await officer.tap("其他结果", card)
    [cancelled] = await officer.send("/cancel")
    assert cancelled.text == "已取消，没有记录任何内容。"
    [reply] = await officer.send("已转学")
    assert "没有看懂" in reply.text
    assert (await case_row(app, case_id)).stage == CaseStage.OPEN
    assert await count(app, PersuasionAttempt) == 0 and await events(app, case_id, "closed") == []


# --- the return waits for the teacher's confirmation --------------------------------------------------------------


async def test_the_teacher_reminded_to_confirm_the_return_closes_the_case_with_one_tap(app, people, world, clock):
    case_id = await open_case(app, world, clock)  # 李明 absent Monday to Wednesday 9月7–9日
    async with app.sessions() as session, session.begin():
        for day in (date(2026, 9, 10), date(2026, 9, 11)):  # present Thursday and Friday; nobody taps 「已返校」
            session.add(RollCall(class_id=world.school_class.id, day=day, opened_by=world.teacher.id,
                                 submitted_by=world.teacher.id, revision=1,
                                 submitted_at=datetime.fromisoformat(f"{day.isoformat()}T08:30:00+08:00")))
    teacher = people.teacher
    report = await tick(app, clock, "2026-09-11T18:00:00+08:00")
    assert report.return_reminders == 1
    reminder = teacher.last()
    assert "李明" in reminder.text and "三年级1班" in reminder.text and "2 个教学日" in reminder.text
    assert reminder.buttons() == ["✅ 已返校，结案"]
    await teacher.tap("✅ 已返校，结案", reminder)
    assert "已结案" in reminder.text and "已返校" in reminder.text
    row = await case_row(app, case_id)
    assert row.stage == CaseStage.CLOSED and row.outcome == CaseOutcome.RETURNED and row.watch_until is not None
    assert [e.kind for e in await events(app, case_id, "closed")] == ["closed"]
    # closed: the officer is never reminded
    assert (await tick(app, clock, "2026-09-17T08:00:00+08:00")).return_escalations == 0
    assert await count(app, CaseEvent, case_id=case_id, kind="closed") == 1


async def test_opening_the_card_is_the_one_read_that_is_audited(app, people, world, clock):
    await open_case(app, world, clock)
    officer, teacher = people.officer, people.teacher
    await officer.send("/cases")  # a list: no one opened a child's file
    assert await audits(app, "case.viewed") == []
    card = await open_card(officer)
    await officer.tap("📤 上报乡镇", card)  # a step on the card: recorded as the step, not as another view
    assert [a.actor_person_id for a in await audits(app, "case.viewed")] == [world.officer.id]
    clock.set(datetime.fromisoformat("2026-09-10T08:10:00+08:00"))  # the next school day: 李明 is back
    await teacher.send("/roll")
    produced = await teacher.tap("全部到校")  # the "back at school?" offer reads the case without opening it
    assert any("李明 已返校，结案" in r.buttons() for r in produced)
    assert [a.actor_person_id for a in await audits(app, "case.viewed")] == [world.officer.id]


async def test_the_case_list_refuses_anyone_who_is_not_staff(app, people, world, clock):
    await open_case(app, world, clock)
    [refused] = await people.father.send("/cases")
    assert refused.text == "个案列表仅供班主任、学校控辍专干和乡镇专干使用。"
    await people.father.tap_data(CaseList(c=0).pack(), refused.message_id)
    assert people.father.callback_answers[-1] == "您无权查看或处理此个案。"


# --- the 劝学书 confirmed by the school officer ---------------------------------------------------------------------

OFFICER_CONFIRMS = "[suspected_dropout]\npersuasion_notice = \"officer_confirms\"\n"


@pytest.mark.parametrize("policy", [OFFICER_CONFIRMS], ids=["officer-confirms"])
async def test_the_officer_sends_the_letter_with_one_tap(app, people, world, clock):
    case_id = await open_case(app, world, clock)
    officer, father, teacher, stranger = people.officer, people.father, people.teacher, people.stranger
    assert not any("劝学书" in r.text for r in father.bot_messages())  # not before the officer's tap
    alert = next(r for r in reversed(officer.bot_messages()) if "✉️ 发出劝学书" in r.buttons())
    assert "派人劝返后" in alert.text
    assert "今天就给家长打电话" in teacher.last().text  # the same-day phone request stays

    # someone else's tap on the button (a forged one) is refused and sends nothing
    data = next(b["callback_data"] for row in alert.reply_markup["inline_keyboard"] for b in row
                if b["text"] == "✉️ 发出劝学书")
    await stranger.tap_data(data, alert.message_id)
    assert (await case_row(app, case_id)).persuasion_deadline is None

    await officer.tap("✉️ 发出劝学书", alert)
    assert "劝学书已发给家长" in alert.text and "📁 李明" in alert.text
    assert (await case_row(app, case_id)).persuasion_deadline == date(2026, 9, 16)  # seven days from the tap
    await app.sender.drain()
    letter = father.last()
    assert "劝学书" in letter.text and "2026年9月16日" in letter.text and "县教育局" in letter.text
    await officer.tap_data(data, alert.message_id)  # the old button again: nothing new
    assert "劝学书之前已经发出" in alert.text
    await app.sender.drain()
    assert father.last() is letter


async def county_officer(app, telegram: FakeTelegram, world: World, clock) -> FakeUser:
    """吴卫东, the 县教育局 officer of the world's county, linked to the bot."""
    async with app.sessions() as session, session.begin():
        bureau = Person(name="吴卫东", phone="13900000401", created_at=clock.now(), updated_at=clock.now())
        session.add(bureau)
        await session.flush()
        session.add(StaffRole(person_id=bureau.id, role=Role.COUNTY_OFFICER, county_id=world.township.county_id))
        await link(session, bureau, 901, clock.now())
    return opened(telegram, 901, "卫东")


async def test_the_county_lists_its_reported_cases(app, telegram, people, world, clock):
    case_id = await open_case(app, world, clock)
    county = await county_officer(app, telegram, world, clock)
    [listing] = await county.send("/cases")
    assert "李明" not in listing.text  # not reported yet: the school's work
    await people.officer.tap("📤 上报乡镇", await open_card(people.officer))
    await people.officer.tap("📤 确认上报", people.officer.last())
    assert (await case_row(app, case_id)).stage == CaseStage.REPORTED
    await app.sender.drain()
    assert "辍学报告（抄送县教育局）：李明" in county.last().text
    [listing] = await county.send("/cases")
    assert "李明" in listing.text


async def test_child_labour_found_asks_whether_the_authorities_were_told(app, people, world, clock):
    await open_case(app, world, clock)
    officer = people.officer
    card = await open_card(officer)
    await officer.tap("📝 记录劝返", card)
    await officer.tap("其他方式", card)
    await officer.tap("今天", card)
    await officer.tap("我自己", card)
    await officer.tap("跳过", card)
    await officer.tap("外出务工", card)
    assert "应当立即向有关部门报告（《未成年人保护法》第十一条）" in card.text
    assert card.buttons() == ["已报告", "尚未报告", "◀ 返回", "✖ 取消"]
    [reply] = await officer.send("报了")
    assert "请点上面的按钮之一" in reply.text  # a tap is expected here
    await officer.tap("尚未报告", card)
    await officer.tap("未见到监护人", card)
    await officer.tap("否", card)
    await officer.tap("跳过", card)
    assert "了解到的原因：外出务工" in card.text and "向有关部门报告：尚未报告" in card.text
    await officer.tap("💾 保存", card)
    assert officer.callback_answers[-1] == "已保存。"
    async with app.sessions() as session:
        [attempt] = list(await session.scalars(select(PersuasionAttempt)))
    assert (attempt.reason_found, attempt.authorities_told) == ("gone_to_work", False)


async def test_other_reasons_are_not_asked_about_the_authorities(app, people, world, clock):
    await open_case(app, world, clock)
    officer = people.officer
    card = await open_card(officer)
    for label in ("📝 记录劝返", "其他方式", "今天", "我自己", "跳过", "其他原因"):
        await officer.tap(label, card)
    assert "监护人的态度如何" in card.text and "有关部门" not in card.text


# --- the persuasion form's ◀ Back, ✖ Cancel, stale taps, and a role lost mid-form --------------------------------


def form_tap(record: Record, label: str) -> FormTap:
    """The form button `label` of `record`, unpacked (to forge taps of the same form run)."""
    return FormTap.unpack(next(b["callback_data"] for b in record.inline_buttons() if b["text"] == label))


async def test_persuasion_back_goes_to_the_previous_step_and_keeps_nothing_it_undid(app, people, world, clock):
    await open_case(app, world, clock)  # today is Wednesday 9月9日
    officer = people.officer
    card = await open_card(officer)
    await officer.tap("📝 记录劝返", card)
    assert "◀ 返回" not in card.buttons()  # the first step has nothing before it
    await officer.tap("家访", card)
    await officer.tap("今天", card)
    assert "谁去的" in card.text
    await officer.tap("◀ 返回", card)
    assert "是哪一天" in card.text and card.buttons() == ["今天", "昨天", "其他日期", "◀ 返回", "✖ 取消"]
    await officer.tap("◀ 返回", card)
    assert "怎样联系" in card.text
    await officer.tap("电话", card)
    await officer.tap("昨天", card)
    await officer.tap("我自己", card)
    await officer.tap("跳过", card)
    await officer.tap("外出务工", card)
    assert "有关部门" in card.text
    await officer.tap("◀ 返回", card)  # another reason after all: no question about the authorities
    await officer.tap("家庭困难", card)
    for label in ("配合", "是，孩子会返校", "跳过"):
        await officer.tap(label, card)
    assert "方式：电话" in card.text and "日期：9月8日周二" in card.text and "有关部门" not in card.text
    await officer.tap("◀ 返回", card)
    assert "下一步" in card.text and "跳过" in card.buttons()
    await officer.tap("跳过", card)
    await officer.tap("💾 保存", card)
    assert officer.callback_answers[-1] == "已保存。"
    async with app.sessions() as session:
        [attempt] = list(await session.scalars(select(PersuasionAttempt)))
    assert (attempt.method, attempt.on_day, attempt.reason_found, attempt.authorities_told, attempt.succeeded) == (
        "phone", date(2026, 9, 8), "family_hardship", None, True)


async def test_persuasion_stale_and_forged_taps_change_nothing(app, people, world, clock):
    await open_case(app, world, clock)
    officer = people.officer
    card = await open_card(officer)
    await officer.tap("📝 记录劝返", card)
    earlier = form_tap(card, "家访")
    await officer.tap("家访", card)
    await officer.tap("今天", card)
    shown, buttons = card.text, card.buttons()
    # a step already answered (the same run of the form), then a button of an earlier run
    for forged in (earlier, earlier.model_copy(update={"n": "0000", "step": "visitors"})):
        assert await officer.tap_data(forged.pack(), card.message_id) == []
        assert officer.callback_answers[-1] == "这个按钮属于前面的步骤，没有做任何更改。请回答最新的问题。"
        assert (card.text, card.buttons()) == (shown, buttons)
    # an answer the step does not offer
    forged = form_tap(card, "我自己").model_copy(update={"step": "method", "v": "fax"})
    assert await officer.tap_data(forged.pack(), card.message_id) == []
    assert card.text == shown
    await officer.tap("我自己", card)  # the form goes on where it was
    assert "见到了谁" in card.text
    assert await count(app, PersuasionAttempt) == 0


async def test_persuasion_form_of_someone_unlinked_mid_form_ends(app, people, world, clock):
    await open_case(app, world, clock)
    officer = people.officer
    card = await open_card(officer)
    await officer.tap("📝 记录劝返", card)
    await officer.tap("家访", card)
    async with app.sessions() as session, session.begin():  # the officer is unlinked meanwhile
        await session.delete(await session.scalar(
            select(ContactPoint).where(ContactPoint.person_id == world.officer.id)))
    await officer.tap("今天", card)
    assert officer.callback_answers[-1] == "您无权查看或处理此个案。\n已取消，没有记录任何内容。"
    assert "是哪一天" in card.text  # nothing more is shown
    await officer.tap("今天", card)  # the form is over
    assert officer.callback_answers[-1] == "这份记录表已结束。请用 /cases 重新打开个案。" and card.buttons() == []
    assert await count(app, PersuasionAttempt) == 0


async def test_a_menu_button_leaves_the_note_and_its_old_or_forged_buttons_change_nothing(app, people, world, clock):
    """The case note is a form: 「📋 点名」 pressed while the note is awaited ends it and the roll call answers, so
    what is typed next is no note; its ✖ 取消 shows the card again; a forged button of it and a button of a note
    that is over change nothing."""
    case_id = await open_case(app, world, clock)
    officer = people.officer
    card = await open_card(officer)
    await officer.tap("✅ 结案", card)
    await officer.tap("其他结果", card)
    assert "请简要说明李明的个案如何结案" in card.text
    rolled = await officer.send("📋 点名")
    assert rolled and "三年级1班" in " ".join(r.text + " ".join(r.buttons()) for r in rolled)
    [reply] = await officer.send("随父母迁往广东")  # no longer the note
    assert "没有看懂" in reply.text
    assert (await case_row(app, case_id)).stage == CaseStage.OPEN and await events(app, case_id, "closed") == []
    await officer.tap("✖ 取消", card)  # a button of the note that is over
    assert officer.callback_answers[-1] == "这一步已结束。请发送 /cases 重新开始。" and card.buttons() == []

    card = await open_card(officer)
    await officer.tap("✅ 结案", card)
    await officer.tap("其他结果", card)
    forged = FormTap(form="case_note", n="0000", step="text", do="cancel").pack()
    await officer.tap_data(forged, card.message_id)
    assert officer.callback_answers[-1] == "这个按钮属于前面的步骤，没有做任何更改。请回答最新的问题。"
    assert "请简要说明李明的个案如何结案" in card.text  # still awaited
    await officer.tap("✖ 取消", card)
    assert officer.callback_answers[-1] == "已取消，没有记录任何内容。"
    assert "📁 李明" in card.text and "✅ 结案" in card.buttons()  # the card again
    [reply] = await officer.send("随父母迁往广东")
    assert "没有看懂" in reply.text
    assert (await case_row(app, case_id)).stage == CaseStage.OPEN and await events(app, case_id, "closed") == []
    # the menu button's command, /roll, ends it as well
    await officer.tap("✅ 结案", card)
    await officer.tap("其他结果", card)
    assert await officer.send("/roll")
    [reply] = await officer.send("随父母迁往广东")
    assert "没有看懂" in reply.text
    assert (await case_row(app, case_id)).stage == CaseStage.OPEN and await events(app, case_id, "closed") == []
