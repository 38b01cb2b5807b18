"""The class teacher's "back at school": a student with an open case was marked present."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import cases as cs
from bot.cases import (
    RETURNED_ACTION,
    CaseError,
)
from bot.core.scope import Actor
from bot.delivery.telegram import NoticeAction
from bot.rollcall.service import Summary
from handlers.cases.base import CaseCard, CaseDo, Do, _policy
from handlers.cases.card import _done_head, card_after
from handlers.cases.labels import stage_label
from handlers.cases.listing import _leave_note
from handlers.context import Context
from handlers.texts import t
from storage.models import CaseOutcome, CaseStage, RollCall, SchoolClass


async def offer_close_returned(message: Message | None, ctx: Context, actor: Actor, summary: Summary) -> None:
    """After a roll call is recorded: for each student marked present who has an open case, a message with a
    button 「{child} 已返校，结案」 (a confirmation tap follows). Called by handlers.teacher."""
    if message is None or not summary.recorded:
        return
    roll_call = await ctx.session.get(RollCall, summary.roll_call_id)
    if roll_call is None:
        return
    policy, now = _policy(ctx.settings), ctx.clock.now()
    absent = {mark.student_id for mark in summary.absent}
    try:
        open_cases = [c for c in await cs.list_cases(ctx.session, ctx.settings, policy, now, actor, stage=cs.ALL_OPEN)
                      if c.class_id == roll_call.class_id and c.student_id not in absent]
        school_class = await ctx.session.get_one(SchoolClass, roll_call.class_id)
        marked = await cs.students_marked_present(ctx.session, ctx.settings, policy, now, actor, school_class,
                                                  [c.student_id for c in open_cases], roll_call.day)
    except CaseError:
        return
    found = {c.id: c for c in marked}  # the actor manages the class: closing is theirs to offer
    for case in (found[c.id] for c in open_cases if c.id in found):
        d = CaseDo(i=case.id, a=Do.CLOSE, s=CaseStage(case.stage).value, v=CaseOutcome.RETURNED.value)
        text = t("<b>{child}</b> was marked present and has an open case ({stage}). If the child is back at "
                 "school, close the case as returned.", child=case.student_name, stage=stage_label(case.stage))
        keyboard = InlineKeyboardBuilder()
        keyboard.button(text=gettext("{child} is back: close the case").format(child=case.student_name),
                        callback_data=d)
        keyboard.button(text=t("📁 Open the case"), callback_data=CaseCard(i=case.id))
        keyboard.adjust(1)
        await message.answer(text, reply_markup=keyboard.as_markup())


async def return_confirmed(
    query: CallbackQuery, callback_data: NoticeAction, ctx: Context, actor: Actor, state: FSMContext,
    scenes: ScenesManager,
) -> None:
    """The button under the ladder's return reminder: one tap closes the case as returned (`close_case` checks the
    tapping person's scope and the stage, as after the roll call's offer); the notice becomes the case's card."""
    await _leave_note(state, scenes)

    async def close() -> str:
        result = await cs.close_case(ctx.session, ctx.settings, _policy(ctx.settings), ctx.clock.now(), actor,
                                     callback_data.ref, CaseOutcome.RETURNED)
        return _done_head(Do.CLOSE, result)

    await card_after(query, ctx, actor, callback_data.ref, close)


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    router = Router(name="cases.returned")
    router.callback_query.register(return_confirmed, NoticeAction.filter(F.action == RETURNED_ACTION))
    return router
