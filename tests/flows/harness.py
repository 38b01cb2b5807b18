"""One run of the bot process against the fake Bot API server, for fixtures and for tests that restart the bot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.app import App
from bot.core.clock import Clock
from bot.core.settings import Settings
from bot.fakeapi import FakeTelegram


@contextlib.asynccontextmanager
async def running(settings: Settings, clock: Clock, telegram: FakeTelegram) -> AsyncIterator[App]:
    """A new App polling the fake server (one update at a time, so `settled()` means handled), stopped and closed
    on leaving."""
    app = await App.create(settings, clock, api_session=telegram.session())
    polling = asyncio.create_task(app.run_polling(handle_as_tasks=False, polling_timeout=1))
    try:
        yield app
    finally:
        await app.stop()
        await asyncio.wait_for(polling, 10)
        await app.close()
