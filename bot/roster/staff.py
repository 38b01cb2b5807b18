"""Staff rows against the database: resolve each unit to a school, township or county, then give every listed person
exactly the school, township and county roles the file lists for them (class-teacher roles come from the roster).
A row's 单位电话 sets its school's or township's office phone, a 乡镇专干 row's 落款 the township's issuer name (both
shown in the documents they issue)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.roster.people import People, chunks
from bot.roster.places import Places
from bot.roster.report import ImportReport
from bot.roster.rows import RowError, StaffRow
from bot.roster.trail import Trail, Values
from storage.models import Person, Role, School, StaffRole, Township

Scope = tuple[Role, int | None, int | None, int | None]  # role, school id, township id, county id


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
        await self.places.load({row.county for row in rows}
                               | {row.unit for row in rows if row.role is Role.COUNTY_OFFICER})
        await self.people.load(row.phone for row in rows)
        person_ids = [person["id"] for person in self.people.by_phone.values()]
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
        if row.role is Role.COUNTY_OFFICER:
            county = self.places.counties.get(row.unit)
            if county is None:
                raise Unresolved("unit", "unknown_county", unit=row.unit)
            return (row.role, None, None, county.id)
        if row.role is Role.TOWNSHIP_OFFICER:
            township = self.places.township(row.county, row.unit)
            if township is None:
                raise Unresolved("unit", "unknown_township", unit=row.unit, county=row.county)
            return (row.role, None, township.id, None)
        if row.township and self.places.township(row.county, row.township) is None:
            raise Unresolved("township", "unknown_township", unit=row.township, county=row.county)
        schools = self.places.schools_named(row.county, row.unit, row.township)
        if not schools:
            raise Unresolved("unit", "unknown_school", unit=row.unit, county=row.county)
        if len(schools) > 1:
            raise Unresolved("unit", "ambiguous_school", unit=row.unit)
        return (row.role, schools[0].id, None, None)

    async def apply(self, rows: list[StaffRow], *, keep_phones: set[str]) -> None:
        """Add the listed roles; remove a listed person's other school/township roles unless one of their rows
        had an error (`keep_phones`), since the file then does not say all of them."""
        await self.trail.number_new_rows(Person, StaffRole)
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
        for row in rows:
            self._set_contacts(row)
        await self.trail.flush()

    def _set_contacts(self, row: StaffRow) -> None:
        """The unit's office phone and a township's issuer name, when the row gives them and they changed."""
        _role, school_id, township_id, _county_id = self.scopes[row.row]
        if school_id is not None:
            place: School | Township | None = next(
                (s for s in self.places.schools.values() if s.id == school_id), None)
        else:
            place = next((t for t in self.places.townships.values() if t.id == township_id), None)
        if place is None:
            return
        changes = {"office_phone": row.office_phone}
        if isinstance(place, Township):
            changes["issuer_name"] = row.issuer
        changed = [name for name, value in changes.items() if value and getattr(place, name) != value]
        for name in changed:
            setattr(place, name, changes[name])
        if changed:
            self.trail.record(f"{place.__tablename__[:-1]}.updated", place.__tablename__[:-1], place.id,
                              fields=changed)

    async def _sync_roles(self, person: Values, wanted: set[Scope], *, remove: bool) -> bool:
        current = self.roles.get(person["id"], [])
        have = {(Role(r.role), r.school_id, r.township_id, r.county_id): r for r in current}
        changed = False
        for row in current:
            key = (Role(row.role), row.school_id, row.township_id, row.county_id)
            if remove and (key not in wanted or have[key] is not row):  # also drops exact duplicates
                await self.session.delete(row)
                self.trail.record("staff_role.deleted", "staff_role", row.id, person_id=person["id"])
                self.report.count("role", "removed")
                changed = True
        for role, school_id, township_id, county_id in sorted(wanted - have.keys(), key=str):
            scope = {"school_id": school_id, "township_id": township_id, "county_id": county_id}
            new = self.trail.add(StaffRole, {"person_id": person["id"], "role": role, **scope})
            self.trail.created("staff_role.created", "staff_role", new, person_id=person["id"], role=str(role))
            self.report.count("role", "created")
            changed = True
        self.report.count("role", "unchanged", len(wanted & have.keys()))
        return changed
