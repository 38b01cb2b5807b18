"""Counties, townships, schools and classes named by a file: loaded once, looked up in memory, created on demand."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeVar

from sqlalchemy import select

from bot.roster.report import ImportReport
from bot.roster.trail import Trail
from storage.models import County, School, SchoolClass, Township

Place = TypeVar("Place", County, Township, School, SchoolClass)
_KINDS = {County: "county", Township: "township", School: "school", SchoolClass: "class"}
_CLASS_NOISE = re.compile(r"[\s()（）〔〕\[\]【】「」]")
_NUMERALS = dict(zip("〇零一二两三四五六七八九", "001223456789", strict=True))
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_TENS = re.compile(r"([一二三四五六七八九]?)十([一二三四五六七八九]?)")


@lru_cache(maxsize=4096)  # a file names a few hundred classes, on tens of thousands of rows
def class_key(name: str) -> str:
    """What makes two spellings one class: 四年级（2）班, 四年级(2)班, 4年级2班 and 四年级二班 are one."""
    key = _CLASS_NOISE.sub("", name.translate(_HALF_WIDTH))
    key = _TENS.sub(lambda m: str(int(_NUMERALS.get(m[1], "1")) * 10 + int(_NUMERALS.get(m[2], "0"))), key)
    return "".join(_NUMERALS.get(char, char) for char in key).casefold()


class Places:
    def __init__(self, trail: Trail, report: ImportReport) -> None:
        self.trail, self.session, self.report = trail, trail.session, report
        self.counties: dict[str, County] = {}
        self.townships: dict[tuple[int, str], Township] = {}
        self.schools: dict[tuple[int, str], School] = {}
        self.classes: dict[tuple[int, str], SchoolClass] = {}

    async def load(self, county_names: Iterable[str]) -> None:
        """Every place of the named counties (a county is a few hundred schools at most)."""
        counties = await self.session.scalars(select(County).where(County.name.in_(set(county_names))))
        self.counties = {county.name: county for county in counties}
        townships = await self.session.scalars(
            select(Township).where(Township.county_id.in_([c.id for c in self.counties.values()]))
        )
        self.townships = {(t.county_id, t.name): t for t in townships}
        schools = await self.session.scalars(
            select(School).where(School.township_id.in_([t.id for t in self.townships.values()]))
        )
        self.schools = {(s.township_id, s.name): s for s in schools}
        classes = await self.session.scalars(
            select(SchoolClass).where(SchoolClass.school_id.in_([s.id for s in self.schools.values()]))
        )
        self.classes = {(c.school_id, class_key(c.name)): c for c in classes}

    # --- lookups (no writes) ---

    def township(self, county: str, name: str | None) -> Township | None:
        found = self.counties.get(county)
        return self.townships.get((found.id, name)) if found and name else None

    def school(self, county: str, township: str | None, name: str) -> School | None:
        found = self.township(county, township)
        return self.schools.get((found.id, name)) if found else None

    def school_class(self, county: str, township: str | None, school: str, name: str) -> SchoolClass | None:
        found = self.school(county, township, school)
        return self.classes.get((found.id, class_key(name))) if found else None

    def schools_named(self, county: str, name: str, township: str | None = None) -> list[School]:
        """The county's schools with this name (in `township` when given): more than one is ambiguous."""
        found = self.counties.get(county)
        if found is None:
            return []
        townships = [
            t for (c_id, t_name), t in self.townships.items() if c_id == found.id and township in (None, t_name)
        ]
        return [school for t in townships if (school := self.schools.get((t.id, name)))]

    def township_of(self, county: str, school: str) -> list[str]:
        """The townships that have a school of this name in the county (for files without a 乡镇 column)."""
        names = {township.id: name for (_, name), township in self.townships.items()}
        return [names[school_row.township_id] for school_row in self.schools_named(county, school)]

    # --- get or create ---

    async def get_class(self, county: str, township: str, school: str, name: str) -> SchoolClass:
        """The class, creating it (and its school, township, county) when the database does not have it yet."""
        county_row = await self._get(self.counties, county, lambda: County(name=county))
        township_row = await self._get(
            self.townships, (county_row.id, township), lambda: Township(county_id=county_row.id, name=township)
        )
        school_row = await self._get(
            self.schools, (township_row.id, school), lambda: School(township_id=township_row.id, name=school)
        )
        return await self._get(
            self.classes, (school_row.id, class_key(name)), lambda: SchoolClass(school_id=school_row.id, name=name)
        )

    async def _get(self, cache: dict, key, new: Callable[[], Place]) -> Place:
        if key not in cache:
            cache[key] = await self._create(new())
        return cache[key]

    async def _create(self, place: Place) -> Place:
        kind = _KINDS[type(place)]
        self.session.add(place)
        await self.session.flush()  # its id is needed at once, by the places and students below it
        self.trail.record(f"{kind}.created", kind, place.id)
        self.report.count(kind, "created")
        return place
