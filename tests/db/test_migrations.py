"""The migration stairway: every revision goes up and down cleanly, and the models match the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from storage.db import alembic_config, create_engine, downgrade, upgrade
from storage.models import Base


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


async def _tables(engine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names())) - {"alembic_version"}


async def test_every_revision_goes_up_and_down(db_url):
    engine = create_engine(db_url)
    try:
        await downgrade(engine, "base")  # the PostgreSQL test database starts migrated
        assert await _tables(engine) == set()
        previous = "base"
        for revision in _revisions():
            await upgrade(engine, revision)
            await downgrade(engine, previous)
            await upgrade(engine, revision)
            previous = revision
        assert await _tables(engine) == set(Base.metadata.tables)
        await downgrade(engine, "base")
        assert await _tables(engine) == set()
    finally:
        await engine.dispose()


async def test_models_match_the_migrations(engine):
    def diff(sync_connection):
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []
