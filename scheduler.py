"""APScheduler inside `quanxue run`: it only decides *when* to call the tick; the tick decides what is due."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import App
from bot.tick import run_tick

log = logging.getLogger(__name__)

TICK_EVERY_MINUTES = 2


def build_scheduler(app: App) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=app.settings.tz)
    scheduler.add_job(
        tick_job,
        IntervalTrigger(minutes=TICK_EVERY_MINUTES, timezone=app.settings.tz),
        args=[app],
        id="tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=60,
    )
    return scheduler


async def tick_job(app: App) -> None:
    report = await run_tick(app.sessions, app.settings, app.clock.now())
    log.info("tick: %s", report)
