"""The class teacher's weekly digest: on the week's last school day, the class's absences, open cases, unanswered
notices and attendance beside the school's; once; only their class."""

from __future__ import annotations

from sqlalchemy import select

from bot.tick import run_tick
from storage.models import OutboxMessage
from tests.db.test_ladder import absent_on, at, linked_world, present_on, settings  # noqa: F401 - fixture


async def test_the_weekly_digest(sessions, settings, clock):  # noqa: F811
    world = await linked_world(sessions, clock)
    for day in ("2026-09-07", "2026-09-08", "2026-09-09", "2026-09-10", "2026-09-11"):
        await present_on(sessions, world, day)
    await absent_on(sessions, world, world.li_ming, "2026-09-08", "2026-09-10")
    await absent_on(sessions, world, world.li_hua, "2026-09-09", reason="sick")

    assert (await run_tick(sessions, settings, at("2026-09-10 18:00"))).class_digests == 0  # Thursday
    assert (await run_tick(sessions, settings, at("2026-09-11 17:00"))).class_digests == 0  # before 17:30
    assert (await run_tick(sessions, settings, at("2026-09-11 17:35"))).class_digests == 1
    assert (await run_tick(sessions, settings, at("2026-09-11 17:40"))).class_digests == 0

    async with sessions() as session:
        (digest,) = await session.scalars(select(OutboxMessage).where(OutboxMessage.template == "class_digest"))
    assert digest.person_id == world.teacher.id
    # 15 student-days, 3 absent: 80.0 %, and the school (one class with pupils) the same
    assert "出勤率：本班 80.0%，全校 80.0%" in digest.text
    assert "• 李明：2 天" in digest.text and "• 李华：1 天" in digest.text and "张小红" not in digest.text
    assert "家长还没回复的缺勤通知：2 条" in digest.text  # 李明's two unexplained days, unanswered
