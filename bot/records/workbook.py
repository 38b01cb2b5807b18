"""The ledgers as an XLSX workbook: a summary sheet with the rates, then one sheet per ledger. Headers are in the
recipient's language, the header row is frozen, columns are sized to their content, numbers stay numbers and rates
are percentages (a rate without data is left empty, never 0 %). Written by bot.records.xlsx, fast enough for a county.
"""

from __future__ import annotations

from typing import Any

from bot.core.i18n import gettext
from bot.records import labels
from bot.records.ledgers import CaseRow, RecordsData
from bot.records.rates import ANY_PRIORITY, Rates
from bot.records.xlsx import Sheet, write_xlsx

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERCENT_COLUMNS = frozenset({6, 14, 17})  # attendance, dropout and retention rates in the summary


def build_workbook(data: RecordsData, rates: list[Rates], locale: str) -> bytes:
    case_header = labels.words(labels.CASE_COLUMNS, locale)
    return write_xlsx([
        Sheet(gettext(labels.SHEETS["summary"], locale), labels.words(labels.SUMMARY_COLUMNS, locale),
              [_rates_row(r, locale) for r in rates], percent_columns=PERCENT_COLUMNS),
        Sheet(gettext(labels.SHEETS["children"], locale), labels.words(labels.CHILD_COLUMNS, locale),
              _children_rows(data, locale)),
        Sheet(gettext(labels.SHEETS["suspected"], locale), case_header,
              [_case_row(data, c, locale) for c in data.cases]),
        Sheet(gettext(labels.SHEETS["dropouts"], locale), case_header,
              [_case_row(data, c, locale) for c in data.cases if c.reported_on]),
    ])


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
