"""The monthly report of one scope, in one language: a short text, the chart (PNG) and the ledgers (XLSX).

Built from `load_records` (a fixed number of queries) and the rates computed in memory; the same report goes out on
schedule (bot.records.push), on demand (/report) and from the command line (`quanxue report`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.records import labels
from bot.records.chart import PNG_MIME, build_chart
from bot.records.ledgers import RecordsData, load_records
from bot.records.period import Period
from bot.records.rates import ANY_PRIORITY, Rates, unit_rates
from bot.records.scope import ReportScope
from bot.records.workbook import XLSX_MIME, build_workbook


@dataclass(frozen=True)
class MonthlyReport:
    scope: ReportScope
    period: Period
    locale: str
    values: dict[str, object]  # what the text templates show (bot.notices: monthly_report, report_chart, …)
    chart: bytes  # PNG
    workbook: bytes  # XLSX
    rates: tuple[Rates, ...]
    queries: int

    @property
    def chart_name(self) -> str:
        return f"{self.scope.name}-{self.period.label}.png"

    @property
    def workbook_name(self) -> str:
        return f"{self.scope.name}-{self.period.label}.xlsx"

    chart_mime = PNG_MIME
    workbook_mime = XLSX_MIME


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def summary_values(data: RecordsData, rates: list[Rates], locale: str) -> dict[str, object]:
    """The text summary's values: the scope's figures and a line per priority group that has students."""
    whole = rates[0]
    groups = [
        {"name": labels.label(labels.GROUPS, r.group, locale), "students": r.students,
         "attendance": percent(r.attendance), "open": r.open_suspected + r.open_confirmed}
        for r in rates if r.unit == data.scope.level.value and r.group not in (None, ANY_PRIORITY)
    ]
    return {
        "scope": data.scope.name, "period": data.period.label, "attendance": percent(whole.attendance),
        "expected": whole.expected_days, "present": whole.present_days, "suspected": whole.suspected,
        "confirmed": whole.confirmed, "returns": whole.returns, "open_suspected": whole.open_suspected,
        "open_confirmed": whole.open_confirmed, "dropout_rate": percent(whole.dropout_rate),
        "retention": percent(whole.retention), "groups": groups, "attachments": True,
    }


async def build_monthly_report(
    session: AsyncSession, scope: ReportScope, period: Period, locale: str, data: RecordsData | None = None
) -> MonthlyReport:
    """The report of `scope` for `period` in `locale` (pass `data` to build several languages from one load)."""
    data = data or await load_records(session, scope, period)
    rates = unit_rates(data)
    return MonthlyReport(scope, period, locale, summary_values(data, rates, locale), build_chart(data, locale),
                         build_workbook(data, rates, locale), tuple(rates), data.queries)
