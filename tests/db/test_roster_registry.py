"""Registry exports and re-imports against the database: identity by ID number, respelt classes, `?` ghosts,
moved classes that need --yes, dry runs, children without a guardian."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import func, select

from bot.core.settings import Settings
from bot.roster.cli import run_import_roster
from bot.roster.importer import ImportReport, import_roster
from bot.roster.reading import read_bytes, read_table
from bot.roster.samples import REGISTRY_HEADER, children, school_rows
from storage.models import Guardianship, SchoolClass, Student
from tests.db.test_roster_import import snapshot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KIDS = children(12, schools=1)
CLASS_LIST = "乡镇,学校,班级,姓名,出生日期,监护人,监护人电话"


def csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def class_rows(class_name: str, kids=KIDS) -> list[str]:
    return [f"青山镇,第1小学,{class_name},{k.name},{k.born},{k.guardian},{k.guardian_phone}" for k in kids]


async def run(sessions, clock, data: bytes, **options) -> ImportReport:
    async with sessions() as session, session.begin():
        report = await import_roster(session, read_bytes(data), now=clock.now(), county="本县", **options)
        if not report.written:
            await session.rollback()
        return report


async def count(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_a_registry_xls_after_the_schools_are_placed(sessions, clock):
    kids = children(3, schools=1)
    places = "\r\n".join(",".join(row) for row in school_rows(kids)).encode()
    assert (await run(sessions, clock, places)).ok
    async with sessions() as session, session.begin():
        report = await import_roster(session, read_table(FIXTURES / "registry.xls"), now=clock.now(), county="本县")
    assert report.errors == []
    assert report.get("student").created == 2  # the first child was placed by the small file: matched by ID number
    assert report.get("student").updated == 1
    async with sessions() as session:
        ids = set(await session.scalars(select(Student.id_number)))
        assert ids == {k.id_number for k in kids}
        assert await session.scalar(select(func.count()).select_from(Guardianship)) == 6


async def test_a_new_school_without_a_township_is_refused(sessions, clock):
    row = ",".join(KIDS[0].registry_row())
    report = await run(sessions, clock, csv(",".join(REGISTRY_HEADER), row))
    assert [(e.row, e.field, e.code) for e in report.errors] == [(2, "school", "new_school_needs_township")]
    assert await count(sessions, Student) == 0


async def test_a_respelt_class_is_the_same_class(sessions, clock):
    assert (await run(sessions, clock, csv(CLASS_LIST, *class_rows("四年级(2)班")))).ok
    report = await run(sessions, clock, csv(CLASS_LIST, *class_rows("四年级（2）班")))
    assert report.ok and report.moves == []
    assert report.get("student").unchanged == len(KIDS)
    assert await count(sessions, SchoolClass) == 1


async def test_a_moved_class_needs_yes_and_a_dry_run_writes_nothing(sessions, clock):
    assert (await run(sessions, clock, csv(CLASS_LIST, *class_rows("四年级2班")))).ok
    before = await snapshot(sessions)
    moved = csv(CLASS_LIST, *class_rows("五年级2班"))
    refused = await run(sessions, clock, moved)
    assert refused.needs_confirmation and not refused.written
    assert len(refused.moves) == len(KIDS)
    assert refused.moves[0][1:] == (KIDS[0].name, "四年级2班", "五年级2班")
    assert await snapshot(sessions) == before

    dry = await run(sessions, clock, moved, confirm=True, dry_run=True)
    assert dry.get("student").updated == len(KIDS) and not dry.written
    assert await snapshot(sessions) == before

    done = await run(sessions, clock, moved, confirm=True)
    assert done.written and done.get("student").updated == len(KIDS)
    async with sessions() as session:
        assert set(await session.scalars(select(SchoolClass.name).join(Student))) == {"五年级2班"}


async def test_a_ghost_with_a_question_mark_is_refused_so_no_duplicate_appears(sessions, clock):
    ghost = class_rows("一年级1班", KIDS[:1])[0].replace(KIDS[0].name, KIDS[0].name[0] + "?")
    report = await run(sessions, clock, csv(CLASS_LIST, ghost))
    assert [e.code for e in report.errors] == ["garbled_name"] and not report.written
    assert (await run(sessions, clock, csv(CLASS_LIST, *class_rows("一年级1班", KIDS[:1])))).ok
    assert await count(sessions, Student) == 1


async def test_a_child_without_a_guardian_imports_with_a_warning(sessions, clock, db_url, tmp_path):
    kid = KIDS[0]
    path = tmp_path / "no_guardian.csv"
    path.write_bytes(csv(CLASS_LIST, f"青山镇,第1小学,一年级1班,{kid.name},{kid.born},,"))
    settings = Settings(database_url=db_url, locale="zh_Hans", _env_file=None)
    out = io.StringIO()
    assert await run_import_roster(settings, clock, path, out=out) == 0
    assert f"提醒：第 2 行，监护人：{kid.name} 没有登记监护人" in out.getvalue()
    assert await count(sessions, Student) == 1
    assert await count(sessions, Guardianship) == 0


async def test_dry_run_from_the_cli_prints_the_plan_and_writes_nothing(sessions, clock, db_url, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(csv(CLASS_LIST, *class_rows("一年级1班")))
    settings = Settings(database_url=db_url, locale="en", _env_file=None)
    out = io.StringIO()
    assert await run_import_roster(settings, clock, path, dry_run=True, out=out) == 0
    assert f"Students: {len(KIDS)} new" in out.getvalue()
    assert "Dry run" in out.getvalue()
    assert await count(sessions, Student) == 0


async def test_an_empty_table_is_a_warning_not_success(sessions, clock, db_url, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(csv(CLASS_LIST))
    settings = Settings(database_url=db_url, locale="en", _env_file=None)
    out = io.StringIO()
    assert await run_import_roster(settings, clock, path, out=out) == 1
    assert "Warning: the file has no student rows" in out.getvalue()


async def test_skip_invalid_is_suggested_only_when_other_rows_are_good(sessions, clock, db_url, tmp_path):
    settings = Settings(database_url=db_url, locale="en", _env_file=None)
    bad = f"青山镇,第1小学,一年级1班,{KIDS[0].name},2019-02-30,,"
    for rows, suggested in (([bad], False), ([bad, *class_rows("一年级1班", KIDS[1:2])], True)):
        path = tmp_path / "roster.csv"
        path.write_bytes(csv(CLASS_LIST, *rows))
        out = io.StringIO()
        assert await run_import_roster(settings, clock, path, out=out) == 1
        assert ("--skip-invalid" in out.getvalue()) is suggested
