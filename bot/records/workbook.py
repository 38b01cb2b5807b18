"""The ledgers as an XLSX workbook: a summary sheet with the rates, then one sheet per ledger. Headers are in the
recipient's language, the header row is frozen, columns are sized to their content, numbers stay numbers and rates
are percentages (a rate without data is left empty, never 0 %)."""

from __future__ import annotations

from datetime import date
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bot.core.i18n import gettext
from bot.records import labels
from bot.records.ledgers import CaseRow, RecordsData
from bot.records.rates import ANY_PRIORITY, Rates

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERCENT = "0.0%"
DATE = "yyyy-mm-dd"
MAX_WIDTH = 40
BOLD = Font(bold=True)


def build_workbook(data: RecordsData, rates: list[Rates], locale: str) -> bytes:
    book = Workbook(write_only=True)  # streamed: a county's 100,000 children stay cheap in memory
    _fill(book, gettext(labels.SHEETS["summary"], locale), labels.words(labels.SUMMARY_COLUMNS, locale),
          [_rates_row(r, locale) for r in rates], percent_columns=frozenset({7, 15, 18}))
    _fill(book, gettext(labels.SHEETS["children"], locale), labels.words(labels.CHILD_COLUMNS, locale),
          _children_rows(data, locale))
    for key, rows in (("suspected", data.cases), ("dropouts", [c for c in data.cases if c.reported_on])):
        _fill(book, gettext(labels.SHEETS[key], locale), labels.words(labels.CASE_COLUMNS, locale),
              [_case_row(data, c, locale) for c in rows])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _fill(book: Workbook, title: str, header: list[str], rows: list[list[Any]],
          percent_columns: frozenset[int] = frozenset()) -> None:
    """One sheet: bold frozen header, columns sized to their widest cell, rates as percentages, dates as dates."""
    sheet = book.create_sheet(title)
    widths = [_width(text) for text in header]
    for row in rows:
        widths = [max(width, _width(value)) for width, value in zip(widths, row, strict=True)]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(MAX_WIDTH, width + 2)
    sheet.freeze_panes = "A2"
    sheet.append([_cell(sheet, text, font=BOLD) for text in header])
    for row in rows:
        sheet.append([_cell(sheet, value, PERCENT) if index in percent_columns and value is not None
                      else _cell(sheet, value, DATE) if isinstance(value, date) else value
                      for index, value in enumerate(row, start=1)])


def _cell(sheet: Any, value: Any, number_format: str | None = None, font: Font | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if number_format:
        cell.number_format = number_format
    if font:
        cell.font = font
    return cell


def _width(value: Any) -> int:
    """Display width: CJK characters take two columns."""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value if value is not None else "")
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)


def _rates_row(r: Rates, locale: str) -> list[Any]:
    group = gettext(labels.EVERYONE, locale) if r.group is None else (
        gettext(labels.ANY_GROUP, locale) if r.group == ANY_PRIORITY else labels.label(labels.GROUPS, r.group, locale))
    return [labels.label(labels.LEVELS, r.unit, locale), r.name, group, r.students, r.expected_days, r.present_days,
            r.attendance, r.suspected, r.confirmed, r.returns, r.open_suspected, r.open_confirmed,
            r.dropped_this_year, r.enrolled_at_year_start, r.dropout_rate, r.transfers_in, r.transfers_out,
            r.retention]


def _children_rows(data: RecordsData, locale: str) -> list[list[Any]]:
    rows = []
    for student in data.students.values():
        unit = data.classes[student.class_id]
        changes = "; ".join(f"{change.effective_on.isoformat()} {labels.label(labels.CHANGES, change.kind, locale)}"
                            for change in student.changes)
        rows.append([unit.township, unit.school, unit.name, student.name, student.gender or "",
                     labels.label(labels.STATUSES, student.status, locale),
                     "、".join(labels.label(labels.GROUPS, tag, locale) for tag in student.tags),
                     student.absent_days, student.unexcused_days, changes])
    return rows


def _case_row(data: RecordsData, case: CaseRow, locale: str) -> list[Any]:
    student = data.students.get(case.student_id)
    unit = data.classes.get(student.class_id) if student else None
    return [unit.township if unit else "", unit.school if unit else "", unit.name if unit else "",
            student.name if student else "", case.first_absent_day, case.opened_on,
            labels.label(labels.STAGES, case.stage, locale), case.absent_days, case.notices_sent, case.answers,
            case.home_visits, case.other_attempts, labels.label(labels.REASONS, case.reason_found, locale),
            case.reported_on, case.ordered_on, case.order_deadline, case.legal_steps,
            labels.label(labels.OUTCOMES, case.outcome, locale), case.closed_on]
