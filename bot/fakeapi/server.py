"""An in-process fake Telegram Bot API served over real HTTP: the real aiogram client talks to it unchanged.

`FakeTelegram` holds the state, the update queue and the HTTP plumbing; the Bot API methods themselves live in
`methods.BotApi`. Users act through `FakeUser` (see `user.py`), which pushes updates here.
"""

from __future__ import annotations

import asyncio
import json
import math
from contextlib import suppress
from functools import partial
from http import HTTPStatus
from typing import Any, Literal

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from bot.core.clock import Clock, SystemClock
from bot.fakeapi.methods import ApiError, BotApi, Params, read_params, scope_key
from bot.fakeapi.state import Chat, LogEntry, RateLimiter, Record, Stats, UserState
from bot.fakeapi.user import FakeUser

FAULT_DESCRIPTIONS = {500: "Internal Server Error", 502: "Bad Gateway"}
MAX_UPLOAD = 50 * 1024 * 1024  # Telegram's limit for bots' uploads

_dumps = partial(json.dumps, ensure_ascii=False)


class FakeTelegram:
    """The fake Bot API server; `async with FakeTelegram() as server:` starts it on 127.0.0.1 at `base_url`."""

    def __init__(
        self,
        token_ok: str | None = None,
        clock: Clock | None = None,
        global_rate: float = 30.0,
        per_chat_rate: float = 1.0,
        per_chat_burst: int = 3,
        bot_username: str = "quanxue_bot",
        bot_name: str = "Quanxue",
    ) -> None:
        self.token_ok = token_ok
        self.clock = clock or SystemClock()
        self.bot_username, self.bot_name = bot_username, bot_name
        self.bot_id = _bot_id(token_ok, default=1)
        self.users: dict[int, UserState] = {}
        self.chats: dict[int, Chat] = {}
        self.log: list[LogEntry] = []
        self.stats = Stats()
        self.base_url = ""
        self.unanswered_callbacks: dict[str, int] = {}  # callback query id -> chat id
        self._limiter = RateLimiter(global_rate, per_chat_rate, per_chat_burst)
        self._actors: dict[int, FakeUser] = {}
        self._faults: dict[str, list[ApiError]] = {}
        self._updates: list[dict] = []
        self._last_update_id = 0
        self._last_callback_id = 0
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._api = BotApi(self)

    # -- lifecycle -------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Release waiting long polls and shut the HTTP server down."""
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def session(self) -> AiohttpSession:
        """An aiogram session that talks to this server: `Bot(token, session=server.session())`."""
        return LocalSession(api=TelegramAPIServer.from_base(self.base_url))

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- test controls ---------------------------------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str,
        language_code: str | None = "zh-hans",
        last_name: str | None = None,
        username: str | None = None,
        phone: str | None = None,
    ) -> FakeUser:
        """Register a Telegram user (or get the one already registered under this id)."""
        if user_id not in self._actors:
            state = UserState(user_id, first_name, last_name, username, language_code, phone)
            self.users[user_id] = state
            self.chats[user_id] = Chat(state)
            self._actors[user_id] = FakeUser(self, state)
        return self._actors[user_id]

    def fail_next(self, method: str, status: int, count: int = 1, retry_after: int | None = None) -> None:
        """Make the next `count` calls of `method` fail with HTTP `status` (429 carries `retry_after`)."""
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            retry_after = retry_after or 1
            description = f"Too Many Requests: retry after {retry_after}"
        else:
            description = FAULT_DESCRIPTIONS.get(status) or HTTPStatus(status).phrase
        faults = [ApiError(status, description, retry_after) for _ in range(count)]
        self._faults.setdefault(method.lower(), []).extend(faults)

    def set_rate_limits(
        self, global_rate: float | None = None, per_chat_rate: float | None = None, per_chat_burst: int | None = None
    ) -> None:
        """Change the flood limits; the token buckets start full again."""
        limiter = self._limiter
        self._limiter = RateLimiter(
            limiter.global_rate if global_rate is None else global_rate,
            limiter.per_chat_rate if per_chat_rate is None else per_chat_rate,
            limiter.per_chat_burst if per_chat_burst is None else per_chat_burst,
        )

    async def settled(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a deadline is the point here
        """Return once the bot has confirmed (via getUpdates offset) every update queued so far."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: not self._updates)
        except TimeoutError:
            pending = [update["update_id"] for update in self._updates]
            raise TimeoutError(
                f"the bot did not confirm updates {pending} within {timeout}s "
                "(is it polling this server with handle_as_tasks=False?)"
            ) from None

    def commands(self, scope: dict | None = None, language_code: str | None = None) -> list[dict]:
        """The command list the bot set with setMyCommands for this scope and language."""
        return self._api.commands.get(scope_key(scope, language_code), [])

    def produced(self, chat_id: int, since: int) -> list[Record]:
        """Bot messages sent or edited in a chat since log position `since`, each once, in order."""
        entries = self.log[since:]
        records = [e.record for e in entries if e.chat_id == chat_id and e.kind in ("send", "edit") and e.record]
        return list(dict.fromkeys(records))

    # -- what users do (called by FakeUser) ------------------------------------------------------------------------

    async def receive(self, user_id: int, **content: Any) -> Record:
        """A message from a user to the bot: stored, logged and queued as a `message` update."""
        chat = self.chats[user_id]
        chat.user.started = True
        record = chat.add(Record(user_id, "user", self.clock.now(), **content))
        self.record_event(user_id, "user", "contact" if record.contact else "message", record.summary(), record)
        await self._push("message", self.message(record))
        return record

    async def callback(self, user_id: int, message_id: int, data: str, label: str | None = None) -> str:
        """A tap on an inline button: queues a `callback_query` update and returns its id."""
        chat = self.chats[user_id]
        record = chat.find(message_id)
        self._last_callback_id += 1
        query_id = str(10**15 + self._last_callback_id)
        self.unanswered_callbacks[query_id] = user_id
        message = self.message(record) if record else {"chat": chat.user.as_chat(), "message_id": message_id, "date": 0}
        self.record_event(user_id, "user", "tap", label or data, record)
        query = {"id": query_id, "from": chat.user.as_user(), "chat_instance": str(user_id), "data": data}
        await self._push("callback_query", query | {"message": message})
        return query_id

    async def set_blocked(self, user_id: int, blocked: bool) -> None:
        """The user blocks (or unblocks) the bot: queues a `my_chat_member` update."""
        user = self.users[user_id]
        user.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        self.record_event(user_id, "user", "block" if blocked else "unblock", f"[{old} → {new}]")
        update = {"chat": user.as_chat(), "from": user.as_user(), "date": int(self.clock.now().timestamp())}
        update |= {"old_chat_member": self._member(old), "new_chat_member": self._member(new)}
        await self._push("my_chat_member", update)

    # -- helpers shared with the methods ---------------------------------------------------------------------------

    def bot_user(self) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_name, "username": self.bot_username}

    def message(self, record: Record) -> dict:
        """A stored record as the Telegram Message the bot sees."""
        user = self.users[record.chat_id]
        sender = self.bot_user() if record.sender == "bot" else user.as_user()
        return record.to_message(sender, user.as_chat())

    def _member(self, status: str) -> dict:
        return {"status": status, "user": self.bot_user()} | ({"until_date": 0} if status == "kicked" else {})

    def record_event(
        self, chat_id: int, actor: Literal["user", "bot"], kind: str, text: str, record: Record | None = None
    ) -> None:
        self.log.append(LogEntry(self.clock.now(), chat_id, actor, kind, text, record))

    def throttle(self, chat_id: int) -> None:
        wait = self._limiter.acquire(chat_id, asyncio.get_running_loop().time())
        if wait:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    # -- updates ---------------------------------------------------------------------------------------------------

    async def _push(self, kind: str, payload: dict) -> None:
        self._last_update_id += 1
        self._updates.append({"update_id": self._last_update_id, kind: payload})
        async with self._changed:
            self._changed.notify_all()

    async def get_updates(self, params: Params) -> list[dict]:
        offset = params.int("offset")
        if offset is not None:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        async with self._changed:
            self._changed.notify_all()  # settled() may be waiting for this confirmation
        with suppress(TimeoutError):
            async with asyncio.timeout(params.int("timeout") or 0), self._changed:
                await self._changed.wait_for(lambda: bool(self._updates) or self._closing)
        return self._updates[: params.int("limit") or 100]

    # -- HTTP ------------------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.stats.calls[method] += 1
        try:
            result = await self._call(request.match_info["token"], method.lower(), request)
        except ApiError as error:
            if error.code == HTTPStatus.TOO_MANY_REQUESTS:
                self.stats.rate_limited += 1
            return web.json_response(error.payload(), status=error.code, dumps=_dumps)
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)

    async def _call(self, token: str, method: str, request: web.Request) -> Any:
        if self.token_ok is not None and token != self.token_ok:
            raise ApiError(401, "Unauthorized")
        implementation = self._api.methods.get(method)
        if implementation is None:
            raise ApiError(404, "Not Found: method not found")
        if self._faults.get(method):
            raise self._faults[method].pop(0)
        self.bot_id = _bot_id(token, default=self.bot_id)
        return await implementation(await read_params(request))


def _bot_id(token: str | None, default: int) -> int:
    """The bot's user id is the token's numeric prefix (`123456:ABC...`)."""
    prefix = (token or "").partition(":")[0]
    return int(prefix) if prefix.isdigit() else default


class LocalSession(AiohttpSession):
    """Plain HTTP to 127.0.0.1: closes without aiogram's 250 ms wait for SSL connections to drain."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
