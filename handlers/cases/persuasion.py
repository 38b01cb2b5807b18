"""The guided persuasion record (劝返记录): method, day, visitors, people met, reason (and, for child labour or early
marriage, whether the authorities were told), attitude, result."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot import cases as cs
from bot.calendar.typed import Looking, parse_typed_day
from bot.cases import (
    Attitude,
    CaseDetail,
    CaseError,
    PersuasionInput,
    PersuasionMethod,
    ReasonFound,
)
from bot.cases.actions import MAX_NAMES
from bot.cases.model import MAX_TEXT, REPORT_DUTY_REASONS
from bot.core.scope import Actor
from handlers.cases.base import (
    FIELD_STATE,
    MAX_DAYS_BACK,
    TYPED,
    CaseDo,
    Do,
    Field,
    FormStep,
    PersuasionForm,
    _button,
    _edit,
    _message,
    _policy,
    _today,
)
from handlers.cases.card import _card, _done_head, _refuse, _show_current
from handlers.cases.labels import attitude_label, method_label, reason_label
from handlers.context import Context
from handlers.texts import short_day, t


def _form_button(label: str, f: Field, v: str = "") -> InlineKeyboardButton:
    return _button(label, FormStep(f=f, v=v))


def _form_markup(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [_form_button(t("✖ Cancel"), Field.CANCEL)]])


def _pairs(buttons: list[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def _form_head(data: dict) -> str:
    return t("📝 <b>Persuasion record</b> · {child}", child=data.get("cf_child", ""))


def _step(data: dict, field: Field) -> tuple[str, InlineKeyboardMarkup]:
    """The question of one step of the form and its buttons."""
    head = _form_head(data)
    if field is Field.METHOD:
        buttons = [_form_button(method_label(m.value), Field.METHOD, m.value) for m in PersuasionMethod]
        return head + "\n" + t("How was the family contacted?"), _form_markup(_pairs(buttons))
    if field is Field.DAY:
        rows = [[_form_button(t("Today"), Field.DAY, "0"), _form_button(t("Yesterday"), Field.DAY, "1")],
                [_form_button(t("Another day"), Field.DAY, "2")]]
        return head + "\n" + t("On which day?"), _form_markup(rows)
    if field is Field.VISITORS:
        return head + "\n" + t("Who went (or called)? Type the names, or tap 「Just me」."), _form_markup(
            [[_form_button(t("Just me"), Field.VISITORS)]])
    if field is Field.PEOPLE_SKIP:
        return head + "\n" + t("Whom did you meet (e.g. father, grandmother, the child)? Type it, or tap Skip."), \
            _form_markup([[_form_button(t("Skip"), Field.PEOPLE_SKIP)]])
    if field is Field.REASON:
        buttons = [_form_button(reason_label(r.value), Field.REASON, r.value) for r in ReasonFound]
        return head + "\n" + t("Why is the child out of school?"), _form_markup(_pairs(buttons))
    if field is Field.AUTHORITIES:
        rows = [[_form_button(t("Reported"), Field.AUTHORITIES, "1"),
                 _form_button(t("Not yet reported"), Field.AUTHORITIES, "0")]]
        return head + "\n" + t(
            "⚠️ Child labour and early marriage must be reported to the authorities at once "
            "(Law on the Protection of Minors, art. 11). Have they been told?"), _form_markup(rows)
    if field is Field.ATTITUDE:
        buttons = [_form_button(attitude_label(a.value), Field.ATTITUDE, a.value) for a in Attitude]
        return head + "\n" + t("The guardian's attitude?"), _form_markup(_pairs(buttons))
    if field is Field.SUCCEEDED:
        rows = [[_form_button(t("Yes, the child will return"), Field.SUCCEEDED, "1"),
                 _form_button(t("No"), Field.SUCCEEDED, "0")]]
        return head + "\n" + t("Did the family agree to send the child back?"), _form_markup(rows)
    if field is Field.NEXT_SKIP:
        return head + "\n" + t("The agreed measures and next step? Type them, or tap Skip."), _form_markup(
            [[_form_button(t("Skip"), Field.NEXT_SKIP)]])
    return _summary(data)


def _summary(data: dict) -> tuple[str, InlineKeyboardMarkup]:
    lines = [_form_head(data), t("Please check:"),
             t("Method: {value}", value=method_label(data["cf_method"])),
             t("Day: {value}", value=short_day(date.fromisoformat(data["cf_day"]))),
             t("Visitors: {value}", value=data["cf_visitors"])]
    if data.get("cf_met"):
        lines.append(t("People met: {value}", value=data["cf_met"]))
    lines.append(t("Reason found: {value}", value=reason_label(data["cf_reason"])))
    if data.get("cf_told") is not None:
        lines.append(t("Authorities: {value}", value=t("Reported") if data["cf_told"] else t("Not yet reported")))
    lines += [t("Attitude: {value}", value=attitude_label(data["cf_attitude"])),
              t("Result: {value}", value=t("agreed to return") if data["cf_succeeded"] else t("not successful"))]
    if data.get("cf_next"):
        lines.append(t("Next step: {value}", value=data["cf_next"]))
    return "\n".join(lines), _form_markup([[_form_button(t("💾 Save"), Field.SAVE)]])


NEXT_FIELD = {
    Field.METHOD: Field.DAY, Field.DAY: Field.VISITORS, Field.VISITORS: Field.PEOPLE_SKIP,
    Field.PEOPLE_SKIP: Field.REASON, Field.REASON: Field.ATTITUDE, Field.AUTHORITIES: Field.ATTITUDE,
    Field.ATTITUDE: Field.SUCCEEDED,
    Field.SUCCEEDED: Field.NEXT_SKIP, Field.NEXT_SKIP: Field.SAVE,
}


async def _start_form(query: CallbackQuery, state: FSMContext, d: CaseDo, detail: CaseDetail) -> None:
    await state.clear()
    await state.set_state(PersuasionForm.method)
    data: dict[str, Any] = {"cf_case": d.i, "cf_stage": d.s, "cf_child": detail.summary.student_name}
    await state.update_data(**data)
    text, markup = _step(data, Field.METHOD)
    await query.answer()
    await _edit(query, text, markup)


async def _advance(state: FSMContext, field: Field, **values) -> tuple[str, InlineKeyboardMarkup]:
    """Store the answer to `field` and move to the next step; its question and buttons."""
    await state.update_data(**values)
    data = await state.get_data()
    following = NEXT_FIELD[field]
    if field is Field.REASON and data["cf_reason"] in REPORT_DUTY_REASONS:
        following = Field.AUTHORITIES
    await state.set_state(FIELD_STATE[following])
    return _step(data, following)


async def _form_over(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer(t("This form is over. Open the case again with /cases."), show_alert=True)
    message = _message(query)
    if message is not None:
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=None)


async def form_step(
    query: CallbackQuery, callback_data: FormStep, ctx: Context, actor: Actor | None, state: FSMContext,
) -> None:
    f, v = callback_data.f, callback_data.v
    if f == Field.CANCEL:
        case_id = (await state.get_data()).get("cf_case")
        await state.clear()
        await query.answer(t("Cancelled. Nothing was recorded."))
        if actor is not None and case_id:
            await _show_current(query, ctx, actor, case_id)
        return
    current = await state.get_state()
    if actor is None or f not in tuple(Field) or current != FIELD_STATE[Field(f)].state:
        await _form_over(query, state)
        return
    field = Field(f)
    if field is Field.METHOD and v in tuple(PersuasionMethod):
        shown = await _advance(state, field, cf_method=v)
    elif field is Field.DAY and v in ("0", "1"):
        shown = await _advance(state, field, cf_day=(_today(ctx) - timedelta(days=int(v))).isoformat())
    elif field is Field.DAY and v == "2":
        await state.set_state(PersuasionForm.typed_day)
        data = await state.get_data()
        shown = (_form_head(data) + "\n" + t("Type the day, e.g. 2026-09-15 or 9-15."), _form_markup([]))
    elif field is Field.VISITORS:
        shown = await _advance(state, field, cf_visitors=actor.name)
    elif field is Field.PEOPLE_SKIP:
        shown = await _advance(state, field, cf_met=None)
    elif field is Field.REASON and v in tuple(ReasonFound):
        shown = await _advance(state, field, cf_reason=v, cf_told=None)
    elif field is Field.AUTHORITIES and v in ("0", "1"):
        shown = await _advance(state, field, cf_told=v == "1")
    elif field is Field.ATTITUDE and v in tuple(Attitude):
        shown = await _advance(state, field, cf_attitude=v)
    elif field is Field.SUCCEEDED and v in ("0", "1"):
        shown = await _advance(state, field, cf_succeeded=v == "1")
    elif field is Field.NEXT_SKIP:
        shown = await _advance(state, field, cf_next=None)
    elif field is Field.SAVE:
        await _save_form(query, ctx, actor, state)
        return
    else:
        await _form_over(query, state)
        return
    await query.answer()
    await _edit(query, *shown)


async def _save_form(query: CallbackQuery, ctx: Context, actor: Actor, state: FSMContext) -> None:
    data = await state.get_data()
    await state.clear()
    case_id, stage = data["cf_case"], data["cf_stage"]
    record = PersuasionInput(
        on_day=date.fromisoformat(data["cf_day"]), method=data["cf_method"], visitors=data["cf_visitors"],
        people_met=data.get("cf_met"), reason_found=data["cf_reason"], attitude=data["cf_attitude"],
        next_step=data.get("cf_next"), succeeded=bool(data["cf_succeeded"]), authorities_told=data.get("cf_told"),
    )
    try:
        result = await cs.record_persuasion(ctx.session, ctx.settings, _policy(ctx.settings), ctx.clock.now(), actor,
                                            case_id, record, expected_stage=stage)
        text, markup = await _card(ctx, actor, case_id, _done_head(Do.PERSUADE, result))
    except CaseError as error:
        await _refuse(query, error, ctx, actor, case_id)
        return
    await query.answer(t("Saved."))
    await _edit(query, text, markup)


async def _typed_step(message: Message, state: FSMContext, field: Field, **values) -> None:
    text, markup = await _advance(state, field, **values)
    await message.answer(text, reply_markup=markup)


async def form_day_typed(message: Message, ctx: Context, state: FSMContext) -> None:
    today = _today(ctx)
    day = parse_typed_day(message.text or "", today, Looking.BACK)
    if day is None:
        await message.answer(t("I could not read that date. Please type it like 2026-09-15 or 9-15."))
        return
    if day > today:
        await message.answer(t("That day is in the future. Please type the day the contact took place."))
        return
    if (today - day).days > MAX_DAYS_BACK:
        await message.answer(t("That is more than {days} days ago. Please check the date.", days=MAX_DAYS_BACK))
        return
    await _typed_step(message, state, Field.DAY, cf_day=day.isoformat())


async def _names(message: Message, limit: int) -> str | None:
    text = (message.text or "").strip()
    if not text:
        await message.answer(t("Please type a few words, or send /cancel."))
        return None
    if len(text) > limit:
        await message.answer(t("That is {n} characters; please keep it under {limit}.", n=len(text), limit=limit))
        return None
    return text


async def form_visitors(message: Message, state: FSMContext) -> None:
    text = await _names(message, MAX_NAMES)
    if text is not None:
        await _typed_step(message, state, Field.VISITORS, cf_visitors=text)


async def form_people_met(message: Message, state: FSMContext) -> None:
    text = await _names(message, MAX_NAMES)
    if text is not None:
        await _typed_step(message, state, Field.PEOPLE_SKIP, cf_met=text)


async def form_next_step(message: Message, state: FSMContext) -> None:
    text = await _names(message, MAX_TEXT)
    if text is not None:
        await _typed_step(message, state, Field.NEXT_SKIP, cf_next=text)


async def form_expects_a_tap(message: Message) -> None:
    await message.answer(t("Please tap one of the buttons above, or send /cancel."))


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    router = Router(name="cases.persuasion")
    router.callback_query.register(form_step, FormStep.filter())
    router.message.register(form_day_typed, PersuasionForm.typed_day, TYPED)
    router.message.register(form_visitors, PersuasionForm.visitors, TYPED)
    router.message.register(form_people_met, PersuasionForm.people_met, TYPED)
    router.message.register(form_next_step, PersuasionForm.next_step, TYPED)
    taps_only = StateFilter(PersuasionForm.method, PersuasionForm.day, PersuasionForm.reason,
                            PersuasionForm.authorities, PersuasionForm.attitude, PersuasionForm.succeeded,
                            PersuasionForm.confirm)
    router.message.register(form_expects_a_tap, taps_only, TYPED)
    return router
