"""The monthly report of a whole county over a school year of attendance: how long, how many queries, how much memory.

`python -m bench.report [--students N] [--db sqlite|postgresql] [--pg URL]` builds a county of N students (classes
of 40, schools of 25 classes, townships of 5 schools; a tenth of them in a priority group), the 2025–2026 school
year of roll calls (every school day from 1 September to 10 July on the official calendar) with ~3% absences,
1% of students with an enrolment change, and 2,000 cases (capped at N/50) at every stage — with bulk inserts. Then
it times the county's report for June 2026 phase by phase (load, rates, chart, spreadsheet: what
`build_monthly_report` does), counting the
queries (`before_cursor_execute`) and, in a second run, the peak Python memory (tracemalloc; tracing slows the run,
so the timed run is untraced). Default sizes 10,000 and 100,000: the query count must not change with the size.
PostgreSQL: `--pg`, or QUANXUE_BENCH_PG_URL / QUANXUE_TEST_PG_URL (a fresh database is made and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import platform
import random
import tempfile
import time as clock
import tracemalloc
import uuid
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.engine import make_url

from bench.tick import CHUNK, _pg_admin, local
from bot.calendar.days import SchoolCalendar
from bot.records.chart import build_chart
from bot.records.ledgers import load_records
from bot.records.period import Period
from bot.records.rates import unit_rates
from bot.records.scope import Level, ReportScope
from bot.records.workbook import build_workbook
from storage.db import create_engine, create_sessionmaker, upgrade
from storage.models import (
    Absence,
    AbsenceReason,
    Case,
    CaseOutcome,
    CaseStage,
    County,
    EnrolmentChange,
    Person,
    RollCall,
    School,
    SchoolClass,
    Student,
    Township,
)

YEAR_START, YEAR_END = date(2025, 9, 1), date(2026, 7, 10)
MONTH = Period.month(2026, 6)
CLASS_SIZE, CLASSES_PER_SCHOOL, SCHOOLS_PER_TOWNSHIP = 40, 25, 5
ABSENCE_RATE = 0.03
TAGS = ("留守儿童", "随迁子女", "脱贫户", "残疾", "困境")
REASONS = (AbsenceReason.SICK, AbsenceReason.PERSONAL, AbsenceReason.UNEXPLAINED, AbsenceReason.UNKNOWN)


def build(n: int, seed: int = 7) -> tuple[dict[Any, list[dict[str, Any]]], dict[str, int]]:
    """The rows of the county, table by table, with explicit ids."""
    rng = random.Random(seed)
    now = local(YEAR_START, time(8, 0))
    rows: dict[Any, list[dict[str, Any]]] = {t: [] for t in (County, Township, School, SchoolClass, Person, Student,
                                                              RollCall, Absence, EnrolmentChange, Case)}
    rows[County].append({"id": 1, "name": "基准县"})
    rows[Person].append({"id": 1, "name": "班主任", "phone": None, "locale": None, "created_at": now,
                         "updated_at": now})
    n_classes = math.ceil(n / CLASS_SIZE)
    n_schools = math.ceil(n_classes / CLASSES_PER_SCHOOL)
    school_of_class: dict[int, int] = {}
    for s in range(n_schools):
        if s % SCHOOLS_PER_TOWNSHIP == 0:
            rows[Township].append({"id": s // SCHOOLS_PER_TOWNSHIP + 1, "county_id": 1,
                                   "name": f"第{s // SCHOOLS_PER_TOWNSHIP + 1}镇"})
        rows[School].append({"id": s + 1, "township_id": s // SCHOOLS_PER_TOWNSHIP + 1, "name": f"第{s + 1}小学"})
    for c in range(n_classes):
        school_of_class[c + 1] = c // CLASSES_PER_SCHOOL + 1
        rows[SchoolClass].append({"id": c + 1, "school_id": c // CLASSES_PER_SCHOOL + 1,
                                  "name": f"{(c % CLASSES_PER_SCHOOL) // 5 + 1}年级{c % 5 + 1}班"})
    for i in range(n):
        tags = [rng.choice(TAGS)] if rng.random() < 0.1 else []
        rows[Student].append({"id": i + 1, "class_id": i // CLASS_SIZE + 1, "name": f"学生{i + 1}",
                              "gender": "MF"[i % 2],
                              "birth_date": date(2015, 1, 1), "student_no": None, "status": "enrolled", "tags": tags,
                              "created_at": now, "updated_at": now})
    days = SchoolCalendar().school_days(YEAR_START, YEAR_END)
    roll_id = 0
    roll_of: dict[tuple[int, date], int] = {}
    for class_id in range(1, n_classes + 1):
        for day in days:
            roll_id += 1
            roll_of[(class_id, day)] = roll_id
            rows[RollCall].append({"id": roll_id, "class_id": class_id, "day": day, "draft": {}, "opened_by": 1,
                                   "submitted_by": 1, "submitted_at": local(day, time(8, 30)), "revision": 1})
    absence_id = 0
    for day in days:
        for student in rng.sample(range(1, n + 1), int(n * ABSENCE_RATE)):
            absence_id += 1
            rows[Absence].append({"id": absence_id, "student_id": student,
                                  "roll_call_id": roll_of[((student - 1) // CLASS_SIZE + 1, day)], "day": day,
                                  "reason": rng.choice(REASONS), "expected_return": None, "excused": False,
                                  "recorded_by": 1, "recorded_at": local(day, time(8, 30)), "withdrawn_at": None})
    changed = rng.sample(range(1, n + 1), n // 100)
    for k, student in enumerate(changed):
        kind, status = (("transfer_out", "transferred"), ("suspension", "suspended"))[k % 2]
        class_id = (student - 1) // CLASS_SIZE + 1
        rows[EnrolmentChange].append({"id": k + 1, "student_id": student, "kind": kind,
                                      "effective_on": rng.choice(days), "status_after": status,
                                      "school_id": school_of_class[class_id], "class_id": class_id,
                                      "recorded_at": now})
        rows[Student][student - 1]["status"] = status
    stages = (CaseStage.OPEN, CaseStage.REPORTED, CaseStage.ORDERED, CaseStage.CLOSED)
    for k, student in enumerate(rng.sample(range(1, n + 1), min(2000, n // 50))):
        class_id = (student - 1) // CLASS_SIZE + 1
        first = rng.choice(days[:-10])
        stage = stages[k % 4]
        rows[Case].append({
            "id": k + 1, "student_id": student, "school_id": school_of_class[class_id],
            "township_id": (school_of_class[class_id] - 1) // SCHOOLS_PER_TOWNSHIP + 1, "stage": stage,
            "first_absent_day": first, "opened_at": local(first + timedelta(days=3), time(18, 0)),
            "reported_at": local(first + timedelta(days=10), time(9, 0)) if stage != CaseStage.OPEN else None,
            "closed_at": local(first + timedelta(days=20), time(9, 0)) if stage == CaseStage.CLOSED else None,
            "outcome": CaseOutcome.RETURNED if stage == CaseStage.CLOSED else None,
        })
    stats = {"students": n, "classes": n_classes, "schools": n_schools, "school_days": len(days),
             "roll_calls": roll_id, "absences": absence_id, "cases": len(rows[Case])}
    return rows, stats


async def load(url: str, rows: dict[Any, list[dict[str, Any]]]) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            for model, table_rows in rows.items():
                for start in range(0, len(table_rows), CHUNK):
                    await connection.execute(insert(model.__table__), table_rows[start:start + CHUNK])
            if engine.dialect.name == "postgresql":
                await connection.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()


async def measure(url: str, trace: bool) -> dict[str, Any]:
    """One report of the whole county, phase by phase (what `build_monthly_report` does), counting queries."""
    engine = create_engine(url)
    queries = [0]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        queries[0] += 1

    phases: dict[str, float] = {}
    try:
        async with create_sessionmaker(engine)() as session:
            await session.get(County, 1)  # warm the pool
            queries[0] = 0
            if trace:
                tracemalloc.start()
            started = mark = clock.perf_counter()
            data = await load_records(session, ReportScope(Level.COUNTY, 1, "基准县"), MONTH)
            phases["load"], mark = clock.perf_counter() - mark, clock.perf_counter()
            rates = unit_rates(data)
            phases["rates"], mark = clock.perf_counter() - mark, clock.perf_counter()
            png = build_chart(data, "zh_Hans")
            phases["chart"], mark = clock.perf_counter() - mark, clock.perf_counter()
            xlsx = build_workbook(data, rates, "zh_Hans")
            phases["xlsx"] = clock.perf_counter() - mark
            seconds = clock.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] if trace else 0
            if trace:
                tracemalloc.stop()
    finally:
        await engine.dispose()
    return {"seconds": seconds, "queries": queries[0], "peak_mib": peak / 2**20, "xlsx_kib": len(xlsx) / 1024,
            "png_kib": len(png) / 1024, "phases": phases}


async def bench_report(n: int, db: str = "sqlite", pg_url: str | None = None) -> dict[str, Any]:
    started = clock.perf_counter()
    rows, stats = build(n)
    with tempfile.TemporaryDirectory() as tmp:
        name = None
        if db == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'report.db'}"
        else:
            if not pg_url:
                raise SystemExit("--db postgresql needs --pg URL (or QUANXUE_BENCH_PG_URL / QUANXUE_TEST_PG_URL)")
            name = f"qx_bench_{uuid.uuid4().hex[:8]}"
            await _pg_admin(pg_url, f'CREATE DATABASE "{name}"')
            url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        try:
            await load(url, rows)
            rows.clear()
            build_seconds = clock.perf_counter() - started
            timed = await measure(url, trace=False)
            traced = await measure(url, trace=True)
        finally:
            if name and pg_url:
                await _pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {"db": db, **stats, "build_seconds": build_seconds, **timed, "peak_mib": traced["peak_mib"],
            "load_average": os.getloadavg()[0]}


def print_rows(results: list[dict[str, Any]]) -> None:
    print(f"{'db':10} {'students':>9} {'absences':>10} {'seconds':>8} {'queries':>8} {'peak MiB':>9} "
          f"{'xlsx KiB':>9} {'png KiB':>8}  load / rates / chart / xlsx s")
    for r in results:
        phases = " / ".join(f"{r['phases'][name]:.2f}" for name in ("load", "rates", "chart", "xlsx"))
        print(f"{r['db']:10} {r['students']:>9,} {r['absences']:>10,} {r['seconds']:>8.2f} {r['queries']:>8} "
              f"{r['peak_mib']:>9.1f} {r['xlsx_kib']:>9.0f} {r['png_kib']:>8.0f}  {phases}")
    print("target: under 5 s and 300 MB at 100,000 students; the same number of queries at every size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, action="append", help="default 10,000 and 100,000")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), action="append", help="default: sqlite")
    parser.add_argument("--pg", default=os.environ.get("QUANXUE_BENCH_PG_URL") or os.environ.get(
        "QUANXUE_TEST_PG_URL"), help="PostgreSQL server URL (postgresql+asyncpg://…)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"# monthly report — {date.today().isoformat()}, {platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    results = []
    for db in args.db or ["sqlite"]:
        for n in args.students or [10_000, 100_000]:
            result = asyncio.run(bench_report(n, db, args.pg))
            print(f"  built {result['students']:,} students on {db} in {result['build_seconds']:.0f} s")
            results.append(result)
    print_rows(results)


if __name__ == "__main__":
    main()
