"""The span a report covers: a calendar month or a term, and the school year (1 September – 31 August) it lies in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    label: str  # "2026-11", or the term's name

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(first, following - timedelta(days=1), f"{year}-{month:02d}")

    @classmethod
    def parse_month(cls, text: str) -> Period:
        """ "2026-11" → November 2026; raises ValueError for anything else."""
        match = _MONTH.match(text.strip())
        if match is None:
            raise ValueError(f"not a month like 2026-11: {text!r}")
        return cls.month(int(match.group(1)), int(match.group(2)))

    @classmethod
    def previous_month(cls, day: date) -> Period:
        first = day.replace(day=1) - timedelta(days=1)
        return cls.month(first.year, first.month)

    @property
    def year_start(self) -> date:
        """The first day of the school year the period ends in (1 September)."""
        year = self.end.year if self.end.month >= 9 else self.end.year - 1
        return date(year, 9, 1)

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end
