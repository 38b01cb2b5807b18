"""Printed documents in chat, for the case's officers (school, township, county): 「📄 PDF」 on the case card sends
the case file as a document and lists the case's documents served on families that the officer's side issued. One
tap sends a document's PDF (with its 送达回证 and, for a guardian not in the bot, a QR code with a single-use join
code); 「✅ 已送达」 records its delivery: how (one tap), which day (one tap), and for a refusal the witness's name.

Thin: `bot.documents` checks the tapping person's scope on every call and records who did what. Taps: card →
「📄 PDF」 (the file and the list) → 「✅ 已送达」 → manner → day (3 taps after the file to record a delivery).
"""

from __future__ import annotations

from datetime import timedelta
from enum import IntEnum
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.scene import ScenesManager, on
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import get_i18n
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import Clock, to_local
from bot.core.scope import Actor
from bot.core.settings import Settings
from bot.documents.casefile import case_file
from bot.documents.pdf import Rendered, print_document
from bot.documents.records import (
    DocumentError,
    DocumentErrorCode,
    document_for,
    documents_of_case,
    record_delivery,
    served_documents,
)
from handlers.cases.base import _edit
from handlers.context import Context
from handlers.forms import Form, Keys, Typed
from handlers.roles import Holds
from handlers.texts import short_day, t
from storage.models import DeliveryManner, DocumentKind, FormalDocument, Role

# the case's officers: whoever else taps a document button is refused (the services check the case's scope again)
CASE_OFFICER = Holds(lambda actor: actor.has_role(Role.SCHOOL_ADMIN, Role.PRINCIPAL, Role.TOWNSHIP_OFFICER,
                                                  Role.COUNTY_OFFICER))



def _(message: str) -> str:
    """Extraction marker: translated when shown."""
    return message


class Doc(IntEnum):
    FILE = 0  # the case file, then the list of documents (i: case id)
    PRINT = 1  # one document's PDF (i: document id)
    SERVE = 2  # record its delivery: how?
    MANNER = 3  # … which day? (m: manner)
    DAY = 4  # … recorded, or the witness's name asked for (m: manner, d: days ago)


class DocTap(CallbackData, prefix="doc"):
    a: int  # Doc
    i: int  # the case (FILE) or the document
    m: str = ""  # a DeliveryManner value
    d: int = -1  # days back


MANNER_LABELS = {
    DeliveryManner.IN_PERSON: _("In person, signed for"),
    DeliveryManner.REFUSED_WITNESSED: _("Refused, left with a witness present"),
    DeliveryManner.BY_POST: _("By post"),
}
DOCUMENT_LABELS = {
    DocumentKind.PERSUASION_NOTICE: _("letter about returning to school (劝学书)"),
    DocumentKind.RETURN_ORDER: _("order to return to school (复学通知书)"),
    DocumentKind.PENALTY_NOTICE: _("notice of intended penalty (告知书)"),
    DocumentKind.PENALTY_DECISION: _("penalty decision (处罚决定书)"),
    DocumentKind.DEMAND_FOR_PERFORMANCE: _("demand for performance (催告书)"),
}
MANNER_VALUES = frozenset(manner.value for manner in DeliveryManner)
DAYS_BACK = (_("Today"), _("Yesterday"), _("Two days ago"))


def _name(document: FormalDocument) -> str:
    return t(DOCUMENT_LABELS[DocumentKind(document.kind)])


def documents_keyboard(documents: list[FormalDocument]) -> InlineKeyboardMarkup:
    """Per document: its PDF, and 「✅ 已送达」 while its delivery is not recorded; one button a row."""
    keyboard = InlineKeyboardBuilder()
    for document in documents:
        name, recipient = _name(document), document.recipient_name or ""
        keyboard.button(text=f"📄 {name} · {recipient}", callback_data=DocTap(a=Doc.PRINT, i=document.id))
        if document.delivered_on is None:
            keyboard.button(text=t("✅ Served: {document} · {recipient}", document=name, recipient=recipient),
                            callback_data=DocTap(a=Doc.SERVE, i=document.id))
    keyboard.adjust(1)
    return keyboard.as_markup()


def _refusal(error: DocumentError) -> str:
    if error.code is DocumentErrorCode.ALREADY:
        return t("Its delivery was recorded already ({day}).", day=short_day(error.details["delivered_on"]))
    if error.code is DocumentErrorCode.BAD_VALUE and error.details.get("field") == "witness":
        return t("The witness's name is needed for a refusal (100 characters at most).")
    if error.code is DocumentErrorCode.BAD_VALUE:
        return t("That day does not fit: not before the document was issued and not in the future.")
    return t("You cannot see or change this case.")


async def _send(bot: Bot, chat_id: int, rendered: Rendered) -> None:
    await bot.send_document(chat_id, BufferedInputFile(rendered.data, filename=rendered.name))


async def _username(bot: Bot, settings: Settings) -> str:
    return settings.bot_username.strip().lstrip("@") or (await bot.me()).username or ""


async def case_file_tapped(query: CallbackQuery, callback_data: DocTap, ctx: Context, actor: Actor, bot: Bot) -> None:
    session, clock, settings = ctx.session, ctx.clock, ctx.settings
    if query.message is None:
        return
    try:
        rendered = await case_file(session, settings, clock.now(), actor, callback_data.i,
                                   get_i18n().current_locale)
    except DocumentError as error:
        await query.answer(_refusal(error), show_alert=True)
        return
    documents = await served_documents(session, actor, callback_data.i)
    await query.answer()
    chat_id = query.message.chat.id
    await _send(bot, chat_id, rendered)
    if documents:
        await bot.send_message(chat_id, t("The documents of this case: tap one for its PDF, or record that it was "
                                          "served."), reply_markup=documents_keyboard(documents))
    elif not await documents_of_case(session, callback_data.i):  # else the file holds them, none for this actor
        await bot.send_message(chat_id, t("No document has been issued on this case yet."))


async def document_tapped(query: CallbackQuery, callback_data: DocTap, ctx: Context, actor: Actor, bot: Bot) -> None:
    session, clock, settings = ctx.session, ctx.clock, ctx.settings
    if query.message is None:
        return
    try:
        rendered = await print_document(session, settings, clock.now(), actor, callback_data.i,
                                        await _username(bot, settings))
    except DocumentError as error:
        await query.answer(_refusal(error), show_alert=True)
        return
    await query.answer()
    await _send(bot, query.message.chat.id, rendered)


async def _unserved(query: CallbackQuery, session: AsyncSession, actor: Actor, document_id: int
                    ) -> FormalDocument | None:
    """The document when the tapping officer may record its delivery and it is not recorded yet (else an alert)."""
    try:
        document = await document_for(session, actor, document_id)
        if document.delivered_on is not None:
            raise DocumentError(DocumentErrorCode.ALREADY, delivered_on=document.delivered_on)
    except DocumentError as error:
        await query.answer(_refusal(error), show_alert=True)
        return None
    return document


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    await query.answer()
    await _edit(query, text, markup)


async def serve_tapped(query: CallbackQuery, callback_data: DocTap, ctx: Context, actor: Actor) -> None:
    session = ctx.session
    document = await _unserved(query, session, actor, callback_data.i)
    if document is None:
        return
    keyboard = InlineKeyboardBuilder()
    for manner, label in MANNER_LABELS.items():
        keyboard.button(text=t(label), callback_data=DocTap(a=Doc.MANNER, i=document.id, m=manner.value))
    keyboard.adjust(1)
    await _show(query, t("How was {document} served on {recipient}?", document=_name(document),
                         recipient=document.recipient_name or ""), keyboard.as_markup())


async def manner_tapped(query: CallbackQuery, callback_data: DocTap, ctx: Context, actor: Actor) -> None:
    session, clock, settings = ctx.session, ctx.clock, ctx.settings
    document = await _unserved(query, session, actor, callback_data.i)
    if document is None or callback_data.m not in MANNER_VALUES:
        await query.answer()
        return
    today = to_local(clock.now(), settings.tz).date()
    keyboard = InlineKeyboardBuilder()
    for n, label in enumerate(DAYS_BACK):
        keyboard.button(text=f"{t(label)} · {short_day(today - timedelta(days=n))}",
                        callback_data=DocTap(a=Doc.DAY, i=document.id, m=callback_data.m, d=n))
    keyboard.adjust(1)
    await _show(query, t("On which day?"), keyboard.as_markup())


async def _record(session: AsyncSession, clock: Clock, settings: Settings, actor: Actor, document_id: int,
                  manner: DeliveryManner, days_back: int, witness: str | None = None) -> str:
    """Record the delivery; the confirmation, or why it was refused (nothing recorded then)."""
    on_day = to_local(clock.now(), settings.tz).date() - timedelta(days=days_back)
    try:
        document = await record_delivery(session, settings, clock.now(), actor, document_id, on_day, manner,
                                         witness=witness)
    except DocumentError as error:
        return _refusal(error)
    return t("✅ Delivery recorded: {document} ({reference}) to {recipient}, {manner}, {day}.",
             document=_name(document), reference=document.reference, recipient=document.recipient_name or "",
             manner=t(MANNER_LABELS[manner]), day=short_day(on_day))


async def day_tapped(query: CallbackQuery, callback_data: DocTap, ctx: Context, actor: Actor,
                     scenes: ScenesManager) -> None:
    session, clock, settings = ctx.session, ctx.clock, ctx.settings
    document = await _unserved(query, session, actor, callback_data.i)
    if document is None or callback_data.m not in MANNER_VALUES or not 0 <= callback_data.d < len(DAYS_BACK):
        await query.answer()
        return
    manner = DeliveryManner(callback_data.m)
    if manner is DeliveryManner.REFUSED_WITNESSED:
        await scenes.enter(WitnessForm, document=document.id, days_back=callback_data.d)
        return
    await _show(query, await _record(session, clock, settings, actor, document.id, manner, callback_data.d))


NAME = "name"  # the witness form's one step


class WitnessForm(Form, state="witness", role=CASE_OFFICER):
    """The witness's name for a delivery refused and left with a witness present (留置送达)."""

    refused = _("You cannot see or change this case.")
    over = _("This step is over. Send /cases to start again.")

    @on.callback_query.enter()
    async def start(self, query: CallbackQuery, ctx: Context, actor: Actor, document: int, days_back: int) -> None:
        """Entered from the day's tap, once the document's delivery is the officer's to record."""
        await self.begin(query, ctx, actor, NAME, document=document, days_back=days_back)

    async def question(self, step: str, answers: dict[str, Any], ctx: Context, actor: Actor) -> tuple[str, Keys]:
        return (t("Type the witness's name and who they are (for example: 李四, village committee)."),
                self.keys(answers, step))

    @on.message(Typed(NAME))
    async def typed(self, message: Message, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        await self.close()
        await message.answer(await _record(ctx.session, ctx.clock, ctx.settings, actor, answers["document"],
                                           DeliveryManner.REFUSED_WITNESSED, answers["days_back"], message.text))


async def not_an_officer(query: CallbackQuery) -> None:
    await query.answer(t("You cannot see or change this case."), show_alert=True)


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    router = Router(name="cases.documents")
    for action, handler in ((Doc.FILE, case_file_tapped), (Doc.PRINT, document_tapped), (Doc.SERVE, serve_tapped),
                            (Doc.MANNER, manner_tapped), (Doc.DAY, day_tapped)):
        router.callback_query.register(handler, DocTap.filter(F.a == action), CASE_OFFICER)
    router.callback_query.register(not_an_officer, DocTap.filter())
    router.include_router(WitnessForm.router())
    return router
