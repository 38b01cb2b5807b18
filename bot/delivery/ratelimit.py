"""Flood control for sending: one global token bucket and one per chat, as Telegram limits bots.

Pacing runs on the event loop's monotonic time (`loop.time()` and `asyncio.sleep`), not on the injected business
clock: how fast we may talk to Telegram is physical time, which a demo or a test that sets the business clock to
next Tuesday must not change. (Business time still decides *what* is due; see `bot.delivery.sender`.)

The buckets are kept as GCRA ("virtual scheduling"): each caller reserves the earliest slot that both its chat's
bucket and the global bucket allow, then sleeps until then. Reservations are made synchronously, so concurrent
callers never take the same slot, and lateness of one wake-up does not shift the schedule of the next. Our global
burst is deliberately small (a tenth of a second's worth) so that network jitter cannot bunch our sends into more
than the channel's own bucket accepts.
"""

from __future__ import annotations

import asyncio
import math

PRUNE_ABOVE = 4096  # per-chat buckets kept before idle (full) ones are dropped


class _Bucket:
    """A token bucket of `rate` per second holding up to `burst` tokens, as a theoretical arrival time (GCRA)."""

    __slots__ = ("interval", "tat", "tolerance")

    def __init__(self, rate: float, burst: float) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (max(1.0, burst) - 1.0) * self.interval
        self.tat = -math.inf

    def earliest(self) -> float:
        """The earliest loop time at which a token is available."""
        return self.tat - self.tolerance

    def reserve(self, at: float) -> None:
        self.tat = max(self.tat, at) + self.interval

    def idle(self, now: float) -> bool:
        return self.tat <= now


class RateLimiter:
    def __init__(
        self,
        global_rate: float,
        per_chat_rate: float,
        *,
        global_burst: float | None = None,
        per_chat_burst: float = 2.0,
    ) -> None:
        self.global_rate, self.per_chat_rate = global_rate, per_chat_rate
        self.per_chat_burst = per_chat_burst
        self._global = _Bucket(global_rate, global_burst if global_burst is not None else max(1.0, global_rate / 10))
        self._chats: dict[str, _Bucket] = {}
        self._paused_until = 0.0
        self._generation = 0  # bumped by pause(): slots reserved before it are void

    async def acquire(self, chat: str) -> None:
        """Wait until one more message may go to `chat`; cancelling the wait is safe (the slot is just lost)."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if now < self._paused_until:
                await asyncio.sleep(self._paused_until - now)
                continue
            bucket = self._bucket(chat, now)
            at = max(now, self._global.earliest(), bucket.earliest())
            self._global.reserve(at)
            bucket.reserve(at)
            generation = self._generation
            if at > now:
                await asyncio.sleep(at - now)
            if generation == self._generation:
                return

    def pause(self, seconds: float) -> None:
        """Stop every send for `seconds` (the channel's flood control is global); callers waiting re-queue."""
        now = asyncio.get_running_loop().time()
        self._paused_until = max(self._paused_until, now + max(0.0, seconds))
        self._generation += 1
        # Resume at the plain rate, without a burst, from the end of the pause.
        self._global.tat = self._paused_until + self._global.tolerance

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - asyncio.get_running_loop().time())

    def _bucket(self, chat: str, now: float) -> _Bucket:
        bucket = self._chats.get(chat)
        if bucket is None:
            if len(self._chats) >= PRUNE_ABOVE:
                self._chats = {key: b for key, b in self._chats.items() if not b.idle(now)}
            bucket = self._chats[chat] = _Bucket(self.per_chat_rate, self.per_chat_burst)
        return bucket
