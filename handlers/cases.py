"""The ladder's cases in chat: `/cases`, the case card, the guided persuasion record, report, order, legal steps,
closing; the guardian's answers to the 劝学书 and the help they ask for; the class teacher's "back at school".

Thin: every tap reads ids from the callback data, calls one function of `bot.cases` (which checks the tapping
person's scope and the case's stage again) and renders what it returns, editing the card in place. Buttons on a
card carry the stage it showed (`s`), so a tap on a card the case has moved past is refused as stale and the card
is shown as it is now. Refusals are alerts and change nothing.

Taps (school officer): /cases → case → 「记录劝返」 → method → 今天 → 我自己 → 跳过 → reason → attitude → 是/否 →
跳过 → 保存 (11, plus what they type); report: card → 「上报乡镇」 → 「确认上报」 (2 after the card). Township officer:
card → 「发出复学通知书」 → 「确认发出」. Guardian: 1 tap per answer, "we need help" + 1 tap for which help.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime, timedelta
from enum import IntEnum
from html import escape

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot import cases as cs
from bot.calendar.days import parse_day
from bot.cases import (
    ANSWER_LABELS,
    CASE_ACTION,
    RETURNED_ACTION,
    SUPPORT_ACTION,
    SUPPORT_LABELS,
    ActionResult,
    Attitude,
    CaseAction,
    CaseDetail,
    CaseError,
    CaseErrorCode,
    CaseSummary,
    DeadlineKind,
    GuardianCaseAnswer,
    LegalStepKind,
    PersuasionInput,
    PersuasionMethod,
    ReasonFound,
    Recipient,
    SupportKind,
)
from bot.cases.actions import MAX_NAMES
from bot.cases.model import MAX_TEXT
from bot.core.clock import Clock, to_local
from bot.core.policy import load_policy
from bot.core.scope import Actor
from bot.core.settings import Settings
from bot.delivery.telegram import NoticeAction
from bot.rollcall.service import Summary
from handlers.menu import main_menu
from handlers.texts import month_day, short_day, t
from storage.models import CaseOutcome, CaseStage, RollCall

STAGES = tuple(CaseStage)  # callback data carries the index
OUTCOMES = tuple(CaseOutcome)
LEGAL_KINDS = tuple(LegalStepKind)
SUPPORT_KINDS = tuple(SupportKind)
METHODS = tuple(PersuasionMethod)
REASONS = tuple(ReasonFound)
ATTITUDES = tuple(Attitude)
LIST_LIMIT = 30  # case buttons under /cases (the most urgent)
SHOWN = 5  # answers / events shown on a card (the newest)
MAX_DAYS_BACK = 90  # a persuasion attempt dated further back is refused as a typo


class Do(IntEnum):
    PERSUADE = 1
    REPORT = 2
    ORDER = 3
    LEGAL = 4
    CLOSE = 5
    SUPPORT = 6


class CaseList(CallbackData, prefix="csl"):
    c: int  # 1: the closed cases


class CaseCard(CallbackData, prefix="csc"):
    i: int  # case id


class CaseDo(CallbackData, prefix="csd"):
    i: int  # case id
    a: int  # Do
    s: int  # index in STAGES of the stage the card showed
    v: int = -1  # the choice (outcome, legal kind, support kind), -1: offer the choices
    c: int = 0  # 1: confirmed


class FormStep(CallbackData, prefix="csf"):
    f: int  # Field
    v: int = 0


class Field(IntEnum):
    CANCEL = 0
    METHOD = 1
    DAY = 2
    VISITORS = 3  # 「我自己」
    PEOPLE_SKIP = 4
    REASON = 5
    ATTITUDE = 6
    SUCCEEDED = 7
    NEXT_SKIP = 8
    SAVE = 9


class PersuasionForm(StatesGroup):
    method = State()
    day = State()
    typed_day = State()
    visitors = State()
    people_met = State()
    reason = State()
    attitude = State()
    succeeded = State()
    next_step = State()
    confirm = State()


class CaseNote(StatesGroup):
    text = State()  # a legal step's optional note, or the note an "other" outcome needs


FIELD_STATE = {
    Field.METHOD: PersuasionForm.method,
    Field.DAY: PersuasionForm.day,
    Field.VISITORS: PersuasionForm.visitors,
    Field.PEOPLE_SKIP: PersuasionForm.people_met,
    Field.REASON: PersuasionForm.reason,
    Field.ATTITUDE: PersuasionForm.attitude,
    Field.SUCCEEDED: PersuasionForm.succeeded,
    Field.NEXT_SKIP: PersuasionForm.next_step,
    Field.SAVE: PersuasionForm.confirm,
}
ACTION_DO = {
    CaseAction.RECORD_PERSUASION: Do.PERSUADE,
    CaseAction.REPORT: Do.REPORT,
    CaseAction.ISSUE_ORDER: Do.ORDER,
    CaseAction.LEGAL_STEP: Do.LEGAL,
    CaseAction.CLOSE: Do.CLOSE,
    CaseAction.CLOSE_RETURNED: Do.CLOSE,
    CaseAction.REQUEST_SUPPORT: Do.SUPPORT,
}


def _typed(text: str) -> bool:
    return not text.startswith("/")


TYPED = F.text.func(_typed)


# --- labels -------------------------------------------------------------------------------------------------------


def _when(at: datetime, settings: Settings) -> str:
    local = to_local(at, settings.tz)
    return f"{month_day(local)} {local:%H:%M}"


def stage_label(stage: str) -> str:
    return {
        CaseStage.OPEN: t("Suspected dropout"),
        CaseStage.REPORTED: t("Reported to the township"),
        CaseStage.ORDERED: t("Return order issued"),
        CaseStage.LEGAL: t("Legal steps"),
        CaseStage.CLOSED: t("Closed"),
    }.get(stage, stage)


def deadline_label(kind: DeadlineKind | None) -> str:
    return {
        DeadlineKind.HOME_VISIT: t("home visit due"),
        DeadlineKind.PERSUASION: t("persuasion notice deadline"),
        DeadlineKind.ORDER: t("return order deadline"),
    }.get(kind, t("deadline"))


def method_label(method: str) -> str:
    return {
        PersuasionMethod.HOME_VISIT: t("Home visit"),
        PersuasionMethod.PHONE: t("Phone call"),
        PersuasionMethod.SCHOOL_MEETING: t("Meeting at school"),
        PersuasionMethod.OTHER: t("Other contact"),
    }.get(method, method)


def reason_label(reason: str) -> str:
    return {
        ReasonFound.LEARNING_DIFFICULTY: t("Learning difficulty or dislike of school"),
        ReasonFound.FAMILY_HARDSHIP: t("Family hardship"),
        ReasonFound.GONE_TO_WORK: t("Gone to work"),
        ReasonFound.FOLLOWING_PARENTS: t("Following migrant parents"),
        ReasonFound.ILLNESS_DISABILITY: t("Illness or disability"),
        ReasonFound.EARLY_MARRIAGE: t("Early marriage"),
        ReasonFound.OTHER: t("Other reason"),
    }.get(reason, reason)


def attitude_label(attitude: str) -> str:
    return {
        Attitude.COOPERATIVE: t("Cooperative"),
        Attitude.HESITANT: t("Hesitant"),
        Attitude.REFUSING: t("Refusing"),
        Attitude.NOT_MET: t("Guardian not met"),
    }.get(attitude, attitude)


def outcome_label(outcome: str | None) -> str:
    return {
        CaseOutcome.RETURNED: t("Back at school"),
        CaseOutcome.TRANSFERRED: t("Transferred to another school"),
        CaseOutcome.LAWFUL_ABSENCE: t("Lawful absence approved"),
        CaseOutcome.OTHER: t("Other outcome"),
    }.get(outcome, outcome or "")


def legal_label(kind: str) -> str:
    return {
        LegalStepKind.PENALTY_NOTICE: t("Notice of intended penalty"),
        LegalStepKind.PENALTY_DECISION: t("Penalty decision"),
        LegalStepKind.DEMAND_FOR_PERFORMANCE: t("Demand for performance"),
        LegalStepKind.COURT_APPLICATION: t("Application to the court"),
    }.get(kind, kind)


def support_label(kind: str) -> str:
    msgid = next((label for key, label in SUPPORT_LABELS.items() if key.value == kind), None)
    return gettext(msgid) if msgid else kind


def answer_label(answer: str) -> str:
    from bot.notices.absence import ANSWER_LABELS as ABSENCE_LABELS

    for labels in (ANSWER_LABELS, ABSENCE_LABELS):
        msgid = next((label for key, label in labels.items() if key.value == answer), None)
        if msgid:
            return gettext(msgid)
    return answer


def event_label(kind: str) -> str:
    return {
        "opened": t("Case opened"),
        "persuasion_recorded": t("Persuasion attempt recorded"),
        "reported": t("Reported to the township"),
        "return_order_issued": t("Return order issued"),
        "legal_step": t("Legal step recorded"),
        "closed": t("Case closed"),
        "guardian_answer": t("The family answered"),
        "support_requested": t("Help requested"),
        "support_arranged": t("Help arranged"),
        "present": t("Marked present"),
        "home_visit_overdue": t("Home visit overdue"),
        "order_deadline_passed": t("Return order deadline passed"),
        "watch_absence": t("Absent again while watched"),
        "watch_ended": t("Watch ended"),
        "return_reminder": t("Reminder: confirm the return"),
        "return_reminder_officer": t("Return not confirmed: the school officer was reminded"),
    }.get(kind, t("Other update"))


def refusal(error: CaseError) -> str:
    code = error.code
    if code is CaseErrorCode.STALE:
        return t("This case has moved on since these buttons were shown. Nothing was changed; here it is as it "
                 "is now.")
    if code is CaseErrorCode.WRONG_STAGE:
        return t("This step does not fit the case's stage now. Nothing was changed.")
    if code is CaseErrorCode.DISABLED:
        return t("The local policy provides no legal steps.")
    if code is CaseErrorCode.TOO_EARLY:
        until = error.details.get("until")
        if isinstance(until, date):
            return t("It is too early for this step (the date that matters: {day}).", day=short_day(until))
        return t("It is too early for this step: an earlier step must be recorded first.")
    if code is CaseErrorCode.BAD_VALUE:
        return t("This value was not accepted. Nothing was changed.")
    if code is CaseErrorCode.NOT_AVAILABLE:
        return t("This step is not available for this case now. Nothing was changed.")
    return t("You cannot see or change this case.")


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _message(query: CallbackQuery) -> Message | None:
    return query.message if isinstance(query.message, Message) else None


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    message = _message(query)
    if message is None:
        return
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as error:
        if "not modified" not in str(error):
            raise


def _policy(settings: Settings):
    return load_policy(settings)


# --- /cases -------------------------------------------------------------------------------------------------------


def _deadline_text(summary: CaseSummary, mark: bool = True) -> str:
    """The next deadline; `mark`: with ⚠️ after it when it has passed (the card says "overdue" in words)."""
    if summary.next_deadline is None:
        return ""
    text = t("{what} {day}", what=deadline_label(summary.deadline_kind), day=short_day(summary.next_deadline))
    return text + (" ⚠️" if summary.overdue and mark else "")


def _case_line(number: int, summary: CaseSummary, with_school: bool) -> str:
    parts = [t("<b>{child}</b> · {class_name}", child=summary.student_name, class_name=summary.class_name)]
    if with_school:
        parts.append(escape(summary.school_name))
    if summary.stage == CaseStage.CLOSED:
        parts.append(outcome_label(summary.outcome))
    else:
        parts.append(stage_label(summary.stage))
        parts.append(t("absent {days} school days", days=summary.days_absent))
        deadline = _deadline_text(summary)
        if deadline:
            parts.append(deadline)
    return f"{number}. " + " · ".join(parts)


def render_list(cases: list[CaseSummary], closed: bool) -> tuple[str, InlineKeyboardMarkup]:
    if closed:
        head = t("<b>Closed cases</b> ({count}), newest first:", count=len(cases)) if cases else t(
            "No closed cases.")
    else:
        head = t("<b>Open cases</b> ({count}), most urgent first:", count=len(cases)) if cases else t(
            "No open cases. 🎉")
    with_school = len({c.school_id for c in cases}) > 1
    lines = [head, *(_case_line(n, c, with_school) for n, c in enumerate(cases[:LIST_LIMIT], 1))]
    if len(cases) > LIST_LIMIT:
        lines.append(t("…and {count} more.", count=len(cases) - LIST_LIMIT))
    rows = [[_button(f"{n}. {c.student_name}" + (" ⚠️" if c.overdue and not closed else ""), CaseCard(i=c.id))]
            for n, c in enumerate(cases[:LIST_LIMIT], 1)]
    rows.append([_button(t("Show open cases") if closed else t("Show closed cases"), CaseList(c=int(not closed)))])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def _list(session: AsyncSession, clock: Clock, settings: Settings, actor: Actor, closed: bool
                ) -> tuple[str, InlineKeyboardMarkup]:
    cases = await cs.list_cases(session, settings, _policy(settings), clock.now(), actor,
                                stage=CaseStage.CLOSED.value if closed else None)
    return render_list(cases, closed)


async def _leave_note(state: FSMContext) -> None:
    """Moving on from a note step (the list, a card, another step) abandons it: a text typed later must not
    become its note and record the step."""
    if await state.get_state() == CaseNote.text.state:
        await state.clear()


async def cases_command(message: Message, session: AsyncSession, clock: Clock, settings: Settings,
                        actor: Actor | None, state: FSMContext) -> None:
    await _leave_note(state)
    if actor is None or not actor.is_staff:
        await message.answer(t("The case list is for teachers, school officers and township officers."))
        return
    text, markup = await _list(session, clock, settings, actor, closed=False)
    await message.answer(text, reply_markup=markup)


async def list_tapped(query: CallbackQuery, callback_data: CaseList, session: AsyncSession, clock: Clock,
                      settings: Settings, actor: Actor | None, state: FSMContext) -> None:
    await _leave_note(state)
    if actor is None or not actor.is_staff:
        await query.answer(t("You cannot see or change this case."), show_alert=True)
        return
    text, markup = await _list(session, clock, settings, actor, closed=bool(callback_data.c))
    await query.answer()
    await _edit(query, text, markup)


# --- the case card ------------------------------------------------------------------------------------------------


def _guardian_line(detail: CaseDetail) -> str | None:
    if not detail.guardians:
        return None
    names = []
    for g in detail.guardians:
        name = f"{escape(g.name)}（{escape(g.relation)}）" if g.relation else escape(g.name)
        names.append(name + ("" if g.reachable else " 📵"))
    return t("Guardians: {names}", names="") + "、".join(names)


def render_card(detail: CaseDetail, settings: Settings, head: str | None = None) -> tuple[str, InlineKeyboardMarkup]:
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
        lines.append(_court_from(detail.court_application_from))
    if detail.events:
        lines.append(t("<b>Recent history</b>"))
        for e in detail.events[-SHOWN:]:
            who = e.actor or t("the system")
            lines.append(t("• {when} {what} ({who})", when=_when(e.at, settings), what=event_label(e.kind), who=who))
    return "\n".join(lines), card_keyboard(detail)


def _court_from(day: date) -> str:
    return t("The application to the court can be recorded from {day}.", day=short_day(day))


def card_keyboard(detail: CaseDetail) -> InlineKeyboardMarkup:
    s = detail.summary
    stage = STAGES.index(CaseStage(s.stage))
    acts = detail.actions
    rows = []

    def do(label: str, what: Do, v: int = -1) -> list[InlineKeyboardButton]:
        return [_button(label, CaseDo(i=s.id, a=what, s=stage, v=v))]

    if CaseAction.RECORD_PERSUASION in acts:
        rows.append(do(t("📝 Record a persuasion attempt"), Do.PERSUADE))
    if CaseAction.REPORT in acts:
        rows.append(do(t("📤 Report to the township"), Do.REPORT))
    if CaseAction.ISSUE_ORDER in acts:
        rows.append(do(t("📨 Issue the return order"), Do.ORDER))
    if CaseAction.LEGAL_STEP in acts:
        rows.append(do(t("⚖️ Record a legal step"), Do.LEGAL))
    if CaseAction.REQUEST_SUPPORT in acts:
        rows.append(do(t("🤝 Request help for the family"), Do.SUPPORT))
    if CaseAction.CLOSE in acts:
        rows.append(do(t("✅ Close the case"), Do.CLOSE))
    elif CaseAction.CLOSE_RETURNED in acts:
        rows.append(do(t("✅ Back at school: close the case"), Do.CLOSE, OUTCOMES.index(CaseOutcome.RETURNED)))
    rows.append([_button(t("◀ All cases"), CaseList(c=0)), _button(t("🔄 Refresh"), CaseCard(i=s.id))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def _card(session: AsyncSession, clock: Clock, settings: Settings, actor: Actor, case_id: int,
                head: str | None = None) -> tuple[str, InlineKeyboardMarkup]:
    detail = await cs.case_detail(session, settings, _policy(settings), clock.now(), actor, case_id)
    return render_card(detail, settings, head)


SHOWS_CARD = (CaseErrorCode.STALE, CaseErrorCode.WRONG_STAGE, CaseErrorCode.NOT_AVAILABLE)  # refusals + the card


async def _current(session: AsyncSession, clock: Clock, settings: Settings, actor: Actor | None, case_id: int,
                   head: str | None = None) -> tuple[str, InlineKeyboardMarkup] | None:
    """The card as it is now, or None when the person may no longer see it."""
    if actor is None:
        return None
    try:
        return await _card(session, clock, settings, actor, case_id, head)
    except CaseError:
        return None


async def _show_current(query: CallbackQuery, session: AsyncSession, clock: Clock, settings: Settings,
                        actor: Actor | None, case_id: int) -> None:
    """After a stale tap: the card as it is now (when the person may still see it)."""
    shown = await _current(session, clock, settings, actor, case_id)
    if shown is not None:
        await _edit(query, *shown)


async def _refuse(query: CallbackQuery, error: CaseError, session: AsyncSession, clock: Clock, settings: Settings,
                  actor: Actor | None, case_id: int) -> None:
    await query.answer(refusal(error), show_alert=True)
    if error.code in SHOWS_CARD:
        await _show_current(query, session, clock, settings, actor, case_id)


async def card_tapped(query: CallbackQuery, callback_data: CaseCard, session: AsyncSession, clock: Clock,
                      settings: Settings, actor: Actor | None, state: FSMContext) -> None:
    await _leave_note(state)
    try:
        if actor is None or not actor.is_staff:
            raise CaseError(CaseErrorCode.NOT_ALLOWED)
        text, markup = await _card(session, clock, settings, actor, callback_data.i)
    except CaseError as error:
        await query.answer(refusal(error), show_alert=True)
        return
    await query.answer()
    await _edit(query, text, markup)


# --- actions on the card ------------------------------------------------------------------------------------------


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


def _done_head(what: Do, result: ActionResult, value: int = -1) -> str:
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
        head = t("⚖️ Recorded: {step}.", step=legal_label(LEGAL_KINDS[value].value) if 0 <= value < len(
            LEGAL_KINDS) else "")
    elif what is Do.SUPPORT:
        head = t("🤝 Help requested: {kind}.", kind=support_label(SUPPORT_KINDS[value].value)
                 if 0 <= value < len(SUPPORT_KINDS) else "")
    else:
        head = t("✅ Case closed: {outcome}.", outcome=outcome_label(s.outcome))
    return "\n".join([head, *_told_lines(result)])


def _choice_ok(what: Do, value: int) -> bool:
    sizes = {Do.LEGAL: len(LEGAL_KINDS), Do.CLOSE: len(OUTCOMES), Do.SUPPORT: len(SUPPORT_KINDS)}
    return value == -1 or (what in sizes and 0 <= value < sizes[what])


async def _run(session: AsyncSession, clock: Clock, settings: Settings, actor: Actor, d: CaseDo,
               note: str | None = None) -> ActionResult:
    """The one service call a confirmed step makes; the service checks scope and stage again."""
    policy, now, stage = _policy(settings), clock.now(), STAGES[d.s].value
    what = Do(d.a)
    if what is Do.REPORT:
        return await cs.report_to_township(session, settings, policy, now, actor, d.i, expected_stage=stage)
    if what is Do.ORDER:
        return await cs.issue_return_order(session, settings, policy, now, actor, d.i, expected_stage=stage)
    if what is Do.LEGAL:
        return await cs.record_legal_step(session, settings, policy, now, actor, d.i, LEGAL_KINDS[d.v], note,
                                          expected_stage=stage)
    if what is Do.SUPPORT:
        return await cs.request_support(session, settings, policy, now, actor, d.i, SUPPORT_KINDS[d.v])
    return await cs.close_case(session, settings, policy, now, actor, d.i, OUTCOMES[d.v], note,
                               expected_stage=stage)


def _confirm_keyboard(d: CaseDo, label: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_button(label, CaseDo(i=d.i, a=d.a, s=d.s, v=d.v, c=1))],
        [_button(t("◀ Back to the case"), CaseCard(i=d.i))],
    ])


def _choices(d: CaseDo, detail: CaseDetail) -> tuple[str, InlineKeyboardMarkup]:
    """The choice a step needs before its confirmation: which outcome, which legal step, which help."""
    what = Do(d.a)
    child = detail.summary.student_name
    if what is Do.LEGAL:
        options = [(i, legal_label(k.value)) for i, k in enumerate(LEGAL_KINDS) if k in detail.legal_steps_open]
        text = t("Which legal step did the township take for {child}? (Recorded only: Quanxue decides nothing.)",
                 child=child)
        if detail.court_application_from:
            text += "\n" + _court_from(detail.court_application_from)
    elif what is Do.SUPPORT:
        options = [(i, support_label(k.value)) for i, k in enumerate(SUPPORT_KINDS)]
        text = t("What help does the family of {child} need?", child=child)
    else:
        options = [(i, outcome_label(o.value)) for i, o in enumerate(OUTCOMES)]
        text = t("How does the case of {child} end?", child=child)
    rows = [[_button(label, CaseDo(i=d.i, a=d.a, s=d.s, v=i))] for i, label in options]
    rows.append([_button(t("◀ Back to the case"), CaseCard(i=d.i))])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


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
                 kind=support_label(SUPPORT_KINDS[d.v].value), child=child)
        return text, _confirm_keyboard(d, t("🤝 Yes, request it"))
    text = t("Close the case of <b>{child}</b> as “{outcome}”? The class teacher and the school are told.",
             child=child, outcome=outcome_label(OUTCOMES[d.v].value))
    if OUTCOMES[d.v] is CaseOutcome.RETURNED:
        text += "\n" + t("The child is then watched for a few weeks: a new unexplained absence goes straight to the "
                         "school officer.")
    return text, _confirm_keyboard(d, t("✅ Yes, close it"))


async def case_do(query: CallbackQuery, callback_data: CaseDo, session: AsyncSession, clock: Clock,
                  settings: Settings, actor: Actor | None, state: FSMContext) -> None:
    d = callback_data
    await _leave_note(state)  # asked again below when this tap leads to a note
    try:
        if actor is None or d.a not in tuple(Do) or not 0 <= d.s < len(STAGES) or not _choice_ok(Do(d.a), d.v):
            raise CaseError(CaseErrorCode.NOT_ALLOWED if actor is None else CaseErrorCode.BAD_VALUE)
        what = Do(d.a)
        detail = await cs.case_detail(session, settings, _policy(settings), clock.now(), actor, d.i)
        if detail.summary.stage != STAGES[d.s]:
            raise CaseError(CaseErrorCode.STALE, stage=detail.summary.stage)
        offered = {ACTION_DO[a] for a in detail.actions if a in ACTION_DO}
        if what not in offered or (what is Do.CLOSE and CaseAction.CLOSE not in detail.actions and d.v != -1
                                   and OUTCOMES[d.v] is not CaseOutcome.RETURNED):
            # not on the card: someone who works on the case hears that the step is not there now
            raise CaseError(CaseErrorCode.NOT_AVAILABLE if detail.in_charge else CaseErrorCode.NOT_ALLOWED)
        if what is Do.PERSUADE:
            await _start_form(query, state, d, detail)
            return
        needs_choice = what in (Do.LEGAL, Do.CLOSE, Do.SUPPORT)
        if needs_choice and d.v == -1:
            text, markup = _choices(d, detail)
        elif d.c:
            result = await _run(session, clock, settings, actor, d)
            text, markup = await _card(session, clock, settings, actor, d.i, _done_head(what, result, d.v))
        elif what is Do.LEGAL or (what is Do.CLOSE and OUTCOMES[d.v] is CaseOutcome.OTHER):
            if what is Do.LEGAL:  # refused now rather than after the note is typed
                await cs.check_legal_step(session, settings, _policy(settings), clock.now(), actor, d.i,
                                          LEGAL_KINDS[d.v], expected_stage=STAGES[d.s].value)
            await _ask_note(query, state, d, detail)
            return
        else:
            text, markup = _confirmation(d, detail)
    except CaseError as error:
        await _refuse(query, error, session, clock, settings, actor, d.i)
        return
    await query.answer()
    await _edit(query, text, markup)


# --- a note (legal step: optional; "other" outcome: required) -----------------------------------------------------


async def _ask_note(query: CallbackQuery, state: FSMContext, d: CaseDo, detail: CaseDetail) -> None:
    await state.set_state(CaseNote.text)
    await state.update_data(cn=[d.i, d.a, d.s, d.v])
    child = detail.summary.student_name
    if Do(d.a) is Do.LEGAL:
        text = t("“{step}” for <b>{child}</b>: type a short note (e.g. the document number), or tap the button to "
                 "record it without a note. Send /cancel to stop.", step=legal_label(LEGAL_KINDS[d.v].value),
                 child=child)
        markup = _confirm_keyboard(CaseDo(i=d.i, a=d.a, s=d.s, v=d.v), t("⚖️ Record without a note"))
    else:
        text = t("Please describe in a few words how the case of <b>{child}</b> ends (up to {limit} characters). "
                 "Send /cancel to stop.", child=child, limit=MAX_TEXT)
        markup = InlineKeyboardMarkup(inline_keyboard=[[_button(t("◀ Back to the case"), CaseCard(i=d.i))]])
    await query.answer()
    await _edit(query, text, markup)


async def note_typed(message: Message, session: AsyncSession, clock: Clock, settings: Settings,
                     actor: Actor | None, state: FSMContext) -> None:
    note = message.text.strip()
    if len(note) > MAX_TEXT:
        await message.answer(t("That is {n} characters; please keep it under {limit}.", n=len(note), limit=MAX_TEXT))
        return
    data = (await state.get_data()).get("cn")
    await state.clear()
    if actor is None or not data:
        await message.answer(t("This step is over. Send /cases to start again."))
        return
    d = CaseDo(i=data[0], a=data[1], s=data[2], v=data[3], c=1)
    kept = t("Your note was not recorded; here it is to use again: {note}", note=note)
    try:
        result = await _run(session, clock, settings, actor, d, note)
        head = _done_head(Do(d.a), result, d.v) + ("" if result.changed else "\n" + kept)
        text, markup = await _card(session, clock, settings, actor, d.i, head)
    except CaseError as error:
        head = refusal(error) + "\n" + kept  # typed text is never lost
        shown = await _current(session, clock, settings, actor, d.i, head) if error.code in SHOWS_CARD else None
        if shown is None:
            await message.answer(head)
        else:
            await message.answer(shown[0], reply_markup=shown[1])
        return
    await message.answer(text, reply_markup=markup)


async def cancel(message: Message, state: FSMContext, actor: Actor | None) -> None:
    await state.clear()
    await message.answer(t("Cancelled. Nothing was recorded."), reply_markup=main_menu(actor))


async def not_text(message: Message) -> None:
    await message.answer(t("Please answer with a text message, or send /cancel."))


# --- the persuasion form (劝返记录) -------------------------------------------------------------------------------


def _form_button(label: str, f: Field, v: int = 0) -> InlineKeyboardButton:
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
        buttons = [_form_button(method_label(m.value), Field.METHOD, i) for i, m in enumerate(METHODS)]
        return head + "\n" + t("How was the family contacted?"), _form_markup(_pairs(buttons))
    if field is Field.DAY:
        rows = [[_form_button(t("Today"), Field.DAY, 0), _form_button(t("Yesterday"), Field.DAY, 1)],
                [_form_button(t("Another day"), Field.DAY, 2)]]
        return head + "\n" + t("On which day?"), _form_markup(rows)
    if field is Field.VISITORS:
        return head + "\n" + t("Who went (or called)? Type the names, or tap 「Just me」."), _form_markup(
            [[_form_button(t("Just me"), Field.VISITORS)]])
    if field is Field.PEOPLE_SKIP:
        return head + "\n" + t("Whom did you meet (e.g. father, grandmother, the child)? Type it, or tap Skip."), \
            _form_markup([[_form_button(t("Skip"), Field.PEOPLE_SKIP)]])
    if field is Field.REASON:
        buttons = [_form_button(reason_label(r.value), Field.REASON, i) for i, r in enumerate(REASONS)]
        return head + "\n" + t("Why is the child out of school?"), _form_markup(_pairs(buttons))
    if field is Field.ATTITUDE:
        buttons = [_form_button(attitude_label(a.value), Field.ATTITUDE, i) for i, a in enumerate(ATTITUDES)]
        return head + "\n" + t("The guardian's attitude?"), _form_markup(_pairs(buttons))
    if field is Field.SUCCEEDED:
        rows = [[_form_button(t("Yes, the child will return"), Field.SUCCEEDED, 1),
                 _form_button(t("No"), Field.SUCCEEDED, 0)]]
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
    lines += [t("Reason found: {value}", value=reason_label(data["cf_reason"])),
              t("Attitude: {value}", value=attitude_label(data["cf_attitude"])),
              t("Result: {value}", value=t("agreed to return") if data["cf_succeeded"] else t("not successful"))]
    if data.get("cf_next"):
        lines.append(t("Next step: {value}", value=data["cf_next"]))
    return "\n".join(lines), _form_markup([[_form_button(t("💾 Save"), Field.SAVE)]])


NEXT_FIELD = {
    Field.METHOD: Field.DAY, Field.DAY: Field.VISITORS, Field.VISITORS: Field.PEOPLE_SKIP,
    Field.PEOPLE_SKIP: Field.REASON, Field.REASON: Field.ATTITUDE, Field.ATTITUDE: Field.SUCCEEDED,
    Field.SUCCEEDED: Field.NEXT_SKIP, Field.NEXT_SKIP: Field.SAVE,
}


async def _start_form(query: CallbackQuery, state: FSMContext, d: CaseDo, detail: CaseDetail) -> None:
    await state.clear()
    await state.set_state(PersuasionForm.method)
    data = {"cf_case": d.i, "cf_stage": d.s, "cf_child": detail.summary.student_name}
    await state.update_data(**data)
    text, markup = _step(data, Field.METHOD)
    await query.answer()
    await _edit(query, text, markup)


async def _advance(state: FSMContext, field: Field, **values) -> tuple[str, InlineKeyboardMarkup]:
    """Store the answer to `field` and move to the next step; its question and buttons."""
    await state.update_data(**values)
    following = NEXT_FIELD[field]
    await state.set_state(FIELD_STATE[following])
    return _step(await state.get_data(), following)


async def _form_over(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer(t("This form is over. Open the case again with /cases."), show_alert=True)
    message = _message(query)
    if message is not None:
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=None)


def _today(clock: Clock, settings: Settings) -> date:
    return to_local(clock.now(), settings.tz).date()


async def form_step(query: CallbackQuery, callback_data: FormStep, session: AsyncSession, clock: Clock,
                    settings: Settings, actor: Actor | None, state: FSMContext) -> None:
    f, v = callback_data.f, callback_data.v
    if f == Field.CANCEL:
        case_id = (await state.get_data()).get("cf_case")
        await state.clear()
        await query.answer(t("Cancelled. Nothing was recorded."))
        if actor is not None and case_id:
            await _show_current(query, session, clock, settings, actor, case_id)
        return
    current = await state.get_state()
    if actor is None or f not in tuple(Field) or current != FIELD_STATE[Field(f)].state:
        await _form_over(query, state)
        return
    field = Field(f)
    if field is Field.METHOD and 0 <= v < len(METHODS):
        shown = await _advance(state, field, cf_method=METHODS[v].value)
    elif field is Field.DAY and v in (0, 1):
        shown = await _advance(state, field, cf_day=(_today(clock, settings) - timedelta(days=v)).isoformat())
    elif field is Field.DAY and v == 2:
        await state.set_state(PersuasionForm.typed_day)
        data = await state.get_data()
        shown = (_form_head(data) + "\n" + t("Type the day, e.g. 2026-09-15 or 9-15."), _form_markup([]))
    elif field is Field.VISITORS:
        shown = await _advance(state, field, cf_visitors=actor.name)
    elif field is Field.PEOPLE_SKIP:
        shown = await _advance(state, field, cf_met=None)
    elif field is Field.REASON and 0 <= v < len(REASONS):
        shown = await _advance(state, field, cf_reason=REASONS[v].value)
    elif field is Field.ATTITUDE and 0 <= v < len(ATTITUDES):
        shown = await _advance(state, field, cf_attitude=ATTITUDES[v].value)
    elif field is Field.SUCCEEDED and v in (0, 1):
        shown = await _advance(state, field, cf_succeeded=bool(v))
    elif field is Field.NEXT_SKIP:
        shown = await _advance(state, field, cf_next=None)
    elif field is Field.SAVE:
        await _save_form(query, session, clock, settings, actor, state)
        return
    else:
        await _form_over(query, state)
        return
    await query.answer()
    await _edit(query, *shown)


async def _save_form(query: CallbackQuery, session: AsyncSession, clock: Clock, settings: Settings, actor: Actor,
                     state: FSMContext) -> None:
    data = await state.get_data()
    await state.clear()
    case_id, stage = data["cf_case"], data["cf_stage"]
    record = PersuasionInput(
        on_day=date.fromisoformat(data["cf_day"]), method=data["cf_method"], visitors=data["cf_visitors"],
        people_met=data.get("cf_met"), reason_found=data["cf_reason"], attitude=data["cf_attitude"],
        next_step=data.get("cf_next"), succeeded=bool(data["cf_succeeded"]),
    )
    try:
        result = await cs.record_persuasion(session, settings, _policy(settings), clock.now(), actor, case_id, record,
                                            expected_stage=STAGES[stage].value)
        text, markup = await _card(session, clock, settings, actor, case_id, _done_head(Do.PERSUADE, result))
    except CaseError as error:
        await _refuse(query, error, session, clock, settings, actor, case_id)
        return
    await query.answer(t("Saved."))
    await _edit(query, text, markup)


_MONTH_DAY = re.compile(r"^(\d{1,2})\s*(?:[-/.月])\s*(\d{1,2})\s*[日号]?$")


def parse_past_day(text: str, today: date) -> date | None:
    """A typed day of a visit: 2026-09-15 (and the forms `parse_day` reads), or 9-15, 9/15, 9月15日 (that day this
    year or last, whichever is nearer today: 12-28 typed in January is last December, while 9-10 typed on 9-09 is
    tomorrow, which the caller refuses as in the future rather than as a year ago)."""
    text = text.strip().translate(str.maketrans("０１２３４５６７８９－／．", "0123456789-/."))
    full = parse_day(text)
    if full is not None:
        return full
    match = _MONTH_DAY.match(text)
    if match is None:
        return None
    month, day = (int(part) for part in match.groups())
    candidates = []
    for year in (today.year, today.year - 1):
        with contextlib.suppress(ValueError):
            candidates.append(date(year, month, day))
    return min(candidates, key=lambda candidate: abs((today - candidate).days), default=None)


async def _typed_step(message: Message, state: FSMContext, field: Field, **values) -> None:
    text, markup = await _advance(state, field, **values)
    await message.answer(text, reply_markup=markup)


async def form_day_typed(message: Message, clock: Clock, settings: Settings, state: FSMContext) -> None:
    today = _today(clock, settings)
    day = parse_past_day(message.text, today)
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
    text = message.text.strip()
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


# --- guardians: the 劝学书's buttons ----------------------------------------------------------------------------


def _marked(
    markup: InlineKeyboardMarkup | None, action: str, chosen: set[str], labels: dict
) -> InlineKeyboardMarkup | None:
    """The notice's keyboard as it is, with ✓ before the chosen answers (labels redrawn in the reader's language)."""
    if markup is None:
        return None
    rows = []
    for row in markup.inline_keyboard:
        new_row = []
        for button in row:
            with contextlib.suppress(ValueError, TypeError):
                data = NoticeAction.unpack(button.callback_data or "")
                if data.action == action:
                    msgid = next((label for key, label in labels.items() if key.value == data.value), None)
                    if msgid:
                        text = ("✓ " if data.value in chosen else "") + gettext(msgid)
                        button = button.model_copy(update={"text": text})
            new_row.append(button)
        rows.append(new_row)
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def _edit_markup(message: Message | None, markup: InlineKeyboardMarkup | None) -> None:
    if message is None or markup is None:
        return
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=markup)


def _guardian_refusal(error: CaseError) -> str:
    if error.code is CaseErrorCode.STALE:
        return t("This case is closed. Thank you; nothing more is needed.")
    if error.code is CaseErrorCode.BAD_VALUE:
        return t("This button is no longer valid.")
    return t("This notice is not about your child, so nothing was recorded.")


def support_markup(case_id: int, chosen: set[str] = frozenset()) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(
        text=("✓ " if kind.value in chosen else "") + gettext(label),
        callback_data=NoticeAction(action=SUPPORT_ACTION, ref=case_id, value=kind.value).pack())]
        for kind, label in SUPPORT_LABELS.items()]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _school_told(result: ActionResult) -> bool:
    return any(x.reached for x in result.told) or not result.changed


async def guardian_answered(query: CallbackQuery, callback_data: NoticeAction, session: AsyncSession, clock: Clock,
                            settings: Settings, actor: Actor | None) -> None:
    try:
        if actor is None:
            raise CaseError(CaseErrorCode.NOT_ALLOWED)
        answer = GuardianCaseAnswer(callback_data.value) if callback_data.value in tuple(GuardianCaseAnswer) \
            else None
        if answer is None:
            raise CaseError(CaseErrorCode.BAD_VALUE)
        result = await cs.answer_persuasion_notice(session, settings, _policy(settings), clock.now(), actor,
                                                   callback_data.ref, answer)
    except CaseError as error:
        await query.answer(_guardian_refusal(error), show_alert=True)
        return
    message = _message(query)
    label = gettext(ANSWER_LABELS[answer])
    if not result.changed:
        await query.answer(t("You already answered: {answer}.", answer=label))
    else:
        await query.answer(t("Thank you!"))
    await _edit_markup(message, _marked(message.reply_markup if message else None, CASE_ACTION, {answer.value},
                                        ANSWER_LABELS))
    if message is None:
        return
    if result.details.get("ask_support"):
        await message.answer(t("What kind of help does your family need so that {child} can come back to school? "
                               "Tap one (you can tap more than one).", child=result.case.student_name),
                             reply_markup=support_markup(callback_data.ref))
    elif result.changed:
        lines = [t("Thank you. Your answer “{answer}” about {child} is recorded.", answer=label,
                   child=result.case.student_name)]
        if answer is GuardianCaseAnswer.CALL_ME:
            lines.append(t("The school will call you."))
        lines.append(t("The school has been told.") if _school_told(result)
                     else t("If it is urgent, please call the school."))
        await message.answer("\n".join(lines))


async def guardian_needs(query: CallbackQuery, callback_data: NoticeAction, session: AsyncSession, clock: Clock,
                         settings: Settings, actor: Actor | None) -> None:
    try:
        if actor is None:
            raise CaseError(CaseErrorCode.NOT_ALLOWED)
        if callback_data.value not in tuple(SupportKind):
            raise CaseError(CaseErrorCode.BAD_VALUE)
        kind = SupportKind(callback_data.value)
        result = await cs.request_support(session, settings, _policy(settings), clock.now(), actor,
                                          callback_data.ref, kind)
    except CaseError as error:
        await query.answer(_guardian_refusal(error), show_alert=True)
        return
    message = _message(query)
    label = gettext(SUPPORT_LABELS[kind])
    if not result.changed:
        await query.answer(t("You already asked for this: {kind}.", kind=label))
    else:
        await query.answer(t("Thank you!"))
    if message is None:
        return
    chosen = {kind.value}
    for row in (message.reply_markup.inline_keyboard if message.reply_markup else []):
        for button in row:
            if button.text.startswith("✓ "):
                with contextlib.suppress(ValueError, TypeError):
                    chosen.add(NoticeAction.unpack(button.callback_data or "").value)
    await _edit_markup(message, _marked(message.reply_markup, SUPPORT_ACTION, chosen, SUPPORT_LABELS))
    if result.changed:
        await message.answer(t("Thank you. The school has been asked to arrange “{kind}” for {child} and will "
                               "contact you.", kind=label, child=result.case.student_name))


# --- the class teacher: a student with an open case was marked present --------------------------------------------


async def offer_close_returned(message: Message | None, session: AsyncSession, clock: Clock, settings: Settings,
                               actor: Actor, summary: Summary) -> None:
    """After a roll call is recorded: for each student marked present who has an open case, a message with a
    button 「{child} 已返校，结案」 (a confirmation tap follows). Called by handlers.teacher."""
    if message is None or not summary.recorded:
        return
    roll_call = await session.get(RollCall, summary.roll_call_id)
    if roll_call is None:
        return
    policy, now = _policy(settings), clock.now()
    absent = {mark.student_id for mark in summary.absent}
    try:
        open_cases = [c for c in await cs.list_cases(session, settings, policy, now, actor, stage=cs.ALL_OPEN)
                      if c.class_id == roll_call.class_id and c.student_id not in absent]
        found = [await cs.student_marked_present(session, settings, policy, now, actor, c.student_id,
                                                 roll_call.day) for c in open_cases]
    except CaseError:
        return
    for case in (c for c in found if c is not None):
        detail = await cs.case_detail(session, settings, policy, now, actor, case.id)
        if CaseAction.CLOSE not in detail.actions and CaseAction.CLOSE_RETURNED not in detail.actions:
            continue
        d = CaseDo(i=case.id, a=Do.CLOSE, s=STAGES.index(CaseStage(case.stage)),
                   v=OUTCOMES.index(CaseOutcome.RETURNED))
        text = t("<b>{child}</b> was marked present and has an open case ({stage}). If the child is back at "
                 "school, close the case as returned.", child=case.student_name, stage=stage_label(case.stage))
        markup = InlineKeyboardMarkup(inline_keyboard=[
            [_button(gettext("{child} is back: close the case").format(child=case.student_name), d)],
            [_button(t("📁 Open the case"), CaseCard(i=case.id))],
        ])
        await message.answer(text, reply_markup=markup)


async def return_confirmed(query: CallbackQuery, callback_data: NoticeAction, session: AsyncSession, clock: Clock,
                           settings: Settings, actor: Actor | None, state: FSMContext) -> None:
    """The button under the ladder's return reminder: one tap closes the case as returned (`close_case` checks the
    tapping person's scope and the stage, as after the roll call's offer); the notice becomes the case's card."""
    await _leave_note(state)
    case_id = callback_data.ref
    try:
        if actor is None or not actor.is_staff:
            raise CaseError(CaseErrorCode.NOT_ALLOWED)
        result = await cs.close_case(session, settings, _policy(settings), clock.now(), actor, case_id,
                                     CaseOutcome.RETURNED)
        text, markup = await _card(session, clock, settings, actor, case_id, _done_head(Do.CLOSE, result))
    except CaseError as error:
        await _refuse(query, error, session, clock, settings, actor, case_id)
        return
    await query.answer()
    await _edit(query, text, markup)


def make_router() -> Router:
    """A fresh router with this module's handlers (one per Dispatcher)."""
    router = Router(name="cases")
    router.message.register(cases_command, Command("cases"))
    router.callback_query.register(list_tapped, CaseList.filter())
    router.callback_query.register(card_tapped, CaseCard.filter())
    router.callback_query.register(case_do, CaseDo.filter())
    router.message.register(note_typed, CaseNote.text, TYPED)
    router.message.register(cancel, Command("cancel"), StateFilter(PersuasionForm, CaseNote))
    router.message.register(not_text, StateFilter(PersuasionForm, CaseNote), ~F.text)
    router.callback_query.register(form_step, FormStep.filter())
    router.message.register(form_day_typed, PersuasionForm.typed_day, TYPED)
    router.message.register(form_visitors, PersuasionForm.visitors, TYPED)
    router.message.register(form_people_met, PersuasionForm.people_met, TYPED)
    router.message.register(form_next_step, PersuasionForm.next_step, TYPED)
    taps_only = StateFilter(PersuasionForm.method, PersuasionForm.day, PersuasionForm.reason,
                            PersuasionForm.attitude, PersuasionForm.succeeded, PersuasionForm.confirm)
    router.message.register(form_expects_a_tap, taps_only, TYPED)
    router.callback_query.register(guardian_answered, NoticeAction.filter(F.action == CASE_ACTION))
    router.callback_query.register(guardian_needs, NoticeAction.filter(F.action == SUPPORT_ACTION))
    router.callback_query.register(return_confirmed, NoticeAction.filter(F.action == RETURNED_ACTION))
    return router
