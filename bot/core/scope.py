"""Who is acting, and what their roles let them see and change.

`Actor` is resolved once per update (or CLI call) from a contact point; the checks below are plain functions, so
handlers, the scheduler and the CLI apply the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    ContactPoint,
    Guardianship,
    Person,
    Role,
    School,
    SchoolClass,
    StaffRole,
    Student,
    Township,
)


@dataclass(frozen=True)
class RoleScope:
    role: Role
    class_id: int | None
    school_id: int | None
    township_id: int | None
    county_id: int | None = None


@dataclass(frozen=True)
class Actor:
    person_id: int
    name: str
    locale: str | None
    roles: tuple[RoleScope, ...] = ()
    children: frozenset[int] = field(default_factory=frozenset)  # student ids this person is guardian of

    @property
    def is_staff(self) -> bool:
        return bool(self.roles)

    @property
    def is_guardian(self) -> bool:
        return bool(self.children)

    def has_role(self, *roles: Role) -> bool:
        return any(scope.role in roles for scope in self.roles)

    def teaches(self, class_id: int) -> bool:
        return any(s.role is Role.CLASS_TEACHER and s.class_id == class_id for s in self.roles)

    def administers_school(self, school_id: int) -> bool:
        return any(s.role in (Role.SCHOOL_ADMIN, Role.PRINCIPAL) and s.school_id == school_id for s in self.roles)

    def oversees_township(self, township_id: int) -> bool:
        return any(s.role is Role.TOWNSHIP_OFFICER and s.township_id == township_id for s in self.roles)

    def oversees_county(self, county_id: int) -> bool:
        """A 县教育局 officer of that county: sees every school and township in it."""
        return any(s.role is Role.COUNTY_OFFICER and s.county_id == county_id for s in self.roles)

    def can_manage_class(self, class_id: int, school_id: int) -> bool:
        """The class's teacher or an admin/principal of its school."""
        return self.teaches(class_id) or self.administers_school(school_id)

    def can_see_student(self, student_id: int, class_id: int, school_id: int, township_id: int) -> bool:
        return (
            student_id in self.children
            or self.can_manage_class(class_id, school_id)
            or self.oversees_township(township_id)
        )


async def person_by_contact(session: AsyncSession, channel: str, address: str) -> Person | None:
    stmt = select(Person).join(ContactPoint).where(ContactPoint.channel == channel, ContactPoint.address == address)
    return await session.scalar(stmt)


async def actor_by_contact(session: AsyncSession, channel: str, address: str) -> tuple[Person | None, Actor | None]:
    """Who acts from a contact point: the person (None: nobody linked it) with their roles and children."""
    person = await person_by_contact(session, channel, address)
    return person, await load_actor(session, person) if person else None


async def load_actor(session: AsyncSession, person: Person) -> Actor:
    """The person's roles with their scope resolved up to the county, and the children they are guardian of."""
    school_id = func.coalesce(StaffRole.school_id, SchoolClass.school_id)
    township_id = func.coalesce(StaffRole.township_id, School.township_id)
    role_rows = await session.execute(
        select(StaffRole, school_id, township_id, func.coalesce(StaffRole.county_id, Township.county_id))
        .outerjoin(SchoolClass, SchoolClass.id == StaffRole.class_id)
        .outerjoin(School, School.id == school_id)
        .outerjoin(Township, Township.id == township_id)
        .where(StaffRole.person_id == person.id)
    )
    roles = tuple(
        RoleScope(Role(row.role), row.class_id, school, township, county)
        for row, school, township, county in role_rows
    )
    children = await session.scalars(
        select(Guardianship.student_id).join(Student).where(Guardianship.person_id == person.id)
    )
    return Actor(person.id, person.name, person.locale, roles, frozenset(children))
