"""Roster and staff files → records (lists of cells), one list per sheet; bot.roster.layout finds the table in them.

Spreadsheets (`.xlsx`, legacy `.xls`, `.ods`) are read with python-calamine: merged cells are filled with their
top-left value, date cells come back as `date`, whole numbers as their digits, and a number too long for a
spreadsheet to keep exactly (an 18-digit ID typed into a number cell) as `LostDigits`. Text (CSV or tab-separated,
also when named `.xls` as the registry's exports often are) is decoded as UTF-8 (with or without BOM), UTF-16 with
BOM, or else GB18030: the superset of GBK that Excel in China writes, which keeps rare characters (生僻字 such as 𠮷).
Full-width digits, letters and brackets become half-width, and a leading `'` (Excel's "keep as text" mark) goes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from bot.roster.columns import field_label, header_field

__all__ = [
    "Cell", "LostDigits", "Row", "Sheet", "Table", "UnreadableFile", "field_label", "header_field", "read_bytes",
    "read_table",
]  # fmt: skip

Cell = str | date | None
Row = tuple[int, dict[str, Cell]]
EXACT_DIGITS = 15  # a spreadsheet number keeps 15 significant digits; more were rounded away


class LostDigits(str):
    """A number cell whose digits beyond the 15th were lost (shown as the spreadsheet kept it)."""

    __slots__ = ()


class UnreadableFile(Exception):
    """The file cannot be read as a table at all (exit code 2); `code` names the reason."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Sheet:
    name: str  # "" for a text file
    records: list[list[Cell]]


@dataclass(frozen=True)
class Table:
    header_row: int
    headers: dict[str, str]  # canonical field → header as written in the file
    duplicates: tuple[str, ...]  # fields whose column appears more than once
    rows: list[Row]
    sheet: str = ""
    ignored: tuple[str, ...] = ()  # headers of columns the import does not use


def read_table(path: Path | str, *, sheet: str | None = None) -> Table:
    """Read a spreadsheet or text file and find its table; raises UnreadableFile."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise UnreadableFile("not_found") from exc
    except OSError as exc:
        raise UnreadableFile("os_error", reason=exc.strerror or str(exc)) from exc
    return read_bytes(data, sheet=sheet)


def read_bytes(data: bytes, *, sheet: str | None = None) -> Table:
    """Find the table in a file's content (the best-matching sheet, or the one named); raises UnreadableFile."""
    from bot.roster.layout import choose_table  # layout needs Table and Cell from here

    return choose_table(read_sheets(data), sheet)


def read_sheets(data: bytes) -> list[Sheet]:
    if data.startswith(b"PK\x03\x04"):
        return _workbook_sheets(data, "xlsx")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return _workbook_sheets(data, "xls")
    return [Sheet("", _csv_records(decode_text(data)))]


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
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        return [[clean(cell) for cell in record] for record in reader]
    except csv.Error as exc:
        raise UnreadableFile("csv", reason=str(exc)) from exc


def _workbook_sheets(data: bytes, kind: str) -> list[Sheet]:
    from python_calamine import CalamineWorkbook  # imported here: only spreadsheet imports pay for it

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = []
        for name in workbook.sheet_names:
            sheet = workbook.get_sheet_by_name(name)
            raw, merged = sheet.to_python(skip_empty_area=False)[::-1], sheet.merged_cell_ranges or ()
            del sheet  # the reader's copy of the cells, freed before ours are made
            records = []
            while raw:  # each raw row freed as soon as it is cleaned: not two copies of the sheet at once
                records.append([_spreadsheet_cell(value) for value in raw.pop()])
            _fill_merged(records, merged)
            sheets.append(Sheet(name, records))
        return sheets
    except Exception as exc:  # calamine fails in many ways on a damaged file; all mean "not a workbook"
        raise UnreadableFile(kind, reason=str(exc)) from exc


def _fill_merged(records: list[list[Cell]], ranges: Iterable[tuple[tuple[int, int], tuple[int, int]]]) -> None:
    """Every cell of a merged range takes the range's top-left value (a school merged down its rows)."""
    for (top, left), (bottom, right) in ranges:
        if top >= len(records) or left >= len(records[top]):
            continue
        value = records[top][left]
        for row in records[top : bottom + 1]:
            for column in range(left, min(right + 1, len(row))):
                row[column] = value


def _spreadsheet_cell(value: object) -> Cell:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        digits = str(int(value))
        return LostDigits(f"{value:.{EXACT_DIGITS - 1}E}") if len(digits.lstrip("-")) > EXACT_DIGITS else digits
    if isinstance(value, int):
        return str(value)
    return None if value is None else clean(str(value))


# Full-width ASCII (ＡＢＣ１２３（）－) and the ideographic space → their half-width forms.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def clean(cell: str) -> str | None:
    """Half-width, trimmed, without Excel's leading `'`; None when nothing is left."""
    text = (cell if cell.isascii() else cell.translate(_HALF_WIDTH)).strip()  # most cells: digits, dates, codes
    if text.startswith("'"):
        text = text[1:].strip()
    return text or None
