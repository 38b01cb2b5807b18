"""The case service on SQLite and PostgreSQL: scope (an officer of another township sees and changes nothing),
each action's stage rules, what each person is told, and a history that is only ever appended to."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.cases import (
    ALL_OPEN,
    CaseAction,
    CaseError,
    CaseErrorCode,
    GuardianCaseAnswer,
    LegalStepKind,
    PersuasionInput,
    SupportKind,
    answer_persuasion_notice,
    case_detail,
    close_case,
    issue_return_order,
    list_cases,
    record_legal_step,
    record_persuasion,
    record_view,
    report_to_township,
    request_support,
)
from bot.core.policy import parse_policy
from bot.core.settings import Settings
from bot.documents.records import documents_of_case, record_delivery
from storage.models import (
    AuditEvent,
    CaseEvent,
    CaseOutcome,
    CaseStage,
    DeliveryManner,
    DocumentKind,
    Person,
    Role,
    School,
    StaffRole,
    SupportReferral,
    Township,
)
from tests.db.test_ladder import actor_of, at, linked_world, open_case, outbox, recipients
from tests.policies import AUTOMATIC_NOTICE
from tests.seed import World, link

POLICY = parse_policy(AUTOMATIC_NOTICE)
LEGAL = POLICY.model_copy(update={"legal_steps": POLICY.legal_steps.model_copy(update={"enabled": True})})
NOW = at("2026-09-16 10:00")


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None, policy=AUTOMATIC_NOTICE)


@pytest.fixture
async def world(sessions, clock) -> World:
    return await linked_world(sessions, clock)


@pytest.fixture
async def stranger(sessions, clock, world) -> Person:
    """A township officer (and a school officer) of another township of the same county."""
    async with sessions() as session, session.begin():
        township = Township(county_id=world.township.county_id, name="白水乡")
        session.add(township)
        await session.flush()
        school = School(township_id=township.id, name="白水乡小学")
        person = Person(name="钱多", phone="13900000901", created_at=clock.now(), updated_at=clock.now())
        session.add_all([school, person])
        await session.flush()
        session.add_all([StaffRole(person_id=person.id, role=Role.TOWNSHIP_OFFICER, township_id=township.id),
                         StaffRole(person_id=person.id, role=Role.SCHOOL_ADMIN, school_id=school.id)])
        await link(session, person, 3001, clock.now())
        return person


async def code_of(call) -> CaseErrorCode:
    with pytest.raises(CaseError) as error:
        await call
    return error.value.code


async def test_an_officer_of_another_township_sees_nothing_and_changes_nothing(sessions, settings, world, stranger):
    case = await open_case(sessions, settings, world, world.li_ming)
    async with sessions() as session, session.begin():
        other = await actor_of(session, stranger)
        assert await list_cases(session, settings, POLICY, NOW, other) == []
        assert await list_cases(session, settings, POLICY, NOW, other, stage=ALL_OPEN) == []
        assert await code_of(case_detail(session, settings, POLICY, NOW, other, case.id)) is CaseErrorCode.NOT_ALLOWED
        for call in (
            report_to_township(session, settings, POLICY, NOW, other, case.id),
            issue_return_order(session, settings, POLICY, NOW, other, case.id),
            close_case(session, settings, POLICY, NOW, other, case.id, CaseOutcome.RETURNED),
            answer_persuasion_notice(session, settings, POLICY, NOW, other, case.id, "call_me"),
            request_support(session, settings, POLICY, NOW, other, case.id, "cost"),
            record_persuasion(session, settings, POLICY, NOW, other, case.id,
                              PersuasionInput(date(2026, 9, 16), "phone", "钱多", None, "other", "not_met", None,
                                              False)),
        ):
            assert await code_of(call) is CaseErrorCode.NOT_ALLOWED
        # another family's guardian neither
        grandma = await actor_of(session, world.grandma_zhang)
        assert await list_cases(session, settings, POLICY, NOW, grandma) == []
        assert await code_of(answer_persuasion_notice(session, settings, POLICY, NOW, grandma, case.id,
                                                      "back_tomorrow")) is CaseErrorCode.NOT_ALLOWED
    async with sessions() as session:
        assert (await session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id))).all() == ["opened",
                                                                                                  "persuasion_notice_sent"]


async def test_lists_by_scope_and_urgency(sessions, settings, world):
    late = await open_case(sessions, settings, world, world.li_ming)
    await_absent = await open_case(sessions, settings, world, world.zhang_xiaohong)
    async with sessions() as session, session.begin():
        officer = await actor_of(session, world.officer)
        township = await actor_of(session, world.township_officer)
        teacher = await actor_of(session, world.teacher)
        father = await actor_of(session, world.father_li)
        # the officer visits Zhang's home: her next deadline becomes the 劝学书's, Li's home visit is due first
        await record_persuasion(session, settings, POLICY, NOW, officer, await_absent.id,
                                PersuasionInput(date(2026, 9, 16), "home_visit", "赵强", "张奶奶", "family_hardship",
                                                "cooperative", "申请资助", True))
        listed = await list_cases(session, settings, POLICY, at("2026-09-18 10:00"), officer)
        assert [c.id for c in listed] == [late.id, await_absent.id]
        assert listed[0].overdue and listed[0].deadline_kind == "home_visit"
        assert (listed[0].student_name, listed[0].class_name, listed[0].days_absent) == ("李明", "三年级1班", 3)
        assert [c.id for c in await list_cases(session, settings, POLICY, NOW, teacher)] == [late.id, await_absent.id]
        assert [c.id for c in await list_cases(session, settings, POLICY, NOW, father)] == [late.id]
        assert await list_cases(session, settings, POLICY, NOW, township) == []  # nothing reported yet
        assert len(await list_cases(session, settings, POLICY, NOW, township, stage=ALL_OPEN)) == 2
        await report_to_township(session, settings, POLICY, NOW, officer, late.id, note="多次劝返无效")
        assert [c.id for c in await list_cases(session, settings, POLICY, NOW, township)] == [late.id]
        assert [c.id for c in await list_cases(session, settings, POLICY, NOW, officer,
                                               stage=CaseStage.REPORTED)] == [late.id]


async def test_stage_rules(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.li_ming)
    async with sessions() as session, session.begin():
        officer = await actor_of(session, world.officer)
        township = await actor_of(session, world.township_officer)
        teacher = await actor_of(session, world.teacher)
        assert await code_of(issue_return_order(session, settings, POLICY, NOW, township, case.id)) \
            is CaseErrorCode.WRONG_STAGE
        assert await code_of(report_to_township(session, settings, POLICY, NOW, teacher, case.id)) \
            is CaseErrorCode.NOT_ALLOWED  # the school's officer reports, not the teacher
        assert await code_of(report_to_township(session, settings, POLICY, NOW, officer, case.id,
                                                expected_stage=CaseStage.REPORTED)) is CaseErrorCode.STALE
        result = await report_to_township(session, settings, POLICY, NOW, officer, case.id)
        assert result.case.stage == CaseStage.REPORTED
        assert await code_of(report_to_township(session, settings, POLICY, NOW, officer, case.id)) \
            is CaseErrorCode.WRONG_STAGE
        assert await code_of(record_legal_step(session, settings, POLICY, NOW, township, case.id,
                                               LegalStepKind.PENALTY_NOTICE)) is CaseErrorCode.DISABLED
        assert await code_of(issue_return_order(session, settings, POLICY, NOW, officer, case.id)) \
            is CaseErrorCode.NOT_ALLOWED  # the township orders, not the school
        await issue_return_order(session, settings, LEGAL, NOW, township, case.id)
        assert await code_of(record_legal_step(session, settings, LEGAL, NOW, township, case.id,
                                               LegalStepKind.PENALTY_NOTICE)) is CaseErrorCode.TOO_EARLY
        after = at("2026-09-29 10:00")  # the order's deadline (Sat Sep 26, moved to Mon Sep 28) has passed
        detail = await case_detail(session, settings, LEGAL, after, township, case.id)
        assert CaseAction.LEGAL_STEP in detail.actions and detail.next_legal_step is LegalStepKind.PENALTY_NOTICE
        assert await code_of(record_legal_step(session, settings, LEGAL, after, township, case.id,
                                               LegalStepKind.COURT_APPLICATION)) is CaseErrorCode.TOO_EARLY
        assert await code_of(record_legal_step(session, settings, LEGAL, after, township, case.id, "fine")) \
            is CaseErrorCode.BAD_VALUE
        # no penalty decision without the notice of intended penalty (告知) first
        assert await code_of(record_legal_step(session, settings, LEGAL, after, township, case.id,
                                               LegalStepKind.PENALTY_DECISION)) is CaseErrorCode.TOO_EARLY
        result = await record_legal_step(session, settings, LEGAL, after, township, case.id,
                                         LegalStepKind.PENALTY_NOTICE, "告知书已送达")
        assert result.case.stage == CaseStage.LEGAL and result.changed
        again = await record_legal_step(session, settings, LEGAL, after, township, case.id,
                                        LegalStepKind.PENALTY_NOTICE)
        assert not again.changed
        await record_legal_step(session, settings, LEGAL, at("2026-10-09 10:00"), township, case.id,
                                LegalStepKind.PENALTY_DECISION)
        await record_legal_step(session, settings, LEGAL, at("2026-10-09 11:00"), township, case.id,
                                LegalStepKind.DEMAND_FOR_PERFORMANCE)
        demand = next(d for d in await documents_of_case(session, case.id)
                      if d.kind == DocumentKind.DEMAND_FOR_PERFORMANCE and not d.copy)
        await record_delivery(session, settings, at("2026-10-09 18:00"), township, demand.id, date(2026, 10, 9),
                              DeliveryManner.IN_PERSON)
        # the court: 10 days after the 催告书's delivery (行政强制法 art. 54), and only once review (60 days) and
        # suit (6 months) from the decision have lapsed, within 3 months
        assert await code_of(record_legal_step(session, settings, LEGAL, at("2026-10-20 10:00"), township, case.id,
                                               LegalStepKind.COURT_APPLICATION)) is CaseErrorCode.TOO_EARLY
        assert await code_of(record_legal_step(session, settings, LEGAL, at("2027-04-09 10:00"), township, case.id,
                                               LegalStepKind.COURT_APPLICATION)) is CaseErrorCode.TOO_EARLY
        assert await code_of(record_legal_step(session, settings, LEGAL, at("2027-07-10 10:00"), township, case.id,
                                               LegalStepKind.COURT_APPLICATION)) is CaseErrorCode.TOO_LATE
        detail = await case_detail(session, settings, LEGAL, at("2027-03-01 10:00"), township, case.id)
        assert detail.court_application_from == date(2027, 4, 10)
        await record_legal_step(session, settings, LEGAL, at("2027-04-10 10:00"), township, case.id,
                                LegalStepKind.COURT_APPLICATION)
        assert await code_of(close_case(session, settings, LEGAL, NOW, teacher, case.id, CaseOutcome.TRANSFERRED)) \
            is CaseErrorCode.NOT_ALLOWED  # the teacher only confirms a return
        assert await code_of(close_case(session, settings, LEGAL, NOW, township, case.id, CaseOutcome.OTHER)) \
            is CaseErrorCode.BAD_VALUE  # "other" needs a note
        assert await code_of(close_case(session, settings, LEGAL, NOW, township, case.id, CaseOutcome.TRANSFERRED,
                                        "已转入外省学校")) is CaseErrorCode.NEEDS_PROOF  # an enrolment change does it
        result = await close_case(session, settings, LEGAL, NOW, township, case.id, CaseOutcome.OTHER,
                                  "随父母外出，去向待核实")
        assert (result.case.stage, result.case.outcome, result.case.watch_until) == (
            CaseStage.CLOSED, CaseOutcome.OTHER, None)
        assert await code_of(close_case(session, settings, LEGAL, NOW, officer, case.id, CaseOutcome.RETURNED)) \
            is CaseErrorCode.STALE
        assert await code_of(answer_persuasion_notice(session, settings, LEGAL, NOW,
                                                      await actor_of(session, world.father_li), case.id,
                                                      "back_tomorrow")) is CaseErrorCode.STALE
        detail = await case_detail(session, settings, LEGAL, NOW, officer, case.id)
        assert detail.actions == {CaseAction.PRINT}  # closed: nothing left to do but print the file
        assert detail.legal_steps == ("penalty_notice", "penalty_decision", "demand_for_performance",
                                      "court_application")
    assert await recipients(sessions, "case_moved") == sorted([world.officer.id, world.teacher.id] * 5)


async def test_the_family_answers_and_asks_for_help(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.li_ming)
    async with sessions() as session, session.begin():
        father = await actor_of(session, world.father_li)
        result = await answer_persuasion_notice(session, settings, POLICY, NOW, father, case.id,
                                                GuardianCaseAnswer.NEED_HELP)
        assert result.changed and result.details["ask_support"]
        assert sorted(t.person_id for t in result.told) == sorted([world.officer.id, world.teacher.id])
        again = await answer_persuasion_notice(session, settings, POLICY, NOW, father, case.id, "need_help")
        assert not again.changed and again.told == ()
        assert await code_of(answer_persuasion_notice(session, settings, POLICY, NOW, father, case.id, "maybe")) \
            is CaseErrorCode.BAD_VALUE
        result = await request_support(session, settings, POLICY, NOW, father, case.id, SupportKind.TRANSPORT)
        assert result.changed and result.ref_id is not None and result.case.open_referrals == 1
        assert not (await request_support(session, settings, POLICY, NOW, father, case.id, "transport")).changed
        officer = await actor_of(session, world.officer)
        detail = await case_detail(session, settings, POLICY, NOW, officer, case.id)
        assert [a.answer for a in detail.answers] == ["need_help"]
        assert [(r.kind, r.requested_by) for r in detail.referrals] == [("transport", "李建国")]
        assert {CaseAction.REPORT, CaseAction.RECORD_PERSUASION, CaseAction.CLOSE} <= detail.actions
        mine = await case_detail(session, settings, POLICY, NOW, father, case.id)
        for viewer, shown in ((officer, detail), (father, mine)):  # each opened the file once
            record_view(session, NOW, viewer, shown.summary)
        assert mine.events == () and mine.attempts == () and mine.guardians == ()
        assert mine.actions == {CaseAction.ANSWER, CaseAction.REQUEST_SUPPORT}
    assert await recipients(sessions, "case_answer") == sorted([world.officer.id, world.teacher.id])
    [support] = await outbox(sessions, "support_requested")
    assert support.person_id == world.officer.id and "上学路途" in support.text
    async with sessions() as session:
        assert (await session.scalar(select(SupportReferral))).kind == "transport"
        viewed = (await session.scalars(select(AuditEvent.actor_person_id).where(
            AuditEvent.action == "case.viewed"))).all()
        assert viewed == [world.officer.id, world.father_li.id]  # who looked at the child's file


async def test_the_history_is_only_appended(sessions, settings, world: World):
    case = await open_case(sessions, settings, world, world.li_ming)

    async def history():
        async with sessions() as session:
            return [(e.id, e.kind, e.at, e.actor, e.actor_person_id, dict(e.details)) for e in await session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))]

    seen = await history()
    steps = [
        lambda s, a: record_persuasion(s, settings, POLICY, NOW, a["officer"], case.id, PersuasionInput(
            date(2026, 9, 16), "home_visit", "赵强", "李建国", "gone_to_work", "refusing", "乡镇介入", False,
            authorities_told=False)),
        lambda s, a: answer_persuasion_notice(s, settings, POLICY, NOW, a["father"], case.id, "call_me"),
        lambda s, a: report_to_township(s, settings, POLICY, NOW, a["officer"], case.id),
        lambda s, a: issue_return_order(s, settings, POLICY, NOW, a["township"], case.id),
        lambda s, a: close_case(s, settings, POLICY, NOW, a["township"], case.id, CaseOutcome.RETURNED),
    ]
    for step in steps:
        async with sessions() as session, session.begin():
            actors = {"officer": await actor_of(session, world.officer),
                      "township": await actor_of(session, world.township_officer),
                      "father": await actor_of(session, world.father_li)}
            await step(session, actors)
        now = await history()
        assert now[: len(seen)] == seen and len(now) == len(seen) + 1
        seen = now
    assert [kind for _, kind, *_ in seen] == ["opened", "persuasion_notice_sent", "persuasion_recorded",
                                             "guardian_answer", "reported", "return_order_issued", "closed"]
    assert seen[0][3] == "scheduler" and seen[-1][4] == world.township_officer.id
