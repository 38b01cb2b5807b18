"""People (guardians and staff) by normalised phone: one phone is one person."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import select

from bot.roster.report import ImportReport
from bot.roster.trail import Trail
from storage.models import Person

CHUNK = 500  # keeps IN (…) lists well inside every backend's parameter limit

OUTCOME_RANK = {"unchanged": 0, "updated": 1, "created": 2}


def chunks(values: Iterable, size: int = CHUNK) -> Iterator[list]:
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


class People:
    def __init__(self, trail: Trail) -> None:
        self.trail = trail
        self.by_phone: dict[str, Person] = {}
        self.outcomes: dict[str, dict[Person, str]] = {}  # kind → person → strongest outcome this import

    async def load(self, phones: Iterable[str]) -> None:
        for chunk in chunks(set(phones)):
            for person in await self.trail.session.scalars(select(Person).where(Person.phone.in_(chunk))):
                if person.phone is not None:  # always, by the query; narrows the column's type
                    self.by_phone[person.phone] = person

    def name_conflict(self, phone: str, name: str) -> bool:
        """True when the database already has this phone under another name."""
        person = self.by_phone.get(phone)
        return person is not None and person.name != name

    def create(self, name: str, phone: str | None) -> Person:
        """A new person, added to the session (its id comes with the next flush)."""
        person = Person(name=name, phone=phone, created_at=self.trail.now, updated_at=self.trail.now)
        self.trail.session.add(person)
        if phone:
            self.by_phone[phone] = person
        self.trail.created("person.created", "person", person)
        return person

    def get_or_create(self, name: str, phone: str) -> tuple[Person, bool]:
        person = self.by_phone.get(phone)
        return (person, False) if person else (self.create(name, phone), True)

    def change_phone(self, person: Person, phone: str) -> None:
        """The person has a new number (the old one appears nowhere in the file)."""
        self.by_phone.pop(person.phone or "", None)
        person.phone = phone
        person.updated_at = self.trail.now
        self.by_phone[phone] = person
        self.trail.record("person.updated", "person", person.id, fields=["phone"])

    def note(self, kind: str, person: Person, outcome: str) -> None:
        """Count a person once per kind, with the strongest outcome seen (created > updated > unchanged)."""
        seen = self.outcomes.setdefault(kind, {})
        if OUTCOME_RANK[outcome] >= OUTCOME_RANK[seen.get(person, "unchanged")]:
            seen[person] = outcome

    def tally(self, report: ImportReport) -> None:
        for kind, outcomes in self.outcomes.items():
            for outcome in outcomes.values():
                report.count(kind, outcome)
