"""The dispatcher layer in-process: the real router tree and middlewares, updates fed with `Dispatcher.feed_update`,
a real SQLite database, and a Bot whose replies go to the fake Bot API server (no polling)."""

from __future__ import annotations

from datetime import datetime
from itertools import count

import pytest
from aiogram.types import Chat, Message, Update, User
from sqlalchemy import func, select

from bot.app import build_bot, build_dispatcher
from bot.core.settings import Settings
from bot.fakeapi import FakeTelegram
from storage.db import create_sessionmaker
from storage.models import ContactPoint, LinkAttempt
from tests import databases
from tests.seed import seed_world

_ids = count(1)


@pytest.fixture
async def harness(tmp_path, clock):
    url = f"sqlite+aiosqlite:///{tmp_path / 'routing.db'}"
    engine = await databases.migrated_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        world = await seed_world(session, clock.now())
    async with FakeTelegram(clock=clock, bot_username="quanxue_bot") as telegram:
        settings = Settings(_env_file=None, bot_token="123456:TEST", bot_username="quanxue_bot",
                            telegram_api=telegram.base_url, database_url=url)
        bot = build_bot(settings)
        dispatcher = build_dispatcher(settings, clock, sessions, on_notices=lambda: None)
        yield telegram, bot, dispatcher, sessions, world
        await bot.session.close()
    await engine.dispose()


async def feed_text(telegram, bot, dispatcher, user_id: int, text: str, language_code: str = "zh-hans"):
    """Feed one private text message from `user_id`; returns that user's FakeUser to read the replies."""
    user = telegram.user(user_id, "测试", language_code=language_code)
    user.state.started = True  # the user has opened the chat, so the bot may answer
    sender = User(id=user_id, is_bot=False, first_name="测试", language_code=language_code)
    message = Message(
        message_id=next(_ids),
        date=datetime.fromisoformat("2026-09-07T08:00:00+08:00"),
        chat=Chat(id=user_id, type="private"),
        from_user=sender,
        text=text,
    )
    await dispatcher.feed_update(bot, Update(update_id=next(_ids), message=message))
    return user


async def test_unlinked_text_reaches_the_catch_all(harness):
    telegram, bot, dispatcher, *_ = harness
    user = await feed_text(telegram, bot, dispatcher, 9001, "你好，我想看看李明的出勤")
    reply = user.last()
    assert "还没有绑定" in reply.text and "李明" not in reply.text
    assert user.keyboard() == ["📱 用手机号登录"]


async def test_unlinked_code_like_text_reaches_onboarding(harness):
    telegram, bot, dispatcher, sessions, _ = harness
    user = await feed_text(telegram, bot, dispatcher, 9002, "ABCDE-FGHJK")
    assert "邀请码不对" in user.last().text
    async with sessions() as session:  # the middleware committed the handler's transaction
        assert await session.scalar(select(func.count()).select_from(LinkAttempt)) == 1


async def test_linked_persons_locale_wins_over_the_apps(harness, clock):
    telegram, bot, dispatcher, sessions, world = harness
    async with sessions() as session, session.begin():
        session.add(ContactPoint(person_id=world.teacher.id, channel="telegram", address="9003", linked_at=clock.now()))
        teacher = await session.merge(world.teacher)
        teacher.locale = "en"
    user = await feed_text(telegram, bot, dispatcher, 9003, "hmm", language_code="zh-hans")
    assert user.last().text == "Sorry, I did not understand that. Send /help to see what I can do for you."
    user = await feed_text(telegram, bot, dispatcher, 9003, "/help@quanxue_bot")
    assert "class teacher" in user.last().text and "三年级1班" in user.last().text


async def test_app_language_is_used_for_unlinked_people(harness):
    telegram, bot, dispatcher, *_ = harness
    user = await feed_text(telegram, bot, dispatcher, 9004, "/start", language_code="en-GB")
    assert "not linked yet" in user.last().text
    user = await feed_text(telegram, bot, dispatcher, 9005, "/start", language_code="zh-TW")
    assert "還沒有綁定" in user.last().text


async def test_names_are_escaped_in_html_replies(harness, clock):
    telegram, bot, dispatcher, sessions, world = harness
    async with sessions() as session, session.begin():
        session.add(ContactPoint(person_id=world.teacher.id, channel="telegram", address="9006", linked_at=clock.now()))
        teacher = await session.merge(world.teacher)
        teacher.name = "王<b>丽</b> & Co"
    user = await feed_text(telegram, bot, dispatcher, 9006, "/start")
    assert "王<b>丽</b> & Co · 班主任 · 青山镇中心小学 三年级1班" in user.last().text
    user = await feed_text(telegram, bot, dispatcher, 9006, "/help")
    assert user.last().text.startswith("王<b>丽</b> & Co，")
