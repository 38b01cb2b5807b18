"""A lean XLSX writer for big ledgers: a county's 适龄儿童台账 has 100,000 rows and openpyxl needs tens of seconds for
a million cells (measured in bench/report.py). This writes the few parts a spreadsheet needs (SpreadsheetML with
inline strings) straight into the zip, streamed sheet by sheet: a bold frozen header row, column widths, numbers as
numbers, dates as dates and rates as percentages. openpyxl and Excel read it (tests read it back with openpyxl).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape, quoteattr

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
EPOCH = date(1899, 12, 30)  # day 0 of Excel's serial dates (1900 system)
BOLD, PERCENT, DAY = 1, 2, 3  # style indexes in STYLES
ROWS_PER_CHUNK = 2000
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML 1.0
_MARKUP = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f]")

STYLES = (
    f'{HEAD}<styleSheet xmlns="{MAIN}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="0.0%"/><numFmt numFmtId="165" formatCode="yyyy-mm-dd"/>'
    '</numFmts><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


@dataclass(frozen=True)
class Sheet:
    title: str  # at most 31 characters, none of : \\ / ? * [ ]
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    percent_columns: frozenset[int] = frozenset()  # 0-based indexes of columns holding rates (0.5 = 50 %)
    max_width: int = 40


def write_xlsx(sheets: Sequence[Sheet]) -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _content_types(len(sheets)))
        archive.writestr("_rels/.rels", f'{HEAD}<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
                         f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        archive.writestr("xl/workbook.xml", _workbook(sheets))
        archive.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        archive.writestr("xl/styles.xml", STYLES)
        for number, sheet in enumerate(sheets, start=1):
            with archive.open(f"xl/worksheets/sheet{number}.xml", "w") as part:
                for chunk in _sheet_xml(sheet):
                    part.write(chunk.encode())
    return out.getvalue()


def _content_types(count: int) -> str:
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    sheets = "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{kind}.worksheet+xml"/>'
                     for n in range(1, count + 1))
    return (f'{HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{kind}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{kind}.styles+xml"/>{sheets}</Types>')


def _workbook(sheets: Sequence[Sheet]) -> str:
    entries = "".join(f'<sheet name={quoteattr(sheet.title)} sheetId="{n}" r:id="rId{n}"/>'
                      for n, sheet in enumerate(sheets, start=1))
    return f'{HEAD}<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>{entries}</sheets></workbook>'


def _workbook_rels(count: int) -> str:
    sheets = "".join(f'<Relationship Id="rId{n}" Type="{RELS}/worksheet" Target="worksheets/sheet{n}.xml"/>'
                     for n in range(1, count + 1))
    styles = f'<Relationship Id="rId{count + 1}" Type="{RELS}/styles" Target="styles.xml"/>'
    return f'{HEAD}<Relationships xmlns="{PACKAGE}">{sheets}{styles}</Relationships>'


def _sheet_xml(sheet: Sheet) -> Iterable[str]:
    widths = [max(map(display_width, column), default=0) for column in zip(sheet.header, *sheet.rows, strict=True)]
    columns = "".join(f'<col min="{n}" max="{n}" width="{min(sheet.max_width, width + 2)}" customWidth="1"/>'
                      for n, width in enumerate(widths, start=1))
    yield (f'{HEAD}<worksheet xmlns="{MAIN}"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" '
           'topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
           f'<sheetFormatPr defaultRowHeight="15"/><cols>{columns}</cols><sheetData>')
    yield _row(sheet.header, frozenset(), BOLD)
    chunk: list[str] = []
    for row in sheet.rows:
        chunk.append(_row(row, sheet.percent_columns))
        if len(chunk) >= ROWS_PER_CHUNK:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)
    yield "</sheetData></worksheet>"


def _row(values: Sequence[Any], percent: frozenset[int], style: int = 0) -> str:
    """One row; cells carry no reference (they are optional): an empty cell is written as <c/> to keep the place."""
    text_style = f' s="{style}"' if style else ""
    cells = []
    for index, value in enumerate(values):
        if isinstance(value, str):
            cells.append(f'<c t="inlineStr"{text_style}><is><t>{_text(value)}</t></is></c>' if value else "<c/>")
        elif value is None:
            cells.append("<c/>")
        elif isinstance(value, date):
            day = value.date() if isinstance(value, datetime) else value
            cells.append(f'<c s="{DAY}"><v>{(day - EPOCH).days}</v></c>')
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            cells.append(f'<c s="{PERCENT}"><v>{value!r}</v></c>' if index in percent else f"<c><v>{value!r}</v></c>")
        else:
            cells.append(f'<c t="inlineStr"><is><t>{_text(str(value))}</t></is></c>')
    return f"<row>{''.join(cells)}</row>"


def _text(value: str) -> str:
    """XML text: escaped, without the control characters XML 1.0 forbids (most values need neither)."""
    if _MARKUP.search(value) is None:
        return value
    return escape(_ILLEGAL.sub("", value))


def display_width(value: Any) -> int:
    """About how many columns a value takes on screen: ASCII one, CJK (three bytes in UTF-8) two."""
    if isinstance(value, str):
        return (len(value.encode()) + len(value)) // 2
    return 10 if isinstance(value, date) else len(str(value)) if value is not None else 0
