"""The audit events of one import (one instant, one actor, one source), and the rows it adds, changes and deletes.

An import works on plain dicts of column values, not ORM objects (a file is tens of thousands of rows, and building
and tracking objects cost more than the statements). New rows, changes and deletions are written at `flush`, each
table's in a few executemany statements: changes first, then deletions, then new rows (parents before their
children), then the audit events. An event about a new row that has no id yet waits for that `flush`. On PostgreSQL
a batch of new rows is one INSERT … RETURNING whose ids come back in order and are set on the dicts. SQLite cannot
promise that order, so the import numbers its new rows itself (after the largest id present), which is safe because
an SQLite write transaction here starts with BEGIN IMMEDIATE: no other writer can take those ids before the commit.
Audit events are the same rows bot.core.audit.record writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, Base

Values = dict[str, Any]  # a row as column name → value
BATCH = 5000  # rows per executemany: bounds the driver's copy of the parameters


class Trail:
    def __init__(self, session: AsyncSession, *, now: datetime, actor: str, source: str) -> None:
        self.session, self.now, self.actor, self.source = session, now, actor, source
        self._waiting: list[tuple[str, str, Values, dict[str, Any]]] = []
        self._events: list[tuple[str, str, int | None, dict[str, Any]]] = []  # action, entity, its id, details
        self._next_ids: dict[type[Base], int] = {}  # SQLite only: the next free id of each table numbered here
        self._new: dict[type[Base], list[Values]] = {}  # new rows by table
        self._changed: dict[type[Base], list[Values]] = {}  # changes by table: the row's id and its new values
        self._deleted: dict[type[Base], list[int]] = {}  # ids of rows to delete, by table

    async def number_new_rows(self, *models: type[Base]) -> None:
        """On SQLite, give the new rows of these tables their ids at `add`."""
        if self.session.get_bind().dialect.name != "sqlite":
            return
        for model in models:
            if model not in self._next_ids:
                largest = await self.session.scalar(select(func.max(model.id)))  # type: ignore[attr-defined]  # every table has an integer id
                self._next_ids[model] = (largest or 0) + 1

    def add(self, model: type[Base], values: Values) -> Values:
        """A new row, inserted at the next `flush`; its "id" is set at once when its table is numbered (see
        `number_new_rows`), else by the `flush`. Nothing changes the dict after `add` but its id."""
        next_id = self._next_ids.get(model)
        if next_id is not None:
            values["id"] = next_id
            self._next_ids[model] = next_id + 1
        self._new.setdefault(model, []).append(values)
        return values

    def change(self, model: type[Base], row_id: int, values: Values) -> None:
        """New values for an existing row, written at the next `flush`."""
        self._changed.setdefault(model, []).append({"id": row_id, **values})

    def delete(self, model: type[Base], row_id: int) -> None:
        """An existing row to delete at the next `flush` (before the new rows go in)."""
        self._deleted.setdefault(model, []).append(row_id)

    def record(self, action: str, entity: str, entity_id: int | None, **details: Any) -> None:
        """An audit event, written at the next `flush`."""
        self._events.append((action, entity, entity_id, details))

    def created(self, action: str, entity: str, row: Values, **details: Any) -> None:
        """Record once `row` (just added) has its id."""
        self._waiting.append((action, entity, row, details))

    async def flush(self) -> None:
        await self.session.flush()  # the ORM's own changes (places, staff roles)
        changed, self._changed = self._changed, {}
        for model, changes in changed.items():
            for group in _by_keys(sorted(changes, key=lambda values: values["id"])):
                await self.session.execute(update(model), group)
        deleted, self._deleted = self._deleted, {}
        for model, ids in deleted.items():
            table = _table(model)
            for batch in _batches(ids):
                await self.session.execute(delete(table).where(table.c.id.in_(batch)))
        new, self._new = self._new, {}
        for model, rows in new.items():  # in the order tables were first added: parents before their children
            for group in _by_keys(rows):
                for batch in _batches(group):
                    await self._insert(model, batch)
        waiting, self._waiting = self._waiting, []
        for action, entity, row, details in waiting:
            self.record(action, entity, row["id"], **details)
        events, self._events = self._events, []
        for batch in _batches(events):
            await self.session.execute(insert(_table(AuditEvent)), [self._event(*event) for event in batch])

    def _event(self, action: str, entity: str, entity_id: int | None, details: dict[str, Any]) -> Values:
        return {
            "at": self.now, "actor_person_id": None, "actor": self.actor, "action": action, "entity": entity,
            "entity_id": entity_id, "details": {**details, "source": self.source},
        }  # fmt: skip

    async def _insert(self, model: type[Base], rows: list[Values]) -> None:
        """One executemany (Core: no ORM bookkeeping); on PostgreSQL the ids come back in order."""
        if model in self._next_ids:
            await self.session.execute(insert(_table(model)), rows)
            return
        stmt = insert(_table(model)).returning(model.id, sort_by_parameter_order=True)  # type: ignore[attr-defined]  # see above
        for row, new_id in zip(rows, await self.session.scalars(stmt, rows), strict=True):
            row["id"] = new_id


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


def _batches(rows: list) -> list[list]:
    return [rows[start : start + BATCH] for start in range(0, len(rows), BATCH)]


def _by_keys(rows: list[Values]) -> list[list[Values]]:
    """The rows grouped by the columns they give (one executemany needs the same columns in every row)."""
    groups: dict[tuple[str, ...], list[Values]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return list(groups.values())
