"""Roster and staff import against the database (SQLite and PostgreSQL): what is stored, what is audited."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func, select, text

from bot.core.settings import Settings
from bot.roster.cli import run_import_roster, run_import_staff
from bot.roster.importer import ImportReport, import_roster, import_staff
from bot.roster.reading import read_bytes, read_table
from storage.models import (
    AuditEvent,
    County,
    Guardianship,
    Person,
    Role,
    School,
    SchoolClass,
    StaffRole,
    Student,
    Township,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROSTER = (EXAMPLES / "roster.csv").read_text(encoding="utf-8")
STAFF = (EXAMPLES / "staff.csv").read_text(encoding="utf-8")
TABLES = ("counties", "townships", "schools", "classes", "students", "people", "guardianships", "staff_roles")


async def roster(sessions, clock, content: str | bytes, **options) -> ImportReport:
    data = content.encode("utf-8") if isinstance(content, str) else content
    async with sessions() as session, session.begin():
        return await import_roster(session, read_bytes(data), now=clock.now(), county="本县", **options)


async def staff(sessions, clock, content: str, **options) -> ImportReport:
    async with sessions() as session, session.begin():
        return await import_staff(session, read_bytes(content.encode()), now=clock.now(), county="本县", **options)


async def snapshot(sessions) -> dict[str, list[tuple]]:
    async with sessions() as session:
        return {
            table: [tuple(row) for row in await session.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in (*TABLES, "audit_events")
        }


async def audit(sessions, action: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    async with sessions() as session:
        return list(await session.scalars(stmt))


async def student(sessions, name: str) -> Student:
    async with sessions() as session:
        return await session.scalar(select(Student).where(Student.name == name))


async def guardians(sessions, name: str) -> list[tuple[int, str, str | None, str | None]]:
    """(rank, guardian's name, phone, relation) of the named student."""
    async with sessions() as session:
        rows = await session.execute(
            select(Guardianship.rank, Person.name, Person.phone, Guardianship.relation)
            .join(Person, Person.id == Guardianship.person_id)
            .join(Student, Student.id == Guardianship.student_id)
            .where(Student.name == name)
            .order_by(Guardianship.rank)
        )
        return [tuple(row) for row in rows]


async def person(sessions, name: str) -> Person | None:
    async with sessions() as session:
        return await session.scalar(select(Person).where(Person.name == name))


async def roles(sessions) -> set[tuple[str, str, str | None]]:
    """(person, role, unit name) for every staff role."""
    async with sessions() as session:
        rows = await session.execute(
            select(Person.name, StaffRole.role, SchoolClass.name, School.name, Township.name)
            .join(Person, Person.id == StaffRole.person_id)
            .outerjoin(SchoolClass, SchoolClass.id == StaffRole.class_id)
            .outerjoin(School, School.id == StaffRole.school_id)
            .outerjoin(Township, Township.id == StaffRole.township_id)
        )
        return {(name, role, class_ or school or township) for name, role, class_, school, township in rows}


def counts(report: ImportReport, kind: str) -> tuple[int, int, int]:
    c = report.get(kind)
    return (c.created, c.updated, c.unchanged)


# --- the sample files ------------------------------------------------------------------------------------------


async def test_sample_files_import_cleanly(sessions, clock):
    report = await roster(sessions, clock, ROSTER)
    assert report.errors == []
    assert counts(report, "student") == (19, 0, 0)
    assert counts(report, "guardian") == (20, 0, 0)
    assert counts(report, "teacher") == (3, 0, 0)
    assert (report.get("township").created, report.get("school").created, report.get("class").created) == (1, 2, 3)

    async with sessions() as session:
        per_class = await session.execute(
            select(School.name, SchoolClass.name, func.count(Student.id)).join(SchoolClass.school).join(Student)
            .group_by(School.name, SchoolClass.name)
        )  # fmt: skip
        assert set(per_class) == {
            ("青山镇中心小学", "三年级1班", 8),
            ("青山镇中心小学", "五年级2班", 6),
            ("白石村小学", "一年级1班", 5),
        }
    li_ming = await student(sessions, "李明")
    assert (li_ming.gender, li_ming.birth_date, li_ming.student_no) == ("M", date(2017, 10, 12), "G000000201710120011")
    assert await guardians(sessions, "李明") == [
        (1, "李建国", "13900001001", "父亲"),
        (2, "王秀英", "13900001002", "母亲"),
    ]
    assert await guardians(sessions, "李华") == await guardians(sessions, "李明")  # siblings: the same two people
    assert await guardians(sessions, "张小红") == [(1, "张奶奶", "13900001003", "奶奶")]
    assert await guardians(sessions, "黄宇轩") == [(1, "周桂兰", "13900001008", "被委托人")]
    assert await guardians(sessions, "何小雨") == await guardians(sessions, "何磊")  # one grandfather, two schools
    assert (await student(sessions, "张小红")).tags == ["留守儿童"]
    assert (await student(sessions, "吴俊杰")).tags == ["残疾"]
    assert (await student(sessions, "王小虎")).student_no is None

    report = await staff(sessions, clock, STAFF)
    assert report.errors == []
    assert counts(report, "role") == (5, 0, 0)
    assert await roles(sessions) == {
        ("吴卫东", Role.COUNTY_OFFICER, None),
        ("王丽", Role.CLASS_TEACHER, "三年级1班"),
        ("孙静", Role.CLASS_TEACHER, "五年级2班"),
        ("陈芳", Role.CLASS_TEACHER, "一年级1班"),
        ("赵国华", Role.SCHOOL_ADMIN, "青山镇中心小学"),
        ("钱志远", Role.PRINCIPAL, "青山镇中心小学"),
        ("孙海燕", Role.SCHOOL_ADMIN, "白石村小学"),
        ("周文斌", Role.TOWNSHIP_OFFICER, "青山镇"),
    }
    assert (await person(sessions, "王丽")).phone == "13900000101"

    events = await audit(sessions)
    assert {event.actor for event in events} == {"cli"}
    details = json.dumps([event.details for event in events], ensure_ascii=False)
    assert not re.search(r"[\u4e00-\u9fff]|139\d|G000", details)  # ids only: no names, phones or 学籍号


async def test_the_cli_imports_the_sample_files(sessions, clock, db_url):
    settings = Settings(database_url=db_url, locale="zh_Hans", _env_file=None)
    out = io.StringIO()
    assert await run_import_roster(settings, clock, EXAMPLES / "roster.csv", out=out) == 0
    assert await run_import_staff(settings, clock, EXAMPLES / "staff.csv", out=out) == 0
    assert "学生：新增 19，更新 0，未变 0" in out.getvalue()
    assert "工作人员角色：新增 5，移除 0，未变 0" in out.getvalue()
    async with sessions() as session:
        assert await session.scalar(select(func.count(Student.id))) == 19
        counties = await session.scalars(text("SELECT name FROM counties"))
        assert list(counties) == ["本县"]


async def test_cli_exit_codes_and_localized_errors(sessions, clock, db_url, tmp_path):
    settings = Settings(database_url=db_url, locale="en", _env_file=None)
    bad = tmp_path / "bad.csv"
    bad.write_text(ROSTER.replace("2018-03-05", "2018-02-30"), encoding="utf-8")
    out = io.StringIO()
    assert await run_import_roster(settings, clock, bad, county="临河县", out=out) == 1
    assert out.getvalue().startswith("row 3, 出生日期 “2018-02-30”: not a valid date (write it like 2015-03-04)\n")
    assert "Nothing was written" in out.getvalue()

    out = io.StringIO()
    assert await run_import_roster(settings, clock, bad, county="临河县", skip_invalid=True, out=out) == 1
    assert "Students: 18 new" in out.getvalue()

    missing = tmp_path / "missing.csv"
    out = io.StringIO()
    assert await run_import_staff(settings, clock, missing, out=out) == 2
    assert out.getvalue().strip() == f"Cannot read {missing}: the file does not exist"
    async with sessions() as session:
        assert list(await session.scalars(text("SELECT name FROM counties"))) == ["临河县"]


# --- re-import -------------------------------------------------------------------------------------------------


async def test_reimporting_the_same_files_changes_nothing(sessions, clock):
    await roster(sessions, clock, ROSTER)
    await staff(sessions, clock, STAFF)
    before = await snapshot(sessions)
    clock.set(datetime.fromisoformat("2026-10-08T09:00:00+08:00"))

    again = await roster(sessions, clock, ROSTER)
    assert (counts(again, "student"), counts(again, "guardian"), counts(again, "teacher")) == (
        (0, 0, 19),
        (0, 0, 20),
        (0, 0, 3),
    )
    again = await staff(sessions, clock, STAFF)
    assert counts(again, "staff") == (0, 0, 5)
    assert counts(again, "role") == (0, 0, 5)
    assert await snapshot(sessions) == before  # no writes at all, no audit events


async def test_students_missing_from_a_reimport_are_kept(sessions, clock):
    await roster(sessions, clock, ROSTER)
    await roster(sessions, clock, "\n".join(line for line in ROSTER.splitlines() if "李明" not in line))
    assert (await student(sessions, "李明")) is not None


# --- errors ----------------------------------------------------------------------------------------------------


BAD_ROWS = {
    3: ("2018-03-05", "2018-02-30"),  # impossible date
    5: (",刘欣怡,女,", ",刘欣怡,girl,"),  # gender
    7: ("13900001008", "1390000100"),  # phone too short
    9: ("G000000201712020081", "G000000201710120011"),  # the 学籍号 of row 2
    12: ("林国庆,父亲,13900001011", "林国庆,父亲,13900001004"),  # 陈志强's phone (row 4)
}


def with_bad_rows() -> str:
    lines = ROSTER.splitlines()
    for number, (old, new) in BAD_ROWS.items():
        assert old in lines[number - 1]
        lines[number - 1] = lines[number - 1].replace(old, new)
    return "\n".join(lines)


async def test_a_file_with_errors_writes_nothing(sessions, clock):
    report = await roster(sessions, clock, with_bad_rows())
    assert [(e.row, e.field, e.code) for e in report.errors] == [
        (3, "birth_date", "bad_date"),
        (5, "gender", "bad_gender"),
        (7, "guardian_phone", "bad_phone"),
        (9, "student_no", "duplicate_student_no"),
        (12, "guardian_phone", "phone_name_conflict"),
    ]
    assert not report.written
    assert all(rows == [] for rows in (await snapshot(sessions)).values())


async def test_skip_invalid_writes_the_good_rows(sessions, clock):
    report = await roster(sessions, clock, with_bad_rows(), skip_invalid=True)
    assert report.written
    assert report.error_rows == [3, 5, 7, 9, 12]
    assert counts(report, "student") == (14, 0, 0)
    async with sessions() as session:
        names = set(await session.scalars(select(Student.name)))
    assert len(names) == 14
    assert not names & {"张小红", "刘欣怡", "黄宇轩", "吴俊杰", "林晓"}


async def test_missing_columns_stop_the_import(sessions, clock):
    lines = ROSTER.splitlines()
    lines[0] = lines[0].replace("监护人电话", "电话号码")
    report = await roster(sessions, clock, "\n".join(lines), skip_invalid=True)
    assert [(e.row, e.field, e.code) for e in report.errors] == [(1, "guardian_phone", "missing_column")]
    assert not report.written
    assert (await snapshot(sessions))["students"] == []


async def test_a_phone_known_under_another_name_is_a_row_error(sessions, clock):
    await roster(sessions, clock, ROSTER)
    header, first = ROSTER.splitlines()[:2]
    newcomer = first.replace("G000000201710120011", "G9").replace("李明", "李亮").replace("李建国", "李建军")
    report = await roster(sessions, clock, f"{header}\n{newcomer}")
    assert [(e.row, e.field, e.code) for e in report.errors] == [(2, "guardian_phone", "phone_name_conflict_db")]
    assert await student(sessions, "李亮") is None


# --- changes ---------------------------------------------------------------------------------------------------


async def test_a_changed_phone_updates_the_guardian(sessions, clock):
    await roster(sessions, clock, ROSTER)
    before = await person(sessions, "李建国")
    events = len(await audit(sessions))

    report = await roster(sessions, clock, ROSTER.replace("13900001001", "13900009999"))
    after = await person(sessions, "李建国")
    assert (after.id, after.phone) == (before.id, "13900009999")
    assert counts(report, "guardian") == (0, 1, 19)
    assert counts(report, "student") == (0, 0, 19)
    (event,) = (await audit(sessions))[events:]
    assert (event.action, event.entity_id, event.details["fields"]) == ("person.updated", before.id, ["phone"])


async def test_a_changed_guardian_is_linked_instead(sessions, clock):
    await roster(sessions, clock, ROSTER)
    grandma = await person(sessions, "张奶奶")
    lines = ROSTER.splitlines()
    lines[2] = lines[2].replace("张奶奶,奶奶,13900001003", "张建华,父亲,13900001099")
    report = await roster(sessions, clock, "\n".join(lines))
    assert counts(report, "student") == (0, 1, 18)
    assert await guardians(sessions, "张小红") == [(1, "张建华", "13900001099", "父亲")]
    assert await guardians(sessions, "张小军") == [(1, "张奶奶", "13900001003", "奶奶")]
    assert (await person(sessions, "张奶奶")).id == grandma.id
    assert [e.action for e in await audit(sessions, "guardianship.deleted")] == ["guardianship.deleted"]


async def test_a_changed_class_moves_the_student(sessions, clock):
    await roster(sessions, clock, ROSTER)
    chen = await student(sessions, "陈浩")
    lines = ROSTER.splitlines()
    lines[3] = lines[3].replace("三年级1班", "三年级2班").replace("王丽,13900000101", ",")
    report = await roster(sessions, clock, "\n".join(lines))
    assert counts(report, "student") == (0, 1, 18)
    assert report.get("class").created == 1
    moved = await student(sessions, "陈浩")
    assert moved.id == chen.id
    assert moved.school_class.name == "三年级2班"
    (event,) = await audit(sessions, "student.updated")
    assert (event.entity_id, event.details["fields"]) == (chen.id, ["class_id"])


async def test_a_new_homeroom_teacher_replaces_the_old_one(sessions, clock):
    await roster(sessions, clock, ROSTER)
    report = await roster(sessions, clock, ROSTER.replace("王丽,13900000101", "赵敏,13900000109"))
    assert counts(report, "teacher") == (0, 1, 2)
    teachers = {(name, unit) for name, role, unit in await roles(sessions) if role == Role.CLASS_TEACHER}
    assert teachers == {("赵敏", "三年级1班"), ("孙静", "五年级2班"), ("陈芳", "一年级1班")}
    assert await person(sessions, "王丽") is not None  # the person stays; only the class's role moved
    (event,) = await audit(sessions, "staff_role.updated")
    assert event.details["fields"] == ["person_id"]


async def test_second_guardians_follow_the_guardian2_column(sessions, clock):
    await roster(sessions, clock, ROSTER)
    lines = ROSTER.splitlines()
    lines[1] = lines[1].replace("王秀英,母亲,13900001002", ",,")
    await roster(sessions, clock, "\n".join(lines))
    assert await guardians(sessions, "李明") == [(1, "李建国", "13900001001", "父亲")]
    assert len(await guardians(sessions, "李华")) == 2

    # a file without the 监护人2 columns leaves second guardians alone
    without = [",".join(cell for i, cell in enumerate(line.split(",")) if i not in (10, 11, 12)) for line in lines]
    report = await roster(sessions, clock, "\n".join(without))
    assert counts(report, "student") == (0, 0, 19)
    assert len(await guardians(sessions, "李华")) == 2


async def test_swapped_guardians(sessions, clock):
    await roster(sessions, clock, ROSTER)
    lines = ROSTER.splitlines()
    lines[1] = lines[1].replace(
        "李建国,父亲,13900001001,王秀英,母亲,13900001002", "王秀英,母亲,13900001002,李建国,父亲,13900001001"
    )
    await roster(sessions, clock, "\n".join(lines))
    assert await guardians(sessions, "李明") == [
        (1, "王秀英", "13900001002", "母亲"),
        (2, "李建国", "13900001001", "父亲"),
    ]


async def test_a_student_without_number_gets_one_later(sessions, clock):
    await roster(sessions, clock, ROSTER)
    before = await student(sessions, "王小虎")
    lines = ROSTER.splitlines()
    lines[15] = lines[15].replace("一年级1班,,王小虎", "一年级1班,g000000201910050011,王小虎")
    report = await roster(sessions, clock, "\n".join(lines))
    assert counts(report, "student") == (0, 1, 18)
    after = await student(sessions, "王小虎")
    assert (after.id, after.student_no) == (before.id, "G000000201910050011")


async def test_guardian_without_phone_is_matched_by_rank(sessions, clock):
    header, first = ROSTER.splitlines()[:2]
    row = first.replace("13900001001", "").replace("13900001002", "")
    await roster(sessions, clock, f"{header}\n{row}")
    before = await guardians(sessions, "李明")
    assert before == [(1, "李建国", None, "父亲"), (2, "王秀英", None, "母亲")]
    report = await roster(sessions, clock, f"{header}\n{row}")
    assert counts(report, "guardian") == (0, 0, 2)
    report = await roster(sessions, clock, f"{header}\n{row.replace('父亲,,', '父亲,13900001001,')}")
    assert counts(report, "guardian") == (0, 1, 1)  # the same person now has a phone
    assert await guardians(sessions, "李明") == [(1, "李建国", "13900001001", "父亲"), (2, "王秀英", None, "母亲")]


# --- other file kinds ------------------------------------------------------------------------------------------


async def test_xlsx_with_english_headers_date_cells_and_numeric_phones(sessions, clock):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(
        [
            "Township",
            "School",
            "Class",
            "Student No",
            "Name",
            "Gender",
            "Birth Date",
            "Guardian",
            "Relation",
            "Guardian Phone",
            "Homeroom Teacher",
            "Teacher Phone",
            "Tags",
        ]
    )
    sheet.append(
        [
            "青山镇",
            "青山镇中心小学",
            "三年级1班",
            None,
            "𠮷祥",
            "female",
            datetime(2018, 3, 5),
            "吉大海",
            "father",
            13900003001,
            "王丽",
            13900000101,
            "left-behind, disabled",
        ]
    )
    sheet.append(["青山镇", "青山镇中心小学", "三年级1班", 20170304, "陈浩", "M", date(2017, 3, 4), "陈志强",
                  "父亲", 13900003002.0, "王丽", 13900000101, None])  # fmt: skip
    buffer = io.BytesIO()
    workbook.save(buffer)

    report = await roster(sessions, clock, buffer.getvalue())
    assert report.errors == []
    stored = await student(sessions, "𠮷祥")
    assert (stored.gender, stored.birth_date, stored.tags) == ("F", date(2018, 3, 5), ["留守儿童", "残疾"])
    assert await guardians(sessions, "𠮷祥") == [(1, "吉大海", "13900003001", "father")]
    assert (await student(sessions, "陈浩")).student_no == "20170304"
    again = await roster(sessions, clock, buffer.getvalue())
    assert counts(again, "student") == (0, 0, 2)


async def test_gbk_csv_with_a_rare_character(sessions, clock, tmp_path):
    header, first = ROSTER.splitlines()[:2]
    path = tmp_path / "gbk.csv"
    path.write_bytes(f"{header}\r\n{first.replace('李明', '𠮷明')}\r\n".encode("gb18030"))
    async with sessions() as session, session.begin():
        report = await import_roster(session, read_table(path), now=clock.now(), county="本县")
    assert report.errors == []
    assert (await student(sessions, "𠮷明")).student_no == "G000000201710120011"


# --- staff -----------------------------------------------------------------------------------------------------


async def test_staff_units_roles_and_ambiguity(sessions, clock):
    await roster(sessions, clock, ROSTER)
    header, first = ROSTER.splitlines()[:2]
    other_township = first.replace("青山镇,青山镇中心小学", "河口镇,白石村小学").replace("G000000201710120011", "G7")
    await roster(sessions, clock, f"{header}\n{other_township.replace('李明', '李亮')}")

    report = await staff(
        sessions,
        clock,
        "姓名,电话,角色,单位\n"
        "孙海燕,13900000203,控辍专干,白石村小学\n"
        "赵国华,13900000201,教导主任,青山镇中心小学\n"
        "钱志远,13900000202,校长,青山镇第二小学\n"
        "周文斌,13900000301,乡镇专干,青石镇\n"
        "李建军,13900001001,校长,青山镇中心小学\n",
    )
    assert [(e.row, e.field, e.code, e.params) for e in report.errors] == [
        (2, "unit", "ambiguous_school", {"unit": "白石村小学"}),
        (3, "role", "bad_role", {"value": "教导主任"}),  # the value is quoted back
        (4, "unit", "unknown_school", {"unit": "青山镇第二小学", "county": "本县"}),
        (5, "unit", "unknown_township", {"unit": "青石镇", "county": "本县"}),
        (6, "phone", "phone_name_conflict_db", {}),
    ]
    assert {role for _, role, _ in await roles(sessions)} == {Role.CLASS_TEACHER}

    report = await staff(sessions, clock, "姓名,电话,角色,单位,乡镇\n孙海燕,13900000203,控辍专干,白石村小学,河口镇\n")
    assert report.errors == []
    assert ("孙海燕", Role.SCHOOL_ADMIN, "白石村小学") in await roles(sessions)
    async with sessions() as session:
        school = await session.scalar(select(School).join(StaffRole, StaffRole.school_id == School.id))
        assert school.township.name == "河口镇"


async def test_staff_changes_and_shared_people(sessions, clock):
    await roster(sessions, clock, ROSTER)
    await staff(sessions, clock, STAFF)
    changed = STAFF.replace("孙海燕,13900000203,控辍专干,白石村小学", "孙海燕,13900000203,校长,白石村小学")
    changed += "王丽,13900000101,控辍专干,青山镇中心小学\n"  # the class teacher also becomes the school's officer
    report = await staff(sessions, clock, changed)
    assert counts(report, "staff") == (0, 2, 4)
    assert (report.get("role").created, report.get("role").removed) == (2, 1)
    current = await roles(sessions)
    assert ("孙海燕", Role.PRINCIPAL, "白石村小学") in current
    assert ("孙海燕", Role.SCHOOL_ADMIN, "白石村小学") not in current
    assert {("王丽", Role.CLASS_TEACHER, "三年级1班"), ("王丽", Role.SCHOOL_ADMIN, "青山镇中心小学")} <= current
    async with sessions() as session:
        assert await session.scalar(select(func.count()).where(Person.phone == "13900000101")) == 1


async def test_staff_county_officers_office_phones_and_issuers(sessions, clock):
    await roster(sessions, clock, ROSTER)
    text = ("姓名,电话,角色,单位,单位电话,落款\n"
            "周县长,13900000401,县教育局控辍专干,本县,,\n"
            "周文斌,13900000301,乡镇专干,青山镇,0871-5550101,青山镇人民政府\n"
            "赵国华,13900000201,控辍专干,青山镇中心小学,0871 5550202,\n")
    report = await staff(sessions, clock, text)
    assert report.errors == []
    async with sessions() as session:
        county_role = await session.scalar(select(StaffRole).where(StaffRole.role == Role.COUNTY_OFFICER))
        county = await session.scalar(select(County).where(County.name == "本县"))
        assert county_role.county_id == county.id and county_role.school_id is None
        township = await session.scalar(select(Township).where(Township.name == "青山镇"))
        assert (township.issuer_name, township.office_phone) == ("青山镇人民政府", "08715550101")
        school = await session.scalar(select(School).where(School.name == "青山镇中心小学"))
        assert school.office_phone == "08715550202"
    again = await staff(sessions, clock, text)
    assert counts(again, "staff") == (0, 0, 3)

    report = await staff(sessions, clock, "姓名,电话,角色,单位,落款\n"
                                          "吴县,13900000402,county_officer,邻县,\n"
                                          "赵国华,13900000201,控辍专干,青山镇中心小学,青山镇人民政府\n")
    assert [(e.row, e.field, e.code) for e in report.errors] == [(2, "unit", "unknown_county"),
                                                                 (3, "issuer", "issuer_not_township")]
