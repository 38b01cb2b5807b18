"""Formal documents as PDFs, produced on demand from their records (bot.documents.records): the document in its
recipient's language and, for a document served on a family, its 送达回证 and a QR code with a single-use link
code for that guardian (the invite rules: hashed, expiring, single-use)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import audit
from bot.core.clock import to_local
from bot.core.scope import Actor
from bot.core.settings import Settings
from bot.onboarding import service as ob
from storage.models import Channel, ContactPoint, FormalDocument, InviteCode

from .layout import Sheet, write_blocks
from .records import FAMILY_KINDS, document_for
from .templates import render_blocks


@dataclass(frozen=True)
class Rendered:
    """A PDF: a file name that says what it is, its page count and its bytes."""

    name: str
    pages: int
    data: bytes


def document_values(document: FormalDocument, settings: Settings, link: str = "") -> dict[str, Any]:
    return {
        "doc": {
            "kind": document.kind, "reference": document.reference, "recipient": document.recipient_name or "",
            "is_copy": document.copy, "issued": to_local(document.issued_at, settings.tz).date(),
            "delivered_on": document.delivered_on, "manner": document.delivery_manner or "",
            "witness": document.witness or "", "place": document.delivery_place or "",
        },
        "f": document.facts,
        "link": link,
    }


def write_document(pdf: Sheet, document: FormalDocument, settings: Settings, link: str = "") -> None:
    """The document on a new page, followed by its 送达回证 when it is served on a family."""
    values = document_values(document, settings, link)
    pdf.add_page()
    write_blocks(pdf, render_blocks(document.kind, document.locale, values))
    if document.kind in FAMILY_KINDS:
        write_blocks(pdf, render_blocks("delivery_receipt", document.locale, values))


def finish(pdf: Sheet, name: str) -> Rendered:
    pages = pdf.pages_count
    return Rendered(name, pages, bytes(pdf.output()))


def file_name(document: FormalDocument) -> str:
    return f"{document.kind}-{document.year}-{document.seq}-{document.id}.pdf"


def render_document(document: FormalDocument, settings: Settings, link: str = "") -> Rendered:
    pdf = Sheet(document.locale, footer_text=document.reference)
    write_document(pdf, document, settings, link)
    return finish(pdf, file_name(document))


async def family_link(session: AsyncSession, settings: Settings, now: datetime, person_id: int,
                      bot_username: str) -> str:
    """The QR code's deep link for a guardian: a fresh single-use invite code when they have not joined the bot
    (only its hash is stored; it expires like any invite), else the bot's plain link."""
    joined = await session.scalar(select(ContactPoint.id).where(
        ContactPoint.person_id == person_id, ContactPoint.channel == Channel.TELEGRAM).limit(1))
    if joined is not None:
        return f"https://t.me/{bot_username.lstrip('@')}"
    code = ob.generate_code()
    row = InviteCode(person_id=person_id, code_hash=ob.hash_code(code), created_at=now,
                     expires_at=now + timedelta(days=settings.invite_ttl_days))
    session.add(row)
    await session.flush()
    audit.record(session, now, "invite_issued", "person", person_id, actor="system", invite_code_id=row.id,
                 via="document")
    return ob.invite_link(bot_username, code)


async def print_document(session: AsyncSession, settings: Settings, now: datetime, actor: Actor,
                         document_id: int, bot_username: str) -> Rendered:
    """The document's PDF for an officer who may handle it (else DocumentError NOT_ALLOWED), with a link code for
    its guardian when it is served on a family. Printing is audited."""
    document = await document_for(session, actor, document_id)
    link = ""
    if document.kind in FAMILY_KINDS and document.recipient_person_id is not None and bot_username:
        link = await family_link(session, settings, now, document.recipient_person_id, bot_username)
    audit.record(session, now, "document_printed", "document", document.id, actor_person_id=actor.person_id)
    return render_document(document, settings, link)
