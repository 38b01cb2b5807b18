"""The roll call's buttons (CallbackData factories carrying short int ids, never names) and how a roll call,
its questions and its summary are drawn, with the one place a roll-call refusal becomes text."""

from __future__ import annotations

from functools import lru_cache

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.rollcall.service import Ask, Summary
from bot.rollcall.view import ErrorCode, Mark, RollCallError, RollCallView
from handlers.texts import short_day, t
from storage.models import AbsenceReason

WIDE_PAGE = 24  # more names than this on a page: four per row instead of three


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
    """A button of the roll call's name grid (the one keyboard not drawn with the builder: see `_view_keyboard`)."""
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
    """The names three (or four) a row, the page arrows, then 「全部到校」 and 「提交」. Drawn as plain rows of the
    cached buttons, not with `InlineKeyboardBuilder` as every other keyboard: the builder deep-copies every button at
    each step, which costs a 40-pupil tap about a millisecond, a tenth of it (docs/performance.md)."""
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

    keyboard = InlineKeyboardBuilder()
    for why in (AbsenceReason.SICK, AbsenceReason.PERSONAL, AbsenceReason.UNEXPLAINED, AbsenceReason.UNKNOWN):
        keyboard.button(text=reason_label(why),
                        callback_data=Reason(r=view.roll_call_id, s=student.student_id, why=why, v=view.revision))
    keyboard.button(text=t("◀ Back"), callback_data=Back(r=view.roll_call_id, v=view.revision))
    keyboard.adjust(2, 2, 1)
    return text, keyboard.as_markup()


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
    if summary.no_guardian:
        lines.append(t("📞 No guardian on file for these students; please phone or visit the family: {names}",
                       names="、".join(m.name for m in summary.no_guardian)))
    keyboard = InlineKeyboardBuilder()
    keyboard.button(text=t("✏️ Correct"), callback_data=Reopen(r=summary.roll_call_id))
    if summary.return_candidates:
        keyboard.button(text=t("📅 Return date"), callback_data=ReturnDay(r=summary.roll_call_id, s=0))
    return "\n".join(lines), keyboard.as_markup()


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
