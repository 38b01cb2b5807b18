"""The channel interface: how the sender hands one outbox row to a messaging service. No aiogram here.

A transport sends one message and returns the channel's message id, or raises one of the errors below, which tell
the sender what to do with the row. Everything a transport cannot classify should be a `TransientError` (retried
with backoff, and given up after a bounded number of attempts), never a silent success.
"""

from __future__ import annotations

from typing import Protocol

from storage.models import OutboxMessage


class DeliveryError(Exception):
    """Base of what a transport may raise."""


class RetryLater(DeliveryError):
    """The channel's flood control (HTTP 429): wait `seconds`, then retry the same message."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class Unreachable(DeliveryError):
    """The recipient cannot be written to: they blocked the bot, or never started it."""


class Rejected(DeliveryError):
    """The channel refused this message for good (e.g. a bad request); retrying would not help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(DeliveryError):
    """A network error, a timeout or a server error (5xx): retry with backoff."""


class Transport(Protocol):
    channel: str

    async def send(self, message: OutboxMessage) -> str:
        """Deliver `message` (its `address`, `text` and `actions`); return the channel's message id."""
