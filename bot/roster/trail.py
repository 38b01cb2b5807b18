"""The audit events of one import (one instant, one actor, one source), and the new rows it adds.

New rows are flushed in batches, so an event about a row that has no id yet waits for the next `flush`. On
PostgreSQL the ORM inserts a batch of rows in one statement and gets their ids back in order. SQLite cannot
promise that order, so the ORM would insert them one statement at a time; instead the import numbers its new rows
itself (after the largest id present), which is safe because an SQLite write transaction here starts with BEGIN
IMMEDIATE: no other writer can take those ids before the commit. Rows with ids are inserted with one executemany.
Audit events are written at each `flush` with one bulk insert (the same rows bot.core.audit.record writes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, Base


class Trail:
    def __init__(self, session: AsyncSession, *, now: datetime, actor: str, source: str) -> None:
        self.session, self.now, self.actor, self.source = session, now, actor, source
        self._waiting: list[tuple[str, str, Any, dict[str, Any]]] = []
        self._events: list[dict[str, Any]] = []
        self._next_ids: dict[type[Base], int] = {}  # SQLite only: the next free id of each table numbered here

    async def number_new_rows(self, *models: type[Base]) -> None:
        """On SQLite, give the new rows of these tables (and the audit events) their ids at `add`."""
        if self.session.get_bind().dialect.name != "sqlite":
            return
        for model in models:
            if model not in self._next_ids:
                largest = await self.session.scalar(select(func.max(model.id)))  # type: ignore[attr-defined]  # every table has an integer id
                self._next_ids[model] = (largest or 0) + 1

    def add(self, row: Base) -> None:
        """Add a new row to the session, numbered when its table is (see `number_new_rows`)."""
        self._number(row)
        self.session.add(row)

    def _number(self, row: Base) -> None:
        next_id = self._next_ids.get(type(row))
        if next_id is not None:
            row.id = next_id  # type: ignore[attr-defined]  # every table here has an integer id
            self._next_ids[type(row)] = next_id + 1

    def record(self, action: str, entity: str, entity_id: int | None, **details: Any) -> None:
        """An audit event, written at the next `flush`."""
        self._events.append({
            "at": self.now, "actor_person_id": None, "actor": self.actor, "action": action, "entity": entity,
            "entity_id": entity_id, "details": {**details, "source": self.source},
        })  # fmt: skip

    def created(self, action: str, entity: str, row: Any, **details: Any) -> None:
        """Record once `row` (just added to the session) has its id."""
        self._waiting.append((action, entity, row, details))

    async def flush(self) -> None:
        await self.session.flush()
        waiting, self._waiting = self._waiting, []
        for action, entity, row, details in waiting:
            self.record(action, entity, row.id, **details)
        events, self._events = self._events, []
        if events:
            await self.session.execute(insert(AuditEvent), events)
