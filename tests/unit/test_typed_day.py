"""The one parser for a typed day: a full date, or a month and day whose year depends on which way the question
looks (a visit that happened, a leave to come)."""

from datetime import date

import pytest

from bot.calendar.typed import Looking, parse_typed_day

TODAY = date(2026, 9, 9)


@pytest.mark.parametrize("text", ["2026-09-15", "2026年9月15日", "９-１５", "9/15", "9.15", "9月15日", " 9 - 15 "])
def test_the_ways_people_type_a_day(text):
    assert parse_typed_day(text, TODAY, Looking.AHEAD) == date(2026, 9, 15)


@pytest.mark.parametrize("text", ["tomorrow", "13-40", "2-30", "", "2026-02-30"])
def test_what_is_not_a_day(text):
    assert parse_typed_day(text, TODAY, Looking.BACK) is None
    assert parse_typed_day(text, TODAY, Looking.AHEAD) is None


def test_looking_back_takes_the_nearer_year():
    assert parse_typed_day("12-28", date(2027, 1, 5), Looking.BACK) == date(2026, 12, 28)
    assert parse_typed_day("9-10", TODAY, Looking.BACK) == date(2026, 9, 10)  # tomorrow: the caller refuses it


def test_looking_ahead_rolls_into_next_year_only_when_near():
    assert parse_typed_day("1-5", date(2026, 12, 20), Looking.AHEAD) == date(2027, 1, 5)
    assert parse_typed_day("3-1", TODAY, Looking.AHEAD) == date(2026, 3, 1)  # too far ahead: the past day, refused
