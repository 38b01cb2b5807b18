"""The append-only audit log: every change records who made it, when, and what (ids, never names or phones)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent


def record(
    session: AsyncSession,
    at: datetime,
    action: str,
    entity: str,
    entity_id: int | None = None,
    *,
    actor_person_id: int | None = None,
    actor: str = "person",
    **details: Any,
) -> AuditEvent:
    event = AuditEvent(
        at=at,
        actor_person_id=actor_person_id,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        details=details,
    )
    session.add(event)
    return event
