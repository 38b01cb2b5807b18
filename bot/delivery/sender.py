"""The sender: the only code that hands notices to a channel. It delivers outbox rows that are due, once each.

How one row travels:
1. **Claim.** A short transaction picks due rows (`pending` with `next_attempt_at <= now`, or `sending` whose claim
   is older than the lease: their sender died) and marks them `sending` with `claimed_at = now`. On PostgreSQL the
   pick is `SELECT … FOR UPDATE SKIP LOCKED`, and claims take a transaction-scoped advisory lock so that they follow
   one another like on SQLite, where every transaction is `BEGIN IMMEDIATE` (storage.db). So two senders, in one
   process or two, never hold the same row, and each claim sees the claims before it.
2. **Send.** Outside any transaction: wait for the rate limiter (global and per chat), then `Transport.send`.
3. **Record.** A second short transaction records the outcome: `sent` (+ `sent_at`, `external_id`), `unreachable`
   (and the contact point is marked, the class teacher told: bot.notices.reachability), `failed` (rejected for good, or
   `MAX_ATTEMPTS` reached), or back to `pending` with `next_attempt_at` pushed by backoff and `attempts + 1`.

Errors: a 429 pauses *all* sending for `retry_after` (Telegram's flood control is global) and retries the same
message; a network error or 5xx is retried in-process a few times (`QUICK_RETRIES`: 0.5 s, 1 s, 2 s), then the row
goes back to `pending` with backoff in business time; a retry that would fall in quiet hours waits for their end.
Per chat, messages go out in outbox order, one after another: after a deferred message the rest of that chat's
batch waits behind it (a `pending` row with `attempts > 0` that is not due yet holds back later rows to the same
address), so a retry never lets a later notice overtake. Two
senders never work one chat at the same time (a live claim holds the chat), which also keeps the per-chat rate.
A row whose recipient has since unlinked or become unreachable is settled as `unreachable` at claim, never sent.

**The guarantee.** Stopping the sender by cancellation (Ctrl-C, `App` shutdown, `task.cancel()`) neither loses nor
duplicates a notice: the send-and-record step of a message in flight runs under `asyncio.shield` and is awaited to
its end, and claimed rows not yet attempted are put back to `pending` before the task ends. A hard kill (SIGKILL,
power loss, a crash of the process) leaves claimed rows in `sending`; a sender claims them again once the lease has
passed (`LEASE`, business time), so nothing is lost. The one gap no outbox can close without the channel's help:
if the kill falls in the instant between the channel accepting a message and our commit of `sent`, that one message
is sent again after the lease: at most one duplicate per message in flight at the kill, never a loss. (Telegram
has no idempotency key for sendMessage.) The same holds if the database is unreachable when we record a send: the
row is left `sending` for the lease, never released for an immediate resend.

Logs carry outbox and person ids only, never names, phone numbers or message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.core.settings import Settings
from bot.delivery.ratelimit import RateLimiter
from bot.delivery.transport import Rejected, RetryLater, TransientError, Transport, Unreachable
from bot.notices.outbox import next_send_time
from bot.notices.reachability import contact_at, mark_unreachable
from storage.models import ContactPoint, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12  # deferrals after network errors or 5xx before a row is marked failed (≈ 6 h of backoff)
LEASE = timedelta(minutes=2)  # a `sending` row claimed longer ago than this belongs to a dead sender
QUICK_RETRIES = (0.5, 1.0, 2.0)  # in-process waits (seconds) after a network error or 5xx, before deferring
MAX_FLOOD_WAITS = 8  # 429s in a row for one message before it is deferred like a network error
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
BATCH_SECONDS_PER_CHAT = 5  # a batch takes at most about this many seconds' worth of one chat's messages
HEARTBEAT_SECONDS = 30.0  # how often (loop time) a running batch renews its claims
RECORD_TRIES = 3  # attempts to commit an outcome before leaving the row to the lease
CLAIM_LOCK = 0x51_58_0B_0C  # PostgreSQL advisory lock key of the claim step ("QX", outbox)
RECORD_CONCURRENCY = 8  # outcome transactions at once (bounds the connection pool)


def backoff(attempts: int) -> timedelta:
    """How long a row waits after its `attempts`-th deferral: 30 s, 1 min, 2 min, … capped at an hour."""
    return min(BACKOFF_FIRST * 2 ** max(0, attempts - 1), BACKOFF_MAX)


class Outcome(StrEnum):
    SENT = "sent"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    DEFERRED = "deferred"  # back to pending with backoff
    FLOOD = "flood"  # 429: nothing recorded, the same message is retried after the pause
    RETRY = "retry"  # network / 5xx: nothing recorded, a quick in-process retry follows
    UNRECORDED = "unrecorded"  # the outcome could not be committed: the row stays `sending` until the lease


@dataclass
class _Attempt:
    outcome: Outcome
    retry_after: float = 0.0
    error: str | None = None


@dataclass
class _Batch:
    """Claimed rows of one `run_once` and what became of them."""

    open: set[int] = field(default_factory=set)  # claimed, no outcome recorded yet
    in_flight: set[int] = field(default_factory=set)  # a send-and-record step is running: never release these
    doubtful: set[int] = field(default_factory=set)  # maybe sent, not recorded: left to the lease
    handled: int = 0


class Sender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        transports: Mapping[str, Transport],
        clock: Clock,
        settings: Settings,
        *,
        limiter: RateLimiter | None = None,
        lease: timedelta = LEASE,
        max_attempts: int = MAX_ATTEMPTS,
        quick_retries: Sequence[float] = QUICK_RETRIES,
    ) -> None:
        self.sessions = sessions
        self.transports = dict(transports)
        self.clock = clock
        self.settings = settings
        self.limiter = limiter or RateLimiter(settings.send_rate_global, settings.send_rate_per_chat)
        self.lease = lease
        self.max_attempts = max_attempts
        self.quick_retries = tuple(quick_retries)
        self.per_chat_batch = max(1, math.ceil(settings.send_rate_per_chat * BATCH_SECONDS_PER_CHAT))
        self._wake = asyncio.Event()
        self._record_slots = asyncio.Semaphore(RECORD_CONCURRENCY)

    # -- running -------------------------------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due rows now instead of at the next poll (e.g. right after a handler enqueued a notice)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver due rows until cancelled; between batches sleep `sender_poll_seconds` or until `wake()`."""
        log.info("sender started (%s)", ", ".join(self.transports))
        try:
            while True:
                self._wake.clear()
                try:
                    handled = await self.run_once()
                except Exception:
                    log.exception("sender: a batch failed; trying again after the poll interval")
                    handled = 0
                if handled:
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.sender_poll_seconds):
                        await self._wake.wait()
        finally:
            log.info("sender stopped")

    async def run_once(self, limit: int = 200) -> int:
        """Deliver what is due now (`clock.now()`), at most `limit` rows; returns how many got an outcome."""
        rows, settled = await self._claim(limit)
        if not rows:
            return settled
        batch = _Batch(open={row.id for row in rows})
        chats: dict[tuple[str, str], list[OutboxMessage]] = {}
        for row in rows:
            chats.setdefault((row.channel, row.address), []).append(row)
        keeper = asyncio.create_task(self._keep_claims(batch))
        try:
            async with asyncio.TaskGroup() as group:
                for chat_rows in chats.values():
                    group.create_task(self._deliver_chat(chat_rows, batch))
        finally:
            keeper.cancel()
            await asyncio.wait([keeper])  # (does not swallow a cancellation of this task)
            leftover = batch.open - batch.in_flight - batch.doubtful
            if leftover:
                # Claimed but never attempted (or attempted without effect): back to pending for the next batch.
                await asyncio.shield(self._release(leftover))
        return settled + batch.handled

    async def drain(self, timeout: float = 30) -> None:  # noqa: ASYNC109 - a deadline for tests and the demo
        """Deliver until nothing is due; raises TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while await self.run_once():
                pass

    # -- claiming ------------------------------------------------------------------------------------------------

    async def _claim(self, limit: int) -> tuple[list[OutboxMessage], int]:
        """Claim up to `limit` due rows; returns them and how many due rows were settled without sending."""
        async with self.sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
            now = self.clock.now()
            stale = now - self.lease
            channels = list(self.transports)
            due = and_(
                OutboxMessage.channel.in_(channels),
                or_(
                    and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
                    and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < stale),
                ),
            )
            # The first rows of each chat (so one busy chat cannot fill a batch), oldest first.
            ranked = (
                select(
                    OutboxMessage.id,
                    func.row_number()
                    .over(partition_by=(OutboxMessage.channel, OutboxMessage.address), order_by=OutboxMessage.id)
                    .label("n"),
                )
                .where(due)
                .subquery()
            )
            firsts = select(ranked.c.id).where(ranked.c.n <= self.per_chat_batch)
            candidates = (
                await session.execute(
                    select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.address, OutboxMessage.person_id)
                    .where(due, OutboxMessage.id.in_(firsts))  # `due` again: rechecked on rows just claimed
                    .order_by(OutboxMessage.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not candidates:
                return [], 0
            # Rows that must go first: another sender's live claim, or a row waiting out its backoff.
            holding = await session.execute(
                select(OutboxMessage.channel, OutboxMessage.address, func.min(OutboxMessage.id))
                .where(
                    OutboxMessage.channel.in_(channels),
                    or_(
                        and_(
                            OutboxMessage.status == OutboxStatus.PENDING,
                            OutboxMessage.attempts > 0,
                            OutboxMessage.next_attempt_at > now,
                        ),
                        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at >= stale),
                    ),
                )
                .group_by(OutboxMessage.channel, OutboxMessage.address)
            )
            holders = {(channel, address): first for channel, address, first in holding}
            free = [row for row in candidates if holders.get((row.channel, row.address), row.id + 1) > row.id]
            # A row whose recipient unlinked (e.g. withdrew consent) or became unreachable since it was queued is
            # not sent: the address may not be theirs any more.
            linked = set(
                (
                    await session.execute(
                        select(ContactPoint.channel, ContactPoint.address, ContactPoint.person_id).where(
                            ContactPoint.reachable.is_(True), ContactPoint.address.in_({row.address for row in free})
                        )
                    )
                ).all()
            )
            chosen = [row.id for row in free if (row.channel, row.address, row.person_id) in linked]
            stranded = [row.id for row in free if (row.channel, row.address, row.person_id) not in linked]
            if stranded:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(stranded))
                    .values(status=OutboxStatus.UNREACHABLE, last_error="recipient no longer linked or reachable")
                    .execution_options(synchronize_session=False)
                )
                log.info("sender: %s outbox rows dropped: their recipients are no longer linked", len(stranded))
            if not chosen:
                return [], len(stranded)
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(chosen))
                .values(status=OutboxStatus.SENDING, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            claimed = select(OutboxMessage).where(OutboxMessage.id.in_(chosen)).order_by(OutboxMessage.id)
            rows = (await session.scalars(claimed)).all()
        return list(rows), len(stranded)

    async def _keep_claims(self, batch: _Batch) -> None:
        """Renew `claimed_at` of the batch's open rows while it runs, so a slow batch is never taken for dead."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            ids = batch.open | batch.in_flight
            if not ids:
                continue
            try:
                async with self.sessions() as session, session.begin():
                    await session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.SENDING)
                        .values(claimed_at=self.clock.now())
                        .execution_options(synchronize_session=False)
                    )
            except Exception:
                log.exception("sender: could not renew the claims of %s rows", len(ids))

    async def _release(self, ids: set[int]) -> None:
        try:
            async with self.sessions() as session, session.begin():
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.SENDING)
                    .values(status=OutboxStatus.PENDING, claimed_at=None)
                    .execution_options(synchronize_session=False)
                )
        except Exception:
            log.exception("sender: could not release %s claimed rows; they are claimed again after the lease", len(ids))

    # -- sending -------------------------------------------------------------------------------------------------

    async def _deliver_chat(self, rows: list[OutboxMessage], batch: _Batch) -> None:
        """One chat's rows, in order, one after another."""
        for index, row in enumerate(rows):
            outcome = await self._deliver(row, batch)
            if outcome is Outcome.UNREACHABLE:
                rest = {later.id for later in rows[index + 1 :]}
                if rest:
                    await self._record_many_unreachable(rest, batch)
                return
            if outcome in (Outcome.DEFERRED, Outcome.UNRECORDED):
                return  # the rest of this chat waits behind it (released to pending at the end of the batch)

    async def _deliver(self, row: OutboxMessage, batch: _Batch) -> Outcome:
        quick = iter(self.quick_retries)
        floods = 0
        while True:
            await self.limiter.acquire(f"{row.channel}:{row.address}")  # cancelling here is harmless
            give_up = floods >= MAX_FLOOD_WAITS
            step = asyncio.ensure_future(self._send_and_record(row, batch, defer_on_error=give_up, quick=quick))
            batch.in_flight.add(row.id)
            try:
                attempt = await asyncio.shield(step)
            except asyncio.CancelledError:
                # Being stopped: the message in flight finishes and its outcome is recorded before we go.
                await _finish(step)
                raise
            finally:
                if step.done():
                    batch.in_flight.discard(row.id)
            if attempt.outcome is Outcome.FLOOD:
                floods += 1
                log.warning("sender: flood control, pausing all sends for %ss (outbox %s)", attempt.retry_after, row.id)
                self.limiter.pause(attempt.retry_after)
                continue
            if attempt.outcome is Outcome.RETRY:
                await asyncio.sleep(attempt.retry_after)
                continue
            return attempt.outcome

    async def _send_and_record(
        self, row: OutboxMessage, batch: _Batch, *, defer_on_error: bool, quick: Iterator[float]
    ) -> _Attempt:
        """Send once and record what happened; runs shielded, so a stop waits for it."""
        transport = self.transports[row.channel]
        external_id = None
        try:
            external_id = await transport.send(row)
        except RetryLater as error:
            if not defer_on_error:
                return _Attempt(Outcome.FLOOD, retry_after=max(0.0, float(error.seconds)))
            attempt = _Attempt(Outcome.DEFERRED, error=f"flood control: {error}")
        except Unreachable as error:
            attempt = _Attempt(Outcome.UNREACHABLE, error=str(error) or "unreachable")
        except Rejected as error:
            attempt = _Attempt(Outcome.FAILED, error=error.reason)
        except TransientError as error:
            wait = next(quick, None)
            if wait is not None:
                log.info("sender: outbox %s: transient error, retrying in %ss", row.id, wait)
                return _Attempt(Outcome.RETRY, retry_after=wait)
            attempt = _Attempt(Outcome.DEFERRED, error=str(error) or type(error).__name__)
        except Exception as error:  # a bug in a transport must not stop the sender, nor lose the row
            log.exception("sender: outbox %s: unexpected error from the %s transport", row.id, row.channel)
            attempt = _Attempt(Outcome.DEFERRED, error=f"{type(error).__name__}: {error}")
        else:
            attempt = _Attempt(Outcome.SENT)
        recorded = await self._record(row, attempt, external_id)
        if recorded is Outcome.UNRECORDED:
            batch.doubtful.add(row.id)
        else:
            batch.open.discard(row.id)
            batch.handled += 1
        return _Attempt(recorded, error=attempt.error)

    # -- recording -----------------------------------------------------------------------------------------------

    async def _record(self, row: OutboxMessage, attempt: _Attempt, external_id: str | None) -> Outcome:
        for trial in range(RECORD_TRIES):
            try:
                async with self._record_slots, self.sessions() as session, session.begin():
                    return await self._write_outcome(session, row, attempt, external_id)
            except Exception:
                log.exception("sender: outbox %s: could not record %s (try %s)", row.id, attempt.outcome, trial + 1)
                await asyncio.sleep(0.2 * 2**trial)
        log.error("sender: outbox %s left in sending; it is retried after the lease", row.id)
        return Outcome.UNRECORDED

    async def _write_outcome(self, session: AsyncSession, row: OutboxMessage, attempt: _Attempt,
                             external_id: str | None) -> Outcome:
        now = self.clock.now()
        this = update(OutboxMessage).where(OutboxMessage.id == row.id).execution_options(synchronize_session=False)
        claimed = this.where(OutboxMessage.status == OutboxStatus.SENDING)  # unless another sender took it over
        error = (attempt.error or "")[:300] or None
        if attempt.outcome is Outcome.SENT:
            await session.execute(
                this.values(status=OutboxStatus.SENT, sent_at=now, external_id=external_id, last_error=None)
            )
            return Outcome.SENT
        if attempt.outcome is Outcome.UNREACHABLE:
            await session.execute(claimed.values(status=OutboxStatus.UNREACHABLE, last_error=error))
            contact = await contact_at(session, row.channel, row.address)
            if contact is not None and contact.person_id == row.person_id:
                await mark_unreachable(session, self.settings, now, contact, "blocked or never started")
            log.info("sender: outbox %s: person %s unreachable", row.id, row.person_id)
            return Outcome.UNREACHABLE
        if attempt.outcome is Outcome.FAILED:
            await session.execute(
                claimed.values(status=OutboxStatus.FAILED, last_error=error, attempts=OutboxMessage.attempts + 1)
            )
            log.warning("sender: outbox %s to person %s rejected by the channel", row.id, row.person_id)
            return Outcome.FAILED
        attempts = (await session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == row.id)) or 0) + 1
        if attempts >= self.max_attempts:
            await session.execute(claimed.values(status=OutboxStatus.FAILED, last_error=error, attempts=attempts))
            log.error("sender: outbox %s to person %s failed after %s attempts", row.id, row.person_id, attempts)
            return Outcome.FAILED
        await session.execute(
            claimed.values(
                status=OutboxStatus.PENDING,
                claimed_at=None,
                attempts=attempts,
                next_attempt_at=next_send_time(now + backoff(attempts), self.settings),
                last_error=error,
            )
        )
        log.info("sender: outbox %s deferred (attempt %s)", row.id, attempts)
        return Outcome.DEFERRED

    async def _record_many_unreachable(self, ids: set[int], batch: _Batch) -> None:
        """The rest of a chat's batch after its recipient turned out unreachable: not even tried."""
        try:
            async with self._record_slots, self.sessions() as session, session.begin():
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.SENDING)
                    .values(status=OutboxStatus.UNREACHABLE, last_error="unreachable")
                    .execution_options(synchronize_session=False)
                )
        except Exception:
            log.exception("sender: could not mark %s rows unreachable; they are tried again", len(ids))
            return
        batch.open -= ids
        batch.handled += len(ids)


async def _finish(step: asyncio.Future) -> None:
    """Wait for a shielded step to end even if we are cancelled again meanwhile (it is bounded by timeouts)."""
    while not step.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(step)
    with contextlib.suppress(Exception):
        step.result()
