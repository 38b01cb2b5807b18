"""The start-of-term checks: 名在人不在 to the school's officers on the term's third school day, and the 小升初
follow-up to the county's officers: each once, each within its scope."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.core.clock import ManualClock
from bot.records.enrolment import record_enrolment_change
from bot.tick import run_tick
from storage.models import OutboxMessage, Person, Role, SchoolClass, StaffRole, Student, Term
from tests.db.test_ladder import absent_on, at, linked_world, present_on, settings  # noqa: F401 - fixture
from tests.seed import link


async def test_the_term_start_lists(sessions, settings, clock):  # noqa: F811
    world = await linked_world(sessions, clock)
    now = clock.now()
    async with sessions() as session, session.begin():
        session.add(Term(county_id=world.township.county_id, name="2026年秋季学期", start_date=date(2026, 9, 1),
                         end_date=date(2027, 1, 20)))
        sixth = SchoolClass(school_id=world.school.id, name="六年级1班")
        county_officer = Person(name="胡科长", phone="13900000888", created_at=now, updated_at=now)
        session.add_all([sixth, county_officer])
        await session.flush()
        gone = Student(class_id=sixth.id, name="王小军", student_no="G1", birth_date=date(2014, 3, 1),
                       created_at=now, updated_at=now)
        moved_on = Student(class_id=sixth.id, name="赵小燕", birth_date=date(2014, 5, 2), created_at=now,
                           updated_at=now)
        session.add_all([gone, moved_on, StaffRole(person_id=county_officer.id, role=Role.COUNTY_OFFICER,
                                                   county_id=world.township.county_id)])
        await session.flush()
        await link(session, county_officer, 1006, now)
        for pupil in (gone, moved_on):
            await record_enrolment_change(session, None, ManualClock(at("2026-07-01 10:00")), pupil.id,
                                          "graduation", date(2026, 7, 1), settings=settings)
        # 赵小燕 is on a junior secondary roll now (a school without 学籍号: matched by name and birth date)
        session.add(Student(class_id=world.other_class.id, name="赵小燕", birth_date=date(2014, 5, 2),
                            created_at=now, updated_at=now))
    await absent_on(sessions, world, world.li_ming, "2026-09-01", "2026-09-02", "2026-09-03")
    await absent_on(sessions, world, world.li_hua, "2026-09-02")
    for day in ("2026-09-01", "2026-09-02", "2026-09-03"):
        await present_on(sessions, world, day)

    assert (await run_tick(sessions, settings, at("2026-09-02 18:00"))).term_start_lists == 0  # day two
    assert (await run_tick(sessions, settings, at("2026-09-03 16:00"))).term_start_lists == 0  # before 17:00
    assert (await run_tick(sessions, settings, at("2026-09-03 18:00"))).term_start_lists == 2
    assert (await run_tick(sessions, settings, at("2026-09-03 18:02"))).term_start_lists == 0  # once

    async with sessions() as session:
        rows = {row.template: row for row in await session.scalars(
            select(OutboxMessage).where(OutboxMessage.template.in_(("term_start_missing", "grade_six_followup"))))}
    missing = rows["term_start_missing"]
    assert missing.person_id == world.officer.id
    assert "李明（三年级1班）" in missing.text and "李华" not in missing.text and "张小红" not in missing.text
    followup = rows["grade_six_followup"]
    assert followup.person_id == county_officer.id
    assert "王小军" in followup.text and "赵小燕" not in followup.text
