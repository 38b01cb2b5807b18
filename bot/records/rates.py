"""Rates per class, school, township and county for a period, each broken down by priority group (DOMAIN.md):

- attendance rate = present student-days ÷ expected student-days. Expected: each school day with a submitted roll
  call of the class, each student attending that day (enrolled, not 休学 / 送教上门 / gone); a day without a roll call
  counts neither way. Present = expected − absences recorded by the roll call (excused or not).
- suspected dropouts: cases opened in the period; confirmed dropouts: cases reported in writing in the period;
  returns: cases struck off as returned in the period; open at the period's end, by stage.
- 辍学率 = students reported as dropouts from the start of the school year to the period's end ÷ enrolment (on the
  roll) at the start of the school year.
- 巩固率 = retained at the period's end ÷ (on the roll at the start of the year + transfers in − transfers out −
  deaths − graduations, all since the start of the year), capped at 100%. Retained: on the roll (attending, 休学 or
  送教上门) and not a confirmed dropout whose case is still open.

All of it is computed in memory from `RecordsData` (bot.records.ledgers): no query here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from bot.records.ledgers import ON_ROLL, CaseRow, RecordsData, StudentRow
from storage.models import CaseOutcome, EnrolmentChangeKind

# The priority groups of DOMAIN.md as the roster stores their tags (bot.roster.values.KNOWN_TAGS), in report order.
PRIORITY_GROUPS = ("孤儿", "事实无人抚养", "残疾", "留守儿童", "困境", "随迁子女", "脱贫户")
ANY_PRIORITY = "*"  # the rows of every student in at least one priority group


TALLIED = ("students", "expected_days", "present_days", "suspected", "confirmed", "returns", "open_suspected",
           "open_confirmed", "dropped_this_year", "enrolled_at_year_start", "transfers_in", "transfers_out",
           "retention_base")


@dataclass(frozen=True)
class Rates:
    unit: str  # "class", "school", "township", "county"
    unit_id: int
    name: str
    group: str | None  # None: every student; a priority group's tag; ANY_PRIORITY
    students: int  # on the roll at the period's end
    expected_days: int
    present_days: int
    suspected: int
    confirmed: int
    returns: int
    open_suspected: int
    open_confirmed: int
    dropped_this_year: int
    enrolled_at_year_start: int
    transfers_in: int
    transfers_out: int
    retention_base: int

    @property
    def attendance(self) -> float | None:
        return self.present_days / self.expected_days if self.expected_days else None

    @property
    def dropout_rate(self) -> float | None:
        return self.dropped_this_year / self.enrolled_at_year_start if self.enrolled_at_year_start else None

    @property
    def retention(self) -> float | None:
        retained = self.students - self.open_confirmed
        return min(1.0, retained / self.retention_base) if self.retention_base > 0 else None


Tally = tuple[int, ...]  # one student's (or a unit's) counts, in the order of TALLIED


def tally_of(data: RecordsData, student: StudentRow) -> Tally:
    """What one student adds to each figure of their units (computed once per student, then summed)."""
    period = data.period
    expected = _expected_days(student, data.roll_call_days.get(student.class_id, ()))
    cases = data.cases_by_student.get(student.id, ())
    if not student.changes and not cases:  # most students: one status all year, no case
        on = int(student.status in ON_ROLL)
        return (on, expected, max(0, expected - student.absent_days), 0, 0, 0, 0, 0, 0, on, 0, 0, on)
    open_at_end = [row for row in cases if row.opened_on <= period.end and (row.closed_on is None
                                                                              or row.closed_on > period.end)]
    moves = Counter(change.kind for change in student.changes if period.year_start <= change.effective_on <= period.end)
    start = int(student.on_roll(period.year_start))
    moved_in, moved_out = moves[EnrolmentChangeKind.TRANSFER_IN], moves[EnrolmentChangeKind.TRANSFER_OUT]
    gone = moves[EnrolmentChangeKind.DEATH] + moves[EnrolmentChangeKind.GRADUATION]
    return (
        int(student.on_roll(period.end)), expected, max(0, expected - student.absent_days),
        sum(1 for row in cases if period.contains(row.opened_on)),
        sum(1 for row in cases if row.reported_on is not None and period.contains(row.reported_on)),
        sum(1 for row in cases if row.closed_on is not None and period.contains(row.closed_on)
            and row.outcome == CaseOutcome.RETURNED),
        sum(1 for row in open_at_end if not _reported_by(row, period.end)),
        sum(1 for row in open_at_end if _reported_by(row, period.end)),
        int(any(row.reported_on is not None and period.year_start <= row.reported_on <= period.end for row in cases)),
        start, moved_in, moved_out, start + moved_in - moved_out - gone,
    )


def _sum(tallies: Iterable[Tally]) -> Tally:
    total = [0] * len(TALLIED)
    for tally in tallies:
        for index, value in enumerate(tally):
            total[index] += value
    return tuple(total)


def _rates(unit: str, unit_id: int, name: str, tally: Tally, group: str | None = None) -> Rates:
    return Rates(unit, unit_id, name, group, *tally)


def rates_of(data: RecordsData, unit: str, unit_id: int, name: str, students: list[StudentRow],
             group: str | None = None) -> Rates:
    """The figures of these students (already filtered to the unit and the group)."""
    return _rates(unit, unit_id, name, _sum(tally_of(data, student) for student in students), group)


def _reported_by(row: CaseRow, day: date) -> bool:
    return row.reported_on is not None and row.reported_on <= day


def _expected_days(student: StudentRow, days: Sequence[date]) -> int:
    if not student.changes:  # most students: the same status every day
        return len(days) if student.attending(date.min) else 0
    return sum(1 for day in days if student.attending(day))


def in_group(student: StudentRow, group: str | None) -> bool:
    if group is None:
        return True
    if group == ANY_PRIORITY:
        return any(tag in PRIORITY_GROUPS for tag in student.tags)
    return group in student.tags


def groups_present(students: Iterable[StudentRow]) -> list[str]:
    """The priority groups that have students here, in report order."""
    tags = {tag for student in students for tag in student.tags}
    return [group for group in PRIORITY_GROUPS if group in tags]


def unit_rates(data: RecordsData, *, groups: bool = True) -> list[Rates]:
    """Rates of the scope as a whole, (with `groups`) of each priority group at the scope's level, then of each
    township, school and class in it. Each student's tally is computed once and summed upwards."""
    tallies = {student.id: tally_of(data, student) for student in data.students.values()}
    by_class: dict[int, list[Tally]] = {class_id: [] for class_id in data.classes}
    for student in data.students.values():
        by_class.setdefault(student.class_id, []).append(tallies[student.id])
    class_tally = {class_id: _sum(rows) for class_id, rows in by_class.items()}
    scope = data.scope
    result = [_rates(scope.level.value, scope.id, scope.name, _sum(class_tally.values()))]
    if groups:
        everyone = list(data.students.values())
        for group in [ANY_PRIORITY, *groups_present(everyone)]:
            members = (tallies[student.id] for student in everyone if in_group(student, group))
            result.append(_rates(scope.level.value, scope.id, scope.name, _sum(members), group))
    levels: list[tuple[str, Callable[[int], tuple[int, str]]]] = []
    if scope.level.value == "county":
        levels.append(("township", lambda cid: (data.classes[cid].township_id, data.classes[cid].township)))
    if scope.level.value in ("county", "township"):
        levels.append(("school", lambda cid: (data.classes[cid].school_id, data.classes[cid].school)))
    levels.append(("class", lambda cid: (cid, f"{data.classes[cid].school} {data.classes[cid].name}")))
    for unit, key_of in levels:
        members_of: dict[tuple[int, str], list[Tally]] = {}
        for class_id in data.classes:
            members_of.setdefault(key_of(class_id), []).append(class_tally.get(class_id, _sum(())))
        result += [_rates(unit, unit_id, name, _sum(rows)) for (unit_id, name), rows in members_of.items()]
    return result


def weekly_attendance(data: RecordsData, by_school: bool = False) -> dict[str, dict[date, float]]:
    """The attendance rate of each week (keyed by its Monday) that had a roll call, per class (or per school),
    keyed by the class's (school's) name."""
    steady: Counter[int] = Counter()  # per class: students attending every day (no change of status)
    changing: dict[int, list[StudentRow]] = {}
    for student in data.students.values():
        if not student.changes:
            steady[student.class_id] += student.attending(date.min)
        else:
            changing.setdefault(student.class_id, []).append(student)
    expected: dict[str, Counter[date]] = {}
    absent: dict[str, Counter[date]] = {}
    for class_id, days in data.roll_call_days.items():
        unit = data.classes[class_id]
        name = unit.school if by_school else unit.name
        for day in days:
            monday = date.fromordinal(day.toordinal() - day.weekday())
            expected.setdefault(name, Counter())[monday] += steady[class_id] + sum(
                1 for student in changing.get(class_id, ()) if student.attending(day))
            absent.setdefault(name, Counter())[monday] += data.class_day_absences.get((class_id, day), 0)
    return {name: {week: (weeks[week] - absent[name][week]) / weeks[week] for week in sorted(weeks) if weeks[week]}
            for name, weeks in sorted(expected.items())}


def open_cases_by_stage(data: RecordsData) -> dict[str, int]:
    """Cases open at the period's end, by their stage today (open, reported, ordered, legal)."""
    end = data.period.end
    counts: Counter[str] = Counter(row.stage for row in data.cases
                                   if row.opened_on <= end and (row.closed_on is None or row.closed_on > end))
    return dict(counts)
