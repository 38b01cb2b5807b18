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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiogram import Bot, Dispatcher, F
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.app import App
from bot.core.clock import ManualClock
from bot.core.settings import Settings
from bot.fakeapi import FakeTelegram, FakeUser
from bot.onboarding.service import issue_invites
from bot.roster.importer import import_roster
from bot.roster.reading import read_table
from storage.db import create_engine
from storage.models import SchoolClass, Student

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOKEN = "123456:BENCH-TOKEN"
MONDAY = datetime.fromisoformat("2026-09-07T08:20:00+08:00")
WIDE_ECHO = "echo, 42 buttons (reference)"


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


async def echo_bot(server: FakeTelegram, taps: int, buttons: int = 1) -> list[float]:
    """The floor: a handler that only edits the tapped message, with no database and no middlewares of ours. With
    `buttons` > 1 it redraws a keyboard of that many buttons (the cost of the keyboard's size alone)."""
    dispatcher = Dispatcher()

    def keyboard(label: str) -> InlineKeyboardMarkup:
        others = [InlineKeyboardButton(text=f"✅ 学生{n:02d}", callback_data=f"n{n}") for n in range(1, buttons)]
        row = [InlineKeyboardButton(text=label, callback_data=label), *others]
        return InlineKeyboardMarkup(inline_keyboard=[row[i : i + 4] for i in range(0, len(row), 4)])

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


async def bench_taps(
    taps: int = 300, pg_url: str | None = None, redis_url: str | None = None, rounds: int = 3
) -> list[dict]:
    """The echo floor and the roll call on SQLite, and, with `pg_url` (a server to create scratch databases on) on
    PostgreSQL, with `redis_url` with the working copies in Redis. In `rounds` rounds, each the echo bot then every
    configuration, so that a machine getting busier or quieter weighs on both: a row's p50 is the median of its
    rounds' p50s, and its ratio the median of its rounds' ratios to the echo bot of the same round."""
    runs = [Run("SQLite, 8 pupils", 8), Run("SQLite, 40 pupils", 40)]
    if redis_url:
        runs.append(Run("SQLite + Redis FSM, 40", 40, redis_url=redis_url))
    if pg_url:
        runs.append(Run("PostgreSQL, 40 pupils", 40, pg_url=pg_url))
    names = ["aiogram echo (floor)", WIDE_ECHO, *(run.name for run in runs)]
    rounds_of: dict[str, list[dict]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="quanxue-bench-") as folder:
        async with FakeTelegram(global_rate=float("inf"), per_chat_rate=float("inf")) as server:
            for _ in range(rounds):
                echo = summarise("aiogram echo (floor)", await echo_bot(server, taps))
                rounds_of[echo["bot"]].append(echo | {"ratio_p50": 1.0})
                wide = summarise(WIDE_ECHO, await echo_bot(server, taps, buttons=42))
                rounds_of[WIDE_ECHO].append(wide | {"ratio_p50": wide["p50_ms"] / echo["p50_ms"]})
                for run in runs:
                    async with database(folder, run.pg_url) as url:
                        row = summarise(run.name, await quanxue_bot(server, taps, url, run.class_size, run.redis_url))
                    rounds_of[run.name].append(row | {"ratio_p50": row["p50_ms"] / echo["p50_ms"]})
    return [_median_row(rows) for rows in rounds_of.values()]


@dataclass(frozen=True)
class Run:
    name: str
    class_size: int
    redis_url: str | None = None
    pg_url: str | None = None


@asynccontextmanager
async def database(folder: str, pg_url: str | None):
    """A fresh database for one run: a scratch PostgreSQL database, or an SQLite file in `folder`."""
    if pg_url:
        async with scratch_database(pg_url) as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{Path(folder) / f'{uuid.uuid4().hex[:8]}.db'}"


def _median_row(rows: list[dict]) -> dict:
    median = {key: statistics.median(row[key] for row in rows) for key in ("p50_ms", "p99_ms", "taps_per_s",
                                                                             "ratio_p50")}
    return {"bot": rows[0]["bot"], "taps": sum(row["taps"] for row in rows), "rounds": len(rows), **median}


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
    """One row per bot: medians over the rounds (see `bench_taps`)."""
    print(f"{'bot':30} {'taps':>5} {'p50 ms':>8} {'p99 ms':>8} {'taps/s':>8} {'p50 / echo':>11}")
    for row in rows:
        print(f"{row['bot']:30} {row['taps']:>5} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
              f"{row['taps_per_s']:>8.1f} {row['ratio_p50']:>11.2f}")
    print("target: within 2x of the echo bot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--taps", type=int, default=300, help="taps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("QUANXUE_BENCH_PG_URL"),
                        help="a PostgreSQL URL (postgresql+asyncpg://…) to also measure on PostgreSQL")
    parser.add_argument("--redis", default=os.environ.get("QUANXUE_BENCH_REDIS_URL"),
                        help="a Redis URL (redis://…) to also measure with the FSM storage in Redis")
    args = parser.parse_args()
    print_table(asyncio.run(bench_taps(args.taps, args.pg, args.redis, args.rounds)))


if __name__ == "__main__":
    main()
