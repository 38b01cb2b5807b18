"""The ladder's policy as data: thresholds and deadlines of 控辍保学, read from a TOML file and checked at start.

The defaults ship as `bot/core/policy.toml` (DOMAIN.md, "The ladder"). `QUANXUE_POLICY` names another file; its keys
replace the defaults key by key within each section (a duration given there replaces the default one whole), so a
locality writes only what differs. Every duration names its unit: `{ hours = 4 }`, `{ school_days = 3 }` (counted
on the school's calendar), `{ calendar_days = 7 }` or `{ months = 6 }` (the law's periods); a deadline in calendar
days that lands on a day without school moves to the next school day. Times of day are local, `"17:00"`.

A bad file stops the app at start (`quanxue run`, `quanxue tick`) with every problem listed as
`file: key.path: what is wrong`, in the operator's language (`settings.locale`).
"""

from __future__ import annotations

import re
import tomllib
from calendar import monthrange
from collections.abc import Callable
from datetime import date, time, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.calendar.days import SchoolCalendar
from bot.core.i18n import gettext
from bot.core.settings import Settings

DEFAULT_POLICY = Path(__file__).resolve().parent / "policy.toml"


def _(message: str) -> str:
    """Extraction marker: the msgid is translated when the error is shown."""
    return message


class Unit(StrEnum):
    HOURS = "hours"
    SCHOOL_DAYS = "school_days"
    CALENDAR_DAYS = "calendar_days"
    MONTHS = "months"


DAY_UNITS = (Unit.SCHOOL_DAYS, Unit.CALENDAR_DAYS)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Duration(_Strict):
    """A length of time with exactly one unit."""

    hours: StrictInt | None = None
    school_days: StrictInt | None = None
    calendar_days: StrictInt | None = None
    months: StrictInt | None = None

    @model_validator(mode="after")
    def _one_positive_unit(self) -> Duration:
        given = [unit for unit in Unit if getattr(self, unit.value) is not None]
        if len(given) != 1:
            raise PydanticCustomError("policy_one_unit", "a duration names exactly one unit")
        if getattr(self, given[0].value) <= 0:
            raise PydanticCustomError("policy_positive", "must be greater than zero")
        return self

    @property
    def unit(self) -> Unit:
        return next(unit for unit in Unit if getattr(self, unit.value) is not None)

    @property
    def amount(self) -> int:
        return getattr(self, self.unit.value)

    def as_timedelta(self) -> timedelta:
        """The duration as a span of time (hours or calendar days; school days have no fixed length)."""
        if self.unit is Unit.HOURS:
            return timedelta(hours=self.amount)
        if self.unit is Unit.CALENDAR_DAYS:
            return timedelta(days=self.amount)
        raise ValueError("school days have no fixed length: use after(day, calendar)")

    def after(self, day: date, calendar: SchoolCalendar | None) -> date:
        """The deadline this duration after `day`: the n-th school day after `day` on the school's calendar (n
        calendar days later when the calendar has no school day that far ahead), or n calendar days (months) later,
        moved to the next school day when that day has no school and a calendar is given."""
        if self.unit is Unit.SCHOOL_DAYS:
            days = calendar.school_days_after(day, self.amount) if calendar is not None else []
            return days[-1] if len(days) == self.amount else day + timedelta(days=self.amount)
        if self.unit is Unit.HOURS:
            raise ValueError("an hours duration does not give a day")
        end = add_months(day, self.amount) if self.unit is Unit.MONTHS else day + timedelta(days=self.amount)
        if calendar is not None and not calendar.is_school_day(end):
            following = calendar.school_days_after(end, 1)
            return following[0] if following else end
        return end

    def period_end(self, day: date) -> date:
        """The last day of a period of this length that starts the day after `day` (a law's time limit: 60 days,
        6 months), whatever the school calendar says."""
        if self.unit is Unit.MONTHS:
            return add_months(day, self.amount)
        if self.unit is Unit.CALENDAR_DAYS:
            return day + timedelta(days=self.amount)
        raise ValueError("a legal period is counted in calendar days or months")

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.value}"


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later (the month's last day when it is shorter)."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def _units(*allowed: Unit) -> Callable[[Duration], Duration]:
    def check(value: Duration) -> Duration:
        if value.unit not in allowed:
            raise PydanticCustomError(
                "policy_unit_not_allowed", "unit not allowed here", {"allowed": ", ".join(u.value for u in allowed)}
            )
        return value

    return check


_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _time_of_day(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        match = _TIME.match(value.strip())
        if match:
            return time(int(match.group(1)), int(match.group(2)))
    raise PydanticCustomError("policy_time", "not a time of day")


Hours = Annotated[Duration, AfterValidator(_units(Unit.HOURS))]
SchoolDays = Annotated[Duration, AfterValidator(_units(Unit.SCHOOL_DAYS))]
Days = Annotated[Duration, AfterValidator(_units(*DAY_UNITS))]
Period = Annotated[Duration, AfterValidator(_units(Unit.CALENDAR_DAYS, Unit.MONTHS))]
TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]


def _positive(value: int) -> int:
    if value <= 0:
        raise PydanticCustomError("policy_positive", "must be greater than zero")
    return value


PositiveCount = Annotated[StrictInt, AfterValidator(_positive)]


class ContactPolicy(_Strict):
    reply_reminder_after: Hours
    teacher_phone_at: TimeOfDay


class NoticeSending(StrEnum):
    """Who sends the 劝学书 when a case opens."""

    OFFICER_CONFIRMS = "officer_confirms"  # the school officer confirms it with one tap
    AUTOMATIC = "automatic"  # it goes out when the case opens


class SuspicionPolicy(_Strict):
    after: SchoolDays
    home_visit_within: Days
    persuasion_deadline: Days
    persuasion_notice: NoticeSending
    confirm_reminder_after: Hours


class ReportPolicy(_Strict):
    failed_home_visits: PositiveCount


class RollCallPolicy(_Strict):
    missing_alert_at: TimeOfDay


class PatternPolicy(_Strict):
    unexplained_days_per_month: PositiveCount
    excused_days_per_month: PositiveCount


class LeavePolicy(_Strict):
    teacher_max: SchoolDays


class OrderPolicy(_Strict):
    deadline: Days


class WatchPolicy(_Strict):
    after_return: Days


class ReturnConfirmationPolicy(_Strict):
    teacher_after: SchoolDays
    officer_after: SchoolDays


class LegalStepsPolicy(_Strict):
    enabled: StrictBool
    court_after_demand: Days
    review_period: Period
    suit_period: Period
    court_window: Period


class PrivacyPolicy(_Strict):
    retention: Period


class PriorityGroupsPolicy(_Strict):
    tags: tuple[str, ...]
    suspected_after: SchoolDays


class TermStartPolicy(_Strict):
    check_after: SchoolDays


class Policy(_Strict):
    contact: ContactPolicy
    rollcall: RollCallPolicy
    suspected_dropout: SuspicionPolicy
    report: ReportPolicy
    patterns: PatternPolicy
    leave: LeavePolicy
    return_order: OrderPolicy
    watch: WatchPolicy
    return_confirmation: ReturnConfirmationPolicy
    legal_steps: LegalStepsPolicy
    privacy: PrivacyPolicy
    priority_groups: PriorityGroupsPolicy
    term_start: TermStartPolicy


# --- errors -------------------------------------------------------------------------------------------------------

_MESSAGES = {
    "extra_forbidden": _("unknown key"),
    "missing": _("missing"),
    "policy_one_unit": _("a duration names exactly one unit: hours, school_days, calendar_days or months"),
    "enum": _("must be one of: {expected}"),
    "policy_positive": _("must be greater than zero"),
    "policy_unit_not_allowed": _("this unit is not allowed here; use {allowed}"),
    "policy_time": _("not a time of day; write it like \"17:00\""),
    "int_type": _("must be a whole number"),
    "bool_type": _("must be true or false"),
    "model_type": _("must be a table, e.g. {{ calendar_days = 7 }}"),
    "model_attributes_type": _("must be a table, e.g. {{ calendar_days = 7 }}"),
}


class PolicyError(ValueError):
    """A policy file that cannot be used; `problems` are (key path, message) pairs, already translated."""

    def __init__(self, path: Path, problems: list[tuple[str, str]], locale: str) -> None:
        self.path = path
        self.problems = problems
        header = gettext("The policy file {path} cannot be used:", locale).format(path=path)
        lines = [f"{path}: {key}: {message}" if key else f"{path}: {message}" for key, message in problems]
        super().__init__("\n".join([header, *lines]))


def _problems(error: ValidationError, locale: str) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"] if not str(part).startswith("function-")]
        msgid = _MESSAGES.get(item["type"])
        if msgid is None:
            message = item["msg"]
        else:
            message = gettext(msgid, locale).format(**{k: v for k, v in (item.get("ctx") or {}).items()})
        problems.append((".".join(loc), message))
    return problems


# --- loading ------------------------------------------------------------------------------------------------------


def _read(path: Path, locale: str) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise PolicyError(path, [("", gettext("the file does not exist", locale))], locale) from None
    except tomllib.TOMLDecodeError as exc:
        message = gettext("not valid TOML: {error}", locale).format(error=exc)
        raise PolicyError(path, [("", message)], locale) from None


def _merge(defaults: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    """The defaults with the local file's keys replacing them, section by section (values are replaced whole)."""
    merged: dict[str, Any] = {name: dict(section) for name, section in defaults.items()}
    for name, section in local.items():
        if isinstance(section, dict) and isinstance(merged.get(name), dict):
            merged[name].update(section)
        else:
            merged[name] = section  # an unknown section, or not a table: validation names it
    return merged


def parse_policy(path: Path | None, locale: str = "en") -> Policy:
    """Read and check the policy: the shipped defaults, overridden by the file at `path` when one is given.
    Raises `PolicyError` naming the file and every bad key."""
    data = _read(DEFAULT_POLICY, locale)
    source = DEFAULT_POLICY
    if path is not None:
        source = Path(path)
        data = _merge(data, _read(source, locale))
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(source, _problems(exc, locale), locale) from None


@lru_cache(maxsize=8)
def _cached(path: Path | None, locale: str) -> Policy:
    return parse_policy(path, locale)


def load_policy(settings: Settings) -> Policy:
    """The deployment's policy (`settings.policy`, else the defaults), read once per path."""
    path = Path(settings.policy).resolve() if settings.policy is not None else None
    return _cached(path, settings.locale)


def default_policy() -> Policy:
    return _cached(None, "en")
