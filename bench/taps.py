"""Tap to edited message: the roll-call toggle through the real bot, beside a bare aiogram echo bot.

Both run on the same in-process fake Bot API server over HTTP, one after the other in the same run, polling with
handle_as_tasks=False; a tap's time runs from the callback update being queued until the bot has handled it
(which includes its editMessageText and answerCallbackQuery calls). The roll call is measured for the example
class (8 pupils) and for a class of 40, on SQLite and, when asked, on PostgreSQL and with the FSM storage in Redis.
`python -m bench.taps [--taps N] [--pg URL] [--redis URL]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from aiogram import Bot, Dispatcher, F
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.app import App
from bot.clock import ManualClock
from bot.fakeapi import FakeTelegram, FakeUser
from bot.onboarding import issue_invites
from bot.roster.importer import import_roster
from bot.roster.reading import read_table
from bot.settings import Settings
from storage.db import create_engine
from storage.models import SchoolClass, Student

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOKEN = "123456:BENCH-TOKEN"
MONDAY = datetime.fromisoformat("2026-09-07T08:20:00+08:00")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(name: str, latencies: list[float]) -> dict:
    return {
        "bot": name,
        "taps": len(latencies),
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "taps_per_s": len(latencies) / sum(latencies),
        "mean_ms": statistics.fmean(latencies) * 1000,
    }


async def timed_taps(user: FakeUser, labels: list[str], taps: int) -> list[float]:
    latencies = []
    for n in range(taps):
        start = time.perf_counter()
        await user.tap(labels[n % len(labels)])
        latencies.append(time.perf_counter() - start)
    return latencies


async def echo_bot(server: FakeTelegram, taps: int) -> list[float]:
    """The floor: a handler that only edits the tapped message, with no database and no middlewares of ours."""
    dispatcher = Dispatcher()

    def keyboard(label: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=label)]])

    @dispatcher.callback_query(F.data)
    async def echo(query: CallbackQuery) -> None:
        other = "B" if query.data == "A" else "A"
        await query.message.edit_text(f"tapped {query.data}", reply_markup=keyboard(other))
        await query.answer()

    bot = Bot(TOKEN, session=server.session())
    user = server.user(9001, "echo")
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, handle_as_tasks=False,
                                                           polling_timeout=1))
    try:
        await user.send("hi")  # the user starts the bot, so it may write to them
        await bot.send_message(user.id, "tap", reply_markup=keyboard("A"))
        return await timed_taps(user, ["A", "B"], taps)
    finally:
        await dispatcher.stop_polling()
        await polling
        await bot.session.close()


async def quanxue_bot(
    server: FakeTelegram, taps: int, database_url: str, class_size: int = 8, redis_url: str | None = None
) -> list[float]:
    """The real bot: 王丽 toggles 李明 absent and present on today's roll call of a class of `class_size`."""
    clock = ManualClock(MONDAY)
    settings = Settings(_env_file=None, bot_token=TOKEN, bot_username="quanxue_bot", telegram_api=server.base_url,
                        database_url=database_url, redis_url=redis_url, redis_prefix=f"bench-{uuid.uuid4().hex[:8]}")
    app = await App.create(settings, clock, api_session=server.session())
    async with app.sessions() as session, session.begin():
        await import_roster(session, read_table(EXAMPLES / "roster.csv"), now=clock.now(), county=settings.county)
        codes = {invite.name: invite.code for invite in await issue_invites(session, clock.now(), 30)}
        await fill_class(session, "三年级1班", class_size, clock.now())
    polling = asyncio.create_task(app.run_polling(handle_as_tasks=False, polling_timeout=1))
    try:
        teacher = server.user(9002, "王丽")
        await teacher.start(codes["王丽"])
        await teacher.press("📋 点名")
        return await timed_taps(teacher, ["✅ 李明", "❌ 李明"], taps)
    finally:
        await app.stop()
        await polling
        if redis_url:
            await forget_keys(app, settings.redis_prefix)
        await app.close()


async def forget_keys(app: App, prefix: str) -> None:
    """Delete what this run kept in Redis (only its own prefix: the server may be shared)."""
    redis = app.dispatcher.storage.redis
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)


async def fill_class(session, class_name: str, size: int, now: datetime) -> None:
    """Enrol made-up pupils in the class until it has `size`."""
    school_class = await session.scalar(select(SchoolClass).where(SchoolClass.name == class_name))
    enrolled = await session.scalar(select(func.count()).select_from(Student).where(
        Student.class_id == school_class.id))
    session.add_all([Student(class_id=school_class.id, name=f"学生{n:02d}", created_at=now, updated_at=now)
                     for n in range(enrolled + 1, size + 1)])


async def bench_taps(taps: int = 300, pg_url: str | None = None, redis_url: str | None = None) -> list[dict]:
    """The echo floor, then the roll call on SQLite and, with `pg_url` (a server database to create a scratch
    database from), on PostgreSQL; with `redis_url`, once more with the working copies in Redis."""
    runs: list[tuple[str, dict]] = [("SQLite, 8 pupils", {}), ("SQLite, 40 pupils", {"class_size": 40})]
    if redis_url:
        runs.append(("SQLite + Redis FSM, 40", {"class_size": 40, "redis_url": redis_url}))
    rows = []
    with tempfile.TemporaryDirectory(prefix="quanxue-bench-") as folder:
        async with FakeTelegram(global_rate=float("inf"), per_chat_rate=float("inf")) as server:
            echo = summarise("aiogram echo (floor)", await echo_bot(server, taps))
            for n, (name, options) in enumerate(runs):
                sqlite_url = f"sqlite+aiosqlite:///{Path(folder) / f'bench{n}.db'}"
                rows.append(summarise(name, await quanxue_bot(server, taps, sqlite_url, **options)))
            if pg_url:
                async with scratch_database(pg_url) as url:
                    rows.append(summarise("PostgreSQL, 40 pupils", await quanxue_bot(server, taps, url, 40)))
            echo_again = summarise("aiogram echo, again", await echo_bot(server, taps))
    floor = statistics.fmean([echo["p50_ms"], echo_again["p50_ms"]])
    for row in rows:
        row["ratio_p50"] = row["p50_ms"] / floor
    return [echo, echo_again, *rows]


@asynccontextmanager
async def scratch_database(server_url: str):
    """A fresh PostgreSQL database on the server of `server_url`, dropped afterwards."""
    name = f"quanxue_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


def print_table(rows: list[dict]) -> None:
    """One row per bot; the roll call's ratio is to the mean of the echo bot's two runs (before and after)."""
    print(f"{'bot':30} {'taps':>5} {'p50 ms':>8} {'p99 ms':>8} {'taps/s':>8} {'p50 / echo':>11}")
    for row in rows:
        ratio = f"{row['ratio_p50']:.2f}" if "ratio_p50" in row else "1"
        print(f"{row['bot']:30} {row['taps']:>5} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
              f"{row['taps_per_s']:>8.1f} {ratio:>11}")
    print("target: within 2x of the echo bot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--taps", type=int, default=300)
    parser.add_argument("--pg", default=os.environ.get("QUANXUE_BENCH_PG_URL"),
                        help="a PostgreSQL URL (postgresql+asyncpg://…) to also measure on PostgreSQL")
    parser.add_argument("--redis", default=os.environ.get("QUANXUE_BENCH_REDIS_URL"),
                        help="a Redis URL (redis://…) to also measure with the FSM storage in Redis")
    args = parser.parse_args()
    print_table(asyncio.run(bench_taps(args.taps, args.pg, args.redis)))


if __name__ == "__main__":
    main()
