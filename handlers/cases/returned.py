"""The class teacher's "back at school": a student with an open case was marked present."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot import cases as cs
from bot.cases import (
    RETURNED_ACTION,
    CaseError,
    CaseErrorCode,
)
from bot.core.clock import Clock
from bot.core.scope import Actor
from bot.core.settings import Settings
from bot.delivery.telegram import NoticeAction
from bot.rollcall.service import Summary
from handlers.cases.base import CaseCard, CaseDo, Do, _button, _edit, _policy
from handlers.cases.card import _card, _done_head, _refuse
from handlers.cases.labels import stage_label
from handlers.cases.listing import _leave_note
from handlers.texts import t
from storage.models import CaseOutcome, CaseStage, RollCall


async def offer_close_returned(message: Message | None, session: AsyncSession, clock: Clock, settings: Settings,
                               actor: Actor, summary: Summary) -> None:
    """After a roll call is recorded: for each student marked present who has an open case, a message with a
    button 「{child} 已返校，结案」 (a confirmation tap follows). Called by handlers.teacher."""
    if message is None or not summary.recorded:
        return
    roll_call = await session.get(RollCall, summary.roll_call_id)
    if roll_call is None:
        return
    policy, now = _policy(settings), clock.now()
    absent = {mark.student_id for mark in summary.absent}
    try:
        open_cases = [c for c in await cs.list_cases(session, settings, policy, now, actor, stage=cs.ALL_OPEN)
                      if c.class_id == roll_call.class_id and c.student_id not in absent]
        found = [await cs.student_marked_present(session, settings, policy, now, actor, c.student_id,
                                                 roll_call.day) for c in open_cases]
    except CaseError:
        return
    for case in (c for c in found if c is not None):  # the actor manages the class: closing is theirs to offer
        d = CaseDo(i=case.id, a=Do.CLOSE, s=CaseStage(case.stage).value, v=CaseOutcome.RETURNED.value)
        text = t("<b>{child}</b> was marked present and has an open case ({stage}). If the child is back at "
                 "school, close the case as returned.", child=case.student_name, stage=stage_label(case.stage))
        markup = InlineKeyboardMarkup(inline_keyboard=[
            [_button(gettext("{child} is back: close the case").format(child=case.student_name), d)],
            [_button(t("📁 Open the case"), CaseCard(i=case.id))],
        ])
        await message.answer(text, reply_markup=markup)


async def return_confirmed(query: CallbackQuery, callback_data: NoticeAction, session: AsyncSession, clock: Clock,
                           settings: Settings, actor: Actor | None, state: FSMContext) -> None:
    """The button under the ladder's return reminder: one tap closes the case as returned (`close_case` checks the
    tapping person's scope and the stage, as after the roll call's offer); the notice becomes the case's card."""
    await _leave_note(state)
    case_id = callback_data.ref
    try:
        if actor is None or not actor.is_staff:
            raise CaseError(CaseErrorCode.NOT_ALLOWED)
        result = await cs.close_case(session, settings, _policy(settings), clock.now(), actor, case_id,
                                     CaseOutcome.RETURNED)
        text, markup = await _card(session, clock, settings, actor, case_id, _done_head(Do.CLOSE, result))
    except CaseError as error:
        await _refuse(query, error, session, clock, settings, actor, case_id)
        return
    await query.answer()
    await _edit(query, text, markup)


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    router = Router(name="cases.returned")
    router.callback_query.register(return_confirmed, NoticeAction.filter(F.action == RETURNED_ACTION))
    return router
