"""The guardian's two consents (PIPL arts. 29 and 39), asked one after the other, and their withdrawal (/privacy).

A guardian who links, or who has not consented to the current texts (`ob.CONSENT_VERSION`), is shown the first
consent still missing: (a) sensitive information about a child under 14, then (b) the transfer abroad to Telegram.
Each screen has its own Agree / Disagree buttons and is recorded on its own, with its text version.

Declining either unlinks the account and the school contacts the family by phone or on paper; they may link again
any time. Declining (a) is treated like declining (b): without it the school may not keep the child's attendance,
absence reasons and follow-up records here, and that is all this bot is for, so a "no" to (a) cannot leave a
half-working account behind. Taps are checked against what is still missing: a repeated, out-of-order, foreign or
old-version tap is answered and records nothing.
"""

from __future__ import annotations

import contextlib

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardRemove
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.policy import load_policy
from bot.core.scope import Actor
from bot.onboarding import service as ob
from handlers.context import Context
from handlers.menu import main_menu
from handlers.texts import t
from storage.models import Channel, Person

CHANNEL = Channel.TELEGRAM


class ConsentCallback(CallbackData, prefix="consent"):
    """An answer to a consent screen. Carries no person: the tapping account decides who answers."""

    answer: str  # "yes" / "no" (with `kind`), or "withdraw" / "withdraw_yes" / "keep"
    version: str  # ob.CONSENT_VERSION when the screen was shown
    kind: str = ""  # an ob.ConsentKind value for "yes" / "no"


# --- the screens --------------------------------------------------------------------------------------------------


def sensitive_text() -> str:
    return t(
        "🔒 <b>Your child's personal information</b>\n"
        "Your child is under 14, so the law counts their personal information as sensitive and asks for your "
        "separate consent (Personal Information Protection Law, arts. 28, 29 and 31).\n\n"
        "To keep every child in school (a duty under the Compulsory Education Law and the Minors Protection Law), "
        "the school keeps here:\n"
        "• your child's name, class, date of birth and student number (from the school roster);\n"
        "• attendance, reasons for absence and the school's follow-up records (calls, home visits, letters);\n"
        "• your name, phone number and relation to the child.\n"
        "It is used only to follow your child's schooling and to contact you about it."
    )


def abroad_text(terms: ob.ConsentTerms) -> str:
    holders = [t("• {school}, office phone {phone}", school=school, phone=phone) if phone
               else t("• {school}", school=school) for school, phone in terms.holders] or [t("• your child's school")]
    return "\n".join([
        t("🌐 <b>Messages through {recipient}, outside mainland China</b>\n"
          "This bot's messages go through {recipient}, a service operated outside mainland China: it receives only "
          "what each message needs: your child's name, class, dates and reasons for absence, and your answers "
          "(Personal Information Protection Law, arts. 38 and 39).",
          recipient=terms.recipient),
        "",
        t("Who holds your family's data:"),
        *holders,
        "",
        t("It is kept for {months} months after your child leaves compulsory education, then deleted.",
          months=terms.retention_months),
        "",
        t("You may refuse: then this account is unlinked, and the school contacts you by phone or on paper instead."),
    ])


async def _terms(ctx: Context, person_id: int) -> ob.ConsentTerms:
    months = ob.retention_months(load_policy(ctx.settings).privacy.retention)
    return await ob.consent_terms(ctx.session, person_id, months)


async def consent_text(ctx: Context, person_id: int, kind: ob.ConsentKind) -> str:
    if kind is ob.ConsentKind.SENSITIVE:
        return sensitive_text()
    return abroad_text(await _terms(ctx, person_id))


def _button(builder: InlineKeyboardBuilder, label: str, answer: str, kind: str = "") -> None:
    builder.button(text=label, callback_data=ConsentCallback(answer=answer, version=ob.CONSENT_VERSION, kind=kind))


async def send_consent_notice(message: Message, ctx: Context, person_id: int) -> None:
    """Ask the first consent the person (linked, maybe by this very update) has still to give (nothing if none is
    missing)."""
    missing = await ob.missing_consents(ctx.session, person_id)
    if not missing:
        return
    kind = missing[0]
    builder = InlineKeyboardBuilder()
    _button(builder, t("Agree"), "yes", kind.value)
    _button(builder, t("Disagree"), "no", kind.value)
    text = await consent_text(ctx, person_id, kind)
    footer = t("You can withdraw your consent at any time: send /privacy.") + "\n" + t("Do you agree?")
    await message.answer(text + "\n\n" + footer, reply_markup=builder.as_markup())


async def privacy_notice(ctx: Context, person_id: int) -> str:
    """Both texts, for /privacy."""
    return sensitive_text() + "\n\n" + abroad_text(await _terms(ctx, person_id))


def withdraw_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    _button(builder, t("Withdraw consent"), "withdraw")
    return builder.as_markup()


# --- answers ------------------------------------------------------------------------------------------------------


async def _drop_buttons(query: CallbackQuery) -> None:
    if isinstance(query.message, Message):
        with contextlib.suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(reply_markup=None)


async def _stale(query: CallbackQuery) -> None:
    await query.answer(t("This button is no longer valid."))


async def consent_answer(
    query: CallbackQuery, callback_data: ConsentCallback, ctx: Context, actor: Actor | None,
) -> None:
    """Only the linked guardian who is asked may answer, for themselves: the callback data names no one."""
    message = query.message if isinstance(query.message, Message) else None
    answer = callback_data.answer
    if ctx.person is None or callback_data.version != ob.CONSENT_VERSION:
        await _stale(query)
        if ctx.person is not None and message:
            await send_consent_notice(message, ctx, ctx.person.id)  # the texts changed: show the current one
        return
    if answer in ("withdraw", "withdraw_yes", "keep"):
        await _withdrawal(query, answer, ctx, ctx.person, message)
        return
    kind = next((k for k in ob.ConsentKind if k.value == callback_data.kind), None)
    missing = await ob.missing_consents(ctx.session, ctx.person.id)
    if answer not in ("yes", "no") or kind is None or not missing:
        if answer in ("yes", "no") and await ob.has_consented(ctx.session, ctx.person.id):
            await query.answer(t("You have already agreed. Thank you!"))
            await _drop_buttons(query)
        else:
            await _stale(query)
        return
    if kind not in missing:
        await query.answer(t("You have already agreed to this. Thank you!"))
        await _drop_buttons(query)
        return
    if kind is not missing[0]:  # a screen not yet shown: the questions are answered in order
        await query.answer(t("Please answer the earlier question first."), show_alert=True)
        return
    if answer == "yes":
        await _agreed(query, ctx, ctx.person, kind, actor, message)
    else:
        await _declined(query, ctx, ctx.person, kind, message)


async def _agreed(
    query: CallbackQuery, ctx: Context, person: Person, kind: ob.ConsentKind, actor: Actor | None,
    message: Message | None,
) -> None:
    await ob.record_consent(ctx.session, ctx.clock.now(), person.id, ctx.locale, CHANNEL, kind)
    await query.answer(t("Thank you!"))
    await _drop_buttons(query)
    if message is None:
        return
    if await ob.needs_consent(ctx.session, person.id):
        await send_consent_notice(message, ctx, person.id)
        return
    await message.answer(
        t("Thank you! Your consent is recorded. The school's messages about your children will come here.\n"
          "Send /help to see what I can do for you."),
        reply_markup=main_menu(actor),
    )


async def _declined(
    query: CallbackQuery, ctx: Context, person: Person, kind: ob.ConsentKind, message: Message | None,
) -> None:
    """A "no" to either screen unlinks the account (for the first one too: see the module's docstring), and the
    guardian is told how the school will reach them instead and that they can link again."""
    await ob.decline_consent(ctx.session, ctx.clock.now(), person.id, CHANNEL, kind)
    await query.answer()
    await _drop_buttons(query)
    if message:
        await message.answer(
            t("All right. This account is now unlinked and will receive no messages. "
              "The school will contact you by phone or on paper instead. "
              "If you change your mind, send /start to link again at any time."),
            reply_markup=ReplyKeyboardRemove(),
        )


async def _withdrawal(query: CallbackQuery, answer: str, ctx: Context, person: Person, message: Message | None) -> None:
    if not await ob.has_consented(ctx.session, person.id):
        await _stale(query)
        return
    if answer == "keep":
        await query.answer(t("Nothing was changed."))
        await _drop_buttons(query)
        return
    if answer == "withdraw":  # ask once more: a slip of the thumb must not unlink a grandmother
        await query.answer()
        if message:
            builder = InlineKeyboardBuilder()
            _button(builder, t("Yes, withdraw"), "withdraw_yes")
            _button(builder, t("No, keep it"), "keep")
            with contextlib.suppress(TelegramBadRequest):
                await message.edit_reply_markup(reply_markup=builder.as_markup())
        return
    await ob.withdraw_consent(ctx.session, ctx.clock.now(), person.id, CHANNEL)
    await query.answer()
    await _drop_buttons(query)
    if message:
        await message.answer(
            t("Your consent is withdrawn and this account is unlinked. "
              "The school will contact you by phone or on paper instead. "
              "You can link again at any time with /start."),
            reply_markup=ReplyKeyboardRemove(),
        )


def make_router() -> Router:
    """A fresh router with this module's handlers (one per Dispatcher)."""
    router = Router(name="consent")
    router.callback_query.register(consent_answer, ConsentCallback.filter())
    return router
