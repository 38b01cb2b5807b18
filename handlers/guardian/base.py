"""What the guardian's flows share: the answer form's state, the typed-answer filter, small message helpers."""

from __future__ import annotations

import contextlib

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.notices.absence import ANSWER_LABELS
from handlers.menu import ASK_LEAVE, is_button

KIDS_ACTION = "kids"  # NoticeAction: back from one child's answers to the list of children (ref = absence id)


class ReplyForm(StatesGroup):
    text = State()  # the guardian tapped 其他 and writes a few words


def _is_typed(text: str) -> bool:
    """Text the person typed as an answer: not a /command, not the menu button."""
    return not text.startswith("/") and not is_button(text, ASK_LEAVE)


TYPED = F.text.func(_is_typed)


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
