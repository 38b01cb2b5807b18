"""`quanxue import-calendar FILE`: a county's terms, missing public holidays, make-up workdays and school closures
from a TOML file (see examples/calendar.toml).

Everything is checked before anything is written: one problem and nothing changes. Terms are matched by (owner,
name) and days by (owner, day, kind), so importing the same file twice changes nothing the second time; rows the
file does not mention are left alone. Every change is an audit event (actor "cli").

Exit codes as the roster import: 0 imported, 1 problems in the file (nothing written), 2 the file cannot be read.
"""

from __future__ import annotations

import sys
import tomllib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import official_year_known
from bot.core import audit
from bot.core.clock import Clock
from bot.core.i18n import gettext
from bot.core.settings import Settings
from storage.db import create_engine, create_sessionmaker, upgrade
from storage.models import CalendarDay, County, DayKind, School, Term, Township

EXIT_OK, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2
NAME_MAX = 50  # Term.name
NOTE_MAX = 200  # CalendarDay.note


def _(message: str) -> str:
    """Extraction marker only: translated where shown, in the operator's locale."""
    return message


CANNOT_READ = _("Cannot read {path}: {reason}")  # shared with the roster import
NOT_FOUND = _("the file does not exist")  # shared with the roster import
NOT_TOML = _("{path} is not a valid TOML file: {error}")
TOP_LEVEL = _("top level")
ITEM = _("[[{table}]] no. {n}")
PROBLEMS = {
    "unknown_key": _("{where}: unknown key “{key}”"),
    "missing_key": _("{where}: “{key}” is missing"),
    "not_tables": _("{where}: “{key}” must be a list of [[{key}]] tables"),
    "not_text": _("{where}: “{key}” must be text"),
    "too_long": _("{where}: “{key}” is longer than {max} characters"),
    "not_date": _("{where}: “{key}” is not a date ({value}); write it like 2026-09-01"),
    "end_before_start": _("{where}: the term ends ({end}) before it starts ({start})"),
    "overlap": _("{where}: the term “{name}” overlaps the term “{other}” ({other_start} to {other_end})"),
    "term_twice": _("{where}: the term “{name}” is listed twice for the same county or school"),
    "day_twice": _("{where}: {day} is listed twice"),
    "holiday_and_workday": _("{where}: {day} cannot be both a holiday and a make-up workday"),
    "unknown_school": _("{where}: no school named “{school}” in {county}"),
    "ambiguous_school": _("{where}: several schools in {county} are named “{school}”; write “township/school”"),
    "unknown_county": _("No county named “{county}” in the database: import the roster first, or correct “county”"),
    "which_county": _("Which county is this calendar for? Add county = \"…\" at the top of the file"),
}
NOTHING_WRITTEN = _("Problems: {count}. Nothing was written: fix the file and import again.")
SUMMARY = _(
    "Calendar of {county} imported: terms {terms_created} new, {terms_updated} changed, {terms_unchanged} unchanged; "
    "days {days_created} new, {days_updated} changed, {days_unchanged} unchanged."
)
MISSING_YEAR = _(
    "Note: the installed chinese-calendar package has no official public holidays for {year}. Until it is upgraded, "
    "Monday to Friday count as working days, corrected by the [[holidays]] and [[workdays]] entered for {year} "
    "({count} so far)."
)

TOP_KEYS = {"county", "terms", "holidays", "workdays", "closures"}
TABLE_KEYS = {
    "terms": ({"name", "start", "end"}, {"school"}),
    "holidays": ({"date"}, {"note"}),
    "workdays": ({"date"}, {"note"}),
    "closures": ({"school", "date"}, {"note"}),
}
DAY_KIND = {"holidays": DayKind.HOLIDAY, "workdays": DayKind.WORKDAY, "closures": DayKind.CLOSURE}


@dataclass(frozen=True)
class Where:
    table: str | None = None  # None: the top level of the file
    n: int = 0  # 1-based position in its [[table]] list

    def render(self, locale: str) -> str:
        if self.table is None:
            return gettext(TOP_LEVEL, locale)
        return gettext(ITEM, locale).format(table=self.table, n=self.n)


@dataclass(frozen=True)
class Problem:
    code: str
    where: Where = Where()
    values: dict[str, Any] = field(default_factory=dict)

    def render(self, locale: str) -> str:
        return gettext(PROBLEMS[self.code], locale).format(where=self.where.render(locale), **self.values)


@dataclass(frozen=True)
class TermEntry:
    name: str
    start: date
    end: date
    school: str | None
    where: Where


@dataclass(frozen=True)
class DayEntry:
    kind: DayKind
    day: date
    note: str | None
    school: str | None  # closures only
    where: Where


@dataclass
class CalendarFile:
    county: str | None = None
    terms: list[TermEntry] = field(default_factory=list)
    days: list[DayEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class UnreadableCalendar(Exception):
    """The file cannot be read or is not TOML. `reason_msgid`, when set, is translated into the message too."""

    def __init__(self, message: str, *, reason_msgid: str | None = None, **values: Any) -> None:
        super().__init__(message)
        self.message = message
        self.reason_msgid = reason_msgid
        self.values = values

    def render(self, locale: str) -> str:
        values = dict(self.values)
        if self.reason_msgid is not None:
            values["reason"] = gettext(self.reason_msgid, locale)
        return gettext(self.message, locale).format(**values)


# --- reading ------------------------------------------------------------------------------------------------------


def read_calendar_file(path: Path | str) -> CalendarFile:
    """Read and check the file's shape. Raises `UnreadableCalendar` when it cannot be read or is not TOML."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise UnreadableCalendar(CANNOT_READ, path=str(path), reason_msgid=NOT_FOUND) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableCalendar(CANNOT_READ, path=str(path), reason=str(exc)) from exc
    return parse_calendar_text(text, str(path))


def parse_calendar_text(text: str, path: str = "calendar.toml") -> CalendarFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UnreadableCalendar(NOT_TOML, path=path, error=str(exc)) from exc
    result = CalendarFile()
    top = Where()
    for key in data:
        if key not in TOP_KEYS:
            result.problems.append(Problem("unknown_key", top, {"key": key}))
    if "county" in data:
        result.county = _text(data["county"], "county", top, result.problems, NAME_MAX * 2)
    for table, (required, optional) in TABLE_KEYS.items():
        items = data.get(table, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            result.problems.append(Problem("not_tables", top, {"key": table}))
            continue
        for n, item in enumerate(items, start=1):
            where = Where(table, n)
            problems_before = len(result.problems)
            for key in item:
                if key not in required | optional:
                    result.problems.append(Problem("unknown_key", where, {"key": key}))
            for key in sorted(required - item.keys()):
                result.problems.append(Problem("missing_key", where, {"key": key}))
            if table == "terms":
                term = _term(item, where, result.problems)
                if term is not None and len(result.problems) == problems_before:
                    result.terms.append(term)
            else:
                day = _day(item, DAY_KIND[table], where, result.problems)
                if day is not None and len(result.problems) == problems_before:
                    result.days.append(day)
    return result


def _term(item: dict, where: Where, problems: list[Problem]) -> TermEntry | None:
    name = _text(item.get("name"), "name", where, problems, NAME_MAX)
    start = _date(item.get("start"), "start", where, problems)
    end = _date(item.get("end"), "end", where, problems)
    school = _text(item.get("school"), "school", where, problems, 200)
    if name is None or start is None or end is None:
        return None
    if end < start:
        problems.append(Problem("end_before_start", where, {"start": start, "end": end}))
        return None
    return TermEntry(name, start, end, school, where)


def _day(item: dict, kind: DayKind, where: Where, problems: list[Problem]) -> DayEntry | None:
    day = _date(item.get("date"), "date", where, problems)
    note = _text(item.get("note"), "note", where, problems, NOTE_MAX)
    school = _text(item.get("school"), "school", where, problems, 200) if kind == DayKind.CLOSURE else None
    if day is None or (kind == DayKind.CLOSURE and school is None):
        return None
    return DayEntry(kind, day, note, school, where)


def _text(value: Any, key: str, where: Where, problems: list[Problem], max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(Problem("not_text", where, {"key": key}))
        return None
    value = value.strip()
    if len(value) > max_length:
        problems.append(Problem("too_long", where, {"key": key, "max": max_length}))
        return None
    if not value:
        problems.append(Problem("missing_key", where, {"key": key}))
        return None
    return value


def _date(value: Any, key: str, where: Where, problems: list[Problem]) -> date | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    problems.append(Problem("not_date", where, {"key": key, "value": value}))
    return None


# --- importing ----------------------------------------------------------------------------------------------------


@dataclass
class CalendarImport:
    """What an import did, or the problems that stopped it (then nothing was written)."""

    county: str | None = None
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    missing_years: dict[int, int] = field(default_factory=dict)  # year without official data → holidays entered
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


Owner = tuple[str, int]  # ("county", id) or ("school", id)


async def import_calendar(
    session: AsyncSession, parsed: CalendarFile, *, now: datetime, default_county: str | None = None
) -> CalendarImport:
    """Check `parsed` against the database and, when nothing is wrong, write it (in the caller's transaction)."""
    report = CalendarImport(problems=list(parsed.problems))
    county = await _resolve_county(session, parsed.county, default_county, report)
    if county is None:
        return report
    report.county = county.name
    schools = await _resolve_schools(session, county, parsed, report)

    def owner_of(school: str | None) -> Owner | None:
        if school is None:
            return ("county", county.id)
        return ("school", schools[school]) if school in schools else None

    school_ids = sorted(set(schools.values()))
    existing_terms = (
        await session.scalars(
            select(Term).where(
                or_(and_(Term.county_id == county.id, Term.school_id.is_(None)), Term.school_id.in_(school_ids))
            )
        )
    ).all()
    existing_days = (
        await session.scalars(
            select(CalendarDay).where(
                or_(
                    and_(CalendarDay.county_id == county.id, CalendarDay.school_id.is_(None)),
                    CalendarDay.school_id.in_(school_ids),
                )
            )
        )
    ).all()
    terms_by_key = {(_term_owner(t), t.name): t for t in existing_terms}
    days_by_key = {(_day_owner(d), d.day, d.kind): d for d in existing_days}

    term_plan: list[tuple[Owner, TermEntry]] = []
    seen_terms: set[tuple[Owner, str]] = set()
    for entry in parsed.terms:
        owner = owner_of(entry.school)
        if owner is None:
            continue
        if (owner, entry.name) in seen_terms:
            report.problems.append(Problem("term_twice", entry.where, {"name": entry.name}))
            continue
        seen_terms.add((owner, entry.name))
        term_plan.append((owner, entry))
    _check_overlaps(term_plan, existing_terms, report)

    day_plan: list[tuple[Owner, DayEntry]] = []
    seen_days: dict[tuple[Owner, date], DayKind] = {}
    for day_entry in parsed.days:
        owner = owner_of(day_entry.school)
        if owner is None:
            continue
        previous = seen_days.get((owner, day_entry.day))
        if previous == day_entry.kind:
            report.problems.append(Problem("day_twice", day_entry.where, {"day": day_entry.day}))
            continue
        opposite = {DayKind.HOLIDAY: DayKind.WORKDAY, DayKind.WORKDAY: DayKind.HOLIDAY}.get(day_entry.kind)
        if opposite is not None and (previous == opposite or (owner, day_entry.day, opposite) in days_by_key):
            report.problems.append(Problem("holiday_and_workday", day_entry.where, {"day": day_entry.day}))
            continue
        seen_days[(owner, day_entry.day)] = day_entry.kind
        day_plan.append((owner, day_entry))

    if report.problems:
        return report

    for owner, entry in term_plan:
        row = terms_by_key.get((owner, entry.name))
        if row is None:
            row = Term(name=entry.name, start_date=entry.start, end_date=entry.end, **_owner_columns(owner))
            session.add(row)
            await session.flush()
            _audit(session, now, "calendar.term_added", "term", row.id, owner, start=entry.start, end=entry.end)
            report.counts["terms_created"] += 1
        elif (row.start_date, row.end_date) != (entry.start, entry.end):
            old = (row.start_date, row.end_date)
            row.start_date, row.end_date = entry.start, entry.end
            _audit(session, now, "calendar.term_changed", "term", row.id, owner, start=entry.start, end=entry.end,
                   old_start=old[0], old_end=old[1])
            report.counts["terms_updated"] += 1
        else:
            report.counts["terms_unchanged"] += 1

    for owner, day_entry in day_plan:
        day_row = days_by_key.get((owner, day_entry.day, day_entry.kind))
        if day_row is None:
            day_row = CalendarDay(day=day_entry.day, kind=day_entry.kind, note=day_entry.note, **_owner_columns(owner))
            session.add(day_row)
            await session.flush()
            _audit(session, now, "calendar.day_added", "calendar_day", day_row.id, owner, day=day_entry.day,
                   kind=day_entry.kind)
            report.counts["days_created"] += 1
        elif day_row.note != day_entry.note:
            day_row.note = day_entry.note
            _audit(session, now, "calendar.day_changed", "calendar_day", day_row.id, owner, day=day_entry.day,
                   kind=day_entry.kind)
            report.counts["days_updated"] += 1
        else:
            report.counts["days_unchanged"] += 1
    await session.flush()
    report.written = True
    report.missing_years = await _missing_years(session, county.id, parsed)
    return report


async def _resolve_county(
    session: AsyncSession, named: str | None, default: str | None, report: CalendarImport
) -> County | None:
    if named is not None:
        county = await session.scalar(select(County).where(County.name == named))
        if county is None:
            report.problems.append(Problem("unknown_county", values={"county": named}))
        return county
    if default:
        county = await session.scalar(select(County).where(County.name == default))
        if county is not None:
            return county
    counties = (await session.scalars(select(County).limit(2))).all()
    if len(counties) == 1:
        return counties[0]
    report.problems.append(Problem("which_county"))
    return None


async def _resolve_schools(
    session: AsyncSession, county: County, parsed: CalendarFile, report: CalendarImport
) -> dict[str, int]:
    """School names as the file writes them ("学校" or "乡镇/学校") → school id; problems for unknown or ambiguous."""
    file_entries: list[TermEntry | DayEntry] = [*parsed.terms, *parsed.days]
    entries = [(e.school, e.where) for e in file_entries if e.school is not None]
    if not entries:
        return {}
    rows = await session.execute(
        select(School.id, School.name, Township.name)
        .join(Township, Township.id == School.township_id)
        .where(Township.county_id == county.id)
    )
    by_name: dict[str, list[int]] = defaultdict(list)
    for school_id, school_name, township_name in rows:
        by_name[school_name].append(school_id)
        by_name[f"{township_name}/{school_name}"].append(school_id)
    found: dict[str, int] = {}
    for written, where in entries:
        key = "/".join(part.strip() for part in written.replace("／", "/").split("/"))
        ids = by_name.get(key, [])
        if len(ids) == 1:
            found[written] = ids[0]
        elif not ids:
            report.problems.append(Problem("unknown_school", where, {"school": written, "county": county.name}))
        else:
            report.problems.append(Problem("ambiguous_school", where, {"school": written, "county": county.name}))
    return found


def _check_overlaps(plan: list[tuple[Owner, TermEntry]], existing: Sequence[Term], report: CalendarImport) -> None:
    """Terms of one owner must not overlap: the file's among themselves and with the owner's other stored terms."""
    in_file = {(owner, entry.name) for owner, entry in plan}
    stored = [
        (_term_owner(t), t.name, t.start_date, t.end_date) for t in existing if (_term_owner(t), t.name) not in in_file
    ]
    checked: list[tuple[Owner, str, date, date]] = list(stored)
    for owner, entry in plan:
        for other_owner, name, start, end in checked:
            if other_owner == owner and entry.start <= end and start <= entry.end:
                report.problems.append(
                    Problem("overlap", entry.where, {"name": entry.name, "other": name, "other_start": start,
                                                      "other_end": end})
                )
                break
        checked.append((owner, entry.name, entry.start, entry.end))


async def _missing_years(session: AsyncSession, county_id: int, parsed: CalendarFile) -> dict[int, int]:
    years = {
        year
        for entry in parsed.terms
        for year in range(entry.start.year, entry.end.year + 1)
        if not official_year_known(year)
    }
    if not years:
        return {}
    rows = await session.scalars(
        select(CalendarDay.day).where(
            CalendarDay.county_id == county_id,
            CalendarDay.school_id.is_(None),
            CalendarDay.kind == DayKind.HOLIDAY,
            CalendarDay.day.between(date(min(years), 1, 1), date(max(years), 12, 31)),
        )
    )
    entered: dict[int, int] = dict.fromkeys(sorted(years), 0)
    for day in rows:
        if day.year in entered:
            entered[day.year] += 1
    return entered


def _term_owner(term: Term) -> Owner:
    return ("school", term.school_id) if term.school_id is not None else ("county", term.county_id or 0)


def _day_owner(day: CalendarDay) -> Owner:
    return ("school", day.school_id) if day.school_id is not None else ("county", day.county_id or 0)


def _owner_columns(owner: Owner) -> dict[str, int]:
    kind, owner_id = owner
    return {"school_id": owner_id} if kind == "school" else {"county_id": owner_id}


def _audit(session: AsyncSession, now: datetime, action: str, entity: str, entity_id: int, owner: Owner,
           **details: Any) -> None:
    plain: dict[str, Any] = {
        key: value.isoformat() if isinstance(value, date) else str(value) for key, value in details.items()
    }
    audit.record(session, now, action, entity, entity_id, actor="cli", **{f"{owner[0]}_id": owner[1]}, **plain)


# --- the command --------------------------------------------------------------------------------------------------


def render_import(report: CalendarImport, locale: str) -> list[str]:
    if not report.ok:
        lines = [problem.render(locale) for problem in report.problems]
        return [*lines, gettext(NOTHING_WRITTEN, locale).format(count=len(report.problems))]
    counts = {key: report.counts.get(key, 0) for key in (
        "terms_created", "terms_updated", "terms_unchanged", "days_created", "days_updated", "days_unchanged")}
    lines = [gettext(SUMMARY, locale).format(county=report.county, **counts)]
    for year, count in sorted(report.missing_years.items()):
        lines.append(gettext(MISSING_YEAR, locale).format(year=year, count=count))
    return lines


async def run_import_calendar(settings: Settings, clock: Clock, path: Path | str, out: TextIO | None = None) -> int:
    """`quanxue import-calendar FILE`: 0 imported, 1 problems (nothing written), 2 the file cannot be read."""
    out = out or sys.stdout
    locale = settings.locale
    try:
        parsed = read_calendar_file(path)
    except UnreadableCalendar as exc:
        print(exc.render(locale), file=out)
        return EXIT_UNREADABLE
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            report = await import_calendar(session, parsed, now=clock.now(), default_county=settings.county)
    finally:
        await engine.dispose()
    for line in render_import(report, locale):
        print(line, file=out)
    return EXIT_OK if report.ok else EXIT_PROBLEMS
