"""The card's actions (report, order, legal step, close, support): choose, confirm, run."""

from __future__ import annotations

from datetime import date

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import cases as cs
from bot.cases import (
    ActionResult,
    CaseAction,
    CaseDetail,
    CaseError,
    CaseErrorCode,
    LegalStepKind,
    SupportKind,
)
from bot.core.scope import Actor
from handlers.cases.base import (
    ACTION_DO,
    CHOICES,
    NOTE,
    CaseCard,
    CaseDo,
    Do,
    _edit,
    _policy,
    _today,
)
from handlers.cases.card import _card, _done_head, _refuse, court_from
from handlers.cases.labels import legal_label, outcome_label, support_label
from handlers.cases.listing import _leave_note
from handlers.cases.persuasion import PersuasionForm
from handlers.context import Context
from handlers.texts import t
from storage.models import CaseOutcome, CaseStage


def _choice_ok(what: Do, value: str) -> bool:
    return value == "" or (what in CHOICES and value in {choice.value for choice in CHOICES[what]})


async def _run(ctx: Context, actor: Actor, d: CaseDo, note: str | None = None) -> ActionResult:
    """The one service call a confirmed step makes; the service checks scope and stage again."""
    policy, now, stage = _policy(ctx.settings), ctx.clock.now(), d.s
    what = Do(d.a)
    if what is Do.REPORT:
        return await cs.report_to_township(ctx.session, ctx.settings, policy, now, actor, d.i, expected_stage=stage)
    if what is Do.ORDER:
        return await cs.issue_return_order(ctx.session, ctx.settings, policy, now, actor, d.i, expected_stage=stage)
    if what is Do.LEGAL:
        return await cs.record_legal_step(ctx.session, ctx.settings, policy, now, actor, d.i, LegalStepKind(d.v), note,
                                          expected_stage=stage)
    if what is Do.SUPPORT:
        return await cs.request_support(ctx.session, ctx.settings, policy, now, actor, d.i, SupportKind(d.v))
    return await cs.close_case(ctx.session, ctx.settings, policy, now, actor, d.i, CaseOutcome(d.v), note,
                               expected_stage=stage)


def _with_back(keyboard: InlineKeyboardBuilder, case_id: int) -> InlineKeyboardMarkup:
    """The step's buttons one a row, then 「◀ 返回个案」."""
    keyboard.button(text=t("◀ Back to the case"), callback_data=CaseCard(i=case_id))
    keyboard.adjust(1)
    return keyboard.as_markup()


def _confirm_keyboard(d: CaseDo, label: str) -> InlineKeyboardMarkup:
    keyboard = InlineKeyboardBuilder()
    keyboard.button(text=label, callback_data=CaseDo(i=d.i, a=d.a, s=d.s, v=d.v, c=1))
    return _with_back(keyboard, d.i)


def _choices(d: CaseDo, detail: CaseDetail, today: date) -> tuple[str, InlineKeyboardMarkup]:
    """The choice a step needs before its confirmation: which outcome, which legal step, which help."""
    what = Do(d.a)
    child = detail.summary.student_name
    if what is Do.LEGAL:
        options = [(k.value, legal_label(k.value)) for k in LegalStepKind if k in detail.legal_steps_open]
        text = t("Which legal step did the township take for {child}? (Recorded only: Quanxue decides nothing.)",
                 child=child)
        if detail.court_application_from:
            text += "\n" + court_from(detail.court_application_from, today)
    elif what is Do.SUPPORT:
        options = [(k.value, support_label(k.value)) for k in SupportKind]
        text = t("What help does the family of {child} need?", child=child)
    else:
        options = [(o.value, outcome_label(o.value)) for o in CaseOutcome]
        text = t("How does the case of {child} end?", child=child)
    keyboard = InlineKeyboardBuilder()
    for value, label in options:
        keyboard.button(text=label, callback_data=CaseDo(i=d.i, a=d.a, s=d.s, v=value))
    return text, _with_back(keyboard, d.i)


def _confirmation(d: CaseDo, detail: CaseDetail) -> tuple[str, InlineKeyboardMarkup]:
    what, child = Do(d.a), detail.summary.student_name
    if what is Do.REPORT:
        text = t("File the dropout report (辍学报告) for <b>{child}</b> with the township? It goes with the absence "
                 "history, the persuasion attempts and the family's answers, and the case becomes a confirmed "
                 "dropout in the ledger.", child=child)
        return text, _confirm_keyboard(d, t("📤 Yes, report"))
    if what is Do.ORDER:
        text = t("Issue the return order (复学通知书) for <b>{child}</b>? Every guardian receives it with the "
                 "deadline to bring the child back; the school is told.", child=child)
        return text, _confirm_keyboard(d, t("📨 Yes, issue it"))
    if what is Do.SUPPORT:
        text = t("Request “{kind}” for the family of <b>{child}</b>? The school officer arranges it.",
                 kind=support_label(d.v), child=child)
        return text, _confirm_keyboard(d, t("🤝 Yes, request it"))
    text = t("Close the case of <b>{child}</b> as “{outcome}”? The class teacher and the school are told.",
             child=child, outcome=outcome_label(d.v))
    if d.v == CaseOutcome.RETURNED:
        text += "\n" + t("The child is then watched for a few weeks: a new unexplained absence goes straight to the "
                         "school officer.")
    return text, _confirm_keyboard(d, t("✅ Yes, close it"))


async def case_do(
    query: CallbackQuery, callback_data: CaseDo, ctx: Context, actor: Actor, state: FSMContext,
    scenes: ScenesManager,
) -> None:
    d = callback_data
    await _leave_note(state, scenes)  # asked again below when this tap leads to a note
    try:
        if d.a not in tuple(Do) or d.s not in tuple(CaseStage) or not _choice_ok(Do(d.a), d.v):
            raise CaseError(CaseErrorCode.BAD_VALUE)
        what = Do(d.a)
        detail = await cs.case_detail(ctx.session, ctx.settings, _policy(ctx.settings), ctx.clock.now(), actor, d.i)
        if detail.summary.stage != d.s:
            raise CaseError(CaseErrorCode.STALE, stage=detail.summary.stage)
        offered = {ACTION_DO[a] for a in detail.actions if a in ACTION_DO}
        if what not in offered or (what is Do.CLOSE and CaseAction.CLOSE not in detail.actions and d.v != ""
                                   and d.v != CaseOutcome.RETURNED):
            # not on the card: someone who works on the case hears that the step is not there now
            raise CaseError(CaseErrorCode.NOT_AVAILABLE if detail.in_charge else CaseErrorCode.NOT_ALLOWED)
        if what is Do.PERSUADE:
            await scenes.enter(PersuasionForm, case_id=d.i, stage=d.s, child=detail.summary.student_name)
            return
        needs_choice = what in (Do.LEGAL, Do.CLOSE, Do.SUPPORT)
        if needs_choice and d.v == "":
            text, markup = _choices(d, detail, _today(ctx))
        elif d.c:
            result = await _run(ctx, actor, d)
            text, markup = await _card(ctx, actor, d.i, _done_head(what, result, d.v))
        elif what is Do.LEGAL or (what is Do.CLOSE and d.v == CaseOutcome.OTHER):
            if what is Do.LEGAL:  # refused now rather than after the note is typed
                await cs.check_legal_step(ctx.session, ctx.settings, _policy(ctx.settings), ctx.clock.now(), actor, d.i,
                                          LegalStepKind(d.v), expected_stage=d.s)
            await scenes.enter(NOTE, note_for=[d.i, d.a, d.s, d.v], child=detail.summary.student_name)
            return
        else:
            text, markup = _confirmation(d, detail)
    except CaseError as error:
        await _refuse(query, error, ctx, actor, d.i)
        return
    await query.answer()
    await _edit(query, text, markup)


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    router = Router(name="cases.actions")
    router.callback_query.register(case_do, CaseDo.filter())
    return router
