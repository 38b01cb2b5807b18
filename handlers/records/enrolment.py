"""`/enrol`: the enrolment-change form (学籍变动), declared as a Scene. An officer finds the student by name, picks
the change, its date, and gives the proof the change needs (the receiving school and its confirmation, the
approving body and its document number), then confirms. Nothing is recorded before the last tap, and the service
checks everything again (`bot.records.enrolment.record_enrolment_change`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.scene import Scene, SceneRegistry, on
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import get_i18n

from bot.calendar.typed import Looking, parse_typed_day
from bot.core.clock import to_local
from bot.core.i18n import gettext
from bot.core.scope import Actor
from bot.records import labels
from bot.records.enrolment import EnrolmentError, EnrolmentErrorCode, record_enrolment_change
from bot.records.service import find_students
from handlers.context import Context
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


class EnrolStep(CallbackData, prefix="en"):
    f: str  # student, kind, day, skip, save, cancel
    v: str = ""


def _locale() -> str:
    return get_i18n().current_locale


def _button(text: str, f: str, v: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=EnrolStep(f=f, v=v).pack())


def _with_cancel(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [_button(t("✖ Cancel"), "cancel")]])


class EnrolmentForm(Scene, state="enrolment", reset_data_on_enter=True, callback_query_without_state=False):
    @on.message.enter()
    async def start(self, message: Message) -> None:
        await message.answer(t("Enrolment change: type the student's name (or part of it)."),
                             reply_markup=_with_cancel([]))

    @on.message(Command("cancel"))
    async def cancel_command(self, message: Message) -> None:
        await self.wizard.exit()
        await message.answer(t("Cancelled. Nothing was recorded."))

    @on.message(F.text)
    async def typed(self, message: Message, ctx: Context) -> None:
        actor = ctx.actor
        if actor is None:
            await self.wizard.exit()
            return
        data = await self.wizard.get_data()
        text = (message.text or "").strip()
        asking = data.get("asking", "name")
        if asking == "name":
            matches = await find_students(ctx.session, actor, text)
            if not matches:
                await message.answer(t("No student of yours matches “{text}”. Type another name, or /cancel.",
                                       text=text))
                return
            rows = [[_button(f"{m.name} · {m.school} {m.class_name} · "
                             f"{labels.label(labels.STATUSES, m.status, _locale())}", "student", str(m.id))]
                    for m in matches]
            await message.answer(t("Which student?"), reply_markup=_with_cancel(rows))
        elif asking == "day":
            today = to_local(ctx.clock.now(), ctx.settings.tz).date()
            day = parse_typed_day(text, today, Looking.BACK)
            if day is None or day > today:
                await message.answer(t("Type the date like 2026-09-14, or /cancel."))
                return
            await self._next_field(message, {**data, "day": day.isoformat()})
        else:
            await self._next_field(message, {**data, asking: text}, answered=asking)

    @on.callback_query(EnrolStep.filter())
    async def tapped(self, query: CallbackQuery, callback_data: EnrolStep, ctx: Context) -> None:
        actor = ctx.actor
        data = await self.wizard.get_data()
        message = query.message if isinstance(query.message, Message) else None
        await query.answer()
        if callback_data.f == "cancel" or actor is None or message is None:
            await self.wizard.exit()
            if message is not None:
                await message.answer(t("Cancelled. Nothing was recorded."))
            return
        if callback_data.f == "student":
            data = {**data, "student_id": int(callback_data.v), "asking": "kind"}
            await self.wizard.set_data(data)
            rows = [[_button(gettext(labels.CHANGES[kind.value], _locale()), "kind", kind.value)]
                    for kind in EnrolmentChangeKind]
            await message.answer(t("Which change?"), reply_markup=_with_cancel(rows))
        elif callback_data.f == "kind":
            today = to_local(ctx.clock.now(), ctx.settings.tz).date()
            await self.wizard.set_data({**data, "kind": callback_data.v, "asking": "day"})
            rows = [[_button(t("Today"), "day", today.isoformat()),
                     _button(t("Yesterday"), "day", (today - timedelta(days=1)).isoformat())]]
            await message.answer(t("Since which day? Tap, or type the date (e.g. 2026-09-14)."),
                                 reply_markup=_with_cancel(rows))
        elif callback_data.f == "day":
            await self._next_field(message, {**data, "day": callback_data.v})
        elif callback_data.f == "skip":
            await self._next_field(message, data, answered="note")
        elif callback_data.f == "save":
            await self._save(message, data, ctx, actor)

    async def _next_field(self, message: Message, data: dict[str, Any], answered: str | None = None) -> None:
        """Ask the next proof field, then the note, then show the summary to confirm."""
        fields = [*PROOF_FIELDS.get(EnrolmentChangeKind(data["kind"]), ()), "note"]
        done = set(data.get("answered", [])) | ({answered} if answered else set())
        data = {**data, "answered": sorted(done)}
        missing = [field for field in fields if field not in done]
        if missing:
            data["asking"] = missing[0]
            await self.wizard.set_data(data)
            rows = [[_button(t("Skip"), "skip")]] if missing[0] == "note" else []
            await message.answer(_prompt(missing[0]), reply_markup=_with_cancel(rows))
            return
        data["asking"] = "confirm"
        await self.wizard.set_data(data)
        lines = [t("<b>Record this enrolment change?</b>"),
                 gettext(labels.CHANGES[data["kind"]], _locale()) + " · " +
                 short_day(date.fromisoformat(data["day"]))]
        lines += [f"· {data[field]}" for field in fields if data.get(field)]
        await message.answer("\n".join(lines), reply_markup=_with_cancel([[_button(t("💾 Save"), "save")]]))

    async def _save(self, message: Message, data: dict[str, Any], ctx: Context, actor: Actor) -> None:
        fields = {name: data.get(name) for name in ("destination_school", "origin_school", "approving_body",
                                                     "document_no", "note")}
        try:
            result = await record_enrolment_change(ctx.session, actor, ctx.clock, int(data["student_id"]),
                                                   data["kind"], date.fromisoformat(data["day"]),
                                                   settings=ctx.settings, **fields)
        except EnrolmentError as error:
            await message.answer(refusal(error))
            return
        await self.wizard.exit()
        text = t("Recorded. The student's status is now: {status}.",
                 status=gettext(labels.STATUSES[result.status.value], _locale()))
        if result.closed_case_id is not None:
            text += "\n" + t("The open case was closed with this outcome.")
        await message.answer(text)



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
    registry = SceneRegistry(router)
    registry.add(EnrolmentForm)
    router.message.register(EnrolmentForm.as_handler(), Command("enrol"), ENROLS)
    router.message.register(not_for_you, Command("enrol"))
    return router


async def not_for_you(message: Message) -> None:
    await message.answer(t("You cannot change this student's enrolment."))
