"""The one clock: every part of Quanxue asks it for the time instead of the system.

`SystemClock` is the only place that reads the system time. `FileClock` reads an ISO 8601 instant from a file on
every call (demos, training, acceptance tests); `ManualClock` is set and advanced by code (tests, the demo script).
All clocks return timezone-aware UTC datetimes; convert with `to_local` for display and school-day arithmetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = _aware_utc(instant)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


class FileClock:
    """Reads the current instant from a file (ISO 8601 with offset) each time it is asked."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.now()  # fail at start, not at the first tap, if the file is missing or malformed

    def now(self) -> datetime:
        return parse_instant(self.path.read_text(encoding="utf-8").strip())


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 timestamp that must carry its offset; returns UTC."""
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset (write e.g. 2026-09-07T08:00:00+08:00)")
    return instant.astimezone(UTC)


def to_local(instant: datetime, tz: tzinfo | str) -> datetime:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return instant.astimezone(zone)


def iso_day(day: date | None) -> str | None:
    """A day as ISO text for JSON (history details, drafts); None stays None."""
    return day.isoformat() if day else None


def _aware_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("clock instants must be timezone-aware")
    return instant.astimezone(UTC)
