"""`/cases`: the open (or closed) cases a person may see, most urgent first, and under the open ones the watch list.

The watch list ("需要关注") is the absence patterns of this month and last (`bot.cases.list_watch_items`: 多次旷课,
or excused days piling up), within the scope the service gives: a school's officers their school's, a class
teacher their classes'. Township and county officers see none (like a school's open cases before reporting, a
pattern is the school's to follow). It is read-only: the service has no action on a watch item, and a child who
goes on missing school gets a case by the ladder itself.
"""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import cases as cs
from bot.cases import (
    CaseSummary,
    WatchItemView,
)
from bot.cases.patterns import UNEXPLAINED
from bot.core.scope import Actor
from handlers.cases.base import LIST_LIMIT, NOTE, CaseCard, CaseList, _edit, _policy
from handlers.cases.labels import deadline_label, outcome_label, stage_label
from handlers.context import Context
from handlers.forms import leave
from handlers.roles import STAFF
from handlers.texts import month_year, short_day, t
from storage.models import CaseStage


def _deadline_text(summary: CaseSummary, mark: bool = True) -> str:
    """The next deadline; `mark`: with ⚠️ after it when it has passed (the card says "overdue" in words)."""
    if summary.next_deadline is None:
        return ""
    text = t("{what} {day}", what=deadline_label(summary.deadline_kind), day=short_day(summary.next_deadline))
    return text + (" ⚠️" if summary.overdue and mark else "")


def _case_line(number: int, summary: CaseSummary, with_school: bool) -> str:
    parts = [t("<b>{child}</b> · {class_name}", child=summary.student_name, class_name=summary.class_name)]
    if with_school:
        parts.append(escape(summary.school_name))
    if summary.stage == CaseStage.CLOSED:
        parts.append(outcome_label(summary.outcome))
    else:
        parts.append(stage_label(summary.stage))
        parts.append(t("absent {days} school days", days=summary.days_absent))
        deadline = _deadline_text(summary)
        if deadline:
            parts.append(deadline)
    return f"{number}. " + " · ".join(parts)


def _watch_line(item: WatchItemView) -> str:
    child = t("<b>{child}</b> · {class_name}", child=item.student_name, class_name=item.class_name)
    month = month_year(item.month)
    if item.kind == UNEXPLAINED:
        pattern = t("{month}: absent {days} days without a reason or for an unknown reason", month=month,
                    days=item.days)
    else:
        pattern = t("{month}: {days} days of sick or personal leave", month=month, days=item.days)
    return f"• {child} · {pattern}"


def render_watch_list(items: list[WatchItemView]) -> str:
    """The watch list under the open cases ("" when there is nothing to watch)."""
    if not items:
        return ""
    lines = [t("<b>Needs attention</b> ({count}): absent often in a month, not a dropout case:", count=len(items)),
             *(_watch_line(item) for item in items[:LIST_LIMIT])]
    if len(items) > LIST_LIMIT:
        lines.append(t("…and {count} more.", count=len(items) - LIST_LIMIT))
    return "\n".join(lines)


def render_list(cases: list[CaseSummary], closed: bool) -> tuple[str, InlineKeyboardMarkup]:
    if closed:
        head = t("<b>Closed cases</b> ({count}), newest first:", count=len(cases)) if cases else t(
            "No closed cases.")
    else:
        head = t("<b>Open cases</b> ({count}), most urgent first:", count=len(cases)) if cases else t(
            "No open cases. 🎉")
    with_school = len({c.school_id for c in cases}) > 1
    lines = [head, *(_case_line(n, c, with_school) for n, c in enumerate(cases[:LIST_LIMIT], 1))]
    if len(cases) > LIST_LIMIT:
        lines.append(t("…and {count} more.", count=len(cases) - LIST_LIMIT))
    keyboard = InlineKeyboardBuilder()
    for n, c in enumerate(cases[:LIST_LIMIT], 1):
        keyboard.button(text=f"{n}. {c.student_name}" + (" ⚠️" if c.overdue and not closed else ""),
                        callback_data=CaseCard(i=c.id))
    keyboard.button(text=t("Show open cases") if closed else t("Show closed cases"),
                    callback_data=CaseList(c=int(not closed)))
    keyboard.adjust(1)
    return "\n".join(lines), keyboard.as_markup()


async def _list(ctx: Context, actor: Actor, closed: bool
                ) -> tuple[str, InlineKeyboardMarkup]:
    now = ctx.clock.now()
    cases = await cs.list_cases(ctx.session, ctx.settings, _policy(ctx.settings), now, actor,
                                stage=CaseStage.CLOSED.value if closed else None)
    text, markup = render_list(cases, closed)
    watch = "" if closed else render_watch_list(await cs.list_watch_items(ctx.session, ctx.settings, now, actor))
    return (text + "\n\n" + watch if watch else text), markup


async def _leave_note(state: FSMContext, scenes: ScenesManager) -> None:
    """Moving on from a note step (the list, a card, another step) abandons it: a text typed later must not
    become its note and record the step."""
    await leave(NOTE, state, scenes)


async def cases_command(message: Message, ctx: Context, actor: Actor, state: FSMContext, scenes: ScenesManager) -> None:
    await _leave_note(state, scenes)
    text, markup = await _list(ctx, actor, closed=False)
    await message.answer(text, reply_markup=markup)


async def list_tapped(
    query: CallbackQuery, callback_data: CaseList, ctx: Context, actor: Actor, state: FSMContext, scenes: ScenesManager,
) -> None:
    await _leave_note(state, scenes)
    text, markup = await _list(ctx, actor, closed=bool(callback_data.c))
    await query.answer()
    await _edit(query, text, markup)


async def not_staff(message: Message, state: FSMContext, scenes: ScenesManager) -> None:
    await _leave_note(state, scenes)
    await message.answer(t("The case list is for teachers, school officers and township officers."))


async def not_staff_tap(query: CallbackQuery, state: FSMContext, scenes: ScenesManager) -> None:
    await _leave_note(state, scenes)
    await query.answer(t("You cannot see or change this case."), show_alert=True)


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    router = Router(name="cases.listing")
    router.message.register(cases_command, Command("cases"), STAFF)
    router.message.register(not_staff, Command("cases"))
    router.callback_query.register(list_tapped, CaseList.filter(), STAFF)
    router.callback_query.register(not_staff_tap, CaseList.filter())
    return router
