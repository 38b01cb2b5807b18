"""The records of formal documents: issuing one (its issuer's next number, the facts it states, one row per
recipient) and recording its delivery (送达). The PDFs are produced from these rows on demand (bot.documents.pdf).

Each issuer numbers its own documents, per calendar year: the school its 劝学书, 家访记录 and 辍学报告, the township
government its 复学通知书 and legal-step documents. Plain Python, no aiogram.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import audit
from bot.core.clock import to_local
from bot.core.errors import CodedError
from bot.core.scope import Actor
from bot.core.settings import Settings
from storage.models import (
    Case,
    CaseEvent,
    County,
    DeliveryManner,
    DocumentCounter,
    DocumentKind,
    FormalDocument,
    IssuerKind,
    Person,
    School,
    Student,
    Township,
)

# Documents served on a family: each comes with a 送达回证 and a QR code to join the bot.
FAMILY_KINDS = frozenset({
    DocumentKind.PERSUASION_NOTICE, DocumentKind.RETURN_ORDER, DocumentKind.PENALTY_NOTICE,
    DocumentKind.PENALTY_DECISION, DocumentKind.DEMAND_FOR_PERFORMANCE,
})
SCHOOL_KINDS = frozenset({DocumentKind.PERSUASION_NOTICE, DocumentKind.VISIT_RECORD, DocumentKind.DROPOUT_REPORT})
# The word of each kind in its reference number: 青山镇中心小学劝学〔2026〕3号
REFERENCE_WORDS = {
    DocumentKind.PERSUASION_NOTICE: "劝学", DocumentKind.VISIT_RECORD: "家访", DocumentKind.DROPOUT_REPORT: "辍报",
    DocumentKind.RETURN_ORDER: "复学", DocumentKind.PENALTY_NOTICE: "罚告", DocumentKind.PENALTY_DECISION: "罚决",
    DocumentKind.DEMAND_FOR_PERFORMANCE: "催告",
}
CARER_WORD = "委托"  # a relation such as 被委托人: the carer receives a copy marked as such
MAX_FIELD = 100


class DocumentErrorCode(StrEnum):
    NOT_ALLOWED = "not_allowed"  # out of scope, or no such document (the same answer)
    NOT_SERVED = "not_served"  # a school file or report: nothing is served on a family
    ALREADY = "already"  # its delivery is recorded already
    BAD_VALUE = "bad_value"  # a date in the future or before the document, a refusal without witness …


class DocumentError(CodedError[DocumentErrorCode]):
    """Why a document could not be issued, printed or marked delivered."""


@dataclass(frozen=True)
class Issuer:
    kind: IssuerKind
    id: int
    name: str  # as it signs: 青山镇中心小学, 青山镇人民政府
    phone: str | None


async def issuer_of(session: AsyncSession, case: Case, kind: DocumentKind) -> Issuer:
    if kind in SCHOOL_KINDS:
        school = await session.get(School, case.school_id)
        assert school is not None
        return Issuer(IssuerKind.SCHOOL, school.id, school.name, school.office_phone)
    township = await session.get(Township, case.township_id)
    assert township is not None
    return Issuer(IssuerKind.TOWNSHIP, township.id, township_signature(township), township.office_phone)


def township_signature(township: Township) -> str:
    """Who signs the township's documents: its issuer name, else the place name followed by 人民政府."""
    return township.issuer_name or f"{township.name}人民政府"


async def next_number(session: AsyncSession, issuer: Issuer, year: int) -> int:
    """The issuer's next number in `year`: one atomic UPDATE … RETURNING on its counter row."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(DocumentCounter).values(issuer_kind=issuer.kind.value, issuer_id=issuer.id, year=year, last=0)
        .on_conflict_do_nothing(index_elements=["issuer_kind", "issuer_id", "year"])
    )
    number = await session.scalar(
        update(DocumentCounter)
        .where(DocumentCounter.issuer_kind == issuer.kind.value, DocumentCounter.issuer_id == issuer.id,
               DocumentCounter.year == year)
        .values(last=DocumentCounter.last + 1).returning(DocumentCounter.last)
    )
    assert number is not None
    return number


def jsonable(value: Any) -> Any:
    """The facts as JSON: dates as ISO strings (templates format them back)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value


async def issue(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    case: Case,
    kind: DocumentKind,
    actor: Actor | None,
    facts: dict[str, Any],
    *,
    guardians: Iterable[tuple[Person, str | None]] = (),
    recipient_name: str | None = None,
    subject_id: int | None = None,
) -> list[FormalDocument]:
    """Issue a document on the case under its issuer's next number: one row per guardian (a carer's marked as a
    copy; none when the student has no guardian) for a family document, else one row addressed to `recipient_name`
    (None: a school file). `facts` are what the document states, kept so that the printout can be produced again
    as it was issued (`state` adds more once the notice that goes with it is written)."""
    issuer = await issuer_of(session, case, kind)
    year = to_local(now, settings.tz).year
    seq = await next_number(session, issuer, year)
    base = {
        "case_id": case.id, "kind": kind.value, "subject_id": subject_id, "issuer_kind": issuer.kind.value,
        "issuer_id": issuer.id, "year": year, "seq": seq,
        "reference": f"{issuer.name}{REFERENCE_WORDS[kind]}〔{year}〕{seq}号",
        "facts": jsonable(facts | {"issuer": issuer.name, "issuer_phone": issuer.phone or ""}),
        "issued_at": now, "issued_by": actor.person_id if actor else None,
    }
    if kind in FAMILY_KINDS:
        addressed = [
            FormalDocument(**base, recipient_person_id=person.id, recipient_name=person.name,
                           copy=CARER_WORD in (relation or ""), locale=person.locale or settings.locale)
            for person, relation in guardians
        ]
    else:
        addressed = [FormalDocument(**base, recipient_name=recipient_name, copy=False, locale=settings.locale)]
    session.add_all(addressed)
    await session.flush()
    for document in addressed:
        audit.record(session, now, "document_issued", "document", document.id,
                     actor_person_id=actor.person_id if actor else None, actor="person" if actor else "scheduler",
                     case_id=case.id, kind=kind.value, recipient_person_id=document.recipient_person_id)
    return addressed


async def issue_report(
    session: AsyncSession, settings: Settings, now: datetime, case: Case, actor: Actor | None, facts: dict[str, Any]
) -> list[FormalDocument]:
    """The 辍学报告 on the school's numbering, addressed to the township government and the county education bureau."""
    township = await session.get(Township, case.township_id)
    assert township is not None
    county = await session.scalar(select(County.name).where(County.id == township.county_id))
    recipients = f"{township_signature(township)}、{county}教育局" if county else township_signature(township)
    return await issue(session, settings, now, case, DocumentKind.DROPOUT_REPORT, actor, facts,
                       recipient_name=recipients)


def state(documents: Iterable[FormalDocument], facts: dict[str, Any]) -> None:
    """Add what the document states to documents just issued (the values of the notice sent with them)."""
    for document in documents:
        document.facts = jsonable(facts) | document.facts


def reference_of(documents: list[FormalDocument]) -> str | None:
    return documents[0].reference if documents else None


# --- reading ------------------------------------------------------------------------------------------------------


async def documents_of_case(session: AsyncSession, case_id: int) -> list[FormalDocument]:
    return list(await session.scalars(
        select(FormalDocument).where(FormalDocument.case_id == case_id)
        .order_by(FormalDocument.issued_at, FormalDocument.id)
    ))


async def delivered_on(session: AsyncSession, case_id: int, kind: DocumentKind) -> date | None:
    """The first day a document of `kind` on the case was delivered to a guardian (None: not yet)."""
    return await session.scalar(
        select(FormalDocument.delivered_on).where(
            FormalDocument.case_id == case_id, FormalDocument.kind == kind.value,
            FormalDocument.delivered_on.is_not(None), FormalDocument.copy.is_(False),
        ).order_by(FormalDocument.delivered_on).limit(1)
    )


async def may_handle(session: AsyncSession, actor: Actor, document: FormalDocument) -> Case | None:
    """The document's case when the actor works on it as its issuer's side: the school's officers and the
    student's class teacher for the school's documents; the township's officers for the township's."""
    case = await session.get(Case, document.case_id)
    if case is None:
        return None
    if document.issuer_kind == IssuerKind.TOWNSHIP:
        return case if actor.oversees_township(case.township_id) else None
    class_id = await session.scalar(select(Student.class_id).where(Student.id == case.student_id))
    allowed = actor.administers_school(case.school_id) or (class_id is not None and actor.teaches(class_id))
    return case if allowed else None


async def served_documents(session: AsyncSession, actor: Actor, case_id: int) -> list[FormalDocument]:
    """The case's documents served on families that the actor's side issued (for printing and recording
    delivery), oldest first; empty when the actor has none to handle."""
    found = [d for d in await documents_of_case(session, case_id) if d.kind in FAMILY_KINDS]
    return [d for d in found if await may_handle(session, actor, d) is not None]


async def document_for(session: AsyncSession, actor: Actor, document_id: int) -> FormalDocument:
    """The document, when the actor may print it or record its delivery; NOT_ALLOWED otherwise."""
    document = await session.get(FormalDocument, document_id)
    if document is None or await may_handle(session, actor, document) is None:
        raise DocumentError(DocumentErrorCode.NOT_ALLOWED)
    return document


# --- delivery (送达) -----------------------------------------------------------------------------------------------


async def record_delivery(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    actor: Actor,
    document_id: int,
    on_day: date,
    manner: DeliveryManner | str,
    *,
    witness: str | None = None,
    place: str | None = None,
) -> FormalDocument:
    """Record how and when a family document was delivered (the 送达回证's facts), once. A refusal (留置送达) needs
    the witness's name. The day is neither in the future nor before the document was issued. Deadlines that run
    from delivery (the 催告书's 10 days before the court application) read this record."""
    document = await document_for(session, actor, document_id)
    if document.kind not in FAMILY_KINDS:
        raise DocumentError(DocumentErrorCode.NOT_SERVED)
    if document.delivered_on is not None:
        raise DocumentError(DocumentErrorCode.ALREADY, delivered_on=document.delivered_on)
    try:
        manner = DeliveryManner(manner)
    except ValueError:
        raise DocumentError(DocumentErrorCode.BAD_VALUE, field="manner") from None
    today = to_local(now, settings.tz).date()
    if not to_local(document.issued_at, settings.tz).date() <= on_day <= today:
        raise DocumentError(DocumentErrorCode.BAD_VALUE, field="on_day")
    witness, place = (witness or "").strip() or None, (place or "").strip() or None
    if (manner is DeliveryManner.REFUSED_WITNESSED and not witness) or any(
            len(text or "") > MAX_FIELD for text in (witness, place)):
        raise DocumentError(DocumentErrorCode.BAD_VALUE, field="witness")
    document.delivered_on, document.delivery_manner = on_day, manner.value
    document.witness, document.delivery_place = witness, place
    document.delivery_recorded_by, document.delivery_recorded_at = actor.person_id, now
    session.add(CaseEvent(case_id=document.case_id, at=now, actor_person_id=actor.person_id, actor="person",
                          kind="document_delivered", details={
                              "document_id": document.id, "kind": document.kind, "manner": manner.value,
                              "delivered_on": on_day.isoformat()}))
    audit.record(session, now, "document_delivered", "document", document.id, actor_person_id=actor.person_id,
                 kind=document.kind, manner=manner.value, delivered_on=on_day.isoformat())
    return document
