"""Whether a person can be reached: Telegram tells us when they block or unblock the bot (my_chat_member)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.types import ChatMemberUpdated

from bot.notices.reachability import contact_at, mark_reachable, mark_unreachable
from handlers.context import Context
from storage.models import Channel


async def on_membership(event: ChatMemberUpdated, ctx: Context) -> None:
    """Blocked ("kicked") → unreachable at once, class teachers told; unblocked ("member") → reachable again."""
    contact = await contact_at(ctx.session, Channel.TELEGRAM, str(event.chat.id))
    if contact is None:  # not linked to anyone: nothing to record
        return
    status = event.new_chat_member.status
    if status == ChatMemberStatus.KICKED:
        await mark_unreachable(ctx.session, ctx.settings, ctx.clock.now(), contact, "blocked")
    elif status == ChatMemberStatus.MEMBER:
        await mark_reachable(ctx.session, ctx.clock.now(), contact)


def make_router() -> Router:
    """A fresh router with this module's handlers (one per Dispatcher)."""
    router = Router(name="membership")
    router.my_chat_member.register(on_membership, F.chat.type == ChatType.PRIVATE)
    return router
