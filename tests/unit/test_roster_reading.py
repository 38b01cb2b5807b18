"""Reading roster and staff files and validating their rows, without a database."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from bot.roster.reading import UnreadableFile, read_bytes, read_table
from bot.roster.report import render_error
from bot.roster.rows import (
    ROSTER_REQUIRED,
    STAFF_REQUIRED,
    RowError,
    check_columns,
    check_roster_columns,
    validate_staff,
    validate_students,
)
from bot.roster.values import Invalid, parse_date, parse_tags
from storage.models import Role

TODAY = date(2026, 9, 7)
ZH_HEADER = "乡镇,学校,班级,学籍号,姓名,性别,出生日期,监护人,关系,监护人电话,班主任,班主任电话,标签"
EN_HEADER = (
    "township,school,class,student_no,name,gender,birth_date,guardian,relation,guardian_phone,"
    "homeroom_teacher,teacher_phone,tags"
)
LI_MING = "青山镇,青山镇中心小学,三年级1班,G001,李明,男,2017-10-12,李建国,父亲,13900001001,王丽,13900000101,"


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return "\r\n".join(lines).encode(encoding) + b"\r\n"


def students(*lines: str, header: str = ZH_HEADER) -> tuple[list, list[RowError]]:
    table = read_bytes(csv_bytes(header, *lines))
    return validate_students(table.rows, today=TODAY, county="本县")


def codes(errors: list[RowError]) -> list[tuple[int, str | None, str]]:
    return [(error.row, error.field, error.code) for error in errors]


# --- reading ---------------------------------------------------------------------------------------------------


def test_chinese_and_english_headers_give_the_same_fields():
    zh = read_bytes(csv_bytes(ZH_HEADER, LI_MING))
    en = read_bytes(csv_bytes(EN_HEADER, LI_MING))
    assert zh.rows == en.rows
    number, values = zh.rows[0]
    assert number == 2
    assert values["name"] == "李明"
    assert values["guardian_phone"] == "13900001001"
    assert values["tags"] is None
    assert zh.headers["birth_date"] == "出生日期"
    assert en.headers["birth_date"] == "birth_date"


def test_header_spellings_are_forgiving():
    table = read_bytes(csv_bytes("Student No, 出生日期(年-月-日) ,*姓名,Guardian Phone", "G1,2017-1-2,李明,139"))
    assert set(table.headers) == {"student_no", "birth_date", "name", "guardian_phone"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_encodings(encoding):
    table = read_bytes(csv_bytes(ZH_HEADER, LI_MING, encoding=encoding))
    assert table.headers["township"] == "乡镇"  # the BOM is not part of the first header
    assert table.rows[0][1]["school"] == "青山镇中心小学"


def test_excel_unicode_text_is_utf16_with_tabs():
    data = csv_bytes(ZH_HEADER.replace(",", "\t"), LI_MING.replace(",", "\t"), encoding="utf-16")
    assert read_bytes(data).rows[0][1]["guardian"] == "李建国"


def test_gb18030_keeps_rare_characters():
    with pytest.raises(UnicodeEncodeError):
        "𠮷".encode("gbk")  # not in GBK proper: only GB18030 decoding keeps it
    line = LI_MING.replace("李明", "𠮷祥")
    table = read_bytes(csv_bytes(ZH_HEADER, line, encoding="gb18030"))
    assert table.rows[0][1]["name"] == "𠮷祥"


def test_row_numbers_are_the_spreadsheets_with_a_title_row_and_blank_lines():
    table = read_bytes(csv_bytes("青山镇学生花名册,,", ZH_HEADER, LI_MING, ",,,", "", LI_MING.replace("李明", "陈浩")))
    assert table.header_row == 2
    assert [(number, values["name"]) for number, values in table.rows] == [(3, "李明"), (6, "陈浩")]


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_date_cells_and_numeric_phones():
    data = xlsx_bytes(
        [
            EN_HEADER.split(","),
            ["青山镇", "青山镇中心小学", "三年级1班", None, "Li Ming", "M", datetime(2017, 10, 12), "Li Jianguo",
             "father", 13900001001, None, None, "left-behind"],
            [None] * 13,
            ["青山镇", "青山镇中心小学", "三年级1班", 20170304, "陈浩", "男", date(2017, 3, 4), "陈志强", "父亲",
             13900001004.0, "王丽", 13900000101, None],
        ]
    )  # fmt: skip
    table = read_bytes(data)
    assert [number for number, _ in table.rows] == [2, 4]
    first, second = (values for _, values in table.rows)
    assert first["birth_date"] == date(2017, 10, 12)
    assert first["guardian_phone"] == "13900001001"
    assert second["guardian_phone"] == "13900001004"
    assert second["student_no"] == "20170304"
    rows, errors = validate_students(table.rows, today=TODAY, county="本县")
    assert errors == []
    assert rows[0].birth_date == date(2017, 10, 12)
    assert rows[0].tags == ("留守儿童",)
    assert rows[0].guardians[0].relation == "father"


def test_read_table_from_a_path(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(csv_bytes(ZH_HEADER, LI_MING, encoding="utf-8-sig"))
    assert read_table(path).rows[0][1]["name"] == "李明"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"\r\n,,\r\n", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "xls"),
        (b"PK\x03\x04not really a zip", "xlsx"),
        (b"a\x00b", "encoding"),
    ],
)
def test_unreadable_files(data, code):
    with pytest.raises(UnreadableFile) as caught:
        read_bytes(data)
    assert caught.value.code == code


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableFile) as caught:
        read_table(tmp_path / "nope.csv")
    assert caught.value.code == "not_found"


def test_missing_and_doubled_columns_are_reported_on_the_header_row():
    table = read_bytes(csv_bytes("标题", "学校,班级,姓名,name,监护人", "x,y,z,z,w"))
    assert codes(check_roster_columns(table)) == [
        (2, "guardian_phone", "missing_column"),  # a guardian column needs its phone column
        (2, "birth_date", "missing_identity_column"),  # a birth date, an ID number or a 学籍号
        (2, "name", "duplicate_column"),
    ]
    table = read_bytes(csv_bytes("学校,出生日期", "x,2017-01-01"))  # 乡镇 and the guardian columns may be missing
    assert codes(check_columns(table, ROSTER_REQUIRED)) == [
        (1, "class", "missing_column"),
        (1, "name", "missing_column"),
    ]
    assert check_columns(read_bytes(csv_bytes("姓名,电话,角色,单位")), STAFF_REQUIRED) == []


# --- single values ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["2015-03-04", "2015/3/4", "2015.3.4", "20150304", "2015年3月4日", "2015-03-04 00:00:00"]
)
def test_accepted_date_formats(text):
    assert parse_date(text) == date(2015, 3, 4)


@pytest.mark.parametrize("text", ["2015-02-30", "20151301", "3/4/2015", "2015-3", "yesterday"])
def test_rejected_dates(text):
    with pytest.raises(Invalid):
        parse_date(text)


def test_tags_are_split_and_known_ones_normalised():
    assert parse_tags("留守、残疾儿童,孤兒，自定义标签、留守儿童") == ("留守儿童", "残疾", "孤儿", "自定义标签")
    assert parse_tags(None) == ()


# --- rows ------------------------------------------------------------------------------------------------------


def test_a_good_row():
    rows, errors = students(LI_MING.replace(",13900000101,", ",+86 139-0000-0101,") + "留守儿童")
    assert errors == []
    (row,) = rows
    assert (row.row, row.county, row.township, row.school, row.class_name) == (
        2,
        "本县",
        "青山镇",
        "青山镇中心小学",
        "三年级1班",
    )
    assert (row.name, row.student_no, row.gender, row.birth_date) == ("李明", "G001", "M", date(2017, 10, 12))
    assert [(g.rank, g.name, g.phone, g.relation) for g in row.guardians] == [(1, "李建国", "13900001001", "父亲")]
    assert (row.teacher.name, row.teacher.phone) == ("王丽", "13900000101")
    assert row.tags == ("留守儿童",)


def test_county_column_overrides_the_default():
    rows, errors = students("临河县," + LI_MING, header="县," + ZH_HEADER)
    assert errors == []
    assert rows[0].county == "临河县"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        (("2017-10-12", "2017-02-30"), "birth_date", "bad_date"),
        (("2017-10-12", "2026-12-01"), "birth_date", "future_date"),
        (("2017-10-12", "2024-01-01"), "birth_date", "age_out_of_range"),
        (("2017-10-12", "2000-01-01"), "birth_date", "age_out_of_range"),
        ((",G001,李明,男,2017-10-12,", ",,李明,男,,"), "birth_date", "no_identity"),
        ((",男,", ",boy,"), "gender", "bad_gender"),
        (("13900001001", "12345"), "guardian_phone", "bad_phone"),
        (("李建国", ""), "guardian", "name_missing"),  # a phone without a name; no guardian at all is allowed
        ((",李明,", ",,"), "name", "required"),
        (("青山镇中心小学", ""), "school", "required"),
        (("王丽,13900000101", "王丽,"), "teacher_phone", "teacher_phone_missing"),
        (("王丽,13900000101", ",13900000101"), "homeroom_teacher", "name_missing"),
        (("三年级1班", "班" * 51), "class", "too_long"),
    ],
)
def test_bad_rows_are_reported_with_row_and_field(change, field, code):
    old, new = change
    rows, errors = students(LI_MING.replace("李明", "陈浩").replace("G001", "G002"), LI_MING.replace(old, new, 1))
    assert codes(errors) == [(3, field, code)]
    assert [row.row for row in rows] == [2]


def test_age_limits_at_the_import_date():
    rows, errors = students(LI_MING.replace("2017-10-12", "2023-09-07"), LI_MING.replace("2017-10-12", "2023-09-08"))
    assert [row.row for row in rows] == [2]
    assert [(e.row, e.code, e.params["age"]) for e in errors] == [(3, "age_out_of_range", 2)]


def test_second_guardian():
    header = ZH_HEADER + ",监护人2,关系2,监护人2电话"
    rows, errors = students(
        LI_MING + ",王秀英,母亲,13900001002",
        LI_MING.replace("G001", "G002").replace("李明", "陈浩") + ",,,13900001002",
        LI_MING.replace("G001", "G003").replace("李明", "赵一诺") + ",李建国,父亲,13900001001",
        header=header,
    )
    assert [g.name for g in rows[0].guardians] == ["李建国", "王秀英"]
    assert codes(errors) == [(3, "guardian2", "name_missing"), (4, "guardian2_phone", "same_guardian_twice")]


def test_conflicts_between_rows():
    rows, errors = students(
        LI_MING,
        LI_MING.replace("李明", "李华"),  # same 学籍号
        LI_MING.replace("G001", "G003").replace("李建国", "李建军"),  # same phone, other name
        LI_MING.replace("G001", "G004").replace("李明", "陈浩").replace("王丽,13900000101", "孙静,13900000102"),
        LI_MING.replace("G001", ""),  # no 学籍号, same school, name and birth date as row 2
    )
    assert codes(errors) == [
        (3, "student_no", "duplicate_student_no"),
        (6, "name", "duplicate_student"),
        (4, "guardian_phone", "phone_name_conflict"),
        (5, "teacher_phone", "teacher_conflict"),
    ]
    assert [error.params["other"] for error in errors] == [2, 2, 2, 2]
    assert [row.row for row in rows] == [2, 3, 4, 5, 6]  # typed, but the importer skips the ones with errors


def test_staff_rows():
    table = read_bytes(
        csv_bytes(
            "姓名,电话,角色,单位,乡镇",
            "赵国华,13900000201,控辍专干,青山镇中心小学,",
            "钱志远,13900000202,Principal,青山镇中心小学,青山镇",
            "周文斌,13900000301,乡镇专干,青山镇,",
            "孙海燕,13900000203,班长,白石村小学,",
            "赵国华二,13900000201,校长,白石村小学,",
            ",13900000204,校长,,",
        )
    )
    rows, errors = validate_staff(table.rows, county="本县")
    assert [(r.row, r.role, r.unit, r.township) for r in rows] == [
        (2, Role.SCHOOL_ADMIN, "青山镇中心小学", None),
        (3, Role.PRINCIPAL, "青山镇中心小学", "青山镇"),
        (4, Role.TOWNSHIP_OFFICER, "青山镇", None),
        (6, Role.PRINCIPAL, "白石村小学", None),
    ]
    assert codes(errors) == [
        (5, "role", "bad_role"),
        (7, "name", "required"),
        (7, "unit", "required"),
        (6, "phone", "phone_name_conflict"),
    ]


def test_errors_render_in_the_operators_language_with_the_files_column_name():
    error = RowError(7, "birth_date", "age_out_of_range", {"age": 2, "min": 3, "max": 20})
    assert (
        render_error(error, {"birth_date": "出生日期"}, "zh_Hans") == "第 7 行，出生日期：年龄 2 岁，不在 3–20 岁之间"
    )
    assert render_error(error, {"birth_date": "出生日期"}, "en") == "row 7, 出生日期: age 2 is outside 3–20"
    missing = RowError(1, "guardian_phone", "missing_column")
    assert render_error(missing, {}, "en") == "row 1, guardian_phone: required column is missing"
    assert render_error(missing, {}, "zh_Hant") == "第 1 行，监护人电话：缺少必填欄"
