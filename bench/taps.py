"""Tap to edited message: the roll-call toggle through the real bot, beside a bare aiogram echo bot.

Both run on the same in-process fake Bot API server over HTTP, one after the other in the same run, polling with
handle_as_tasks=False; a tap's time runs from the callback update being queued until the bot has handled it
(which includes its editMessageText call). `python -m bench.taps [--taps N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from aiogram import Bot, Dispatcher, F
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

from bot.app import App
from bot.clock import ManualClock
from bot.fakeapi import FakeTelegram, FakeUser
from bot.onboarding import issue_invites
from bot.roster.importer import import_roster
from bot.roster.reading import read_table
from bot.settings import Settings

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


async def quanxue_bot(server: FakeTelegram, taps: int, folder: Path) -> list[float]:
    """The real bot: 王丽 toggles 李明 absent and present on today's roll call (a database write per tap)."""
    clock = ManualClock(MONDAY)
    settings = Settings(_env_file=None, bot_token=TOKEN, bot_username="quanxue_bot", telegram_api=server.base_url,
                        database_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    app = await App.create(settings, clock, api_session=server.session())
    async with app.sessions() as session, session.begin():
        await import_roster(session, read_table(EXAMPLES / "roster.csv"), now=clock.now(), county=settings.county)
        codes = {invite.name: invite.code for invite in await issue_invites(session, clock.now(), 30)}
    polling = asyncio.create_task(app.run_polling(handle_as_tasks=False, polling_timeout=1))
    try:
        teacher = server.user(9002, "王丽")
        await teacher.start(codes["王丽"])
        await teacher.press("📋 点名")
        return await timed_taps(teacher, ["✅ 李明", "❌ 李明"], taps)
    finally:
        await app.stop()
        await polling
        await app.close()


async def bench_taps(taps: int = 300) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="quanxue-bench-") as folder:
        async with FakeTelegram(global_rate=float("inf"), per_chat_rate=float("inf")) as server:
            echo = summarise("aiogram echo (floor)", await echo_bot(server, taps))
            ours = summarise("quanxue roll-call toggle", await quanxue_bot(server, taps, Path(folder)))
    ours["ratio_p50"] = ours["p50_ms"] / echo["p50_ms"]
    return [echo, ours]


def print_table(rows: list[dict]) -> None:
    print(f"{'bot':28} {'taps':>5} {'p50 ms':>8} {'p99 ms':>8} {'taps/s':>8}")
    for row in rows:
        print(f"{row['bot']:28} {row['taps']:>5} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['taps_per_s']:>8.1f}")
    print(f"ratio of p50 latencies (quanxue / echo): {rows[1]['ratio_p50']:.2f}  (target: within 2x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--taps", type=int, default=300)
    print_table(asyncio.run(bench_taps(parser.parse_args().taps)))


if __name__ == "__main__":
    main()
