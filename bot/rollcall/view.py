"""The roll call as its keyboard shows it, and the taps that change only that picture.

Pure: no database and no aiogram. A tap on a name or a page changes the teacher's working copy of the view, which
the bot keeps between taps (`handlers/roll_copies.py`) so that such a tap needs no database at all. Whenever the
service acts on the roll call (opening it again, submitting it) it folds the working copy into the stored draft,
re-checking every student id against the class's roll; a reason is only ever given through the service.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

from bot.core.clock import iso_day
from bot.core.errors import CodedError
from storage.models import AbsenceReason

PAGE_LIMIT = 40  # students on one keyboard page; a bigger class is split into equal pages


class ErrorCode(StrEnum):
    NOT_ALLOWED = "not_allowed"  # out of the actor's scope, or no such roll call / class
    NO_CLASS = "no_class"  # the actor has no class to take the roll for
    NOT_ON_ROLL = "not_on_roll"  # the student is not on this class's roll
    NOT_SCHOOL_DAY = "not_school_day"
    STALE_DAY = "stale_day"  # the roll call of another day
    SUBMITTED = "submitted"  # already submitted: reopen it to correct it
    OUTDATED = "outdated"  # a keyboard from before the roll call changed (reopened, submitted, answered)
    BAD_VALUE = "bad_value"  # a reason or date no button offers
    UNSAVED = "unsaved"  # a keyboard shows marks that were never saved (the working copy was lost)


class RollCallError(CodedError[ErrorCode]):
    """Why a roll-call tap was refused."""


@dataclass(frozen=True)
class Mark:
    """One student on the roll: absent or not, and why. A student whose approved leave covers the day is
    `on_leave` (marked absent, excused), expected back on `leave_return` when known."""

    student_id: int
    name: str
    absent: bool = False
    reason: AbsenceReason | None = None
    expected_return: date | None = None
    on_leave: bool = False
    leave_return: date | None = None


@dataclass(frozen=True)
class RollCallView:
    """The roll call as the keyboard shows it; `marks` is the whole roll in roster order."""

    roll_call_id: int
    class_id: int
    class_name: str
    day: date
    revision: int
    submitted: bool
    page: int
    pages: int
    marks: tuple[Mark, ...]

    @property
    def page_marks(self) -> tuple[Mark, ...]:
        size = page_size(len(self.marks))
        return self.marks[self.page * size : (self.page + 1) * size]

    @property
    def absent(self) -> list[Mark]:
        return [mark for mark in self.marks if mark.absent]

    @property
    def present_count(self) -> int:
        return len(self.marks) - len(self.absent)

    def absent_reasons(self) -> dict[int, AbsenceReason | None]:
        """Who is marked absent, and the reason shown (None: still to give)."""
        return {mark.student_id: mark.reason for mark in self.marks if mark.absent}


def page_size(total: int) -> int:
    pages = max(1, math.ceil(total / PAGE_LIMIT))
    return max(1, math.ceil(total / pages))


def page_count(total: int) -> int:
    return max(1, math.ceil(total / page_size(total)))


# --- taps ---------------------------------------------------------------------------------------------------------


def toggled(view: RollCallView, student_id: int, absent: bool | None = None) -> RollCallView:
    """Mark a student absent or present (`absent`; None flips). Setting the state the button showed makes a double
    tap harmless. Marked absent again, a student on approved leave is on leave again; anyone else needs a reason."""
    index = next((i for i, mark in enumerate(view.marks) if mark.student_id == student_id), None)
    if index is None:
        raise RollCallError(ErrorCode.NOT_ON_ROLL)
    mark = view.marks[index]
    target = not mark.absent if absent is None else absent
    if target == mark.absent:
        return view
    if target and mark.on_leave:
        changed = replace(mark, absent=True, reason=AbsenceReason.APPROVED_LEAVE, expected_return=mark.leave_return)
    else:
        changed = replace(mark, absent=target, reason=None, expected_return=None)
    return replace(view, marks=(*view.marks[:index], changed, *view.marks[index + 1 :]))


def paged(view: RollCallView, page: int) -> RollCallView:
    return replace(view, page=min(max(page, 0), view.pages - 1))


# --- the working copy as data (for the FSM storage: JSON, so Redis can hold it too) -------------------------------


def to_data(view: RollCallView) -> dict[str, Any]:
    return {
        "roll_call_id": view.roll_call_id,
        "class_id": view.class_id,
        "class_name": view.class_name,
        "day": view.day.isoformat(),
        "revision": view.revision,
        "submitted": view.submitted,
        "page": view.page,
        "pages": view.pages,
        "marks": [_mark_data(mark) for mark in view.marks],
    }


def from_data(data: dict[str, Any]) -> RollCallView:
    return RollCallView(
        data["roll_call_id"], data["class_id"], data["class_name"], date.fromisoformat(data["day"]), data["revision"],
        data["submitted"], data["page"], data["pages"], tuple(_mark_from(item) for item in data["marks"]),
    )


def _mark_data(mark: Mark) -> list[Any]:
    return [mark.student_id, mark.name, mark.absent, mark.reason and mark.reason.value, iso_day(mark.expected_return),
            mark.on_leave, iso_day(mark.leave_return)]


def _mark_from(item: list[Any]) -> Mark:
    student_id, name, absent, reason, expected, on_leave, leave_return = item
    return Mark(student_id, name, absent, AbsenceReason(reason) if reason else None, _day(expected), on_leave,
                _day(leave_return))


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
