"""Wiring: one place that builds the database, the Bot client, the dispatcher and its middlewares."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import Response
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    GetMe,
    GetUpdates,
    SendDocument,
    SendMessage,
    SetMyCommands,
)
from aiogram.types import BotCommand, BotCommandScopeDefault, TelegramObject, Update
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.core.i18n import DOMAIN, LOCALES_DIR, compile_catalogs, gettext
from bot.core.settings import Settings
from bot.delivery.sender import Sender
from bot.delivery.telegram import TelegramTransport
from bot.delivery.transport import Transport
from handlers import build_router
from handlers.middlewares import DatabaseMiddleware, LocaleMiddleware
from handlers.teacher.rollcall import served_from_working_copy
from storage.db import create_engine, create_sessionmaker, upgrade
from storage.models import Channel

log = logging.getLogger(__name__)

# aiogram parses every Bot API answer as `Response[T]`, and pydantic keeps parametrised generics only weakly: after a
# garbage collection the class is rebuilt, which took most of a tap's time (see docs/performance.md). Holding the
# types of the methods the bot calls keeps them built.
_RESPONSE_TYPES = [
    Response[method.__returning__]  # type: ignore[name-defined]  # built at run time; mypy reads it as a type
    for method in (
        GetUpdates, SendMessage, EditMessageText, EditMessageReplyMarkup, AnswerCallbackQuery, DeleteMessage,
        SendDocument, SetMyCommands, GetMe,
    )
]

# A form nobody finishes (a leave request, a home-visit record) is dropped this long after its last step.
FORM_TTL = timedelta(days=3)

# Telegram picks command descriptions by the user's two-letter language code; "" is everyone else.
COMMAND_LANGUAGES = {"": "zh_Hans", "en": "en"}


@dataclass
class App:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bot: Bot
    dispatcher: Dispatcher
    sender: Sender  # delivers the outbox; `serve` runs `sender.run()` beside polling

    @classmethod
    async def create(cls, settings: Settings, clock: Clock, api_session: AiohttpSession | None = None) -> App:
        """Open the database (upgrading its schema) and build the bot; nothing talks to Telegram yet."""
        engine = create_engine(settings.database_url)
        await upgrade(engine)
        sessions = create_sessionmaker(engine)
        bot = build_bot(settings, api_session)
        transports: dict[str, Transport] = {Channel.TELEGRAM: TelegramTransport(bot)}
        sender = Sender(sessions, transports, clock, settings)
        dispatcher = build_dispatcher(settings, clock, sessions, on_notices=sender.wake)
        return cls(settings, clock, engine, sessions, bot, dispatcher, sender)

    async def run_polling(self, *, handle_as_tasks: bool = True, polling_timeout: int = 10) -> None:
        """Serve updates until stopped (Ctrl-C, or `stop()` from another task)."""
        await check_storage(self.dispatcher.storage)
        await set_commands(self.bot)
        await self.dispatcher.start_polling(
            self.bot,
            handle_signals=handle_as_tasks,
            handle_as_tasks=handle_as_tasks,
            polling_timeout=polling_timeout,
            allowed_updates=self.dispatcher.resolve_used_update_types(),
        )

    async def stop(self) -> None:
        with contextlib.suppress(RuntimeError):  # polling had not started
            await self.dispatcher.stop_polling()

    async def close(self) -> None:
        await self.dispatcher.storage.close()  # polling's shutdown closes it too; closing twice is harmless
        await self.bot.session.close()
        await self.engine.dispose()


def build_bot(settings: Settings, session: AiohttpSession | None = None) -> Bot:
    """The Bot API client; `session` defaults to one for `settings.telegram_api`."""
    session = session or AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api))
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def build_dispatcher(
    settings: Settings, clock: Clock, sessions: async_sessionmaker[AsyncSession], on_notices: Callable[[], None]
) -> Dispatcher:
    """The dispatcher with its middlewares; `on_notices` runs after an update's transaction queued notices."""
    compile_catalogs()
    storage = build_storage(settings)
    dispatcher = Dispatcher(storage=storage, events_isolation=build_isolation(storage), settings=settings, clock=clock,
                            sessions=sessions)
    dispatcher.update.outer_middleware(
        DatabaseMiddleware(sessions, on_notices, deferred_lookup=_served_from_working_copy)
    )
    i18n = I18n(path=LOCALES_DIR, default_locale=settings.locale, domain=DOMAIN)
    dispatcher.update.outer_middleware(LocaleMiddleware(i18n, settings.locale))
    dispatcher.include_router(build_router())
    return dispatcher


def _served_from_working_copy(event: TelegramObject) -> bool:
    """The middleware sees every update as a TelegramObject; the lookup is about updates."""
    return isinstance(event, Update) and served_from_working_copy(event)


def build_storage(settings: Settings) -> BaseStorage:
    """Where half-finished forms wait: Redis when `redis_url` is set (survives restarts, shared by workers)."""
    if not settings.redis_url:
        return MemoryStorage()
    # with_destiny: handlers/roll_copies.py keeps its data under a StorageKey destiny of its own.
    key_builder = DefaultKeyBuilder(prefix=settings.redis_prefix, with_destiny=True)
    return RedisStorage.from_url(settings.redis_url, key_builder=key_builder, state_ttl=FORM_TTL, data_ttl=FORM_TTL)


def build_isolation(storage: BaseStorage) -> BaseEventIsolation:
    """One update at a time per person and chat (in Redis: across workers), so two quick taps never lose one
    another's change to a roll call's working copy or a form."""
    return storage.create_isolation() if isinstance(storage, RedisStorage) else SimpleEventIsolation()


async def check_storage(storage: BaseStorage) -> None:
    """Refuse to serve when Redis does not answer: every update would fail, and Telegram would not resend it."""
    if isinstance(storage, RedisStorage):
        pong = storage.redis.ping()  # redis-py types its commands for the sync and the async client at once
        if inspect.isawaitable(pong):
            await pong


def command_list(locale: str) -> list[BotCommand]:
    return [
        BotCommand(command="start", description=gettext("Start, or link your account with a code", locale)),
        BotCommand(command="roll", description=gettext("Roll call (class teachers)", locale)),
        BotCommand(command="leave", description=gettext("Ask for leave (guardians)", locale)),
        BotCommand(command="help", description=gettext("What I can do for you", locale)),
        BotCommand(command="privacy", description=gettext("What the school keeps, and why", locale)),
        BotCommand(command="lang", description=gettext("Language: 简体中文 / 繁體中文 / English", locale)),
    ]


async def set_commands(bot: Bot) -> None:
    for language_code, locale in COMMAND_LANGUAGES.items():
        await bot.set_my_commands(command_list(locale), BotCommandScopeDefault(), language_code or None)
