"""School closures end to end: the school officer adds, lists and removes closures through the real bot and the fake
Bot API server; nobody else can, not even with a forged button."""

from __future__ import annotations

from sqlalchemy import func, select

from handlers.school import ClosureRemoveCallback, ClosureSchoolCallback
from storage.models import AuditEvent, CalendarDay, DayKind, Role, School, StaffRole
from tests.seed import link

REFUSAL = "只有本校的控辍专干或校长可以进行此操作。"


async def linked(app, telegram, person, user_id: int, first_name: str, language_code: str = "zh-hans"):
    async with app.sessions() as session, session.begin():
        await link(session, person, user_id, app.clock.now())
    return telegram.user(user_id, first_name, language_code=language_code)


async def closures(app) -> list[tuple]:
    async with app.sessions() as session:
        rows = await session.scalars(select(CalendarDay).order_by(CalendarDay.id))
        return [(row.school_id, row.day.isoformat(), row.kind, row.note, row.created_by) for row in rows]


async def add_second_school(app, world) -> int:
    """白石村小学, where 赵强 is principal too."""
    async with app.sessions() as session, session.begin():
        school = School(township_id=world.township.id, name="白石村小学")
        session.add(school)
        await session.flush()
        session.add(StaffRole(person_id=world.officer.id, role=Role.PRINCIPAL, school_id=school.id))
    return school.id


async def test_officer_adds_lists_and_removes_a_closure(telegram, app, world):
    officer = await linked(app, telegram, world.officer, 301, "强")

    empty = await officer.send("/closure")
    assert empty[0].text.startswith("近期没有停课安排。")
    assert "/closure 2026-10-12 暴雨停课" in empty[0].text

    added = await officer.send("/closure 2026-10-12 暴雨停课")
    assert added[0].text == "✅ 已登记停课：青山镇中心小学，2026年10月12日星期一。当天不点名，也不计缺勤。"
    assert await closures(app) == [(world.school.id, "2026-10-12", DayKind.CLOSURE, "暴雨停课", world.officer.id)]

    again = await officer.send("/closure 2026-10-12 暴雨停课")
    assert again[0].text == "青山镇中心小学在2026年10月12日星期一已经设为停课。"
    assert len(await closures(app)) == 1

    listing = (await officer.send("/closure"))[0]
    assert "近期停课安排" in listing.text and "• 2026年10月12日星期一 · 暴雨停课" in listing.text
    assert listing.buttons() == ["撤销 10月12日周一"]
    stale_data = listing.inline_buttons()[0]["callback_data"]

    await officer.tap("撤销 10月12日周一")
    assert officer.callback_answers[-1] == "已撤销10月12日周一的停课。"
    assert listing.text.startswith("近期没有停课安排。") and listing.buttons() == []  # the list was edited
    assert await closures(app) == []

    await officer.tap_data(stale_data, listing.message_id)
    assert officer.callback_answers[-1] == "该停课安排已经撤销了。"

    async with app.sessions() as session:
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["calendar.closure_added", "calendar.closure_removed"]


async def test_bad_dates_and_days_worth_a_note(telegram, app, world):
    officer = await linked(app, telegram, world.officer, 301, "强")
    bad = await officer.send("/closure 2026-13-01 暴雨")
    assert bad[0].text.startswith("无法识别日期“2026-13-01”。")
    assert await closures(app) == []

    past_weekend = await officer.send("/closure 2026-09-05 补记")  # a Saturday, two days ago
    assert past_weekend[0].text.splitlines()[1:] == [
        "注意：这个日期已经过去了。",
        "注意：这个日期是周末或法定节假日，本来就不是上课日。",
    ]
    assert len(await closures(app)) == 1  # still allowed

    too_long = await officer.send("/closure 2026-10-13 " + "雨" * 201)
    assert too_long[0].text == "原因太长了，请不要超过 200 个字。"
    assert len(await closures(app)) == 1


async def test_answers_in_english_for_an_english_speaking_officer(telegram, app, world):
    officer = await linked(app, telegram, world.officer, 301, "Qiang", language_code="en")
    bad = await officer.send("/closure tomorrow")
    assert bad[0].text.startswith("I cannot read “tomorrow” as a date.")
    added = await officer.send("/closure 2026-10-12 Heavy rain")
    assert added[0].text.startswith("✅ 青山镇中心小学 is closed on Monday, October 12, 2026.")


async def test_teachers_guardians_and_strangers_are_refused(telegram, app, world):
    teacher = await linked(app, telegram, world.teacher, 101, "丽")
    father = await linked(app, telegram, world.father_li, 201, "建国")
    stranger = telegram.user(999, "路人")
    township = await linked(app, telegram, world.township_officer, 401, "敏")
    for user in (teacher, father, stranger, township):
        assert (await user.send("/closure 2026-10-12 暴雨停课"))[0].text == REFUSAL
        assert (await user.send("/closure"))[0].text == REFUSAL
    assert await closures(app) == []


async def test_a_forged_remove_button_from_another_account_is_refused(telegram, app, world):
    officer = await linked(app, telegram, world.officer, 301, "强")
    await officer.send("/closure 2026-10-12 暴雨停课")
    [(closure_id,)] = [(row.id,) for row in await _closure_rows(app)]
    data = ClosureRemoveCallback(closure_id=closure_id).pack()

    teacher = await linked(app, telegram, world.teacher, 101, "丽")
    await teacher.tap_data(data, 1)
    assert teacher.callback_answers[-1] == REFUSAL

    # the officer of another school is an officer, but not of this school
    async with app.sessions() as session, session.begin():
        other = School(township_id=world.township.id, name="白石村小学")
        session.add(other)
        await session.flush()
        session.add(StaffRole(person_id=world.township_officer.id, role=Role.SCHOOL_ADMIN, school_id=other.id))
    other_officer = await linked(app, telegram, world.township_officer, 401, "敏")
    await other_officer.tap_data(data, 1)
    assert other_officer.callback_answers[-1] == REFUSAL
    await other_officer.tap_data(ClosureSchoolCallback(school_id=world.school.id, day="20261013").pack(), 1)
    assert other_officer.callback_answers[-1] == REFUSAL

    assert len(await closures(app)) == 1
    async with app.sessions() as session:
        removed = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "calendar.closure_removed")
        )
    assert removed == 0


async def test_an_officer_of_two_schools_chooses_the_school(telegram, app, world):
    baishi = await add_second_school(app, world)
    officer = await linked(app, telegram, world.officer, 301, "强")

    question = (await officer.send("/closure 2026-10-12 山洪预警"))[0]
    assert question.text == "2026年10月12日星期一哪所学校停课？"
    assert question.buttons() == ["青山镇中心小学", "白石村小学"]
    stale = question.inline_buttons()[1]["callback_data"]

    await officer.tap("白石村小学")
    assert question.text.startswith("✅ 已登记停课：白石村小学，2026年10月12日星期一。")
    assert question.buttons() == []
    assert await closures(app) == [(baishi, "2026-10-12", DayKind.CLOSURE, "山洪预警", world.officer.id)]

    await officer.tap_data(stale, question.message_id)  # the same choice again: the pending closure is gone
    assert officer.callback_answers[-1] == "此按钮已失效，请重新发送 /closure。"
    assert len(await closures(app)) == 1

    listing = (await officer.send("/closure"))[0]
    assert "• 2026年10月12日星期一 · 白石村小学 · 山洪预警" in listing.text
    assert listing.buttons() == ["撤销 10月12日周一 · 白石村小学"]


async def _closure_rows(app) -> list[CalendarDay]:
    async with app.sessions() as session:
        return list(await session.scalars(select(CalendarDay)))
