"""End-to-end fixtures: the real bot, polling the in-process fake Bot API server over HTTP.

The bot handles updates one at a time (handle_as_tasks=False), so `server.settled()` — which every user action
awaits — returns once the bot has processed everything it was sent.
"""

from __future__ import annotations

import pytest

from bot.core.settings import Settings
from bot.fakeapi import FakeTelegram
from tests.flows.harness import running
from tests.seed import seed_world

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
async def telegram(clock):
    # People tap faster in tests than on a phone: the limits are generous here, and tests of the sender's pacing
    # set Telegram's real ones with `telegram.set_rate_limits`.
    async with FakeTelegram(clock=clock, bot_username="quanxue_bot", global_rate=1000, per_chat_burst=1000) as server:
        yield server


@pytest.fixture
def settings(db_url, telegram) -> Settings:
    return Settings(
        _env_file=None,
        bot_token=TOKEN,
        bot_username="quanxue_bot",
        telegram_api=telegram.base_url,
        database_url=db_url,
    )


@pytest.fixture
async def app(settings, clock, telegram):
    async with running(settings, clock, telegram) as app:
        yield app


@pytest.fixture
async def world(app, clock):
    async with app.sessions() as session, session.begin():
        return await seed_world(session, clock.now())
