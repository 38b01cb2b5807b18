"""Shared fixtures: the injected clock, a migrated database per test on SQLite and (when configured) PostgreSQL,
and a Redis key prefix of the test's own (when configured).

Tests that take `engine`, `sessions` or `db_url` run once per backend. Without QUANXUE_TEST_PG_URL the PostgreSQL
run is reported as skipped (visibly, with the reason); CI sets QUANXUE_TEST_REQUIRE_PG=1, which turns that skip
into a failure. Tests that take `redis_prefix` are skipped the same way without QUANXUE_TEST_REDIS_URL, and fail
with QUANXUE_TEST_REQUIRE_REDIS=1.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from bot.core.clock import ManualClock
from storage.db import create_sessionmaker
from tests import databases, redis_server

# Monday of the first week of the autumn term, 08:00 in Beijing.
TERM_START = datetime.fromisoformat("2026-09-07T08:00:00+08:00")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(TERM_START)


@pytest.fixture(params=databases.BACKENDS)
def backend(request) -> str:
    if request.param == "postgresql" and not databases.PG_URL:
        if databases.REQUIRE_PG:
            pytest.fail("QUANXUE_TEST_REQUIRE_PG=1 but QUANXUE_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL run: set QUANXUE_TEST_PG_URL to run it")
    return request.param


@pytest.fixture
async def db_url(backend, tmp_path):
    url = await databases.new_database_url(backend, tmp_path)
    yield url
    await databases.drop_database(url)


@pytest.fixture
async def engine(db_url):
    engine = await databases.migrated_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine):
    """The session factory the app uses (expire_on_commit=False; BEGIN IMMEDIATE on SQLite)."""
    return create_sessionmaker(engine)


@pytest.fixture
async def redis_prefix():
    """A key prefix on the test Redis (QUANXUE_TEST_REDIS_URL) for this test alone; its keys are deleted after."""
    if not redis_server.REDIS_URL:
        if redis_server.REQUIRE_REDIS:
            pytest.fail("QUANXUE_TEST_REQUIRE_REDIS=1 but QUANXUE_TEST_REDIS_URL is not set")
        pytest.skip("Redis run: set QUANXUE_TEST_REDIS_URL to run it")
    prefix = redis_server.new_prefix()
    yield prefix
    await redis_server.delete_keys(prefix)


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_template():
    yield
    asyncio.run(databases.drop_template())
