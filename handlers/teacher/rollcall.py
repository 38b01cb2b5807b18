"""The daily roll call (点名): opening it, taps on names and pages (the working copy, no database), and the taps
that act on the stored roll call through `bot.rollcall`, editing the one message in place."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.types import CallbackQuery, Message, Update
from aiogram.utils.i18n import I18n
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.scope import Actor, actor_by_contact
from bot.delivery.telegram import NoticeAction
from bot.rollcall import service as rc
from bot.rollcall.reminders import OPEN_ACTION
from bot.rollcall.service import Ask, Summary
from bot.rollcall.view import ErrorCode, RollCallError, RollCallView, paged, toggled
from handlers.cases.returned import offer_close_returned
from handlers.context import Context
from handlers.menu import ROLL_CALL, is_button
from handlers.onboarding import answer_unlinked
from handlers.roles import LINKED, TAKES_ROLL
from handlers.roll_copies import WorkingCopy
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
    _refusal,
    render,
)
from handlers.texts import t
from storage.models import Channel


async def roll(message: Message, ctx: Context, actor: Actor) -> None:
    classes = await rc.roll_call_classes(ctx.session, actor)
    if not classes:
        await message.answer(t("You have no class to take the roll for."))
        return
    if len(classes) > 1:
        choice = InlineKeyboardBuilder()
        for ref in classes:
            choice.button(text=ref.name, callback_data=OpenClass(c=ref.id))
        choice.adjust(1)
        await message.answer(t("Which class?"), reply_markup=choice.as_markup())
        return
    try:
        result = await _open(ctx, actor, classes[0].id)
    except RollCallError as error:
        await message.answer(_refusal(error))
        return
    text, keyboard = render(result)
    await message.answer(text, reply_markup=keyboard)
    await _keep(ctx, result)


async def class_chosen(query: CallbackQuery, callback_data: OpenClass, ctx: Context, actor: Actor) -> None:
    await _open_from_button(query, ctx, actor, callback_data.c)


async def reminder_tapped(query: CallbackQuery, callback_data: NoticeAction, ctx: Context, actor: Actor) -> None:
    """The button under the roll-call reminder: open that class's roll call."""
    await _open_from_button(query, ctx, actor, callback_data.ref)


async def _open_from_button(query: CallbackQuery, ctx: Context, actor: Actor, class_id: int) -> None:
    try:
        result = await _open(ctx, actor, class_id)
    except RollCallError as error:
        await query.answer(_refusal(error), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        text, keyboard = render(result)
        await query.message.answer(text, reply_markup=keyboard)
        await _keep(ctx, result)


async def _open(ctx: Context, actor: Actor, class_id: int) -> RollCallView | Summary:
    """Today's roll call of the class with the actor's unsaved taps saved into it; once submitted, what was
    recorded."""
    now = ctx.clock.now()
    working = await ctx.copies.for_class(class_id, rc.today_in(now, ctx.settings.tz))
    view = await rc.open_roll_call(ctx.session, now, actor, class_id, ctx.settings.tz,
                                   working.view if working else None)
    return await rc.status(ctx.session, now, actor, view.roll_call_id, ctx.settings.tz) if view.submitted else view


async def _keep(ctx: Context, result: RollCallView | Ask | Summary) -> None:
    """What the person now sees becomes their working copy; a submitted roll call needs none."""
    view = result.view if isinstance(result, Ask) else result
    if isinstance(view, RollCallView) and not view.submitted:
        await ctx.copies.put(view, ctx.locale)
    else:
        await ctx.copies.drop(result.roll_call_id if isinstance(result, Summary) else view.roll_call_id)


_COPY_PREFIXES = frozenset({Tap.__prefix__, Page.__prefix__})


def served_from_working_copy(update: Update) -> bool:
    """A tap on a name or a page, which the person's working copy serves: `DatabaseMiddleware` does not look up
    who is acting for it, and its handler does so only when the copy cannot serve it."""
    query = update.callback_query
    return query is not None and (query.data or "").partition(":")[0] in _COPY_PREFIXES


async def tapped(query: CallbackQuery, callback_data: Tap, ctx: Context, i18n: I18n) -> None:
    d = callback_data
    await _change_copy(query, ctx, i18n, d.r, d.v,
                       lambda view: toggled(view, d.s, bool(d.a)))


async def paged_to(query: CallbackQuery, callback_data: Page, ctx: Context, i18n: I18n) -> None:
    d = callback_data
    await _change_copy(query, ctx, i18n, d.r, d.v,
                       lambda view: paged(view, d.p))


async def _change_copy(
    query: CallbackQuery, ctx: Context, i18n: I18n, roll_call_id: int, revision: int,
    change: Callable[[RollCallView], RollCallView],
) -> None:
    """Change the working copy and show it. Without a copy for this keyboard (the bot restarted, or the keyboard
    is outdated) the database decides, as for any other tap, and says so when marks shown were not saved."""
    copy = await ctx.copies.get(roll_call_id)
    today = rc.today_in(ctx.clock.now(), ctx.settings.tz)
    lost = False
    if copy is None or copy.view.revision != revision or copy.view.day != today:
        copy = await _copy_from_database(query, ctx, i18n, roll_call_id, revision)
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
        await ctx.copies.put(view, copy.locale)
        await query.answer(_refusal(RollCallError(ErrorCode.UNSAVED)) if lost else None, show_alert=lost)


async def _copy_from_database(
    query: CallbackQuery, ctx: Context, i18n: I18n, roll_call_id: int, revision: int,
) -> WorkingCopy | None:
    """The stored draft as a working copy, after the service's checks; None once refused (the person is told)."""
    ctx.person, ctx.actor = await actor_by_contact(ctx.session, Channel.TELEGRAM, str(query.from_user.id))
    actor = ctx.actor
    ctx.locale = actor.locale if actor and actor.locale else ctx.locale
    with i18n.use_locale(ctx.locale):
        if actor is None:  # looked up here, not by a role filter: the fast path looks nobody up
            await not_linked_tap(query)
            return None
        try:
            view = await rc.draft_view(ctx.session, ctx.clock.now(), actor, roll_call_id, revision=revision,
                                       tz=ctx.settings.tz)
        except RollCallError as error:
            await _refuse(query, error, ctx, actor, roll_call_id)
            return None
    return WorkingCopy(view, ctx.locale)


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
    query: CallbackQuery, error: RollCallError, ctx: Context, actor: Actor, roll_call_id: int,
) -> None:
    """A clear alert; a submitted or outdated roll call is shown as it is now (with 「修改」 to reopen)."""
    await query.answer(_refusal(error), show_alert=True)
    if error.code not in (ErrorCode.SUBMITTED, ErrorCode.OUTDATED, ErrorCode.UNSAVED):
        return
    now = ctx.clock.now()
    with contextlib.suppress(RollCallError):
        view = await rc.current_view(ctx.session, now, actor, roll_call_id, ctx.settings.tz)
        current = await rc.status(ctx.session, now, actor, roll_call_id, ctx.settings.tz) if view.submitted else view
        await _show(query, current)
        await _keep(ctx, current)


async def _act(
    query: CallbackQuery, ctx: Context, actor: Actor, roll_call_id: int,
    action: Callable[[Actor, datetime], Awaitable[RollCallView | Ask | Summary]],
) -> None:
    """Run one service call for the tapping actor and show its result, or refuse."""
    try:
        result = await action(actor, ctx.clock.now())
    except RollCallError as error:
        await _refuse(query, error, ctx, actor, roll_call_id)
        return
    await _show(query, result)
    await _keep(ctx, result)
    await query.answer()
    if isinstance(result, Summary) and result.recorded and isinstance(query.message, Message):
        await offer_close_returned(query.message, ctx, actor, result)  # open cases back


async def all_present(query: CallbackQuery, callback_data: AllPresent, ctx: Context, actor: Actor) -> None:
    d = callback_data
    await _act(query, ctx, actor, d.r,
               lambda actor, now: rc.mark_all_present(ctx.session, ctx.settings, now, actor, d.r, revision=d.v))


async def submitted(query: CallbackQuery, callback_data: Submit, ctx: Context, actor: Actor) -> None:
    """Save the working copy and record it. Without a copy, marks the keyboard shows may be lost: then nothing is
    recorded, and the roll call is shown as saved, to check."""
    d = callback_data

    async def submit(actor: Actor, now: datetime) -> RollCallView | Ask | Summary:
        copy = await ctx.copies.get(d.r)
        if copy is None or copy.view.revision != d.v:
            saved = await rc.draft_view(ctx.session, now, actor, d.r, revision=d.v, tz=ctx.settings.tz)
            if _shows_unsaved_marks(query, saved):
                raise RollCallError(ErrorCode.UNSAVED)
        return await rc.submit(ctx.session, ctx.settings, now, actor, d.r, revision=d.v,
                               working=copy.view if copy else None)

    await _act(query, ctx, actor, d.r, submit)


async def reason_chosen(query: CallbackQuery, callback_data: Reason, ctx: Context, actor: Actor) -> None:
    d = callback_data
    await _act(query, ctx, actor, d.r,
               lambda actor, now: rc.set_reason(ctx.session, ctx.settings, now, actor, d.r, d.s, d.why, revision=d.v))


async def back_to_roll(query: CallbackQuery, callback_data: Back, ctx: Context, actor: Actor) -> None:
    d = callback_data
    await _act(query, ctx, actor, d.r,
               lambda actor, now: rc.current_view(ctx.session, now, actor, d.r, ctx.settings.tz))


async def reopened(query: CallbackQuery, callback_data: Reopen, ctx: Context, actor: Actor) -> None:
    d = callback_data
    await _act(query, ctx, actor, d.r,
               lambda actor, now: rc.reopen(ctx.session, now, actor, d.r, ctx.settings.tz))


async def show_status(query: CallbackQuery, callback_data: Status, ctx: Context, actor: Actor) -> None:
    d = callback_data
    await _act(query, ctx, actor, d.r,
               lambda actor, now: rc.status(ctx.session, now, actor, d.r, ctx.settings.tz))


async def not_a_teacher(message: Message) -> None:
    await message.answer(t("The roll call is for class teachers."))


async def not_linked_tap(query: CallbackQuery) -> None:
    """Anyone not linked who taps a roll-call button (the service refuses the rest)."""
    await query.answer(_refusal(RollCallError(ErrorCode.NOT_ALLOWED)), show_alert=True)


def guarded(name: str, *registrations: tuple[Callable[..., Awaitable[None]], CallbackQueryFilter]) -> Router:
    """The callback handlers behind one router-wide `LINKED` filter, and `not_linked_tap` for the same triggers."""
    acts = Router(name=name)
    acts.callback_query.filter(LINKED)
    refusals = Router(name=f"{name}.refusals")
    for handler, trigger in registrations:
        acts.callback_query.register(handler, trigger)
        refusals.callback_query.register(not_linked_tap, trigger)
    router = Router(name=f"{name}.guarded")
    router.include_routers(acts, refusals)
    return router


def make_router() -> Router:
    """A fresh router with this flow's handlers. Taps on names and pages stay outside any role filter: their person
    is not looked up (the working copy serves them)."""
    router = Router(name="handlers.teacher.rollcall")
    for trigger in (F.text.func(lambda text: is_button(text, ROLL_CALL)), Command("roll")):
        router.message.register(roll, trigger, TAKES_ROLL)
        router.message.register(not_a_teacher, trigger, LINKED)
        router.message.register(answer_unlinked, trigger)
    router.callback_query.register(tapped, Tap.filter())
    router.callback_query.register(paged_to, Page.filter())
    router.include_router(guarded(
        "handlers.teacher.rollcall.acts",
        (class_chosen, OpenClass.filter()),
        (reminder_tapped, NoticeAction.filter(F.action == OPEN_ACTION)),
        (all_present, AllPresent.filter()),
        (submitted, Submit.filter()),
        (reason_chosen, Reason.filter()),
        (back_to_roll, Back.filter()),
        (reopened, Reopen.filter()),
        (show_status, Status.filter()),
    ))
    return router
