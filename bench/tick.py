"""One tick over a synthetic county: how long, how many queries, how much memory.

`python -m bench.tick [--students N] [--db sqlite|postgresql] [--pg URL]` builds a county of N students (classes of
40, schools of 25 classes, townships of 5 schools, one guardian each, 90% of them linked), 20 school days of roll
calls with ~3% absences (sick, personal leave, unexplained, unknown; 80% of today's unexplained ones answered),
2,000 cases (capped at N/5) at every stage with their persuasion attempts and steps, 500 returned cases in or past
their watch, and 0.02% of students on a fresh 3-day run of unexplained absences — with bulk inserts. Then, at
17:05 on the last school day, it times one `run_tick` (the day's peak: the phone requests, the day's new cases,
the steps that fell due) and one more two minutes later (steady state: nothing new), counting the queries
(`before_cursor_execute`) and the peak Python memory (tracemalloc, in a separate run on a copy of the same data so
that tracing does not slow the timed run). Sizes: 10,000 and 100,000 by default; 1,000,000 only when asked.

On PostgreSQL the bulk load is followed by ANALYZE (autovacuum's job on a live database; without statistics the
planner picks nested loops over the absences). PostgreSQL: `--pg`, or QUANXUE_BENCH_PG_URL / QUANXUE_TEST_PG_URL
(a server where a database can be created; a fresh one is made and dropped). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import platform
import random
import shutil
import tempfile
import time as clock
import tracemalloc
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.calendar.days import SchoolCalendar
from bot.core.settings import Settings
from bot.onboarding.service import CONSENT_VERSIONS
from bot.tick import run_tick
from storage.db import create_engine, create_sessionmaker, upgrade
from storage.models import (
    Absence,
    AbsenceReason,
    AbsenceReply,
    Case,
    CaseEvent,
    CaseOutcome,
    CaseStage,
    CaseStep,
    Consent,
    ContactPoint,
    County,
    Guardianship,
    OutboxMessage,
    Person,
    PersuasionAttempt,
    Role,
    RollCall,
    School,
    SchoolClass,
    StaffRole,
    Student,
    Township,
)

TZ = "Asia/Shanghai"
LAST_DAY = date(2026, 10, 30)  # a Friday; 20 school days back cross the National Day week
CLASS_SIZE, CLASSES_PER_SCHOOL, SCHOOLS_PER_TOWNSHIP = 40, 25, 5
ABSENCE_RATE = 0.03
REASONS = [(AbsenceReason.SICK, 0.40), (AbsenceReason.PERSONAL, 0.20), (AbsenceReason.UNEXPLAINED, 0.25),
           (AbsenceReason.UNKNOWN, 0.15)]
CHUNK = 5_000


def local(day: date, at: time) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.combine(day, at, ZoneInfo(TZ)).astimezone(UTC)


# --- building the county ------------------------------------------------------------------------------------------


class Builder:
    def __init__(self, n: int, seed: int = 42) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.rows: dict[Any, list[dict[str, Any]]] = {}
        self.ids: dict[Any, int] = {}
        self.calendar = SchoolCalendar()
        self.days = self.calendar.school_days_before(LAST_DAY, 20)
        self.today = self.days[-1]
        self.now0 = local(self.days[0], time(8, 0))

    def add(self, model, **values) -> int:
        key = model.__table__
        self.ids[key] = self.ids.get(key, 0) + 1
        values.setdefault("id", self.ids[key])
        self.rows.setdefault(key, []).append(values)
        return values["id"]

    def person(self, name: str, linked: bool, guardian: bool = False) -> int:
        pid = self.add(Person, name=name, phone=f"139{self.ids.get(Person.__table__, 0) + 1:08d}", locale=None,
                       created_at=self.now0, updated_at=self.now0)
        if linked:
            self.add(ContactPoint, person_id=pid, channel="telegram", address=str(10_000_000 + pid), reachable=True,
                     linked_at=self.now0)
            for version in CONSENT_VERSIONS if guardian else ():
                self.add(Consent, person_id=pid, text_version=version, locale="zh_Hans", channel="telegram",
                         accepted_at=self.now0)
        return pid

    def build(self) -> dict[str, int]:
        rng, n = self.rng, self.n
        county = self.add(County, name="基准县")
        classes: list[tuple[int, int]] = []  # (class id, school id)
        n_classes = math.ceil(n / CLASS_SIZE)
        n_schools = math.ceil(n_classes / CLASSES_PER_SCHOOL)
        township_of_school = {}
        for t in range(math.ceil(n_schools / SCHOOLS_PER_TOWNSHIP)):
            tid = self.add(Township, county_id=county, name=f"第{t + 1}镇")
            officer = self.person(f"乡镇专干{t + 1}", True)
            self.add(StaffRole, person_id=officer, role=Role.TOWNSHIP_OFFICER, township_id=tid)
            for s in range(SCHOOLS_PER_TOWNSHIP):
                if len(township_of_school) >= n_schools:
                    break
                sid = self.add(School, township_id=tid, name=f"第{t + 1}镇第{s + 1}小学")
                township_of_school[sid] = tid
                officer = self.person(f"专干{sid}", True)
                self.add(StaffRole, person_id=officer, role=Role.SCHOOL_ADMIN, school_id=sid)
                for c in range(CLASSES_PER_SCHOOL):
                    if len(classes) >= n_classes:
                        break
                    cid = self.add(SchoolClass, school_id=sid, name=f"{c // 4 + 1}年级{c % 4 + 1}班")
                    classes.append((cid, sid))
                    teacher = self.person(f"班主任{cid}", True)
                    self.add(StaffRole, person_id=teacher, role=Role.CLASS_TEACHER, class_id=cid)
        students: list[tuple[int, int, int]] = []  # (student, class, school)
        guardian_of: dict[int, int] = {}
        for i in range(n):
            cid, sid = classes[i // CLASS_SIZE]
            stid = self.add(Student, class_id=cid, name=f"学生{i + 1}", gender="MF"[i % 2], birth_date=date(2016, 1, 1),
                            student_no=None, status="enrolled", tags=[], created_at=self.now0, updated_at=self.now0)
            gid = self.person(f"家长{i + 1}", rng.random() < 0.9, guardian=True)
            self.add(Guardianship, student_id=stid, person_id=gid, relation="父亲", rank=1)
            students.append((stid, cid, sid))
            guardian_of[stid] = gid
        teacher_of = {row["class_id"]: row["person_id"] for row in self.rows[StaffRole.__table__]
                      if row["role"] == Role.CLASS_TEACHER}

        roll_call = {}
        for cid, _sid in classes:
            for day in self.days:
                roll_call[(cid, day)] = self.add(RollCall, class_id=cid, day=day, draft={}, opened_by=teacher_of[cid],
                                                 submitted_by=teacher_of[cid], submitted_at=local(day, time(8, 30)),
                                                 revision=1)

        absent: dict[tuple[int, date], str] = {}
        shuffled = students[:]
        rng.shuffle(shuffled)
        n_cases, n_closed = min(2000, n // 5), min(500, n // 20)
        n_fresh = max(2, n // 5000)
        case_students = shuffled[:n_cases]
        closed_students = shuffled[n_cases:n_cases + n_closed]
        fresh = shuffled[n_cases + n_closed:n_cases + n_closed + n_fresh]
        for day in self.days:
            for stid, _cid, _sid in rng.sample(students, int(n * ABSENCE_RATE)):
                absent[(stid, day)] = self._reason()
        for stid, _cid, _sid in fresh:
            for day in self.days[-3:]:
                absent[(stid, day)] = AbsenceReason.UNEXPLAINED

        stages = [(CaseStage.OPEN, 0.5), (CaseStage.REPORTED, 0.25), (CaseStage.ORDERED, 0.2), (CaseStage.LEGAL, 0.05)]
        for stid, _cid, sid in case_students:
            stage = rng.choices([s for s, _ in stages], [w for _, w in stages])[0]
            back = {CaseStage.OPEN: rng.randint(1, 6), CaseStage.REPORTED: rng.randint(6, 10),
                    CaseStage.ORDERED: rng.randint(8, 15), CaseStage.LEGAL: rng.randint(15, 17)}[stage]
            opened_day = self.days[-1 - back]
            first = self.days[-1 - back - 2]
            for day in self.days[self.days.index(first):]:
                absent[(stid, day)] = AbsenceReason.UNEXPLAINED
            opened = local(opened_day, time(18, 0))
            case = {
                "student_id": stid, "school_id": sid, "township_id": township_of_school[sid], "stage": stage,
                "first_absent_day": first, "opened_at": opened,
                "persuasion_deadline": opened_day + timedelta(days=7),
                "home_visit_due": self.calendar.school_days_after(opened_day, 2)[-1],
            }
            if stage != CaseStage.OPEN:
                case["reported_at"] = local(opened_day + timedelta(days=7), time(8, 0))
            if stage in (CaseStage.ORDERED, CaseStage.LEGAL):
                ordered = opened_day + timedelta(days=8)
                case["ordered_at"] = local(ordered, time(10, 0))
                case["order_deadline"] = ordered + timedelta(days=10)
            case_id = self.add(Case, **case)
            self.add(CaseEvent, case_id=case_id, at=opened, actor_person_id=None, actor="scheduler", kind="opened",
                     details={})
            visited = back >= 2 and rng.random() < 0.95  # a few home visits are late
            attempts = (1 if visited else 0) if stage == CaseStage.OPEN else 2
            for k in range(attempts):
                on_day = self.calendar.school_days_after(opened_day, k + 1)[-1]
                self.add(PersuasionAttempt, case_id=case_id, on_day=on_day,
                         method="home_visit", visitors="专干", people_met="家长", reason_found="gone_to_work",
                         attitude="hesitant", next_step=None, succeeded=False, recorded_by=teacher_of[_cid],
                         recorded_at=opened)
            if stage != CaseStage.OPEN:
                self.add(CaseStep, case_id=case_id, step="report", done_at=case["reported_at"])
            if case.get("order_deadline") and case["order_deadline"] < self.today and rng.random() < 0.9:
                self.add(CaseStep, case_id=case_id, step="order_deadline_passed", done_at=opened)
        for stid, _cid, sid in closed_students:
            closed_day = self.today - timedelta(days=rng.randint(1, 40))
            watch_until = closed_day + timedelta(days=28)
            case_id = self.add(Case, student_id=stid, school_id=sid, township_id=township_of_school[sid],
                               stage=CaseStage.CLOSED, first_absent_day=closed_day - timedelta(days=20),
                               opened_at=local(closed_day - timedelta(days=15), time(18, 0)),
                               closed_at=local(closed_day, time(9, 0)), outcome=CaseOutcome.RETURNED,
                               watch_until=watch_until)
            if watch_until < self.today and rng.random() < 0.9:
                self.add(CaseStep, case_id=case_id, step="watch_ended", done_at=local(closed_day, time(9, 0)))
            for day in self.days:
                if day > closed_day:
                    absent.pop((stid, day), None)

        class_of = {stid: cid for stid, cid, _ in students}
        in_case = {stid for stid, *_ in case_students}
        for (stid, day), reason in absent.items():
            cid = class_of[stid]
            aid = self.add(Absence, student_id=stid, roll_call_id=roll_call[(cid, day)], day=day, reason=reason,
                           expected_return=None, excused=False, recorded_by=teacher_of[cid],
                           recorded_at=local(day, time(8, 30)), withdrawn_at=None)
            asks = reason in (AbsenceReason.UNEXPLAINED, AbsenceReason.UNKNOWN)
            if asks and stid not in in_case and (day != self.today or self.rng.random() < 0.8):
                self.add(AbsenceReply, absence_id=aid, person_id=guardian_of[stid], answer="family", text=None,
                         at=local(day, time(10, 0)))
        return {"students": n, "classes": len(classes), "schools": n_schools, "absences": len(absent),
                "cases": n_cases + n_closed, "open_cases": n_cases, "fresh_runs": n_fresh}

    def _reason(self) -> str:
        x, acc = self.rng.random(), 0.0
        for reason, weight in REASONS:
            acc += weight
            if x < acc:
                return reason
        return REASONS[-1][0]


async def load(engine: AsyncEngine, builder: Builder) -> None:
    async with engine.begin() as connection:
        order = {table: i for i, table in enumerate(Case.metadata.sorted_tables)}
        for table, rows in sorted(builder.rows.items(), key=lambda item: order[item[0]]):
            keys = set().union(*(row.keys() for row in rows))
            rows = [{key: row.get(key) for key in keys} for row in rows]  # one shape per statement
            for start in range(0, len(rows), CHUNK):
                await connection.execute(insert(table), rows[start:start + CHUNK])
        if engine.dialect.name == "postgresql":
            for table in builder.rows:
                await connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))"
                ))
            await connection.execute(text("ANALYZE"))  # as autovacuum would have by then: plans need statistics


# --- measuring ----------------------------------------------------------------------------------------------------


async def measure(url: str, settings: Settings, now: datetime, trace: bool) -> list[dict[str, Any]]:
    engine = create_engine(url)
    queries = [0]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_args) -> None:
        queries[0] += 1

    sessions = create_sessionmaker(engine)
    results = []
    try:
        async with sessions() as session:  # warm the pool and the catalogs
            await session.scalar(select(func.count()).select_from(OutboxMessage))
        for label, at in (("peak", now), ("steady", now + timedelta(minutes=2))):
            async with sessions() as session:
                before = await session.scalar(select(func.count()).select_from(OutboxMessage))
            queries[0] = 0
            if trace:
                tracemalloc.start()
            started = clock.perf_counter()
            report = await run_tick(sessions, settings, at)
            seconds = clock.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] if trace else 0
            if trace:
                tracemalloc.stop()
            count = queries[0]
            async with sessions() as session:
                after = await session.scalar(select(func.count()).select_from(OutboxMessage))
            results.append({"tick": label, "seconds": seconds, "queries": count, "peak_mib": peak / 2**20,
                            "notices": after - before, "ladder": report.ladder})
    finally:
        await engine.dispose()
    return results


async def _pg_admin(pg_url: str, sql: str) -> None:
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(sql)
    finally:
        await engine.dispose()


async def bench_tick(n: int, db: str = "sqlite", pg_url: str | None = None) -> dict[str, Any]:
    """Build a county of `n` students, then measure the peak and the steady tick (time, queries, memory)."""
    builder = Builder(n)
    started = clock.perf_counter()
    stats = builder.build()
    now = local(builder.today, time(17, 5))
    settings = Settings(_env_file=None, timezone=TZ)
    with tempfile.TemporaryDirectory() as tmp:
        names: list[str] = []
        if db == "sqlite":
            base = Path(tmp) / "base.db"
            urls = [f"sqlite+aiosqlite:///{Path(tmp) / name}.db" for name in ("timed", "traced")]
            base_url = f"sqlite+aiosqlite:///{base}"
        else:
            if not pg_url:
                raise SystemExit("--db postgresql needs --pg URL (or QUANXUE_BENCH_PG_URL / QUANXUE_TEST_PG_URL)")
            names = [f"qx_bench_{uuid.uuid4().hex[:8]}" for _ in range(3)]
            for name in names[:1]:
                await _pg_admin(pg_url, f'CREATE DATABASE "{name}"')
            base_url, *urls = [make_url(pg_url).set(database=name).render_as_string(hide_password=False)
                               for name in names]
        try:
            engine = create_engine(base_url)
            await upgrade(engine)
            await load(engine, builder)
            await engine.dispose()  # on SQLite the last connection to close folds the WAL into the file
            builder.rows.clear()
            build_seconds = clock.perf_counter() - started
            for url in urls:
                if db == "sqlite":
                    _copy_sqlite(base, Path(make_url(url).database))
                else:
                    await _pg_admin(pg_url, f'CREATE DATABASE "{make_url(url).database}" TEMPLATE "{names[0]}"')
            timed = await measure(urls[0], settings, now, trace=False)
            traced = await measure(urls[1], settings, now, trace=True)
        finally:
            for name in names:
                await _pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for row, memory in zip(timed, traced, strict=True):
        row["peak_mib"] = memory["peak_mib"]
    return {"db": db, "students": n, "build_seconds": build_seconds, **stats, "ticks": timed}


def _copy_sqlite(source: Path, target: Path) -> None:
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")


def print_rows(results: Iterable[dict[str, Any]]) -> None:
    print(f"{'db':10} {'students':>9} {'open cases':>10} {'tick':6} {'seconds':>8} {'queries':>8} {'peak MiB':>9} "
          f"{'notices':>8}  ladder")
    for result in results:
        for row in result["ticks"]:
            ladder = row["ladder"]
            done = ", ".join(f"{k}={v}" for k, v in vars(ladder).items() if v)
            print(f"{result['db']:10} {result['students']:>9,} {result['open_cases']:>10,} {row['tick']:6} "
                  f"{row['seconds']:>8.3f} {row['queries']:>8} {row['peak_mib']:>9.1f} {row['notices']:>8}  "
                  f"{done or '-'}")
    print("target: under 2 s at 100,000 students; the same number of queries at every size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, action="append",
                        help="county size (repeatable); default 10,000 and 100,000")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), action="append", help="default: sqlite")
    parser.add_argument("--pg", default=os.environ.get("QUANXUE_BENCH_PG_URL") or os.environ.get(
        "QUANXUE_TEST_PG_URL"), help="PostgreSQL server URL (postgresql+asyncpg://…)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"# one tick — {date.today().isoformat()}, {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, {platform.machine()}")
    results = []
    for db in args.db or ["sqlite"]:
        for n in args.students or [10_000, 100_000]:
            result = asyncio.run(bench_tick(n, db, args.pg))
            print(f"  built {result['students']:,} students on {db} in {result['build_seconds']:.0f} s "
                  f"({result['absences']:,} absences, {result['cases']:,} cases)")
            results.append(result)
    print_rows(results)


if __name__ == "__main__":
    main()
