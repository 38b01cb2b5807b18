"""Enrolment changes (学籍变动) on SQLite and PostgreSQL: proof is required for lawful non-attendance, the status
stops and restarts the roll call, open cases close with the right outcome, and scope holds."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.core.clock import ManualClock
from bot.core.settings import Settings
from bot.records.enrolment import EnrolmentError, EnrolmentErrorCode, record_enrolment_change
from bot.rollcall.service import open_roll_call
from storage.models import (
    AuditEvent,
    Case,
    CaseOutcome,
    CaseStage,
    EnrolmentChange,
    EnrolmentChangeKind,
    EnrolmentStatus,
    Person,
    Role,
    School,
    SchoolClass,
    StaffRole,
    Student,
)
from tests.db.test_ladder import actor_of, at, linked_world, open_case
from tests.seed import World

NOW = at("2026-09-16 10:00")


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture
async def world(sessions, clock) -> World:
    return await linked_world(sessions, clock)


async def code_of(call) -> EnrolmentErrorCode:
    with pytest.raises(EnrolmentError) as caught:
        await call
    return caught.value.code


async def roll_names(session, world: World, day: str) -> list[str]:
    teacher = await actor_of(session, world.teacher)
    view = await open_roll_call(session, at(f"{day} 08:00"), teacher, world.school_class.id, Settings().tz)
    return [mark.name for mark in view.marks]


async def test_suspension_needs_its_approval_then_closes_the_case_and_leaves_the_roll(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.li_ming)
    clock = ManualClock(NOW)
    async with sessions() as session, session.begin():
        officer = await actor_of(session, world.officer)
        assert await code_of(record_enrolment_change(
            session, officer, clock, world.li_ming.id, EnrolmentChangeKind.SUSPENSION, date(2026, 9, 16),
            settings=settings, approving_body="青山镇人民政府")) is EnrolmentErrorCode.MISSING
    async with sessions() as session:
        assert (await session.get(Student, world.li_ming.id)).status == EnrolmentStatus.ENROLLED
        assert (await session.get(Case, case.id)).closed_at is None  # nothing changed half-way
    async with sessions() as session, session.begin():
        officer = await actor_of(session, world.officer)
        result = await record_enrolment_change(
            session, officer, clock, world.li_ming.id, "suspension", date(2026, 9, 16), settings=settings,
            approving_body="示范县教育局", document_no="示教休〔2026〕12号", note="病休一学期")
    assert (result.status, result.closed_case_id) == (EnrolmentStatus.SUSPENDED, case.id)
    async with sessions() as session, session.begin():
        closed = await session.get(Case, case.id)
        assert (closed.stage, closed.outcome) == (CaseStage.CLOSED, CaseOutcome.LAWFUL_ABSENCE)
        assert "示教休〔2026〕12号" in closed.outcome_note
        assert "李明" not in await roll_names(session, world, "2026-09-17")  # a suspended child is not counted
        change = await session.scalar(select(EnrolmentChange))
        assert (change.recorded_by, change.effective_on, change.school_id) == (
            world.officer.id, date(2026, 9, 16), world.school.id)
        audited = await session.scalar(select(AuditEvent).where(AuditEvent.action == "enrolment.suspension"))
        assert audited.details["case_id"] == case.id and "李明" not in str(audited.details)
    async with sessions() as session, session.begin():
        officer = await actor_of(session, world.officer)
        back = await record_enrolment_change(session, officer, clock, world.li_ming.id,
                                             EnrolmentChangeKind.RESUMPTION, date(2026, 9, 16), settings=settings)
        assert back.status == EnrolmentStatus.ENROLLED
        assert "李明" in await roll_names(session, world, "2026-09-17")  # back on the roll


async def test_a_confirmed_transfer_closes_the_case_as_transferred(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.li_hua)
    async with sessions() as session, session.begin():
        township = await actor_of(session, world.township_officer)
        assert await code_of(record_enrolment_change(
            session, township, ManualClock(NOW), world.li_hua.id, "transfer_out", date(2026, 9, 16),
            settings=settings, destination_school="广州市越秀区某小学")) is EnrolmentErrorCode.MISSING
        await record_enrolment_change(
            session, township, ManualClock(NOW), world.li_hua.id, "transfer_out", date(2026, 9, 16),
            settings=settings, destination_school="广州市越秀区某小学", document_no="转学联系函2026-88")
    async with sessions() as session:
        closed = await session.get(Case, case.id)
        assert closed.outcome == CaseOutcome.TRANSFERRED  # not "returned"
        assert (await session.get(Student, world.li_hua.id)).status == EnrolmentStatus.TRANSFERRED


async def test_refusals_change_nothing(sessions, settings, world):
    clock = ManualClock(NOW)
    async with sessions() as session, session.begin():
        teacher = await actor_of(session, world.teacher)
        officer = await actor_of(session, world.officer)
        assert await code_of(record_enrolment_change(
            session, teacher, clock, world.li_ming.id, "graduation", date(2026, 9, 16), settings=settings,
        )) is EnrolmentErrorCode.NOT_ALLOWED  # a class teacher does not change enrolment
        assert await code_of(record_enrolment_change(
            session, officer, clock, world.li_ming.id, "resumption", date(2026, 9, 16), settings=settings,
        )) is EnrolmentErrorCode.WRONG_STATUS  # 复学 only after 休学 or 送教上门
        assert await code_of(record_enrolment_change(
            session, officer, clock, world.li_ming.id, "graduation", date(2026, 9, 30), settings=settings,
        )) is EnrolmentErrorCode.FUTURE
        assert await code_of(record_enrolment_change(
            session, officer, clock, world.li_ming.id, "expelled", date(2026, 9, 16), settings=settings,
        )) is EnrolmentErrorCode.BAD_KIND  # expulsion does not exist in compulsory education
        other = School(township_id=world.township.id, name="青山镇第二小学")
        session.add(other)
        await session.flush()
        other_officer = Person(name="钱进", phone="13900000999", created_at=NOW, updated_at=NOW)
        session.add(other_officer)
        await session.flush()
        session.add(StaffRole(person_id=other_officer.id, role=Role.SCHOOL_ADMIN, school_id=other.id))
        await session.flush()
        stranger = await actor_of(session, other_officer)
        assert await code_of(record_enrolment_change(
            session, stranger, clock, world.li_ming.id, "graduation", date(2026, 9, 16), settings=settings,
        )) is EnrolmentErrorCode.NOT_ALLOWED  # another school's officer
        assert await session.scalar(select(EnrolmentChange.id)) is None


async def test_transfer_in_moves_the_student_into_the_receiving_class(sessions, settings, world):
    clock = ManualClock(NOW)
    async with sessions() as session, session.begin():
        officer = await actor_of(session, world.officer)
        await record_enrolment_change(session, None, clock, world.zhang_xiaohong.id, "transfer_out",
                                      date(2026, 9, 1), settings=settings, destination_school="青山镇中心小学分校",
                                      document_no="A-1")  # an import: no actor
        result = await record_enrolment_change(
            session, officer, clock, world.zhang_xiaohong.id, "transfer_in", date(2026, 9, 14), settings=settings,
            origin_school="青山镇中心小学分校", to_class_id=world.other_class.id)
        assert result.status == EnrolmentStatus.ENROLLED
        moved = await session.get(Student, world.zhang_xiaohong.id)
        assert moved.class_id == world.other_class.id
        kinds = list(await session.scalars(select(EnrolmentChange.kind).order_by(EnrolmentChange.id)))
        assert kinds == ["transfer_out", "transfer_in"]
        assert isinstance(await session.get(SchoolClass, world.other_class.id), SchoolClass)
