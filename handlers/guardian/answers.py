"""The guardian's answers to absence notices: one tap per answer, siblings pick the child first, 其他 asks
for a few words (a form of one typed step: `handlers.forms`); the notice keeps its buttons (the chosen one marked ✓)
so the answer can be changed."""

from __future__ import annotations

import contextlib
from html import escape
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.scene import ScenesManager, on
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.scope import Actor
from bot.delivery.telegram import NoticeAction
from bot.families.replies import (
    MAX_TEXT,
    ReplyResult,
    ReplyStatus,
    absence_in_scope,
    latest_reply,
    notice_children,
    record_reply,
)
from bot.notices.absence import PICK_ACTION, REPLY_ACTION, answer_actions, pick_label
from handlers import forms
from handlers.context import Context
from handlers.forms import Form, Keys, Typed, leave, typed_within
from handlers.guardian.base import (
    KIDS_ACTION,
    _answer_label,
    _edit_markup,
    _message,
)
from handlers.roles import GUARDIAN
from handlers.texts import short_day, t
from storage.models import Absence, AbsenceReply, GuardianAnswer, Student


def answers_markup(absence_id: int, chosen: str | None, back: bool) -> InlineKeyboardMarkup:
    """The five answers for one absence, the chosen one with ✓; `back` adds a way back to the list of children."""
    keyboard = InlineKeyboardBuilder()
    rows = answer_actions(absence_id)
    for row in rows:
        for action in row:
            keyboard.button(text=("✓ " if action.value == chosen else "") + _(action.label),
                            callback_data=NoticeAction(action=action.action, ref=action.ref, value=action.value))
    if back:
        keyboard.button(text=_("‹ Back to the children"),
                        callback_data=NoticeAction(action=KIDS_ACTION, ref=absence_id))
    keyboard.adjust(*(len(row) for row in rows), 1)
    return keyboard.as_markup()


async def children_markup(ctx: Context, actor: Actor, absence_id: int) -> InlineKeyboardMarkup | None:
    absence = await absence_in_scope(ctx.session, actor, absence_id)
    if absence is None:
        return None
    siblings = await notice_children(ctx.session, actor, absence)
    if not siblings:
        return None
    keyboard = InlineKeyboardBuilder()
    for sibling in siblings:
        label = pick_label(sibling.student.name)
        if sibling.answer:
            label = f"✓ {sibling.student.name}: {_answer_label(sibling.answer)}"
        keyboard.button(text=label, callback_data=NoticeAction(action=PICK_ACTION, ref=sibling.absence.id))
    keyboard.adjust(1)
    return keyboard.as_markup()


def _is_sibling_notice(markup: InlineKeyboardMarkup | None) -> bool:
    """Whether a notice's keyboard is the child-choice kind (it has a child list or a way back to one)."""
    for row in (markup.inline_keyboard if markup else []):
        for button in row:
            with contextlib.suppress(TypeError, ValueError):
                if button.callback_data and NoticeAction.unpack(button.callback_data).action in (
                        PICK_ACTION, KIDS_ACTION):
                    return True
    return False


async def _markup_after_answer(
    ctx: Context, actor: Actor, absence_id: int, answer: str, sibling: bool
) -> InlineKeyboardMarkup | None:
    if sibling:
        return await children_markup(ctx, actor, absence_id)
    return answers_markup(absence_id, answer, back=False)


def _refusal(status: ReplyStatus, result: ReplyResult | None = None) -> str:
    """Plain text (for an alert, or a message: it holds no HTML special characters but the child's name)."""
    if status is ReplyStatus.STALE and result is not None and result.student is not None:
        return _("The teacher corrected this: {child} was at school that day. No answer is needed, thank you."
                 ).format(child=result.student.name)
    if status is ReplyStatus.INVALID:
        return _("This answer could not be saved. Please try again.")
    return _("This button is not for you, or it is no longer valid. Nothing was changed.")


def _recorded(result: ReplyResult) -> tuple[Student, Absence, AbsenceReply]:
    """What a result that is `ok` always carries."""
    if result.student is None or result.absence is None or result.reply is None:
        raise ValueError("a recorded reply carries its student, absence and reply")
    return result.student, result.absence, result.reply


def _thanks(result: ReplyResult) -> str:
    student, absence, reply = _recorded(result)
    child, day = student.name, short_day(absence.day)
    answer = _answer_label(reply.answer)
    if result.previous is not None:
        lines = [t("Thank you. Your answer for {child} ({day}) is changed to: <b>{answer}</b>.",
                   child=child, day=day, answer=answer)]
    else:
        lines = [t("Thank you. Your answer for {child} ({day}): <b>{answer}</b>.", child=child, day=day,
                   answer=answer)]
    if reply.text:
        lines.append(t("Your words: “{text}”", text=reply.text))
    if result.teacher_reached:
        lines.append(t("The class teacher has been told."))
    elif result.school_reached:
        lines.append(t("The class teacher cannot be reached in the bot right now, so the school has been told."))
    else:
        lines.append(t("Your answer is saved, but the class teacher cannot be reached in the bot right now. "
                       "Please phone the school."))
    lines.append(t("You can change your answer with the buttons on the notice."))
    return "\n".join(lines)


async def answer_tapped(
    query: CallbackQuery, callback_data: NoticeAction, ctx: Context, actor: Actor, state: FSMContext,
    scenes: ScenesManager,
) -> None:
    message = _message(query)
    sibling = _is_sibling_notice(message.reply_markup if message else None)
    await leave(ReplyWordsForm.form_id(), state, scenes)
    if callback_data.value == GuardianAnswer.OTHER:
        absence = await absence_in_scope(ctx.session, actor, callback_data.ref)
        if absence is None:
            await query.answer(_refusal(ReplyStatus.FORBIDDEN), show_alert=True)
            return
        if absence.withdrawn_at is not None:
            student = await ctx.session.get_one(Student, absence.student_id)
            await query.answer(_refusal(ReplyStatus.STALE, ReplyResult(ReplyStatus.STALE, absence, student)),
                               show_alert=True)
            return
        student = await ctx.session.get_one(Student, absence.student_id)
        await query.answer()
        if message is not None:  # else too old to be shown to the bot: nothing to ask under
            await scenes.enter(ReplyWordsForm, notice=message, absence_id=absence.id, sibling=sibling,
                               child=student.name)
        return

    result = await record_reply(ctx.session, ctx.settings, ctx.clock.now(), actor, callback_data.ref,
                                callback_data.value)
    if not result.ok:
        await query.answer(_refusal(result.status, result), show_alert=True)
        return
    absence, reply = _recorded(result)[1:]
    if result.status is ReplyStatus.UNCHANGED:
        await query.answer(_("You already answered: {answer}.").format(answer=_answer_label(reply.answer)))
    else:
        await query.answer(t("Thank you!"))
        if message is not None:
            await message.answer(_thanks(result))
    await _edit_markup(message, await _markup_after_answer(ctx, actor, absence.id, reply.answer, sibling))


async def child_picked(query: CallbackQuery, callback_data: NoticeAction, ctx: Context, actor: Actor) -> None:
    absence = await absence_in_scope(ctx.session, actor, callback_data.ref)
    if absence is None:
        await query.answer(_refusal(ReplyStatus.FORBIDDEN), show_alert=True)
        return
    if absence.withdrawn_at is not None:
        student = await ctx.session.get_one(Student, absence.student_id)
        await query.answer(_refusal(ReplyStatus.STALE, ReplyResult(ReplyStatus.STALE, absence, student)),
                           show_alert=True)
        return
    student = await ctx.session.get_one(Student, absence.student_id)
    previous = await latest_reply(ctx.session, absence.id, actor.person_id)
    await query.answer(_("{child}: why was the child away?").format(child=student.name))
    await _edit_markup(_message(query), answers_markup(absence.id, previous.answer if previous else None, back=True))


async def back_to_children(query: CallbackQuery, callback_data: NoticeAction, ctx: Context, actor: Actor) -> None:
    markup = await children_markup(ctx, actor, callback_data.ref)
    if markup is None:
        await query.answer(_refusal(ReplyStatus.FORBIDDEN), show_alert=True)
        return
    await query.answer()
    await _edit_markup(_message(query), markup)


WORDS = "words"  # the form's one step


class ReplyWordsForm(Form, state="reply_words", role=GUARDIAN):
    """The few words of the answer 其他, asked under the notice (which keeps its buttons)."""

    cancelled = forms._("Cancelled. Nothing was sent.")
    refused = forms._("This button is not for you, or it is no longer valid. Nothing was changed.")
    over = forms._("You can change your answer with the buttons on the notice.")
    wants_text = forms._("Please write your answer as a text message, or send /cancel.")

    @on.callback_query.enter()
    async def start(self, query: CallbackQuery, ctx: Context, actor: Actor, notice: Message, absence_id: int,
                    sibling: bool, child: str) -> None:
        """Entered from the tap on 其他 (`notice`: its message), once the absence is the guardian's to answer."""
        await self.begin(notice, ctx, actor, WORDS, absence_id=absence_id, notice_id=notice.message_id,
                         sibling=sibling, child=child)

    async def question(self, step: str, answers: dict[str, Any], ctx: Context, actor: Actor) -> tuple[str, Keys]:
        return t("Please write a few words for the teacher about {child} (up to {limit} characters). Send /cancel to "
                 "stop.", child=answers["child"], limit=MAX_TEXT), self.keys(answers, step)

    @on.message(Typed(WORDS))
    async def typed(self, message: Message, answers: dict[str, Any], ctx: Context, actor: Actor, bot: Bot) -> None:
        text = await typed_within(message, MAX_TEXT)
        if text is None:
            return
        await self.close()
        result = await record_reply(ctx.session, ctx.settings, ctx.clock.now(), actor, answers["absence_id"],
                                    GuardianAnswer.OTHER, text)
        if not result.ok:
            await message.answer(escape(_refusal(result.status, result)))
            return
        absence, reply = _recorded(result)[1:]
        await message.answer(_thanks(result) if result.status is ReplyStatus.RECORDED
                             else t("You already answered: {answer}.", answer=_answer_label(reply.answer)))
        markup = await _markup_after_answer(ctx, actor, absence.id, GuardianAnswer.OTHER, answers["sibling"])
        with contextlib.suppress(TelegramBadRequest):
            await bot.edit_message_reply_markup(chat_id=message.chat.id, message_id=answers["notice_id"],
                                                reply_markup=markup)


async def not_yours_tap(query: CallbackQuery) -> None:
    """Anyone who is not a guardian taps an answer button (a guardian of another child is refused by the service,
    with the same words)."""
    await query.answer(_refusal(ReplyStatus.FORBIDDEN), show_alert=True)


def make_router() -> Router:
    """A fresh router with this flow's handlers: the guardians' taps behind one router-wide filter, then one refusal
    for anyone else; the form of the words for 其他."""
    answer, pick, kids = (NoticeAction.filter(F.action == action)
                          for action in (REPLY_ACTION, PICK_ACTION, KIDS_ACTION))
    guardians = Router(name="handlers.guardian.answers.guardians")
    guardians.callback_query.filter(GUARDIAN)
    guardians.callback_query.register(answer_tapped, answer)
    guardians.callback_query.register(child_picked, pick)
    guardians.callback_query.register(back_to_children, kids)
    refusals = Router(name="handlers.guardian.answers.refusals")
    for trigger in (answer, pick, kids):
        refusals.callback_query.register(not_yours_tap, trigger)
    router = Router(name="handlers.guardian.answers")
    router.include_routers(guardians, refusals, ReplyWordsForm.router())
    return router
