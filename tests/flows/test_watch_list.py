"""The watch list under /cases: a month's pattern of absences (多次旷课) is shown to the school's officer and the
class teacher, apart from the dropout cases, and to no one outside the school."""

from __future__ import annotations

from datetime import date, datetime

from bot.cases import run_ladder
from bot.core.policy import load_policy
from bot.core.scope import load_actor
from bot.fakeapi import FakeTelegram, FakeUser
from bot.rollcall import service as rc
from bot.rollcall.view import toggled
from storage.models import AbsenceReason, Person, Role, School, StaffRole, Term
from tests.seed import World, link

# Two school weeks; 李明 is absent five days without a reason, never three in a row: no case, a pattern.
SCHOOL_DAYS = ("2026-09-07", "2026-09-08", "2026-09-09", "2026-09-10", "2026-09-11", "2026-09-14", "2026-09-15",
               "2026-09-16", "2026-09-17", "2026-09-18")
ABSENT = {"2026-09-07", "2026-09-09", "2026-09-14", "2026-09-16", "2026-09-18"}
WATCH_LINE = "• 李明 · 三年级1班 · 2026年9月：无故或原因不明缺勤 5 天"


def opened(telegram: FakeTelegram, user_id: int, name: str) -> FakeUser:
    user = telegram.user(user_id, name, language_code="zh-hans")
    user.state.started = True
    return user


async def staff_of_another_school(app, world: World, clock) -> Person:
    async with app.sessions() as session, session.begin():
        now = clock.now()
        school = School(township_id=world.township.id, name="青山镇第二小学")
        officer = Person(name="钱多", phone="13900000999", created_at=now, updated_at=now)
        session.add_all([school, officer])
        await session.flush()
        session.add(StaffRole(person_id=officer.id, role=Role.SCHOOL_ADMIN, school_id=school.id))
        await link(session, officer, 601, now)
    return officer


async def roll_calls(app, world: World, clock) -> None:
    """The class teacher's roll call each school day, through the roll-call service, 李明 absent on `ABSENT`."""
    for day in SCHOOL_DAYS:
        clock.set(datetime.fromisoformat(f"{day}T08:30:00+08:00"))
        async with app.sessions() as session, session.begin():
            now, actor = clock.now(), await load_actor(session, world.teacher)
            view = await rc.open_roll_call(session, now, actor, world.school_class.id, app.settings.tz)
            absent = day in ABSENT
            await rc.submit(session, app.settings, now, actor, view.roll_call_id, revision=0,
                            working=toggled(view, world.li_ming.id) if absent else view)
            if absent:
                await rc.set_reason(session, app.settings, now, actor, view.roll_call_id, world.li_ming.id,
                                    AbsenceReason.UNEXPLAINED, revision=0)


async def test_a_months_pattern_is_on_the_watch_list_for_the_school_only(app, telegram, world, clock):
    async with app.sessions() as session, session.begin():
        now = clock.now()
        for person, telegram_id in ((world.teacher, 101), (world.officer, 301), (world.township_officer, 401)):
            await link(session, person, telegram_id, now)
        session.add(Term(county_id=world.township.county_id, name="2026年秋季学期", start_date=date(2026, 9, 1),
                         end_date=date(2027, 1, 22)))
    await staff_of_another_school(app, world, clock)
    officer, teacher = opened(telegram, 301, "强"), opened(telegram, 101, "丽")
    township, elsewhere = opened(telegram, 401, "敏"), opened(telegram, 601, "多")

    await roll_calls(app, world, clock)
    [before] = await officer.send("/cases")
    assert "需要关注" not in before.text  # nothing raised yet: the tick raises it

    clock.set(datetime.fromisoformat("2026-09-18T18:00:00+08:00"))
    async with app.sessions() as session, session.begin():
        report = await run_ladder(session, app.settings, load_policy(app.settings), clock.now())
    await app.sender.drain()
    assert (report.opened, report.watch_items) == (0, 1)
    assert any("请关注：李明" in (m.text or "") for m in officer.bot_messages())  # the month's one alert

    [listing] = await officer.send("/cases")
    assert "没有进行中的个案" in listing.text  # no dropout case: the pattern is listed apart from them
    assert "需要关注（1）：一个月内多次缺勤，不是辍学个案" in listing.text and WATCH_LINE in listing.text
    assert not any(label.startswith("1. 李明") for label in listing.buttons())  # a watch item is not a case card
    [mine] = await teacher.send("/cases")
    assert WATCH_LINE in mine.text  # the class teacher: her class's

    closed = await officer.tap("显示已结案", listing)
    assert "需要关注" not in closed[-1].text  # the closed list is only the closed cases

    for outsider in (township, elsewhere):  # the township's officer and another school's officer: out of scope
        [theirs] = await outsider.send("/cases")
        assert "需要关注" not in theirs.text and "李明" not in theirs.text
