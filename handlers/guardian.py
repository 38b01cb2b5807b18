"""Guardian: answers to absence notices, leave requests (请假), and the teacher's one-tap decision on them.

Thin: each handler reads the tap, calls one function of `bot.families` (replies, leave) and renders what it
returns. Callback data carries ids only and is never trusted: the services re-check that the tapping person is a
guardian of that child (or the child's teacher, for decisions); a forged or stale tap gets a clear refusal and
changes nothing.

Absence notices arrive from the outbox with `NoticeAction` buttons: action "reply" (ref = absence id, value =
answer), or "pick" (siblings: choose the child first, then the answer; "kids" goes back to the list). After an
answer the notice's keyboard shows it with ✓, and stays, so the answer can be changed later.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, timedelta
from html import escape

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import parse_day
from bot.core.clock import Clock
from bot.core.scope import Actor
from bot.core.settings import Settings
from bot.delivery.telegram import NoticeAction
from bot.families import leave as lv
from bot.families.replies import (
    MAX_TEXT,
    ReplyResult,
    ReplyStatus,
    absence_in_scope,
    latest_reply,
    notice_children,
    record_reply,
)
from bot.notices.absence import ANSWER_LABELS, PICK_ACTION, REPLY_ACTION, answer_actions, pick_label
from bot.notices.outbox import Delivery
from handlers.menu import ASK_LEAVE, is_button, main_menu
from handlers.onboarding import answer_unlinked
from handlers.texts import short_day, t
from storage.models import AbsenceReason, GuardianAnswer, LeaveStatus, Person, Student

KIDS_ACTION = "kids"  # NoticeAction: back from one child's answers to the list of children (ref = absence id)
LEAVE_LENGTHS = (1, 2, 3)  # school days offered as buttons


class ReplyForm(StatesGroup):
    text = State()  # the guardian tapped 其他 and writes a few words


class LeaveForm(StatesGroup):
    child = State()
    day = State()
    typed_day = State()
    length = State()
    reason = State()
    note = State()
    confirm = State()


class LeaveStep(CallbackData, prefix="lv"):
    """A button of the leave flow: `step` (child, day, len, reason, skip, send, cancel) and its `value`."""

    step: str
    value: str = ""


# --- shared bits --------------------------------------------------------------------------------------------------


def _is_typed(text: str) -> bool:
    """Text the person typed as an answer: not a /command, not the menu button."""
    return not text.startswith("/") and not is_button(text, ASK_LEAVE)


TYPED = F.text.func(_is_typed)


def _span(first: date, last: date) -> str:
    return short_day(first) if first == last else t("{first} to {last}", first=short_day(first), last=short_day(last))


def _answer_label(answer: str) -> str:
    msgid = next((label for key, label in ANSWER_LABELS.items() if key.value == answer), None)
    return _(msgid) if msgid else answer


def _notice_button(label: str, action: str, ref: int, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=label, callback_data=NoticeAction(action=action, ref=ref, value=value).pack())


def _step_button(label: str, step: str, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=label, callback_data=LeaveStep(step=step, value=value).pack())


def _message(query: CallbackQuery) -> Message | None:
    return query.message if isinstance(query.message, Message) else None


async def _edit_markup(message: Message | None, markup: InlineKeyboardMarkup | None) -> None:
    if message is None:
        return
    with contextlib.suppress(TelegramBadRequest):  # "message is not modified", or too old to edit
        await message.edit_reply_markup(reply_markup=markup)


# --- absence notices: keyboards -----------------------------------------------------------------------------------


def answers_markup(absence_id: int, chosen: str | None, back: bool) -> InlineKeyboardMarkup:
    """The five answers for one absence, the chosen one with ✓; `back` adds a way back to the list of children."""
    rows = [
        [_notice_button(("✓ " if action.value == chosen else "") + _(action.label), action.action, action.ref,
                        action.value) for action in row]
        for row in answer_actions(absence_id)
    ]
    if back:
        rows.append([_notice_button(_("‹ Back to the children"), KIDS_ACTION, absence_id)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def children_markup(session: AsyncSession, actor: Actor, absence_id: int) -> InlineKeyboardMarkup | None:
    absence = await absence_in_scope(session, actor, absence_id)
    if absence is None:
        return None
    rows = []
    for sibling in await notice_children(session, actor, absence):
        label = pick_label(sibling.student.name)
        if sibling.answer:
            label = f"✓ {sibling.student.name}: {_answer_label(sibling.answer)}"
        rows.append([_notice_button(label, PICK_ACTION, sibling.absence.id)])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def _is_sibling_notice(markup: InlineKeyboardMarkup | None) -> bool:
    """Whether a notice's keyboard is the child-choice kind (it has a child list or a way back to one)."""
    for row in (markup.inline_keyboard if markup else []):
        for button in row:
            with contextlib.suppress(TypeError, ValueError):
                if button.callback_data and NoticeAction.unpack(button.callback_data).action in (
                        PICK_ACTION, KIDS_ACTION):
                    return True
    return False


async def _markup_after_answer(
    session: AsyncSession, actor: Actor, absence_id: int, answer: str, sibling: bool
) -> InlineKeyboardMarkup | None:
    if sibling:
        return await children_markup(session, actor, absence_id)
    return answers_markup(absence_id, answer, back=False)


def _refusal(status: ReplyStatus, result: ReplyResult | None = None) -> str:
    """Plain text (for an alert, or a message: it holds no HTML special characters but the child's name)."""
    if status is ReplyStatus.STALE and result is not None and result.student is not None:
        return _("The teacher corrected this: {child} was at school that day. No answer is needed, thank you."
                 ).format(child=result.student.name)
    if status is ReplyStatus.INVALID:
        return _("This answer could not be saved. Please try again.")
    return _("This button is not for you, or it is no longer valid. Nothing was changed.")


def _thanks(result: ReplyResult) -> str:
    child, day = result.student.name, short_day(result.absence.day)
    answer = _answer_label(result.reply.answer)
    if result.previous is not None:
        lines = [t("Thank you. Your answer for {child} ({day}) is changed to: <b>{answer}</b>.",
                   child=child, day=day, answer=answer)]
    else:
        lines = [t("Thank you. Your answer for {child} ({day}): <b>{answer}</b>.", child=child, day=day,
                   answer=answer)]
    if result.reply.text:
        lines.append(t("Your words: “{text}”", text=result.reply.text))
    if result.teacher_reached:
        lines.append(t("The class teacher has been told."))
    elif result.school_reached:
        lines.append(t("The class teacher cannot be reached in the bot right now, so the school has been told."))
    else:
        lines.append(t("Your answer is saved, but the class teacher cannot be reached in the bot right now. "
                       "Please phone the school."))
    lines.append(t("You can change your answer with the buttons on the notice."))
    return "\n".join(lines)


# --- absence notices: taps ----------------------------------------------------------------------------------------


async def answer_tapped(
    query: CallbackQuery, callback_data: NoticeAction, session: AsyncSession, settings: Settings, clock: Clock,
    actor: Actor | None, state: FSMContext,
) -> None:
    message = _message(query)
    sibling = _is_sibling_notice(message.reply_markup if message else None)
    if await state.get_state() == ReplyForm.text.state:
        await state.clear()
    if callback_data.value == GuardianAnswer.OTHER:
        absence = await absence_in_scope(session, actor, callback_data.ref)
        if absence is None:
            await query.answer(_refusal(ReplyStatus.FORBIDDEN), show_alert=True)
            return
        if absence.withdrawn_at is not None:
            student = await session.get(Student, absence.student_id)
            await query.answer(_refusal(ReplyStatus.STALE, ReplyResult(ReplyStatus.STALE, absence, student)),
                               show_alert=True)
            return
        student = await session.get(Student, absence.student_id)
        await state.set_state(ReplyForm.text)
        await state.update_data(absence_id=absence.id, notice_id=message.message_id if message else None,
                                sibling=sibling)
        await query.answer()
        if message is not None:
            await message.answer(t("Please write a few words for the teacher about {child} (up to {limit} "
                                   "characters). Send /cancel to stop.", child=student.name, limit=MAX_TEXT))
        return

    result = await record_reply(session, settings, clock.now(), actor, callback_data.ref, callback_data.value)
    if not result.ok:
        await query.answer(_refusal(result.status, result), show_alert=True)
        return
    if result.status is ReplyStatus.UNCHANGED:
        await query.answer(_("You already answered: {answer}.").format(answer=_answer_label(result.reply.answer)))
    else:
        await query.answer(t("Thank you!"))
        if message is not None:
            await message.answer(_thanks(result))
    await _edit_markup(message, await _markup_after_answer(session, actor, result.absence.id,
                                                           result.reply.answer, sibling))


async def child_picked(
    query: CallbackQuery, callback_data: NoticeAction, session: AsyncSession, actor: Actor | None
) -> None:
    absence = await absence_in_scope(session, actor, callback_data.ref)
    if absence is None or actor is None:
        await query.answer(_refusal(ReplyStatus.FORBIDDEN), show_alert=True)
        return
    if absence.withdrawn_at is not None:
        student = await session.get(Student, absence.student_id)
        await query.answer(_refusal(ReplyStatus.STALE, ReplyResult(ReplyStatus.STALE, absence, student)),
                           show_alert=True)
        return
    student = await session.get(Student, absence.student_id)
    previous = await latest_reply(session, absence.id, actor.person_id)
    await query.answer(_("{child}: why was the child away?").format(child=student.name))
    await _edit_markup(_message(query), answers_markup(absence.id, previous.answer if previous else None, back=True))


async def back_to_children(
    query: CallbackQuery, callback_data: NoticeAction, session: AsyncSession, actor: Actor | None
) -> None:
    markup = await children_markup(session, actor, callback_data.ref) if actor else None
    if markup is None:
        await query.answer(_refusal(ReplyStatus.FORBIDDEN), show_alert=True)
        return
    await query.answer()
    await _edit_markup(_message(query), markup)


async def cancel(message: Message, state: FSMContext, actor: Actor | None) -> None:
    await state.clear()
    await message.answer(t("Cancelled. Nothing was sent."), reply_markup=main_menu(actor))


async def other_text(
    message: Message, session: AsyncSession, settings: Settings, clock: Clock, actor: Actor | None,
    state: FSMContext, bot: Bot,
) -> None:
    text = message.text.strip()
    if len(text) > MAX_TEXT:
        await message.answer(t("That is {n} characters; please keep it under {limit}.", n=len(text),
                               limit=MAX_TEXT))
        return
    data = await state.get_data()
    await state.clear()
    result = await record_reply(session, settings, clock.now(), actor, int(data.get("absence_id", 0)),
                                GuardianAnswer.OTHER, text)
    if not result.ok:
        await message.answer(escape(_refusal(result.status, result)))
        return
    await message.answer(_thanks(result) if result.status is ReplyStatus.RECORDED
                         else t("You already answered: {answer}.", answer=_answer_label(result.reply.answer)))
    notice_id = data.get("notice_id")
    if notice_id:
        markup = await _markup_after_answer(session, actor, result.absence.id, GuardianAnswer.OTHER,
                                            bool(data.get("sibling")))
        with contextlib.suppress(TelegramBadRequest):
            await bot.edit_message_reply_markup(chat_id=message.chat.id, message_id=notice_id, reply_markup=markup)


async def other_not_text(message: Message) -> None:
    await message.answer(t("Please write your answer as a text message, or send /cancel."))


# --- leave requests: the guardian's flow --------------------------------------------------------------------------


async def leave_start(
    message: Message, session: AsyncSession, clock: Clock, settings: Settings, person: Person | None,
    actor: Actor | None, state: FSMContext,
) -> None:
    await state.clear()
    if person is None:
        await answer_unlinked(message)
        return
    if actor is None or not actor.is_guardian:
        await message.answer(t("Leave requests are for parents and guardians."))
        return
    children = sorted([await session.get(Student, sid) for sid in actor.children], key=lambda s: (s.name, s.id))
    if len(children) == 1:
        await state.update_data(student_id=children[0].id)
        text, markup = _day_step(children[0], settings, clock)
        await state.set_state(LeaveForm.day)
        await message.answer(text, reply_markup=markup)
        return
    rows = [[_step_button(child.name, "child", str(child.id))] for child in children]
    rows.append([_step_button(_("✖ Cancel"), "cancel")])
    await state.set_state(LeaveForm.child)
    await message.answer(t("📝 Ask for leave. Which child?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


def _day_step(student: Student, settings: Settings, clock: Clock) -> tuple[str, InlineKeyboardMarkup]:
    today = lv.today(settings, clock.now())
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


_MONTH_DAY = re.compile(r"^(\d{1,2})\s*(?:[-/.月])\s*(\d{1,2})\s*[日号]?$")


def parse_leave_day(text: str, today: date) -> date | None:
    """A typed first day: 2026-09-15 (and the forms `bot.calendar.days.parse_day` reads), or 9-15, 9/15, 9月15日 in
    the coming months (a month-day already past this year means next year when that is within 90 days)."""
    text = text.strip().translate(str.maketrans("０１２３４５６７８９－／．", "0123456789-/."))
    full = parse_day(text)
    if full is not None:
        return full
    match = _MONTH_DAY.match(text)
    if match is None:
        return None
    month, day = (int(part) for part in match.groups())
    try:
        candidate = date(today.year, month, day)
    except ValueError:
        return None
    if candidate < today:
        with contextlib.suppress(ValueError):
            following = date(today.year + 1, month, day)
            if (following - today).days <= 90:
                return following
    return candidate


async def _leave_student(session: AsyncSession, actor: Actor | None, state: FSMContext) -> Student | None:
    """The child the flow is about, re-checked against the person's scope."""
    student_id = (await state.get_data()).get("student_id")
    if actor is None or student_id is None or int(student_id) not in actor.children:
        return None
    return await session.get(Student, int(student_id))


async def _flow_over(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer(t("This step is over. Tap 📝 Ask for leave to start again."), show_alert=True)
    await _edit_markup(_message(query), None)


async def leave_cancel(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    message = _message(query)
    if message is not None:
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_text(t("Cancelled. Nothing was sent."), reply_markup=None)


async def leave_child(
    query: CallbackQuery, callback_data: LeaveStep, session: AsyncSession, settings: Settings, clock: Clock,
    actor: Actor | None, state: FSMContext,
) -> None:
    if actor is None or not callback_data.value.isdigit() or int(callback_data.value) not in actor.children:
        await query.answer(_refusal(ReplyStatus.FORBIDDEN), show_alert=True)
        return
    student = await session.get(Student, int(callback_data.value))
    await state.update_data(student_id=student.id)
    await state.set_state(LeaveForm.day)
    text, markup = _day_step(student, settings, clock)
    await query.answer()
    with contextlib.suppress(TelegramBadRequest):
        await _message(query).edit_text(text, reply_markup=markup)


async def leave_day(
    query: CallbackQuery, callback_data: LeaveStep, session: AsyncSession, settings: Settings, clock: Clock,
    actor: Actor | None, state: FSMContext,
) -> None:
    student = await _leave_student(session, actor, state)
    if student is None or callback_data.value not in ("0", "1", "2", "other"):
        await _flow_over(query, state)
        return
    await query.answer()
    message = _message(query)
    if callback_data.value == "other":
        await state.set_state(LeaveForm.typed_day)
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_text(t("Please type the first day of leave, e.g. 2026-09-15 or 9-15. "
                                      "Send /cancel to stop."), reply_markup=None)
        return
    first = lv.today(settings, clock.now()) + timedelta(days=int(callback_data.value))
    await state.update_data(first_day=first.isoformat())
    await state.set_state(LeaveForm.length)
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_text(t("Leave for <b>{child}</b> from {day}. For how many school days?",
                                  child=student.name, day=short_day(first)), reply_markup=_length_markup())


async def leave_typed_day(
    message: Message, session: AsyncSession, settings: Settings, clock: Clock, actor: Actor | None,
    state: FSMContext,
) -> None:
    student = await _leave_student(session, actor, state)
    if student is None:
        await state.clear()
        await message.answer(t("This step is over. Tap 📝 Ask for leave to start again."))
        return
    today = lv.today(settings, clock.now())
    first = parse_leave_day(message.text, today)
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
    query: CallbackQuery, callback_data: LeaveStep, session: AsyncSession, actor: Actor | None, state: FSMContext,
) -> None:
    student = await _leave_student(session, actor, state)
    data = await state.get_data()
    if student is None or not callback_data.value.isdigit() or int(callback_data.value) not in LEAVE_LENGTHS:
        await _flow_over(query, state)
        return
    first = date.fromisoformat(data["first_day"])
    last = await lv.leave_last_day(session, student.id, first, int(callback_data.value))
    await state.update_data(last_day=last.isoformat())
    await state.set_state(LeaveForm.reason)
    await query.answer()
    with contextlib.suppress(TelegramBadRequest):
        await _message(query).edit_text(t("Leave for <b>{child}</b>: {span}. What kind of leave?",
                                          child=student.name, span=_span(first, last)),
                                        reply_markup=_reason_markup())


async def leave_reason(
    query: CallbackQuery, callback_data: LeaveStep, session: AsyncSession, actor: Actor | None, state: FSMContext,
) -> None:
    student = await _leave_student(session, actor, state)
    if student is None or callback_data.value not in lv.LEAVE_REASONS:
        await _flow_over(query, state)
        return
    await state.update_data(reason=callback_data.value)
    await state.set_state(LeaveForm.note)
    await query.answer()
    with contextlib.suppress(TelegramBadRequest):
        await _message(query).edit_text(
            t("Anything the teacher should know? Write a short note (no medical details needed), or tap Skip."),
            reply_markup=_note_markup(),
        )


async def _confirmation(session: AsyncSession, actor: Actor | None, state: FSMContext
                        ) -> tuple[str, InlineKeyboardMarkup] | None:
    student = await _leave_student(session, actor, state)
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


async def leave_skip_note(query: CallbackQuery, session: AsyncSession, actor: Actor | None, state: FSMContext) -> None:
    await state.update_data(note=None)
    shown = await _confirmation(session, actor, state)
    if shown is None:
        await _flow_over(query, state)
        return
    await state.set_state(LeaveForm.confirm)
    await query.answer()
    with contextlib.suppress(TelegramBadRequest):
        await _message(query).edit_text(shown[0], reply_markup=shown[1])


async def leave_note(message: Message, session: AsyncSession, actor: Actor | None, state: FSMContext) -> None:
    note = message.text.strip()
    if len(note) > lv.MAX_NOTE:
        await message.answer(t("That is {n} characters; please keep it under {limit}.", n=len(note),
                               limit=lv.MAX_NOTE))
        return
    await state.update_data(note=note)
    shown = await _confirmation(session, actor, state)
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


async def leave_send(
    query: CallbackQuery, session: AsyncSession, settings: Settings, clock: Clock, actor: Actor | None,
    state: FSMContext,
) -> None:
    student = await _leave_student(session, actor, state)
    data = await state.get_data()
    await state.clear()
    if student is None:
        await _flow_over(query, state)
        return
    first, last = date.fromisoformat(data["first_day"]), date.fromisoformat(data["last_day"])
    result = await lv.request_leave(session, settings, clock.now(), actor, student.id, first, last, data["reason"],
                                    data.get("note"))
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
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_text(text, reply_markup=None)


# --- leave requests: the teacher's decision -----------------------------------------------------------------------


async def leave_decided(
    query: CallbackQuery, callback_data: NoticeAction, session: AsyncSession, settings: Settings, clock: Clock,
    actor: Actor | None,
) -> None:
    if callback_data.value not in ("yes", "no"):
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return
    result = await lv.decide_leave(session, settings, clock.now(), actor, callback_data.ref,
                                   approve=callback_data.value == "yes")
    message = _message(query)
    if result.status in (lv.DecisionStatus.FORBIDDEN, lv.DecisionStatus.NOT_FOUND):
        await query.answer(t("Only the child's class teacher or the school's officer can decide this leave. "
                             "Nothing was changed."), show_alert=True)
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


def make_router() -> Router:
    """A fresh router with this module's handlers (one per Dispatcher)."""
    router = Router(name="guardian")
    router.callback_query.register(answer_tapped, NoticeAction.filter(F.action == REPLY_ACTION))
    router.callback_query.register(child_picked, NoticeAction.filter(F.action == PICK_ACTION))
    router.callback_query.register(back_to_children, NoticeAction.filter(F.action == KIDS_ACTION))
    router.message.register(cancel, Command("cancel"), StateFilter(ReplyForm, LeaveForm))
    router.message.register(other_text, ReplyForm.text, TYPED)
    router.message.register(other_not_text, ReplyForm.text, ~F.text)
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
    router.callback_query.register(leave_decided, NoticeAction.filter(F.action == lv.LEAVE_ACTION))
    return router
