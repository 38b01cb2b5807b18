"""The ladder's policy file: the defaults of DOMAIN.md, a local file overriding some keys, and every kind of
mistake reported with the file, the key path and what is wrong, in the operator's language; a bad file stops
`quanxue tick` and `quanxue run` before they start."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from bot.calendar.days import SchoolCalendar
from bot.core.policy import (
    DEFAULT_POLICY,
    NoticeSending,
    PolicyError,
    Unit,
    default_policy,
    load_policy,
    parse_policy,
)
from bot.core.settings import Settings
from bot.tick import run_tick_cli


def write(tmp_path, text: str):
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path, text: str, locale: str = "en") -> list[tuple[str, str]]:
    with pytest.raises(PolicyError) as error:
        parse_policy(write(tmp_path, text), locale)
    assert str(tmp_path / "policy.toml") in str(error.value)
    return error.value.problems


def test_the_defaults_are_domain_md():
    policy = default_policy()
    assert policy.contact.reply_reminder_after.as_timedelta() == timedelta(hours=4)
    assert policy.contact.teacher_phone_at == time(17, 0)
    assert (policy.suspected_dropout.after.unit, policy.suspected_dropout.after.amount) == (Unit.SCHOOL_DAYS, 3)
    assert (policy.suspected_dropout.home_visit_within.unit,
            policy.suspected_dropout.home_visit_within.amount) == (Unit.SCHOOL_DAYS, 2)
    assert policy.suspected_dropout.persuasion_deadline.as_timedelta() == timedelta(days=7)
    assert policy.report.failed_home_visits == 2
    assert policy.suspected_dropout.persuasion_notice is NoticeSending.OFFICER_CONFIRMS
    assert policy.suspected_dropout.confirm_reminder_after.as_timedelta() == timedelta(hours=4)
    assert policy.rollcall.missing_alert_at == time(17, 0)
    assert (policy.patterns.unexplained_days_per_month, policy.patterns.excused_days_per_month) == (5, 10)
    assert (policy.leave.teacher_max.unit, policy.leave.teacher_max.amount) == (Unit.SCHOOL_DAYS, 5)
    assert policy.return_order.deadline.as_timedelta() == timedelta(days=10)
    assert policy.watch.after_return.as_timedelta() == timedelta(days=28)
    assert (policy.return_confirmation.teacher_after.unit,
            policy.return_confirmation.teacher_after.amount) == (Unit.SCHOOL_DAYS, 2)
    assert (policy.return_confirmation.officer_after.unit,
            policy.return_confirmation.officer_after.amount) == (Unit.SCHOOL_DAYS, 3)
    assert policy.legal_steps.enabled is False
    assert policy.legal_steps.court_after_demand.as_timedelta() == timedelta(days=10)
    assert policy.legal_steps.review_period.as_timedelta() == timedelta(days=60)
    assert (policy.legal_steps.suit_period.unit, policy.legal_steps.suit_period.amount) == (Unit.MONTHS, 6)
    assert (policy.legal_steps.court_window.unit, policy.legal_steps.court_window.amount) == (Unit.MONTHS, 3)
    assert parse_policy(DEFAULT_POLICY) == policy


def test_durations_count_school_days_on_the_calendar():
    calendar = SchoolCalendar()
    tuesday = date(2026, 9, 29)
    assert default_policy().suspected_dropout.home_visit_within.after(tuesday, calendar) == date(2026, 10, 8)
    # seven calendar days land on Oct 6, in the National Day holiday: moved to the next school day
    assert default_policy().suspected_dropout.persuasion_deadline.after(tuesday, calendar) == date(2026, 10, 8)
    assert default_policy().suspected_dropout.persuasion_deadline.after(tuesday, None) == date(2026, 10, 6)


def test_the_laws_periods_count_months_to_the_same_day():
    suit = default_policy().legal_steps.suit_period
    assert suit.period_end(date(2026, 10, 9)) == date(2027, 4, 9)
    assert suit.period_end(date(2026, 8, 31)) == date(2027, 2, 28)  # a shorter month: its last day
    assert default_policy().legal_steps.review_period.period_end(date(2026, 10, 9)) == date(2026, 12, 8)


def test_a_local_file_overrides_only_what_it_names(tmp_path):
    policy = parse_policy(write(tmp_path, """
[suspected_dropout]
persuasion_deadline = { school_days = 5 }

[legal_steps]
enabled = true

[contact]
teacher_phone_at = 16:30:00
"""))
    assert (policy.suspected_dropout.persuasion_deadline.unit,
            policy.suspected_dropout.persuasion_deadline.amount) == (Unit.SCHOOL_DAYS, 5)
    assert policy.suspected_dropout.after.amount == 3
    assert policy.legal_steps.enabled is True
    assert policy.contact.teacher_phone_at == time(16, 30)
    assert policy.contact.reply_reminder_after.amount == 4


@pytest.mark.parametrize(("text", "key", "message"), [
    ("[contact]\nreply_reminder = { hours = 4 }", "contact.reply_reminder", "unknown key"),
    ("[penalties]\nfine = 100", "penalties", "unknown key"),
    ("[suspected_dropout]\nafter = { school_days = 3, weeks = 1 }", "suspected_dropout.after.weeks", "unknown key"),
    ("[suspected_dropout]\nafter = {}", "suspected_dropout.after", "exactly one unit"),
    ("[suspected_dropout]\nafter = 3", "suspected_dropout.after", "must be a table"),
    ("[return_order]\ndeadline = { calendar_days = 10, school_days = 7 }", "return_order.deadline",
     "exactly one unit"),
    ("[return_order]\ndeadline = { calendar_days = -10 }", "return_order.deadline", "greater than zero"),
    ("[watch]\nafter_return = { calendar_days = 0 }", "watch.after_return", "greater than zero"),
    ("[return_confirmation]\nteacher_after = { school_days = 0 }", "return_confirmation.teacher_after",
     "greater than zero"),
    ("[return_confirmation]\nofficer_after = { calendar_days = 3 }", "return_confirmation.officer_after",
     "not allowed here; use school_days"),
    ("[report]\nfailed_home_visits = 0", "report.failed_home_visits", "greater than zero"),
    ("[report]\nfailed_home_visits = true", "report.failed_home_visits", "whole number"),
    ("[contact]\nreply_reminder_after = { hours = 2.5 }", "contact.reply_reminder_after.hours", "whole number"),
    ("[contact]\nreply_reminder_after = { calendar_days = 1 }", "contact.reply_reminder_after",
     "not allowed here; use hours"),
    ("[suspected_dropout]\nafter = { calendar_days = 3 }", "suspected_dropout.after",
     "not allowed here; use school_days"),
    ("[contact]\nteacher_phone_at = \"25:00\"", "contact.teacher_phone_at", "not a time of day"),
    ("[contact]\nteacher_phone_at = 17", "contact.teacher_phone_at", "not a time of day"),
    ("[legal_steps]\nenabled = \"no\"", "legal_steps.enabled", "true or false"),
    ("[legal_steps]\nsuit_period = { school_days = 120 }", "legal_steps.suit_period",
     "not allowed here; use calendar_days, months"),
    ("[suspected_dropout]\npersuasion_notice = \"never\"", "suspected_dropout.persuasion_notice", "must be one of"),
    ("[watch]\nafter_return = { months = 1 }", "watch.after_return",
     "not allowed here; use school_days, calendar_days"),
])
def test_each_mistake_is_named(tmp_path, text, key, message):
    found = problems(tmp_path, text)
    assert [k for k, _ in found] == [key]
    assert message in found[0][1]


def test_every_mistake_is_listed_at_once(tmp_path):
    found = problems(tmp_path, "[report]\nfailed_home_visits = -1\n[watch]\nafter_return = { days = 28 }")
    assert [key for key, _ in found] == ["report.failed_home_visits", "watch.after_return.days"]


def test_a_file_that_is_not_toml_or_missing(tmp_path):
    assert "not valid TOML" in problems(tmp_path, "[contact\nx = 1")[0][1]
    with pytest.raises(PolicyError, match="the file does not exist"):
        parse_policy(tmp_path / "nowhere.toml")


def test_errors_speak_the_operators_language(tmp_path):
    with pytest.raises(PolicyError) as error:
        parse_policy(write(tmp_path, "[watch]\nafter_return = { calendar_days = -1 }"), "zh_Hans")
    assert "政策文件" in str(error.value) and "watch.after_return: 必须大于零" in str(error.value)
    settings = Settings(_env_file=None, locale="zh_Hant", policy=tmp_path / "policy.toml")
    with pytest.raises(PolicyError, match="必須大於零"):
        load_policy(settings)


def test_load_policy_reads_the_file_once(tmp_path):
    path = write(tmp_path, "[report]\nfailed_home_visits = 3")
    settings = Settings(_env_file=None, policy=path)
    policy = load_policy(settings)
    assert policy.report.failed_home_visits == 3
    assert load_policy(settings) is policy
    assert load_policy(Settings(_env_file=None)) == default_policy()


async def test_a_bad_policy_stops_the_tick_before_it_starts(tmp_path, caplog):
    path = write(tmp_path, "[report]\nfailed = 3")
    settings = Settings(_env_file=None, policy=path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'never.db'}")
    assert await run_tick_cli(settings, default_now()) == 2
    assert "report.failed: 未知的设置项" in caplog.text  # the deployment's language (zh_Hans by default)
    assert not (tmp_path / "never.db").exists()


async def test_a_bad_policy_stops_the_bot_before_it_starts(tmp_path, caplog):
    from bot.core.clock import ManualClock
    from bot.runner import serve

    path = write(tmp_path, "[watch]\nafter_return = { calendar_days = 0 }")
    settings = Settings(_env_file=None, policy=path, bot_token="123:abc",
                        database_url=f"sqlite+aiosqlite:///{tmp_path / 'never.db'}")
    assert await serve(settings, ManualClock(default_now())) == 2
    assert "watch.after_return" in caplog.text
    assert not (tmp_path / "never.db").exists()


def default_now():
    from datetime import datetime

    return datetime.fromisoformat("2026-09-07T08:00:00+08:00")
