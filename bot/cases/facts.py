"""What the notices and views say about cases: the family's answers, the 辍学报告's content, the legal steps so far.
Each reads many cases in a constant number of queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
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

from .common import COUNTED_REASONS, Cast, case_ref, deadline_after
from .model import LEGAL_ORDER, CaseError, CaseErrorCode, LegalStepKind


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
                                    "attitude": a.attitude, "succeeded": a.succeeded, "next_step": a.next_step or ""})
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
            "failed": sum(1 for a in tried if not a["succeeded"]),
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


async def legal_step_refusals(session: AsyncSession, settings: Settings, policy: Policy, case: Case,
                              recorded: list[tuple[str, datetime]], today: date) -> dict[LegalStepKind, CaseError]:
    """Why a legal step not recorded yet cannot be recorded on `case` today (one not in the answer can be). None can
    while the 复学通知书's deadline has not passed; the application to the court needs the demand for performance
    delivered `legal_steps.court_after_demand` before. Stage and policy are checked by the caller."""
    done = {step for step, _ in recorded}
    waiting = [kind for kind in LEGAL_ORDER if kind.value not in done]
    if case.stage == CaseStage.ORDERED and case.order_deadline is not None and today <= case.order_deadline:
        return {kind: CaseError(CaseErrorCode.TOO_EARLY, until=case.order_deadline) for kind in waiting}
    refused = {}
    if LegalStepKind.COURT_APPLICATION in waiting:
        earliest = await court_application_from(session, settings, policy, case, recorded)
        if earliest is None:
            demand = LegalStepKind.DEMAND_FOR_PERFORMANCE.value
            refused[LegalStepKind.COURT_APPLICATION] = CaseError(
                CaseErrorCode.TOO_EARLY, needs="demand_delivery" if demand in done else demand)
        elif today < earliest:
            refused[LegalStepKind.COURT_APPLICATION] = CaseError(CaseErrorCode.TOO_EARLY, until=earliest)
    return refused
