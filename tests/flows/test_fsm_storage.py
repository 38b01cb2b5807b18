"""Half-finished forms across a restart: with Redis (QUANXUE_REDIS_URL) a guardian stops halfway through a leave
request, the bot is restarted as a new process on the same database and Redis, and the guardian finishes where they
left off; in memory (no Redis) the restarted bot has forgotten the form, and says so."""

from __future__ import annotations

from datetime import date

from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import select

from bot.app import FORM_TTL, App
from bot.core.clock import Clock
from bot.core.settings import Settings
from bot.fakeapi import FakeTelegram, FakeUser
from storage.models import LeaveRequest, LeaveStatus
from tests import redis_server
from tests.flows.conftest import TOKEN
from tests.flows.harness import running
from tests.seed import World, link, seed_world

TEACHER_ID, FATHER_ID = 101, 201
LEAVE_MENU = "📝 请假"


def settings_for(db_url: str, telegram: FakeTelegram, redis_url: str | None = None, **storage) -> Settings:
    return Settings(_env_file=None, bot_token=TOKEN, bot_username="quanxue_bot", telegram_api=telegram.base_url,
                    database_url=db_url, redis_url=redis_url, **storage)


async def begin_leave(settings: Settings, clock: Clock, telegram: FakeTelegram) -> tuple[FakeUser, World]:
    """First run: 李建国 (father; the class teacher is linked too) asks leave for 李明 from tomorrow for 2 days,
    and the bot is stopped at the kind of leave."""
    async with running(settings, clock, telegram) as app:
        async with app.sessions() as session, session.begin():
            world = await seed_world(session, clock.now())
            await link(session, world.teacher, TEACHER_ID, clock.now())
            await link(session, world.father_li, FATHER_ID, clock.now())
        father = telegram.user(FATHER_ID, "建国")
        father.state.started = True
        await father.start()
        await father.press(LEAVE_MENU)
        await father.tap("李明")
        await father.tap(next(label for label in father.buttons() if label.startswith("明天")))
        [step] = await father.tap("2天")
        assert step.buttons() == ["🤒 病假", "🏠 事假", "◀ 返回", "✖ 取消"]
    return father, world


async def stored_leave(app: App) -> LeaveRequest | None:
    async with app.sessions() as session:
        return await session.scalar(select(LeaveRequest))


async def test_with_redis_a_leave_request_is_finished_after_a_restart(db_url, telegram, clock, redis_prefix):
    settings = settings_for(db_url, telegram, redis_url=redis_server.REDIS_URL, redis_prefix=redis_prefix)
    father, world = await begin_leave(settings, clock, telegram)
    waiting = await redis_server.keys(redis_prefix)
    assert list(waiting) == [f"{redis_prefix}:{FATHER_ID}:{FATHER_ID}:default:{part}" for part in ("data", "state")]
    assert all(FORM_TTL.total_seconds() - 60 < ttl <= FORM_TTL.total_seconds() for ttl in waiting.values())

    async with running(settings, clock, telegram) as app:  # a new process on the same database and Redis
        await father.tap("🤒 病假")
        [confirm] = await father.send("发烧")
        assert "请核对" in confirm.text and "李明" in confirm.text and "病假" in confirm.text
        [sent] = await father.tap("✅ 提交申请")
        assert "已发给班主任" in sent.text
        leave = await stored_leave(app)
    assert (leave.student_id, leave.first_day, leave.last_day, leave.reason, leave.note, leave.status) == (
        world.li_ming.id, date(2026, 9, 8), date(2026, 9, 9), "sick", "发烧", LeaveStatus.PENDING)
    assert await redis_server.keys(redis_prefix) == {}  # the finished form leaves nothing behind


async def test_in_memory_the_bot_works_and_a_restart_forgets_the_form(db_url, telegram, clock):
    settings = settings_for(db_url, telegram)
    father, _ = await begin_leave(settings, clock, telegram)
    async with running(settings, clock, telegram) as app:
        assert isinstance(app.dispatcher.storage, MemoryStorage)
        [step] = await father.tap("🤒 病假")  # the form's buttons say it is over, and go
        assert father.callback_answers[-1] == "这一步已经结束了。请点“📝 请假”重新开始。"
        assert step.buttons() == []
        assert await stored_leave(app) is None
