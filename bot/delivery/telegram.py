"""Telegram as a delivery channel: sends an outbox row with aiogram and maps its errors to the transport's.

`NoticeAction` is the CallbackData factory of the buttons under a notice; handlers decode taps with the same
factory, e.g. `@router.callback_query(NoticeAction.filter(F.action == "reply"))`.
"""

from __future__ import annotations

import logging

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.delivery.transport import Rejected, RetryLater, TransientError, Unreachable
from storage.models import Channel, OutboxMessage

log = logging.getLogger(__name__)

CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit for callback_data
REQUEST_TIMEOUT = 20  # seconds for one sendMessage
# Bad requests that mean "there is no such chat for this bot any more" rather than "this message is wrong".
GONE = ("chat not found", "user not found", "peer_id_invalid", "user is deactivated", "bot was blocked")


class NoticeAction(CallbackData, prefix="n"):
    """A tap on a notice's button: `action` (what), `ref` (which entity, e.g. an absence id), `value` (the answer)."""

    action: str
    ref: int
    value: str = ""


def notice_keyboard(actions: list[list[dict]] | None) -> InlineKeyboardMarkup | None:
    """The inline keyboard for an outbox row's `actions`; raises Rejected if a button's data cannot be packed."""
    if not actions:
        return None
    rows = []
    for row in actions:
        buttons = []
        for item in row:
            try:
                data = NoticeAction(action=item["action"], ref=int(item["ref"]), value=str(item.get("value") or ""))
                packed = data.pack()  # aiogram refuses separators in values and data over 64 bytes
                label = str(item["label"])
            except (KeyError, TypeError, ValueError) as error:
                raise Rejected(f"bad button data: {error}") from None
            if len(packed.encode()) > CALLBACK_DATA_LIMIT:  # pragma: no cover - pack() checks it too
                raise Rejected("button data over 64 bytes")
            buttons.append(InlineKeyboardButton(text=label, callback_data=packed))
        if buttons:
            rows.append(buttons)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


class TelegramTransport:
    """Sends with the bot's defaults (parse mode HTML, no link previews): the stored text is already HTML."""

    channel: str = Channel.TELEGRAM

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, message: OutboxMessage) -> str:
        keyboard = notice_keyboard(message.actions)
        try:
            chat_id = int(message.address)
        except ValueError:
            raise Rejected(f"not a Telegram chat id: {message.address!r}") from None
        try:
            sent = await self.bot.send_message(
                chat_id=chat_id, text=message.text, reply_markup=keyboard, request_timeout=REQUEST_TIMEOUT
            )
        except TelegramRetryAfter as error:
            raise RetryLater(error.retry_after) from None
        except TelegramForbiddenError as error:
            raise Unreachable(error.message) from None
        except TelegramMigrateToChat as error:  # a group became a supergroup: not a private chat of a person
            raise Rejected(error.message) from None
        except TelegramBadRequest as error:
            if any(marker in error.message.lower() for marker in GONE):
                raise Unreachable(error.message) from None
            raise Rejected(error.message) from None
        except TelegramEntityTooLarge as error:
            raise Rejected(error.message) from None
        except TelegramUnauthorizedError as error:  # a wrong token: the operator must fix it; keep the rows
            log.error("Telegram refused the bot token; outbox row %s stays queued", message.id)
            raise TransientError(error.message) from None
        except (TelegramServerError, TelegramNetworkError, ClientDecodeError) as error:
            raise TransientError(str(error)) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransientError(f"{type(error).__name__}: {error}") from None
        except TelegramAPIError as error:  # 404, 409, anything new: retry a bounded number of times
            raise TransientError(str(error)) from None
        return str(sent.message_id)
