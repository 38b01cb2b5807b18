"""What the notices and views say about cases: the family's answers, the 辍学报告's content, the legal steps so far.
Each reads many cases in a constant number of queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.policy import Policy
from bot.core.settings import Settings
from bot.documents.records import delivered_on
from storage.models import (
    Absence,
    AbsenceReply,
    Case,
    CaseEvent,
    CaseStage,
    DocumentKind,
    Person,
    PersuasionAttempt,
)

from .common import COUNTED_REASONS, Cast, case_ref, deadline_after, local_today
from .model import LEGAL_ORDER, CaseError, CaseErrorCode, LegalStepKind, PersuasionMethod


async def family_answers_many(session: AsyncSession, cases: list[Case], casts: dict[int, Cast]
                              ) -> dict[int, list[dict[str, Any]]]:
    """Per case, the family's answers so far, oldest first: to absence notices since the first absent day, and to
    the 劝学书. Each {"at", "guardian", "relation", "answer", "text", "day"} (day: the absence answered, or None).
    Three queries whatever the number of cases."""
    if not cases:
        return {}
    found: dict[int, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
    by_student: dict[int, list[Case]] = defaultdict(list)
    for case in cases:
        by_student[case.student_id].append(case)

    def relation(case: Case, person_id: int | None) -> str:
        cast = casts.get(case.id)
        return next((r or "" for p, r in (cast.guardians if cast else []) if p.id == person_id), "")

    rows = await session.execute(
        select(AbsenceReply, Absence.student_id, Absence.day, Person.name)
        .join(Absence, Absence.id == AbsenceReply.absence_id)
        .join(Person, Person.id == AbsenceReply.person_id)
        .where(Absence.student_id.in_(list(by_student)), Absence.day >= min(c.first_absent_day for c in cases))
        .order_by(AbsenceReply.at, AbsenceReply.id)
    )
    for reply, student_id, day, name in rows:
        for case in by_student[student_id]:
            if day >= case.first_absent_day:
                found[case.id].append((reply.at, {"at": reply.at, "guardian": name,
                                                  "relation": relation(case, reply.person_id),
                                                  "answer": reply.answer, "text": reply.text or "", "day": day}))
    ids = {case.id: case for case in cases}
    events = list(await session.scalars(
        select(CaseEvent).where(CaseEvent.case_id.in_(list(ids)), CaseEvent.kind == "guardian_answer")
        .order_by(CaseEvent.at, CaseEvent.id)
    ))
    names: dict[int | None, str] = dict((await session.execute(select(Person.id, Person.name).where(
        Person.id.in_({e.actor_person_id for e in events if e.actor_person_id})))).all()) if events else {}
    for event in events:
        case = ids[event.case_id]
        found[case.id].append((event.at, {"at": event.at, "guardian": names.get(event.actor_person_id, ""),
                                          "relation": relation(case, event.actor_person_id),
                                          "answer": event.details.get("answer"), "text": "", "day": None}))
    return {case.id: [item for _, item in sorted(found[case.id], key=lambda pair: pair[0])] for case in cases}


async def family_answers(session: AsyncSession, case: Case, cast: Cast) -> list[dict[str, Any]]:
    return (await family_answers_many(session, [case], {case.id: cast}))[case.id]


def failed_visit_days(attempts: list[dict[str, Any]]) -> set[date]:
    """The different days on which a home visit failed: what `report.failed_home_visits` counts (two visits on one
    day are one; phone calls are not visits)."""
    return {a["on_day"] for a in attempts if a["method"] == PersuasionMethod.HOME_VISIT and not a["succeeded"]}


async def report_values_many(session: AsyncSession, settings: Settings, cases: list[Case], casts: dict[int, Cast]
                             ) -> dict[int, dict[str, Any]]:
    """Per case, the 辍学报告's content: student, class, absence history, persuasion attempts, reason, the family's
    answers. Five queries whatever the number of cases."""
    if not cases:
        return {}
    first = min(c.first_absent_day for c in cases)
    days: dict[int, list[date]] = defaultdict(list)
    for student_id, day in await session.execute(
        select(Absence.student_id, Absence.day).where(
            Absence.student_id.in_({c.student_id for c in cases}), Absence.day >= first,
            Absence.withdrawn_at.is_(None), Absence.excused.is_(False), Absence.reason.in_(COUNTED_REASONS),
        ).order_by(Absence.day)
    ):
        days[student_id].append(day)
    attempts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in await session.scalars(
        select(PersuasionAttempt).where(PersuasionAttempt.case_id.in_([c.id for c in cases]))
        .order_by(PersuasionAttempt.on_day, PersuasionAttempt.id)
    ):
        attempts[a.case_id].append({"on_day": a.on_day, "method": a.method, "reason": a.reason_found,
                                    "attitude": a.attitude, "succeeded": a.succeeded, "next_step": a.next_step or "",
                                    "authorities_told": a.authorities_told})
    answers = await family_answers_many(session, cases, casts)
    values = {}
    for case in cases:
        cast = casts[case.id]
        mine = [d for d in days.get(case.student_id, []) if d >= case.first_absent_day]
        tried = attempts.get(case.id, [])
        values[case.id] = {
            "child": cast.student.name,
            "class_name": cast.school_class.name,
            "school": cast.school_name,
            "ref": case_ref(case, settings),
            "first_absent_day": case.first_absent_day,
            "days": mine,
            "days_absent": len(mine),
            "attempts": tried,
            "failed": len(failed_visit_days(tried)),
            "reason": case.reason_found or "",
            "answers": answers.get(case.id, []),
            "deadline": case.persuasion_deadline,
        }
    return values


async def legal_steps_of(session: AsyncSession, case_id: int) -> list[tuple[str, datetime]]:
    """(kind, when recorded) of the legal steps recorded on the case, in order."""
    events = await session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "legal_step")
        .order_by(CaseEvent.at, CaseEvent.id)
    )
    return [(step, event.at) for event in events if isinstance(step := event.details.get("step"), str)]


def next_legal_step(recorded: list[str]) -> LegalStepKind | None:
    done = set(recorded)
    return next((kind for kind in LEGAL_ORDER if kind.value not in done), None)


async def court_application_from(session: AsyncSession, settings: Settings, policy: Policy, case: Case,
                                 recorded: list[tuple[str, datetime]]) -> date | None:
    """The first day the application to the court may be recorded: `legal_steps.court_after_demand` after the
    催告书 was delivered (行政强制法 art. 54; its delivery record, bot.documents). None while no demand is recorded
    or its delivery is not."""
    if not any(step == LegalStepKind.DEMAND_FOR_PERFORMANCE for step, _ in recorded):
        return None
    served = await delivered_on(session, case.id, DocumentKind.DEMAND_FOR_PERFORMANCE)
    if served is None:
        return None
    return await deadline_after(session, policy.legal_steps.court_after_demand, case.school_id, served)


# a step needs the one before it recorded: the 告知 before any penalty decision (行政处罚法 art. 44), the decision
# before the demand for performance, the demand before the court
NEEDS = {
    LegalStepKind.PENALTY_DECISION: LegalStepKind.PENALTY_NOTICE,
    LegalStepKind.DEMAND_FOR_PERFORMANCE: LegalStepKind.PENALTY_DECISION,
    LegalStepKind.COURT_APPLICATION: LegalStepKind.DEMAND_FOR_PERFORMANCE,
}


def court_window(settings: Settings, policy: Policy, recorded: list[tuple[str, datetime]]) -> tuple[date, date] | None:
    """The first and last day the application to the court may be made as the penalty decision allows: once the
    guardian's time to seek review (`legal_steps.review_period`) and to sue (`suit_period`) from the decision has
    lapsed, within `court_window` after that (行政强制法 art. 53). None while no decision is recorded."""
    decided = next((at for step, at in recorded if step == LegalStepKind.PENALTY_DECISION), None)
    if decided is None:
        return None
    rules = policy.legal_steps
    day = local_today(settings, decided)
    lapsed = max(rules.review_period.period_end(day), rules.suit_period.period_end(day))
    return lapsed + timedelta(days=1), rules.court_window.period_end(lapsed)


async def legal_step_refusals(session: AsyncSession, settings: Settings, policy: Policy, case: Case,
                              recorded: list[tuple[str, datetime]], today: date) -> dict[LegalStepKind, CaseError]:
    """Why a legal step not recorded yet cannot be recorded on `case` today (one not in the answer can be). None can
    while the 复学通知书's deadline has not passed; each needs the one before it (`NEEDS`: the 告知 before the
    penalty decision); the application to the court only between the lapse of the guardian's review and suit periods
    and the end of `legal_steps.court_window` after it, and `legal_steps.court_after_demand` after the demand for
    performance was delivered. Stage and policy are checked by the caller."""
    done = {step for step, _ in recorded}
    waiting = [kind for kind in LEGAL_ORDER if kind.value not in done]
    if case.stage == CaseStage.ORDERED and case.order_deadline is not None and today <= case.order_deadline:
        return {kind: CaseError(CaseErrorCode.TOO_EARLY, until=case.order_deadline) for kind in waiting}
    refused = {kind: CaseError(CaseErrorCode.TOO_EARLY, needs=NEEDS[kind].value)
               for kind in waiting if kind in NEEDS and NEEDS[kind].value not in done}
    if LegalStepKind.COURT_APPLICATION in waiting and LegalStepKind.COURT_APPLICATION not in refused:
        window = court_window(settings, policy, recorded)
        earliest = await court_application_from(session, settings, policy, case, recorded)
        if window is None:
            refused[LegalStepKind.COURT_APPLICATION] = CaseError(
                CaseErrorCode.TOO_EARLY, needs=LegalStepKind.PENALTY_DECISION.value)
        elif today > window[1]:
            refused[LegalStepKind.COURT_APPLICATION] = CaseError(CaseErrorCode.TOO_LATE, until=window[1])
        elif earliest is None:
            refused[LegalStepKind.COURT_APPLICATION] = CaseError(CaseErrorCode.TOO_EARLY, needs="demand_delivery")
        else:
            first = max(window[0], earliest)
            if today < first:
                refused[LegalStepKind.COURT_APPLICATION] = CaseError(CaseErrorCode.TOO_EARLY, until=first)
    return refused
