"""What everyone can do: /help, /lang, and the catch-alls that answer anything no other router took.

This router is included last: its catch-all message and callback handlers must never shadow a flow's handlers.
"""

from __future__ import annotations

import contextlib
from html import escape

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.i18n import LOCALES
from bot.core.scope import Actor
from bot.onboarding import service as ob
from handlers.consent import send_consent_notice
from handlers.context import Context
from handlers.menu import main_menu
from handlers.middlewares import language_choice
from handlers.onboarding import answer_unlinked, current_locale, unlinked_text
from handlers.texts import t
from storage.models import Role

LANGUAGE_NAMES = {"zh_Hans": "简体中文", "zh_Hant": "繁體中文", "en": "English"}  # each in its own script


class LanguageCallback(CallbackData, prefix="lang"):
    locale: str


# --- /help --------------------------------------------------------------------------------------------------------


def _role_lines(profile: ob.Profile, *roles: Role) -> list[str]:
    locale = current_locale()
    return [f"• {escape(ob.role_label(r.role, locale))} · {escape(r.unit)}" for r in profile.roles if r.role in roles]


def help_text(profile: ob.Profile | None, actor: Actor | None) -> str:
    topics = ob.help_topics(actor)
    if ob.HelpTopic.UNLINKED in topics or profile is None:
        return unlinked_text()
    parts = [t("<b>{name}</b>, here is what I can do for you:", name=profile.name)]
    if ob.HelpTopic.TEACHER in topics:
        parts.append("\n".join([t("👩‍🏫 You are linked as class teacher of:"),
                                *_role_lines(profile, Role.CLASS_TEACHER),
                                t("📋 Every school day: tap 「📋 Roll call」 (or /roll) and mark who is absent.")]))
    if ob.HelpTopic.SCHOOL in topics:
        parts.append("\n".join([t("🏫 You are linked for your school:"),
                                *_role_lines(profile, Role.SCHOOL_ADMIN, Role.PRINCIPAL),
                                t("/closure — close the school on a day (weather, an event); no roll call then"),
                                t("/cases — the school's open cases: persuasion records, reports to the township")]))
    if ob.HelpTopic.TOWNSHIP in topics:
        parts.append("\n".join([t("🏛 You are linked for your township:"),
                                *_role_lines(profile, Role.TOWNSHIP_OFFICER),
                                t("Schools' reports about children out of school come here."),
                                t("/cases — the township's reported cases: return orders, closing")]))
    if ob.HelpTopic.GUARDIAN in topics:
        children = [f"• {escape(c.name)} · {escape(c.class_name)}" for c in profile.children]
        parts.append("\n".join([t("👪 The school's messages about your children come here:"), *children,
                                t("📝 To ask for leave in advance, tap 「📝 Ask for leave」 (or send /leave).")]))
    parts.append(t("/privacy — what the school keeps, and why\n/lang — 简体中文 / 繁體中文 / English"))
    return "\n\n".join(parts)


async def show_help(message: Message, ctx: Context, actor: Actor | None) -> None:
    if ctx.person is None:
        await answer_unlinked(message)
        return
    await message.answer(help_text(await ob.profile(ctx.session, ctx.person.id), actor), reply_markup=main_menu(actor))


# --- /lang --------------------------------------------------------------------------------------------------------


def language_keyboard() -> InlineKeyboardMarkup:
    """The three languages in one row."""
    keyboard = InlineKeyboardBuilder()
    for code, name in LANGUAGE_NAMES.items():
        keyboard.button(text=name, callback_data=LanguageCallback(locale=code))
    return keyboard.as_markup()


async def choose_language(message: Message) -> None:
    await message.answer(t("Choose your language:"), reply_markup=language_keyboard())


async def language_chosen(
    query: CallbackQuery, callback_data: LanguageCallback, ctx: Context, i18n: I18n, state: FSMContext,
) -> None:
    """Linked people: stored on their row. Not linked: kept for the account until linking makes it theirs."""
    chosen = callback_data.locale
    if chosen not in LOCALES:
        await query.answer(t("This button is no longer valid."))
        return
    if ctx.person is not None:
        await ob.set_locale(ctx.session, ctx.clock.now(), ctx.person.id, chosen)
    else:
        await language_choice(state).update_data(locale=chosen)
    with i18n.use_locale(chosen):
        await query.answer(t("Language: English"))
        message = query.message if isinstance(query.message, Message) else None
        if message is None:
            return
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=None)
        if ctx.person is None:
            await answer_unlinked(message)
        else:
            await message.answer(
                t("From now on I will write to you in English.") + "\n" + t("Send /help to see what I can do for you.")
            )


# --- catch-alls (keep last) ----------------------------------------------------------------------------------------


async def anything_else(message: Message, ctx: Context) -> None:
    if ctx.person is None:
        await answer_unlinked(message)
        return
    if await ob.needs_consent(ctx.session, ctx.person.id):
        await send_consent_notice(message, ctx, ctx.person.id)
        return
    await message.answer(t("Sorry, I did not understand that. Send /help to see what I can do for you."))


async def stale_button(query: CallbackQuery) -> None:
    """A button from an old message, or data no handler knows: say so and change nothing."""
    await query.answer(t("This button is no longer valid."))


def make_router() -> Router:
    """A fresh router with this module's handlers (one per Dispatcher)."""
    router = Router(name="common")
    router.message.register(show_help, Command("help"))
    router.message.register(choose_language, Command("lang"))
    router.callback_query.register(language_chosen, LanguageCallback.filter())
    router.message.register(anything_else)
    router.callback_query.register(stale_button)
    return router
