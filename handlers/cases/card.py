"""The case card: what it shows, its buttons, and the refusal that shows the card as it is now."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from html import escape

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
    Recipient,
    SupportKind,
)
from bot.core.scope import Actor
from bot.core.settings import Settings
from handlers.cases.base import (
    SHOWN,
    CaseCard,
    CaseDo,
    CaseList,
    Do,
    _edit,
    _policy,
    _today,
)
from handlers.cases.documents import Doc, DocTap
from handlers.cases.labels import (
    _when,
    answer_label,
    attitude_label,
    event_label,
    legal_label,
    method_label,
    outcome_label,
    reason_label,
    refusal,
    stage_label,
    support_label,
)
from handlers.cases.listing import _deadline_text, _leave_note
from handlers.context import Context
from handlers.texts import day_in_year, short_day, t
from storage.models import CaseOutcome, CaseStage


def _guardian_line(detail: CaseDetail) -> str | None:
    if not detail.guardians:
        return None
    names = []
    for g in detail.guardians:
        name = f"{escape(g.name)}（{escape(g.relation)}）" if g.relation else escape(g.name)
        names.append(name + ("" if g.reachable else " 📵"))
    return t("Guardians: {names}", names="") + "、".join(names)


def render_card(
    detail: CaseDetail, settings: Settings, today: date, head: str | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    s = detail.summary
    lines = [head, ""] if head else []
    lines += [
        t("📁 <b>{child}</b> · {class_name} · {school}", child=s.student_name, class_name=s.class_name,
          school=s.school_name),
        t("Case {ref} · {stage}", ref=s.ref, stage=stage_label(s.stage)),
    ]
    if s.stage == CaseStage.CLOSED:
        lines.append(t("Outcome: {outcome}", outcome=outcome_label(s.outcome)))
        if detail.outcome_note:
            lines.append(t("Note: {note}", note=detail.outcome_note))
        if s.watch_until:
            lines.append(t("Watched until {day}.", day=short_day(s.watch_until)))
    else:
        lines.append(t("Absent {days} school days since {day}.", days=s.days_absent, day=short_day(s.first_absent_day)))
        deadline = _deadline_text(s, mark=False)
        if deadline:
            lines.append(t("Next: {deadline}", deadline=deadline) if not s.overdue
                         else t("⚠️ Overdue: {deadline}", deadline=deadline))
    guardians = _guardian_line(detail)
    if guardians:
        lines.append(guardians)
    if detail.absences:
        days = [short_day(a.day) for a in detail.absences if not a.excused]
        if days:
            lines.append(t("Days absent: {days}", days="、".join(days[-10:])))
    if detail.answers:
        lines.append(t("<b>The family's answers</b>"))
        for a in detail.answers[-SHOWN:]:
            who = f"{a.guardian}（{a.relation}）" if a.relation else a.guardian
            line = t("• {when} {who}: {answer}", when=_when(a.at, settings), who=who, answer=answer_label(a.answer))
            if a.text:
                line += t(" “{text}”", text=a.text)
            lines.append(line)
    if detail.attempts:
        lines.append(t("<b>Persuasion attempts</b> ({count})", count=len(detail.attempts)))
        for at in detail.attempts:
            lines.append(t("• {day} {method} · {visitors} · {reason} · {attitude} · {result}", day=short_day(at.on_day),
                           method=method_label(at.method), visitors=at.visitors, reason=reason_label(at.reason_found),
                           attitude=attitude_label(at.attitude),
                           result=t("agreed to return") if at.succeeded else t("not successful")))
            if at.next_step:
                lines.append(t("  Next step: {text}", text=at.next_step))
    if detail.referrals:
        lines.append(t("<b>Help requested</b>"))
        for r in detail.referrals:
            state = t("arranged") if r.resolved_at else t("open")
            lines.append(t("• {kind} · {when} · {state}", kind=support_label(r.kind),
                           when=_when(r.requested_at, settings), state=state))
    if detail.legal_steps:
        lines.append(t("Legal steps: {steps}", steps="、".join(legal_label(k) for k in detail.legal_steps)))
    if detail.court_application_from:
        lines.append(court_from(detail.court_application_from, today))
    if detail.events:
        lines.append(t("<b>Recent history</b>"))
        for e in detail.events[-SHOWN:]:
            who = e.actor or t("the system")
            lines.append(t("• {when} {what} ({who})", when=_when(e.at, settings), what=event_label(e.kind), who=who))
    return "\n".join(lines), card_keyboard(detail)


def court_from(day: date, today: date) -> str:
    return t("The application to the court can be recorded from {day}.", day=day_in_year(day, today))


def card_keyboard(detail: CaseDetail) -> InlineKeyboardMarkup:
    """One action a row (only those the person may take now), then 「◀ 全部个案」 and 「🔄 刷新」."""
    s = detail.summary
    stage = CaseStage(s.stage).value
    acts = detail.actions
    keyboard = InlineKeyboardBuilder()

    def do(label: str, what: Do, v: str = "") -> None:
        keyboard.button(text=label, callback_data=CaseDo(i=s.id, a=what, s=stage, v=v))

    if CaseAction.RECORD_PERSUASION in acts:
        do(t("📝 Record a persuasion attempt"), Do.PERSUADE)
    if CaseAction.REPORT in acts:
        do(t("📤 Report to the township"), Do.REPORT)
    if CaseAction.ISSUE_ORDER in acts:
        do(t("📨 Issue the return order"), Do.ORDER)
    if CaseAction.LEGAL_STEP in acts:
        do(t("⚖️ Record a legal step"), Do.LEGAL)
    if CaseAction.REQUEST_SUPPORT in acts:
        do(t("🤝 Request help for the family"), Do.SUPPORT)
    if CaseAction.PRINT in acts:
        keyboard.button(text=t("📄 PDF: case file and documents"), callback_data=DocTap(a=Doc.FILE, i=s.id))
    if CaseAction.CLOSE in acts:
        do(t("✅ Close the case"), Do.CLOSE)
    elif CaseAction.CLOSE_RETURNED in acts:
        do(t("✅ Back at school: close the case"), Do.CLOSE, CaseOutcome.RETURNED.value)
    keyboard.adjust(1)
    navigation = InlineKeyboardBuilder()
    navigation.button(text=t("◀ All cases"), callback_data=CaseList(c=0))
    navigation.button(text=t("🔄 Refresh"), callback_data=CaseCard(i=s.id))
    keyboard.attach(navigation)
    return keyboard.as_markup()


async def _card(ctx: Context, actor: Actor, case_id: int, head: str | None = None) -> tuple[str, InlineKeyboardMarkup]:
    detail = await cs.case_detail(ctx.session, ctx.settings, _policy(ctx.settings), ctx.clock.now(), actor, case_id)
    return render_card(detail, ctx.settings, _today(ctx), head)


SHOWS_CARD = (CaseErrorCode.STALE, CaseErrorCode.WRONG_STAGE, CaseErrorCode.NOT_AVAILABLE)  # refusals + the card


async def _current(
    ctx: Context, actor: Actor, case_id: int, head: str | None = None,
) -> tuple[str, InlineKeyboardMarkup] | None:
    """The card as it is now, or None when the person may no longer see it."""
    try:
        return await _card(ctx, actor, case_id, head)
    except CaseError:
        return None


async def _show_current(query: CallbackQuery, ctx: Context, actor: Actor, case_id: int) -> None:
    """After a stale tap: the card as it is now (when the person may still see it)."""
    shown = await _current(ctx, actor, case_id)
    if shown is not None:
        await _edit(query, *shown)


async def _refuse(query: CallbackQuery, error: CaseError, ctx: Context, actor: Actor, case_id: int) -> None:
    await query.answer(refusal(error), show_alert=True)
    if error.code in SHOWS_CARD:
        await _show_current(query, ctx, actor, case_id)


async def card_after(query: CallbackQuery, ctx: Context, actor: Actor, case_id: int,
                     step: Callable[[], Awaitable[str]]) -> None:
    """A one-tap step on a case from a notice's button: `step` calls the service and returns the card's head; the
    message becomes the card, or the tap is refused (with the card as it is now, where that helps)."""
    try:
        head = await step()
        text, markup = await _card(ctx, actor, case_id, head)
    except CaseError as error:
        await _refuse(query, error, ctx, actor, case_id)
        return
    await query.answer()
    await _edit(query, text, markup)


async def card_tapped(
    query: CallbackQuery, callback_data: CaseCard, ctx: Context, actor: Actor, state: FSMContext, scenes: ScenesManager,
) -> None:
    await _leave_note(state, scenes)
    try:
        now = ctx.clock.now()
        detail = await cs.case_detail(ctx.session, ctx.settings, _policy(ctx.settings), now, actor, callback_data.i)
        cs.record_view(ctx.session, now, actor, detail.summary)  # the person opens the child's file: audited here
        text, markup = render_card(detail, ctx.settings, _today(ctx))
    except CaseError as error:
        await query.answer(refusal(error), show_alert=True)
        return
    await query.answer()
    await _edit(query, text, markup)


def _told_lines(result: ActionResult) -> list[str]:
    lines = []
    reached = [x.name for x in result.told if x.reached and x.role is not Recipient.GUARDIAN]
    if reached:
        lines.append(t("Told: {names}", names="、".join(dict.fromkeys(reached))))
    guardians = [x.name for x in result.told if x.reached and x.role is Recipient.GUARDIAN]
    if guardians:
        lines.append(t("Sent to the guardians: {names}", names="、".join(dict.fromkeys(guardians))))
    if result.by_hand:
        lines.append(t("📞 Not reachable in the bot: {names}. The school officer was asked to deliver the notice by "
                       "hand.", names="、".join(dict.fromkeys(x.name for x in result.by_hand))))
    return lines


def _done_head(what: Do, result: ActionResult, value: str = "") -> str:
    if not result.changed:
        return t("Nothing changed: this was already done.")
    s = result.case
    if what is Do.PERSUADE:
        head = t("✅ Persuasion attempt recorded.")
    elif what is Do.REPORT:
        head = t("📤 The dropout report for {child} was filed with the township.", child=s.student_name)
    elif what is Do.ORDER:
        head = t("📨 Return order issued for {child}.", child=s.student_name)
    elif what is Do.LEGAL:
        head = t("⚖️ Recorded: {step}.", step=legal_label(value) if value in tuple(LegalStepKind) else "")
    elif what is Do.SUPPORT:
        head = t("🤝 Help requested: {kind}.", kind=support_label(value) if value in tuple(SupportKind) else "")
    else:
        head = t("✅ Case closed: {outcome}.", outcome=outcome_label(s.outcome))
    return "\n".join([head, *_told_lines(result)])


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    router = Router(name="cases.card")
    router.callback_query.register(card_tapped, CaseCard.filter())
    return router
