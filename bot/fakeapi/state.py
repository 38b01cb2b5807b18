"""What the fake Telegram remembers: users, their private chats, every message in both directions, the event log."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal


@dataclass
class UserState:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    phone: str | None = None
    started: bool = False
    blocked: bool = False

    def as_user(self) -> dict:
        """The Telegram User object."""
        fields = {"last_name": self.last_name, "username": self.username, "language_code": self.language_code}
        return {"id": self.id, "is_bot": False, "first_name": self.first_name} | _present(fields)

    def as_chat(self) -> dict:
        """The Telegram Chat object of the private chat with this user."""
        fields = {"last_name": self.last_name, "username": self.username}
        return {"id": self.id, "type": "private", "first_name": self.first_name} | _present(fields)


@dataclass(eq=False)
class Record:
    """One message in a chat, as stored; `text`/`caption`/`entities` are what the user sees (after HTML parsing)."""

    chat_id: int
    sender: Literal["user", "bot"]
    date: datetime
    message_id: int = 0
    text: str | None = None
    caption: str | None = None
    raw: str | None = None  # the text or caption exactly as sent (HTML source when parse_mode is HTML)
    parse_mode: str | None = None
    entities: list[dict] = field(default_factory=list)
    reply_markup: dict | None = None
    document: dict | None = None
    photo: dict | None = None
    contact: dict | None = None
    edited: bool = False
    edit_date: datetime | None = None
    history: list[Record] = field(default_factory=list)
    deleted: bool = False

    def inline_buttons(self) -> list[dict]:
        """The inline keyboard's buttons, row by row, flattened."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def buttons(self) -> list[str]:
        """The visible labels of the inline keyboard."""
        return [button["text"] for button in self.inline_buttons()]

    def snapshot(self) -> Record:
        """A copy of the current version, for the edit history."""
        return replace(self, history=[])

    def to_message(self, sender: dict, chat: dict) -> dict:
        """The Telegram Message object as the bot sees it."""
        message = {"message_id": self.message_id, "date": _unix(self.date), "chat": chat, "from": sender}
        message |= _present({"text": self.text, "caption": self.caption, "contact": self.contact})
        if self.entities:
            message["caption_entities" if self.caption is not None else "entities"] = self.entities
        if self.document:
            message["document"] = public_file(self.document)
        if self.photo:
            size = {key: self.photo[key] for key in ("file_id", "file_unique_id", "file_size")}
            message["photo"] = [size | {"width": 0, "height": 0}]
        if self.edit_date:
            message["edit_date"] = _unix(self.edit_date)
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            message["reply_markup"] = self.reply_markup
        return message

    def summary(self) -> str:
        """One line for a transcript."""
        attachment = self.document or self.photo
        if attachment:
            name = attachment.get("file_name") or "photo"
            return f"[{'document' if self.document else 'photo'}: {name}] {self.caption or ''}".rstrip()
        if self.contact:
            return f"[contact: {self.contact['phone_number']}]"
        return self.text or ""


@dataclass
class Chat:
    """A private chat (chat id == user id)."""

    user: UserState
    messages: list[Record] = field(default_factory=list)
    keyboard: dict | None = None
    callback_answers: list[dict] = field(default_factory=list)

    def add(self, record: Record) -> Record:
        record.message_id = len(self.messages) + 1
        self.messages.append(record)
        return record

    def find(self, message_id: int | None) -> Record | None:
        """The live (not deleted) message with this id."""
        found = next((record for record in self.messages if record.message_id == message_id), None)
        return None if found is None or found.deleted else found


@dataclass
class LogEntry:
    """One event in the global, chronological log (the demo transcript is printed from it)."""

    at: datetime
    chat_id: int
    actor: Literal["user", "bot"]
    kind: str
    text: str
    record: Record | None = None


@dataclass
class Stats:
    rate_limited: int = 0
    sent: int = 0
    calls: Counter[str] = field(default_factory=Counter)


@dataclass
class TokenBucket:
    rate: float
    capacity: float
    tokens: float
    stamp: float

    def shortfall(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class RateLimiter:
    """Telegram's flood limits: a global bucket and one bucket per chat; a send needs a token from both."""

    def __init__(self, global_rate: float, per_chat_rate: float, per_chat_burst: int) -> None:
        self.global_rate, self.per_chat_rate, self.per_chat_burst = global_rate, per_chat_rate, per_chat_burst
        self._global: TokenBucket | None = None
        self._chats: dict[int, TokenBucket] = {}

    def acquire(self, chat_id: int, now: float) -> float:
        """Take a token for a send to `chat_id`; returns 0, or the seconds to wait when none is available."""
        if self._global is None:
            self._global = TokenBucket(self.global_rate, self.global_rate, self.global_rate, now)
        chat = self._chats.setdefault(
            chat_id, TokenBucket(self.per_chat_rate, self.per_chat_burst, self.per_chat_burst, now)
        )
        wait = max(self._global.shortfall(now), chat.shortfall(now))
        if not wait:
            self._global.tokens -= 1
            chat.tokens -= 1
        return wait


def public_file(info: dict) -> dict:
    """A stored file's Telegram object (without the bytes)."""
    return {key: value for key, value in info.items() if key != "data"}


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _unix(instant: datetime) -> int:
    return int(instant.timestamp())
