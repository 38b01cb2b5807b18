"""The outbox and its sender, on both databases, with a scripted in-memory transport instead of Telegram."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from bot.core.settings import Settings
from bot.delivery.sender import LEASE, Sender, backoff
from bot.delivery.telegram import NoticeAction, notice_keyboard
from bot.delivery.transport import Rejected, TransientError, Unreachable
from bot.notices.outbox import Action, Delivery, enqueue_notice
from storage.db import create_engine, create_sessionmaker
from storage.models import AuditEvent, ContactPoint, OutboxMessage, OutboxStatus, Person
from tests.seed import give_consents, link, seed_world

TG = "telegram"
VALUES = {"guardian": "李建国", "has_phone": True, "children": [{"name": "李明", "relation": "父亲"}]}


def fast_settings(**overrides) -> Settings:
    return Settings(_env_file=None, send_rate_global=10_000, send_rate_per_chat=10_000, **overrides)


class ScriptedTransport:
    """Records every send; `plan[outbox id]` lists what the next sends of that row raise (then it succeeds)."""

    channel = TG

    def __init__(self, delay: float = 0.0, log: list[tuple[str, int]] | None = None) -> None:
        self.delay = delay
        self.sent = [] if log is None else log  # (address, outbox id) in the order the channel accepted them
        self.accepted = 0
        self.plan: dict[int, list[Exception]] = defaultdict(list)
        self.calls = 0
        self.changed = asyncio.Condition()

    async def until_sent(self, count: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: len(self.sent) >= count)

    async def send(self, message: OutboxMessage) -> str:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.plan[message.id]:
            raise self.plan[message.id].pop(0)
        self.sent.append((message.address, message.id))
        self.accepted += 1
        async with self.changed:
            self.changed.notify_all()
        return str(len(self.sent))


async def make_world(sessions, now: datetime, people: int = 3):
    """The seed world with `people` of its guardians (then officers) and the teacher linked (ids 2001…, 1001)."""
    async with sessions() as session, session.begin():
        world = await seed_world(session, now)
        everyone = [world.father_li, world.grandma_zhang, world.father_zhang, world.officer, world.township_officer]
        guardians = everyone[:people]
        for n, person in enumerate(guardians, start=1):
            await link(session, person, 2000 + n, now)
        await link(session, world.teacher, 1001, now)
    return world, guardians


async def queue(sessions, now: datetime, people: list[Person], per_person: int, tag: str = "n") -> list[int]:
    """`per_person` rows to each person, interleaved the way a tick would write them; returns their ids."""
    async with sessions() as session, session.begin():
        for i in range(per_person):
            for person in people:
                key = f"{tag}:{person.id}:{i}"
                assert await enqueue_notice(session, fast_settings(), now, person, "guardian_unreachable", VALUES, key,
                                            respect_quiet_hours=False) is Delivery.QUEUED
        return list(await session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))


def assert_order_per_chat(log: list[tuple[str, int]]) -> None:
    per_chat = defaultdict(list)
    for address, outbox_id in log:
        per_chat[address].append(outbox_id)
    assert all(chat == sorted(chat) for chat in per_chat.values()), per_chat


async def rows(sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_enqueueing_twice_with_one_key_queues_one_row(sessions, clock):
    world, _ = await make_world(sessions, clock.now())
    async with sessions() as session, session.begin():
        person = await session.get(Person, world.father_li.id)
        first = await enqueue_notice(session, fast_settings(), clock.now(), person, "guardian_unreachable", VALUES,
                                     "absence:1:guardian:1", actions=[[Action("OK", "reply", 1, "ok")]])
        second = await enqueue_notice(session, fast_settings(), clock.now(), person, "guardian_unreachable", VALUES,
                                      "absence:1:guardian:1")
    assert (first, second) == (Delivery.QUEUED, Delivery.DUPLICATE)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        row = await session.scalar(select(OutboxMessage))
    assert row.actions == [[{"label": "OK", "action": "reply", "ref": 1, "value": "ok"}]]


async def test_quiet_hours_hold_a_notice_until_morning(sessions, clock):
    clock.set(datetime.fromisoformat("2026-09-07T22:30:00+08:00"))
    world, _ = await make_world(sessions, clock.now())
    async with sessions() as session, session.begin():
        person = await session.get(Person, world.father_li.id)
        await enqueue_notice(session, fast_settings(), clock.now(), person, "guardian_unreachable", VALUES, "late")
    (row,) = await rows(sessions)
    assert row.next_attempt_at == datetime.fromisoformat("2026-09-08T07:00:00+08:00")

    transport = ScriptedTransport()
    sender = Sender(sessions, {TG: transport}, clock, fast_settings())
    assert await sender.run_once() == 0
    clock.set(datetime.fromisoformat("2026-09-08T06:59:59+08:00"))
    assert await sender.run_once() == 0
    clock.set(datetime.fromisoformat("2026-09-08T07:00:00+08:00"))
    assert await sender.run_once() == 1
    assert transport.sent == [("2001", row.id)]


async def test_two_senders_racing_deliver_each_row_once(db_url, sessions, clock):
    _, people = await make_world(sessions, clock.now(), people=5)
    ids = await queue(sessions, clock.now(), people, per_person=10)  # 50 rows, 5 chats
    channel_log: list[tuple[str, int]] = []  # what "Telegram" accepted from either sender, in order
    transports = [ScriptedTransport(delay=0.002, log=channel_log), ScriptedTransport(delay=0.002, log=channel_log)]

    async def keep_sending(sender: Sender) -> None:
        while await sender.run_once(limit=3):
            pass

    engines = [create_engine(db_url), create_engine(db_url)]  # as two processes would have
    try:
        senders = [Sender(create_sessionmaker(e), {TG: t}, clock, fast_settings()) for e, t in zip(engines, transports,
                                                                                                 strict=True)]
        await asyncio.wait_for(asyncio.gather(*(keep_sending(s) for s in senders)), 30)
        for sender in senders:  # whatever one of them left while the other held its chats
            await sender.drain()
    finally:
        for engine in engines:
            await engine.dispose()
    sent = Counter(outbox_id for _, outbox_id in channel_log)
    assert all(t.accepted for t in transports)  # both took part
    assert sorted(sent) == ids
    assert set(sent.values()) == {1}
    assert_order_per_chat(channel_log)
    assert {row.status for row in await rows(sessions)} == {OutboxStatus.SENT}


async def test_a_dead_senders_claims_are_taken_over_after_the_lease(sessions, clock):
    _, guardians = await make_world(sessions, clock.now())
    ids = await queue(sessions, clock.now(), guardians, per_person=4)
    dead = Sender(sessions, {TG: ScriptedTransport()}, clock, fast_settings())
    claimed, _ = await dead._claim(limit=5)  # claimed, then the process is killed before sending anything
    assert [row.id for row in claimed] == ids[:5]

    transport = ScriptedTransport()
    alive = Sender(sessions, {TG: transport}, clock, fast_settings())
    await alive.drain()
    # Rows of the chats the dead sender holds wait for it (order per chat); the others go.
    held = {row.address for row in claimed}
    assert all(address not in held for address, _ in transport.sent)
    clock.advance(LEASE - timedelta(seconds=1))
    assert await alive.run_once() == 0
    clock.advance(timedelta(seconds=2))
    await alive.drain()
    assert sorted(outbox_id for _, outbox_id in transport.sent) == ids
    assert_order_per_chat(transport.sent)


async def test_a_retry_never_falls_in_quiet_hours(sessions, clock):
    clock.set(datetime.fromisoformat("2026-09-07T20:59:50+08:00"))  # the backoff would end at 21:00:20
    _, guardians = await make_world(sessions, clock.now(), people=1)
    [only] = await queue(sessions, clock.now(), guardians, per_person=1)
    transport = ScriptedTransport()
    transport.plan[only] = [TransientError("502")]
    sender = Sender(sessions, {TG: transport}, clock, fast_settings(), quick_retries=())
    assert await sender.run_once() == 1
    [row] = await rows(sessions)
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert row.next_attempt_at == datetime.fromisoformat("2026-09-08T07:00:00+08:00")


async def test_network_errors_back_off_keep_order_and_finally_fail(sessions, clock):
    _, guardians = await make_world(sessions, clock.now(), people=1)
    first, second, third = await queue(sessions, clock.now(), guardians, per_person=3)
    transport = ScriptedTransport()
    transport.plan[first] = [TransientError("502"), TransientError("timeout")]
    sender = Sender(sessions, {TG: transport}, clock, fast_settings(), quick_retries=(0.01,))
    assert await sender.run_once() == 1  # first: one quick retry, then deferred; the rest of the chat waits
    by_id = {row.id: row for row in await rows(sessions)}
    assert (by_id[first].status, by_id[first].attempts) == (OutboxStatus.PENDING, 1)
    assert by_id[first].next_attempt_at == clock.now() + backoff(1)
    assert by_id[first].last_error == "timeout"
    assert (by_id[second].status, by_id[second].claimed_at) == (OutboxStatus.PENDING, None)
    assert await sender.run_once() == 0  # second and third may not overtake the first
    clock.advance(backoff(1))
    await sender.drain()
    assert transport.sent == [("2001", first), ("2001", second), ("2001", third)]
    assert {row.status for row in await rows(sessions)} == {OutboxStatus.SENT}

    (late,) = [i for i in await queue(sessions, clock.now(), guardians, per_person=1, tag="late")
               if i not in (first, second, third)]
    transport.plan[late] = [TransientError("502")] * 10
    sender = Sender(sessions, {TG: transport}, clock, fast_settings(), quick_retries=(), max_attempts=3)
    for _ in range(3):
        await sender.drain()
        clock.advance(timedelta(hours=1))
    row = {row.id: row for row in await rows(sessions)}[late]
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.FAILED, 3, "502")


async def test_rejected_fails_and_unreachable_stops_the_chat(sessions, clock):
    world, guardians = await make_world(sessions, clock.now(), people=2)
    ids = await queue(sessions, clock.now(), guardians, per_person=3)  # li: ids[0::2], grandma zhang: ids[1::2]
    transport = ScriptedTransport()
    transport.plan[ids[0]] = [Rejected("Bad Request: can't parse entities")]
    transport.plan[ids[3]] = [Unreachable("Forbidden: bot was blocked by the user")]
    await Sender(sessions, {TG: transport}, clock, fast_settings()).drain()
    status = {row.id: (row.status, row.last_error) for row in await rows(sessions)}
    assert status[ids[0]] == (OutboxStatus.FAILED, "Bad Request: can't parse entities")
    assert status[ids[2]][0] == status[ids[4]][0] == OutboxStatus.SENT
    assert status[ids[1]][0] == OutboxStatus.SENT
    assert status[ids[3]][0] == status[ids[5]][0] == OutboxStatus.UNREACHABLE
    async with sessions() as session:
        contact = await session.scalar(select(ContactPoint).where(ContactPoint.person_id == world.grandma_zhang.id))
        assert (contact.reachable, contact.unreachable_since) == (False, clock.now())
        teacher_rows = list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.person_id == world.teacher.id)))
        audit = await session.scalar(select(AuditEvent).where(AuditEvent.action == "contact_unreachable"))
    assert [row.template for row in teacher_rows] == ["guardian_unreachable"]
    assert "花名册" in teacher_rows[0].text and "张小红" in teacher_rows[0].text
    assert "13900001003" not in teacher_rows[0].text  # messages carry no one's phone number
    assert audit.entity_id == world.grandma_zhang.id and "张奶奶" not in str(audit.details)


async def test_stopping_the_sender_mid_batch_loses_and_duplicates_nothing(sessions, clock):
    _, guardians = await make_world(sessions, clock.now())
    ids = await queue(sessions, clock.now(), guardians, per_person=10)
    transport = ScriptedTransport(delay=0.02)
    task = asyncio.create_task(Sender(sessions, {TG: transport}, clock, fast_settings()).run())
    await asyncio.wait_for(transport.until_sent(7), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after_stop = list(transport.sent)
    status = Counter(row.status for row in await rows(sessions))
    assert status[OutboxStatus.SENDING] == 0  # every in-flight send was recorded, the rest released
    assert status[OutboxStatus.SENT] == len(after_stop) < len(ids)
    assert status[OutboxStatus.PENDING] == len(ids) - len(after_stop)
    await Sender(sessions, {TG: transport}, clock, fast_settings()).drain()
    assert sorted(outbox_id for _, outbox_id in transport.sent) == ids
    assert transport.calls == len(ids)


async def test_the_rate_limiter_paces_one_chat(sessions, clock):
    _, guardians = await make_world(sessions, clock.now(), people=1)
    await queue(sessions, clock.now(), guardians, per_person=3)
    transport = ScriptedTransport()
    stamps: list[float] = []
    original = transport.send

    async def timed(message):
        stamps.append(asyncio.get_running_loop().time())
        return await original(message)

    transport.send = timed
    settings = Settings(_env_file=None, send_rate_global=30, send_rate_per_chat=1.0)
    await Sender(sessions, {TG: transport}, clock, settings).drain()
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert len(stamps) == 3
    assert gaps[0] < 0.2 and gaps[1] >= 0.95  # a burst of 2, then 1 per second


async def test_rows_for_someone_who_unlinked_since_are_not_sent(sessions, clock):
    world, guardians = await make_world(sessions, clock.now(), people=2)
    ids = await queue(sessions, clock.now(), guardians, per_person=2)
    async with sessions() as session, session.begin():  # father Li withdrew his consent: unlinked
        await session.execute(delete(ContactPoint).where(ContactPoint.person_id == world.father_li.id))
    transport = ScriptedTransport()
    await Sender(sessions, {TG: transport}, clock, fast_settings()).drain()
    assert transport.sent == [("2002", ids[1]), ("2002", ids[3])]
    status = {row.id: row.status for row in await rows(sessions)}
    assert status[ids[0]] == status[ids[2]] == OutboxStatus.UNREACHABLE


def test_button_data_is_packed_within_telegrams_64_bytes():
    keyboard = notice_keyboard([[{"label": "生病", "action": "reply", "ref": 123456789, "value": "sick"}]])
    (button,) = keyboard.inline_keyboard[0]
    assert NoticeAction.unpack(button.callback_data) == NoticeAction(action="reply", ref=123456789, value="sick")
    for bad in ({"label": "x", "action": "a" * 60, "ref": 1}, {"label": "x", "action": "a:b", "ref": 1},
                {"label": "x", "action": "reply", "ref": "x"}):
        with pytest.raises(Rejected):
            notice_keyboard([[bad]])
    assert notice_keyboard([]) is None


async def test_a_guardian_hears_nothing_before_accepting_the_privacy_notice(sessions, clock):
    settings = Settings(_env_file=None)
    async with sessions() as session, session.begin():
        world = await seed_world(session, clock.now())
        await link(session, world.grandma_zhang, 2002, clock.now(), consented=False)
        await link(session, world.teacher, 1001, clock.now(), consented=False)  # staff have nothing to accept
        grandma = await enqueue_notice(session, settings, clock.now(), world.grandma_zhang, "guardian_unreachable",
                                       VALUES, "before-consent")
        teacher = await enqueue_notice(session, settings, clock.now(), world.teacher, "guardian_unreachable",
                                       VALUES, "teacher")
    assert (grandma, teacher) == (Delivery.NO_CONSENT, Delivery.QUEUED)

    async with sessions() as session, session.begin():
        await give_consents(session, clock.now(), world.grandma_zhang.id)
        after = await enqueue_notice(session, settings, clock.now(), world.grandma_zhang, "guardian_unreachable",
                                     VALUES, "after-consent")
    assert after is Delivery.QUEUED
    async with sessions() as session:
        keys = set(await session.scalars(select(OutboxMessage.idempotency_key)))
    assert keys == {"teacher", "after-consent"}
