"""The cases' callback data, form states and the small helpers every case flow shares."""

from __future__ import annotations

from datetime import date
from enum import IntEnum, StrEnum

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.cases import (
    CaseAction,
    LegalStepKind,
    SupportKind,
)
from bot.core.clock import to_local
from bot.core.policy import load_policy
from bot.core.settings import Settings
from handlers.context import Context
from storage.models import CaseOutcome

LIST_LIMIT = 30  # case buttons under /cases (the most urgent)
SHOWN = 5  # answers / events shown on a card (the newest)
MAX_DAYS_BACK = 90  # a persuasion attempt dated further back is refused as a typo


class Do(IntEnum):
    PERSUADE = 1
    REPORT = 2
    ORDER = 3
    LEGAL = 4
    CLOSE = 5
    SUPPORT = 6


class CaseList(CallbackData, prefix="csl"):
    c: int  # 1: the closed cases


class CaseCard(CallbackData, prefix="csc"):
    i: int  # case id


class CaseDo(CallbackData, prefix="csd"):
    i: int  # case id
    a: int  # Do
    s: str  # the stage the card showed (a CaseStage value)
    v: str = ""  # the choice (a value of CHOICES[a]: outcome, legal kind, support kind); "": offer the choices
    c: int = 0  # 1: confirmed


CHOICES: dict[Do, type[StrEnum]] = {Do.LEGAL: LegalStepKind, Do.CLOSE: CaseOutcome, Do.SUPPORT: SupportKind}


class FormStep(CallbackData, prefix="csf"):
    f: int  # Field
    v: str = ""  # the answer: an enum value (method, reason, attitude), a day offset (0, 1; 2: type it), 0/1


class Field(IntEnum):
    CANCEL = 0
    METHOD = 1
    DAY = 2
    VISITORS = 3  # 「我自己」
    PEOPLE_SKIP = 4
    REASON = 5
    ATTITUDE = 6
    SUCCEEDED = 7
    NEXT_SKIP = 8
    SAVE = 9
    AUTHORITIES = 10  # 「已报告 / 尚未报告」, for child labour or early marriage only


class PersuasionForm(StatesGroup):
    method = State()
    day = State()
    typed_day = State()
    visitors = State()
    people_met = State()
    reason = State()
    authorities = State()
    attitude = State()
    succeeded = State()
    next_step = State()
    confirm = State()


class CaseNote(StatesGroup):
    text = State()  # a legal step's optional note, or the note an "other" outcome needs


FIELD_STATE = {
    Field.METHOD: PersuasionForm.method,
    Field.DAY: PersuasionForm.day,
    Field.VISITORS: PersuasionForm.visitors,
    Field.PEOPLE_SKIP: PersuasionForm.people_met,
    Field.REASON: PersuasionForm.reason,
    Field.AUTHORITIES: PersuasionForm.authorities,
    Field.ATTITUDE: PersuasionForm.attitude,
    Field.SUCCEEDED: PersuasionForm.succeeded,
    Field.NEXT_SKIP: PersuasionForm.next_step,
    Field.SAVE: PersuasionForm.confirm,
}
ACTION_DO = {
    CaseAction.RECORD_PERSUASION: Do.PERSUADE,
    CaseAction.REPORT: Do.REPORT,
    CaseAction.ISSUE_ORDER: Do.ORDER,
    CaseAction.LEGAL_STEP: Do.LEGAL,
    CaseAction.CLOSE: Do.CLOSE,
    CaseAction.CLOSE_RETURNED: Do.CLOSE,
    CaseAction.REQUEST_SUPPORT: Do.SUPPORT,
}


def _typed(text: str) -> bool:
    return not text.startswith("/")


TYPED = F.text.func(_typed)


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _message(query: CallbackQuery) -> Message | None:
    return query.message if isinstance(query.message, Message) else None


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    message = _message(query)
    if message is None:
        return
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as error:
        if "not modified" not in str(error):
            raise


def _today(ctx: Context) -> date:
    return to_local(ctx.clock.now(), ctx.settings.tz).date()


def _policy(settings: Settings):
    return load_policy(settings)
