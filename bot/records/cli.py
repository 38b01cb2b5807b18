"""`quanxue report --scope school:NAME|township:NAME|county --month 2026-11 --output FILE.xlsx`: the monthly report
from the command line. Writes the spreadsheet to FILE.xlsx and the chart next to it (FILE.png), prints the summary.
Exit 0 when written, 2 when the scope or the month is not understood (nothing written)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TextIO

from bot.core import audit
from bot.core.clock import Clock
from bot.core.i18n import gettext
from bot.core.settings import Settings
from bot.notices.outbox import render_notice
from bot.records.period import Period
from bot.records.report import build_monthly_report
from bot.records.scope import ScopeNotFound, scope_by_name
from storage.db import create_engine, create_sessionmaker, upgrade

EXIT_OK, EXIT_BAD_INPUT = 0, 2
_TAGS = re.compile(r"<[^>]+>")


async def run_report(settings: Settings, clock: Clock, scope_spec: str, month: str, output: Path, *,
                     locale: str | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    locale = locale or settings.locale
    try:
        period = Period.parse_month(month)
    except ValueError:
        print(gettext("Not a month: write it like 2026-11.", locale), file=out)
        return EXIT_BAD_INPUT
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            try:
                scope = await scope_by_name(session, scope_spec, settings.county)
            except ScopeNotFound:
                message = gettext("No such scope: {scope}. Write school:NAME, township:NAME or county.", locale)
                print(message.format(scope=scope_spec), file=out)
                return EXIT_BAD_INPUT
            report = await build_monthly_report(session, scope, period, locale)
            audit.record(session, clock.now(), "report.exported", "report", None, actor="cli", scope=scope.key,
                         period=period.label)
    finally:
        await engine.dispose()
    output = Path(output)
    output.write_bytes(report.workbook)
    output.with_suffix(".png").write_bytes(report.chart)
    print(_TAGS.sub("", render_notice("monthly_report", locale, report.values | {"attachments": False})), file=out)
    print(gettext("Written: {workbook} and {chart}", locale).format(workbook=output, chart=output.with_suffix(".png")),
          file=out)
    return EXIT_OK
