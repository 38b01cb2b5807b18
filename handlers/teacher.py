"""Class teacher: the daily roll call (点名) and its corrections.

Thin: a handler reads the tap, calls one function of `bot.rollcall` and renders what it returns, editing the same
message in place. A tap on a name or a page changes only the teacher's working copy (`handlers.roll_copies`, pure
changes in `bot.rollcall.view`) and needs no database; every other tap goes through the service, which saves the
copy. Buttons carry short int ids through the CallbackData factories below (never names); they are checked against
the copy or, by the service, against the person tapping. Taps: all present = menu + 「全部到校」; one absent =
menu + name + 「提交」 + reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from functools import lru_cache

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import Clock
from bot.core.scope import Actor, actor_by_contact
from bot.core.settings import Settings
from bot.delivery.telegram import NoticeAction
from bot.rollcall import service as rc
from bot.rollcall.reminders import OPEN_ACTION
from bot.rollcall.service import Ask, Summary
from bot.rollcall.view import ErrorCode, Mark, RollCallError, RollCallView, paged, toggled
from handlers.cases.returned import offer_close_returned
from handlers.menu import ROLL_CALL, is_button, takes_roll
from handlers.onboarding import answer_unlinked
from handlers.roll_copies import WorkingCopies, WorkingCopy
from handlers.texts import short_day, t
from storage.models import AbsenceReason, Channel, Person

WIDE_PAGE = 24  # more names than this on a page: four per row instead of three


# --- callback data (ids only) -------------------------------------------------------------------------------------


class OpenClass(CallbackData, prefix="rco"):
    c: int  # class id


class Tap(CallbackData, prefix="rct"):
    r: int  # roll call id
    s: int  # student id
    a: int  # 1: mark absent, 0: mark present (the state the button offered)
    v: int  # revision the keyboard was drawn for


class Page(CallbackData, prefix="rcp"):
    r: int
    p: int
    v: int


class AllPresent(CallbackData, prefix="rca"):
    r: int
    v: int


class Submit(CallbackData, prefix="rcs"):
    r: int
    v: int


class Reason(CallbackData, prefix="rcr"):
    r: int
    s: int
    why: AbsenceReason
    v: int


class Back(CallbackData, prefix="rcb"):
    r: int
    v: int


class Reopen(CallbackData, prefix="rcx"):
    r: int


class Status(CallbackData, prefix="rcv"):
    r: int


class ReturnDay(CallbackData, prefix="rce"):
    r: int
    s: int  # 0: choose the student first
    d: int = -1  # yyyymmdd; 0: not known; -1: offer the days


# --- rendering ----------------------------------------------------------------------------------------------------


def reason_label(reason: AbsenceReason | None) -> str:
    labels = {
        AbsenceReason.SICK: t("Sick leave"),
        AbsenceReason.PERSONAL: t("Personal leave"),
        AbsenceReason.UNEXPLAINED: t("Unexplained"),
        AbsenceReason.UNKNOWN: t("Reason unknown"),
        AbsenceReason.APPROVED_LEAVE: t("Approved leave"),
    }
    return labels[reason] if reason else t("reason?")


def _absent_line(mark: Mark) -> str:
    line = t("• {name}: {reason}", name=mark.name, reason=reason_label(mark.reason))
    if mark.expected_return:
        line += t(", back {day}", day=short_day(mark.expected_return))
    return line


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


@lru_cache(maxsize=8192)
def _name_button(name: str, roll_call_id: int, student_id: int, absent: bool, revision: int) -> InlineKeyboardButton:
    """A student's button in one state, drawn once: the keyboard is redrawn on every tap, and building its forty
    buttons anew took a tenth of a tap's time. (Buttons are only read once built.)"""
    label = ("❌ " if absent else "✅ ") + name
    return _button(label, Tap(r=roll_call_id, s=student_id, a=int(not absent), v=revision))


def render_view(view: RollCallView) -> tuple[str, InlineKeyboardMarkup]:
    lines = [t("📋 <b>{name}</b> · {day}", name=view.class_name, day=short_day(view.day))]
    if view.revision:
        lines.append(t("✏️ Correcting the submitted roll call."))
    lines.append(t("Present {present}/{total} · absent {absent}", present=view.present_count,
                   total=len(view.marks), absent=len(view.absent)))
    lines += [_absent_line(mark) for mark in view.absent]
    if view.pages > 1:
        lines.append(t("Page {page}/{pages}", page=view.page + 1, pages=view.pages))
    lines.append(t("Tap a name to mark them absent, tap again to undo."))
    return "\n".join(lines), _view_keyboard(view)


def _view_keyboard(view: RollCallView) -> InlineKeyboardMarkup:
    marks = view.page_marks
    width = 4 if len(marks) > WIDE_PAGE else 3
    names = [_name_button(m.name, view.roll_call_id, m.student_id, m.absent, view.revision) for m in marks]
    rows = [names[i : i + width] for i in range(0, len(names), width)]
    paging = []
    if view.page > 0:
        paging.append(_button("◀", Page(r=view.roll_call_id, p=view.page - 1, v=view.revision)))
    if view.page < view.pages - 1:
        paging.append(_button("▶", Page(r=view.roll_call_id, p=view.page + 1, v=view.revision)))
    if paging:
        rows.append(paging)
    rows.append([
        _button(t("All present"), AllPresent(r=view.roll_call_id, v=view.revision)),
        _button(t("Submit"), Submit(r=view.roll_call_id, v=view.revision)),
    ])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def render_ask(ask: Ask) -> tuple[str, InlineKeyboardMarkup]:
    view, student = ask.view, ask.student
    text = t("❓ <b>{name}</b> is absent. Why?", name=student.name)
    if ask.remaining > 1:
        text += "\n" + t("{count} absent students still need a reason.", count=ask.remaining)

    def reason(why: AbsenceReason) -> InlineKeyboardButton:
        return _button(reason_label(why), Reason(r=view.roll_call_id, s=student.student_id, why=why, v=view.revision))

    rows = [
        [reason(AbsenceReason.SICK), reason(AbsenceReason.PERSONAL)],
        [reason(AbsenceReason.UNEXPLAINED), reason(AbsenceReason.UNKNOWN)],
        [_button(t("◀ Back"), Back(r=view.roll_call_id, v=view.revision))],
    ]
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def render_summary(summary: Summary) -> tuple[str, InlineKeyboardMarkup]:
    values = {"name": summary.class_name, "day": short_day(summary.day)}
    if not summary.recorded:
        head = t("📋 <b>Roll call submitted</b>: {name} · {day}", **values)
    elif summary.corrected:
        head = t("✏️ <b>Correction recorded</b>: {name} · {day}", **values)
    else:
        head = t("✅ <b>Roll call recorded</b>: {name} · {day}", **values)
    lines = [head, t("Present {present}/{total}.", present=summary.present, total=summary.total)]
    if summary.absent:
        lines.append(t("Absent:"))
        lines += [_absent_line(mark) for mark in summary.absent]
    else:
        lines.append(t("Nobody is absent."))
    if summary.withdrawn:
        lines.append(t("Now marked present: {names}", names="、".join(m.name for m in summary.withdrawn)))
    if summary.notified:
        lines.append(t("Guardians who will be told:"))
        lines += [t("• {guardian} ({student})", guardian=r.guardian_name, student=r.student_name)
                  for r in summary.notified]
    if summary.unreachable:
        lines.append(t("📞 <b>Not reachable in the bot, please call them</b> (numbers are in your class roster):"))
        lines += [
            t("• {guardian} ({student})", guardian=r.guardian_name, student=r.student_name) if r.has_phone
            else t("• {guardian} ({student}): no phone number in the roster", guardian=r.guardian_name,
                   student=r.student_name)
            for r in summary.unreachable
        ]
    buttons = [_button(t("✏️ Correct"), Reopen(r=summary.roll_call_id))]
    if summary.return_candidates:
        buttons.append(_button(t("📅 Return date"), ReturnDay(r=summary.roll_call_id, s=0)))
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=[buttons])


def render(result: RollCallView | Ask | Summary) -> tuple[str, InlineKeyboardMarkup]:
    if isinstance(result, Ask):
        return render_ask(result)
    if isinstance(result, Summary):
        return render_summary(result)
    return render_view(result)


def _refusal(error: RollCallError) -> str:
    code = error.code
    if code is ErrorCode.NOT_ON_ROLL:
        return t("This student is not on this class's roll.")
    if code is ErrorCode.STALE_DAY:
        return t("This roll call is from {day}. Tap 📋 Roll call for today's.", day=short_day(error.details["day"]))
    if code is ErrorCode.NOT_SCHOOL_DAY:
        return t("{day} is not a school day: there is no roll call to take.", day=short_day(error.details["day"]))
    if code is ErrorCode.SUBMITTED:
        return t("This roll call is already submitted. To change it, tap ✏️ Correct.")
    if code is ErrorCode.OUTDATED:
        return t("These buttons were out of date. Here is the roll call as it is now.")
    if code is ErrorCode.BAD_VALUE:
        return t("This button is no longer valid.")
    if code is ErrorCode.UNSAVED:
        return t("The bot restarted, and marks you made since opening the roll call were lost. Please check the "
                 "list again.")
    return t("You cannot see or change this roll call.")


# --- opening ------------------------------------------------------------------------------------------------------


async def roll(
    message: Message, session: AsyncSession, clock: Clock, settings: Settings, person: Person | None,
    actor: Actor | None, state: FSMContext, locale: str,
) -> None:
    if person is None:
        await answer_unlinked(message)
        return
    if not takes_roll(actor):
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
    view = await rc.open_roll_call(session, now, actor, class_id, settings.tz, working and working.view)
    return await rc.status(session, now, actor, view.roll_call_id, settings.tz) if view.submitted else view


async def _keep(copies: WorkingCopies, result: RollCallView | Ask | Summary, locale: str) -> None:
    """What the person now sees becomes their working copy; a submitted roll call needs none."""
    view = result.view if isinstance(result, Ask) else result
    if isinstance(view, RollCallView) and not view.submitted:
        await copies.put(view, locale)
    else:
        await copies.drop(result.roll_call_id if isinstance(result, Summary) else view.roll_call_id)


# --- taps on names and pages: the working copy --------------------------------------------------------------------

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
            if (button.callback_data or "").startswith(f"{Tap.__prefix__}:"):
                shown = Tap.unpack(button.callback_data)
                if absent.get(shown.s, shown.a == 0) != (shown.a == 0):
                    return True
    return False


# --- taps that act on the stored roll call ------------------------------------------------------------------------


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
        current = await rc.current_view(session, now, actor, roll_call_id, settings.tz)
        if current.submitted:
            current = await rc.status(session, now, actor, roll_call_id, settings.tz)
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
        return await rc.submit(session, settings, now, actor, d.r, revision=d.v, working=copy and copy.view)

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


# --- expected return (optional, after submitting) -----------------------------------------------------------------


async def return_day(query: CallbackQuery, callback_data: ReturnDay, session: AsyncSession, clock: Clock,
                     settings: Settings, actor: Actor | None, state: FSMContext, locale: str) -> None:
    d = callback_data
    try:
        if actor is None:
            raise RollCallError(ErrorCode.NOT_ALLOWED)
        text, keyboard = await _return_step(session, clock, settings, actor, d)
    except RollCallError as error:
        await _refuse(query, error, session, clock, settings, actor, WorkingCopies(state), locale, d.r)
        return
    if isinstance(query.message, Message):
        with contextlib.suppress(TelegramBadRequest):
            await query.message.edit_text(text, reply_markup=keyboard)
    await query.answer()


async def _return_step(
    session: AsyncSession, clock: Clock, settings: Settings, actor: Actor, d: ReturnDay
) -> tuple[str, InlineKeyboardMarkup]:
    """Choose the student (when several), then the day; the day chosen shows the roll call again."""
    now, tz = clock.now(), settings.tz
    if d.d >= 0 and d.s:
        expected = _parse_day(d.d)
        return render(await rc.set_expected_return(session, now, actor, d.r, d.s, expected, tz))
    student_id = d.s
    if not student_id:
        candidates = (await rc.status(session, now, actor, d.r, tz)).return_candidates
        if len(candidates) != 1:
            rows = [[_button(m.name, ReturnDay(r=d.r, s=m.student_id))] for m in candidates]
            rows.append([_button(t("◀ Back"), Status(r=d.r))])
            return t("Whose return date?"), InlineKeyboardMarkup(inline_keyboard=rows)
        student_id = candidates[0].student_id
    mark, days = await rc.return_day_choices(session, now, actor, d.r, student_id, tz)
    rows = [[_button(short_day(day), ReturnDay(r=d.r, s=student_id, d=int(day.strftime("%Y%m%d"))))] for day in days]
    rows.append([_button(t("Not sure"), ReturnDay(r=d.r, s=student_id, d=0)), _button(t("◀ Back"), Status(r=d.r))])
    return t("When is {name} expected back?", name=mark.name), InlineKeyboardMarkup(inline_keyboard=rows)


def _parse_day(value: int) -> date | None:
    if value == 0:
        return None
    try:
        return date(value // 10000, value // 100 % 100, value % 100)
    except ValueError:
        raise RollCallError(ErrorCode.BAD_VALUE) from None


def make_router() -> Router:
    """A fresh router with this module's handlers (one per Dispatcher)."""
    router = Router(name="teacher")
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
    router.callback_query.register(return_day, ReturnDay.filter())
    return router
