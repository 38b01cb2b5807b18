"""Roster and staff files (CSV or XLSX) → rows keyed by canonical field names.

CSV is decoded as UTF-8 (with or without BOM), UTF-16 with BOM, or else GB18030: the superset of GBK that Excel in
China writes, which also keeps rare characters (生僻字 such as 𠮷). XLSX is read with openpyxl in read-only mode; date
cells come back as `date`, numbers (phones, 学籍号) as their digits. Row numbers are the spreadsheet's: header row 1.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

Cell = str | date | None
Row = tuple[int, dict[str, Cell]]

# Canonical field → accepted headers (compared after `_header_key`). The first alias is the Chinese label, the
# second the English one.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "county": ("县", "county", "县区", "区县", "縣"),
    "township": ("乡镇", "township", "乡镇街道", "镇", "town", "鄉鎮"),
    "school": ("学校", "school", "学校名称", "學校"),
    "class": ("班级", "class", "班別", "班級"),
    "student_no": ("学籍号", "student_no", "全国学籍号", "学籍号码", "學籍號"),
    "name": ("姓名", "name", "学生姓名", "student_name"),
    "gender": ("性别", "gender", "sex", "性別"),
    "birth_date": ("出生日期", "birth_date", "出生年月日", "birthdate", "date_of_birth", "dob"),
    "guardian": ("监护人", "guardian", "监护人1", "监护人姓名", "guardian1", "guardian_name", "監護人"),
    "relation": ("关系", "relation", "关系1", "与学生关系", "监护人关系", "relation1", "relationship", "關係"),
    "guardian_phone": ("监护人电话", "guardian_phone", "监护人1电话", "guardian1_phone", "監護人電話"),
    "guardian2": ("监护人2", "guardian2", "监护人2姓名", "監護人2"),
    "relation2": ("关系2", "relation2", "监护人2关系", "關係2"),
    "guardian2_phone": ("监护人2电话", "guardian2_phone", "監護人2電話"),
    "homeroom_teacher": ("班主任", "homeroom_teacher", "teacher", "class_teacher"),
    "teacher_phone": ("班主任电话", "teacher_phone", "班主任電話", "class_teacher_phone"),
    "tags": ("标签", "tags", "標籤"),
    "phone": ("电话", "phone", "手机", "手机号", "联系电话", "mobile", "電話", "手機"),
    "role": ("角色", "role", "职务", "職務"),
    "unit": ("单位", "unit", "单位名称", "單位"),
    "office_phone": ("单位电话", "office_phone", "办公电话", "办公室电话", "單位電話", "辦公電話"),
    "issuer": ("落款", "issuer", "发文机关", "落款单位", "發文機關"),
}

_HEADER_NOISE = re.compile(r"[\s_\-*＊:：]|[(（][^)）]*[)）]")
HEADER_SEARCH_ROWS = 10  # a title row or two above the header is common in school spreadsheets


class UnreadableFile(Exception):
    """The file cannot be read as a table at all (exit code 2); `code` names the reason."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Table:
    header_row: int
    headers: dict[str, str]  # canonical field → header as written in the file
    duplicates: tuple[str, ...]  # fields whose column appears more than once
    rows: list[Row]


def _header_key(text: str) -> str:
    return _HEADER_NOISE.sub("", text.replace("\ufeff", "")).casefold()


_ALIAS_TO_FIELD = {_header_key(alias): field for field, aliases in HEADER_ALIASES.items() for alias in aliases}


def header_field(text: str) -> str | None:
    """The canonical field a header names ('学籍号', 'Student No', '出生日期(年-月-日)' …), or None."""
    return _ALIAS_TO_FIELD.get(_header_key(text))


def field_label(field: str, locale: str) -> str:
    """The field's standard header: Chinese for Chinese locales, English otherwise."""
    aliases = HEADER_ALIASES.get(field, (field, field))
    return aliases[0] if locale.startswith("zh") else aliases[1]


def read_table(path: Path | str) -> Table:
    """Read a CSV or XLSX file; raises UnreadableFile."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise UnreadableFile("not_found") from exc
    except OSError as exc:
        raise UnreadableFile("os_error", reason=exc.strerror or str(exc)) from exc
    return read_bytes(data)


def read_bytes(data: bytes) -> Table:
    """Read a CSV or XLSX file's content; raises UnreadableFile."""
    if data.startswith(b"PK\x03\x04"):
        return build_table(_xlsx_records(data))
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile("xls")
    return build_table(_csv_records(decode_text(data)))


def decode_text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise UnreadableFile("encoding")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise UnreadableFile("encoding") from exc


def _csv_records(text: str) -> list[list[Cell]]:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    try:
        return [list(record) for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise UnreadableFile("csv", reason=str(exc)) from exc


def _xlsx_records(data: bytes) -> list[list[Cell]]:
    from openpyxl import load_workbook  # imported here: only XLSX imports pay for it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl fails in many ways on a damaged file; all mean "not a workbook"
        raise UnreadableFile("xlsx", reason=str(exc)) from exc
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong sheet size; read every row there is
        return [[_xlsx_cell(value) for value in row] for row in sheet.iter_rows(min_row=1, values_only=True)]
    except Exception as exc:
        raise UnreadableFile("xlsx", reason=str(exc)) from exc
    finally:
        workbook.close()


def _xlsx_cell(value: object) -> Cell:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def build_table(records: list[list[Cell]]) -> Table:
    """Find the header row, map its columns to fields, and key each later non-empty row by field."""
    numbered = [(number, record) for number, record in enumerate(records, start=1) if not _blank(record)]
    if not numbered:
        raise UnreadableFile("empty")
    header_row, header = _find_header(numbered)
    columns, headers, duplicates = _map_columns(header)
    rows = [(number, _keyed(record, columns)) for number, record in numbered if number > header_row]
    rows = [(number, values) for number, values in rows if any(value is not None for value in values.values())]
    return Table(header_row, headers, tuple(duplicates), rows)


def _keyed(record: list[Cell], columns: dict[int, str]) -> dict[str, Cell]:
    return {field: _clean(record[index]) if index < len(record) else None for index, field in columns.items()}


def _find_header(numbered: list[tuple[int, list[Cell]]]) -> tuple[int, list[Cell]]:
    for number, record in numbered[:HEADER_SEARCH_ROWS]:
        if sum(1 for cell in record if isinstance(cell, str) and header_field(cell)) >= 2:
            return number, record
    return numbered[0]


def _map_columns(header: list[Cell]) -> tuple[dict[int, str], dict[str, str], list[str]]:
    columns: dict[int, str] = {}
    headers: dict[str, str] = {}
    duplicates: list[str] = []
    for index, cell in enumerate(header):
        field = header_field(cell) if isinstance(cell, str) else None
        if field is None:
            continue
        if field in headers:
            duplicates.append(field)
            continue
        columns[index] = field
        headers[field] = str(cell).strip().lstrip("\ufeff")
    return columns, headers, duplicates


def _clean(cell: Cell) -> Cell:
    if isinstance(cell, str):
        cell = cell.replace("\u3000", " ").strip()
        return cell or None
    return cell


def _blank(record: list[Cell]) -> bool:
    return all(_clean(cell) is None for cell in record)
