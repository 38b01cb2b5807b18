"""The school calendar as a plain object: terms, weekends, official holidays and 调休, admin rows, closures."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.calendar.days import SchoolCalendar, TermSpan, official_workday, official_year_known, parse_day
from storage.models import CalendarDay, DayKind, Term

AUTUMN = Term(county_id=1, name="2026年秋季学期", start_date=date(2026, 9, 1), end_date=date(2027, 1, 22))
SPRING = Term(county_id=1, name="2027年春季学期", start_date=date(2027, 2, 22), end_date=date(2027, 7, 9))


def county_day(day: date, kind: DayKind, note: str = "") -> CalendarDay:
    return CalendarDay(county_id=1, day=day, kind=kind, note=note)


def closure(day: date, school_id: int = 7) -> CalendarDay:
    return CalendarDay(school_id=school_id, day=day, kind=DayKind.CLOSURE, note="暴雨停课")


def calendar(days: list[CalendarDay] | None = None, school_terms: list[Term] | None = None) -> SchoolCalendar:
    return SchoolCalendar.from_rows(7, [AUTUMN, SPRING], school_terms or [], days or [])


def test_weekdays_in_term_are_school_days_and_weekends_are_not():
    cal = calendar()
    assert cal.is_school_day(date(2026, 9, 7))  # Monday
    assert cal.is_school_day(date(2026, 9, 11))  # Friday
    assert not cal.is_school_day(date(2026, 9, 12))  # Saturday
    assert not cal.is_school_day(date(2026, 9, 13))  # Sunday
    assert cal.school_days(date(2026, 9, 7), date(2026, 9, 13)) == [date(2026, 9, d) for d in range(7, 12)]


def test_national_day_week_is_not_school_days():
    cal = calendar()
    assert all(not cal.is_school_day(date(2026, 10, d)) for d in range(1, 8))
    assert cal.count_school_days(date(2026, 10, 1), date(2026, 10, 7)) == 0


def test_mid_autumn_festival_2026_is_a_holiday():
    assert not calendar().is_school_day(date(2026, 9, 25))  # a Friday, 中秋节


@pytest.mark.parametrize("makeup_day", [date(2026, 9, 20), date(2026, 10, 10)])
def test_tiaoxiu_weekend_workday_is_a_school_day_in_term(makeup_day):
    assert makeup_day.weekday() >= 5  # a Sunday and a Saturday, made working days for the holidays
    assert official_workday(makeup_day)
    assert calendar().is_school_day(makeup_day)


def test_vacations_and_days_before_the_first_term_are_not_school_days():
    cal = calendar()
    assert not cal.is_school_day(date(2026, 8, 31))  # Monday before the term
    assert cal.is_school_day(date(2026, 9, 1))  # first day of term, a Tuesday
    assert not cal.is_school_day(date(2027, 2, 1))  # Monday in the winter vacation
    assert not cal.is_school_day(date(2027, 7, 12))  # Monday in the summer vacation
    assert cal.term_on(date(2027, 2, 1)) is None
    assert cal.current_or_last_term(date(2027, 2, 1)) == TermSpan("2026年秋季学期", date(2026, 9, 1), date(2027, 1, 22))
    assert cal.term_on(date(2027, 3, 1)) == ("2027年春季学期", date(2027, 2, 22), date(2027, 7, 9))
    assert cal.current_or_last_term(date(2026, 8, 1)) is None


def test_a_year_without_official_data_falls_back_to_weekdays_and_admin_rows_and_never_raises():
    assert not official_year_known(2027)
    assert official_year_known(2026)
    cal = calendar([
        county_day(date(2027, 1, 1), DayKind.HOLIDAY, "元旦"),  # a Friday
        county_day(date(2027, 1, 9), DayKind.WORKDAY, "调休"),  # a Saturday
    ])
    assert not cal.is_school_day(date(2027, 1, 1))
    assert not cal.is_school_day(date(2027, 1, 2))  # Saturday
    assert cal.is_school_day(date(2027, 1, 4))  # Monday
    assert cal.is_school_day(date(2027, 1, 9))
    assert not cal.is_school_day(date(2027, 1, 10))  # Sunday
    # a whole stretch of unknown years: no NotImplementedError anywhere
    assert cal.count_school_days(date(2026, 12, 28), date(2027, 7, 9)) > 0
    assert calendar().school_days_before(date(2027, 3, 1), 5)
    assert SchoolCalendar().is_school_day(date(2031, 5, 6))  # a Tuesday, no terms: a school day
    assert SchoolCalendar().missing_official_years(date(2026, 9, 1), date(2028, 1, 1)) == {2027, 2028}
    assert SchoolCalendar().missing_official_years(date(2026, 9, 1), date(2026, 12, 31)) == set()


def test_county_rows_override_the_official_calendar_in_known_years_too():
    cal = calendar([
        county_day(date(2026, 9, 8), DayKind.HOLIDAY, "县里放假"),  # a Tuesday
        county_day(date(2026, 10, 3), DayKind.WORKDAY, "补课"),  # inside the National Day holiday
    ])
    assert not cal.is_school_day(date(2026, 9, 8))
    assert cal.is_school_day(date(2026, 10, 3))


def test_the_schools_own_terms_replace_the_countys():
    own = Term(school_id=7, name="白石村小学秋季学期", start_date=date(2026, 9, 7), end_date=date(2027, 1, 15))
    cal = calendar(school_terms=[own])
    assert cal.terms == (TermSpan("白石村小学秋季学期", date(2026, 9, 7), date(2027, 1, 15)),)
    assert not cal.is_school_day(date(2026, 9, 1))  # the county's term has begun, this school's has not
    assert cal.is_school_day(date(2026, 9, 7))
    assert not cal.is_school_day(date(2027, 1, 18))  # the county's term still runs
    assert not cal.is_school_day(date(2027, 3, 1))  # the county's spring term does not apply either


def test_closures_are_not_school_days():
    cal = calendar([closure(date(2026, 10, 12))])
    assert not cal.is_school_day(date(2026, 10, 12))
    assert cal.is_school_day(date(2026, 10, 13))
    county_wide = calendar([CalendarDay(county_id=1, day=date(2026, 10, 14), kind=DayKind.CLOSURE)])
    assert not county_wide.is_school_day(date(2026, 10, 14))


def test_school_days_before_walks_back_across_the_weekend():
    cal = calendar()
    tuesday = date(2026, 9, 15)
    assert cal.school_days_before(tuesday, 3) == [date(2026, 9, 11), date(2026, 9, 14), tuesday]
    # from a Sunday: the Sunday itself is not one
    assert cal.school_days_before(date(2026, 9, 13), 2) == [date(2026, 9, 10), date(2026, 9, 11)]
    # across the National Day week and the 调休 Saturday 10-10
    assert cal.school_days_before(date(2026, 10, 8), 2) == [date(2026, 9, 30), date(2026, 10, 8)]
    assert cal.school_days_before(date(2026, 10, 12), 3) == [date(2026, 10, 9), date(2026, 10, 10), date(2026, 10, 12)]


def test_school_days_before_stops_at_the_term_start_and_the_lookback_limit():
    cal = calendar()
    assert cal.school_days_before(date(2026, 9, 2), 5) == [date(2026, 9, 1), date(2026, 9, 2)]
    # in the summer vacation: the last days of the spring term are within the look-back window
    assert len(cal.school_days_before(date(2027, 8, 20), 3)) == 3
    assert cal.school_days_before(date(2027, 12, 31), 3) == []  # 120 days back is still the vacation


def test_school_days_after():
    cal = calendar()
    assert cal.school_days_after(date(2026, 9, 30), 2) == [date(2026, 10, 8), date(2026, 10, 9)]


def test_without_terms_every_working_day_counts():
    cal = SchoolCalendar.from_rows(7, [], [], [closure(date(2026, 10, 12))])
    assert not cal.has_terms
    assert calendar().has_terms
    assert cal.is_school_day(date(2026, 8, 3))  # a Monday in what would be the summer vacation
    assert not cal.is_school_day(date(2026, 8, 1))  # Saturday
    assert not cal.is_school_day(date(2026, 10, 1))
    assert not cal.is_school_day(date(2026, 10, 12))
    assert cal.term_on(date(2026, 9, 7)) is None
    assert cal.current_or_last_term(date(2026, 9, 7)) is None


def test_count_school_days_of_the_autumn_term_2026_part():
    cal = calendar()
    # September 2026: 22 weekdays from the 1st, minus 中秋 (25th), plus the 调休 Sunday (20th)
    assert cal.count_school_days(date(2026, 9, 1), date(2026, 9, 30)) == 22
    assert cal.count_school_days(date(2026, 9, 30), date(2026, 9, 1)) == 0
    weekdays = sum(1 for k in range(30) if (date(2026, 9, 1) + timedelta(days=k)).weekday() < 5)
    assert weekdays == 22


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-12", date(2026, 10, 12)),
        ("2026/10/12", date(2026, 10, 12)),
        ("2026.1.5", date(2026, 1, 5)),
        ("2026年10月12日", date(2026, 10, 12)),
        ("2026-02-30", None),
        ("12/10/2026", None),
        ("tomorrow", None),
        ("", None),
    ],
)
def test_parse_day(text, expected):
    assert parse_day(text) == expected
