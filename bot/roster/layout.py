"""Find the table in a sheet as schools lay it out: a title row, a form line 「学校：… 班级：…」, a header of one
or two rows, a 序号 column, blank rows and a signature footer (班主任签字、制表人、合计)."""

from __future__ import annotations

import re

from bot.roster.columns import header_field, header_key, known_unused
from bot.roster.reading import Cell, Sheet, Table, UnreadableFile

HEADER_SEARCH_ROWS = 15  # title rows and form lines above the header
_FOOTER = re.compile(r"^(合计|总计|小计|共计|制表|填表|审核|班主任签|签字|签名|盖章|负责人|校长签|说明|注[:：])")
_FORM_FIELD = re.compile(r"(乡镇|学校|年级|班级)\s*[:：]\s*([^\s:：]+)")
_FORM_FIELDS = {"乡镇": "township", "学校": "school", "年级": "grade", "班级": "class"}

Numbered = list[tuple[int, list[Cell]]]


def choose_table(sheets: list[Sheet], wanted: str | None) -> Table:
    """The named sheet's table, or the table of the sheet whose header names the most known columns."""
    if wanted is not None:
        named = [sheet for sheet in sheets if sheet.name == wanted]
        if not named:
            raise UnreadableFile("no_sheet", sheet=wanted, sheets="、".join(s.name for s in sheets))
        sheets = named
    candidates = [(_numbered(sheet.records), sheet.name) for sheet in sheets]
    candidates = [(numbered, name) for numbered, name in candidates if numbered]
    if not candidates:
        raise UnreadableFile("empty")
    numbered, name = max(candidates, key=lambda item: _header_score(item[0])[0])
    return build_table(numbered, name)


def build_table(numbered: Numbered, sheet: str = "") -> Table:
    """Map the header's columns to fields and key each later data row by field; footers and blank rows dropped."""
    header, index = _header(numbered)
    header_row = numbered[index][0]
    columns, headers, duplicates, ignored = _map_columns(header)
    defaults = _form_values(record for _, record in numbered[:index])
    rows = []
    for number, record in numbered[index + 1 :]:
        if _is_footer(record) or _repeats_header(record, header):
            continue
        values = {field: record[i] if i < len(record) else None for i, field in columns.items()}
        if any(value is not None for value in values.values()):
            rows.append((number, {**{f: v for f, v in defaults.items() if f not in columns.values()}, **values}))
    headers.update({field: value for field, value in defaults.items() if field not in headers})
    return Table(header_row, headers, tuple(duplicates), rows, sheet, tuple(ignored))


def _numbered(records: list[list[Cell]]) -> Numbered:
    return [(number, record) for number, record in enumerate(records, start=1) if any(c is not None for c in record)]


def _known(record: list[Cell]) -> int:
    return len({field for cell in record if isinstance(cell, str) and (field := header_field(cell))})


def _header_score(numbered: Numbered) -> tuple[int, int]:
    """(known columns, index) of the row among the first few that names the most known columns."""
    scores = [(_known(record), -i) for i, (_, record) in enumerate(numbered[:HEADER_SEARCH_ROWS])]
    best, index = max(scores)
    return best, -index


def _header(numbered: Numbered) -> tuple[list[Cell], int]:
    """The header (its cells, the index of its last row): the best-matching row alone, or combined with the row
    above or below it when that names more columns (a two-row header)."""
    _, index = _header_score(numbered)
    options = [(numbered[index][1], index)]
    if index > 0:
        options.append((_two_rows(numbered[index - 1][1], numbered[index][1]), index))
    if index + 1 < len(numbered) and _known(numbered[index + 1][1]) >= 2:
        options.append((_two_rows(numbered[index][1], numbered[index + 1][1]), index + 1))
    return max(options, key=lambda option: _known(option[0]))


def _two_rows(top: list[Cell], bottom: list[Cell]) -> list[Cell]:
    """A group row (监护人信息 merged over 姓名 | 关系 | 电话) with the columns' own names below it, as one row."""
    combined: list[Cell] = []
    for i in range(max(len(top), len(bottom))):
        upper, lower = _text_at(top, i), _text_at(bottom, i)
        joined = header_key(upper) + header_key(lower) if upper and lower and upper != lower else None
        if joined and header_field(joined):
            combined.append(joined)
        else:
            combined.append(lower or upper)
    return combined


def _text_at(record: list[Cell], index: int) -> str | None:
    cell = record[index] if index < len(record) else None
    return cell if isinstance(cell, str) else None


def _map_columns(header: list[Cell]) -> tuple[dict[int, str], dict[str, str], list[str], list[str]]:
    columns: dict[int, str] = {}
    headers: dict[str, str] = {}
    duplicates: list[str] = []
    ignored: list[str] = []
    for index, cell in enumerate(header):
        if not isinstance(cell, str):
            continue
        field = header_field(cell)
        if field is None:
            if not known_unused(cell) and cell not in ignored:
                ignored.append(cell.lstrip("\ufeff"))
            continue
        if field in headers:
            if header_key(headers[field]) != header_key(cell):  # merged cells repeat one header: not a duplicate
                duplicates.append(field)
            continue
        columns[index] = field
        headers[field] = cell.lstrip("\ufeff")
    return columns, headers, duplicates, ignored


def _form_values(records) -> dict[str, str]:
    """学校：青山小学　班级：三年级(1)班 written above the header: values for columns the table lacks."""
    values: dict[str, str] = {}
    for record in records:
        for cell in dict.fromkeys(c for c in record if isinstance(c, str)):
            for label, value in _FORM_FIELD.findall(cell):
                values.setdefault(_FORM_FIELDS[label], value)
    return values


def _is_footer(record: list[Cell]) -> bool:
    return any(isinstance(cell, str) and _FOOTER.match(cell) for cell in record)


def _repeats_header(record: list[Cell], header: list[Cell]) -> bool:
    """A header printed again on each page of a long list."""
    return record[: len(header)] == header[: len(record)]
