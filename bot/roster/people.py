"""People (guardians and staff) by normalised phone: one phone is one person. A person is a dict of their id, name
and phone (see bot.roster.trail)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Result, select
from sqlalchemy.orm import QueryableAttribute

from bot.roster.report import ImportReport
from bot.roster.trail import Trail, Values
from storage.models import Person

CHUNK = 2000  # keeps IN (…) lists well inside every backend's parameter limit (32,766 on SQLite and asyncpg)

OUTCOME_RANK = {"unchanged": 0, "updated": 1, "created": 2}


def as_dicts(result: Result) -> list[Values]:
    """The rows of a result as dicts of their columns (several times faster than `Row._asdict`)."""
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def chunks(values: Iterable, size: int = CHUNK) -> Iterator[list]:
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


class People:
    def __init__(self, trail: Trail) -> None:
        self.trail = trail
        self.by_phone: dict[str, Values] = {}
        self.outcomes: dict[str, list[tuple[Values, str]]] = {}  # kind → (person, outcome) as seen this import

    async def load(self, phones: Iterable[str]) -> None:
        for person in await self.select(Person.phone, phones):
            self.by_phone[person["phone"]] = person

    async def select(self, column: QueryableAttribute[Any], values: Iterable) -> list[Values]:
        """The people whose `column` is one of `values`: what an import compares and changes (the timestamps are
        written, never read)."""
        found: list[Values] = []
        for chunk in chunks(set(values)):
            stmt = select(Person.id, Person.name, Person.phone).where(column.in_(chunk))
            found += as_dicts(await self.trail.session.execute(stmt))
        return found

    def name_conflict(self, phone: str, name: str) -> bool:
        """True when the database already has this phone under another name."""
        person = self.by_phone.get(phone)
        return person is not None and person["name"] != name

    def create(self, name: str, phone: str | None) -> Values:
        """A new person (their id comes with the next flush on PostgreSQL)."""
        now = self.trail.now
        person = self.trail.add(Person, {"name": name, "phone": phone, "created_at": now, "updated_at": now})
        if phone:
            self.by_phone[phone] = person
        self.trail.created("person.created", "person", person)
        return person

    def get_or_create(self, name: str, phone: str) -> tuple[Values, bool]:
        person = self.by_phone.get(phone)
        return (person, False) if person else (self.create(name, phone), True)

    def change_phone(self, person: Values, phone: str) -> None:
        """The person has a new number (the old one appears nowhere in the file)."""
        self.by_phone.pop(person["phone"] or "", None)
        person["phone"] = phone
        self.by_phone[phone] = person
        self.trail.change(Person, person["id"], {"phone": phone, "updated_at": self.trail.now})
        self.trail.record("person.updated", "person", person["id"], fields=["phone"])

    def note(self, kind: str, person: Values, outcome: str) -> None:
        """Count a person once per kind, with the strongest outcome seen (created > updated > unchanged)."""
        self.outcomes.setdefault(kind, []).append((person, outcome))

    def tally(self, report: ImportReport) -> None:
        """Count every noted person (after the flush that gave the new ones their ids)."""
        for kind, seen in self.outcomes.items():
            strongest: dict[int, str] = {}
            for person, outcome in seen:
                if OUTCOME_RANK[outcome] >= OUTCOME_RANK[strongest.get(person["id"], "unchanged")]:
                    strongest[person["id"]] = outcome
            for outcome in strongest.values():
                report.count(kind, outcome)
