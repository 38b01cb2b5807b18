"""Guardian notices about absences.

The roll-call service calls `notify_guardians` in the submission's transaction with what changed; it returns,
per student and guardian, who was notified and who cannot be reached, for the teacher's summary.

What a guardian is told follows what they were told before, not only what the roll call says changed: every notice
leaves an audit event `absence.guardian_told` (absence id, guardian id, the reason told, or None for "corrected to
present"), and each call compares the absences' current state with it. So a re-submission without changes sends
nothing, a correction reaches only guardians who were told something else, and an absence re-marked after a
withdrawal is announced again. One guardian gets one notice per call however many of their children it concerns
(siblings in one class), and one correction notice when something they were told changed.

- unexplained or unknown reason: the notice asks for a reply (answer buttons; a child choice first for siblings);
- sick or personal leave the teacher already knows about: the notice only informs;
- approved leave: no notice at all (a guardian told otherwise before gets a correction);
- every notice states each child's running total of absent days this month and this term.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import load_calendars
from bot.core import audit
from bot.core.settings import Settings
from bot.notices.outbox import Action, Delivery, enqueue_notice
from storage.models import (
    Absence,
    AbsenceReason,
    AuditEvent,
    GuardianAnswer,
    Guardianship,
    Person,
    Role,
    RollCall,
    StaffRole,
    Student,
)


def _(message: str) -> str:
    """Extraction marker only: button labels are msgids, translated for the recipient when the notice is queued."""
    return message


TOLD = "absence.guardian_told"  # audit action: what a guardian was told about an absence

REPLY_REASONS = frozenset({AbsenceReason.UNEXPLAINED, AbsenceReason.UNKNOWN})  # the notice asks why
SILENT_REASONS = frozenset({AbsenceReason.APPROVED_LEAVE})  # no notice at all

# The answers a guardian can give, in button order, with their msgids (translated for the recipient).
ANSWER_LABELS: dict[GuardianAnswer, str] = {
    GuardianAnswer.SICK: _("Sick"),
    GuardianAnswer.FAMILY: _("Family matter"),
    GuardianAnswer.BACK_TOMORROW: _("Back tomorrow"),
    GuardianAnswer.CALL_ME: _("Please call me"),
    GuardianAnswer.OTHER: _("Other"),
}
ANSWER_ROWS: tuple[tuple[GuardianAnswer, ...], ...] = (
    (GuardianAnswer.SICK, GuardianAnswer.FAMILY),
    (GuardianAnswer.BACK_TOMORROW, GuardianAnswer.CALL_ME),
    (GuardianAnswer.OTHER,),
)
REPLY_ACTION = "reply"  # NoticeAction(action="reply", ref=absence id, value=answer)
PICK_ACTION = "pick"  # NoticeAction(action="pick", ref=absence id): siblings, choose the child first


@dataclass
class RollCallChanges:
    """What a submission (or a correction) changed. Absences carry their current reason."""

    new: list[Absence] = field(default_factory=list)
    withdrawn: list[Absence] = field(default_factory=list)  # corrected to present
    reason_changed: list[Absence] = field(default_factory=list)

    @property
    def is_correction(self) -> bool:
        return bool(self.withdrawn or self.reason_changed)


@dataclass(frozen=True)
class GuardianReach:
    student_id: int
    guardian: Person
    delivery: Delivery


def asks_reply(reason: str) -> bool:
    return reason in REPLY_REASONS


def answer_actions(absence_id: int) -> list[list[Action]]:
    """The five answer buttons for one absence."""
    return [[Action(ANSWER_LABELS[answer], REPLY_ACTION, absence_id, answer.value) for answer in row]
            for row in ANSWER_ROWS]


def pick_label(child_name: str) -> str:
    """A child-choice button's label: the child's name (not a msgid, so translation leaves it as it is)."""
    return f"👉 {child_name}"


def pick_actions(children: list[tuple[int, str]]) -> list[list[Action]]:
    """One button per child (absence id, name): the guardian chooses whom they answer for first."""
    return [[Action(pick_label(name), PICK_ACTION, absence_id)] for absence_id, name in children]


def reply_actions(children: list[tuple[int, str]]) -> list[list[Action]]:
    """Buttons for the children (absence id, name) a notice asks about: the answers, or a child choice first."""
    if not children:
        return []
    if len(children) == 1:
        return answer_actions(children[0][0])
    return pick_actions(children)


@dataclass
class _Item:
    absence: Absence
    student: Student
    change: str  # "new", "withdrawn" (corrected to present), "reason" (the reason changed)


async def notify_guardians(
    session: AsyncSession, settings: Settings, now: datetime, roll_call: RollCall, changes: RollCallChanges
) -> list[GuardianReach]:
    absences = list({a.id: a for a in [*changes.new, *changes.withdrawn, *changes.reason_changed]}.values())
    if not absences:
        return []
    await session.flush()
    students = {s.id: s for s in await session.scalars(select(Student).where(
        Student.id.in_({a.student_id for a in absences})))}
    guardians: dict[int, list[tuple[Guardianship, Person]]] = defaultdict(list)
    rows = await session.execute(
        select(Guardianship, Person).join(Person, Person.id == Guardianship.person_id)
        .where(Guardianship.student_id.in_(list(students))).order_by(Guardianship.rank, Guardianship.id)
    )
    for guardianship, person in rows:
        guardians[guardianship.student_id].append((guardianship, person))
    told = await told_state(session, [a.id for a in absences])

    fresh: dict[int, list[_Item]] = defaultdict(list)  # guardian id -> items for the absence notice
    fixes: dict[int, list[_Item]] = defaultdict(list)  # guardian id -> items for the correction notice
    people: dict[int, Person] = {}
    for absence in sorted(absences, key=lambda a: (students[a.student_id].name, a.id)):
        current = None if absence.withdrawn_at is not None else absence.reason
        for _, person in guardians.get(absence.student_id, []):
            people[person.id] = person
            before = told.get((absence.id, person.id))  # None: never told; ("absent"/"withdrawn", reason)
            change = _change_for(current, before)
            if change == "new":
                fresh[person.id].append(_Item(absence, students[absence.student_id], "new"))
            elif change is not None:
                fixes[person.id].append(_Item(absence, students[absence.student_id], change))
    if not fresh and not fixes:
        return []

    day = roll_call.day
    involved = {item.student.id for items in (*fresh.values(), *fixes.values()) for item in items}
    totals = await running_totals(session, [students[i] for i in involved], day)
    teacher = await session.scalar(
        select(Person.name).join(StaffRole, StaffRole.person_id == Person.id)
        .where(StaffRole.role == Role.CLASS_TEACHER, StaffRole.class_id == roll_call.class_id)
        .order_by(StaffRole.id).limit(1)
    )
    base = {"day": day, "teacher": teacher or ""}

    reaches: list[GuardianReach] = []
    for guardian_id in sorted(set(fresh) | set(fixes)):
        person = people[guardian_id]
        for template, items, prefix in (("absence_notice", fresh.get(guardian_id), "absence"),
                                        ("absence_correction", fixes.get(guardian_id), "absence-fix")):
            if not items:
                continue
            children = [_child_values(item, totals) for item in items]
            asking = [(item.absence.id, item.student.name) for item in items
                      if item.change != "withdrawn" and asks_reply(item.absence.reason)]
            ids = "-".join(str(item.absence.id) for item in items)
            key = f"{prefix}:{guardian_id}:{day.isoformat()}:{roll_call.revision}:{ids}"
            values = base | {"guardian": person.name, "children": children,
                             "reply_children": [name for _, name in asking], "choose_child": len(asking) > 1}
            delivery = await enqueue_notice(
                session, settings, now, person, template, values, key[:200],
                actions=reply_actions(asking), entity="absence", entity_id=items[0].absence.id,
            )
            for item in items:
                reaches.append(GuardianReach(item.student.id, person, delivery))
                if delivery is Delivery.QUEUED:
                    told_reason = None if item.change == "withdrawn" else item.absence.reason
                    audit.record(session, now, TOLD, "absence", item.absence.id, actor="system",
                                 guardian_id=guardian_id, reason=told_reason, revision=roll_call.revision,
                                 template=template)
    return reaches


def _change_for(current: str | None, before: tuple[str, str | None] | None) -> str | None:
    """What a guardian must be told about an absence now (`current` reason, None when withdrawn), given what they
    were told `before`: "new" (a notice), "withdrawn" or "reason" (a correction), or None (nothing)."""
    told_absent = before if before is not None and before[0] == "absent" else None
    if current is None:
        return "withdrawn" if told_absent else None
    if told_absent is None:
        return None if current in SILENT_REASONS else "new"
    return None if told_absent[1] == current else "reason"


async def told_state(session: AsyncSession, absence_ids: list[int]) -> dict[tuple[int, int], tuple[str, str | None]]:
    """(absence id, guardian id) -> ("absent", reason told) or ("withdrawn", None): the latest each was told."""
    events = await session.scalars(
        select(AuditEvent).where(AuditEvent.action == TOLD, AuditEvent.entity == "absence",
                                 AuditEvent.entity_id.in_(absence_ids)).order_by(AuditEvent.id)
    )
    state: dict[tuple[int, int], tuple[str, str | None]] = {}
    for event in events:
        if event.entity_id is None:  # the query asks for these ids; narrows the column's type
            continue
        reason = event.details.get("reason")
        state[(event.entity_id, int(event.details["guardian_id"]))] = ("absent", reason) if reason else (
            "withdrawn", None)
    return state


@dataclass(frozen=True)
class Totals:
    month_days: int
    term_days: int | None  # None when the school has no term covering the day


async def running_totals(session: AsyncSession, students: list[Student], day: date) -> dict[int, Totals]:
    """Each student's absent days (not withdrawn) from the start of `day`'s month, and of its term, up to `day`."""
    if not students:
        return {}
    school_ids = {s.school_class.school_id for s in students}
    calendars = await load_calendars(session, school_ids)
    term_start: dict[int, date | None] = {}
    for school_id in school_ids:
        calendar = calendars.get(school_id)
        term = calendar.term_on(day) if calendar is not None else None
        term_start[school_id] = term.start if term is not None else None
    month_start = day.replace(day=1)
    since = min([month_start, *(d for d in term_start.values() if d is not None)])
    rows = await session.execute(
        select(Absence.student_id, Absence.day).where(
            Absence.student_id.in_([s.id for s in students]), Absence.withdrawn_at.is_(None),
            Absence.day >= since, Absence.day <= day,
        )
    )
    days: dict[int, list[date]] = defaultdict(list)
    for student_id, absent_day in rows:
        days[student_id].append(absent_day)
    totals = {}
    for student in students:
        start = term_start[student.school_class.school_id]
        mine = days.get(student.id, [])
        totals[student.id] = Totals(
            month_days=sum(1 for d in mine if d >= month_start),
            term_days=None if start is None else sum(1 for d in mine if d >= start),
        )
    return totals


def _child_values(item: _Item, totals: dict[int, Totals]) -> dict:
    total = totals[item.student.id]
    return {
        "name": item.student.name,
        "class_name": item.student.school_class.name,
        "change": item.change,
        "reason": item.absence.reason,
        "asks_reply": item.change != "withdrawn" and asks_reply(item.absence.reason),
        "expected_return": item.absence.expected_return,
        "month_days": total.month_days,
        "term_days": total.term_days,
    }
