"""The optional expected return day (📅 返校日期) of a sick or personal-leave student, after submitting."""

from __future__ import annotations

import contextlib
from datetime import date

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.scope import Actor
from bot.rollcall import service as rc
from bot.rollcall.view import ErrorCode, RollCallError
from handlers.context import Context
from handlers.teacher.rollcall import _refuse, guarded
from handlers.teacher.view import ReturnDay, Status, render
from handlers.texts import short_day, t


async def return_day(query: CallbackQuery, callback_data: ReturnDay, ctx: Context, actor: Actor) -> None:
    d = callback_data
    try:
        text, keyboard = await _return_step(ctx, actor, d)
    except RollCallError as error:
        await _refuse(query, error, ctx, actor, d.r)
        return
    if isinstance(query.message, Message):
        with contextlib.suppress(TelegramBadRequest):
            await query.message.edit_text(text, reply_markup=keyboard)
    await query.answer()


async def _return_step(ctx: Context, actor: Actor, d: ReturnDay) -> tuple[str, InlineKeyboardMarkup]:
    """Choose the student (when several), then the day; the day chosen shows the roll call again."""
    now, tz = ctx.clock.now(), ctx.settings.tz
    if d.d >= 0 and d.s:
        expected = _parse_day(d.d)
        return render(await rc.set_expected_return(ctx.session, now, actor, d.r, d.s, expected, tz))
    student_id = d.s
    if not student_id:
        candidates = (await rc.status(ctx.session, now, actor, d.r, tz)).return_candidates
        if len(candidates) != 1:
            keyboard = InlineKeyboardBuilder()
            for m in candidates:
                keyboard.button(text=m.name, callback_data=ReturnDay(r=d.r, s=m.student_id))
            keyboard.button(text=t("◀ Back"), callback_data=Status(r=d.r))
            keyboard.adjust(1)
            return t("Whose return date?"), keyboard.as_markup()
        student_id = candidates[0].student_id
    mark, days = await rc.return_day_choices(ctx.session, now, actor, d.r, student_id, tz)
    keyboard = InlineKeyboardBuilder()
    for day in days:
        keyboard.button(text=short_day(day),
                        callback_data=ReturnDay(r=d.r, s=student_id, d=int(day.strftime("%Y%m%d"))))
    keyboard.button(text=t("Not sure"), callback_data=ReturnDay(r=d.r, s=student_id, d=0))
    keyboard.button(text=t("◀ Back"), callback_data=Status(r=d.r))
    keyboard.adjust(*[1] * len(days), 2)
    return t("When is {name} expected back?", name=mark.name), keyboard.as_markup()


def _parse_day(value: int) -> date | None:
    if value == 0:
        return None
    try:
        return date(value // 10000, value // 100 % 100, value % 100)
    except ValueError:
        raise RollCallError(ErrorCode.BAD_VALUE) from None


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    return guarded("handlers.teacher.return_day", (return_day, ReturnDay.filter()))
