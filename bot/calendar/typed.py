"""The one parser for a day a person types: a full date (the forms `parse_day` reads, full-width digits too) or
just month and day (9-15, 9/15, 9.15, 9月15日), whose year depends on which way the question looks."""

from __future__ import annotations

import contextlib
import re
from datetime import date
from enum import Enum

from bot.calendar.days import parse_day

_MONTH_DAY = re.compile(r"^(\d{1,2})\s*(?:[-/.月])\s*(\d{1,2})\s*[日号]?$")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９－／．", "0123456789-/.")
AHEAD_DAYS = 90  # a month-day already past this year means next year when that is this close


class Looking(Enum):
    """Which way the question looks: back (a visit that happened) or ahead (a leave to come)."""

    BACK = "back"
    AHEAD = "ahead"


def parse_typed_day(text: str, today: date, looking: Looking) -> date | None:
    """The day typed, or None when it is not one. Month-day looking back: that day this year or last, whichever is
    nearer today (12-28 typed in January is last December; 9-10 typed on 9-09 is tomorrow, for the caller to refuse
    as in the future). Looking ahead: this year's, or next year's when this year's is past and next year's is within
    `AHEAD_DAYS`."""
    text = text.strip().translate(_FULL_WIDTH)
    full = parse_day(text)
    if full is not None:
        return full
    match = _MONTH_DAY.match(text)
    if match is None:
        return None
    month, day = (int(part) for part in match.groups())
    if looking is Looking.BACK:
        candidates = []
        for year in (today.year, today.year - 1):
            with contextlib.suppress(ValueError):
                candidates.append(date(year, month, day))
        return min(candidates, key=lambda candidate: abs((today - candidate).days), default=None)
    try:
        candidate = date(today.year, month, day)
    except ValueError:
        return None
    if candidate < today:
        with contextlib.suppress(ValueError):
            following = date(today.year + 1, month, day)
            if (following - today).days <= AHEAD_DAYS:
                return following
    return candidate
