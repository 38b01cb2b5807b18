"""A fake Telegram Bot API for the offline demo and end-to-end tests: `FakeTelegram` serves it, `FakeUser` acts."""

from bot.fakeapi.server import FakeTelegram
from bot.fakeapi.state import LogEntry, Record
from bot.fakeapi.user import FakeUser

__all__ = ["FakeTelegram", "FakeUser", "LogEntry", "Record"]
