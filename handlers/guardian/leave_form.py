"""The guardian's leave request (请假), a form (`handlers.forms`): child, first day (a button or a typed day),
length, reason, note, send; sent with one call of `bot.families.leave.request_leave`, which checks the child and the
days again and sends leave over the class teacher's limit to the school officer."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.calendar.typed import Looking, parse_typed_day
from bot.core.policy import load_policy
from bot.core.scope import Actor
from bot.families import leave as lv
from bot.families.replies import ReplyStatus
from handlers import forms
from handlers.context import Context
from handlers.forms import Form, FormTap, Keys, Tap, Typed, show, typed_within
from handlers.guardian.answers import _refusal
from handlers.menu import ASK_LEAVE, is_button
from handlers.onboarding import answer_unlinked
from handlers.roles import GUARDIAN
from handlers.texts import short_day, t
from storage.models import AbsenceReason, LeaveStatus, Student

LEAVE_LENGTHS = (1, 2, 3, 5, 10)  # school days offered as buttons (up to two school weeks)
DAYS_AHEAD = ("0", "1", "2")  # today, tomorrow, the day after


class Step(StrEnum):
    CHILD = "child"
    DAY = "day"
    TYPED_DAY = "typed_day"
    LENGTH = "len"
    REASON = "reason"
    NOTE = "note"
    CONFIRM = "send"


def _span(first: date, last: date) -> str:
    return short_day(first) if first == last else t("{first} to {last}", first=short_day(first), last=short_day(last))


class LeaveForm(Form, state="leave", role=GUARDIAN):
    cancelled = forms._("Cancelled. Nothing was sent.")
    refused = forms._("Leave requests are for parents and guardians.")
    over = forms._("This step is over. Tap 📝 Ask for leave to start again.")

    @on.message.enter()
    async def start(self, message: Message, ctx: Context, actor: Actor) -> None:
        if len(actor.children) == 1:
            await self.begin(message, ctx, actor, Step.DAY, student_id=next(iter(actor.children)))
        else:
            await self.begin(message, ctx, actor, Step.CHILD)

    async def question(self, step: str, answers: dict[str, Any], ctx: Context, actor: Actor) -> tuple[str, Keys]:
        keys = self.keys(answers, step)
        if step == Step.CHILD:
            children = [await ctx.session.get_one(Student, sid) for sid in actor.children]
            for child in sorted(children, key=lambda s: (s.name, s.id)):
                keys.answer(child.name, str(child.id))
            keys.adjust(1)
            return t("📝 Ask for leave. Which child?"), keys
        student = await ctx.session.get_one(Student, answers["student_id"])
        if step == Step.DAY:
            today = lv.today(ctx.settings, ctx.clock.now())
            for ahead, label in zip(DAYS_AHEAD, (_("Today"), _("Tomorrow"), _("Day after tomorrow")), strict=True):
                keys.answer(f"{label} · {short_day(today + timedelta(days=int(ahead)))}", ahead)
            keys.answer(_("📅 Another date"), "other").adjust(1)
            return t("📝 Leave for <b>{child}</b>. From which day?", child=student.name), keys
        if step == Step.TYPED_DAY:
            return t("Please type the first day of leave, e.g. 2026-09-15 or 9-15. Send /cancel to stop."), keys
        first = date.fromisoformat(answers["first_day"])
        if step == Step.LENGTH:
            for n in LEAVE_LENGTHS:
                keys.answer(_("1 day") if n == 1 else _("{n} days").format(n=n), str(n))
            keys.adjust(3)
            return t("Leave for <b>{child}</b> from {day}. For how many school days?", child=student.name,
                     day=short_day(first)), keys
        last = date.fromisoformat(answers["last_day"])
        if step == Step.REASON:
            keys.answer(_("🤒 Sick leave"), AbsenceReason.SICK.value)
            keys.answer(_("🏠 Personal leave"), AbsenceReason.PERSONAL.value)
            return t("Leave for <b>{child}</b>: {span}. What kind of leave?", child=student.name,
                     span=_span(first, last)), keys
        if step == Step.NOTE:
            keys.answer(_("Skip"))
            return t("Anything the teacher should know? Write a short note (no medical details needed), or tap "
                     "Skip."), keys
        lines = [t("Please check your leave request:"),
                 t("<b>{child}</b> ({class_name})", child=student.name, class_name=student.school_class.name),
                 _span(first, last), _reason_label(answers["reason"])]
        if answers.get("note"):
            lines.append(t("Note: {note}", note=answers["note"]))
        keys.answer(_("✅ Send the request"))
        return "\n".join(lines), keys

    # --- the steps ---

    @on.callback_query(Tap(Step.CHILD))
    async def child(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                    actor: Actor) -> None:
        if not callback_data.v.isdigit() or int(callback_data.v) not in actor.children:
            await query.answer(_refusal(ReplyStatus.FORBIDDEN), show_alert=True)
            return
        await self.ask(query, ctx, actor, answers, Step.DAY, student_id=int(callback_data.v))

    @on.callback_query(Tap(Step.DAY, values=(*DAYS_AHEAD, "other")))
    async def day(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                  actor: Actor) -> None:
        if callback_data.v == "other":
            await self.ask(query, ctx, actor, answers, Step.TYPED_DAY)
            return
        first = lv.today(ctx.settings, ctx.clock.now()) + timedelta(days=int(callback_data.v))
        await self.ask(query, ctx, actor, answers, Step.LENGTH, first_day=first.isoformat())

    @on.message(Typed(Step.TYPED_DAY))
    async def typed_day(self, message: Message, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        today = lv.today(ctx.settings, ctx.clock.now())
        first = parse_typed_day(message.text or "", today, Looking.AHEAD)
        if first is None:
            await message.answer(t("I could not read that date. Please type it like 2026-09-15 or 9-15."))
        elif first < today:
            await message.answer(t("That day has passed. Please type today's date or a later one."))
        elif (first - today).days > 180:
            await message.answer(t("That is too far ahead. Please type a day within the next six months."))
        else:
            await self.ask(message, ctx, actor, answers, Step.LENGTH, first_day=first.isoformat())

    @on.callback_query(Tap(Step.LENGTH, values=LEAVE_LENGTHS))
    async def length(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                     actor: Actor) -> None:
        first = date.fromisoformat(answers["first_day"])
        last = await lv.leave_last_day(ctx.session, answers["student_id"], first, int(callback_data.v))
        await self.ask(query, ctx, actor, answers, Step.REASON, last_day=last.isoformat())

    @on.callback_query(Tap(Step.REASON, values=lv.LEAVE_REASONS))
    async def reason(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                     actor: Actor) -> None:
        await self.ask(query, ctx, actor, answers, Step.NOTE, reason=callback_data.v)

    @on.callback_query(Tap(Step.NOTE))
    async def skip_note(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        await self.ask(query, ctx, actor, answers, Step.CONFIRM, note=None)

    @on.message(Typed(Step.NOTE))
    async def note(self, message: Message, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        note = await typed_within(message, lv.MAX_NOTE)
        if note is None:
            return
        await self.ask(message, ctx, actor, answers, Step.CONFIRM, note=note)

    @on.callback_query(Tap(Step.CONFIRM))
    async def send(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        await self.close()
        student = await ctx.session.get_one(Student, answers["student_id"])
        first, last = date.fromisoformat(answers["first_day"]), date.fromisoformat(answers["last_day"])
        policy = load_policy(ctx.settings)
        result = await lv.request_leave(ctx.session, ctx.settings, ctx.clock.now(), actor, student.id, first, last,
                                        answers["reason"], answers.get("note"), policy=policy)
        await query.answer()
        if not result.ok:
            text = _leave_problem(result, student)
        elif result.over_limit and result.school_reached:
            text = t("✅ Leave of more than {n} school days is decided by the school, so your request went to the "
                     "school: leave for <b>{child}</b>, {span}. You will get a message when it is decided.",
                     n=policy.leave.teacher_max.amount, child=student.name,
                     span=_span(first, last))
        elif result.teacher_reached:
            text = t("✅ Sent to the class teacher: leave for <b>{child}</b>, {span}. You will get a message when the "
                     "teacher decides.", child=student.name, span=_span(first, last))
        elif result.school_reached:
            text = t("✅ The class teacher cannot be reached in the bot right now, so your request went to the "
                     "school: leave for <b>{child}</b>, {span}. You will get a message when it is decided.",
                     child=student.name, span=_span(first, last))
        else:
            text = t("Your leave request for <b>{child}</b> is saved, but nobody at the school can be reached in the "
                     "bot right now. Please phone the school to ask for the leave; the request also reaches the "
                     "school as soon as someone there joins the bot.", child=student.name)
        await show(query, text, None)


def _reason_label(reason: str) -> str:
    return _("🤒 Sick leave") if reason == AbsenceReason.SICK else _("🏠 Personal leave")


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


async def not_a_guardian(message: Message, ctx: Context) -> None:
    if ctx.person is None:
        await answer_unlinked(message)
    else:
        await message.answer(t("Leave requests are for parents and guardians."))


def make_router() -> Router:
    """A fresh router with this flow's handlers: the form's entry (the menu button or /leave), the refusal for
    anyone else, the form."""
    router = Router(name="handlers.guardian.leave_form")
    for trigger in (F.text.func(lambda text: is_button(text, ASK_LEAVE)), Command("leave")):
        router.message.register(LeaveForm.as_handler(), trigger, GUARDIAN)
        router.message.register(not_a_guardian, trigger)
    router.include_router(LeaveForm.router())
    return router
