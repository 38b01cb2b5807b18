"""The class teacher's (or school officer's) one-tap decision on a guardian's leave request."""

from __future__ import annotations

import contextlib
from html import escape

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    CallbackQuery,
)
from aiogram.utils.i18n import gettext as _

from bot.core.policy import load_policy
from bot.core.scope import Actor
from bot.delivery.telegram import NoticeAction
from bot.families import leave as lv
from bot.notices.outbox import Delivery
from handlers.context import Context
from handlers.guardian.base import _message
from handlers.roles import DECIDES_LEAVE
from handlers.texts import short_day, t
from storage.models import LeaveStatus


async def leave_decided(query: CallbackQuery, callback_data: NoticeAction, ctx: Context, actor: Actor) -> None:
    if callback_data.value not in ("yes", "no"):
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return
    policy = load_policy(ctx.settings)
    result = await lv.decide_leave(ctx.session, ctx.settings, ctx.clock.now(), actor, callback_data.ref,
                                   approve=callback_data.value == "yes", policy=policy)
    message = _message(query)
    if result.status is lv.DecisionStatus.NEEDS_OFFICER:
        await query.answer(t("Leave of more than {n} school days is decided by the school officer. Nothing was "
                             "changed.", n=policy.leave.teacher_max.amount), show_alert=True)
        return
    if result.status in (lv.DecisionStatus.FORBIDDEN, lv.DecisionStatus.NOT_FOUND) or result.leave is None:
        await not_for_you(query)
        return
    approved = result.leave.status == LeaveStatus.APPROVED
    who = result.decided_by.name if result.decided_by else "?"
    status_line = _("✅ Approved by {name}.") if approved else _("❌ Declined by {name}.")
    if result.status is lv.DecisionStatus.STALE:
        await query.answer(_("This leave was already decided: {decision}").format(
            decision=status_line.format(name=who)), show_alert=True)
    else:
        await query.answer(_("Done. The guardian will be told."))
    lines = [status_line.format(name=escape(who))]
    if result.ok and result.excused:
        lines.append(t("Absences already recorded for these days now count as approved leave: {days}.",
                       days="、".join(short_day(a.day) for a in result.excused)))
    if result.ok and result.guardian_delivery in (Delivery.NOT_LINKED, Delivery.UNREACHABLE):
        lines.append(t("📞 The guardian cannot be reached in the bot; please tell them by phone."))
    if message is not None and message.text is not None and message.reply_markup is not None:  # not yet marked
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_text(message.html_text + "\n\n" + "\n".join(lines), reply_markup=None)


async def not_for_you(query: CallbackQuery) -> None:
    await query.answer(t("Only the child's class teacher or the school's officer can decide this leave. "
                         "Nothing was changed."), show_alert=True)


def make_router() -> Router:
    """A fresh router with this flow's handlers: the deciders' behind one router-wide filter, then one refusal for
    anyone else (the service checks that the decider manages the child's class)."""
    trigger = NoticeAction.filter(F.action == lv.LEAVE_ACTION)
    deciders = Router(name="handlers.teacher.leave_decision.deciders")
    deciders.callback_query.filter(DECIDES_LEAVE)
    deciders.callback_query.register(leave_decided, trigger)
    refusals = Router(name="handlers.teacher.leave_decision.refusals")
    refusals.callback_query.register(not_for_you, trigger)
    router = Router(name="handlers.teacher.leave_decision")
    router.include_routers(deciders, refusals)
    return router
