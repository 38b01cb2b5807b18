"""Outer middlewares: one database transaction per update, who is acting, and in which language to answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.context import FSMContext
from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.i18n import LOCALES, locale_for_language_code
from bot.core.scope import actor_by_contact
from bot.notices.outbox import NOTICES_QUEUED
from handlers.context import Context
from storage.models import Channel, Person

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
LANGUAGE_DESTINY = "language"


class DatabaseMiddleware(BaseMiddleware):
    """Opens one session per update and commits when the handler returns; an exception rolls everything back.

    Puts one `ctx` (`handlers.context.Context`: session, clock, settings, person, actor, …) in the data, and
    `actor` (their roles and children, or None for someone not linked) for the role filters.
    For an update that `deferred_lookup` picks (taps the roll call's working copy serves), the person is not looked
    up here: its handler does that only if it needs to, so such a tap touches no table. The transaction begins
    with the first query, so an update that makes none costs the database nothing.
    When the transaction queued notices, `on_notices` is called after the commit (it wakes the sender).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        on_notices: Callable[[], None],
        deferred_lookup: Callable[[TelegramObject], bool] = lambda _: False,
    ) -> None:
        self.sessions = sessions
        self.on_notices = on_notices
        self.deferred_lookup = deferred_lookup

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        async with self.sessions() as session:  # closing rolls back whatever was not committed
            ctx = Context(session, data["clock"], data["settings"], None, None, self.deferred_lookup(event),
                          self.on_notices, data.get("state"))
            if user is not None and not ctx.lookup_deferred:
                ctx.person, ctx.actor = await actor_by_contact(session, Channel.TELEGRAM, str(user.id))
            data["ctx"], data["actor"] = ctx, ctx.actor
            result = await handler(event, data)
            if session.in_transaction():  # it begins with the first query
                await session.commit()
            if session.info.pop(NOTICES_QUEUED, False):
                ctx.wake_sender()
            return result


def language_choice(state: FSMContext) -> FSMContext:
    """Where the language an account chose with /lang before it was linked waits (linking then makes it the
    person's language); a destiny of its own, so that no form clears it."""
    return FSMContext(state.storage, replace(state.key, destiny=LANGUAGE_DESTINY))


class LocaleMiddleware(I18nMiddleware):
    """The person's chosen language, else the one the account chose before linking, else their Telegram app's
    language, else the deployment default."""

    def __init__(self, i18n: I18n, default_locale: str) -> None:
        super().__init__(i18n)
        self.default_locale = default_locale

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        """Also leaves the choice in data["locale"], where the error handler finds it after a rollback."""
        ctx: Context | None = data.get("ctx")
        person = ctx.person if ctx else None
        user: User | None = data.get("event_from_user")
        if person is not None and person.locale:
            data["locale"] = person.locale
        else:
            data["locale"] = await self._unlinked_choice(person, data) or locale_for_language_code(
                user.language_code if user else None, self.default_locale)
        if ctx is not None:
            ctx.locale = data["locale"]
        return str(data["locale"])

    @staticmethod
    async def _unlinked_choice(person: Person | None, data: dict[str, Any]) -> str | None:
        state: FSMContext | None = data.get("state")
        ctx: Context | None = data.get("ctx")
        if person is not None or state is None or ctx is None or ctx.lookup_deferred:
            return None
        chosen = (await language_choice(state).get_data()).get("locale")
        return chosen if chosen in LOCALES else None
