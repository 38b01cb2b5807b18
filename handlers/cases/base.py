"""The cases' callback data, the note's form name and the small helpers every case flow shares."""

from __future__ import annotations

from datetime import date
from enum import IntEnum, StrEnum

from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

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


NOTE = "case_note"  # the form of a legal step's optional note or the note an "other" outcome needs (`notes`)


ACTION_DO = {
    CaseAction.RECORD_PERSUASION: Do.PERSUADE,
    CaseAction.REPORT: Do.REPORT,
    CaseAction.ISSUE_ORDER: Do.ORDER,
    CaseAction.LEGAL_STEP: Do.LEGAL,
    CaseAction.CLOSE: Do.CLOSE,
    CaseAction.CLOSE_RETURNED: Do.CLOSE,
    CaseAction.REQUEST_SUPPORT: Do.SUPPORT,
}


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
