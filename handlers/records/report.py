"""`/report`: an officer chooses one of their scopes (when they have several) and a month, and gets that month's
report: the summary, the chart and the ledgers, as the schedule sends them."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import get_i18n
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.clock import to_local
from bot.core.scope import Actor
from bot.notices.outbox import render_notice
from bot.records.service import RecordsNotAllowed, recent_months, report_on_demand, report_scopes
from handlers.context import Context
from handlers.roles import REPORTER
from handlers.texts import t


class ReportPick(CallbackData, prefix="rp"):
    level: str  # a bot.records.scope.Level value
    unit: int  # the school's, township's or county's id
    month: str  # "2026-11"


def make_router() -> Router:
    router = Router(name="records.report")
    router.message.register(report_command, Command("report"), REPORTER)
    router.message.register(not_for_you, Command("report"))
    router.callback_query.register(report_chosen, ReportPick.filter(), REPORTER)
    router.callback_query.register(tap_not_for_you, ReportPick.filter())
    return router


async def report_command(message: Message, ctx: Context, actor: Actor) -> None:
    scopes = await report_scopes(ctx.session, actor)
    if not scopes:
        await message.answer(t("Reports are for school, township and county officers."))
        return
    months = recent_months(to_local(ctx.clock.now(), ctx.settings.tz).date())
    keyboard = InlineKeyboardBuilder()  # a row per scope with its last two months, then the first scope's earlier
    for scope in scopes:
        for month in months[:2]:
            keyboard.button(text=f"{scope.name} · {month.label}",
                            callback_data=ReportPick(level=scope.level.value, unit=scope.id, month=month.label))
    for month in months[2:]:
        keyboard.button(text=month.label,
                        callback_data=ReportPick(level=scopes[0].level.value, unit=scopes[0].id, month=month.label))
    keyboard.adjust(*[len(months[:2])] * len(scopes), len(months[2:]) or 1)
    await message.answer(t("Which report? Choose the month (earlier months of {scope} below).",
                           scope=scopes[0].name), reply_markup=keyboard.as_markup())


async def report_chosen(query: CallbackQuery, callback_data: ReportPick, ctx: Context, actor: Actor) -> None:
    locale = get_i18n().current_locale
    try:
        scope_key = f"{callback_data.level}:{callback_data.unit}"
        report = await report_on_demand(ctx.session, actor, ctx.clock.now(), scope_key, callback_data.month, locale)
    except RecordsNotAllowed:
        await query.answer(t("You cannot see this report."), show_alert=True)
        return
    await query.answer()
    if query.message is None:
        return
    chat = query.message.chat.id
    bot = query.bot
    assert bot is not None  # a callback from a live update always has its bot
    await bot.send_message(chat, render_notice("monthly_report", locale, report.values))
    await bot.send_photo(chat, BufferedInputFile(report.chart, report.chart_name),
                         caption=render_notice("report_chart", locale, report.values))
    await bot.send_document(chat, BufferedInputFile(report.workbook, report.workbook_name),
                            caption=render_notice("report_workbook", locale, report.values))


async def not_for_you(message: Message) -> None:
    await message.answer(t("Reports are for school, township and county officers."))


async def tap_not_for_you(query: CallbackQuery) -> None:
    await query.answer(t("You cannot see this report."), show_alert=True)
