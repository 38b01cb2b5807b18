"""The short note a legal step may carry and an "other" outcome needs, and its /cancel."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.cases import (
    CaseError,
)
from bot.cases.model import MAX_TEXT
from bot.core.scope import Actor
from handlers.cases.actions import _run
from handlers.cases.base import TYPED, CaseDo, CaseNote, Do
from handlers.cases.card import SHOWS_CARD, _card, _current, _done_head
from handlers.cases.labels import refusal
from handlers.context import Context
from handlers.menu import main_menu
from handlers.roles import STAFF
from handlers.texts import t


async def note_typed(message: Message, ctx: Context, actor: Actor, state: FSMContext) -> None:
    note = (message.text or "").strip()
    if len(note) > MAX_TEXT:
        await message.answer(t("That is {n} characters; please keep it under {limit}.", n=len(note), limit=MAX_TEXT))
        return
    data = (await state.get_data()).get("cn")
    await state.clear()
    if not data:
        await step_over(message, state)
        return
    d = CaseDo(i=data[0], a=data[1], s=data[2], v=data[3], c=1)
    kept = t("Your note was not recorded; here it is to use again: {note}", note=note)
    try:
        result = await _run(ctx, actor, d, note)
        head = _done_head(Do(d.a), result, d.v) + ("" if result.changed else "\n" + kept)
        text, markup = await _card(ctx, actor, d.i, head)
    except CaseError as error:
        head = refusal(error) + "\n" + kept  # typed text is never lost
        shown = await _current(ctx, actor, d.i, head) if error.code in SHOWS_CARD else None
        if shown is None:
            await message.answer(head)
        else:
            await message.answer(shown[0], reply_markup=shown[1])
        return
    await message.answer(text, reply_markup=markup)


async def step_over(message: Message, state: FSMContext) -> None:
    """A note from someone who is no longer staff, or after the step was left: nothing is recorded."""
    await state.clear()
    await message.answer(t("This step is over. Send /cases to start again."))


async def cancel(message: Message, state: FSMContext, actor: Actor | None) -> None:
    await state.clear()
    await message.answer(t("Cancelled. Nothing was recorded."), reply_markup=main_menu(actor))


async def not_text(message: Message) -> None:
    await message.answer(t("Please answer with a text message, or send /cancel."))


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    router = Router(name="cases.notes")
    router.message.register(note_typed, CaseNote.text, TYPED, STAFF)
    router.message.register(step_over, CaseNote.text, TYPED)
    router.message.register(cancel, Command("cancel"), StateFilter(CaseNote))
    router.message.register(not_text, StateFilter(CaseNote), ~F.text)
    return router
