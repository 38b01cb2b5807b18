"""Priority groups are watched more closely (policy [priority_groups]): a left-behind child's case opens after two
school days of unexplained absence, another child's only after three."""

from __future__ import annotations

from bot.core.policy import default_policy
from bot.tick import run_tick
from storage.models import Student
from tests.db.test_ladder import absent_on, at, linked_world, settings, the_case  # noqa: F401 - fixture


async def test_a_priority_child_reaches_the_school_a_day_sooner(sessions, settings, clock):  # noqa: F811
    assert default_policy().priority_groups.suspected_after.amount == 2
    world = await linked_world(sessions, clock)
    async with sessions() as session, session.begin():
        (await session.get(Student, world.zhang_xiaohong.id)).tags = ["留守儿童"]
    for student in (world.zhang_xiaohong, world.li_ming):
        await absent_on(sessions, world, student, "2026-09-14", "2026-09-15")
    await run_tick(sessions, settings, at("2026-09-15 18:00"))
    assert await the_case(sessions, world.zhang_xiaohong) is not None
    assert await the_case(sessions, world.li_ming) is None  # the usual three days for everyone else
