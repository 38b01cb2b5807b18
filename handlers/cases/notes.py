"""The short note a legal step may carry and an "other" outcome needs, a form (`handlers.forms`) of one typed step:
entered from the step's tap (`handlers.cases.actions`), it records the step with one call of `bot.cases`, which
checks the case's stage and the person's scope again; a note the service refuses is given back with the card."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.fsm.scene import on
from aiogram.types import CallbackQuery, Message

from bot.cases import CaseError
from bot.cases.model import MAX_TEXT
from bot.core.scope import Actor
from handlers.cases.actions import _run
from handlers.cases.base import NOTE, CaseCard, CaseDo, Do
from handlers.cases.card import SHOWS_CARD, _card, _current, _done_head, _show_current
from handlers.cases.labels import legal_label, refusal
from handlers.context import Context
from handlers.forms import Form, Keys, Typed, _, typed_within
from handlers.roles import STAFF
from handlers.texts import t

TEXT = "text"  # the form's one step


class CaseNoteForm(Form, state=NOTE, role=STAFF):
    refused = _("You cannot see or change this case.")
    over = _("This step is over. Send /cases to start again.")

    @on.callback_query.enter()
    async def start(self, query: CallbackQuery, ctx: Context, actor: Actor, note_for: list[Any], child: str) -> None:
        """Entered from the step's tap (`note_for`: the case, the step, the stage the card showed, the choice), once
        the case offered the step."""
        await self.begin(query, ctx, actor, TEXT, note_for=note_for, child=child)

    async def question(self, step: str, answers: dict[str, Any], ctx: Context, actor: Actor) -> tuple[str, Keys]:
        case_id, what, stage, value = answers["note_for"]
        d = CaseDo(i=case_id, a=what, s=stage, v=value)
        keys = self.keys(answers, step)
        if Do(d.a) is Do.LEGAL:
            text = t("“{step}” for <b>{child}</b>: type a short note (e.g. the document number), or tap the button "
                     "to record it without a note. Send /cancel to stop.", step=legal_label(d.v),
                     child=answers["child"])
            keys.button(text=t("⚖️ Record without a note"), callback_data=d.model_copy(update={"c": 1}))
        else:
            text = t("Please describe in a few words how the case of <b>{child}</b> ends (up to {limit} characters). "
                     "Send /cancel to stop.", child=answers["child"], limit=MAX_TEXT)
        keys.button(text=t("◀ Back to the case"), callback_data=CaseCard(i=d.i))
        keys.adjust(1)
        return text, keys

    async def after_cancel(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        await _show_current(query, ctx, actor, answers["note_for"][0])

    @on.message(Typed(TEXT))
    async def typed(self, message: Message, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        note = await typed_within(message, MAX_TEXT)
        if note is None:
            return
        await self.close()
        case_id, what, stage, value = answers["note_for"]
        d = CaseDo(i=case_id, a=what, s=stage, v=value, c=1)
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


def make_router() -> Router:
    """A fresh router with this flow's handlers: the note's form."""
    router = Router(name="cases.notes")
    router.include_router(CaseNoteForm.router())
    return router
