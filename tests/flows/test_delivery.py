"""Delivery end to end: outbox rows → the real Sender → the real aiogram Bot → the fake Bot API server over HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.core.settings import Settings
from bot.delivery.sender import LEASE, Sender
from bot.delivery.telegram import NoticeAction, TelegramTransport
from bot.fakeapi import FakeTelegram, FakeUser
from bot.notices.outbox import Action, enqueue_notice
from storage.models import AuditEvent, ContactPoint, OutboxMessage, OutboxStatus, Person
from tests.flows.conftest import TOKEN
from tests.seed import link

TEMPLATE = "guardian_unreachable"  # any notice template will do; this one is delivery's own


@pytest.fixture
def settings(db_url, telegram) -> Settings:
    """The fake server's limits are generous in flow tests; so are ours, except where pacing is the point."""
    return Settings(
        _env_file=None,
        bot_token=TOKEN,
        bot_username="quanxue_bot",
        telegram_api=telegram.base_url,
        database_url=db_url,
        send_rate_global=1000,
        send_rate_per_chat=1000,
        sender_poll_seconds=0.05,
    )


def opened(telegram: FakeTelegram, user_id: int, name: str) -> FakeUser:
    """A Telegram user who has opened the bot before (so the bot may write to them)."""
    user = telegram.user(user_id, name)
    user.state.started = True
    return user


async def link_people(app, clock, *pairs: tuple[Person, int]) -> None:
    async with app.sessions() as session, session.begin():
        for person, telegram_id in pairs:
            await link(session, person, telegram_id, clock.now())


async def queue(app, clock, person: Person, texts: list[str], **kwargs) -> None:
    """One notice per text (the text is the notice's `guardian` value, so it is easy to find in the chat)."""
    async with app.sessions() as session, session.begin():
        recipient = await session.get(Person, person.id)
        for text in texts:
            values = {"guardian": text, "has_phone": False, "children": [{"name": "李明", "relation": None}]}
            await enqueue_notice(session, app.settings, clock.now(), recipient, TEMPLATE, values, f"test:{text}",
                                 **kwargs)


def markers(user: FakeUser, prefix: str) -> list[str]:
    """The test markers found in the bot's messages to `user`, in the order they arrived."""
    found = []
    for record in user.bot_messages():
        found += [word for word in record.text.replace("（", " ").replace("(", " ").split() if word.startswith(prefix)]
    return found


async def outbox(app) -> list[OutboxMessage]:
    async with app.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def contact_of(app, person: Person) -> ContactPoint:
    async with app.sessions() as session:
        return await session.scalar(select(ContactPoint).where(ContactPoint.person_id == person.id))


def quick_sender(app, **overrides) -> Sender:
    settings = app.settings.model_copy(update=overrides) if overrides else app.settings
    return Sender(app.sessions, {"telegram": TelegramTransport(app.bot)}, app.clock, settings,
                  quick_retries=(0.01, 0.02, 0.04))


async def test_a_notice_arrives_with_buttons_whose_taps_decode(app, world, telegram, clock):
    li = opened(telegram, 2001, "建国")
    await link_people(app, clock, (world.father_li, 2001))
    actions = [[Action("Test: sick", "reply", 41, "sick"), Action("Test: call me", "reply", 41, "call_me")],
               [Action("Test: seen", "seen", 41)]]
    await queue(app, clock, world.father_li, ["n-1"], actions=actions)
    taps: list[str] = []

    async def spy(handler, event, data):
        taps.append(event.data)
        return await handler(event, data)

    app.dispatcher.callback_query.outer_middleware(spy)
    await app.sender.drain()

    message = li.last()
    assert message.buttons() == ["Test: sick", "Test: call me", "Test: seen"]
    assert "n-1" in message.text and message.raw.startswith("<b>")
    (row,) = await outbox(app)
    assert (row.status, row.external_id, row.attempts) == (OutboxStatus.SENT, str(message.message_id), 0)
    assert row.sent_at == clock.now()

    await li.tap("Test: call me")
    await li.tap("Test: seen")
    assert [NoticeAction.unpack(data) for data in taps] == [
        NoticeAction(action="reply", ref=41, value="call_me"),
        NoticeAction(action="seen", ref=41, value=""),
    ]


async def test_a_429_storm_pauses_everything_and_delivers_each_once_in_order(app, world, telegram, clock):
    people = [(world.father_li, 2001), (world.grandma_zhang, 2002), (world.father_zhang, 2003)]
    users = [opened(telegram, telegram_id, person.name) for person, telegram_id in people]
    await link_people(app, clock, *people)
    for person, telegram_id in people:
        await queue(app, clock, person, [f"m{telegram_id}-{i}" for i in range(4)])
    telegram.fail_next("sendMessage", 429, count=3, retry_after=1)
    loop = asyncio.get_running_loop()
    started = loop.time()

    await app.sender.drain()

    assert loop.time() - started >= 1.0  # retry_after was honoured
    assert telegram.stats.rate_limited == 3  # the three we injected, and not one more of our own making
    for user, (_, telegram_id) in zip(users, people, strict=True):
        assert markers(user, "m") == [f"m{telegram_id}-{i}" for i in range(4)]
    assert {row.status for row in await outbox(app)} == {OutboxStatus.SENT}


async def test_a_5xx_storm_is_retried_until_each_is_delivered_once(app, world, telegram, clock):
    people = [(world.father_li, 2001), (world.grandma_zhang, 2002)]
    users = [opened(telegram, telegram_id, person.name) for person, telegram_id in people]
    await link_people(app, clock, *people)
    for person, telegram_id in people:
        await queue(app, clock, person, [f"m{telegram_id}-{i}" for i in range(3)])
    telegram.fail_next("sendMessage", 500, count=5)
    sender = quick_sender(app)

    for _ in range(5):  # a row that used up its quick retries waits out its backoff (business time)
        await sender.drain()
        if {row.status for row in await outbox(app)} == {OutboxStatus.SENT}:
            break
        clock.advance(timedelta(hours=1))
    assert {row.status for row in await outbox(app)} == {OutboxStatus.SENT}
    for user, (_, telegram_id) in zip(users, people, strict=True):
        assert markers(user, "m") == [f"m{telegram_id}-{i}" for i in range(3)]
    assert telegram.stats.calls["sendMessage"] == 6 + 5


async def test_a_guardian_who_never_started_the_bot_is_phoned_by_the_teacher(app, world, telegram, clock):
    teacher = opened(telegram, 1001, "王丽")
    telegram.user(2002, "张奶奶")  # has Telegram, never opened the bot
    # father_zhang (2003) is not known to Telegram at all: "chat not found"
    await link_people(app, clock, (world.teacher, 1001), (world.grandma_zhang, 2002), (world.father_zhang, 2003))
    await queue(app, clock, world.grandma_zhang, ["g-1", "g-2"])
    await queue(app, clock, world.father_zhang, ["f-1"])

    await app.sender.drain()

    by_person = Counter((row.person_id, row.status) for row in await outbox(app))
    assert by_person[(world.grandma_zhang.id, OutboxStatus.UNREACHABLE)] == 2
    assert by_person[(world.father_zhang.id, OutboxStatus.UNREACHABLE)] == 1
    assert by_person[(world.teacher.id, OutboxStatus.SENT)] == 2  # one per unreachable guardian
    grandma, father = await contact_of(app, world.grandma_zhang), await contact_of(app, world.father_zhang)
    assert (grandma.reachable, grandma.unreachable_since) == (False, clock.now())
    assert father.reachable is False
    texts = [record.text for record in teacher.bot_messages()]
    assert any("张奶奶" in text and "张小红" in text and "花名册" in text for text in texts)
    assert any("张伟" in text and "花名册" in text for text in texts)
    assert not any("1390000" in text for text in texts)  # the number stays in the roster
    assert telegram.stats.calls["sendMessage"] == 2 + 2  # the rest of grandma's batch was not even tried


async def test_blocking_the_bot_marks_the_guardian_at_once_and_unblocking_restores(app, world, telegram, clock):
    teacher = opened(telegram, 1001, "王丽")
    grandma = opened(telegram, 2002, "张奶奶")
    await link_people(app, clock, (world.teacher, 1001), (world.grandma_zhang, 2002))
    await queue(app, clock, world.grandma_zhang, ["g-1"])

    await grandma.block()

    contact = await contact_of(app, world.grandma_zhang)
    assert (contact.reachable, contact.unreachable_since) == (False, clock.now())
    rows = await outbox(app)
    assert [(row.person_id, row.status) for row in rows] == [
        (world.grandma_zhang.id, OutboxStatus.UNREACHABLE),  # stopped before anyone tried to send it
        (world.teacher.id, OutboxStatus.PENDING),
    ]
    await app.sender.drain()
    assert "花名册" in teacher.last().text and "张小红" in teacher.last().text
    assert "13900001003" not in teacher.last().text
    assert telegram.stats.calls["sendMessage"] == 1

    await grandma.block()  # Telegram repeats itself sometimes: still one notice to the teacher
    await app.sender.drain()
    assert len(teacher.bot_messages()) == 1

    await grandma.unblock()
    contact = await contact_of(app, world.grandma_zhang)
    assert (contact.reachable, contact.unreachable_since) == (True, None)
    async with app.sessions() as session:
        actions = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == contact.person_id,
                                                                             AuditEvent.action.like("contact_%"))))
    assert actions == ["contact_unreachable", "contact_reachable"]
    await queue(app, clock, world.grandma_zhang, ["g-2"])
    await app.sender.drain()
    assert markers(grandma, "g-") == ["g-2"]


async def test_killing_the_sender_mid_batch_and_restarting_neither_loses_nor_duplicates(app, world, telegram, clock):
    people = [(world.father_li, 2001), (world.grandma_zhang, 2002), (world.father_zhang, 2003),
              (world.teacher, 1001), (world.officer, 1002), (world.township_officer, 1003)]
    users = [opened(telegram, telegram_id, person.name) for person, telegram_id in people]
    await link_people(app, clock, *people)
    for person, telegram_id in people:
        await queue(app, clock, person, [f"k{telegram_id}-{i}" for i in range(10)])  # 60 rows
    first = quick_sender(app, send_rate_global=100)  # slow enough to be caught mid-batch
    task = asyncio.create_task(first.run())
    async with asyncio.timeout(10):
        while telegram.stats.sent < 20:  # noqa: ASYNC110 - the fake server has no event for sends; poll its stats
            await asyncio.sleep(0.002)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    accepted = telegram.stats.sent
    rows = await outbox(app)
    assert 20 <= accepted < 60
    assert sum(row.status == OutboxStatus.SENT for row in rows) == accepted  # in flight at the kill: recorded
    assert not [row for row in rows if row.status == OutboxStatus.SENDING]  # the rest: back to pending

    await quick_sender(app).drain()

    assert {row.status for row in await outbox(app)} == {OutboxStatus.SENT}
    assert telegram.stats.sent == 60
    for user, (_, telegram_id) in zip(users, people, strict=True):
        assert markers(user, "k") == [f"k{telegram_id}-{i}" for i in range(10)]


async def test_a_hard_kill_duplicates_at_most_the_message_in_flight(app, world, telegram, clock):
    """SIGKILL between Telegram's acceptance and our commit: that one message comes twice, nothing is lost."""
    li = opened(telegram, 2001, "建国")
    await link_people(app, clock, (world.father_li, 2001))
    await queue(app, clock, world.father_li, [f"h-{i}" for i in range(5)])
    dead = quick_sender(app)
    claimed, _ = await dead._claim(limit=200)
    await TelegramTransport(app.bot).send(claimed[0])  # accepted by Telegram, then the process dies

    survivor = quick_sender(app)
    await survivor.drain()
    assert markers(li, "h-") == ["h-0"]  # the dead sender's claims wait for the lease
    clock.advance(LEASE + timedelta(seconds=1))
    await survivor.drain()

    assert markers(li, "h-") == ["h-0", "h-0", "h-1", "h-2", "h-3", "h-4"]
    assert {row.status for row in await outbox(app)} == {OutboxStatus.SENT}


async def test_start_again_after_blocking_makes_the_guardian_reachable(app, world, telegram, clock):
    grandma = opened(telegram, 2002, "张奶奶")
    await link_people(app, clock, (world.grandma_zhang, 2002))
    await grandma.block()
    assert (await contact_of(app, world.grandma_zhang)).reachable is False

    grandma.state.blocked = False  # she opens the chat again and presses Start: Telegram sends /start
    await grandma.start()
    assert (await contact_of(app, world.grandma_zhang)).reachable is True
    await queue(app, clock, world.grandma_zhang, ["g-after-start"])
    await app.sender.drain()
    assert markers(grandma, "g-") == ["g-after-start"]
