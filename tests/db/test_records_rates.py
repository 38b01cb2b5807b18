"""Worked examples that fix the formulas of the rates (DOMAIN.md, "Ledgers and reports"), on SQLite and
PostgreSQL: one class, five roll calls, a suspension, a transfer out and a reported dropout, figured by hand."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.clock import ManualClock
from bot.core.settings import Settings
from bot.records.enrolment import record_enrolment_change
from bot.records.ledgers import load_records
from bot.records.period import Period
from bot.records.rates import ANY_PRIORITY, unit_rates
from bot.records.scope import Level, ReportScope
from storage.models import AbsenceReason, Case, CaseStage, Student
from tests.db.test_ladder import at, roll_call
from tests.seed import World, seed_world

SEPTEMBER = Period.month(2026, 9)


@pytest.fixture
async def world(sessions, clock) -> World:
    settings = Settings(_env_file=None)
    async with sessions() as session, session.begin():
        world = await seed_world(session, clock.now())
        xiaohong = await session.get(Student, world.zhang_xiaohong.id)
        xiaohong.tags = ["留守儿童"]
        for day in ("2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04", "2026-09-07"):
            await roll_call(session, world, date.fromisoformat(day))
        await roll_call(session, world, date(2026, 9, 2), {world.li_ming.id: AbsenceReason.SICK})
        await roll_call(session, world, date(2026, 9, 3), {world.li_ming.id: AbsenceReason.UNEXPLAINED})
        await roll_call(session, world, date(2026, 9, 7), {world.li_hua.id: AbsenceReason.UNKNOWN})
        await roll_call(session, world, date(2026, 10, 8), {world.li_hua.id: AbsenceReason.UNKNOWN})  # not September
        clock_then = ManualClock(at("2026-09-30 12:00"))
        await record_enrolment_change(session, None, clock_then, world.zhang_xiaohong.id, "suspension",
                                      date(2026, 9, 4), settings=settings, approving_body="示范县教育局",
                                      document_no="休-1")
        await record_enrolment_change(session, None, clock_then, world.li_hua.id, "transfer_out",
                                      date(2026, 9, 25), settings=settings, destination_school="外县小学",
                                      document_no="转-7")
        session.add(Case(student_id=world.li_ming.id, school_id=world.school.id, township_id=world.township.id,
                         stage=CaseStage.REPORTED, first_absent_day=date(2026, 9, 3), opened_at=at("2026-09-08 18:00"),
                         reported_at=at("2026-09-20 10:00")))
    return world


async def test_the_rates_of_a_worked_example(sessions, world):
    async with sessions() as session:
        data = await load_records(session, ReportScope(Level.SCHOOL, world.school.id, world.school.name), SEPTEMBER)
    school, any_priority, left_behind, *units = unit_rates(data)
    # Expected student-days: 李明 5 + 李华 5 + 张小红 3 (suspended from 09-04) = 13; absent 2 + 1 = 3; present 10.
    assert (school.expected_days, school.present_days) == (13, 10)
    assert school.attendance == pytest.approx(10 / 13)
    # One case opened and reported in September: suspected 1, confirmed 1, still open (confirmed) at the end.
    assert (school.suspected, school.confirmed, school.returns, school.open_suspected, school.open_confirmed) == (
        1, 1, 0, 0, 1)
    # 辍学率: 1 dropout this school year ÷ 3 on the roll on 1 September.
    assert (school.dropped_this_year, school.enrolled_at_year_start) == (1, 3)
    assert school.dropout_rate == pytest.approx(1 / 3)
    # 巩固率: on the roll at the end 2 (李明, 张小红 suspended) − 1 open confirmed dropout = 1 retained
    # ÷ (3 at the start + 0 in − 1 transferred out) = 1/2.
    assert (school.students, school.transfers_out, school.retention_base) == (2, 1, 2)
    assert school.retention == pytest.approx(0.5)
    # The priority group (留守儿童: 张小红) on its own line, and as "any priority group".
    assert (left_behind.group, left_behind.expected_days, left_behind.attendance) == ("留守儿童", 3, 1.0)
    assert (any_priority.group, any_priority.students) == (ANY_PRIORITY, 1)
    by_class = {rates.name: rates for rates in units if rates.unit == "class"}
    assert by_class[f"{world.school.name} 三年级1班"].expected_days == 13
    assert by_class[f"{world.school.name} 五年级2班"].attendance is None  # no roll call: no rate, not 0 %
