"""What people do on a case: record a persuasion attempt, report to the township, issue the 复学通知书, record a
legal step, close the case; a guardian answers the 劝学书 or asks for help.

Every function takes (session, settings, policy, now, actor, …), runs inside the caller's transaction, and:
checks the actor's scope (the same error, NOT_ALLOWED, for a case out of scope and a case that does not exist);
checks the stage (`expected_stage`, when given, is the stage the actor's keyboard showed: a different one is STALE);
changes the case; appends `CaseEvent` rows (the history is never rewritten) and audit events; and queues notices in
the same transaction. Refusals raise `CaseError(code)`. `actor=None` is the scheduler (only `report_to_township`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import iso_day, to_local
from bot.core.policy import Policy
from bot.core.scope import Actor
from bot.core.settings import Settings
from bot.documents.records import issue, issue_report, reference_of
from bot.families.replies import back_on
from storage.models import (
    Case,
    CaseEvent,
    CaseOutcome,
    CaseStage,
    DocumentKind,
    PersuasionAttempt,
    SchoolClass,
    Student,
    SupportReferral,
)

from .common import (
    OPEN_STAGES,
    Cast,
    add_event,
    batch_for,
    case_for,
    case_ref,
    cast_of,
    check_stage,
    claim,
    clip,
    deadline_after,
    is_class_teacher,
    is_guardian,
    is_school_officer,
    is_township_officer,
    local_today,
    student_class,
    summarize,
    summary_of,
    tell_guardians,
    tell_many,
    tell_school,
)
from .facts import legal_step_refusals, legal_steps_of, report_values_many
from .model import (
    REPORT_DUTY_REASONS,
    ActionResult,
    Attitude,
    CaseError,
    CaseErrorCode,
    CaseSummary,
    GuardianCaseAnswer,
    LegalStepKind,
    PersuasionInput,
    PersuasionMethod,
    ReasonFound,
    Recipient,
    SupportKind,
    Told,
)
from .notice import PERSUASION_STEP, absent_days, notice_values, send_notice
from .outbox import NoticeBatch

E = TypeVar("E", bound=Enum)

MAX_NAMES = 200  # characters of `visitors` / `people_met`
# Outcomes that change the student's enrolment: only an enrolment change with its approval closes a case so
# (bot.records.enrolment), which also sets the student's status.
PROOF_OUTCOMES = frozenset({CaseOutcome.TRANSFERRED, CaseOutcome.LAWFUL_ABSENCE})

# legal steps that issue a document to the guardians (the court application is filed with the court)
LEGAL_DOCUMENTS = frozenset({DocumentKind.PENALTY_NOTICE, DocumentKind.PENALTY_DECISION,
                             DocumentKind.DEMAND_FOR_PERFORMANCE})


def _enum(kind: type[E], value: Any) -> E:
    try:
        return kind(value)
    except ValueError:
        raise CaseError(CaseErrorCode.BAD_VALUE, value=str(value)) from None


# --- persuasion ---------------------------------------------------------------------------------------------------


async def record_persuasion(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    case_id: int,
    data: PersuasionInput,
    *,
    expected_stage: str | None = None,
) -> ActionResult:
    """Record a home visit or other persuasion attempt (劝返记录). The school's officers and the student's class
    teacher may; at any stage before closing. The reason found becomes the case's reason. `ref_id` is the
    attempt's id. Failed home visits on different days count towards the report upward (policy
    `report.failed_home_visits`); phone calls are recorded but are not visits. When the reason found is child labour
    or early marriage, `data.authorities_told` must say whether the authorities were told (未成年人保护法 art. 11):
    without it, BAD_VALUE (field "authorities_told")."""
    case, _student, school_class = await case_for(session, actor, case_id)
    if not (is_school_officer(actor, case) or is_class_teacher(actor, school_class.id)):
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    check_stage(case, OPEN_STAGES, expected_stage)
    method = _enum(PersuasionMethod, data.method)
    reason = _enum(ReasonFound, data.reason_found)
    attitude = _enum(Attitude, data.attitude)
    today = local_today(settings, now)
    if data.on_day > today:
        raise CaseError(CaseErrorCode.BAD_VALUE, field="on_day")
    visitors = clip(data.visitors)
    people_met = clip(data.people_met)
    if not visitors or len(visitors) > MAX_NAMES or (people_met and len(people_met) > MAX_NAMES):
        raise CaseError(CaseErrorCode.BAD_VALUE, field="visitors")
    told_authorities = None
    if reason in REPORT_DUTY_REASONS:
        if data.authorities_told is None:
            raise CaseError(CaseErrorCode.BAD_VALUE, field="authorities_told")
        told_authorities = bool(data.authorities_told)
    attempt = PersuasionAttempt(
        case_id=case.id, on_day=data.on_day, method=method.value, visitors=visitors, people_met=people_met,
        reason_found=reason.value, attitude=attitude.value, next_step=clip(data.next_step),
        succeeded=bool(data.succeeded), recorded_by=actor.person_id, recorded_at=now,
        authorities_told=told_authorities,
    )
    session.add(attempt)
    await session.flush()
    case.reason_found = reason.value
    await issue(session, settings, now, case, DocumentKind.VISIT_RECORD, actor, {
        "child": _student.name, "class_name": school_class.name, "school": school_class.school.name,
        "first_absent_day": case.first_absent_day, "on_day": data.on_day, "method": method.value,
        "visitors": visitors, "people_met": people_met or "", "reason": reason.value, "attitude": attitude.value,
        "next_step": attempt.next_step or "", "succeeded": attempt.succeeded, "by": actor.name,
    }, subject_id=attempt.id)
    add_event(session, now, case, actor, "persuasion_recorded", attempt_id=attempt.id, method=method.value,
              on_day=data.on_day.isoformat(), reason=reason.value, attitude=attitude.value,
              succeeded=bool(data.succeeded), authorities_told=told_authorities)
    return ActionResult(await summary_of(session, settings, policy, now, case), ref_id=attempt.id)


# --- the 劝学书 confirmed by the school's officer ------------------------------------------------------------------


async def confirm_persuasion_notice(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    case_id: int,
    *,
    expected_stage: str | None = None,
) -> ActionResult:
    """The school's officer confirms the 劝学书 with one tap (policy `suspected_dropout.persuasion_notice =
    "officer_confirms"`): it goes to every guardian now (by hand through the officers for those it cannot reach),
    with the return deadline counted from today. A school officer of the case's school, on an OPEN case. A second
    tap (or a notice that went out automatically) changes nothing."""
    case, _student, _class = await case_for(session, actor, case_id)
    if not is_school_officer(actor, case):
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    check_stage(case, (CaseStage.OPEN,), expected_stage)
    if not await claim(session, now, [(case.id, PERSUASION_STEP)]):
        return ActionResult(await summary_of(session, settings, policy, now, case), changed=False)
    today = local_today(settings, now)
    case.persuasion_deadline = await deadline_after(session, policy.suspected_dropout.persuasion_deadline,
                                                    case.school_id, today)
    cast = await cast_of(session, case)
    batch = await batch_for(session, settings, now, [cast])
    batch.event(case, actor, "persuasion_notice_sent", deadline=iso_day(case.persuasion_deadline))
    values = notice_values(batch, case, cast, await absent_days(session, case, today), today)
    told = await send_notice(batch, case, cast, values, actor)
    await batch.flush()
    return ActionResult(await summary_of(session, settings, policy, now, case), told=tuple(told))


# --- report upward (辍学报告) ---------------------------------------------------------------------------------------


async def report_to_township(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor | None,
    case_id: int,
    *,
    note: str | None = None,
    why: str = "school",
    expected_stage: str | None = None,
) -> ActionResult:
    """File the 辍学报告: the case becomes a confirmed dropout (REPORTED) in the ledgers. A school officer may
    at any time while the case is OPEN; the scheduler (`actor=None`) does when the 劝学书 deadline passed
    (`why="deadline"`) or enough home visits failed (`why="failed_attempts"`). The township's officers receive the
    report with the case history, the county education bureau's officers a copy (未成年人保护法 art. 28(2)); the
    class teachers and school officers are told."""
    case, _student, _class = await case_for(session, actor, case_id)
    if actor is not None and not is_school_officer(actor, case):
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    check_stage(case, (CaseStage.OPEN,), expected_stage)
    cast = await cast_of(session, case)
    batch = await batch_for(session, settings, now, [cast])
    values = (await report_values_many(session, settings, [case], {case.id: cast}))[case.id]
    told = file_report(batch, case, cast, actor, values, why=why, note=clip(note))
    await issue_report(session, settings, now, case, actor, values | {"why": why, "note": clip(note) or ""})
    await batch.flush()
    return ActionResult(await summary_of(session, settings, policy, now, case), told=tuple(told))


def file_report(
    batch: NoticeBatch, case: Case, cast: Cast, actor: Actor | None, values: dict[str, Any], *, why: str,
    note: str | None,
) -> list[Told]:
    """The report itself, on a case already checked and locked: stage, history, notices (held in `batch`)."""
    now = batch.now
    case.stage = CaseStage.REPORTED
    case.reported_at = now
    batch.event(case, actor, "reported", stage=CaseStage.REPORTED.value, why=why, note=note)
    values = values | {"why": why, "note": note or "", "by": actor.name if actor else ""}
    skip = {actor.person_id} if actor else set()
    told = tell_many(batch, cast.township_officers, Recipient.TOWNSHIP_OFFICER, "case_reported",
                     values | {"county_copy": False}, f"case-reported:{case.id}", case)
    told += tell_many(batch, cast.county_officers, Recipient.COUNTY_OFFICER, "case_reported",
                      values | {"county_copy": True}, f"case-reported-county:{case.id}", case)
    school_values = values | {"no_township": not cast.township_officers}
    told += tell_school(batch, case, cast, "case_reported_school", school_values, f"case-reported-school:{case.id}",
                        skip)
    return told


# --- order to return (复学通知书) ------------------------------------------------------------------------------------


async def issue_return_order(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    case_id: int,
    *,
    note: str | None = None,
    expected_stage: str | None = None,
) -> ActionResult:
    """The township orders the guardians to bring the child back by a deadline (义务教育法 art. 58; 未成年人保护法
    art. 83). A township officer of the case's township, on a REPORTED case. Every guardian receives the
    复学通知书 notice (addressed to the parents or legal guardians; a carer, 被委托人, receives it marked as a copy);
    for each one it cannot reach, the school's officers are asked to deliver it by hand. The county education
    bureau's officers receive a copy; the class teachers and school officers are told. The message informs: the
    formal notice is printed and served."""
    case, _student, _class = await case_for(session, actor, case_id)
    if not is_township_officer(actor, case):
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    check_stage(case, (CaseStage.REPORTED,), expected_stage)
    note = clip(note)
    today = local_today(settings, now)
    deadline = await deadline_after(session, policy.return_order.deadline, case.school_id, today)
    case.stage = CaseStage.ORDERED
    case.ordered_at = now
    case.order_deadline = deadline
    add_event(session, now, case, actor, "return_order_issued", stage=CaseStage.ORDERED.value,
              deadline=deadline.isoformat(), note=note)
    cast = await cast_of(session, case)
    batch = await batch_for(session, settings, now, [cast])
    offices = cast.offices
    base = {
        "child": cast.student.name, "class_name": cast.school_class.name, "school": cast.school_name,
        "township": offices.township, "issuer": offices.issuer, "township_phone": offices.township_phone,
        "first_absent_day": case.first_absent_day, "deadline": deadline, "issued": today,
    }
    documents = await issue(session, settings, now, case, DocumentKind.RETURN_ORDER, actor, base,
                            guardians=cast.guardians)
    base["ref"] = reference_of(documents) or case_ref(case, settings)
    told = tell_guardians(batch, case, cast, "return_order", base, deadline)
    told += tell_many(batch, cast.county_officers, Recipient.COUNTY_OFFICER, "return_order_county", base,
                      f"return-order-county:{case.id}", case)
    moved = base | {"stage": CaseStage.ORDERED.value, "step": "", "note": note or "", "by": actor.name,
                    "ref": case_ref(case, settings)}
    told += tell_school(batch, case, cast, "case_moved", moved, f"case-moved:{case.id}:ordered", {actor.person_id})
    await batch.flush()
    return ActionResult(await summary_of(session, settings, policy, now, case), told=tuple(told))


# --- legal steps ----------------------------------------------------------------------------------------------------


async def _legal_step_case(
    session: AsyncSession, settings: Settings, policy: Policy, now: datetime, actor: Actor, case_id: int,
    step_kind: LegalStepKind | str, expected_stage: str | None, *, lock: bool = True,
) -> tuple[Case, LegalStepKind, bool]:
    """The checks of `record_legal_step`: the case, the step, and whether it is recorded already."""
    if not policy.legal_steps.enabled:
        raise CaseError(CaseErrorCode.DISABLED)
    case, _student, _class = await case_for(session, actor, case_id, lock=lock)
    if not is_township_officer(actor, case):
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    check_stage(case, (CaseStage.ORDERED, CaseStage.LEGAL), expected_stage)
    kind = _enum(LegalStepKind, step_kind)
    recorded = await legal_steps_of(session, case.id)
    refused = await legal_step_refusals(session, settings, policy, case, recorded, local_today(settings, now))
    if kind in refused:
        raise refused[kind]
    return case, kind, kind.value in {step for step, _ in recorded}


async def check_legal_step(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    case_id: int,
    step_kind: LegalStepKind | str,
    *,
    expected_stage: str | None = None,
) -> None:
    """Raise what `record_legal_step` would raise for this step now, recording nothing: asked before the step's
    note is, so that nobody types a note for a step that is then refused."""
    await _legal_step_case(session, settings, policy, now, actor, case_id, step_kind, expected_stage, lock=False)


async def record_legal_step(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    case_id: int,
    step_kind: LegalStepKind | str,
    note: str | None = None,
    *,
    expected_stage: str | None = None,
) -> ActionResult:
    """Record a legal step the township took (notice of intended penalty, penalty decision, demand for
    performance, application to the court). Only where the policy enables legal steps (else DISABLED); a township
    officer; on an ORDERED case whose order deadline has passed, or a LEGAL one (else TOO_EARLY). The court
    application only `legal_steps.court_after_demand` after the demand (行政强制法 art. 54; `facts.
    legal_step_refusals`). Recording a kind again changes nothing. The product records these steps; it never
    decides them."""
    note = clip(note)
    case, kind, recorded = await _legal_step_case(session, settings, policy, now, actor, case_id, step_kind,
                                                  expected_stage)
    if recorded:
        return ActionResult(await summary_of(session, settings, policy, now, case), changed=False)
    case.stage = CaseStage.LEGAL
    add_event(session, now, case, actor, "legal_step", stage=CaseStage.LEGAL.value, step=kind.value, note=note)
    cast = await cast_of(session, case)
    batch = await batch_for(session, settings, now, [cast])
    values = {
        "child": cast.student.name, "class_name": cast.school_class.name, "stage": CaseStage.LEGAL.value,
        "step": kind.value, "note": note or "", "by": actor.name, "deadline": None, "ref": case_ref(case, settings),
    }
    if kind.value in LEGAL_DOCUMENTS:
        order = {"ordered_on": to_local(case.ordered_at, settings.tz).date() if case.ordered_at else None,
                 "order_deadline": case.order_deadline, "school": cast.school_name,
                 "first_absent_day": case.first_absent_day}
        await issue(session, settings, now, case, DocumentKind(kind.value), actor, values | order,
                    guardians=cast.guardians)
    told = tell_school(batch, case, cast, "case_moved", values, f"case-moved:{case.id}:legal:{kind.value}",
                       {actor.person_id})
    await batch.flush()
    return ActionResult(await summary_of(session, settings, policy, now, case), told=tuple(told))


# --- closing (复学, 动态销号) ----------------------------------------------------------------------------------------


async def close_case(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    case_id: int,
    outcome: CaseOutcome | str,
    note: str | None = None,
    *,
    expected_stage: str | None = None,
) -> ActionResult:
    """Close the case with its outcome: the school's officers and the township's officers at any stage; the
    class teacher only as RETURNED (marking the student present, after confirmation) and only before the report:
    from the 辍学报告 onward closing needs a school or township officer. OTHER needs a note.
    RETURNED starts the watch (policy `watch.after_return`): a new unexplained absence in it goes straight to the
    school officer. The class teachers, school officers and (if it was reported) township officers are told."""
    case, _student, school_class = await case_for(session, actor, case_id)
    chosen = _enum(CaseOutcome, outcome)
    officer = is_school_officer(actor, case) or is_township_officer(actor, case)
    teacher = is_class_teacher(actor, school_class.id)
    if not officer and not (teacher and chosen is CaseOutcome.RETURNED and case.stage == CaseStage.OPEN):
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    if chosen in PROOF_OUTCOMES:  # 休学 / 送教上门 / 转学 need their approval: an enrolment change closes them
        raise CaseError(CaseErrorCode.NEEDS_PROOF, outcome=chosen.value)
    check_stage(case, OPEN_STAGES, expected_stage)
    note = clip(note)
    if chosen is CaseOutcome.OTHER and not note:
        raise CaseError(CaseErrorCode.BAD_VALUE, field="note")
    return await finish_closing(session, settings, policy, now, actor, case, chosen, note)


async def finish_closing(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor | None,
    case: Case,
    outcome: CaseOutcome,
    note: str | None,
) -> ActionResult:
    """Close an open case whose closing was checked (by `close_case`, or by an enrolment change with its proof):
    history, the watch after a return, and the school (and township, if reported) told. `actor=None`: an import."""
    today = local_today(settings, now)
    was_reported = case.reported_at is not None
    case.stage = CaseStage.CLOSED
    case.closed_at = now
    case.outcome = outcome.value
    case.outcome_note = note
    if outcome is CaseOutcome.RETURNED:
        case.watch_until = await deadline_after(session, policy.watch.after_return, case.school_id, today)
    add_event(session, now, case, actor, "closed", stage=CaseStage.CLOSED.value, outcome=outcome.value, note=note,
              watch_until=case.watch_until.isoformat() if case.watch_until else None)
    cast = await cast_of(session, case)
    batch = await batch_for(session, settings, now, [cast])
    values = {
        "child": cast.student.name, "class_name": cast.school_class.name, "outcome": outcome.value,
        "note": note or "", "by": actor.name if actor else "", "watch_until": case.watch_until,
        "ref": case_ref(case, settings), "first_absent_day": case.first_absent_day,
    }
    skip = {actor.person_id} if actor else set()
    told = tell_school(batch, case, cast, "case_closed", values, f"case-closed:{case.id}", skip,
                       township=was_reported)
    await batch.flush()
    return ActionResult(await summary_of(session, settings, policy, now, case), told=tuple(told))


# --- the family -----------------------------------------------------------------------------------------------------


async def answer_persuasion_notice(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    case_id: int,
    answer: GuardianCaseAnswer | str,
) -> ActionResult:
    """A guardian's answer to the 劝学书 (back tomorrow / we need help / call me): recorded on the case and
    forwarded to the class teachers and school officers ("back tomorrow" with the day it means, the next school day
    on the school's calendar). The same answer again changes nothing. After
    NEED_HELP, `details["ask_support"]` is True: ask which help (`SUPPORT_LABELS`) and call `request_support`.
    A closed case: STALE."""
    case, _student, _class = await case_for(session, actor, case_id)
    if not is_guardian(actor, case):
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    check_stage(case, OPEN_STAGES, None)
    chosen = _enum(GuardianCaseAnswer, answer)
    details = {"ask_support": chosen is GuardianCaseAnswer.NEED_HELP}
    previous = await session.scalar(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "guardian_answer",
                                CaseEvent.actor_person_id == actor.person_id)
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1)
    )
    if previous is not None and previous.details.get("answer") == chosen.value:
        return ActionResult(await summary_of(session, settings, policy, now, case), changed=False, details=details)
    event = add_event(session, now, case, actor, "guardian_answer", answer=chosen.value, person_id=actor.person_id)
    await session.flush()
    cast = await cast_of(session, case)
    batch = await batch_for(session, settings, now, [cast])
    relation = next((r for p, r in cast.guardians if p.id == actor.person_id), None)
    values = {
        "child": cast.student.name, "class_name": cast.school_class.name, "guardian": actor.name,
        "relation": relation or "", "answer": chosen.value, "changed": previous is not None,
        "stage": case.stage, "ref": case_ref(case, settings), "kind": "",
        "back_on": await back_on(session, settings, now, cast.student)
        if chosen is GuardianCaseAnswer.BACK_TOMORROW else None,
    }
    told = tell_school(batch, case, cast, "case_answer", values, f"case-answer:{event.id}", {actor.person_id})
    await batch.flush()
    return ActionResult(await summary_of(session, settings, policy, now, case), told=tuple(told), details=details)


async def request_support(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    case_id: int,
    kind: SupportKind | str,
    note: str | None = None,
) -> ActionResult:
    """Put a support referral on the case (cost → 资助, transport, learning → learning support, family care) for
    the school officer to arrange, and tell the school's officers. A guardian of the student, or the class teacher
    or a school officer on the family's behalf. An open referral of the same kind is not repeated (`changed`
    False). `ref_id` is the referral's id."""
    case, _student, school_class = await case_for(session, actor, case_id)
    if not (is_guardian(actor, case) or is_school_officer(actor, case) or is_class_teacher(actor, school_class.id)):
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    check_stage(case, OPEN_STAGES, None)
    support = _enum(SupportKind, kind)
    note = clip(note)
    existing = await session.scalar(
        select(SupportReferral).where(SupportReferral.case_id == case.id, SupportReferral.kind == support.value,
                                      SupportReferral.resolved_at.is_(None)).limit(1)
    )
    if existing is not None:
        return ActionResult(await summary_of(session, settings, policy, now, case), changed=False,
                            ref_id=existing.id)
    referral = SupportReferral(case_id=case.id, kind=support.value, requested_by=actor.person_id, requested_at=now,
                               note=note)
    session.add(referral)
    await session.flush()
    add_event(session, now, case, actor, "support_requested", referral_id=referral.id, kind=support.value)
    cast = await cast_of(session, case)
    batch = await batch_for(session, settings, now, [cast])
    relation = next((r for p, r in cast.guardians if p.id == actor.person_id), None)
    values = {
        "child": cast.student.name, "class_name": cast.school_class.name, "kind": support.value,
        "by": actor.name, "relation": relation or "", "by_guardian": is_guardian(actor, case), "note": note or "",
        "ref": case_ref(case, settings),
    }
    told = tell_many(batch, cast.school_staff, Recipient.SCHOOL_OFFICER, "support_requested", values,
                     f"support:{referral.id}", case, {actor.person_id})
    await batch.flush()
    return ActionResult(await summary_of(session, settings, policy, now, case), told=tuple(told), ref_id=referral.id)


async def resolve_referral(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    referral_id: int,
    note: str | None = None,
) -> ActionResult:
    """The school officer marks a support referral arranged (with what was arranged). Again: no change."""
    referral = await session.get(SupportReferral, referral_id)
    if referral is None:
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    case, _student, _class = await case_for(session, actor, referral.case_id)
    if not is_school_officer(actor, case):
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    if referral.resolved_at is not None:
        return ActionResult(await summary_of(session, settings, policy, now, case), changed=False, ref_id=referral.id)
    referral.resolved_at = now
    referral.note = clip(note) or referral.note
    add_event(session, now, case, actor, "support_arranged", referral_id=referral.id, kind=referral.kind)
    return ActionResult(await summary_of(session, settings, policy, now, case), ref_id=referral.id)


# --- the roll call --------------------------------------------------------------------------------------------------


async def student_marked_present(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    student_id: int,
    day: date,
) -> CaseSummary | None:
    """For the roll call: the student was marked present on `day`. Returns their open case when the actor may close
    it as returned, so they can confirm that (`close_case(…, CaseOutcome.RETURNED)`): a school officer, or the class
    teacher before the report; None otherwise. The first presence of a day is written to the case's history. The
    actor must take this class's roll."""
    found = await student_class(session, student_id)
    if found is None:
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    summaries = await students_marked_present(session, settings, policy, now, actor, found[1], [student_id], day)
    return summaries[0] if summaries else None


async def students_marked_present(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    school_class: SchoolClass,
    student_ids: Collection[int],
    day: date,
) -> list[CaseSummary]:
    """`student_marked_present` for several students of one class at once, in three queries whatever their
    number: the open cases among them that the actor may close as returned (by case id), each with the first
    presence of the day in its history."""
    if not actor.can_manage_class(school_class.id, school_class.school_id):
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    cases = list(await session.scalars(
        select(Case).join(Student, Student.id == Case.student_id)
        .where(Case.student_id.in_(student_ids), Student.class_id == school_class.id, Case.closed_at.is_(None))
        .order_by(Case.id)
    ))
    if not cases:
        return []
    seen = set(await session.scalars(
        select(CaseEvent.case_id).where(CaseEvent.case_id.in_([c.id for c in cases]), CaseEvent.kind == "present",
                                        CaseEvent.at >= datetime.combine(day, datetime.min.time(), settings.tz))
    ))
    for case in cases:
        if case.id not in seen and day >= case.first_absent_day:
            add_event(session, now, case, actor, "present", day=day.isoformat())
    # reported: the school or township officer closes it, not the class teacher
    closable = [case for case in cases if is_school_officer(actor, case) or case.stage == CaseStage.OPEN]
    return await summarize(session, settings, policy, now, closable)


__all__ = [
    "answer_persuasion_notice",
    "close_case",
    "confirm_persuasion_notice",
    "issue_return_order",
    "record_legal_step",
    "record_persuasion",
    "report_to_township",
    "request_support",
    "resolve_referral",
    "student_marked_present",
    "students_marked_present",
]
