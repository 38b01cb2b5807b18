"""Whose records a report covers: one school, one township or one county, and who may see which.

A person sees only their scope: a school officer or principal their school, a township officer their township, a
county officer their county; a class teacher gets their class's digest, never a report. The CLI names the scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.scope import Actor
from storage.models import County, Role, School, Township


class Level(StrEnum):
    SCHOOL = "school"
    TOWNSHIP = "township"
    COUNTY = "county"


@dataclass(frozen=True)
class ReportScope:
    level: Level
    id: int
    name: str

    @property
    def key(self) -> str:
        return f"{self.level.value}:{self.id}"

    def school_ids(self) -> Select[Any]:
        """The ids of the scope's schools, as a subquery to filter by (so no query per school)."""
        if self.level is Level.SCHOOL:
            return select(School.id).where(School.id == self.id)
        if self.level is Level.TOWNSHIP:
            return select(School.id).where(School.township_id == self.id)
        return select(School.id).join(Township, Township.id == School.township_id).where(Township.county_id == self.id)


class ScopeNotFound(LookupError):
    """No school, township or county by that name (or more than one school of that name: name the township)."""


def may_see(actor: Actor, scope: ReportScope, township_id: int | None = None, county_id: int | None = None) -> bool:
    """Whether `actor` may receive the report of `scope` (`township_id`/`county_id`: where the scope lies)."""
    if scope.level is Level.SCHOOL:
        return (actor.administers_school(scope.id) or (township_id is not None and actor.oversees_township(township_id))
                or (county_id is not None and actor.oversees_county(county_id)))
    if scope.level is Level.TOWNSHIP:
        return actor.oversees_township(scope.id) or (county_id is not None and actor.oversees_county(county_id))
    return actor.oversees_county(scope.id)


async def scopes_of(session: AsyncSession, actor: Actor) -> list[ReportScope]:
    """The report scopes of the actor's officer roles (each once), widest first."""
    found: dict[str, ReportScope] = {}
    for role in actor.roles:
        if role.role is Role.COUNTY_OFFICER and role.county_id is not None:
            county = await session.get(County, role.county_id)
            if county is not None:
                found.setdefault(f"c{county.id}", ReportScope(Level.COUNTY, county.id, county.name))
        elif role.role is Role.TOWNSHIP_OFFICER and role.township_id is not None:
            township = await session.get(Township, role.township_id)
            if township is not None:
                found.setdefault(f"t{township.id}", ReportScope(Level.TOWNSHIP, township.id, township.name))
        elif role.role in (Role.SCHOOL_ADMIN, Role.PRINCIPAL) and role.school_id is not None:
            school = await session.get(School, role.school_id)
            if school is not None:
                found.setdefault(f"s{school.id}", ReportScope(Level.SCHOOL, school.id, school.name))
    order = {Level.COUNTY: 0, Level.TOWNSHIP: 1, Level.SCHOOL: 2}
    return sorted(found.values(), key=lambda scope: (order[scope.level], scope.name))


async def scope_by_name(session: AsyncSession, spec: str, default_county: str) -> ReportScope:
    """`school:NAME`, `township:NAME` or `county` (the deployment's county) / `county:NAME`, as the CLI takes it."""
    level_text, _, name = spec.partition(":")
    try:
        level = Level(level_text.strip())
    except ValueError:
        raise ScopeNotFound(spec) from None
    name = name.strip() or (default_county if level is Level.COUNTY else "")
    columns = {Level.SCHOOL: (School.id, School.name), Level.TOWNSHIP: (Township.id, Township.name),
               Level.COUNTY: (County.id, County.name)}[level]
    rows = list(await session.execute(select(*columns).where(columns[1] == name)))
    if len(rows) != 1:
        raise ScopeNotFound(spec)
    return ReportScope(level, rows[0][0], rows[0][1])
