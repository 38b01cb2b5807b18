"""Test databases: a fresh SQLite file per test, and a fresh PostgreSQL database per test when
QUANXUE_TEST_PG_URL is set (cloned from a migrated template, so each costs one CREATE DATABASE)."""

from __future__ import annotations

import os
import uuid

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, upgrade

PG_URL = os.environ.get("QUANXUE_TEST_PG_URL", "")
REQUIRE_PG = os.environ.get("QUANXUE_TEST_REQUIRE_PG") == "1"
BACKENDS = ("sqlite", "postgresql")
_template: str | None = None


async def _admin(sql: str) -> None:
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(sql)
    finally:
        await engine.dispose()


def _with_database(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


async def _pg_template() -> str:
    global _template
    if _template is None:
        name = f"qx_tpl_{uuid.uuid4().hex[:10]}"
        await _admin(f'CREATE DATABASE "{name}"')
        engine = create_engine(_with_database(name))
        await upgrade(engine)
        await engine.dispose()
        _template = name
    return _template


async def new_database_url(backend: str, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'quanxue.db'}"
    template = await _pg_template()
    name = f"qx_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return _with_database(name)


async def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        await _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


async def drop_template() -> None:
    if _template is not None:
        await _admin(f'DROP DATABASE IF EXISTS "{_template}" WITH (FORCE)')


async def migrated_engine(url: str) -> AsyncEngine:
    engine = create_engine(url)
    await upgrade(engine)
    return engine
