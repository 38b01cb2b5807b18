"""The guided persuasion record (劝返记录), a form (`handlers.forms`): method, day, visitors, people met, reason
(and, for child labour or early marriage, whether the authorities were told), attitude, result, next step; saved
with one call of `bot.cases.record_persuasion`, which checks the case's stage and the person's scope again."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from aiogram import Router
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, Message

from bot import cases as cs
from bot.calendar.typed import Looking, parse_typed_day
from bot.cases import Attitude, CaseError, PersuasionInput, PersuasionMethod, ReasonFound
from bot.cases.actions import MAX_NAMES
from bot.cases.model import MAX_TEXT, REPORT_DUTY_REASONS
from bot.core.scope import Actor
from handlers.cases.base import Do, _policy, _today
from handlers.cases.card import _card, _done_head, _refuse, _show_current
from handlers.cases.labels import attitude_label, method_label, reason_label
from handlers.context import Context
from handlers.forms import STEP, Form, FormTap, Keys, Tap, Typed, _, show, typed_within
from handlers.roles import STAFF
from handlers.texts import short_day, t

MAX_DAYS_BACK = 90  # a persuasion attempt dated further back is refused as a typo


class Step(StrEnum):
    METHOD = "method"
    DAY = "day"
    TYPED_DAY = "typed_day"
    VISITORS = "visitors"
    PEOPLE_MET = "met"
    REASON = "reason"
    AUTHORITIES = "told"  # 「已报告 / 尚未报告」, for child labour or early marriage only
    ATTITUDE = "attitude"
    SUCCEEDED = "ok"
    NEXT = "next"
    CONFIRM = "confirm"


YES_NO = ("1", "0")


class PersuasionForm(Form, state="persuasion", role=STAFF):
    refused = _("You cannot see or change this case.")
    over = _("This form is over. Open the case again with /cases.")

    @on.callback_query.enter()
    async def start(self, query: CallbackQuery, ctx: Context, actor: Actor, case_id: int, stage: str,
                    child: str) -> None:
        """Entered from the card's 「记录劝返」 (`handlers.cases.actions`), once the case offered it."""
        await self.begin(query, ctx, actor, Step.METHOD, cf_case=case_id, cf_stage=stage, cf_child=child)

    async def question(self, step: str, answers: dict[str, Any], ctx: Context, actor: Actor) -> tuple[str, Keys]:
        keys = self.keys(answers, step)
        head = t("📝 <b>Persuasion record</b> · {child}", child=answers["cf_child"]) + "\n"
        if step == Step.METHOD:
            for method in PersuasionMethod:
                keys.answer(method_label(method.value), method.value)
            keys.adjust(2)
            return head + t("How was the family contacted?"), keys
        if step == Step.DAY:
            keys.answer(t("Today"), "0").answer(t("Yesterday"), "1").answer(t("Another day"), "2")
            keys.adjust(2)
            return head + t("On which day?"), keys
        if step == Step.TYPED_DAY:
            return head + t("Type the day, e.g. 2026-09-15 or 9-15."), keys
        if step == Step.VISITORS:
            keys.answer(t("Just me"))
            return head + t("Who went (or called)? Type the names, or tap 「Just me」."), keys
        if step == Step.PEOPLE_MET:
            keys.answer(t("Skip"))
            return head + t("Whom did you meet (e.g. father, grandmother, the child)? Type it, or tap Skip."), keys
        if step == Step.REASON:
            for reason in ReasonFound:
                keys.answer(reason_label(reason.value), reason.value)
            keys.adjust(2)
            return head + t("Why is the child out of school?"), keys
        if step == Step.AUTHORITIES:
            keys.answer(t("Reported"), "1").answer(t("Not yet reported"), "0")
            return head + t("⚠️ Child labour and early marriage must be reported to the authorities at once "
                            "(Law on the Protection of Minors, art. 11). Have they been told?"), keys
        if step == Step.ATTITUDE:
            for attitude in Attitude:
                keys.answer(attitude_label(attitude.value), attitude.value)
            keys.adjust(2)
            return head + t("The guardian's attitude?"), keys
        if step == Step.SUCCEEDED:
            keys.answer(t("Yes, the child will return"), "1").answer(t("No"), "0")
            return head + t("Did the family agree to send the child back?"), keys
        if step == Step.NEXT:
            keys.answer(t("Skip"))
            return head + t("The agreed measures and next step? Type them, or tap Skip."), keys
        keys.answer(t("💾 Save"))
        return head + _summary(answers), keys

    async def after_cancel(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        await _show_current(query, ctx, actor, answers["cf_case"])

    # --- the steps ---

    @on.callback_query(Tap(Step.METHOD, values=PersuasionMethod))
    async def method(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                     actor: Actor) -> None:
        await self.ask(query, ctx, actor, answers, Step.DAY, cf_method=callback_data.v)

    @on.callback_query(Tap(Step.DAY, values=("0", "1", "2")))
    async def day(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                  actor: Actor) -> None:
        if callback_data.v == "2":
            await self.ask(query, ctx, actor, answers, Step.TYPED_DAY)
            return
        day = _today(ctx) - timedelta(days=int(callback_data.v))
        await self.ask(query, ctx, actor, answers, Step.VISITORS, cf_day=day.isoformat())

    @on.message(Typed(Step.TYPED_DAY))
    async def typed_day(self, message: Message, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        today = _today(ctx)
        day = parse_typed_day(message.text or "", today, Looking.BACK)
        if day is None:
            await message.answer(t("I could not read that date. Please type it like 2026-09-15 or 9-15."))
        elif day > today:
            await message.answer(t("That day is in the future. Please type the day the contact took place."))
        elif (today - day).days > MAX_DAYS_BACK:
            await message.answer(t("That is more than {days} days ago. Please check the date.", days=MAX_DAYS_BACK))
        else:
            await self.ask(message, ctx, actor, answers, Step.VISITORS, cf_day=day.isoformat())

    @on.callback_query(Tap(Step.VISITORS))
    async def just_me(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        await self.ask(query, ctx, actor, answers, Step.PEOPLE_MET, cf_visitors=actor.name)

    @on.message(Typed(Step.VISITORS, Step.PEOPLE_MET, Step.NEXT))
    async def typed_words(self, message: Message, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        step = answers[STEP]
        text = await typed_within(message, MAX_TEXT if step == Step.NEXT else MAX_NAMES)
        if text is None:
            return
        if not text:
            await message.answer(t("Please type a few words, or send /cancel."))
        elif step == Step.VISITORS:
            await self.ask(message, ctx, actor, answers, Step.PEOPLE_MET, cf_visitors=text)
        elif step == Step.PEOPLE_MET:
            await self.ask(message, ctx, actor, answers, Step.REASON, cf_met=text)
        else:
            await self.ask(message, ctx, actor, answers, Step.CONFIRM, cf_next=text)

    @on.callback_query(Tap(Step.PEOPLE_MET))
    async def skip_people_met(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context,
                              actor: Actor) -> None:
        await self.ask(query, ctx, actor, answers, Step.REASON, cf_met=None)

    @on.callback_query(Tap(Step.REASON, values=ReasonFound))
    async def reason(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                     actor: Actor) -> None:
        following = Step.AUTHORITIES if callback_data.v in REPORT_DUTY_REASONS else Step.ATTITUDE
        await self.ask(query, ctx, actor, answers, following, cf_reason=callback_data.v, cf_told=None)

    @on.callback_query(Tap(Step.AUTHORITIES, values=YES_NO))
    async def authorities(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                          actor: Actor) -> None:
        await self.ask(query, ctx, actor, answers, Step.ATTITUDE, cf_told=callback_data.v == "1")

    @on.callback_query(Tap(Step.ATTITUDE, values=Attitude))
    async def attitude(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                       actor: Actor) -> None:
        await self.ask(query, ctx, actor, answers, Step.SUCCEEDED, cf_attitude=callback_data.v)

    @on.callback_query(Tap(Step.SUCCEEDED, values=YES_NO))
    async def succeeded(self, query: CallbackQuery, callback_data: FormTap, answers: dict[str, Any], ctx: Context,
                        actor: Actor) -> None:
        await self.ask(query, ctx, actor, answers, Step.NEXT, cf_succeeded=callback_data.v == "1")

    @on.callback_query(Tap(Step.NEXT))
    async def skip_next(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        await self.ask(query, ctx, actor, answers, Step.CONFIRM, cf_next=None)

    @on.callback_query(Tap(Step.CONFIRM))
    async def save(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        await self.close()
        case_id, stage = answers["cf_case"], answers["cf_stage"]
        record = PersuasionInput(
            on_day=date.fromisoformat(answers["cf_day"]), method=answers["cf_method"],
            visitors=answers["cf_visitors"], people_met=answers.get("cf_met"), reason_found=answers["cf_reason"],
            attitude=answers["cf_attitude"], next_step=answers.get("cf_next"),
            succeeded=bool(answers["cf_succeeded"]), authorities_told=answers.get("cf_told"),
        )
        try:
            result = await cs.record_persuasion(ctx.session, ctx.settings, _policy(ctx.settings), ctx.clock.now(),
                                                actor, case_id, record, expected_stage=stage)
            text, markup = await _card(ctx, actor, case_id, _done_head(Do.PERSUADE, result))
        except CaseError as error:
            await _refuse(query, error, ctx, actor, case_id)
            return
        await query.answer(t("Saved."))
        await show(query, text, markup)


def _summary(answers: dict[str, Any]) -> str:
    lines = [t("Please check:"),
             t("Method: {value}", value=method_label(answers["cf_method"])),
             t("Day: {value}", value=short_day(date.fromisoformat(answers["cf_day"]))),
             t("Visitors: {value}", value=answers["cf_visitors"])]
    if answers.get("cf_met"):
        lines.append(t("People met: {value}", value=answers["cf_met"]))
    lines.append(t("Reason found: {value}", value=reason_label(answers["cf_reason"])))
    if answers.get("cf_told") is not None:
        lines.append(t("Authorities: {value}", value=t("Reported") if answers["cf_told"] else t("Not yet reported")))
    lines += [t("Attitude: {value}", value=attitude_label(answers["cf_attitude"])),
              t("Result: {value}", value=t("agreed to return") if answers["cf_succeeded"] else t("not successful"))]
    if answers.get("cf_next"):
        lines.append(t("Next step: {value}", value=answers["cf_next"]))
    return "\n".join(lines)


def make_router() -> Router:
    """A fresh router with this flow's handlers: the form (entered from `handlers.cases.actions`)."""
    router = Router(name="cases.persuasion")
    router.include_router(PersuasionForm.router())
    return router
