"""How close the sender gets to Telegram's flood limit without hitting it.

`python -m bench.delivery [--n 1000] [--limit 30]`: 1,000 notices to 1,000 linked people through the real Sender,
the real aiogram Bot and the fake Bot API server, which answers 429 beyond `limit` messages per second overall and
1 per second per chat. Reports the achieved rate as a fraction of the limit and how many 429s the server gave.
Not part of the test suite (it takes n / limit seconds by design).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from datetime import datetime
from pathlib import Path

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from sqlalchemy import insert

from bot.core.clock import ManualClock
from bot.core.settings import Settings
from bot.delivery.sender import Sender
from bot.delivery.telegram import TelegramTransport
from bot.fakeapi import FakeTelegram
from bot.notices.outbox import render_notice
from storage.db import create_engine, create_sessionmaker, upgrade
from storage.models import Channel, ContactPoint, OutboxMessage, OutboxStatus, Person

TOKEN = "123456:BENCH"
FIRST_USER = 5_000_000


async def bench_delivery(n: int = 1000, limit: float = 30.0) -> dict:
    """Deliver `n` outbox rows to `n` chats against a server that allows `limit` messages per second."""
    clock = ManualClock(datetime.fromisoformat("2026-09-07T10:00:00+08:00"))
    now = clock.now()
    settings = Settings(_env_file=None, send_rate_global=limit, send_rate_per_chat=1.0)
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            await upgrade(engine)
            sessions = create_sessionmaker(engine)
            async with FakeTelegram(clock=clock, global_rate=limit, per_chat_rate=1.0) as server:
                await _seed(sessions, server, n, now)
                bot = Bot(TOKEN, session=server.session(), default=DefaultBotProperties(parse_mode=ParseMode.HTML))
                try:
                    sender = Sender(sessions, {Channel.TELEGRAM: TelegramTransport(bot)}, clock, settings)
                    loop = asyncio.get_running_loop()
                    started = loop.time()
                    await sender.drain(timeout=n / limit * 3 + 30)
                    seconds = loop.time() - started
                finally:
                    await bot.session.close()
                stats = server.stats
        finally:
            await engine.dispose()
    rate = stats.sent / seconds
    return {
        "messages": n,
        "delivered": stats.sent,
        "limit": limit,
        "seconds": round(seconds, 2),
        "rate": round(rate, 2),
        "of_limit": round(rate / limit, 3),
        "rate_limited": stats.rate_limited,
    }


async def _seed(sessions, server: FakeTelegram, n: int, now: datetime) -> None:
    values = {"guardian": "测试家长", "has_phone": False, "children": [{"name": "测试学生", "relation": "父亲"}]}
    text = render_notice("guardian_unreachable", "zh_Hans", values)
    async with sessions() as session, session.begin():
        people = [{"name": f"家长{i}", "phone": None, "created_at": now, "updated_at": now} for i in range(n)]
        ids = list(await session.scalars(insert(Person).returning(Person.id), people))
        contacts, rows = [], []
        for i, person_id in enumerate(ids):
            address = str(FIRST_USER + i)
            server.user(FIRST_USER + i, f"用户{i}").state.started = True
            contacts.append({"person_id": person_id, "channel": Channel.TELEGRAM, "address": address,
                             "reachable": True, "linked_at": now})
            rows.append({"idempotency_key": f"bench:{i}", "person_id": person_id, "channel": Channel.TELEGRAM,
                         "address": address, "template": "guardian_unreachable", "locale": "zh_Hans", "text": text,
                         "actions": [], "status": OutboxStatus.PENDING, "created_at": now, "next_attempt_at": now,
                         "attempts": 0})
        await session.execute(insert(ContactPoint), contacts)
        await session.execute(insert(OutboxMessage), rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.delivery", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="messages, each to its own chat")
    parser.add_argument("--limit", type=float, default=30.0, help="the server's global limit, messages per second")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(bench_delivery(args.n, args.limit))
    print(f"delivery: {result['messages']} messages to {result['messages']} chats, server limit {result['limit']:g}/s")
    print(f"{'delivered':>10} {'seconds':>8} {'rate/s':>7} {'of limit':>9} {'429s':>5}")
    print(f"{result['delivered']:>10} {result['seconds']:>8.2f} {result['rate']:>7.2f} {result['of_limit']:>9.3f} "
          f"{result['rate_limited']:>5}")
    ok = result["of_limit"] >= 0.95 and result["rate_limited"] == 0 and result["delivered"] == result["messages"]
    print("goal (≥ 0.95 of the limit, no 429): " + ("met" if ok else "NOT met"))


if __name__ == "__main__":
    main()
