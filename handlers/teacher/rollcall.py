"""The daily roll call (点名): opening it, taps on names and pages (the working copy, no database), and the taps
that act on the stored roll call through `bot.rollcall`, editing the one message in place."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, Update
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import Clock
from bot.core.scope import Actor, actor_by_contact
from bot.core.settings import Settings
from bot.delivery.telegram import NoticeAction
from bot.rollcall import service as rc
from bot.rollcall.reminders import OPEN_ACTION
from bot.rollcall.service import Ask, Summary
from bot.rollcall.view import ErrorCode, RollCallError, RollCallView, paged, toggled
from handlers.cases.returned import offer_close_returned
from handlers.menu import ROLL_CALL, is_button, takes_roll
from handlers.onboarding import answer_unlinked
from handlers.roll_copies import WorkingCopies, WorkingCopy
from handlers.teacher.view import (
    AllPresent,
    Back,
    OpenClass,
    Page,
    Reason,
    Reopen,
    Status,
    Submit,
    Tap,
    _button,
    _refusal,
    render,
)
from handlers.texts import t
from storage.models import Channel, Person


async def roll(
    message: Message, session: AsyncSession, clock: Clock, settings: Settings, person: Person | None,
    actor: Actor | None, state: FSMContext, locale: str,
) -> None:
    if person is None:
        await answer_unlinked(message)
        return
    if actor is None or not takes_roll(actor):
        await message.answer(t("The roll call is for class teachers."))
        return
    classes = await rc.roll_call_classes(session, actor)
    if not classes:
        await message.answer(t("You have no class to take the roll for."))
        return
    if len(classes) > 1:
        rows = [[_button(ref.name, OpenClass(c=ref.id))] for ref in classes]
        await message.answer(t("Which class?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
        return
    copies = WorkingCopies(state)
    try:
        result = await _open(session, clock, settings, actor, copies, classes[0].id)
    except RollCallError as error:
        await message.answer(_refusal(error))
        return
    text, keyboard = render(result)
    await message.answer(text, reply_markup=keyboard)
    await _keep(copies, result, locale)


async def class_chosen(
    query: CallbackQuery, callback_data: OpenClass, session: AsyncSession, clock: Clock, settings: Settings,
    actor: Actor | None, state: FSMContext, locale: str,
) -> None:
    await _open_from_button(query, session, clock, settings, actor, WorkingCopies(state), locale, callback_data.c)


async def reminder_tapped(
    query: CallbackQuery, callback_data: NoticeAction, session: AsyncSession, clock: Clock, settings: Settings,
    actor: Actor | None, state: FSMContext, locale: str,
) -> None:
    """The button under the roll-call reminder: open that class's roll call."""
    await _open_from_button(query, session, clock, settings, actor, WorkingCopies(state), locale, callback_data.ref)


async def _open_from_button(
    query: CallbackQuery, session: AsyncSession, clock: Clock, settings: Settings, actor: Actor | None,
    copies: WorkingCopies, locale: str, class_id: int,
) -> None:
    try:
        if actor is None:
            raise RollCallError(ErrorCode.NOT_ALLOWED)
        result = await _open(session, clock, settings, actor, copies, class_id)
    except RollCallError as error:
        await query.answer(_refusal(error), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        text, keyboard = render(result)
        await query.message.answer(text, reply_markup=keyboard)
        await _keep(copies, result, locale)


async def _open(
    session: AsyncSession, clock: Clock, settings: Settings, actor: Actor, copies: WorkingCopies, class_id: int
) -> RollCallView | Summary:
    """Today's roll call of the class with the actor's unsaved taps saved into it; once submitted, what was
    recorded."""
    now = clock.now()
    working = await copies.for_class(class_id, rc.today_in(now, settings.tz))
    view = await rc.open_roll_call(session, now, actor, class_id, settings.tz, working.view if working else None)
    return await rc.status(session, now, actor, view.roll_call_id, settings.tz) if view.submitted else view


async def _keep(copies: WorkingCopies, result: RollCallView | Ask | Summary, locale: str) -> None:
    """What the person now sees becomes their working copy; a submitted roll call needs none."""
    view = result.view if isinstance(result, Ask) else result
    if isinstance(view, RollCallView) and not view.submitted:
        await copies.put(view, locale)
    else:
        await copies.drop(result.roll_call_id if isinstance(result, Summary) else view.roll_call_id)


_COPY_PREFIXES = frozenset({Tap.__prefix__, Page.__prefix__})


def served_from_working_copy(update: Update) -> bool:
    """A tap on a name or a page, which the person's working copy serves: `DatabaseMiddleware` does not look up
    who is acting for it, and its handler does so only when the copy cannot serve it."""
    query = update.callback_query
    return query is not None and (query.data or "").partition(":")[0] in _COPY_PREFIXES


async def tapped(query: CallbackQuery, callback_data: Tap, session: AsyncSession, clock: Clock, settings: Settings,
                 state: FSMContext, i18n: I18n, locale: str) -> None:
    d = callback_data
    await _change_copy(query, session, clock, settings, WorkingCopies(state), i18n, locale, d.r, d.v,
                       lambda view: toggled(view, d.s, bool(d.a)))


async def paged_to(query: CallbackQuery, callback_data: Page, session: AsyncSession, clock: Clock, settings: Settings,
                   state: FSMContext, i18n: I18n, locale: str) -> None:
    d = callback_data
    await _change_copy(query, session, clock, settings, WorkingCopies(state), i18n, locale, d.r, d.v,
                       lambda view: paged(view, d.p))


async def _change_copy(
    query: CallbackQuery, session: AsyncSession, clock: Clock, settings: Settings, copies: WorkingCopies, i18n: I18n,
    locale: str, roll_call_id: int, revision: int, change: Callable[[RollCallView], RollCallView],
) -> None:
    """Change the working copy and show it. Without a copy for this keyboard (the bot restarted, or the keyboard
    is outdated) the database decides, as for any other tap, and says so when marks shown were not saved."""
    copy = await copies.get(roll_call_id)
    today = rc.today_in(clock.now(), settings.tz)
    lost = False
    if copy is None or copy.view.revision != revision or copy.view.day != today:
        copy = await _copy_from_database(query, session, clock, settings, copies, i18n, locale, roll_call_id,
                                         revision)
        if copy is None:
            return
        lost = _shows_unsaved_marks(query, copy.view)
    with i18n.use_locale(copy.locale):
        try:
            view = change(copy.view)
        except RollCallError as error:
            await query.answer(_refusal(error), show_alert=True)
            return
        await _show(query, view)
        await copies.put(view, copy.locale)
        await query.answer(_refusal(RollCallError(ErrorCode.UNSAVED)) if lost else None, show_alert=lost)


async def _copy_from_database(
    query: CallbackQuery, session: AsyncSession, clock: Clock, settings: Settings, copies: WorkingCopies, i18n: I18n,
    locale: str, roll_call_id: int, revision: int,
) -> WorkingCopy | None:
    """The stored draft as a working copy, after the service's checks; None once refused (the person is told)."""
    _, actor = await actor_by_contact(session, Channel.TELEGRAM, str(query.from_user.id))
    locale = actor.locale if actor and actor.locale else locale
    with i18n.use_locale(locale):
        try:
            if actor is None:
                raise RollCallError(ErrorCode.NOT_ALLOWED)
            view = await rc.draft_view(session, clock.now(), actor, roll_call_id, revision=revision, tz=settings.tz)
        except RollCallError as error:
            await _refuse(query, error, session, clock, settings, actor, copies, locale, roll_call_id)
            return None
    return WorkingCopy(view, locale)


def _shows_unsaved_marks(query: CallbackQuery, view: RollCallView) -> bool:
    """Whether the tapped keyboard shows a student absent or present otherwise than `view` has them."""
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    absent = {mark.student_id: mark.absent for mark in view.marks}
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            data = button.callback_data or ""
            if data.startswith(f"{Tap.__prefix__}:"):
                shown = Tap.unpack(data)
                if absent.get(shown.s, shown.a == 0) != (shown.a == 0):
                    return True
    return False


async def _show(query: CallbackQuery, result: RollCallView | Ask | Summary) -> None:
    """Edit the tapped message in place (never a new message per tap)."""
    if not isinstance(query.message, Message):
        return
    text, keyboard = render(result)
    try:
        await query.message.edit_text(text, reply_markup=keyboard)
    except TelegramBadRequest as error:
        if "not modified" not in str(error):
            raise


async def _refuse(
    query: CallbackQuery, error: RollCallError, session: AsyncSession, clock: Clock, settings: Settings,
    actor: Actor | None, copies: WorkingCopies, locale: str, roll_call_id: int,
) -> None:
    """A clear alert; a submitted or outdated roll call is shown as it is now (with 「修改」 to reopen)."""
    await query.answer(_refusal(error), show_alert=True)
    if actor is None or error.code not in (ErrorCode.SUBMITTED, ErrorCode.OUTDATED, ErrorCode.UNSAVED):
        return
    now = clock.now()
    with contextlib.suppress(RollCallError):
        view = await rc.current_view(session, now, actor, roll_call_id, settings.tz)
        current = await rc.status(session, now, actor, roll_call_id, settings.tz) if view.submitted else view
        await _show(query, current)
        await _keep(copies, current, locale)


async def _act(
    query: CallbackQuery, session: AsyncSession, clock: Clock, settings: Settings, actor: Actor | None,
    copies: WorkingCopies, locale: str, roll_call_id: int,
    action: Callable[[Actor, datetime], Awaitable[RollCallView | Ask | Summary]],
) -> None:
    """Run one service call for the tapping actor and show its result, or refuse."""
    try:
        if actor is None:
            raise RollCallError(ErrorCode.NOT_ALLOWED)
        result = await action(actor, clock.now())
    except RollCallError as error:
        await _refuse(query, error, session, clock, settings, actor, copies, locale, roll_call_id)
        return
    await _show(query, result)
    await _keep(copies, result, locale)
    await query.answer()
    if isinstance(result, Summary) and result.recorded and isinstance(query.message, Message):
        await offer_close_returned(query.message, session, clock, settings, actor, result)  # open cases back


async def all_present(query: CallbackQuery, callback_data: AllPresent, session: AsyncSession, clock: Clock,
                      settings: Settings, actor: Actor | None, state: FSMContext, locale: str) -> None:
    d = callback_data
    await _act(query, session, clock, settings, actor, WorkingCopies(state), locale, d.r,
               lambda actor, now: rc.mark_all_present(session, settings, now, actor, d.r, revision=d.v))


async def submitted(query: CallbackQuery, callback_data: Submit, session: AsyncSession, clock: Clock,
                    settings: Settings, actor: Actor | None, state: FSMContext, locale: str) -> None:
    """Save the working copy and record it. Without a copy, marks the keyboard shows may be lost: then nothing is
    recorded, and the roll call is shown as saved, to check."""
    d = callback_data
    copies = WorkingCopies(state)

    async def submit(actor: Actor, now: datetime) -> RollCallView | Ask | Summary:
        copy = await copies.get(d.r)
        if copy is None or copy.view.revision != d.v:
            saved = await rc.draft_view(session, now, actor, d.r, revision=d.v, tz=settings.tz)
            if _shows_unsaved_marks(query, saved):
                raise RollCallError(ErrorCode.UNSAVED)
        return await rc.submit(session, settings, now, actor, d.r, revision=d.v, working=copy.view if copy else None)

    await _act(query, session, clock, settings, actor, copies, locale, d.r, submit)


async def reason_chosen(query: CallbackQuery, callback_data: Reason, session: AsyncSession, clock: Clock,
                        settings: Settings, actor: Actor | None, state: FSMContext, locale: str) -> None:
    d = callback_data
    await _act(query, session, clock, settings, actor, WorkingCopies(state), locale, d.r,
               lambda actor, now: rc.set_reason(session, settings, now, actor, d.r, d.s, d.why, revision=d.v))


async def back_to_roll(query: CallbackQuery, callback_data: Back, session: AsyncSession, clock: Clock,
                       settings: Settings, actor: Actor | None, state: FSMContext, locale: str) -> None:
    d = callback_data
    await _act(query, session, clock, settings, actor, WorkingCopies(state), locale, d.r,
               lambda actor, now: rc.current_view(session, now, actor, d.r, settings.tz))


async def reopened(query: CallbackQuery, callback_data: Reopen, session: AsyncSession, clock: Clock,
                   settings: Settings, actor: Actor | None, state: FSMContext, locale: str) -> None:
    d = callback_data
    await _act(query, session, clock, settings, actor, WorkingCopies(state), locale, d.r,
               lambda actor, now: rc.reopen(session, now, actor, d.r, settings.tz))


async def show_status(query: CallbackQuery, callback_data: Status, session: AsyncSession, clock: Clock,
                      settings: Settings, actor: Actor | None, state: FSMContext, locale: str) -> None:
    d = callback_data
    await _act(query, session, clock, settings, actor, WorkingCopies(state), locale, d.r,
               lambda actor, now: rc.status(session, now, actor, d.r, settings.tz))


def make_router() -> Router:
    """A fresh router with this flow's handlers."""
    router = Router(name="handlers.teacher.rollcall")
    router.message.register(roll, F.text.func(lambda text: is_button(text, ROLL_CALL)))
    router.message.register(roll, Command("roll"))
    router.callback_query.register(class_chosen, OpenClass.filter())
    router.callback_query.register(reminder_tapped, NoticeAction.filter(F.action == OPEN_ACTION))
    router.callback_query.register(tapped, Tap.filter())
    router.callback_query.register(paged_to, Page.filter())
    router.callback_query.register(all_present, AllPresent.filter())
    router.callback_query.register(submitted, Submit.filter())
    router.callback_query.register(reason_chosen, Reason.filter())
    router.callback_query.register(back_to_roll, Back.filter())
    router.callback_query.register(reopened, Reopen.filter())
    router.callback_query.register(show_status, Status.filter())
    return router
