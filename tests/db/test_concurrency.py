"""Concurrent read-then-write transactions must not lose updates (SQLite: WAL + BEGIN IMMEDIATE)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.db import create_sessionmaker
from storage.models import AuditEvent, County, Township

WRITERS = 200


async def test_concurrent_read_then_write_loses_nothing(engine, clock):
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        session.add(County(name="示范县"))

    async def writer(n: int) -> None:
        async with sessions() as session, session.begin():
            county = await session.scalar(select(County).with_for_update())
            county.name = str(int(county.name) + 1) if county.name.isdigit() else "1"
            session.add(AuditEvent(at=clock.now(), actor="system", action="test.write", entity="county",
                                   entity_id=county.id, details={"n": n}))

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))

    async with sessions() as session:
        assert await session.scalar(select(County.name)) == str(WRITERS)
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == WRITERS


async def test_a_failed_transaction_leaves_nothing_behind(engine):
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        session.add(County(name="示范县"))
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            county = await session.scalar(select(County))
            session.add(Township(county_id=county.id, name="青山镇"))
            await session.flush()
            session.add(Township(county_id=county.id, name="青山镇"))  # violates the unique constraint
            await session.flush()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Township)) == 0
