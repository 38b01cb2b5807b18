"""Queueing many notices (and history rows) at once: what `bot.notices.outbox.enqueue_notice` does for one, for a whole
tick's worth.

The ladder may tell hundreds of people in one tick. `enqueue_notice` costs two queries per notice (the contact
point, the insert); a `NoticeBatch` looks up the contact points of everyone involved in one query (`prefetch`),
renders each notice as it is added, and writes all rows with one executemany INSERT … ON CONFLICT
(idempotency_key) DO NOTHING at `flush`. The rows and the rules (not linked, unreachable, a guardian without
consent: not queued) belong to `bot.notices.outbox` (`outbox_row`, `delivery_by`); a key queued before
is skipped, so this too is idempotent. Case events and their audit records added with `event` are written at
`flush` too, one executemany
each (the ORM would write them one by one on SQLite).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert as insert_into
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.scope import Actor
from bot.core.settings import Settings
from bot.notices.outbox import (
    NOTICES_QUEUED,
    Action,
    Delivery,
    delivery_by,
    insert_ignoring_duplicates,
    next_send_time,
    outbox_row,
)
from bot.onboarding.service import CONSENT_VERSION
from storage.models import (
    AuditEvent,
    Base,
    Case,
    CaseEvent,
    Channel,
    Consent,
    ContactPoint,
    Guardianship,
    Person,
)


class NoticeBatch:
    def __init__(self, session: AsyncSession, settings: Settings, now: datetime) -> None:
        self.session = session
        self.settings = settings
        self.now = now
        self.next_attempt_at = next_send_time(now, settings)
        self._contacts: dict[int, ContactPoint | None] = {}
        self._no_consent: set[int] = set()
        self._rows: dict[str, dict[str, Any]] = {}
        self.offered = 0  # notices written by `flush` so far (less those whose key was queued before)
        self._events: list[dict[str, Any]] = []
        self._audits: list[dict[str, Any]] = []

    def event(self, case: Case, actor: Actor | None, event_kind: str, /, **details: Any) -> None:
        """Append to the case's history and the audit log, written at `flush` (see `common.add_event`)."""
        from .common import event_rows

        event, record = event_rows(self.now, case, actor, event_kind, details)
        self._events.append(event)
        self._audits.append(record)

    async def prefetch(self, person_ids: Iterable[int], channel: str = Channel.TELEGRAM) -> None:
        """Look up the contact points of these people (one query for those not looked up yet)."""
        missing = {pid for pid in person_ids if pid not in self._contacts}
        if not missing:
            return
        found = {
            contact.person_id: contact
            for contact in await self.session.scalars(
                select(ContactPoint).where(ContactPoint.person_id.in_(missing), ContactPoint.channel == channel)
            )
        }
        for pid in missing:
            self._contacts[pid] = found.get(pid)
        # PIPL art. 31: nothing about a child reaches a guardian who has not accepted the privacy notice
        guardians = set(await self.session.scalars(
            select(Guardianship.person_id).where(Guardianship.person_id.in_(missing)).distinct()
        ))
        if guardians:
            consented = set(await self.session.scalars(
                select(Consent.person_id).where(Consent.person_id.in_(guardians),
                                                Consent.text_version == CONSENT_VERSION)
            ))
            self._no_consent |= guardians - consented

    def delivery_for(self, person: Person) -> Delivery:
        """QUEUED if a notice can reach the person, else why not. `prefetch` them first."""
        if person.id not in self._contacts:
            raise LookupError(f"person {person.id} was not prefetched")
        return delivery_by(self._contacts[person.id], person.id in self._no_consent)

    def add(
        self,
        person: Person,
        template: str,
        values: dict[str, Any],
        key: str,
        *,
        actions: list[list[Action]] | None = None,
        entity: str | None = None,
        entity_id: int | None = None,
    ) -> Delivery:
        """Render the notice and hold it for `flush`; returns whether it can reach the person (a key already in the
        outbox is skipped at `flush` without a second row)."""
        key = key[:200]
        delivery = self.delivery_for(person)
        contact = self._contacts[person.id]
        if delivery is not Delivery.QUEUED or contact is None or key in self._rows:
            return delivery
        self._rows[key] = outbox_row(self.settings, self.now, person, contact, template, values,
                                     key, actions=actions, entity=entity, entity_id=entity_id,
                                     next_attempt_at=self.next_attempt_at)
        return delivery

    async def flush(self) -> int:
        """Write the held history rows and notices (executemany: one compiled statement each, batched by the
        driver); returns how many notices were offered (a key queued before is skipped by the database)."""
        for model, rows in ((CaseEvent, self._events), (AuditEvent, self._audits)):
            if rows:  # Core insert into the Table (executemany), not the ORM's bulk insert of the class
                await self.session.execute(insert_into(Base.metadata.tables[model.__tablename__]), rows)
                rows.clear()
        rows = list(self._rows.values())
        self._rows.clear()
        if not rows:
            return 0
        await self.session.execute(insert_ignoring_duplicates(self.session), rows)
        self.offered += len(rows)
        self.session.info[NOTICES_QUEUED] = True  # lets the update's middleware wake the sender
        return len(rows)
