"""What the guardian's flows share: form states, the leave form's callback data, small button helpers."""

from __future__ import annotations

import contextlib
from datetime import date

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _

from bot.notices.absence import ANSWER_LABELS
from handlers.menu import ASK_LEAVE, is_button
from handlers.texts import short_day, t

KIDS_ACTION = "kids"  # NoticeAction: back from one child's answers to the list of children (ref = absence id)
LEAVE_LENGTHS = (1, 2, 3)  # school days offered as buttons


class ReplyForm(StatesGroup):
    text = State()  # the guardian tapped 其他 and writes a few words


class LeaveForm(StatesGroup):
    child = State()
    day = State()
    typed_day = State()
    length = State()
    reason = State()
    note = State()
    confirm = State()


class LeaveStep(CallbackData, prefix="lv"):
    """A button of the leave flow: `step` (child, day, len, reason, skip, send, cancel) and its `value`."""

    step: str
    value: str = ""


def _is_typed(text: str) -> bool:
    """Text the person typed as an answer: not a /command, not the menu button."""
    return not text.startswith("/") and not is_button(text, ASK_LEAVE)


TYPED = F.text.func(_is_typed)


def _span(first: date, last: date) -> str:
    return short_day(first) if first == last else t("{first} to {last}", first=short_day(first), last=short_day(last))


def _answer_label(answer: str) -> str:
    msgid = next((label for key, label in ANSWER_LABELS.items() if key.value == answer), None)
    return _(msgid) if msgid else answer


def _step_button(label: str, step: str, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=label, callback_data=LeaveStep(step=step, value=value).pack())


def _message(query: CallbackQuery) -> Message | None:
    return query.message if isinstance(query.message, Message) else None


async def _edit_text(message: Message | None, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Show the form's next step in its message, in place."""
    if message is None:
        return
    with contextlib.suppress(TelegramBadRequest):  # "message is not modified", or too old to edit
        await message.edit_text(text, reply_markup=markup)


async def _edit_markup(message: Message | None, markup: InlineKeyboardMarkup | None) -> None:
    if message is None:
        return
    with contextlib.suppress(TelegramBadRequest):  # "message is not modified", or too old to edit
        await message.edit_reply_markup(reply_markup=markup)
