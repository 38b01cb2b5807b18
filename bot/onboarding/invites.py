"""Who gets an invite code: the people of a selection (school, class, role, person) not yet linked, and of those
only the ones without a valid code, unless codes are reissued on purpose (lost slips).

Only a code's hash is stored, so a valid code cannot be shown again; issuing a new one revokes the old one, which
would silently invalidate a slip already handed out. `issue_selected` therefore leaves valid codes alone by default
and says how many people hold one. It returns the people with their new plain codes, for any printer (the CLI's
table and CSV, printed slips).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import audit
from bot.core.phones import normalize_phone
from bot.roster.places import class_key
from storage.models import (
    Channel,
    ContactPoint,
    Guardianship,
    InviteCode,
    Person,
    Role,
    School,
    SchoolClass,
    StaffRole,
    Student,
)

GUARDIAN = "guardian"  # the role filter for guardians (who have no staff role row)


@dataclass(frozen=True)
class InviteSelection:
    """Filters, all optional and combined with AND: a school's name, a class's name (bracket and numeral spellings
    match, 四年级(2)班 = 4年级2班), a role (a Role value or "guardian"), a person's name or phone."""

    school: str | None = None
    class_name: str | None = None
    role: str | None = None
    person: str | None = None


@dataclass(frozen=True)
class InviteBatch:
    issued: list  # list[bot.onboarding.service.Invite], staff first, guardians by class
    holding: int  # selected people who already hold a valid code and got none (use reissue for lost slips)


async def select_people(
    session: AsyncSession, now: datetime, selection: InviteSelection, *, channel: str = Channel.TELEGRAM
) -> tuple[list[Person], set[int]]:
    """The selected people not yet linked on `channel`, and the ids of those among them holding a valid code."""
    from bot.onboarding.service import ACTIVE_STATUSES  # service imports this module

    class_ids = await _class_ids(session, selection)
    staff = _staff_clause(selection, class_ids)
    child = _guardian_clause(selection, class_ids, ACTIVE_STATUSES)
    linked = exists().where(ContactPoint.person_id == Person.id, ContactPoint.channel == channel)
    stmt = select(Person).where(~linked, or_(staff, child)).order_by(Person.id)
    if selection.person:
        stmt = stmt.where(or_(Person.name == selection.person.strip(), Person.phone == _phone(selection.person)))
    people = list(await session.scalars(stmt))
    valid = select(InviteCode.person_id).where(
        InviteCode.person_id.in_([p.id for p in people]), InviteCode.used_at.is_(None),
        InviteCode.revoked_at.is_(None), InviteCode.expires_at > now,
    )  # fmt: skip
    return people, set(await session.scalars(valid))


async def issue_selected(
    session: AsyncSession,
    now: datetime,
    ttl_days: int,
    selection: InviteSelection | None = None,
    *,
    reissue: bool = False,
    channel: str = Channel.TELEGRAM,
) -> InviteBatch:
    """A new code for each selected person without a valid one (with `reissue`: for each, revoking the old)."""
    from bot.onboarding.service import Invite, children_of, generate_code, hash_code, roles_of

    people, holding = await select_people(session, now, selection or InviteSelection(), channel=channel)
    if not reissue:
        people = [person for person in people if person.id not in holding]
    if not people:
        return InviteBatch([], len(holding))
    ids = [person.id for person in people]
    roles, children = await roles_of(session, ids), await children_of(session, ids)
    await session.execute(
        update(InviteCode)
        .where(InviteCode.person_id.in_(ids), InviteCode.used_at.is_(None), InviteCode.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    expires_at = now + timedelta(days=ttl_days)
    codes = {person.id: generate_code() for person in people}
    rows = {pid: InviteCode(person_id=pid, code_hash=hash_code(code), created_at=now, expires_at=expires_at)
            for pid, code in codes.items()}  # fmt: skip
    session.add_all(rows.values())
    await session.flush()
    invites = []
    for person in people:
        audit.record(session, now, "invite_issued", "person", person.id, actor="cli", invite_code_id=rows[person.id].id)
        invites.append(Invite(person.id, person.name, tuple(roles[person.id]), tuple(children[person.id]),
                              codes[person.id], expires_at))  # fmt: skip
    # staff first; guardians by class and child, the order a class teacher hands the slips out in
    invites.sort(key=lambda i: (not i.roles, i.units, [child.name for child in i.children], i.name))
    return InviteBatch(invites, 0 if reissue else len(holding))


async def _class_ids(session: AsyncSession, selection: InviteSelection) -> list[int] | None:
    """The classes the school and class filters name (None: no such filter)."""
    if not (selection.school or selection.class_name):
        return None
    stmt = select(SchoolClass.id, SchoolClass.name).join(School)
    if selection.school:
        stmt = stmt.where(School.name == selection.school.strip())
    wanted = class_key(selection.class_name) if selection.class_name else None
    return [cid for cid, name in await session.execute(stmt) if wanted is None or class_key(name) == wanted]


def _staff_clause(selection: InviteSelection, class_ids: list[int] | None) -> ColumnElement[bool]:
    if selection.role == GUARDIAN:
        return false()  # guardians only
    conditions: list[ColumnElement[bool]] = [StaffRole.person_id == Person.id]
    if selection.role:
        conditions.append(StaffRole.role == selection.role)
    if class_ids is not None:
        in_school = (
            StaffRole.school_id.in_(select(SchoolClass.school_id).where(SchoolClass.id.in_(class_ids)))
            if selection.school and not selection.class_name
            else false()  # a class filter: school-wide roles are not the class's
        )
        conditions.append(or_(StaffRole.class_id.in_(class_ids), in_school))
    return exists().where(*conditions)


def _guardian_clause(selection: InviteSelection, class_ids: list[int] | None, active: tuple) -> ColumnElement[bool]:
    if selection.role and selection.role != GUARDIAN:
        return false()  # staff only
    conditions = [
        Guardianship.person_id == Person.id, Guardianship.student_id == Student.id, Student.status.in_(active),
    ]  # fmt: skip
    if class_ids is not None:
        conditions.append(Student.class_id.in_(class_ids))
    return exists().where(*conditions)


def _phone(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except ValueError:
        return None


ROLE_CHOICES = (*(str(role) for role in Role), GUARDIAN)
