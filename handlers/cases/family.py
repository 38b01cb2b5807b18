"""The guardian's answers to the 劝学书 and the help they ask for."""

from __future__ import annotations

import contextlib

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import cases as cs
from bot.cases import (
    ANSWER_LABELS,
    CASE_ACTION,
    SUPPORT_ACTION,
    SUPPORT_LABELS,
    ActionResult,
    CaseError,
    CaseErrorCode,
    GuardianCaseAnswer,
    SupportKind,
)
from bot.core.scope import Actor
from bot.delivery.telegram import NoticeAction
from handlers.cases.base import _message, _policy
from handlers.cases.labels import guardian_refusal
from handlers.context import Context
from handlers.roles import GUARDIAN
from handlers.texts import t


def _marked(
    markup: InlineKeyboardMarkup | None, action: str, chosen: set[str], labels: dict
) -> InlineKeyboardMarkup | None:
    """The notice's keyboard as it is, with ✓ before the chosen answers (labels redrawn in the reader's language).
    Its buttons came with the update: copied here with their new text, never through a keyboard builder (which
    deep-copies them, and with them the bot they are bound to)."""
    if markup is None:
        return None
    rows = []
    for row in markup.inline_keyboard:
        new_row = []
        for button in row:
            with contextlib.suppress(ValueError, TypeError):
                data = NoticeAction.unpack(button.callback_data or "")
                if data.action == action:
                    msgid = next((label for key, label in labels.items() if key.value == data.value), None)
                    if msgid:
                        text = ("✓ " if data.value in chosen else "") + gettext(msgid)
                        button = button.model_copy(update={"text": text})
            new_row.append(button)
        rows.append(new_row)
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def _edit_markup(message: Message | None, markup: InlineKeyboardMarkup | None) -> None:
    if message is None or markup is None:
        return
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=markup)


def support_markup(case_id: int, chosen: frozenset[str] | set[str] = frozenset()) -> InlineKeyboardMarkup:
    keyboard = InlineKeyboardBuilder()
    for kind, label in SUPPORT_LABELS.items():
        keyboard.button(text=("✓ " if kind.value in chosen else "") + gettext(label),
                        callback_data=NoticeAction(action=SUPPORT_ACTION, ref=case_id, value=kind.value))
    keyboard.adjust(1)
    return keyboard.as_markup()


def _school_told(result: ActionResult) -> bool:
    return any(x.reached for x in result.told) or not result.changed


async def guardian_answered(
    query: CallbackQuery, callback_data: NoticeAction, ctx: Context, actor: Actor,
) -> None:
    try:
        answer = GuardianCaseAnswer(callback_data.value) if callback_data.value in tuple(GuardianCaseAnswer) \
            else None
        if answer is None:
            raise CaseError(CaseErrorCode.BAD_VALUE)
        result = await cs.answer_persuasion_notice(ctx.session, ctx.settings, _policy(ctx.settings), ctx.clock.now(),
                                                   actor, callback_data.ref, answer)
    except CaseError as error:
        await query.answer(guardian_refusal(error), show_alert=True)
        return
    message = _message(query)
    label = gettext(ANSWER_LABELS[answer])
    if not result.changed:
        await query.answer(t("You already answered: {answer}.", answer=label))
    else:
        await query.answer(t("Thank you!"))
    await _edit_markup(message, _marked(message.reply_markup if message else None, CASE_ACTION, {answer.value},
                                        ANSWER_LABELS))
    if message is None:
        return
    if result.details.get("ask_support"):
        await message.answer(t("What kind of help does your family need so that {child} can come back to school? "
                               "Tap one (you can tap more than one).", child=result.case.student_name),
                             reply_markup=support_markup(callback_data.ref))
    elif result.changed:
        lines = [t("Thank you. Your answer “{answer}” about {child} is recorded.", answer=label,
                   child=result.case.student_name)]
        if answer is GuardianCaseAnswer.CALL_ME:
            lines.append(t("The school will call you."))
        lines.append(t("The school has been told.") if _school_told(result)
                     else t("If it is urgent, please call the school."))
        await message.answer("\n".join(lines))


async def guardian_needs(query: CallbackQuery, callback_data: NoticeAction, ctx: Context, actor: Actor) -> None:
    try:
        if callback_data.value not in tuple(SupportKind):
            raise CaseError(CaseErrorCode.BAD_VALUE)
        kind = SupportKind(callback_data.value)
        result = await cs.request_support(ctx.session, ctx.settings, _policy(ctx.settings), ctx.clock.now(), actor,
                                          callback_data.ref, kind)
    except CaseError as error:
        await query.answer(guardian_refusal(error), show_alert=True)
        return
    message = _message(query)
    label = gettext(SUPPORT_LABELS[kind])
    if not result.changed:
        await query.answer(t("You already asked for this: {kind}.", kind=label))
    else:
        await query.answer(t("Thank you!"))
    if message is None:
        return
    chosen = {kind.value}
    for row in (message.reply_markup.inline_keyboard if message.reply_markup else []):
        for button in row:
            if button.text.startswith("✓ "):
                with contextlib.suppress(ValueError, TypeError):
                    chosen.add(NoticeAction.unpack(button.callback_data or "").value)
    await _edit_markup(message, _marked(message.reply_markup, SUPPORT_ACTION, chosen, SUPPORT_LABELS))
    if result.changed:
        await message.answer(t("Thank you. The school has been asked to arrange “{kind}” for {child} and will "
                               "contact you.", kind=label, child=result.case.student_name))


async def not_a_guardian(query: CallbackQuery) -> None:
    """Anyone who is not a guardian taps a family's button (a guardian of another child hears the same from the
    service)."""
    await query.answer(guardian_refusal(CaseError(CaseErrorCode.NOT_ALLOWED)), show_alert=True)


def make_router() -> Router:
    """A fresh router with this flow's handlers: the guardians' taps behind one router-wide filter, then one refusal
    for anyone else."""
    answer, needs = NoticeAction.filter(F.action == CASE_ACTION), NoticeAction.filter(F.action == SUPPORT_ACTION)
    guardians = Router(name="cases.family.guardians")
    guardians.callback_query.filter(GUARDIAN)
    guardians.callback_query.register(guardian_answered, answer)
    guardians.callback_query.register(guardian_needs, needs)
    refusals = Router(name="cases.family.refusals")
    for trigger in (answer, needs):
        refusals.callback_query.register(not_a_guardian, trigger)
    router = Router(name="cases.family")
    router.include_routers(guardians, refusals)
    return router
