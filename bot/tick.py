"""The tick: everything scheduled that is due at one instant, done once. A function of (database, now).

`quanxue tick --now …` and the scheduler inside `quanxue run` both call `run_tick`; running it twice for the same
instant does nothing new. The escalation ladder (bot.cases.ladder) runs in a transaction of its own after the other
steps, under the deployment's policy (bot.core.policy).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.calendar.days import warn_missing_official_years
from bot.cases.ladder import LadderReport, run_ladder
from bot.core.policy import PolicyError, load_policy
from bot.core.settings import Settings
from bot.families.leave import ask_again_unheard
from bot.records.digest import send_weekly_digests
from bot.records.push import push_monthly_reports
from bot.records.term_start import run_term_start_checks
from bot.rollcall.reminders import alert_missing_roll_calls, remind_roll_calls
from storage.db import create_engine, create_sessionmaker, rows_affected, upgrade
from storage.models import LinkAttempt

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    link_attempts_pruned: int = 0
    rollcall_reminders: int = 0
    rollcall_alerts: int = 0  # school officers told of classes still without a roll call
    calendar_warnings: int = 0
    ladder: LadderReport | None = None
    report_rows: int = 0
    term_start_lists: int = 0
    class_digests: int = 0
    leave_requests_asked_again: int = 0  # pending requests that had reached nobody, now someone


async def run_tick(sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime) -> TickReport:
    policy = load_policy(settings)
    report = TickReport()
    async with sessions() as session, session.begin():
        report.link_attempts_pruned = await _prune_link_attempts(session, settings, now)
        report.rollcall_reminders = await remind_roll_calls(session, settings, now)
        report.rollcall_alerts = await alert_missing_roll_calls(session, settings, policy, now)
        report.calendar_warnings = await warn_missing_official_years(session, settings, now)
        report.leave_requests_asked_again = await ask_again_unheard(session, settings, now, policy)
    async with sessions() as session, session.begin():
        report.ladder = await run_ladder(session, settings, policy, now)
    async with sessions() as session, session.begin():
        report.report_rows = await push_monthly_reports(session, settings, now)
        report.term_start_lists = await run_term_start_checks(session, settings, policy, now)
        report.class_digests = await send_weekly_digests(session, settings, now)
    return report


async def _prune_link_attempts(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Wrong-code records are only needed for the throttle window; keep a day's worth for the audit of abuse."""
    horizon = now - max(timedelta(minutes=settings.link_attempts_window_minutes), timedelta(days=1))
    return await rows_affected(session, delete(LinkAttempt).where(LinkAttempt.at < horizon))


async def run_tick_cli(settings: Settings, now: datetime) -> int:
    try:
        load_policy(settings)  # a bad policy file stops here, before the database is touched
    except PolicyError as exc:
        log.error("%s", exc)
        return 2
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        report = await run_tick(create_sessionmaker(engine), settings, now)
    finally:
        await engine.dispose()
    log.info("tick at %s: %s", now.isoformat(), report)
    return 0
