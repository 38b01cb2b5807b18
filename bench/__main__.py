"""`make bench`: every measurement, one table each. Not part of `make test`; figures go to docs/performance.md."""

from __future__ import annotations

import asyncio
import logging
import os
import platform
from datetime import date

from bench.delivery import bench_delivery
from bench.documents import bench_documents, print_documents
from bench.report import bench_report
from bench.report import print_rows as print_report_rows
from bench.roster_import import bench_roster_import
from bench.roster_import import print_rows as print_import_rows
from bench.taps import bench_taps, print_table
from bench.tick import bench_tick, print_rows


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    print(f"# Quanxue benchmarks, {date.today().isoformat()} — {platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    print("\n## Tap to edited message (roll call vs. a bare aiogram echo bot)")
    print_table(asyncio.run(bench_taps(300, os.environ.get("QUANXUE_BENCH_PG_URL"),
                                      os.environ.get("QUANXUE_BENCH_REDIS_URL"))))
    print("\n## Delivery of 1,000 notices to 1,000 chats at a server limit of 30/s")
    result = asyncio.run(bench_delivery(1000, 30.0))
    for key, value in result.items():
        print(f"{key:>22}: {value:.3f}" if isinstance(value, float) else f"{key:>22}: {value}")
    print("\n## One tick over a synthetic county (SQLite; `python -m bench.tick --help` for PostgreSQL and 1M)")
    print_rows([asyncio.run(bench_tick(n)) for n in (10_000, 100_000)])
    print("\n## Importing a registry export (SQLite; `python -m bench.roster_import --help` for PostgreSQL)")
    print_import_rows([asyncio.run(bench_roster_import(n)) for n in (20_000, 100_000)])
    print("\n## The monthly report of a county over a school year (SQLite; `python -m bench.report --help`)")
    print_report_rows([asyncio.run(bench_report(n)) for n in (10_000, 100_000)])
    print("\n## Printed documents: invite slips for a school of 2,000 families, a case file of 50 events")
    print_documents(bench_documents())


if __name__ == "__main__":
    main()
