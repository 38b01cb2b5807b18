"""The school calendar: which days are school days, for one school.

A day is a school day when all of these hold:
- it lies inside a term (学期) of the school: the school's own terms when it has any, else its county's; when no
  term is configured at all every day counts as "in term" (`SchoolCalendar.has_terms` is False), so a fresh
  deployment without term dates still works on weekdays;
- the school is not closed that day (a `DayKind.CLOSURE` row of the school or of its county);
- it is an official working day: China's public holidays and make-up working days (调休) from the
  `chinese_calendar` package when it has data for the year, else Monday to Friday. In both cases holiday/workday
  rows the county entered override the official answer (school rows override the county's).

`SchoolCalendar` is a plain object built from rows; `load_calendars` builds many of them in a constant number of
queries. Nothing here raises on a year the package does not know: `missing_official_years` tells which years fall
back, and `warn_missing_official_years` tells the school officers once per year.

No aiogram here: the handlers, the CLI and the scheduler call the same functions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import NamedTuple, Protocol

import chinese_calendar
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import audit
from bot.core.clock import to_local
from bot.core.settings import Settings
from bot.notices.outbox import Delivery, enqueue_notice, queued_keys
from storage.models import CalendarDay, DayKind, Person, Role, School, StaffRole, Term, Township

LOOKBACK_DAYS = 120  # how far school_days_before walks back at most
MISSING_YEAR_NOTICE_DAYS = 60  # warn the officers this long before a year without official data is needed
OFFICER_ROLES = (Role.SCHOOL_ADMIN, Role.PRINCIPAL)


class NotAllowed(PermissionError):
    """The acting person may not change this school's calendar."""


# --- the official calendar ----------------------------------------------------------------------------------------


@cache
def official_year_known(year: int) -> bool:
    """Whether the installed `chinese_calendar` has the State Council's holidays for `year` (cached per year)."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def official_workday(day: date) -> bool:
    """Whether people work on `day` by the official calendar (调休 weekend workdays included); Mon–Fri when the
    package has no data for the year."""
    if official_year_known(day.year):
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


# --- one school's calendar ----------------------------------------------------------------------------------------


class TermSpan(NamedTuple):
    name: str
    start: date
    end: date


class TermLike(Protocol):
    name: str
    start_date: date
    end_date: date


class DayLike(Protocol):
    day: date
    kind: str
    school_id: int | None


@dataclass
class SchoolCalendar:
    """What counts as a school day for one school. Build with `from_rows` (or directly with resolved data)."""

    school_id: int | None = None
    terms: tuple[TermSpan, ...] = ()  # already resolved: the school's own terms, or else the county's
    holidays: frozenset[date] = frozenset()  # admin-entered days off (override the official calendar)
    workdays: frozenset[date] = frozenset()  # admin-entered make-up working days (override too)
    closures: frozenset[date] = frozenset()
    _memo: dict[date, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.terms = tuple(sorted(self.terms, key=lambda term: (term.start, term.end)))

    @classmethod
    def from_rows(
        cls,
        school_id: int | None,
        county_terms: Iterable[TermLike] = (),
        school_terms: Iterable[TermLike] = (),
        days: Iterable[DayLike] = (),
    ) -> SchoolCalendar:
        """Terms of the school replace the county's when it has any. `days` are the county's and the school's
        CalendarDay rows: holiday/workday rows override the official calendar (the school's over the county's),
        closure rows close the school."""
        own = [TermSpan(t.name, t.start_date, t.end_date) for t in school_terms]
        terms = own or [TermSpan(t.name, t.start_date, t.end_date) for t in county_terms]
        overrides: dict[date, str] = {}
        closures: set[date] = set()
        # county rows first, then the school's, so that the school's own answer wins
        for row in sorted(days, key=lambda r: r.school_id is not None):
            if row.kind == DayKind.CLOSURE:
                closures.add(row.day)
            elif row.kind in (DayKind.HOLIDAY, DayKind.WORKDAY):
                overrides[row.day] = row.kind
        return cls(
            school_id=school_id,
            terms=tuple(terms),
            holidays=frozenset(d for d, kind in overrides.items() if kind == DayKind.HOLIDAY),
            workdays=frozenset(d for d, kind in overrides.items() if kind == DayKind.WORKDAY),
            closures=frozenset(closures),
        )

    # -- single days -----------------------------------------------------------------------------------------------

    @property
    def has_terms(self) -> bool:
        return bool(self.terms)

    def term_on(self, day: date) -> TermSpan | None:
        """The term `day` falls in (name, start, end), or None (vacation, or no terms configured)."""
        return next((term for term in self.terms if term.start <= day <= term.end), None)

    def current_or_last_term(self, day: date) -> TermSpan | None:
        """The term `day` falls in, else the latest term that ended before it (e.g. during a vacation)."""
        current = self.term_on(day)
        if current is not None:
            return current
        ended = [term for term in self.terms if term.end < day]
        return max(ended, key=lambda term: term.end) if ended else None

    def in_term(self, day: date) -> bool:
        return not self.terms or self.term_on(day) is not None

    def is_working_day(self, day: date) -> bool:
        """The official calendar (or Mon–Fri where it has no data), corrected by the admin's holiday/workday rows."""
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        return official_workday(day)

    def is_school_day(self, day: date) -> bool:
        known = self._memo.get(day)
        if known is None:
            known = self.in_term(day) and day not in self.closures and self.is_working_day(day)
            self._memo[day] = known
        return known

    # -- ranges ----------------------------------------------------------------------------------------------------

    def school_days(self, first: date, last: date) -> list[date]:
        """The school days from `first` to `last`, both included, in order."""
        days: list[date] = []
        day = first
        while day <= last:
            if self.is_school_day(day):
                days.append(day)
            day += timedelta(days=1)
        return days

    def count_school_days(self, first: date, last: date) -> int:
        return len(self.school_days(first, last))

    def school_days_before(self, day: date, n: int) -> list[date]:
        """The last `n` school days up to and including `day` (when it is one), oldest first. Looks back at most
        `LOOKBACK_DAYS` days, so the list is shorter when a vacation intervenes."""
        found: list[date] = []
        current = day
        floor = day - timedelta(days=LOOKBACK_DAYS)
        while len(found) < n and current >= floor:
            if self.is_school_day(current):
                found.append(current)
            current -= timedelta(days=1)
        found.reverse()
        return found

    def school_days_after(self, day: date, n: int) -> list[date]:
        """The next `n` school days strictly after `day`, in order (at most `LOOKBACK_DAYS` ahead)."""
        found: list[date] = []
        current = day + timedelta(days=1)
        ceiling = day + timedelta(days=LOOKBACK_DAYS)
        while len(found) < n and current <= ceiling:
            if self.is_school_day(current):
                found.append(current)
            current += timedelta(days=1)
        return found

    def missing_official_years(self, first: date, last: date) -> set[int]:
        """Years between `first` and `last` for which the official holidays are not available."""
        return {year for year in range(first.year, last.year + 1) if not official_year_known(year)}


# --- loading ------------------------------------------------------------------------------------------------------


async def load_calendars(session: AsyncSession, school_ids: Collection[int] | None = None) -> dict[int, SchoolCalendar]:
    """Calendars of the given schools (all schools when None) in three queries, whatever their number."""
    if school_ids is not None and not school_ids:
        return {}
    ids = sorted(set(school_ids)) if school_ids is not None else None

    school_query = select(School.id, Township.county_id).join(Township, Township.id == School.township_id)
    if ids is not None:
        school_query = school_query.where(School.id.in_(ids))
    county_of = {school_id: county_id for school_id, county_id in await session.execute(school_query)}

    term_query, day_query = select(Term), select(CalendarDay)
    if ids is not None:
        counties = sorted(set(county_of.values()))
        term_query = term_query.where(
            or_(and_(Term.school_id.is_(None), Term.county_id.in_(counties)), Term.school_id.in_(ids))
        )
        day_query = day_query.where(
            or_(
                and_(CalendarDay.school_id.is_(None), CalendarDay.county_id.in_(counties)),
                CalendarDay.school_id.in_(ids),
            )
        )
    term_rows = (await session.scalars(term_query)).all()
    day_rows = (await session.scalars(day_query)).all()

    county_terms: dict[int, list[Term]] = defaultdict(list)
    school_terms: dict[int, list[Term]] = defaultdict(list)
    for term in term_rows:
        if term.school_id is not None:
            school_terms[term.school_id].append(term)
        elif term.county_id is not None:
            county_terms[term.county_id].append(term)
    county_days: dict[int, list[CalendarDay]] = defaultdict(list)
    school_days: dict[int, list[CalendarDay]] = defaultdict(list)
    for row in day_rows:
        if row.school_id is not None:
            school_days[row.school_id].append(row)
        elif row.county_id is not None:
            county_days[row.county_id].append(row)

    return {
        school_id: SchoolCalendar.from_rows(
            school_id,
            county_terms.get(county_id, ()),
            school_terms.get(school_id, ()),
            [*county_days.get(county_id, ()), *school_days.get(school_id, ())],
        )
        for school_id, county_id in county_of.items()
    }


async def load_calendar(session: AsyncSession, school_id: int) -> SchoolCalendar:
    calendars = await load_calendars(session, [school_id])
    if school_id not in calendars:
        raise LookupError(f"no school {school_id}")
    return calendars[school_id]


# --- closures (admin changes) -------------------------------------------------------------------------------------


_DAY_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$"),
)


def parse_day(text: str) -> date | None:
    """A date as people type it: 2026-10-12, 2026/10/12, 2026.10.12, 2026年10月12日. None when it is not one."""
    text = text.strip()
    for pattern in _DAY_PATTERNS:
        match = pattern.match(text)
        if match:
            try:
                return date(*(int(part) for part in match.groups()))
            except ValueError:
                return None
    return None


async def _administers(session: AsyncSession, person_id: int, school_id: int) -> bool:
    role = await session.scalar(
        select(StaffRole.id).where(
            StaffRole.person_id == person_id, StaffRole.school_id == school_id, StaffRole.role.in_(OFFICER_ROLES)
        ).limit(1)
    )
    return role is not None


async def find_closure(session: AsyncSession, school_id: int, day: date) -> CalendarDay | None:
    return await session.scalar(
        select(CalendarDay).where(
            CalendarDay.school_id == school_id, CalendarDay.day == day, CalendarDay.kind == DayKind.CLOSURE
        ).order_by(CalendarDay.id).limit(1)
    )


@dataclass(frozen=True)
class ClosureCheck:
    """What an officer should be told about a closure day before it is added (none of these forbids it)."""

    already_closed: bool
    in_past: bool
    outside_term: bool  # the school has terms and the day is in none of them (a vacation)
    not_working_day: bool  # a weekend or public holiday anyway


async def check_closure(session: AsyncSession, school_id: int, day: date, today: date) -> ClosureCheck:
    calendar = await load_calendar(session, school_id)
    return ClosureCheck(
        already_closed=await find_closure(session, school_id, day) is not None,
        in_past=day < today,
        outside_term=calendar.has_terms and calendar.term_on(day) is None,
        not_working_day=not calendar.is_working_day(day),
    )


async def add_closure(
    session: AsyncSession,
    now: datetime,
    actor_person_id: int | None,
    school_id: int,
    day: date,
    note: str | None,
) -> CalendarDay:
    """Close `school_id` on `day`. Idempotent: an existing closure of that day is returned unchanged.
    Raises `NotAllowed` unless the actor is a school admin or principal of the school (None = the CLI/system)."""
    if actor_person_id is not None and not await _administers(session, actor_person_id, school_id):
        raise NotAllowed(f"person {actor_person_id} does not administer school {school_id}")
    existing = await find_closure(session, school_id, day)
    if existing is not None:
        return existing
    row = CalendarDay(
        school_id=school_id, day=day, kind=DayKind.CLOSURE, note=(note or None), created_by=actor_person_id
    )
    session.add(row)
    await session.flush()
    audit.record(
        session, now, "calendar.closure_added", "calendar_day", row.id,
        actor_person_id=actor_person_id, actor="person" if actor_person_id else "system",
        school_id=school_id, day=day.isoformat(),
    )
    return row


async def remove_closure(
    session: AsyncSession, now: datetime, actor_person_id: int | None, closure_id: int
) -> CalendarDay | None:
    """Remove a school closure. None when there is no such closure any more (a stale button).
    Raises `NotAllowed` unless the actor is a school admin or principal of the closure's school."""
    row = await session.get(CalendarDay, closure_id)
    if row is None or row.kind != DayKind.CLOSURE or row.school_id is None:
        return None
    if actor_person_id is not None and not await _administers(session, actor_person_id, row.school_id):
        raise NotAllowed(f"person {actor_person_id} does not administer school {row.school_id}")
    await session.delete(row)
    await session.flush()
    audit.record(
        session, now, "calendar.closure_removed", "calendar_day", closure_id,
        actor_person_id=actor_person_id, actor="person" if actor_person_id else "system",
        school_id=row.school_id, day=row.day.isoformat(),
    )
    return row


async def upcoming_closures(session: AsyncSession, school_ids: Collection[int], from_day: date) -> list[CalendarDay]:
    """The closures of these schools from `from_day` on, by day."""
    if not school_ids:
        return []
    rows = await session.scalars(
        select(CalendarDay)
        .where(
            CalendarDay.school_id.in_(sorted(set(school_ids))),
            CalendarDay.kind == DayKind.CLOSURE,
            CalendarDay.day >= from_day,
        )
        .order_by(CalendarDay.day, CalendarDay.school_id, CalendarDay.id)
    )
    return list(rows)


async def school_names(session: AsyncSession, school_ids: Collection[int]) -> dict[int, str]:
    if not school_ids:
        return {}
    rows = await session.execute(select(School.id, School.name).where(School.id.in_(sorted(set(school_ids)))))
    return {school_id: name for school_id, name in rows}


# --- telling the officers about a year without official data ------------------------------------------------------


async def warn_missing_official_years(
    session: AsyncSession, settings: Settings, now: datetime, *, ahead_days: int = MISSING_YEAR_NOTICE_DAYS
) -> int:
    """Tell each school admin and principal, once per year, when a year the next `ahead_days` days need (school
    days in term) has no official holiday data, so Quanxue counts Mon–Fri plus the county's entered holidays.

    Returns how many notices were queued. Costs nothing (no query) while every year in the window is known, so
    the scheduler can call it on every tick.
    """
    today = to_local(now, settings.tz).date()
    last = today + timedelta(days=ahead_days)
    missing = {year for year in range(today.year, last.year + 1) if not official_year_known(year)}
    if not missing:
        return 0
    calendars = await load_calendars(session)
    schools_by_year: dict[int, set[int]] = defaultdict(set)
    needs: dict[tuple[tuple[TermSpan, ...], int], bool] = {}  # most schools share their county's terms
    for school_id, calendar in calendars.items():
        for year in missing:
            terms_in_year = (calendar.terms, year)
            if terms_in_year not in needs:
                first, end = max(today, date(year, 1, 1)), min(last, date(year, 12, 31))
                needs[terms_in_year] = any(
                    calendar.in_term(first + timedelta(days=k)) for k in range((end - first).days + 1)
                )
            if needs[terms_in_year]:
                schools_by_year[year].add(school_id)
    if not schools_by_year:
        return 0
    all_schools = set().union(*schools_by_year.values())
    officer_rows = (
        await session.execute(
            select(StaffRole.school_id, Person)
            .join(Person, Person.id == StaffRole.person_id)
            .where(StaffRole.school_id.in_(sorted(all_schools)), StaffRole.role.in_(OFFICER_ROLES))
        )
    ).all()
    wanted: dict[str, tuple[int, Person]] = {}
    for year, school_ids in sorted(schools_by_year.items()):
        for officer_school_id, person in officer_rows:
            if officer_school_id in school_ids:
                wanted.setdefault(f"calendar-missing-year:{year}:{person.id}", (year, person))
    if not wanted:
        return 0
    sent = await queued_keys(session, wanted)
    queued = 0
    for key, (year, person) in wanted.items():
        if key in sent:
            continue
        delivery = await enqueue_notice(
            session, settings, now, person, "calendar_missing_year", {"year": year}, key, entity="person",
            entity_id=person.id,
        )
        queued += delivery is Delivery.QUEUED
    return queued
