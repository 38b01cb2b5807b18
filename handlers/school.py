"""School officer and principal: school calendar closures (`/closure`).

`/closure 2026-10-12 暴雨停课` closes the officer's school that day (asks which school first when they administer
several); `/closure` alone lists the upcoming closures, each with a remove button. Scope is checked again on every
tap, and the services in `bot.calendar.days` check it once more. Thin: parse, call the service, render.
"""

from __future__ import annotations

import contextlib
from datetime import date
from html import escape

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.calendar import days as cal
from bot.core.clock import to_local
from bot.core.scope import Actor
from handlers.context import Context
from handlers.roles import Holds
from handlers.texts import long_day, short_day, t
from storage.models import CalendarDay

NOTE_MAX = 200  # CalendarDay.note


class ClosureSchoolCallback(CallbackData, prefix="closure_at"):
    """Which school a new closure is for (the day and note wait in the FSM data of the tapping account)."""

    school_id: int
    day: str  # YYYYMMDD


class ClosureRemoveCallback(CallbackData, prefix="closure_rm"):
    closure_id: int


# --- rendering ----------------------------------------------------------------------------------------------------


def officer_schools(actor: Actor) -> list[int]:
    """The schools this person may change the calendar of (as school admin or principal)."""
    ids = {scope.school_id for scope in actor.roles if scope.school_id is not None}
    return sorted(school_id for school_id in ids if actor.administers_school(school_id))


def not_allowed_text() -> str:
    return t("Only the school's dropout-control officer or principal can do this.")


def usage_text() -> str:
    return t(
        "To close your school on a day, send the date and the reason, for example:\n/closure 2026-10-12 Heavy rain"
    )


async def closure_list(ctx: Context, school_ids: list[int], today: date) -> tuple[str, InlineKeyboardMarkup | None]:
    closures = await cal.upcoming_closures(ctx.session, school_ids, today)
    if not closures:
        return t("No upcoming closures.") + "\n\n" + usage_text(), None
    names = await cal.school_names(ctx.session, school_ids) if len(school_ids) > 1 else {}
    lines = [t("<b>Upcoming closures</b>")]
    for row in closures:
        parts = [escape(long_day(row.day))]
        if names:
            parts.append(escape(names.get(row.school_id or 0, "")))
        if row.note:
            parts.append(escape(row.note))
        lines.append("• " + " · ".join(parts))
    keyboard = InlineKeyboardBuilder()
    for row in closures:
        keyboard.button(text=t("Remove {day}", day=short_day(row.day))
                        + (f" · {names.get(row.school_id or 0, '')}" if names else ""),
                        callback_data=ClosureRemoveCallback(closure_id=row.id))
    keyboard.adjust(1)
    return "\n".join([*lines, "", usage_text()]), keyboard.as_markup()


def closure_added_text(school: str, row: CalendarDay, check: cal.ClosureCheck) -> str:
    if check.already_closed:
        lines = [t("{school} is already closed on {day}.", school=school, day=long_day(row.day))]
    else:
        lines = [t("✅ {school} is closed on {day}. There is no roll call that day and it does not count as an "
                   "absence day.", school=school, day=long_day(row.day))]
    if check.in_past:
        lines.append(t("Note: this date is in the past."))
    if check.outside_term:
        lines.append(t("Note: this date is outside the term dates (a vacation), so it was not a school day anyway."))
    elif check.not_working_day:
        lines.append(t("Note: this date is a weekend or public holiday, so it was not a school day anyway."))
    return "\n".join(lines)


def _today(ctx: Context) -> date:
    return to_local(ctx.clock.now(), ctx.settings.tz).date()


async def _close(ctx: Context, actor: Actor, school_id: int, day: date, note: str | None) -> str:
    check = await cal.check_closure(ctx.session, school_id, day, _today(ctx))
    row = await cal.add_closure(ctx.session, ctx.clock.now(), actor.person_id, school_id, day, note)
    names = await cal.school_names(ctx.session, [school_id])
    return closure_added_text(names.get(school_id, ""), row, check)


# --- /closure -----------------------------------------------------------------------------------------------------


async def closure_command(
    message: Message, command: CommandObject, ctx: Context, actor: Actor, state: FSMContext,
) -> None:
    schools = officer_schools(actor)
    args = (command.args or "").strip()
    if not args:
        text, keyboard = await closure_list(ctx, schools, _today(ctx))
        await message.answer(text, reply_markup=keyboard)
        return
    day_text, _, note_text = args.partition(" ")
    day = cal.parse_day(day_text)
    if day is None:
        await message.answer(t("I cannot read “{text}” as a date.", text=day_text) + "\n" + usage_text())
        return
    note = note_text.strip() or None
    if note is not None and len(note) > NOTE_MAX:
        await message.answer(t("The reason is too long: at most {max} characters, please.", max=NOTE_MAX))
        return
    if len(schools) == 1:
        await message.answer(await _close(ctx, actor, schools[0], day, note))
        return
    await state.update_data(closure_day=day.isoformat(), closure_note=note)
    names = await cal.school_names(ctx.session, schools)
    choice = InlineKeyboardBuilder()
    for school_id in schools:
        choice.button(text=names.get(school_id, str(school_id)),
                      callback_data=ClosureSchoolCallback(school_id=school_id, day=day.strftime("%Y%m%d")))
    choice.adjust(1)
    await message.answer(t("Which school is closed on {day}?", day=long_day(day)), reply_markup=choice.as_markup())


async def closure_school_chosen(
    query: CallbackQuery, callback_data: ClosureSchoolCallback, ctx: Context, actor: Actor, state: FSMContext,
) -> None:
    if not actor.administers_school(callback_data.school_id):
        await query.answer(not_allowed_text(), show_alert=True)
        return
    data = await state.get_data()
    day = cal.parse_day(f"{callback_data.day[:4]}-{callback_data.day[4:6]}-{callback_data.day[6:]}")
    if day is None or data.get("closure_day") != day.isoformat():
        await query.answer(t("This button is no longer valid. Send /closure again."))
        return
    await state.update_data(closure_day=None, closure_note=None)
    text = await _close(ctx, actor, callback_data.school_id, day, data.get("closure_note"))
    await query.answer()
    if isinstance(query.message, Message):
        with contextlib.suppress(TelegramBadRequest):
            await query.message.edit_text(text, reply_markup=None)


async def closure_remove(
    query: CallbackQuery, callback_data: ClosureRemoveCallback, ctx: Context, actor: Actor,
) -> None:
    schools = officer_schools(actor)
    try:
        removed = await cal.remove_closure(ctx.session, ctx.clock.now(), actor.person_id, callback_data.closure_id)
    except cal.NotAllowed:
        await query.answer(not_allowed_text(), show_alert=True)
        return
    if removed is None:
        await query.answer(t("This closure was already removed."))
    else:
        await query.answer(t("The closure on {day} was removed.", day=short_day(removed.day)))
    if isinstance(query.message, Message):
        text, keyboard = await closure_list(ctx, schools, _today(ctx))
        with contextlib.suppress(TelegramBadRequest):
            await query.message.edit_text(text, reply_markup=keyboard)


async def not_officer(message: Message) -> None:
    await message.answer(not_allowed_text())


async def not_officer_tap(query: CallbackQuery) -> None:
    await query.answer(not_allowed_text(), show_alert=True)


CLOSES_SCHOOLS = Holds(lambda actor: bool(officer_schools(actor)))


def make_router() -> Router:
    """A fresh router with this module's handlers (one per Dispatcher): the officers' behind one router-wide
    filter, then one refusal per trigger for anyone else."""
    officer = Router(name="school.officer")
    officer.message.filter(CLOSES_SCHOOLS)
    officer.callback_query.filter(CLOSES_SCHOOLS)
    officer.message.register(closure_command, Command("closure"))
    officer.callback_query.register(closure_school_chosen, ClosureSchoolCallback.filter())
    officer.callback_query.register(closure_remove, ClosureRemoveCallback.filter())
    refusals = Router(name="school.refusals")
    refusals.message.register(not_officer, Command("closure"))
    for trigger in (ClosureSchoolCallback.filter(), ClosureRemoveCallback.filter()):
        refusals.callback_query.register(not_officer_tap, trigger)
    router = Router(name="school")
    router.include_routers(officer, refusals)
    return router
