"""Nobody sees beyond their scope: which reports each role may have, by the same rules /report and the schedule use."""

from __future__ import annotations

from datetime import date

import pytest

from bot.records.scope import Level, ReportScope, may_see, scopes_of
from bot.records.service import RecordsNotAllowed, find_students, recent_months, report_on_demand
from storage.models import County, Person, Role, School, StaffRole
from tests.db.test_ladder import actor_of
from tests.seed import seed_world


async def test_each_role_sees_its_own_scope_only(sessions, clock):
    now = clock.now()
    async with sessions() as session, session.begin():
        world = await seed_world(session, now)
        other_county = County(name="邻县")
        other_school = School(township_id=world.township.id, name="青山镇第二小学")
        county_officer = Person(name="胡科长", phone="13900000888", created_at=now, updated_at=now)
        session.add_all([other_county, other_school, county_officer])
        await session.flush()
        session.add(StaffRole(person_id=county_officer.id, role=Role.COUNTY_OFFICER,
                              county_id=world.township.county_id))
        await session.flush()
        county_id = world.township.county_id
        school = ReportScope(Level.SCHOOL, world.school.id, world.school.name)
        second = ReportScope(Level.SCHOOL, other_school.id, other_school.name)
        township = ReportScope(Level.TOWNSHIP, world.township.id, world.township.name)
        county = ReportScope(Level.COUNTY, county_id, "示范县")
        elsewhere = ReportScope(Level.COUNTY, other_county.id, "邻县")
        where = {"township_id": world.township.id, "county_id": county_id}

        teacher = await actor_of(session, world.teacher)
        guardian = await actor_of(session, world.father_li)
        assert await scopes_of(session, teacher) == [] and await scopes_of(session, guardian) == []
        assert not any(may_see(who, scope, **where) for who in (teacher, guardian)
                       for scope in (school, township, county))

        officer = await actor_of(session, world.officer)
        assert await scopes_of(session, officer) == [school]
        assert may_see(officer, school, **where)
        assert not may_see(officer, second, **where)  # school A's officer never gets school B's report
        assert not may_see(officer, township, **where) and not may_see(officer, county, **where)

        township_officer = await actor_of(session, world.township_officer)
        assert await scopes_of(session, township_officer) == [township]
        assert may_see(township_officer, school, **where) and may_see(township_officer, second, **where)
        assert not may_see(township_officer, county, **where)

        county_actor = await actor_of(session, county_officer)
        assert await scopes_of(session, county_actor) == [county]
        assert all(may_see(county_actor, scope, **where) for scope in (school, second, township, county))
        assert not may_see(county_actor, elsewhere)

        # /report: a person asks only for their own scopes; another's is refused like a scope that does not exist
        report = await report_on_demand(session, officer, now, school.key, "2026-09", "zh_Hans")
        assert report.scope == school and report.workbook.startswith(b"PK")
        for key in (second.key, township.key, "school:9999"):
            with pytest.raises(RecordsNotAllowed):
                await report_on_demand(session, officer, now, key, "2026-09", "zh_Hans")
        assert [m.name for m in await find_students(session, officer, "李")] == ["李华", "李明"]
        assert await find_students(session, teacher, "李") == []  # a class teacher records no enrolment change
        assert [m.label for m in recent_months(date(2026, 11, 30), 3)] == ["2026-10", "2026-09", "2026-08"]
