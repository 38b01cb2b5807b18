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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from bot.records.ledgers import CaseRow, RecordsData, StudentRow
from storage.models import CaseOutcome, EnrolmentChangeKind

# The priority groups of DOMAIN.md as the roster stores their tags (bot.roster.values.KNOWN_TAGS), in report order.
PRIORITY_GROUPS = ("孤儿", "事实无人抚养", "残疾", "留守儿童", "困境", "随迁子女", "脱贫户")
ANY_PRIORITY = "*"  # the rows of every student in at least one priority group
LEAVING = {EnrolmentChangeKind.TRANSFER_OUT.value: "out", EnrolmentChangeKind.DEATH.value: "out",
           EnrolmentChangeKind.GRADUATION.value: "out", EnrolmentChangeKind.TRANSFER_IN.value: "in"}


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


def rates_of(data: RecordsData, unit: str, unit_id: int, name: str, students: list[StudentRow],
             group: str | None = None) -> Rates:
    """The figures of these students (already filtered to the unit and the group)."""
    period = data.period
    expected = sum(_expected_days(student, data.roll_call_days.get(student.class_id, ())) for student in students)
    absent = sum(student.absent_days for student in students)
    cases = [row for student in students for row in data.cases_by_student.get(student.id, ())]
    in_period: Callable[[date | None], bool] = lambda day: day is not None and period.contains(day)  # noqa: E731
    open_at_end = [row for row in cases if row.opened_on <= period.end and (row.closed_on is None
                                                                              or row.closed_on > period.end)]
    year_moves = Counter(LEAVING.get(change.kind, "") + ":" + change.kind for student in students
                         for change in student.changes if period.year_start <= change.effective_on <= period.end)
    start = sum(1 for student in students if student.on_roll(period.year_start))
    moved_in = year_moves["in:transfer_in"]
    moved_out = year_moves["out:transfer_out"]
    gone = year_moves["out:death"] + year_moves["out:graduation"]
    return Rates(
        unit=unit, unit_id=unit_id, name=name, group=group,
        students=sum(1 for student in students if student.on_roll(period.end)),
        expected_days=expected, present_days=max(0, expected - absent),
        suspected=sum(1 for row in cases if in_period(row.opened_on)),
        confirmed=sum(1 for row in cases if in_period(row.reported_on)),
        returns=sum(1 for row in cases if in_period(row.closed_on) and row.outcome == CaseOutcome.RETURNED),
        open_suspected=sum(1 for row in open_at_end if not _reported_by(row, period.end)),
        open_confirmed=sum(1 for row in open_at_end if _reported_by(row, period.end)),
        dropped_this_year=len({row.student_id for row in cases
                               if row.reported_on is not None and period.year_start <= row.reported_on <= period.end}),
        enrolled_at_year_start=start, transfers_in=moved_in, transfers_out=moved_out,
        retention_base=start + moved_in - moved_out - gone,
    )


def _reported_by(row: CaseRow, day: date) -> bool:
    return row.reported_on is not None and row.reported_on <= day


def _expected_days(student: StudentRow, days: Iterable[date]) -> int:
    if not student.changes:  # most students: the same status every day
        return len(list(days)) if student.attending(date.min) else 0
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
    """Rates of the scope as a whole, of each township, school and class in it, and (with `groups`) of each
    priority group at the scope's level."""
    by_class: dict[int, list[StudentRow]] = {}
    for student in data.students.values():
        by_class.setdefault(student.class_id, []).append(student)
    everyone = list(data.students.values())
    result = [rates_of(data, data.scope.level.value, data.scope.id, data.scope.name, everyone)]
    if groups:
        for group in [ANY_PRIORITY, *groups_present(everyone)]:
            members = [student for student in everyone if in_group(student, group)]
            result.append(rates_of(data, data.scope.level.value, data.scope.id, data.scope.name, members, group))
    units: list[tuple[str, Callable[[int], tuple[int, str]]]] = []
    if data.scope.level.value == "county":
        units.append(("township", lambda cid: (data.classes[cid].township_id, data.classes[cid].township)))
    if data.scope.level.value in ("county", "township"):
        units.append(("school", lambda cid: (data.classes[cid].school_id, data.classes[cid].school)))
    units.append(("class", lambda cid: (cid, f"{data.classes[cid].school} {data.classes[cid].name}")))
    for unit, key_of in units:
        members_of: dict[tuple[int, str], list[StudentRow]] = {}
        for class_id in data.classes:
            members_of.setdefault(key_of(class_id), []).extend(by_class.get(class_id, []))
        result += [rates_of(data, unit, unit_id, name, members) for (unit_id, name), members in members_of.items()]
    return result


def weekly_attendance(data: RecordsData, by_school: bool = False) -> dict[str, dict[date, float]]:
    """The attendance rate of each week (keyed by its Monday) that had a roll call, per class (or per school),
    keyed by the class's (school's) name."""
    by_class: dict[int, list[StudentRow]] = {}
    for student in data.students.values():
        by_class.setdefault(student.class_id, []).append(student)
    expected: dict[str, Counter[date]] = {}
    absent: dict[str, Counter[date]] = {}
    for class_id, days in data.roll_call_days.items():
        unit = data.classes[class_id]
        name = unit.school if by_school else unit.name
        for day in days:
            monday = date.fromordinal(day.toordinal() - day.weekday())
            expected.setdefault(name, Counter())[monday] += sum(
                1 for student in by_class.get(class_id, []) if student.attending(day))
            absent.setdefault(name, Counter())[monday] += data.class_day_absences.get((class_id, day), 0)
    return {name: {week: (weeks[week] - absent[name][week]) / weeks[week] for week in sorted(weeks) if weeks[week]}
            for name, weeks in sorted(expected.items())}


def open_cases_by_stage(data: RecordsData) -> dict[str, int]:
    """Cases open at the period's end, by their stage today (open, reported, ordered, legal)."""
    end = data.period.end
    counts: Counter[str] = Counter(row.stage for row in data.cases
                                   if row.opened_on <= end and (row.closed_on is None or row.closed_on > end))
    return dict(counts)
