"""Linking a Telegram account: `/start <code>`, a typed code, a shared phone number; /privacy.

A guardian who links is then asked the consents still missing (`handlers.consent`).

Thin: each handler reads the update, calls one function of `bot.onboarding.service` and renders its result with `t()`.
What is shown about a person: their name, roles with their units, children by name and class. Never 学籍号, ids
or phone numbers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import (
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    User,
)
from aiogram.utils.i18n import I18n, get_i18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.scope import Actor, load_actor
from bot.notices.reachability import contact_at, mark_reachable
from bot.onboarding import service as ob
from handlers.consent import privacy_notice, send_consent_notice, withdraw_keyboard
from handlers.context import Context
from handlers.menu import main_menu
from handlers.texts import t
from storage.models import Channel, Person

CHANNEL = Channel.TELEGRAM


# --- rendering, shared with handlers.common -------------------------------------------------------------------------


@contextlib.contextmanager
def in_locale(i18n: I18n | None, locale: str | None) -> Iterator[None]:
    """Render in `locale` (the person's language) inside the block; the update's language outside it."""
    if i18n is None or not locale or locale == i18n.current_locale:
        yield
        return
    with i18n.use_locale(locale):
        yield


def current_locale() -> str:
    return get_i18n().current_locale


def contact_keyboard() -> ReplyKeyboardMarkup:
    button = KeyboardButton(text=t("📱 Link with my phone number"), request_contact=True)
    return ReplyKeyboardMarkup(keyboard=[[button]], resize_keyboard=True, one_time_keyboard=True)


def unlinked_text() -> str:
    return t(
        "Hello! I am Quanxue (劝学), the school's helper for keeping every child in school.\n\n"
        "Your account is not linked yet, so I cannot show you anything.\n"
        "• Teachers and officers: send me the invite code the school gave you.\n"
        "• Parents and guardians: tap “📱 Link with my phone number” below, or send your invite code.\n\n"
        "No code? Please ask your child's class teacher."
    )


async def answer_unlinked(message: Message) -> None:
    await message.answer(unlinked_text(), reply_markup=contact_keyboard())


def profile_lines(profile: ob.Profile) -> str:
    """"王丽 · 班主任 · 青山镇中心小学 三年级1班" per role, "• 李明 · 三年级1班" per child (names escaped)."""
    locale = current_locale()
    lines = [" · ".join(map(escape, (profile.name, ob.role_label(r.role, locale), r.unit))) for r in profile.roles]
    if profile.children:
        lines.append(t("Your children:"))
        lines += [f"• {escape(child.name)} · {escape(child.class_name)}" for child in profile.children]
    return "\n".join(lines)


def greeting(profile: ob.Profile) -> str:
    return "\n".join([
        t("Hello, {name}! Your account is linked:", name=profile.name),
        profile_lines(profile),
        "",
        t("Send /help to see what I can do for you."),
    ])


# --- linking ------------------------------------------------------------------------------------------------------


async def _menu_after_link(
    session: AsyncSession, result: ob.LinkResult, locale: str | None
) -> ReplyKeyboardMarkup | ReplyKeyboardRemove:
    """The new person's menu; none yet for a guardian who still has to accept the privacy notice."""
    if result.needs_consent or result.profile is None:
        return ReplyKeyboardRemove()
    person = await session.get_one(Person, result.profile.person_id)
    return main_menu(await load_actor(session, person), locale)


async def _answer_link(message: Message, result: ob.LinkResult, i18n: I18n | None, ctx: Context) -> None:
    """Tell the person how linking went; after linking, in the person's own language."""
    outcome = result.outcome
    if outcome is ob.LinkOutcome.LINKED and result.profile is not None:
        profile = result.profile
        with in_locale(i18n, profile.locale):
            text = "\n".join([t("✅ Linked. Welcome, {name}!", name=profile.name), profile_lines(profile)])
            if not result.needs_consent:
                text += "\n\n" + t("Send /help to see what I can do for you.")
            await message.answer(text, reply_markup=await _menu_after_link(ctx.session, result, current_locale()))
            if result.needs_consent:
                await send_consent_notice(message, ctx, profile.person_id)
        return
    if outcome is ob.LinkOutcome.ALREADY_LINKED and result.profile is not None:
        profile = result.profile
        with in_locale(i18n, profile.locale):
            text = "\n".join([t("This account is already linked to {name}.", name=profile.name),
                              profile_lines(profile)])
            await message.answer(text, reply_markup=await _menu_after_link(ctx.session, result, current_locale()))
            if result.needs_consent:
                await send_consent_notice(message, ctx, profile.person_id)
        return
    if outcome is ob.LinkOutcome.THROTTLED:
        text = t("Too many wrong tries. Please wait {minutes} minutes, then try again.", minutes=result.wait_minutes)
    elif outcome is ob.LinkOutcome.UNKNOWN:
        text = t(
            "Sorry, I do not recognise this code. Please check it and send it again, "
            "or ask your child's class teacher."
        )
    elif outcome is ob.LinkOutcome.EXPIRED:
        text = t("This code is no longer valid (it has expired or a newer one was issued). "
                 "Please ask the school for a new code.")
    elif outcome is ob.LinkOutcome.USED:
        text = t("This code has already been used. If that was not you, please tell the school.")
    elif outcome is ob.LinkOutcome.PERSON_LINKED_ELSEWHERE:
        text = t("This person is already linked to another Telegram account. "
                 "If you changed your phone or account, please ask the school for help.")
    elif outcome is ob.LinkOutcome.STAFF_USE_CODE:
        text = t("School staff link with the invite code the school gave you. Please send your code.")
    else:  # NO_MATCH
        text = t(
            "Sorry, this phone number is not on the school's list of guardians. "
            "Please ask your child's class teacher to check it, or send your invite code."
        )
    await message.answer(text)


async def start_with_code(
    message: Message, command: CommandObject, ctx: Context, i18n: I18n, event_from_user: User,
) -> None:
    result = await ob.redeem_code(
        ctx.session, ctx.clock.now(), CHANNEL, str(event_from_user.id), command.args or "", settings=ctx.settings,
        locale=ctx.locale,
    )
    await _answer_link(message, result, i18n, ctx)


async def start(message: Message, ctx: Context, actor: Actor | None, event_from_user: User) -> None:
    if ctx.person is None:
        await answer_unlinked(message)
        return
    point = await contact_at(ctx.session, CHANNEL, str(event_from_user.id))
    if point is not None:  # a linked person has one
        await mark_reachable(ctx.session, ctx.clock.now(), point)
    consent_due = await ob.needs_consent(ctx.session, ctx.person.id)
    menu = ReplyKeyboardRemove() if consent_due else main_menu(actor)
    await message.answer(greeting(await ob.profile(ctx.session, ctx.person.id)), reply_markup=menu)
    if consent_due:
        await send_consent_notice(message, ctx, ctx.person.id)


async def shared_contact(message: Message, ctx: Context, i18n: I18n, event_from_user: User) -> None:
    contact = message.contact
    if contact is None or contact.user_id != event_from_user.id:
        await message.answer(
            t("Please share your own phone number with the button below, not someone else's contact."),
            reply_markup=contact_keyboard(),
        )
        return
    result = await ob.link_by_contact(
        ctx.session, ctx.clock.now(), CHANNEL, str(event_from_user.id), contact.phone_number, settings=ctx.settings,
        locale=ctx.locale,
    )
    await _answer_link(message, result, i18n, ctx)


def _unlinked_code(message: Message, ctx: Context) -> bool:
    return ctx.person is None and ob.looks_like_code(message.text)


async def typed_code(message: Message, ctx: Context, i18n: I18n, event_from_user: User) -> None:
    result = await ob.redeem_code(
        ctx.session, ctx.clock.now(), CHANNEL, str(event_from_user.id), message.text or "", settings=ctx.settings,
        locale=ctx.locale,
    )
    await _answer_link(message, result, i18n, ctx)


# --- privacy --------------------------------------------------------------------------------------------------------


async def privacy(message: Message, ctx: Context) -> None:
    """The consent texts again; a guardian who agreed to both can withdraw here (PIPL art. 15)."""
    if ctx.person is None:
        await answer_unlinked(message)
        return
    if await ob.needs_consent(ctx.session, ctx.person.id):
        await send_consent_notice(message, ctx, ctx.person.id)
        return
    text = await privacy_notice(ctx, ctx.person.id)
    if not await ob.has_consented(ctx.session, ctx.person.id):  # staff: the texts are about guardians' data
        await message.answer(text)
        return
    await message.answer(text + "\n\n" + t("You have agreed to this."), reply_markup=withdraw_keyboard())


def make_router() -> Router:
    """A fresh router with this module's handlers (one per Dispatcher)."""
    router = Router(name="onboarding")
    router.message.register(start_with_code, CommandStart(deep_link=True))
    router.message.register(start, CommandStart())
    router.message.register(shared_contact, F.contact)
    router.message.register(typed_code, F.text, _unlinked_code)
    router.message.register(privacy, Command("privacy"))
    return router
