"""Delivery of outbox rows: the channel interface (`transport`), Telegram's implementation (`telegram`), flood
control (`ratelimit`) and the sender loop (`sender`). See `bot.delivery.sender` for the guarantee."""

from bot.delivery.transport import DeliveryError, Rejected, RetryLater, TransientError, Transport, Unreachable

__all__ = ["DeliveryError", "Rejected", "RetryLater", "TransientError", "Transport", "Unreachable"]
