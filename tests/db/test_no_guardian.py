"""A child with no guardian on file (事实无人抚养, orphans): the teacher's roll-call summary names them, and when a
case opens the school's officers are asked for a home visit, as for a guardian the bot cannot reach."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import delete, select

from bot.core.scope import load_actor
from bot.core.settings import Settings
from bot.rollcall import service as rc
from bot.rollcall.view import toggled
from bot.tick import run_tick
from storage.models import Absence, AbsenceReason, Case, Guardianship, OutboxMessage, RollCall
from tests.policies import AUTOMATIC_NOTICE
from tests.seed import link, seed_world


@pytest.fixture
def settings() -> Settings:
    """The 劝学书 goes out when the case opens (the default waits for the officer's tap)."""
    return Settings(_env_file=None, policy=AUTOMATIC_NOTICE)


@pytest.fixture
async def world(sessions, clock):
    """The seeded world, staff linked, and 李明 with no guardian on file."""
    async with sessions() as session, session.begin():
        world = await seed_world(session, clock.now())
        for person, telegram_id in ((world.teacher, 1001), (world.officer, 1002)):
            await link(session, person, telegram_id, clock.now())
        await session.execute(delete(Guardianship).where(Guardianship.student_id == world.li_ming.id))
        return world


async def test_the_roll_call_summary_names_the_child_nobody_will_be_told_about(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        actor = await load_actor(session, world.teacher)
        view = await rc.open_roll_call(session, clock.now(), actor, world.school_class.id, settings.tz)
        working = toggled(toggled(view, world.li_ming.id), world.zhang_xiaohong.id)
        step = await rc.submit(session, settings, clock.now(), actor, view.roll_call_id, revision=0, working=working)
        for student in (world.li_ming, world.zhang_xiaohong):
            step = await rc.set_reason(session, settings, clock.now(), actor, view.roll_call_id, student.id,
                                       AbsenceReason.UNEXPLAINED, revision=0)  # fmt: skip
    assert isinstance(step, rc.Summary)
    assert [m.name for m in step.no_guardian] == ["李明"]
    assert {u.student_name for u in step.notified + step.unreachable} == {"张小红"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00")


async def test_a_case_asks_the_officers_for_a_home_visit(sessions, settings, world):
    async with sessions() as session, session.begin():
        for day in ("2026-09-11", "2026-09-14", "2026-09-15"):
            roll_call = RollCall(
                class_id=world.school_class.id, day=date.fromisoformat(day), opened_by=world.teacher.id,
                submitted_by=world.teacher.id, submitted_at=at(f"{day} 08:30"), revision=1,
            )  # fmt: skip
            session.add(roll_call)
            await session.flush()
            session.add(Absence(student_id=world.li_ming.id, roll_call_id=roll_call.id, day=roll_call.day,
                                reason=AbsenceReason.UNEXPLAINED, excused=False, recorded_by=world.teacher.id,
                                recorded_at=at(f"{day} 08:30")))  # fmt: skip
    await run_tick(sessions, settings, at("2026-09-15 18:00"))
    async with sessions() as session:
        assert await session.scalar(select(Case.id).where(Case.student_id == world.li_ming.id)) is not None
        visits = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.template == "deliver_by_hand")))
    assert [v.person_id for v in visits] == [world.officer.id]
    assert "李明" in visits[0].text and "没有登记监护人" in visits[0].text and "家访" in visits[0].text
