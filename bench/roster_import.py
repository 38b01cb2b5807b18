"""Importing a registry export: how long, how many queries, how much memory (peak RSS of the importing process).

`python -m bench.roster_import [--rows N ...] [--db sqlite|postgresql] [--pg URL]` writes a fictional registry
export of N children (bot.roster.samples: 10 schools, 9 grades, classes of 40, two family members each) as XLSX,
places its schools in a township with a small roster first (the export names no 乡镇), then runs
`quanxue import-roster` on it twice in fresh processes: the first import (everything new) and an unchanged
re-import. Each run is timed from the start of reading the file to the commit, with the CLI's own steps (engine,
migration check, read, check, write): wall-clock seconds, and the CPU seconds of the importing process (all its
threads: the SQLite driver runs in one), which a busy shared machine inflates less. PostgreSQL: `--pg`, or
QUANXUE_BENCH_PG_URL / QUANXUE_TEST_PG_URL (a fresh database is created and dropped). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

import bot.cli  # noqa: F401  # what `quanxue` loads: the importing process's memory is the command's
from bot.core.clock import ManualClock
from bot.core.settings import Settings
from bot.roster.cli import run_import_roster
from bot.roster.samples import REGISTRY_HEADER, children, school_rows

NOW = "2026-09-07T08:00:00+08:00"


def write_export(rows: int, path: Path) -> Path:
    """The registry export (XLSX) and the small roster that places its schools."""
    from openpyxl import Workbook  # here, not in the importing processes: the command does not load it

    kids = children(rows)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("学生信息")
    sheet.append(list(REGISTRY_HEADER))
    for kid in kids:
        sheet.append(kid.registry_row())
    book.save(path)
    places = path.with_suffix(".places.csv")
    places.write_text("\n".join(",".join(row) for row in school_rows(kids)), encoding="utf-8")
    return places


async def _import_once(path: str, url: str) -> dict[str, Any]:
    queries = 0

    def count(*_args: Any) -> None:
        nonlocal queries
        queries += 1

    event.listen(Engine, "before_cursor_execute", count)
    from datetime import datetime

    clock = ManualClock(datetime.fromisoformat(NOW))
    settings = Settings(_env_file=None, database_url=url)
    started, cpu = time.perf_counter(), time.process_time()
    status = await run_import_roster(settings, clock, path, out=io.StringIO())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"status": status, "seconds": seconds, "cpu_seconds": cpu, "queries": queries, "peak_rss_mib": peak}


def import_in_child(path: Path, url: str) -> dict[str, Any]:
    """One import in a fresh process, so that its peak memory is its own."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.roster_import", "--child", str(path), "--url", url],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout)


async def bench_roster_import(rows: int, db: str = "sqlite", pg_url: str | None = None) -> dict[str, Any]:
    from bench.tick import _pg_admin  # here, not in the importing processes (it loads the scheduler)

    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "registry.xlsx"
        places = write_export(rows, export)
        name = f"qx_bench_{uuid.uuid4().hex[:8]}"
        if db == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'roster.db'}"
        else:
            if not pg_url:
                raise SystemExit("--db postgresql needs --pg URL (or QUANXUE_BENCH_PG_URL / QUANXUE_TEST_PG_URL)")
            await _pg_admin(pg_url, f'CREATE DATABASE "{name}"')
            url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        try:
            import_in_child(places, url)
            first = import_in_child(export, url)
            again = import_in_child(export, url)
        finally:
            if db != "sqlite":
                await _pg_admin(pg_url or "", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {"db": db, "rows": rows, "first": first, "unchanged": again}


def print_rows(results: list[dict[str, Any]]) -> None:
    print(f"{'db':<11}{'rows':>8}  {'run':<10}{'seconds':>9}{'CPU s':>8}{'queries':>9}{'peak RSS MiB':>14}")
    for result in results:
        for run in ("first", "unchanged"):
            r = result[run]
            print(f"{result['db']:<11}{result['rows']:>8}  {run:<10}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.2f}"
                  f"{r['queries']:>9}{r['peak_rss_mib']:>14.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg", default=os.environ.get("QUANXUE_BENCH_PG_URL") or os.environ.get("QUANXUE_TEST_PG_URL"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_import_once(args.child, args.url))))
        return
    print_rows([asyncio.run(bench_roster_import(n, args.db, args.pg)) for n in args.rows])


if __name__ == "__main__":
    main()
