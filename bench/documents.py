"""Printed documents: invite slips for a school of 2,000 families, and the case file of a case with 50 events.

`python -m bench.documents [--families N] [--events N]`. Each is timed once without tracing, then run again under
tracemalloc for the peak Python memory (tracing slows it down). The slips are rendered from generated entries (the
database part of `quanxue invites` is one query per table); the case file is read from a fresh SQLite database:
its history, one notice per event as sent, and a 劝学书, a 家访记录, a 辍学报告 and a 复学通知书 to two guardians.
Not part of the test suite; figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.settings import Settings
from bot.documents.casefile import case_file
from bot.documents.slips import SlipEntry, render_slips
from bot.onboarding.service import format_code, generate_code, invite_link
from storage.db import create_engine, create_sessionmaker, upgrade
from storage.models import (
    Case,
    CaseEvent,
    County,
    DocumentKind,
    FormalDocument,
    OutboxMessage,
    Person,
    School,
    SchoolClass,
    Student,
    Township,
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "明华红军丽强敏静伟芳娜秀英杰涛堃䶮𠮷玲"
NOW = datetime(2026, 9, 15, 10, tzinfo=UTC)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def slip_entries(families: int, per_class: int = 40, seed: int = 7) -> list[SlipEntry]:
    """One slip per family of a school, 40 families to a class, one in ten with two children, one in twenty with
    its language set to English."""
    rng = random.Random(seed)
    entries = []
    for i in range(families):
        code = generate_code()
        surname = _name(rng)[0]
        children = tuple(surname + _name(rng)[1:] for _ in range(2 if i % 10 == 0 else 1))
        entries.append(SlipEntry(
            name=_name(rng), code=format_code(code), link=invite_link("quanxue_bot", code), children=children,
            unit=f"示范小学 {i // per_class // 6 + 1}年级{i // per_class % 6 + 1}班", expires=date(2026, 10, 15),
            locale="en" if i % 20 == 0 else None))
    return entries


async def case_with_events(sessions: Any, events: int) -> int:
    """A case with `events` history events, one notice as sent per event, and its documents."""
    async with sessions() as session, session.begin():
        county = County(name="示范县")
        session.add(county)
        await session.flush()
        township = Township(county_id=county.id, name="青山镇", office_phone="0871-5550123")
        session.add(township)
        await session.flush()
        school = School(township_id=township.id, name="青山镇中心小学")
        session.add(school)
        await session.flush()
        klass = SchoolClass(school_id=school.id, name="三年级1班")
        father = Person(name="张堃", created_at=NOW, updated_at=NOW)
        grandma = Person(name="张奶奶", created_at=NOW, updated_at=NOW)
        session.add_all([klass, father, grandma])
        await session.flush()
        student = Student(class_id=klass.id, name="张𠮷红", created_at=NOW, updated_at=NOW)
        session.add(student)
        await session.flush()
        case = Case(student_id=student.id, school_id=school.id, township_id=township.id, stage="ordered",
                    first_absent_day=date(2026, 9, 11), opened_at=NOW)
        session.add(case)
        await session.flush()
        facts = {"child": student.name, "class_name": klass.name, "school": school.name, "township": "青山镇",
                 "first_absent_day": "2026-09-11", "days_absent": 3, "deadline": "2026-09-24", "issuer": school.name,
                 "issuer_phone": "", "on_day": "2026-09-16", "method": "home_visit", "visitors": "王丽",
                 "people_met": "张奶奶", "reason": "gone_to_work", "attitude": "refusing", "next_step": "",
                 "succeeded": False, "by": "王丽", "attempts": [], "why": "deadline", "note": "",
                 "ordered_on": "2026-09-25", "order_deadline": "2026-10-12"}
        for i in range(events):
            at = NOW + timedelta(hours=6 * i)
            session.add(CaseEvent(case_id=case.id, at=at, actor="scheduler", kind="guardian_answer",
                                  details={"answer": "call_me"}))
            session.add(OutboxMessage(
                idempotency_key=f"bench:{i}", person_id=father.id, channel="telegram", address="1", template="x",
                locale="zh_Hans", text=f"<b>劝学书</b>（青山镇中心小学）\n张堃，您好！第{i}条通知。\n请送孩子回校。",
                entity="case", entity_id=case.id, status="sent", created_at=at, next_attempt_at=at, sent_at=at))
        kinds = [DocumentKind.PERSUASION_NOTICE, DocumentKind.VISIT_RECORD, DocumentKind.DROPOUT_REPORT,
                 DocumentKind.RETURN_ORDER, DocumentKind.RETURN_ORDER]
        for seq, kind in enumerate(kinds, 1):
            session.add(FormalDocument(
                case_id=case.id, kind=kind.value, issuer_kind="school", issuer_id=school.id, year=2026, seq=seq,
                reference=f"青山镇中心小学〔2026〕{seq}号", recipient_name=father.name, recipient_person_id=father.id,
                copy=False, locale="zh_Hans", facts=facts, issued_at=NOW))
        return case.id


async def bench_case_file(events: int) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds, pages, bytes) of one case file read from a fresh SQLite database."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        try:
            await upgrade(engine)
            sessions = create_sessionmaker(engine)
            case_id = await case_with_events(sessions, events)
            async with sessions() as session, session.begin():
                started, cpu = time.perf_counter(), time.process_time()
                rendered = await case_file(session, Settings(_env_file=None), NOW, None, case_id, "zh_Hans")
                return (time.perf_counter() - started, time.process_time() - cpu, rendered.pages,
                        len(rendered.data))
        finally:
            await engine.dispose()


def peak_memory(run: Callable[[], Any]) -> float:
    """Peak Python memory of `run()` in MiB (tracemalloc)."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def bench_documents(families: int = 2000, events: int = 50) -> list[dict[str, Any]]:
    entries = slip_entries(families)
    started, cpu = time.perf_counter(), time.process_time()
    slips = render_slips(entries)
    slips_seconds, slips_cpu = time.perf_counter() - started, time.process_time() - cpu
    seconds, cpu, pages, size = asyncio.run(bench_case_file(events))
    return [
        {"what": f"invite slips, {families:,} families", "seconds": slips_seconds, "cpu": slips_cpu,
         "pages": slips.pages, "MiB": len(slips.data) / 2**20,
         "peak MiB": peak_memory(lambda: render_slips(entries))},
        {"what": f"case file, {events} events", "seconds": seconds, "cpu": cpu, "pages": pages, "MiB": size / 2**20,
         "peak MiB": peak_memory(lambda: asyncio.run(bench_case_file(events)))},
    ]


def print_documents(rows: list[dict[str, Any]]) -> None:
    print("| document | seconds | CPU seconds | pages | file MiB | peak Python MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['what']} | {row['seconds']:.2f} | {row['cpu']:.2f} | {row['pages']} | {row['MiB']:.2f} "
              f"| {row['peak MiB']:.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=2000)
    parser.add_argument("--events", type=int, default=50)
    arguments = parser.parse_args()
    print_documents(bench_documents(arguments.families, arguments.events))
