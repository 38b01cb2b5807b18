"""`quanxue run`: the bot, its scheduler, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.app import App
from bot.core.clock import Clock
from bot.core.policy import PolicyError, load_policy
from bot.core.settings import Settings
from scheduler import build_scheduler

log = logging.getLogger(__name__)


async def serve(settings: Settings, clock: Clock) -> int:
    if not settings.bot_token.get_secret_value():
        log.error("QUANXUE_BOT_TOKEN is not set (put it in the environment or in .env); `quanxue demo` needs none")
        return 2
    try:
        load_policy(settings)  # the ladder's policy: refuse to start with a bad file
    except PolicyError as exc:
        log.error("%s", exc)
        return 2
    app = await App.create(settings, clock)
    scheduler = build_scheduler(app)
    scheduler.start()
    sending = asyncio.create_task(app.sender.run(), name="sender")
    try:
        await app.run_polling()
    finally:
        scheduler.shutdown(wait=False)
        sending.cancel()  # the message in flight, if any, is recorded before the task ends (bot.delivery.sender)
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await app.close()
    return 0
