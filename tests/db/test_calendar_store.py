"""The school calendar against the database (SQLite and PostgreSQL): loading many calendars in a constant number
of queries, the calendar file import (all or nothing, idempotent, audited), closures, the missing-year notice."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from bot.calendar.days import (
    NotAllowed,
    add_closure,
    check_closure,
    load_calendar,
    load_calendars,
    remove_closure,
    upcoming_closures,
    warn_missing_official_years,
)
from bot.calendar.file import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_UNREADABLE,
    CalendarImport,
    UnreadableCalendar,
    import_calendar,
    parse_calendar_text,
    run_import_calendar,
)
from bot.core.clock import ManualClock
from bot.core.settings import Settings
from storage.models import AuditEvent, CalendarDay, County, DayKind, OutboxMessage, School, Term, Township
from tests.seed import World, link, seed_world

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "calendar.toml"

FULL = """
county = "示范县"

[[terms]]
name = "2026年秋季学期"
start = 2026-09-01
end = 2027-01-22

[[terms]]
name = "2027年春季学期"
start = 2027-02-22
end = 2027-07-09

[[terms]]
name = "白石村小学秋季学期"
school = "白石村小学"
start = 2026-09-07
end = 2027-01-15

[[holidays]]
date = 2027-01-01
note = "元旦"

[[workdays]]
date = 2027-01-09
note = "调休"

[[closures]]
school = "青山镇中心小学"
date = 2026-10-12
note = "暴雨停课"
"""


@pytest.fixture
async def world(sessions, clock) -> World:
    async with sessions() as session, session.begin():
        world = await seed_world(session, clock.now())
        session.add(School(township_id=world.township.id, name="白石村小学"))
    return world


async def school_id(sessions, name: str) -> int:
    async with sessions() as session:
        return await session.scalar(select(School.id).where(School.name == name))


async def do_import(sessions, clock, content: str, default_county: str | None = None) -> CalendarImport:
    async with sessions() as session, session.begin():
        return await import_calendar(session, parse_calendar_text(content), now=clock.now(),
                                     default_county=default_county)


async def snapshot(sessions) -> dict[str, list[tuple]]:
    async with sessions() as session:
        return {
            table: [tuple(row) for row in await session.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in ("terms", "calendar_days", "audit_events")
        }


async def audit_actions(sessions) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


class QueryCounter:
    def __init__(self, engine) -> None:
        self.engine = engine.sync_engine
        self.statements: list[str] = []

    def _on_execute(self, _conn, _cursor, statement, *_args) -> None:
        self.statements.append(statement)

    def __enter__(self) -> QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)


# --- loading ------------------------------------------------------------------------------------------------------


async def test_load_calendars_for_two_schools(sessions, clock, world):
    assert (await do_import(sessions, clock, FULL)).ok
    qingshan, baishi = world.school.id, await school_id(sessions, "白石村小学")
    async with sessions() as session:
        calendars = await load_calendars(session, [qingshan, baishi])
    assert set(calendars) == {qingshan, baishi}
    central, village = calendars[qingshan], calendars[baishi]
    assert [term.name for term in central.terms] == ["2026年秋季学期", "2027年春季学期"]
    assert [term.name for term in village.terms] == ["白石村小学秋季学期"]  # its own terms replace the county's
    assert central.is_school_day(date(2026, 9, 1)) and not village.is_school_day(date(2026, 9, 1))
    assert not central.is_school_day(date(2026, 10, 12)) and village.is_school_day(date(2026, 10, 12))  # closure
    for cal in (central, village):  # county rows apply to every school of the county
        assert not cal.is_school_day(date(2027, 1, 1))
        assert cal.is_school_day(date(2027, 1, 9))
    async with sessions() as session:
        assert (await load_calendar(session, baishi)).terms == village.terms
        with pytest.raises(LookupError):
            await load_calendar(session, 999_999)
        assert await load_calendars(session, []) == {}


async def test_load_calendars_takes_a_constant_number_of_queries(sessions, engine, clock, world):
    assert (await do_import(sessions, clock, FULL)).ok
    async with sessions() as session, session.begin():
        session.add_all(School(township_id=world.township.id, name=f"第{n}小学") for n in range(40))
    async with sessions() as session, session.begin():
        ids = list(await session.scalars(select(School.id)))
        await session.execute(select(1))  # the transaction is open: only the loader's queries are counted
        with QueryCounter(engine) as two:
            await load_calendars(session, ids[:2])
        with QueryCounter(engine) as many:
            calendars = await load_calendars(session, ids)
        with QueryCounter(engine) as everything:
            all_calendars = await load_calendars(session)
    assert len(two.statements) == len(many.statements) == len(everything.statements) == 3
    assert len(calendars) == len(all_calendars) == 42
    assert calendars[ids[-1]].terms == calendars[world.school.id].terms


async def test_a_calendar_of_another_county_stays_out(sessions, clock, world):
    async with sessions() as session, session.begin():
        other = County(name="邻县")
        session.add(other)
        await session.flush()
        township = Township(county_id=other.id, name="河口镇")
        session.add(township)
        await session.flush()
        session.add(School(township_id=township.id, name="河口小学"))
        session.add(
            Term(county_id=other.id, name="邻县秋季学期", start_date=date(2026, 8, 25), end_date=date(2027, 1, 8))
        )
    assert (await do_import(sessions, clock, FULL)).ok
    hekou = await school_id(sessions, "河口小学")
    async with sessions() as session:
        mine = await load_calendar(session, world.school.id)
        theirs = await load_calendar(session, hekou)
    assert [term.name for term in mine.terms] == ["2026年秋季学期", "2027年春季学期"]
    assert [term.name for term in theirs.terms] == ["邻县秋季学期"]
    assert theirs.is_school_day(date(2027, 1, 1))  # 示范县's admin holiday is not theirs (2027: Mon–Fri fallback)


# --- the file import ----------------------------------------------------------------------------------------------


async def test_import_writes_terms_days_and_closures_with_audit(sessions, clock, world):
    report = await do_import(sessions, clock, FULL)
    assert report.ok and report.written and report.county == "示范县"
    assert report.counts == {"terms_created": 3, "days_created": 3}
    assert report.missing_years == {2027: 1}
    async with sessions() as session:
        terms = {t.name: t for t in await session.scalars(select(Term))}
        days = list(await session.scalars(select(CalendarDay).order_by(CalendarDay.day)))
    county_id = world.township.county_id
    assert terms["2026年秋季学期"].county_id == county_id and terms["2026年秋季学期"].school_id is None
    assert terms["白石村小学秋季学期"].school_id == await school_id(sessions, "白石村小学")
    assert [(d.day, d.kind, d.note, d.county_id, d.school_id) for d in days] == [
        (date(2026, 10, 12), DayKind.CLOSURE, "暴雨停课", None, world.school.id),
        (date(2027, 1, 1), DayKind.HOLIDAY, "元旦", county_id, None),
        (date(2027, 1, 9), DayKind.WORKDAY, "调休", county_id, None),
    ]
    assert await audit_actions(sessions) == ["calendar.term_added"] * 3 + ["calendar.day_added"] * 3
    async with sessions() as session:
        events = list(await session.scalars(select(AuditEvent)))
    assert all(e.actor == "cli" and e.actor_person_id is None for e in events)
    assert events[0].details == {"county_id": county_id, "start": "2026-09-01", "end": "2027-01-22"}


async def test_reimporting_the_same_file_changes_nothing(sessions, clock, world):
    assert (await do_import(sessions, clock, FULL)).ok
    before = await snapshot(sessions)
    again = await do_import(sessions, clock, FULL)
    assert again.ok
    assert again.counts == {"terms_unchanged": 3, "days_unchanged": 3}
    assert await snapshot(sessions) == before


async def test_reimport_with_changed_dates_and_notes_updates_in_place(sessions, clock, world):
    assert (await do_import(sessions, clock, FULL)).ok
    changed = FULL.replace("end = 2027-01-22", "end = 2027-01-29").replace('note = "元旦"', 'note = "元旦节"')
    report = await do_import(sessions, clock, changed)
    assert report.ok
    assert report.counts == {"terms_updated": 1, "terms_unchanged": 2, "days_updated": 1, "days_unchanged": 2}
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Term)) == 3
        autumn = await session.scalar(select(Term).where(Term.name == "2026年秋季学期"))
        assert autumn.end_date == date(2027, 1, 29)
    assert (await audit_actions(sessions))[-2:] == ["calendar.term_changed", "calendar.day_changed"]


async def test_the_example_file_imports(sessions, clock, world):
    report = await do_import(sessions, clock, EXAMPLE.read_text(encoding="utf-8"))
    assert report.ok, report.problems
    assert report.counts == {"terms_created": 2, "days_created": 1}
    async with sessions() as session:
        cal = await load_calendar(session, world.school.id)
    assert cal.term_on(date(2027, 3, 1)).name == "2027年春季学期"
    assert not cal.is_school_day(date(2027, 1, 1))


BAD_FILES = {
    "unknown_key": FULL + '\nsemester = "秋"\n',
    "unknown_key_in_table": FULL.replace('note = "元旦"', 'note = "元旦"\nkind = "holiday"'),
    "missing_key": FULL.replace("start = 2027-02-22\n", ""),
    "end_before_start": FULL.replace("end = 2027-07-09", "end = 2027-02-01"),
    "overlap": FULL.replace("start = 2027-02-22", "start = 2027-01-15"),
    "unknown_school": FULL.replace('school = "青山镇中心小学"', 'school = "黄河小学"'),
    "not_a_date": FULL.replace("date = 2027-01-09", 'date = "下周六"'),
    "impossible_date": FULL.replace("date = 2027-01-09", 'date = "2027-13-09"'),
    "datetime": FULL.replace("start = 2026-09-01", "start = 2026-09-01T08:00:00"),
    "holiday_and_workday": FULL.replace("date = 2027-01-09", "date = 2027-01-01"),
    "day_twice": FULL + '\n[[holidays]]\ndate = 2027-01-01\nnote = "又一次"\n',
    "term_twice": FULL + '\n[[terms]]\nname = "2026年秋季学期"\nstart = 2027-08-01\nend = 2027-08-02\n',
    "unknown_county": FULL.replace('county = "示范县"', 'county = "不存在县"'),
    "not_tables": 'terms = "2026-09-01"\n',
    "not_text": FULL.replace('name = "2027年春季学期"', "name = 2027"),
}
EXPECTED_CODE = {
    "unknown_key_in_table": "unknown_key", "impossible_date": "not_date", "datetime": "not_date",
    "not_a_date": "not_date",
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
async def test_each_problem_writes_nothing(sessions, clock, world, case):
    before = await snapshot(sessions)
    report = await do_import(sessions, clock, BAD_FILES[case])
    assert not report.ok and not report.written
    assert EXPECTED_CODE.get(case, case) in {problem.code for problem in report.problems}
    assert await snapshot(sessions) == before
    assert before == {"terms": [], "calendar_days": [], "audit_events": []}


async def test_problems_read_well_in_each_language():
    parsed = parse_calendar_text(BAD_FILES["end_before_start"])
    # end before start is found while reading; the message names the table entry
    problem = parsed.problems[0]
    assert problem.render("en") == "[[terms]] no. 2: the term ends (2027-02-01) before it starts (2027-02-22)"
    assert problem.render("zh_Hans") == "第 2 个 [[terms]]：学期结束日期（2027-02-01）早于开始日期（2027-02-22）"
    assert problem.render("zh_Hant") == "第 2 個 [[terms]]：學期結束日期（2027-02-01）早於開始日期（2027-02-22）"


async def test_a_term_overlapping_a_stored_term_of_another_name_is_refused(sessions, clock, world):
    assert (await do_import(sessions, clock, FULL)).ok
    before = await snapshot(sessions)
    other = 'county = "示范县"\n[[terms]]\nname = "秋季学期"\nstart = 2026-09-01\nend = 2027-01-20\n'
    report = await do_import(sessions, clock, other)
    assert [p.code for p in report.problems] == ["overlap"]
    assert report.problems[0].values["other"] == "2026年秋季学期"
    assert await snapshot(sessions) == before


async def test_county_falls_back_to_settings_then_to_the_only_county(sessions, clock, world):
    without = FULL.replace('county = "示范县"\n', "")
    assert (await do_import(sessions, clock, without, default_county="本县")).ok  # no 本县: the only county
    async with sessions() as session, session.begin():
        session.add(County(name="邻县"))
    report = await do_import(sessions, clock, without, default_county="本县")
    assert [p.code for p in report.problems] == ["which_county"]
    assert (await do_import(sessions, clock, without, default_county="示范县")).ok


async def test_invalid_toml_is_unreadable():
    with pytest.raises(UnreadableCalendar) as caught:
        parse_calendar_text("[[terms]]\nstart = 2027-02-30\n", "bad.toml")
    assert caught.value.render("en").startswith("bad.toml is not a valid TOML file: ")


async def test_cli_imports_and_reports_in_the_operators_language(db_url, sessions, clock, world, tmp_path):
    path = tmp_path / "calendar.toml"
    path.write_text(FULL, encoding="utf-8")
    settings = Settings(_env_file=None, database_url=db_url, locale="zh_Hans")
    out = io.StringIO()
    assert await run_import_calendar(settings, clock, path, out=out) == EXIT_OK
    lines = out.getvalue().splitlines()
    assert lines[0] == "示范县校历已导入：学期 新增 3、更改 0、未变 0；日期 新增 3、更改 0、未变 0。"
    assert "2027" in lines[1] and "（目前已录入节假日 1 天）" in lines[1]

    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_FILES["unknown_school"], encoding="utf-8")
    out = io.StringIO()
    english = Settings(_env_file=None, database_url=db_url, locale="en")
    assert await run_import_calendar(english, clock, bad, out=out) == EXIT_PROBLEMS
    assert out.getvalue().splitlines() == [
        "[[closures]] no. 1: no school named “黄河小学” in 示范县",
        "Problems: 1. Nothing was written: fix the file and import again.",
    ]

    out = io.StringIO()
    assert await run_import_calendar(english, clock, tmp_path / "missing.toml", out=out) == EXIT_UNREADABLE
    assert out.getvalue().strip() == f"Cannot read {tmp_path / 'missing.toml'}: the file does not exist"
    assert len((await snapshot(sessions))["terms"]) == 3


# --- closures -----------------------------------------------------------------------------------------------------


async def test_add_and_remove_a_closure_with_audit(sessions, clock, world):
    now = clock.now()
    async with sessions() as session, session.begin():
        check = await check_closure(session, world.school.id, date(2026, 10, 12), date(2026, 9, 7))
        assert check == check.__class__(already_closed=False, in_past=False, outside_term=False,
                                        not_working_day=False)
        row = await add_closure(session, now, world.officer.id, world.school.id, date(2026, 10, 12), "暴雨停课")
        same = await add_closure(session, now, world.officer.id, world.school.id, date(2026, 10, 12), "again")
        assert same.id == row.id and same.note == "暴雨停课"
        assert (await check_closure(session, world.school.id, date(2026, 10, 12), date(2026, 9, 7))).already_closed
        assert [c.id for c in await upcoming_closures(session, [world.school.id], date(2026, 9, 7))] == [row.id]
        assert await upcoming_closures(session, [world.school.id], date(2026, 10, 13)) == []
        assert not (await load_calendar(session, world.school.id)).is_school_day(date(2026, 10, 12))
    async with sessions() as session, session.begin():
        removed = await remove_closure(session, now, world.officer.id, row.id)
        assert removed is not None and removed.day == date(2026, 10, 12)
        assert await remove_closure(session, now, world.officer.id, row.id) is None  # stale
    async with sessions() as session:
        assert (await load_calendar(session, world.school.id)).is_school_day(date(2026, 10, 12))
        events = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [(e.action, e.actor_person_id, e.entity_id) for e in events] == [
        ("calendar.closure_added", world.officer.id, row.id),
        ("calendar.closure_removed", world.officer.id, row.id),
    ]
    assert events[0].details == {"school_id": world.school.id, "day": "2026-10-12"}


async def test_only_the_schools_officers_may_change_closures(sessions, clock, world):
    now = clock.now()
    baishi = await school_id(sessions, "白石村小学")
    async with sessions() as session, session.begin():
        for person in (world.teacher, world.township_officer, world.father_li):
            with pytest.raises(NotAllowed):
                await add_closure(session, now, person.id, world.school.id, date(2026, 10, 12), "x")
        row = await add_closure(session, now, world.officer.id, world.school.id, date(2026, 10, 12), "暴雨停课")
        with pytest.raises(NotAllowed):
            await add_closure(session, now, world.officer.id, baishi, date(2026, 10, 12), "not my school")
        with pytest.raises(NotAllowed):
            await remove_closure(session, now, world.teacher.id, row.id)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CalendarDay)) == 1


async def test_check_closure_flags_past_vacation_and_weekend_days(sessions, clock, world):
    assert (await do_import(sessions, clock, FULL)).ok
    async with sessions() as session:
        past = await check_closure(session, world.school.id, date(2026, 9, 4), date(2026, 9, 7))
        vacation = await check_closure(session, world.school.id, date(2027, 2, 1), date(2026, 9, 7))
        weekend = await check_closure(session, world.school.id, date(2026, 10, 17), date(2026, 9, 7))
    assert past.in_past and not past.outside_term
    assert vacation.outside_term and not vacation.in_past
    assert weekend.not_working_day and not weekend.outside_term


# --- the missing-year notice --------------------------------------------------------------------------------------


async def test_officers_are_told_once_when_next_years_holidays_are_missing(sessions, world):
    settings = Settings(_env_file=None)
    async with sessions() as session, session.begin():
        await link(session, world.officer, 5001, datetime.fromisoformat("2026-09-07T08:00:00+08:00"))
    september = ManualClock(datetime.fromisoformat("2026-09-07T08:00:00+08:00"))
    async with sessions() as session, session.begin():
        assert await warn_missing_official_years(session, settings, september.now()) == 0  # 2026 is known
    december = ManualClock(datetime.fromisoformat("2026-12-01T08:00:00+08:00"))
    async with sessions() as session, session.begin():
        assert await warn_missing_official_years(session, settings, december.now()) == 1
    async with sessions() as session, session.begin():
        assert await warn_missing_official_years(session, settings, december.now()) == 0  # once
    async with sessions() as session:
        notices = list(await session.scalars(select(OutboxMessage)))
    assert [(n.person_id, n.template, n.idempotency_key) for n in notices] == [
        (world.officer.id, "calendar_missing_year", f"calendar-missing-year:2027:{world.officer.id}")
    ]
    assert "2027年法定节假日尚未录入" in notices[0].text
