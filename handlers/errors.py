"""The last resort: an unexpected error rolls the update's transaction back and the person is told so."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.types import ErrorEvent

from bot.core.i18n import DEFAULT_LOCALE, gettext

log = logging.getLogger(__name__)


async def on_error(event: ErrorEvent, locale: str = DEFAULT_LOCALE) -> None:
    """Runs outside the update's transaction (already rolled back) and outside the i18n context."""
    update = event.update
    log.error("update %s failed", update.update_id, exc_info=event.exception)
    text = gettext("Sorry, something went wrong and nothing was changed. Please try again in a moment.", locale)
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.message is not None:
        await update.message.answer(text)


def make_router() -> Router:
    """A fresh router with this module's handlers (one per Dispatcher)."""
    router = Router(name="errors")
    router.error.register(on_error)
    return router
