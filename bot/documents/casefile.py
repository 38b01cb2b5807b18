"""The case file (个案档案): the student, the case's history, every notice as it was actually sent (the outbox keeps
the text rendered when it was queued) and every formal document with its delivery record, the documents themselves
following. For the case's officers (school, township, county) and the CLI."""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.common import case_ref
from bot.core import audit
from bot.core.clock import to_local
from bot.core.scope import Actor
from bot.core.settings import Settings
from storage.models import (
    Case,
    CaseEvent,
    FormalDocument,
    Guardianship,
    OutboxMessage,
    Person,
    SchoolClass,
    Student,
    Township,
)

from .layout import Sheet, write_blocks
from .pdf import Rendered, document_values, finish, write_document
from .records import DocumentError, DocumentErrorCode, documents_of_case
from .templates import render_blocks

_TAG = re.compile(r"<[^>]+>")
SHOWN_DETAILS = ("step", "outcome", "deadline", "delivered_on", "note")  # of each history event


async def may_read_case_file(session: AsyncSession, actor: Actor | None, case: Case) -> bool:
    """The case's school officers, its township's officers and its county's; None is the command line."""
    if actor is None or actor.administers_school(case.school_id) or actor.oversees_township(case.township_id):
        return True
    county_id = await session.scalar(select(Township.county_id).where(Township.id == case.township_id))
    return county_id is not None and actor.oversees_county(county_id)


def plain_lines(text: str) -> list[str]:
    """A notice's stored text (Telegram HTML) as plain lines."""
    return [line.strip() for line in html.unescape(_TAG.sub("", text)).splitlines() if line.strip()]


def _moment(settings: Settings, at: datetime | None) -> str:
    return to_local(at, settings.tz).strftime("%Y-%m-%d %H:%M") if at else ""


async def case_file_values(session: AsyncSession, settings: Settings, case: Case,
                           documents: list[FormalDocument]) -> dict[str, Any]:
    student, school_class = (await session.execute(
        select(Student, SchoolClass).join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Student.id == case.student_id))).one()
    guardians = (await session.execute(
        select(Person.name, Guardianship.relation).join(Guardianship, Guardianship.person_id == Person.id)
        .where(Guardianship.student_id == student.id).order_by(Guardianship.rank))).all()
    events = list(await session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                        .order_by(CaseEvent.at, CaseEvent.id)))
    notices = list(await session.scalars(
        select(OutboxMessage).where(OutboxMessage.entity == "case", OutboxMessage.entity_id == case.id)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)))
    ids = {e.actor_person_id for e in events} | {n.person_id for n in notices} | {
        d.delivery_recorded_by for d in documents}
    found = dict((await session.execute(select(Person.id, Person.name).where(Person.id.in_(ids - {None}))))
                 .all())

    def names(person_id: int | None) -> str:
        return found.get(person_id, "") if person_id is not None else ""

    return {
        "case": {"ref": case_ref(case, settings), "stage": case.stage, "outcome": case.outcome or "",
                 "first_absent_day": case.first_absent_day, "opened": _moment(settings, case.opened_at),
                 "closed": _moment(settings, case.closed_at)},
        "student": {"name": student.name, "class_name": school_class.name, "school": school_class.school.name,
                    "status": student.status},
        "guardians": [{"name": name, "relation": relation or ""} for name, relation in guardians],
        "events": [{"at": _moment(settings, e.at), "kind": e.kind, "by": names(e.actor_person_id),
                    "details": {k: e.details[k] for k in SHOWN_DETAILS if e.details.get(k) not in (None, "")}}
                   for e in events],
        "notices": [{"at": _moment(settings, n.sent_at or n.created_at), "to": names(n.person_id),
                     "status": n.status, "lines": plain_lines(n.text)} for n in notices],
        "documents": [document_values(d, settings)["doc"] | {"recorded_by": names(d.delivery_recorded_by)}
                      for d in documents],
    }


async def case_file(session: AsyncSession, settings: Settings, now: datetime, actor: Actor | None, case_id: int,
                    locale: str) -> Rendered:
    """The case file as a PDF in `locale`: the summary, then each document as issued with its 送达回证. An actor
    who may not read it gets DocumentError NOT_ALLOWED (the same for a case that does not exist)."""
    case = await session.get(Case, case_id)
    if case is None or not await may_read_case_file(session, actor, case):
        raise DocumentError(DocumentErrorCode.NOT_ALLOWED)
    documents = await documents_of_case(session, case.id)
    values = await case_file_values(session, settings, case, documents)
    pdf = Sheet(locale, footer_text=values["case"]["ref"])
    pdf.add_page()
    write_blocks(pdf, render_blocks("case_file", locale, values))
    for document in documents:
        write_document(pdf, document, settings)
    audit.record(session, now, "case_file_printed", "case", case.id,
                 actor_person_id=actor.person_id if actor else None, actor="person" if actor else "cli")
    return finish(pdf, f"case-{values['case']['ref']}.pdf")
