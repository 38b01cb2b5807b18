"""Files as schools and the student registry really lay them out, generated here with fictional children."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.roster.reading import UnreadableFile, read_bytes, read_table
from bot.roster.report import render_error
from bot.roster.rows import RowError, check_roster_columns, validate_students
from bot.roster.samples import REGISTRY_HEADER, children, id_number
from storage.models import EnrolmentStatus

TODAY = date(2026, 9, 7)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KIDS = children(6, schools=1)


def workbook(*sheets: tuple[str, list[list]], merged: dict[str, list[str]] | None = None) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        for cells in (merged or {}).get(title, []):
            sheet.merge_cells(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def validate(table) -> tuple[list, list[RowError]]:
    return validate_students(table.rows, today=TODAY, county="本县")


def codes(errors: list[RowError]) -> list[tuple[int, str | None, str]]:
    return [(error.row, error.field, error.code) for error in errors]


def registry_csv(rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    lines = [delimiter.join(REGISTRY_HEADER), *(delimiter.join(row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


# --- teachers' class lists -------------------------------------------------------------------------------------


def test_a_class_list_with_title_form_line_two_row_header_serial_numbers_blank_rows_and_footer():
    kid, other = KIDS[0], KIDS[1]
    rows = [
        ["青山镇中心小学2026年秋季学生花名册"],
        ["学校：青山镇中心小学　　班级：四年级（2）班"],
        ["序号", "学生姓名", "性别", "出生日期", "监护人信息", None, None, "备注", "座位"],
        [None, None, None, None, "姓名", "关系", "联系电话"],
        [1, kid.name, "男", kid.born, kid.guardian, "父亲", "１３９０００４０００４"],
        [None] * 7,
        [2, other.name, "女", "２０１６－０５－０９", other.guardian, "奶奶", "13900040005/13900040015"],
        ["合计：2人"],
        ["班主任签字：", None, None, "制表人：", None, "日期："],
    ]
    merged = {"花名册": ["A1:I1", "E3:G3", "A3:A4", "B3:B4", "C3:C4", "D3:D4"]}
    table = read_bytes(workbook(("说明", []), ("花名册", rows), merged=merged))
    assert table.sheet == "花名册"
    assert table.header_row == 4
    assert table.ignored == ("座位",)  # 序号 and 备注 are known and not needed; 座位 is listed
    assert [number for number, _ in table.rows] == [5, 7]
    assert check_roster_columns(table) == []
    good, errors = validate(table)
    assert errors == []
    first, second = good
    assert (first.school, first.class_name, first.name, first.gender) == (
        "青山镇中心小学",
        "四年级(2)班",
        kid.name,
        "M",
    )
    assert first.guardians[0].phone == "13900040004"  # full-width digits, stored half-width
    assert second.birth_date == date(2016, 5, 9)
    assert second.guardians[0].phone == "13900040005"
    assert [w.code for w in second.warnings] == ["extra_phones"]  # the second number is said, not dropped silently


def test_school_and_class_merged_down_the_rows():
    rows = [["学校", "班级", "姓名", "出生日期"]] + [
        ["青山镇中心小学", "三年级(1)班", k.name, k.born] for k in KIDS[:3]
    ]
    for row in rows[2:]:
        row[0] = row[1] = None
    table = read_bytes(workbook(("Sheet1", rows), merged={"Sheet1": ["A2:A4", "B2:B4"]}))
    assert {values["school"] for _, values in table.rows} == {"青山镇中心小学"}
    assert {values["class"] for _, values in table.rows} == {"三年级(1)班"}


def test_an_empty_first_sheet_is_not_an_empty_file_and_sheet_chooses():
    data = workbook(
        ("Sheet1", []), ("学生", [["学校", "班级", "姓名", "出生日期"], ["甲校", "一年级1班", "张三", "2019-01-01"]])
    )
    assert read_bytes(data).sheet == "学生"
    assert read_bytes(data, sheet="学生").rows[0][1]["name"] == "张三"
    with pytest.raises(UnreadableFile) as caught:
        read_bytes(data, sheet="学生名单")
    assert caught.value.code == "no_sheet"


def test_errors_name_the_sheet_and_quote_the_value():
    data = workbook(("学生", [["学校", "班级", "姓名", "出生日期"], ["甲校", "一年级1班", "张三", "2019-02-30"]]))
    table = read_bytes(data)
    _, errors = validate(table)
    assert render_error(errors[0], table.headers, "zh_Hans", table.sheet) == (
        "工作表 学生，第 2 行，出生日期“2019-02-30”：日期无效（请写成 2015-03-04 这样的格式）"
    )


# --- the registry export ---------------------------------------------------------------------------------------


def test_a_legacy_xls_registry_export():
    table = read_table(FIXTURES / "registry.xls")
    assert table.sheet == "学生信息"
    good, errors = validate(table)
    assert errors == []
    kid = children(3, schools=1)[0]
    row = good[0]
    assert (row.class_name, row.name, row.id_number, row.student_no) == ("一年级(1)班", kid.name, kid.id_number,
                                                                         kid.student_no)  # fmt: skip
    assert row.status is EnrolmentStatus.ENROLLED
    assert [(g.rank, g.name, g.phone) for g in row.guardians] == [
        (1, kid.guardian, kid.guardian_phone),  # typed into a number cell: 11 digits survive
        (2, kid.second, kid.second_phone),
    ]


def test_gbk_tab_separated_text_named_xls_with_leading_quotes(tmp_path):
    rows = [[f"'{v}" if v.isdigit() and len(v) > 10 else v for v in k.registry_row()] for k in KIDS[:2]]
    path = tmp_path / "学籍导出.xls"
    path.write_bytes(registry_csv(rows, encoding="gbk", delimiter="\t"))
    good, errors = validate(read_table(path))
    assert errors == []
    assert [row.id_number for row in good] == [k.id_number for k in KIDS[:2]]
    assert good[0].guardians[0].phone == KIDS[0].guardian_phone


def test_registry_codes_tags_and_members_who_are_not_guardians():
    kid = KIDS[0]
    row = kid.registry_row()
    header = list(REGISTRY_HEADER)
    row[header.index("性别")] = "2"
    row[header.index("是否留守儿童")] = "是"
    row[header.index("成员1是否监护人")] = "否"  # an uncle on file as member 1: not a guardian
    row[header.index("学籍状态")] = "送教上门"
    good, errors = validate(read_bytes(registry_csv([row])))
    assert errors == []
    assert good[0].gender == "F"
    assert good[0].tags == ("留守儿童",)
    assert good[0].status is EnrolmentStatus.HOME_TEACHING
    assert [(g.rank, g.name) for g in good[0].guardians] == [(1, kid.second)]


def test_id_number_only_rows_give_birth_date_and_gender():
    kid = KIDS[1]
    data = f"学校,年级,班级,姓名,身份证号\r\n甲校,四年级,2,{kid.name},{kid.id_number}\r\n".encode()
    table = read_bytes(data)
    assert check_roster_columns(table) == []
    good, errors = validate(table)
    assert errors == []
    assert (good[0].class_name, good[0].birth_date, good[0].gender) == ("四年级2班", kid.born, "M" if kid.male else "F")
    assert [w.code for w in good[0].warnings] == ["no_guardian"]  # imported, and the operator is told


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("999901201601010011", "bad_id_checksum"),
        ("99990120160101001", "bad_id_number"),
        ("9.99901E+17", "lost_digits"),  # Excel's CSV of a number cell
    ],
)
def test_bad_id_numbers(value, code):
    if code == "bad_id_checksum":
        assert id_number(date(2016, 1, 1), 0, False)[-1] != value[-1]
    data = f"学校,班级,姓名,身份证件号\r\n甲校,1班,张三,{value}\r\n".encode()
    _, errors = validate(read_bytes(data))
    assert codes(errors) == [(2, "id_number", code)]


def test_an_id_number_in_a_number_cell_lost_its_digits():
    kid = KIDS[2]
    data = workbook(
        ("学生", [["学校", "班级", "姓名", "身份证件号"], ["甲校", "1班", kid.name, int(kid.id_number[:17])]])
    )
    _, errors = validate(read_bytes(data))
    assert codes(errors) == [(2, "id_number", "lost_digits")]


def test_the_id_number_and_the_birth_date_must_agree():
    kid = KIDS[3]
    data = f"学校,班级,姓名,出生日期,身份证件号\r\n甲校,1班,张三,2010-01-01,{kid.id_number}\r\n".encode()
    _, errors = validate(read_bytes(data))
    assert codes(errors) == [(2, "birth_date", "id_birth_mismatch")]


@pytest.mark.parametrize("name", ["吉?", "吉？", "吉\ufffd"])
def test_a_name_with_a_lost_character_is_refused(name):
    data = f"学校,班级,姓名,出生日期,监护人,监护人电话\r\n甲校,1班,{name},2018-01-01,李四,13900000001\r\n".encode()
    _, errors = validate(read_bytes(data))
    assert codes(errors) == [(2, "name", "garbled_name")]
    assert "CSV UTF-8" in render_error(errors[0], {}, "zh_Hans")


def test_a_full_width_plus_phone_is_stored_half_width():
    data = (
        "学校,班级,姓名,出生日期,监护人,监护人电话\r\n甲校,1班,张三,2018-01-01,李四,＋８６ １３９０００４０００４\r\n"
    )
    good, errors = validate(read_bytes(data.encode("gb18030")))
    assert errors == []
    assert good[0].guardians[0].phone == "13900040004"
