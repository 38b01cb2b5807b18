"""The audit events of one import (one instant, one actor, one source). New rows are flushed in batches, so an event
about a row that has no id yet waits for the next `flush`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.audit import record


class Trail:
    def __init__(self, session: AsyncSession, *, now: datetime, actor: str, source: str) -> None:
        self.session, self.now, self.actor, self.source = session, now, actor, source
        self._waiting: list[tuple[str, str, Any, dict[str, Any]]] = []

    def record(self, action: str, entity: str, entity_id: int | None, **details: Any) -> None:
        record(self.session, self.now, action, entity, entity_id, actor=self.actor, source=self.source, **details)

    def created(self, action: str, entity: str, row: Any, **details: Any) -> None:
        """Record once `row` (just added to the session) has its id."""
        self._waiting.append((action, entity, row, details))

    async def flush(self) -> None:
        await self.session.flush()
        waiting, self._waiting = self._waiting, []
        for action, entity, row, details in waiting:
            self.record(action, entity, row.id, **details)
