"""`/enrol`: the enrolment change (学籍变动), a form (`handlers.forms`). An officer finds the student by name, picks
the change, its date, and gives the proof the change needs (the receiving school and its confirmation, the
approving body and its document number), then confirms. Nothing is recorded before the last tap, and the service
checks everything again (`bot.records.enrolment.record_enrolment_change`)."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from html import escape
from typing import Any

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import get_i18n

from bot.calendar.typed import Looking, parse_typed_day
from bot.core.clock import to_local
from bot.core.i18n import gettext
from bot.core.scope import Actor
from bot.records import labels
from bot.records.enrolment import EnrolmentError, EnrolmentErrorCode, record_enrolment_change
from bot.records.service import find_students
from handlers.context import Context
from handlers.forms import STEP, Form, FormTap, Keys, Tap, Typed, _, show
from handlers.roles import ENROLS
from handlers.texts import short_day, t
from storage.models import EnrolmentChangeKind

PROOF_FIELDS = {  # what each change asks for, in order (the required ones from the service, plus optional ones)
    EnrolmentChangeKind.TRANSFER_OUT: ("destination_school", "document_no"),
    EnrolmentChangeKind.TRANSFER_IN: ("origin_school",),
    EnrolmentChangeKind.SUSPENSION: ("approving_body", "document_no"),
    EnrolmentChangeKind.HOME_TEACHING: ("approving_body", "document_no"),
}


def _prompt(field: str) -> str:
    prompts = {
        "destination_school": t("Which school is the student transferring to?"),
        "origin_school": t("Which school does the student come from?"),
        "approving_body": t("Who approved it (the township government, the county education bureau, or the county's "
                            "assessment for home teaching)?"),
        "document_no": t("The document number of the approval or the receiving school's confirmation:"),
        "note": t("A note (or tap Skip):"),
    }
    return prompts[field]


class Step(StrEnum):
    NAME = "name"
    STUDENT = "student"
    KIND = "kind"
    DAY = "day"
    NOTE = "note"  # after the proof fields (PROOF_FIELDS), which are steps too
    CONFIRM = "save"


def _locale() -> str:
    return get_i18n().current_locale


def _fields(answers: dict[str, Any]) -> list[str]:
    """The typed steps after the day: the change's proof, then the note."""
    return [*PROOF_FIELDS.get(EnrolmentChangeKind(answers["kind"]), ()), Step.NOTE]


class EnrolmentForm(Form, state="enrolment", role=ENROLS):
    refused = _("You cannot change this student's enrolment.")
    over = _("This form is over. Send /enrol to start again.")

    @on.message.enter()
    async def start(self, message: Message, ctx: Context, actor: Actor) -> None:
        await self.begin(message, ctx, actor, Step.NAME)

    async def question(self, step: str, answers: dict[str, Any], ctx: Context, actor: Actor) -> tuple[str, Keys]:
        keys = self.keys(answers, step)
        if step == Step.NAME:
            return t("Enrolment change: type the student's name (or part of it)."), keys
        if step == Step.STUDENT:
            for m in await find_students(ctx.session, actor, answers["name"]):
                keys.answer(f"{m.name} · {m.school} {m.class_name} · "
                            f"{labels.label(labels.STATUSES, m.status, _locale())}", str(m.id))
            keys.adjust(1)
            return t("Which student?"), keys
        if step == Step.KIND:
            for kind in EnrolmentChangeKind:
                keys.answer(gettext(labels.CHANGES[kind.value], _locale()), kind.value)
            keys.adjust(1)
            return t("Which change?"), keys
        if step == Step.DAY:
            today = to_local(ctx.clock.now(), ctx.settings.tz).date()
            keys.answer(t("Today"), today.isoformat()).answer(t("Yesterday"), (today - timedelta(days=1)).isoformat())
            return t("Since which day? Tap, or type the date (e.g. 2026-09-14)."), keys
        if step == Step.NOTE:
            keys.answer(t("Skip"))
        if step != Step.CONFIRM:
            return _prompt(step), keys
        lines = [t("<b>Record this enrolment change?</b>"),
                 gettext(labels.CHANGES[answers["kind"]], _locale()) + " · " +
                 short_day(date.fromisoformat(answers["day"]))]
        lines += [f"· {escape(answers[field])}" for field in _fields(answers) if answers.get(field)]
        keys.answer(t("💾 Save"))
        return "\n".join(lines), keys

    async def _next(self, event: Message | CallbackQuery, ctx: Context, actor: Actor, answers: dict[str, Any],
                    **answered: Any) -> None:
        """The step after the day or a proof field: the next field, then the summary to confirm."""
        fields = _fields(answers | answered)
        at = answers[STEP]
        following = fields[0] if at == Step.DAY else [*fields, Step.CONFIRM][fields.index(at) + 1]
        await self.ask(event, ctx, actor, answers, following, **answered)

    # --- the steps ---

    @on.message(Typed(Step.NAME))
    async def name(self, message: Message, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        text = (message.text or "").strip()
        if not await find_students(ctx.session, actor, text):
            await message.answer(t("No student of yours matches “{text}”. Type another name, or /cancel.", text=text))
            return
        await self.ask(message, ctx, actor, answers, Step.STUDENT, name=text)

    @on.callback_query(Tap(Step.STUDENT))
    async def student(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                      actor: Actor) -> None:
        matches = {str(m.id) for m in await find_students(ctx.session, actor, answers["name"])}
        if callback_data.v not in matches:
            await query.answer(t("You cannot change this student's enrolment."), show_alert=True)
            return
        await self.ask(query, ctx, actor, answers, Step.KIND, student_id=int(callback_data.v))

    @on.callback_query(Tap(Step.KIND, values=EnrolmentChangeKind))
    async def kind(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                   actor: Actor) -> None:
        await self.ask(query, ctx, actor, answers, Step.DAY, kind=callback_data.v)

    @on.callback_query(Tap(Step.DAY))
    async def day(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                  actor: Actor) -> None:
        try:
            day = date.fromisoformat(callback_data.v)
        except ValueError:
            await self.stale(query)  # a forged day
            return
        await self._next(query, ctx, actor, answers, day=day.isoformat())

    @on.message(Typed(Step.DAY))
    async def typed_day(self, message: Message, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        today = to_local(ctx.clock.now(), ctx.settings.tz).date()
        day = parse_typed_day(message.text or "", today, Looking.BACK)
        if day is None or day > today:
            await message.answer(t("Type the date like 2026-09-14, or /cancel."))
            return
        await self._next(message, ctx, actor, answers, day=day.isoformat())

    @on.message(Typed(*{field for fields in PROOF_FIELDS.values() for field in fields}, Step.NOTE))
    async def field(self, message: Message, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        await self._next(message, ctx, actor, answers, **{answers[STEP]: (message.text or "").strip()})

    @on.callback_query(Tap(Step.NOTE))
    async def skip_note(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        await self._next(query, ctx, actor, answers, note=None)

    @on.callback_query(Tap(Step.CONFIRM))
    async def save(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        fields = {name: answers.get(name) for name in ("destination_school", "origin_school", "approving_body",
                                                        "document_no", "note")}
        try:
            result = await record_enrolment_change(ctx.session, actor, ctx.clock, int(answers["student_id"]),
                                                   answers["kind"], date.fromisoformat(answers["day"]),
                                                   settings=ctx.settings, **fields)
        except EnrolmentError as error:
            await query.answer(refusal(error), show_alert=True)
            return
        await self.close()
        text = t("Recorded. The student's status is now: {status}.",
                 status=gettext(labels.STATUSES[result.status.value], _locale()))
        if result.closed_case_id is not None:
            text += "\n" + t("The open case was closed with this outcome.")
        await query.answer()
        await show(query, text, None)


def refusal(error: EnrolmentError) -> str:
    if error.code is EnrolmentErrorCode.MISSING:
        return t("Missing: {what}. Nothing was recorded.", what=_prompt(error.details.get("field", "note")))
    if error.code is EnrolmentErrorCode.WRONG_STATUS:
        return t("This change does not fit the student's status now. Nothing was recorded.")
    if error.code is EnrolmentErrorCode.FUTURE:
        return t("The date is in the future. Nothing was recorded.")
    if error.code is EnrolmentErrorCode.TOO_LONG:
        return t("That text is too long. Nothing was recorded.")
    return t("You cannot change this student's enrolment.")


def make_router() -> Router:
    router = Router(name="records.enrolment")
    router.message.register(EnrolmentForm.as_handler(), Command("enrol"), ENROLS)
    router.message.register(not_for_you, Command("enrol"))
    router.include_router(EnrolmentForm.router())
    return router


async def not_for_you(message: Message) -> None:
    await message.answer(t("You cannot change this student's enrolment."))
