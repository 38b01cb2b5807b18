"""Onboarding end to end: people link their Telegram accounts through the real bot and the fake Bot API server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.notices.outbox import Delivery, enqueue_notice
from bot.onboarding import service as ob
from handlers.consent import ConsentCallback
from storage.models import AuditEvent, Consent, ContactPoint, LinkAttempt, Person, School
from tests.seed import link

CONTACT_BUTTON = "📱 用手机号登录"
UNREACHABLE = {"guardian": "张奶奶", "has_phone": True, "children": [{"name": "张小红", "relation": "奶奶"}]}


@pytest.fixture
async def codes(app, world, clock) -> dict[str, str]:
    async with app.sessions() as session, session.begin():
        invites = await ob.issue_invites(session, clock.now(), app.settings.invite_ttl_days)
    return {invite.name: invite.code for invite in invites}


async def count(app, model, *where) -> int:
    async with app.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def contact_of(app, user) -> ContactPoint | None:
    async with app.sessions() as session:
        return await session.scalar(
            select(ContactPoint).where(ContactPoint.channel == "telegram", ContactPoint.address == str(user.id))
        )


async def person(app, person_id: int) -> Person:
    async with app.sessions() as session:
        return await session.get(Person, person_id)


def texts(records) -> str:
    return "\n".join(record.text or "" for record in records)


async def test_teacher_links_by_code_and_sees_her_class(telegram, app, world, codes):
    teacher = telegram.user(101, "丽")
    replies = await teacher.start(codes["王丽"])
    assert len(replies) == 1
    reply = replies[0].text
    assert "绑定成功" in reply and "王丽 · 班主任 · 青山镇中心小学 三年级1班" in reply
    assert "/help" in reply
    point = await contact_of(app, teacher)
    assert point.person_id == world.teacher.id and point.reachable
    assert (await person(app, world.teacher.id)).locale == "zh_Hans"
    assert await count(app, Consent) == 0  # staff are not asked

    again = await teacher.start()
    assert "王丽" in again[0].text and "三年级1班" in again[0].text


async def audit_rows(app, action: str) -> list[AuditEvent]:
    async with app.sessions() as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                          .order_by(AuditEvent.id)))


async def consents(app) -> list[tuple[int, str, str, str]]:
    async with app.sessions() as session:
        return [(c.person_id, c.text_version, c.locale, c.channel)
                for c in await session.scalars(select(Consent).order_by(Consent.id))]


SENSITIVE, ABROAD = ob.consent_version(ob.ConsentKind.SENSITIVE), ob.consent_version(ob.ConsentKind.ABROAD)


def answer(reply: str, kind: ob.ConsentKind) -> str:
    return ConsentCallback(answer=reply, version=ob.CONSENT_VERSION, kind=kind.value).pack()


async def test_guardian_links_by_code_and_gives_two_consents_one_after_the_other(telegram, app, world, codes, clock):
    async with app.sessions() as session, session.begin():
        (await session.get(School, world.school.id)).office_phone = "0571-8888 1234"
    father = telegram.user(201, "建国")
    replies = await father.start(ob.format_code(codes["李建国"]).lower())  # typed with dash, lower case: fine
    welcome, sensitive = replies
    assert "绑定成功" in welcome.text and "李建国" in welcome.text
    assert "李明 · 三年级1班" in welcome.text and "李华 · 三年级1班" in welcome.text
    # (a) the child's sensitive information: what is kept, and why
    assert "敏感个人信息" in sensitive.text and "不满十四周岁" in sensitive.text and "义务教育法" in sensitive.text
    assert "缺勤原因" in sensitive.text and "跟进记录" in sensitive.text and "/privacy" in sensitive.text
    assert "Telegram" not in sensitive.text
    assert father.buttons() == ["同意", "不同意"]
    assert await count(app, Consent) == 0

    replies = await father.tap("同意")
    assert father.callback_answers[-1] == "谢谢您！"
    assert sensitive.buttons() == []  # the buttons are gone from the first screen
    assert await consents(app) == [(world.father_li.id, SENSITIVE, "zh_Hans", "telegram")]
    # (b) the transfer abroad: the foreign recipient, who holds the data, how long, and that he may refuse
    abroad = replies[-1]
    assert "Telegram" in abroad.text and "境外" in abroad.text
    assert "青山镇中心小学，办公室电话 0571-8888 1234" in abroad.text
    assert "保存 36 个月" in abroad.text
    assert "您可以拒绝" in abroad.text and "打电话或用书面通知" in abroad.text
    assert abroad.buttons() == ["同意", "不同意"]

    thanks = await father.tap("同意")
    assert "已记录您的同意" in texts(thanks)
    assert father.keyboard() == ["📝 请假"]
    assert await consents(app) == [(world.father_li.id, SENSITIVE, "zh_Hans", "telegram"),
                                   (world.father_li.id, ABROAD, "zh_Hans", "telegram")]
    given = await audit_rows(app, "consent_given")
    assert [(row.entity_id, row.details["kind"], row.details["text_version"]) for row in given] == [
        (world.father_li.id, "sensitive", SENSITIVE), (world.father_li.id, "abroad", ABROAD)]

    # stale taps on either screen change nothing
    await father.tap_data(answer("yes", ob.ConsentKind.SENSITIVE), sensitive.message_id)
    assert father.callback_answers[-1] == "您已经同意过了，谢谢您！"
    await father.tap_data(answer("no", ob.ConsentKind.ABROAD), abroad.message_id)
    assert father.callback_answers[-1] == "您已经同意过了，谢谢您！"
    assert await count(app, Consent) == 2 and len(await audit_rows(app, "consent_given")) == 2
    assert (await contact_of(app, father)).person_id == world.father_li.id


async def test_guardian_links_by_sharing_her_phone(telegram, app, world):
    grandma = telegram.user(301, "奶奶", phone="+86 139-0000-1003")
    hello = await grandma.start()
    assert "还没有绑定" in hello[0].text
    assert grandma.keyboard() == [CONTACT_BUTTON]
    replies = await grandma.press(CONTACT_BUTTON)
    assert "绑定成功" in replies[0].text and "张小红 · 三年级1班" in replies[0].text
    assert replies[0].reply_markup == {"remove_keyboard": True}
    assert grandma.keyboard() == []
    assert grandma.buttons() == ["同意", "不同意"]
    point = await contact_of(app, grandma)
    assert point.person_id == world.grandma_zhang.id


async def test_guardian_who_declines_the_first_consent_is_unlinked(telegram, app, world):
    grandma = telegram.user(302, "奶奶", phone="13900001003")
    await grandma.share_contact()
    replies = await grandma.tap("不同意")
    assert "解除绑定" in texts(replies) and "打电话或用书面通知" in texts(replies) and "/start" in texts(replies)
    assert await contact_of(app, grandma) is None
    assert await count(app, Consent) == 0
    [declined] = await audit_rows(app, "consent_declined")
    assert declined.details["kind"] == "sensitive" and declined.details["text_version"] == SENSITIVE
    # and she can link again any time, asked from the first screen again
    again = await grandma.share_contact()
    assert "绑定成功" in again[0].text and "敏感个人信息" in again[-1].text


async def test_guardian_who_declines_the_transfer_abroad_is_unlinked_and_hears_nothing(
    telegram, app, world, clock
):
    grandma = telegram.user(304, "奶奶", phone="13900001003")
    await grandma.share_contact()
    await grandma.tap("同意")
    replies = await grandma.tap("不同意")
    assert "解除绑定" in texts(replies) and "打电话或用书面通知" in texts(replies) and "/start" in texts(replies)
    assert await contact_of(app, grandma) is None
    assert await consents(app) == [(world.grandma_zhang.id, SENSITIVE, "zh_Hans", "telegram")]
    [declined] = await audit_rows(app, "consent_declined")
    assert declined.details["kind"] == "abroad"
    # a notice for her now is for someone to phone her: nothing reaches the chat
    seen = len(grandma.bot_messages())
    async with app.sessions() as session, session.begin():
        delivery = await enqueue_notice(session, app.settings, clock.now(), await session.get_one(
            Person, world.grandma_zhang.id), "guardian_unreachable", UNREACHABLE, "after-decline")
    await app.sender.drain()
    assert delivery is Delivery.NOT_LINKED and len(grandma.bot_messages()) == seen
    # linking again asks only what is still missing: the transfer abroad
    again = await grandma.share_contact()
    assert "绑定成功" in again[0].text and "Telegram" in again[-1].text and "敏感个人信息" not in again[-1].text
    await grandma.tap("同意")
    assert [version for _, version, _, _ in await consents(app)] == [SENSITIVE, ABROAD]


async def test_a_new_consent_version_asks_every_guardian_again(telegram, app, world, clock):
    async with app.sessions() as session, session.begin():
        await link(session, world.father_li, 205, clock.now(), consented=False)
        session.add(Consent(person_id=world.father_li.id, text_version="2026-09", locale="zh_Hans",
                            channel="telegram", accepted_at=clock.now()))  # the single notice of before
    father = telegram.user(205, "建国")
    replies = await father.start()
    assert "敏感个人信息" in replies[-1].text and father.buttons() == ["同意", "不同意"]
    await father.tap("同意")
    await father.tap("同意")
    assert [version for _, version, _, _ in await consents(app)] == ["2026-09", SENSITIVE, ABROAD]
    assert "没有看懂" in (await father.send("你好"))[0].text  # no consent screen any more


async def test_guardian_withdraws_consent(telegram, app, world):
    father = telegram.user(303, "张伟", phone="13900001004")
    await father.share_contact()
    await father.tap("同意")
    await father.tap("同意")
    notice = await father.send("/privacy")
    assert "敏感个人信息" in notice[0].text and "Telegram" in notice[0].text and father.buttons() == ["撤回同意"]
    await father.tap("撤回同意")
    assert father.buttons() == ["确定撤回", "不撤回"]  # asked once more
    assert await count(app, Consent) == 2
    done = await father.tap("确定撤回")
    assert "已撤回" in texts(done)
    assert await count(app, Consent) == 0
    assert await contact_of(app, father) is None


async def test_wrong_code_is_answered_politely_and_nothing_is_stored(telegram, app, world, codes):
    stranger = telegram.user(401, "路人")
    replies = await stranger.start("ABCDE-FGHJK")
    assert "抱歉" in replies[0].text and "邀请码不对" in replies[0].text
    assert await count(app, ContactPoint) == 0
    assert await count(app, LinkAttempt) == 1
    typed = await stranger.send("abcd efgh jk")  # a typed code is tried too
    assert "邀请码不对" in typed[0].text


async def test_expired_code(telegram, app, world, codes, clock):
    clock.advance(timedelta(days=31))
    teacher = telegram.user(102, "丽")
    replies = await teacher.start(codes["王丽"])
    assert "已经失效" in replies[0].text
    assert await contact_of(app, teacher) is None


async def test_used_code_from_another_account(telegram, app, world, codes):
    first = telegram.user(103, "丽")
    await first.start(codes["王丽"])
    second = telegram.user(104, "冒名")
    replies = await second.start(codes["王丽"])
    assert "已经被使用" in replies[0].text
    assert await contact_of(app, second) is None
    assert (await contact_of(app, first)).person_id == world.teacher.id


async def test_repeated_wrong_codes_are_throttled(telegram, app, world, codes, clock):
    telegram.set_rate_limits(per_chat_rate=100, per_chat_burst=100)  # a person types slower than this test
    guesser = telegram.user(501, "猜")
    for attempt in range(5):
        replies = await guesser.start(f"WRONG{attempt}CODE")
        assert "邀请码不对" in replies[0].text
    blocked = await guesser.start(codes["赵强"])  # even the right code waits
    assert "请等 15 分钟" in blocked[0].text
    assert await contact_of(app, guesser) is None
    clock.advance(timedelta(minutes=16))
    released = await guesser.start(codes["赵强"])
    assert "赵强 · 控辍专干 · 青山镇中心小学" in released[0].text


async def test_someone_elses_contact_is_refused(telegram, app, world):
    user = telegram.user(601, "小王")
    replies = await user.share_contact(phone="13900001003", own=False)
    assert "您自己的手机号" in replies[0].text
    assert user.keyboard() == [CONTACT_BUTTON]
    assert await count(app, ContactPoint) == 0


async def test_staff_cannot_link_by_phone(telegram, app, world):
    teacher = telegram.user(602, "丽", phone="13900000101")
    replies = await teacher.share_contact()
    assert "邀请码" in replies[0].text
    assert await count(app, ContactPoint) == 0


async def test_unlinked_user_gets_no_data(telegram, app, world):
    user = telegram.user(701, "好奇")
    for text in ("李明", "/help", "三年级1班的学生", "/privacy"):
        replies = await user.send(text)
        assert len(replies) == 1
        reply = replies[0].text
        assert "还没有绑定" in reply and "班主任" in reply
        for secret in ("李明", "李华", "张小红", "王丽", "1390000", "三年级"):
            assert secret not in reply
    assert await count(app, ContactPoint) == 0


async def test_linked_user_unknown_text_and_stale_button(telegram, app, world, codes):
    teacher = telegram.user(105, "丽")
    await teacher.start(codes["王丽"])
    replies = await teacher.send("你好")
    assert "没有看懂" in replies[0].text and "/help" in replies[0].text
    await teacher.tap_data("rollcall:old:1", replies[0].message_id)
    assert teacher.callback_answers[-1] == "这个按钮已经失效了。"


async def test_help_is_role_aware(telegram, app, world, codes):
    teacher = telegram.user(106, "丽")
    await teacher.start(codes["王丽"])
    text = (await teacher.send("/help"))[0].text
    assert "班主任" in text and "三年级1班" in text and "点「📋 点名」" in text
    assert "孩子" not in text and "请假" not in text
    assert teacher.keyboard() == ["📋 点名"]

    officer = telegram.user(107, "孙")
    await officer.start(codes["孙敏"])
    text = (await officer.send("/help"))[0].text
    assert "乡镇" in text and "青山镇" in text and "报告会发到这里" in text and "点名" not in text

    father = telegram.user(202, "建国")
    await father.start(codes["李建国"])
    await father.tap("同意")
    await father.tap("同意")
    text = (await father.send("/help"))[0].text
    assert "李明 · 三年级1班" in text and "「📝 请假」" in text and "点名" not in text
    assert father.keyboard() == ["📝 请假"]


async def test_language_switch_is_stored_and_used(telegram, app, world, codes):
    teacher = telegram.user(108, "丽")
    await teacher.start(codes["王丽"])
    await teacher.send("/lang")
    assert teacher.buttons() == ["简体中文", "繁體中文", "English"]
    replies = await teacher.tap("English")
    assert "in English" in texts(replies)
    assert teacher.callback_answers[-1] == "Language: English"
    assert (await person(app, world.teacher.id)).locale == "en"
    text = (await teacher.send("/help"))[0].text
    assert "class teacher" in text and "三年级1班" in text

    await teacher.send("/lang")
    replies = await teacher.tap("繁體中文")
    assert "繁體中文" in texts(replies)
    assert (await person(app, world.teacher.id)).locale == "zh_Hant"
    text = (await teacher.send("/help"))[0].text
    assert "您是以下班級的班主任" in text


async def test_unlinked_language_choice_is_kept_and_becomes_the_persons_on_linking(telegram, app, world, codes):
    user = telegram.user(702, "Visitor")
    await user.send("/lang")
    replies = await user.tap("English")
    assert "not linked yet" in texts(replies)
    assert user.keyboard() == ["📱 Link with my phone number"]
    assert "not linked yet" in texts(await user.send("hello"))  # still English on the next message
    replies = await user.start(codes["赵强"])
    assert "Linked. Welcome, 赵强" in replies[0].text
    assert (await person(app, world.officer.id)).locale == "en"


async def test_account_language_becomes_the_persons_language(telegram, app, world, codes):
    officer = telegram.user(109, "Zhao", language_code="en")
    replies = await officer.start(codes["赵强"])
    assert "Linked. Welcome, 赵强" in replies[0].text and "Dropout-control officer" in replies[0].text
    assert (await person(app, world.officer.id)).locale == "en"
    hk = telegram.user(110, "張", language_code="zh-hk")
    hello = await hk.start()
    assert "您的帳號還沒有綁定" in hello[0].text


async def test_forged_consent_taps_change_nothing(telegram, app, world, codes):
    father = telegram.user(203, "建国")
    replies = await father.start(codes["李建国"])
    notice = replies[-1]
    assert father.buttons() == ["同意", "不同意"]
    yes, no = answer("yes", ob.ConsentKind.SENSITIVE), answer("no", ob.ConsentKind.SENSITIVE)

    teacher = telegram.user(111, "丽")
    await teacher.start(codes["王丽"])
    await teacher.tap_data(yes, notice.message_id)
    assert teacher.callback_answers[-1] == "这个按钮已经失效了。"
    stranger = telegram.user(703, "路人")
    await stranger.tap_data(no, notice.message_id)
    assert stranger.callback_answers[-1] == "这个按钮已经失效了。"
    old = ConsentCallback(answer="yes", version="2000-01", kind="sensitive").pack()
    await father.tap_data(old, notice.message_id)  # an old notice's version is not accepted
    assert father.callback_answers[-1] == "这个按钮已经失效了。"
    # the transfer abroad before the first screen is answered: refused, in either direction
    await father.tap_data(answer("yes", ob.ConsentKind.ABROAD), notice.message_id)
    assert father.callback_answers[-1] == "请先回答前面的问题。"
    await father.tap_data(answer("no", ob.ConsentKind.ABROAD), notice.message_id)
    assert father.callback_answers[-1] == "请先回答前面的问题。"
    await father.tap_data(ConsentCallback(answer="yes", version=ob.CONSENT_VERSION, kind="other").pack(),
                          notice.message_id)
    assert father.callback_answers[-1] == "这个按钮已经失效了。"

    assert await count(app, Consent) == 0 and await audit_rows(app, "consent_declined") == []
    assert (await contact_of(app, father)).person_id == world.father_li.id
    assert (await contact_of(app, teacher)).person_id == world.teacher.id

    # a repeated tap on the first screen, once it is answered, records nothing twice
    await father.tap("同意", notice)
    await father.tap_data(yes, notice.message_id)
    assert father.callback_answers[-1] == "这一项您已经同意过了，谢谢您！"
    await father.tap_data(no, notice.message_id)
    assert father.callback_answers[-1] == "这一项您已经同意过了，谢谢您！"
    assert await consents(app) == [(world.father_li.id, SENSITIVE, "zh_Hans", "telegram")]
    assert (await contact_of(app, father)).person_id == world.father_li.id
