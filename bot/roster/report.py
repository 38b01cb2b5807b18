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

    def count(self, kind: str, outcome: str, n: int = 1) -> None:
        counts = self.counts.setdefault(kind, Counts())
        setattr(counts, outcome, getattr(counts, outcome) + n)

    def get(self, kind: str) -> Counts:
        return self.counts.get(kind, Counts())

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_rows(self) -> list[int]:
        return sorted({error.row for error in self.errors})


def render_error(error: RowError, headers: dict[str, str], locale: str) -> str:
    """'row 7, 出生日期: not a valid date …' in the locale, with the column named as the file names it."""
    message = gettext(messages.ERRORS[error.code], locale).format(**error.params)
    label = (headers.get(error.field) or field_label(error.field, locale)) if error.field else ""
    return gettext(messages.ROW_ERROR, locale).format(row=error.row, field=label, message=message)


def render_unreadable(error: UnreadableFile, path: str, locale: str) -> str:
    reason = gettext(messages.UNREADABLE[error.code], locale).format(**error.params)
    return gettext(messages.CANNOT_READ, locale).format(path=path, reason=reason)


def render_report(report: ImportReport, locale: str) -> list[str]:
    """The summary lines, then one line per error."""
    lines = [_summary_line(msgid, report.get(kind), locale) for kind, msgid in messages.SUMMARY[report.kind]]
    places = {kind: report.get(kind).created for kind in ("township", "school", "class")}
    if any(places.values()):
        lines.append(gettext(messages.NEW_PLACES, locale).format(**places))
    lines.append(_outcome(report, locale))
    lines += [render_error(error, report.headers, locale) for error in report.errors]
    return lines


def _summary_line(msgid: str, counts: Counts, locale: str) -> str:
    return gettext(msgid, locale).format(**{outcome: getattr(counts, outcome) for outcome in OUTCOMES})


def _outcome(report: ImportReport, locale: str) -> str:
    if report.ok:
        return gettext(messages.DONE, locale).format(rows=report.rows)
    msgid = messages.SKIPPED if report.written else messages.NOTHING_WRITTEN
    return gettext(msgid, locale).format(count=len(report.error_rows))
