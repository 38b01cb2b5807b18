"""What an import did (counts per kind, row errors) and how it reads in the operator's language."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.i18n import gettext
from bot.roster import messages
from bot.roster.reading import UnreadableFile, field_label
from bot.roster.rows import RowError

OUTCOMES = ("created", "updated", "unchanged", "removed")


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass
class ImportReport:
    """Counts per kind ("student", "guardian", "teacher", "staff", "role", "township", "school", "class", "county")
    and every error. `written` is False when errors stopped the import before any write."""

    kind: str  # "roster" or "staff"
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # field → header as written in the file
    counts: dict[str, Counts] = field(default_factory=dict)
    written: bool = False
    sheet: str = ""  # the sheet read, for a workbook
    ignored: tuple[str, ...] = ()  # headers of the columns not used
    warnings: list[RowError] = field(default_factory=list)  # imported, but worth a look (a child without guardian)
    moves: list[tuple[int, str, str, str]] = field(default_factory=list)  # row, student, from class, to class
    needs_confirmation: bool = False  # too many students would move: nothing written without `confirm`
    dry_run: bool = False  # everything was checked and planned; the caller rolls back

    def count(self, kind: str, outcome: str, n: int = 1) -> None:
        counts = self.counts.setdefault(kind, Counts())
        setattr(counts, outcome, getattr(counts, outcome) + n)

    def get(self, kind: str) -> Counts:
        return self.counts.get(kind, Counts())

    @property
    def ok(self) -> bool:
        return not self.errors and not self.needs_confirmation and self.rows > 0

    @property
    def error_rows(self) -> list[int]:
        return sorted({error.row for error in self.errors})


def render_error(error: RowError, headers: dict[str, str], locale: str, sheet: str = "") -> str:
    """'sheet 学生, row 7, 出生日期: not a valid date …' in the locale, with the column named as the file names it
    and the value quoted when the message needs it."""
    message = gettext(messages.ERRORS[error.code], locale).format(**error.params)
    label = (headers.get(error.field) or field_label(error.field, locale)) if error.field else ""
    value = error.params.get("value")
    msgid = messages.ROW_ERROR_VALUE if value else messages.ROW_ERROR
    line = gettext(msgid, locale).format(row=error.row, field=label, message=message, value=value)
    return gettext(messages.IN_SHEET, locale).format(sheet=sheet, line=line) if sheet else line


def render_unreadable(error: UnreadableFile, path: str, locale: str) -> str:
    reason = gettext(messages.UNREADABLE[error.code], locale).format(**error.params)
    return gettext(messages.CANNOT_READ, locale).format(path=path, reason=reason)


def render_report(report: ImportReport, locale: str) -> list[str]:
    """The errors first, then warnings, the columns not used, the students who move, the summary and the outcome."""
    lines = [render_error(error, report.headers, locale, report.sheet) for error in report.errors]
    lines += [
        gettext(messages.WARNING, locale).format(line=render_error(warning, report.headers, locale, report.sheet))
        for warning in report.warnings
    ]
    if report.ignored:
        lines.append(gettext(messages.IGNORED_COLUMNS, locale).format(columns="、".join(report.ignored)))
    if report.moves and (report.needs_confirmation or report.dry_run):
        lines.append(gettext(messages.MOVES, locale).format(count=len(report.moves)))
        lines += [
            gettext(messages.MOVE, locale).format(row=row, name=name, old=old, new=new)
            for row, name, old, new in report.moves
        ]
    if report.needs_confirmation:
        lines.append(gettext(messages.CONFIRM_MOVES, locale).format(count=len(report.moves)))
        return lines
    lines += [_summary_line(msgid, report.get(kind), locale) for kind, msgid in messages.SUMMARY[report.kind]]
    places = {kind: report.get(kind).created for kind in ("township", "school", "class")}
    if any(places.values()):
        lines.append(gettext(messages.NEW_PLACES, locale).format(**places))
    lines.append(_outcome(report, locale))
    return lines


def _summary_line(msgid: str, counts: Counts, locale: str) -> str:
    return gettext(msgid, locale).format(**{outcome: getattr(counts, outcome) for outcome in OUTCOMES})


def _outcome(report: ImportReport, locale: str) -> str:
    if report.dry_run:
        return gettext(messages.DRY_RUN, locale).format(rows=report.rows)
    if report.rows == 0 and not report.errors:
        return gettext(messages.NO_ROWS, locale)
    if report.ok:
        return gettext(messages.DONE, locale).format(rows=report.rows)
    if report.written:
        msgid = messages.SKIPPED
    elif len(report.error_rows) < report.rows:  # some rows are good: skipping the bad ones would import them
        msgid = messages.NOTHING_WRITTEN
    else:
        msgid = messages.NOTHING_WRITTEN_FIX
    return gettext(msgid, locale).format(count=len(report.error_rows))
