"""The guardian's leave request (请假): child, first day (a button or a typed day), length, reason, note, send."""

from __future__ import annotations

from datetime import date, timedelta
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _

from bot.calendar.typed import Looking, parse_typed_day
from bot.core.policy import load_policy
from bot.core.scope import Actor
from bot.families import leave as lv
from bot.families.replies import (
    ReplyStatus,
)
from handlers.context import Context
from handlers.guardian.answers import _refusal
from handlers.guardian.base import (
    LEAVE_LENGTHS,
    TYPED,
    LeaveForm,
    LeaveStep,
    _edit_markup,
    _edit_text,
    _message,
    _span,
    _step_button,
)
from handlers.menu import ASK_LEAVE, is_button
from handlers.onboarding import answer_unlinked
from handlers.texts import short_day, t
from storage.models import AbsenceReason, LeaveStatus, Student


async def leave_start(message: Message, ctx: Context, actor: Actor | None, state: FSMContext) -> None:
    await state.clear()
    if ctx.person is None:
        await answer_unlinked(message)
        return
    if actor is None or not actor.is_guardian:
        await message.answer(t("Leave requests are for parents and guardians."))
        return
    children = sorted([await ctx.session.get_one(Student, sid) for sid in actor.children], key=lambda s: (s.name, s.id))
    if len(children) == 1:
        await state.update_data(student_id=children[0].id)
        text, markup = _day_step(children[0], ctx)
        await state.set_state(LeaveForm.day)
        await message.answer(text, reply_markup=markup)
        return
    rows = [[_step_button(child.name, "child", str(child.id))] for child in children]
    rows.append([_step_button(_("✖ Cancel"), "cancel")])
    await state.set_state(LeaveForm.child)
    await message.answer(t("📝 Ask for leave. Which child?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


def _day_step(student: Student, ctx: Context) -> tuple[str, InlineKeyboardMarkup]:
    today = lv.today(ctx.settings, ctx.clock.now())
    labels = (_("Today"), _("Tomorrow"), _("Day after tomorrow"))
    rows = [[_step_button(f"{label} · {short_day(today + timedelta(days=n))}", "day", str(n))]
            for n, label in enumerate(labels)]
    rows.append([_step_button(_("📅 Another date"), "day", "other")])
    rows.append([_step_button(_("✖ Cancel"), "cancel")])
    text = t("📝 Leave for <b>{child}</b>. From which day?", child=student.name)
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def _length_markup() -> InlineKeyboardMarkup:
    buttons = [_step_button(_("1 day") if n == 1 else _("{n} days").format(n=n), "len", str(n))
               for n in LEAVE_LENGTHS]
    return InlineKeyboardMarkup(inline_keyboard=[buttons, [_step_button(_("✖ Cancel"), "cancel")]])


def _reason_markup() -> InlineKeyboardMarkup:
    rows = [[_step_button(_("🤒 Sick leave"), "reason", AbsenceReason.SICK.value),
             _step_button(_("🏠 Personal leave"), "reason", AbsenceReason.PERSONAL.value)],
            [_step_button(_("✖ Cancel"), "cancel")]]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _note_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_step_button(_("Skip"), "skip")],
                                                 [_step_button(_("✖ Cancel"), "cancel")]])


def _reason_label(reason: str) -> str:
    return _("🤒 Sick leave") if reason == AbsenceReason.SICK else _("🏠 Personal leave")


async def _leave_student(ctx: Context, actor: Actor | None, state: FSMContext) -> Student | None:
    """The child the flow is about, re-checked against the person's scope."""
    student_id = (await state.get_data()).get("student_id")
    if actor is None or student_id is None or int(student_id) not in actor.children:
        return None
    return await ctx.session.get(Student, int(student_id))


async def _flow_over(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer(t("This step is over. Tap 📝 Ask for leave to start again."), show_alert=True)
    await _edit_markup(_message(query), None)


async def leave_cancel(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    message = _message(query)
    if message is not None:
        await _edit_text(message, t("Cancelled. Nothing was sent."), None)


async def leave_child(
    query: CallbackQuery, callback_data: LeaveStep, ctx: Context, actor: Actor | None, state: FSMContext,
) -> None:
    if actor is None or not callback_data.value.isdigit() or int(callback_data.value) not in actor.children:
        await query.answer(_refusal(ReplyStatus.FORBIDDEN), show_alert=True)
        return
    student = await ctx.session.get_one(Student, int(callback_data.value))
    await state.update_data(student_id=student.id)
    await state.set_state(LeaveForm.day)
    text, markup = _day_step(student, ctx)
    await query.answer()
    await _edit_text(_message(query), text, markup)


async def leave_day(
    query: CallbackQuery, callback_data: LeaveStep, ctx: Context, actor: Actor | None, state: FSMContext,
) -> None:
    student = await _leave_student(ctx, actor, state)
    if student is None or callback_data.value not in ("0", "1", "2", "other"):
        await _flow_over(query, state)
        return
    await query.answer()
    message = _message(query)
    if callback_data.value == "other":
        await state.set_state(LeaveForm.typed_day)
        await _edit_text(message, t("Please type the first day of leave, e.g. 2026-09-15 or 9-15. "
                                    "Send /cancel to stop."), None)
        return
    first = lv.today(ctx.settings, ctx.clock.now()) + timedelta(days=int(callback_data.value))
    await state.update_data(first_day=first.isoformat())
    await state.set_state(LeaveForm.length)
    await _edit_text(message, t("Leave for <b>{child}</b> from {day}. For how many school days?",
                                child=student.name, day=short_day(first)), _length_markup())


async def leave_typed_day(message: Message, ctx: Context, actor: Actor | None, state: FSMContext) -> None:
    student = await _leave_student(ctx, actor, state)
    if student is None:
        await state.clear()
        await message.answer(t("This step is over. Tap 📝 Ask for leave to start again."))
        return
    today = lv.today(ctx.settings, ctx.clock.now())
    first = parse_typed_day(message.text or "", today, Looking.AHEAD)
    if first is None:
        await message.answer(t("I could not read that date. Please type it like 2026-09-15 or 9-15."))
        return
    if first < today:
        await message.answer(t("That day has passed. Please type today's date or a later one."))
        return
    if (first - today).days > 180:
        await message.answer(t("That is too far ahead. Please type a day within the next six months."))
        return
    await state.update_data(first_day=first.isoformat())
    await state.set_state(LeaveForm.length)
    await message.answer(t("Leave for <b>{child}</b> from {day}. For how many school days?",
                           child=student.name, day=short_day(first)), reply_markup=_length_markup())


async def leave_length(
    query: CallbackQuery, callback_data: LeaveStep, ctx: Context, actor: Actor | None, state: FSMContext,
) -> None:
    student = await _leave_student(ctx, actor, state)
    data = await state.get_data()
    if student is None or not callback_data.value.isdigit() or int(callback_data.value) not in LEAVE_LENGTHS:
        await _flow_over(query, state)
        return
    first = date.fromisoformat(data["first_day"])
    last = await lv.leave_last_day(ctx.session, student.id, first, int(callback_data.value))
    await state.update_data(last_day=last.isoformat())
    await state.set_state(LeaveForm.reason)
    await query.answer()
    await _edit_text(_message(query), t("Leave for <b>{child}</b>: {span}. What kind of leave?",
                                        child=student.name, span=_span(first, last)), _reason_markup())


async def leave_reason(
    query: CallbackQuery, callback_data: LeaveStep, ctx: Context, actor: Actor | None, state: FSMContext,
) -> None:
    student = await _leave_student(ctx, actor, state)
    if student is None or callback_data.value not in lv.LEAVE_REASONS:
        await _flow_over(query, state)
        return
    await state.update_data(reason=callback_data.value)
    await state.set_state(LeaveForm.note)
    await query.answer()
    await _edit_text(
        _message(query),
        t("Anything the teacher should know? Write a short note (no medical details needed), or tap Skip."),
        _note_markup(),
    )


async def _confirmation(ctx: Context, actor: Actor | None, state: FSMContext
                        ) -> tuple[str, InlineKeyboardMarkup] | None:
    student = await _leave_student(ctx, actor, state)
    data = await state.get_data()
    if student is None or not {"first_day", "last_day", "reason"} <= set(data):
        return None
    first, last = date.fromisoformat(data["first_day"]), date.fromisoformat(data["last_day"])
    lines = [t("Please check your leave request:"),
             t("<b>{child}</b> ({class_name})", child=student.name, class_name=student.school_class.name),
             _span(first, last), _reason_label(data["reason"])]
    if data.get("note"):
        lines.append(t("Note: {note}", note=data["note"]))
    markup = InlineKeyboardMarkup(inline_keyboard=[[_step_button(_("✅ Send the request"), "send")],
                                                   [_step_button(_("✖ Cancel"), "cancel")]])
    return "\n".join(lines), markup


async def leave_skip_note(query: CallbackQuery, ctx: Context, actor: Actor | None, state: FSMContext) -> None:
    await state.update_data(note=None)
    shown = await _confirmation(ctx, actor, state)
    if shown is None:
        await _flow_over(query, state)
        return
    await state.set_state(LeaveForm.confirm)
    await query.answer()
    await _edit_text(_message(query), *shown)


async def leave_note(message: Message, ctx: Context, actor: Actor | None, state: FSMContext) -> None:
    note = (message.text or "").strip()
    if len(note) > lv.MAX_NOTE:
        await message.answer(t("That is {n} characters; please keep it under {limit}.", n=len(note),
                               limit=lv.MAX_NOTE))
        return
    await state.update_data(note=note)
    shown = await _confirmation(ctx, actor, state)
    if shown is None:
        await state.clear()
        await message.answer(t("This step is over. Tap 📝 Ask for leave to start again."))
        return
    await state.set_state(LeaveForm.confirm)
    await message.answer(shown[0], reply_markup=shown[1])


async def leave_not_text(message: Message) -> None:
    await message.answer(t("Please answer with a text message, or send /cancel."))


def _leave_problem(result: lv.LeaveRequestResult, student: Student) -> str:
    problem = result.problem
    if problem is lv.LeaveProblem.OVERLAP and result.existing is not None:
        existing = result.existing
        status = _("waiting for a decision") if existing.status == LeaveStatus.PENDING else _("approved")
        return t("There is already a leave request for {child} for {span} ({status}).", child=student.name,
                 span=_span(existing.first_day, existing.last_day), status=status)
    if problem is lv.LeaveProblem.IN_PAST:
        return t("That day has passed. Leave can only be asked for today or later.")
    if problem is lv.LeaveProblem.TOO_LONG:
        return t("Leave of more than {n} days is arranged with the school directly; please call the teacher.",
                 n=lv.MAX_LEAVE_DAYS)
    if problem is lv.LeaveProblem.FORBIDDEN:
        return escape(_refusal(ReplyStatus.FORBIDDEN))
    return t("This leave request could not be sent. Please tap 📝 Ask for leave to start again.")


async def leave_send(query: CallbackQuery, ctx: Context, actor: Actor | None, state: FSMContext) -> None:
    student = await _leave_student(ctx, actor, state)
    data = await state.get_data()
    await state.clear()
    if student is None:
        await _flow_over(query, state)
        return
    first, last = date.fromisoformat(data["first_day"]), date.fromisoformat(data["last_day"])
    result = await lv.request_leave(ctx.session, ctx.settings, ctx.clock.now(), actor, student.id, first, last,
                                    data["reason"], data.get("note"), policy=load_policy(ctx.settings))
    await query.answer()
    message = _message(query)
    if not result.ok:
        text = _leave_problem(result, student)
    elif result.teacher_reached:
        text = t("✅ Sent to the class teacher: leave for <b>{child}</b>, {span}. You will get a message when the "
                 "teacher decides.", child=student.name, span=_span(first, last))
    elif result.school_reached:
        text = t("✅ The class teacher cannot be reached in the bot right now, so your request went to the school: "
                 "leave for <b>{child}</b>, {span}. You will get a message when it is decided.", child=student.name,
                 span=_span(first, last))
    else:
        text = t("Your leave request for <b>{child}</b> is saved, but nobody at the school can be reached in the bot "
                 "right now. Please phone the school to ask for the leave.", child=student.name)
    await _edit_text(message, text, None)


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    router = Router(name="handlers.guardian.leave_form")
    router.message.register(leave_start, F.text.func(lambda text: is_button(text, ASK_LEAVE)))
    router.message.register(leave_start, Command("leave"))
    router.callback_query.register(leave_cancel, LeaveStep.filter(F.step == "cancel"))
    router.callback_query.register(leave_child, LeaveForm.child, LeaveStep.filter(F.step == "child"))
    router.callback_query.register(leave_day, LeaveForm.day, LeaveStep.filter(F.step == "day"))
    router.message.register(leave_typed_day, LeaveForm.typed_day, TYPED)
    router.callback_query.register(leave_length, LeaveForm.length, LeaveStep.filter(F.step == "len"))
    router.callback_query.register(leave_reason, LeaveForm.reason, LeaveStep.filter(F.step == "reason"))
    router.callback_query.register(leave_skip_note, LeaveForm.note, LeaveStep.filter(F.step == "skip"))
    router.message.register(leave_note, LeaveForm.note, TYPED)
    router.message.register(leave_not_text, StateFilter(LeaveForm.typed_day, LeaveForm.note), ~F.text)
    router.callback_query.register(leave_send, LeaveForm.confirm, LeaveStep.filter(F.step == "send"))
    return router
