"""Test Redis, when QUANXUE_TEST_REDIS_URL is set. Other processes may share that server (and its database), so a
test gets a key prefix of its own and deletes only the keys under it: never FLUSHDB or FLUSHALL."""

from __future__ import annotations

import os
import uuid

from redis.asyncio import Redis

REDIS_URL = os.environ.get("QUANXUE_TEST_REDIS_URL", "")
REQUIRE_REDIS = os.environ.get("QUANXUE_TEST_REQUIRE_REDIS") == "1"


def new_prefix() -> str:
    return f"qx_test_{uuid.uuid4().hex[:12]}"


async def keys(prefix: str) -> dict[str, int]:
    """The keys under `prefix`, each with its seconds to live (-1: never expires)."""
    async with Redis.from_url(REDIS_URL, decode_responses=True) as client:
        found = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
        return {key: await client.ttl(key) for key in sorted(found)}


async def delete_keys(prefix: str) -> None:
    found = await keys(prefix)
    if found:
        async with Redis.from_url(REDIS_URL) as client:
            await client.delete(*found)
