"""Reading cases: `/cases` lists by scope and urgency, and one case's whole file.

Reads write nothing. Opening a child's file is logged (未成年人网络保护条例 art. 36) by the one caller where a
person opens it, with `record_view`: an audit event `case.viewed` with the viewer's id.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import audit
from bot.core.policy import Policy
from bot.core.scope import Actor
from bot.core.settings import Settings
from storage.models import (
    Absence,
    Case,
    CaseEvent,
    CaseStage,
    Person,
    PersuasionAttempt,
    Role,
    Student,
    SupportReferral,
    Township,
)

from .common import (
    OPEN_STAGES,
    TOWNSHIP_STAGES,
    case_for,
    cast_of,
    county_of,
    is_class_teacher,
    is_county_officer,
    is_guardian,
    is_school_officer,
    is_township_officer,
    local_today,
    summarize,
)
from .facts import family_answers, legal_step_refusals, legal_steps_of, next_legal_step
from .model import (
    LEGAL_ORDER,
    AbsenceDay,
    AttemptView,
    CaseAction,
    CaseDetail,
    CaseErrorCode,
    CaseSummary,
    EventView,
    FamilyAnswer,
    GuardianView,
    LegalStepKind,
    ReferralView,
    WatchItemView,
)
from .notice import notice_sent_on
from .patterns import watch_items_of

ALL_OPEN = "all"  # list_cases(stage=ALL_OPEN): every stage before closing, whatever the role
CLOSED_LIMIT = 200  # closed cases listed at most (newest first)


async def list_cases(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    *,
    stage: str | None = None,
) -> list[CaseSummary]:
    """The cases in the actor's scope, most urgent first (deadline passed, then the nearest deadline, then the
    oldest). With `stage=None`: a school's officers see its cases before closing; a class teacher their
    classes' ones; a township officer the township's reported, ordered and legal cases; a county officer those of
    every township of the county; a guardian their children's. `stage=ALL_OPEN` lists every stage before closing
    (a township or county officer sees the schools' OPEN cases too); a `CaseStage` value lists only that stage
    (CLOSED: the newest `CLOSED_LIMIT`)."""
    if stage not in (None, ALL_OPEN, *CaseStage):
        return []
    schools = {s.school_id for s in actor.roles if s.role in (Role.SCHOOL_ADMIN, Role.PRINCIPAL) and s.school_id}
    classes = {s.class_id for s in actor.roles if s.role is Role.CLASS_TEACHER and s.class_id}
    townships = {s.township_id for s in actor.roles if s.role is Role.TOWNSHIP_OFFICER and s.township_id}
    counties = {s.county_id for s in actor.roles if s.role is Role.COUNTY_OFFICER and s.county_id}
    if stage is None or stage == ALL_OPEN:
        stages: tuple[str, ...] = OPEN_STAGES
        township_stages: tuple[str, ...] = TOWNSHIP_STAGES if stage is None else OPEN_STAGES
    else:
        stages = township_stages = (stage,)
    scope: list[ColumnElement[bool]] = [false()]
    if schools:
        scope.append(Case.school_id.in_(schools) & Case.stage.in_(stages))
    if townships:
        scope.append(Case.township_id.in_(townships) & Case.stage.in_(township_stages))
    if counties:
        in_county = select(Township.id).where(Township.county_id.in_(counties))
        scope.append(Case.township_id.in_(in_county) & Case.stage.in_(township_stages))
    if classes:
        scope.append(Case.student_id.in_(select(Student.id).where(Student.class_id.in_(classes)))
                     & Case.stage.in_(stages))
    if actor.children:
        scope.append(Case.student_id.in_(actor.children) & Case.stage.in_(stages))
    query = select(Case).where(or_(*scope))
    if stage == CaseStage.CLOSED:
        query = query.order_by(Case.closed_at.desc(), Case.id.desc()).limit(CLOSED_LIMIT)
    cases = list(await session.scalars(query))
    summaries = await summarize(session, settings, policy, now, cases)
    if stage == CaseStage.CLOSED:
        return summaries
    return sorted(summaries, key=urgency)


async def list_watch_items(
    session: AsyncSession, settings: Settings, now: datetime, actor: Actor
) -> list[WatchItemView]:
    """This month's and last month's watch items (absence patterns, `bot.cases.patterns`) in the actor's scope: a
    school's officers see the school's, a class teacher their classes'. Newest first."""
    schools = {s.school_id for s in actor.roles if s.role in (Role.SCHOOL_ADMIN, Role.PRINCIPAL) and s.school_id}
    classes = {s.class_id for s in actor.roles if s.role is Role.CLASS_TEACHER and s.class_id}
    this_month = local_today(settings, now).replace(day=1)
    since = (this_month - timedelta(days=1)).replace(day=1)
    return await watch_items_of(session, schools, classes, since)


def urgency(summary: CaseSummary) -> tuple:
    """Sort key: deadline passed first (the longest overdue first), then the nearest deadline, then no deadline
    (the oldest case first)."""
    if summary.next_deadline is None:
        return (2, date.max, summary.opened_at, summary.id)
    return (0 if summary.overdue else 1, summary.next_deadline, summary.opened_at, summary.id)


async def case_detail(
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: Actor,
    case_id: int,
) -> CaseDetail:
    """One case's file: absence days, the family's answers, persuasion attempts, support referrals, the history,
    and what the actor may do now. A guardian sees their answers and referrals, not the school's records."""
    case, _student, school_class = await case_for(session, actor, case_id, lock=False)
    in_charge = (is_school_officer(actor, case) or is_township_officer(actor, case)
                 or is_class_teacher(actor, school_class.id))
    county = is_county_officer(actor, await county_of(session, case))
    staff = in_charge or county
    summary = (await summarize(session, settings, policy, now, [case]))[0]
    cast = await cast_of(session, case)
    guardians = tuple(
        GuardianView(p.id, p.name, relation, p.id in cast.reachable, cast.reachable.get(p.id, False), bool(p.phone))
        for p, relation in cast.guardians
    )
    until = case.closed_at.astimezone(settings.tz).date() if case.closed_at else local_today(settings, now)
    absences = tuple(
        AbsenceDay(a.day, a.reason, a.excused)
        for a in await session.scalars(
            select(Absence).where(Absence.student_id == case.student_id, Absence.day >= case.first_absent_day,
                                  Absence.day <= until, Absence.withdrawn_at.is_(None)).order_by(Absence.day)
        )
    )
    answers = tuple(
        FamilyAnswer(at=a["at"], guardian=a["guardian"], relation=a["relation"] or None, answer=a["answer"],
                     text=a["text"] or None, day=a["day"])
        for a in await family_answers(session, case, cast)
    ) if staff or is_guardian(actor, case) else ()
    names = {p.id: p.name for p in [*cast.teachers, *cast.officers, *cast.township_officers,
                                    *(p for p, _ in cast.guardians)]}
    attempts: tuple[AttemptView, ...] = ()
    events: tuple[EventView, ...] = ()
    if staff:
        rows = list(await session.scalars(
            select(PersuasionAttempt).where(PersuasionAttempt.case_id == case.id)
            .order_by(PersuasionAttempt.on_day, PersuasionAttempt.id)
        ))
        event_rows = list(await session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at, CaseEvent.id)
        ))
        await _add_names(session, names, {r.recorded_by for r in rows} | {e.actor_person_id for e in event_rows})
        attempts = tuple(
            AttemptView(r.id, r.on_day, r.method, r.visitors, r.people_met, r.reason_found, r.attitude, r.next_step,
                        r.succeeded, names.get(r.recorded_by, ""), r.authorities_told)
            for r in rows
        )
        events = tuple(
            EventView(e.at, e.kind, names.get(e.actor_person_id) if e.actor_person_id else None, dict(e.details))
            for e in event_rows
        )
    referral_rows = list(await session.scalars(
        select(SupportReferral).where(SupportReferral.case_id == case.id).order_by(SupportReferral.requested_at,
                                                                                   SupportReferral.id)
    ))
    await _add_names(session, names, {r.requested_by for r in referral_rows})
    referrals = tuple(
        ReferralView(r.id, r.kind, r.requested_at, names.get(r.requested_by) if r.requested_by else None,
                     r.resolved_at, r.note)
        for r in referral_rows
    )
    pending = case.stage == CaseStage.OPEN and case.id not in await notice_sent_on(session, [case.id])
    recorded = await legal_steps_of(session, case.id)
    legal = [step for step, _ in recorded]
    today = local_today(settings, now)
    legal_open: tuple[LegalStepKind, ...] = ()
    court_from = None
    if policy.legal_steps.enabled and case.stage in (CaseStage.ORDERED, CaseStage.LEGAL):
        refused = await legal_step_refusals(session, settings, policy, case, recorded, today)
        legal_open = tuple(k for k in LEGAL_ORDER if k.value not in legal and k not in refused)
        court = refused.get(LegalStepKind.COURT_APPLICATION)
        if court is not None and court.code is CaseErrorCode.TOO_EARLY and case.stage == CaseStage.LEGAL:
            # a demand recorded: the day the court may follow (none once its window has passed)
            court_from = court.details.get("until")
    return CaseDetail(
        summary=summary,
        persuasion_deadline=case.persuasion_deadline,
        home_visit_due=case.home_visit_due,
        order_deadline=case.order_deadline,
        outcome_note=case.outcome_note if staff else None,
        guardians=guardians if staff else (),
        absences=absences,
        answers=answers,
        attempts=attempts,
        referrals=referrals,
        events=events,
        legal_steps=tuple(legal),
        next_legal_step=next_legal_step(legal) if policy.legal_steps.enabled else None,
        actions=available_actions(actor, case, school_class.id, legal_open, notice_pending=pending, county=county),
        in_charge=in_charge,
        legal_steps_open=legal_open,
        court_application_from=court_from,
        notice_pending=pending,
    )


def record_view(session: AsyncSession, now: datetime, actor: Actor, summary: CaseSummary) -> None:
    """Log that `actor` opened the child's file: once per opening, where the person opens it (not for lists, offers
    or the card redrawn after a step)."""
    audit.record(session, now, "case.viewed", "case", summary.id, actor_person_id=actor.person_id,
                 student_id=summary.student_id)


async def _add_names(session: AsyncSession, names: dict[int, str], ids: Iterable[int | None]) -> None:
    missing = {i for i in ids if i is not None and i not in names}
    if missing:
        names.update(dict((await session.execute(select(Person.id, Person.name).where(Person.id.in_(missing)))).all()))


def available_actions(
    actor: Actor, case: Case, class_id: int, legal_open: Collection[LegalStepKind], *, notice_pending: bool = False,
    county: bool = False,
) -> frozenset[CaseAction]:
    """What `actor` may do on `case` now (the actions check the same rules again when called). `legal_open`: the
    legal steps that may be recorded today (none where the policy provides none); `notice_pending`: the 劝学书
    waits for the school officer's confirmation; `county`: the actor is an officer of the case's county, who reads
    and prints its file (bot.documents.casefile.may_read_case_file), also once it is closed, and changes nothing."""
    school, township = is_school_officer(actor, case), is_township_officer(actor, case)
    prints = {CaseAction.PRINT} if school or township or county else set()
    if case.stage == CaseStage.CLOSED:
        return frozenset(prints)
    teacher, guardian = is_class_teacher(actor, class_id), is_guardian(actor, case)
    can = set()
    if school or teacher:
        can |= {CaseAction.RECORD_PERSUASION, CaseAction.REQUEST_SUPPORT}
    if school and case.stage == CaseStage.OPEN:
        can.add(CaseAction.REPORT)
        if notice_pending:
            can.add(CaseAction.CONFIRM_NOTICE)
    if township and case.stage == CaseStage.REPORTED:
        can.add(CaseAction.ISSUE_ORDER)
    if township and legal_open:
        can.add(CaseAction.LEGAL_STEP)
    if school or township:
        can.add(CaseAction.CLOSE)
    elif teacher and case.stage == CaseStage.OPEN:
        can.add(CaseAction.CLOSE_RETURNED)
    if guardian:
        can |= {CaseAction.ANSWER, CaseAction.REQUEST_SUPPORT}
    return frozenset(can | prints)
