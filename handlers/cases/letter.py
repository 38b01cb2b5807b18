"""The school officer's one tap that sends the 劝学书 (policy `suspected_dropout.persuasion_notice =
"officer_confirms"`): the button 「✉️ 发出劝学书」 under the opening alert and the reminder."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery

from bot import cases as cs
from bot.cases import CONFIRM_ACTION
from bot.core.scope import Actor
from bot.delivery.telegram import NoticeAction
from handlers.cases.base import _policy
from handlers.cases.card import card_after
from handlers.cases.listing import _leave_note
from handlers.context import Context
from handlers.texts import t


async def letter_confirmed(
    query: CallbackQuery, callback_data: NoticeAction, ctx: Context, actor: Actor, state: FSMContext,
    scenes: ScenesManager,
) -> None:
    """`confirm_persuasion_notice` (it checks the tapping person's scope and the stage); the alert becomes the
    case's card, headed by what was done. A second tap changes nothing."""
    await _leave_note(state, scenes)

    async def confirm() -> str:
        result = await cs.confirm_persuasion_notice(ctx.session, ctx.settings, _policy(ctx.settings),
                                                    ctx.clock.now(), actor, callback_data.ref)
        return (t("✉️ The letter about returning to school has gone to the family.") if result.changed
                else t("The letter about returning to school had gone out already."))

    await card_after(query, ctx, actor, callback_data.ref, confirm)


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    router = Router(name="cases.letter")
    router.callback_query.register(letter_confirmed, NoticeAction.filter(F.action == CONFIRM_ACTION))
    return router
