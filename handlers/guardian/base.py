"""What the guardian's flows share: the answers' labels, small message helpers."""

from __future__ import annotations

import contextlib

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.notices.absence import ANSWER_LABELS

KIDS_ACTION = "kids"  # NoticeAction: back from one child's answers to the list of children (ref = absence id)


def _answer_label(answer: str) -> str:
    msgid = next((label for key, label in ANSWER_LABELS.items() if key.value == answer), None)
    return _(msgid) if msgid else answer


def _message(query: CallbackQuery) -> Message | None:
    return query.message if isinstance(query.message, Message) else None


async def _edit_markup(message: Message | None, markup: InlineKeyboardMarkup | None) -> None:
    if message is None:
        return
    with contextlib.suppress(TelegramBadRequest):  # "message is not modified", or too old to edit
        await message.edit_reply_markup(reply_markup=markup)
