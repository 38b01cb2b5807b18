"""Which FSM storage the settings choose, how its Redis keys look, and state kept under a non-default destiny."""

from __future__ import annotations

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.app import FORM_TTL, build_storage, check_storage
from bot.core.settings import Settings
from tests import redis_server


async def test_memory_without_redis_url():
    storage = build_storage(Settings(_env_file=None, redis_url=None))
    assert isinstance(storage, MemoryStorage)
    await check_storage(storage)  # nothing to reach
    await storage.close()


async def test_redis_keys_carry_the_prefix_and_the_destiny():
    storage = build_storage(Settings(_env_file=None, redis_url="redis://127.0.0.1:6379/0"))  # connects lazily
    assert isinstance(storage, RedisStorage)
    assert storage.state_ttl == storage.data_ttl == FORM_TTL
    key = StorageKey(bot_id=1, chat_id=201, user_id=201)
    assert storage.key_builder.build(key, "state") == "quanxue:201:201:default:state"
    assert storage.key_builder.build(StorageKey(1, 201, 201, destiny="roll"), "data") == "quanxue:201:201:roll:data"
    await storage.close()


async def test_an_unreachable_redis_stops_the_start():
    storage = build_storage(Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0"))  # nothing listens there
    with pytest.raises(RedisConnectionError):
        await check_storage(storage)
    await storage.close()


async def test_destinies_are_kept_apart_in_redis(redis_prefix):
    storage = build_storage(Settings(_env_file=None, redis_url=redis_server.REDIS_URL, redis_prefix=redis_prefix))
    await check_storage(storage)
    form, other = StorageKey(1, 201, 201), StorageKey(1, 201, 201, destiny="roll")
    await storage.set_data(form, {"student_id": 7})
    await storage.set_data(other, {"draft": [1, 2]})
    await storage.set_state(other, "Draft:open")
    assert await storage.get_data(form) == {"student_id": 7}
    assert (await storage.get_data(other), await storage.get_state(other)) == ({"draft": [1, 2]}, "Draft:open")
    assert await storage.get_state(form) is None
    await storage.close()
