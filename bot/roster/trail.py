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

from sqlalchemy import func, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, Base


class Trail:
    def __init__(self, session: AsyncSession, *, now: datetime, actor: str, source: str) -> None:
        self.session, self.now, self.actor, self.source = session, now, actor, source
        self._waiting: list[tuple[str, str, Any, dict[str, Any]]] = []
        self._events: list[dict[str, Any]] = []
        self._next_ids: dict[type[Base], int] = {}  # SQLite only: the next free id of each table numbered here
        self._new: dict[type[Base], list[Base]] = {}  # new rows by table, inserted in bulk at `flush`

    async def number_new_rows(self, *models: type[Base]) -> None:
        """On SQLite, give the new rows of these tables (and the audit events) their ids at `add`."""
        if self.session.get_bind().dialect.name != "sqlite":
            return
        for model in models:
            if model not in self._next_ids:
                largest = await self.session.scalar(select(func.max(model.id)))  # type: ignore[attr-defined]  # every table has an integer id
                self._next_ids[model] = (largest or 0) + 1

    def add(self, row: Base) -> None:
        """A new row, numbered when its table is (see `number_new_rows`) and inserted at the next `flush` with the
        other new rows of its table in one statement, outside the session's unit of work (which would track every
        object and cost more than the insert itself). Nothing changes such a row after `add`."""
        self._number(row)
        self._new.setdefault(type(row), []).append(row)

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
        new, self._new = self._new, {}
        for model, rows in new.items():  # in the order tables were first added: parents before their children
            await self._insert(model, rows)
        waiting, self._waiting = self._waiting, []
        for action, entity, row, details in waiting:
            self.record(action, entity, row.id, **details)
        events, self._events = self._events, []
        if events:
            await self.session.execute(insert(AuditEvent), events)

    async def _insert(self, model: type[Base], rows: list[Base]) -> None:
        """One bulk insert; on PostgreSQL the ids come back in the rows' order and are set on them."""
        values = [_column_values(row) for row in rows]
        if model in self._next_ids:
            await self.session.execute(insert(model), values)
            return
        stmt = insert(model).returning(model.id, sort_by_parameter_order=True)  # type: ignore[attr-defined]  # every table here has an integer id
        for row, new_id in zip(rows, await self.session.scalars(stmt, values), strict=True):
            row.id = new_id  # type: ignore[attr-defined]  # see above


def _column_values(row: Base) -> dict[str, Any]:
    """The row's column values; unset ones left out, so that their column defaults apply."""
    values = {attr.key: getattr(row, attr.key) for attr in inspect(type(row)).column_attrs}
    return {key: value for key, value in values.items() if value is not None}
