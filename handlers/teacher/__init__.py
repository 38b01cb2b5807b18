"""Class teacher: the daily roll call (点名) and its corrections, the expected return day, and the decision on a
guardian's leave request.

Thin: a handler reads the tap, calls one function of `bot.rollcall` (or `bot.families.leave`) and renders what it
returns, editing the same message in place. A tap on a name or a page changes only the teacher's working copy
(`handlers.roll_copies`, pure changes in `bot.rollcall.view`) and needs no database; every other tap goes through the
service, which saves the copy. Buttons carry short int ids (never names); they are checked against the copy or, by
the service, against the person tapping. Taps: all present = menu + 「全部到校」; one absent = menu + name +
「提交」 + reason.
"""

from aiogram import Router

from handlers.teacher import leave_decision, return_day, rollcall


def make_router() -> Router:
    """The teacher's flows, in the order their handlers are tried."""
    router = Router(name="teacher")
    router.include_routers(rollcall.make_router(), return_day.make_router(), leave_decision.make_router())
    return router
