"""Staff rows against the database: resolve each unit to a school or township, then give every listed person
exactly the school and township roles the file lists for them (class-teacher roles come from the roster)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.roster.people import People, chunks
from bot.roster.places import Places
from bot.roster.report import ImportReport
from bot.roster.rows import RowError, StaffRow
from bot.roster.trail import Trail
from storage.models import Person, Role, StaffRole

Scope = tuple[Role, int | None, int | None]  # role, school id, township id


class Unresolved(Exception):
    def __init__(self, field: str, code: str, **params: str) -> None:
        super().__init__(code)
        self.error = (field, code, params)


class StaffImport:
    def __init__(self, session: AsyncSession, *, now: datetime, actor: str, report: ImportReport) -> None:
        self.session, self.report = session, report
        self.trail = Trail(session, now=now, actor=actor, source="staff")
        self.places = Places(self.trail, report)
        self.people = People(self.trail)
        self.scopes: dict[int, Scope] = {}  # row number → resolved scope
        self.roles: dict[int, list[StaffRole]] = {}  # person id → their school and township roles

    async def load(self, rows: list[StaffRow]) -> None:
        await self.places.load({row.county for row in rows})
        await self.people.load(row.phone for row in rows)
        person_ids = [person.id for person in self.people.by_phone.values()]
        for chunk in chunks(person_ids):
            stmt = select(StaffRole).where(StaffRole.person_id.in_(chunk), StaffRole.role != Role.CLASS_TEACHER)
            for role in await self.session.scalars(stmt.order_by(StaffRole.id)):
                self.roles.setdefault(role.person_id, []).append(role)

    def check(self, rows: list[StaffRow]) -> list[RowError]:
        """Units that name no school or township, or a school name several townships have; known phones under
        other names."""
        errors: list[RowError] = []
        for row in rows:
            if self.people.name_conflict(row.phone, row.name):
                errors.append(RowError(row.row, "phone", "phone_name_conflict_db"))
            try:
                self.scopes[row.row] = self._scope(row)
            except Unresolved as exc:
                errors.append(RowError(row.row, *exc.error))
        return errors

    def _scope(self, row: StaffRow) -> Scope:
        if row.role is Role.TOWNSHIP_OFFICER:
            township = self.places.township(row.county, row.unit)
            if township is None:
                raise Unresolved("unit", "unknown_township", unit=row.unit, county=row.county)
            return (row.role, None, township.id)
        if row.township and self.places.township(row.county, row.township) is None:
            raise Unresolved("township", "unknown_township", unit=row.township, county=row.county)
        schools = self.places.schools_named(row.county, row.unit, row.township)
        if not schools:
            raise Unresolved("unit", "unknown_school", unit=row.unit, county=row.county)
        if len(schools) > 1:
            raise Unresolved("unit", "ambiguous_school", unit=row.unit)
        return (row.role, schools[0].id, None)

    async def apply(self, rows: list[StaffRow], *, keep_phones: set[str]) -> None:
        """Add the listed roles; remove a listed person's other school/township roles unless one of their rows
        had an error (`keep_phones`), since the file then does not say all of them."""
        by_phone: dict[str, list[StaffRow]] = defaultdict(list)
        for row in rows:
            by_phone[row.phone].append(row)
        people = {
            phone: self.people.get_or_create(person_rows[0].name, phone) for phone, person_rows in by_phone.items()
        }
        await self.trail.flush()
        for phone, (person, created) in people.items():
            wanted = {self.scopes[row.row] for row in by_phone[phone]}
            changed = await self._sync_roles(person, wanted, remove=phone not in keep_phones)
            self.report.count("staff", "created" if created else "updated" if changed else "unchanged")
        await self.trail.flush()

    async def _sync_roles(self, person: Person, wanted: set[Scope], *, remove: bool) -> bool:
        current = self.roles.get(person.id, [])
        have = {(Role(r.role), r.school_id, r.township_id): r for r in current}
        changed = False
        for row in current:
            key = (Role(row.role), row.school_id, row.township_id)
            if remove and (key not in wanted or have[key] is not row):  # also drops exact duplicates
                await self.session.delete(row)
                self.trail.record("staff_role.deleted", "staff_role", row.id, person_id=person.id)
                self.report.count("role", "removed")
                changed = True
        for role, school_id, township_id in sorted(wanted - have.keys(), key=str):
            new = StaffRole(person_id=person.id, role=role, school_id=school_id, township_id=township_id)
            self.session.add(new)
            self.trail.created("staff_role.created", "staff_role", new, person_id=person.id, role=str(role))
            self.report.count("role", "created")
            changed = True
        self.report.count("role", "unchanged", len(wanted & have.keys()))
        return changed
