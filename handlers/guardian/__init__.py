"""Guardian: answers to absence notices (`answers`) and leave requests (`leave_form`); the teacher's decision on a
request lives with the teacher (`handlers.teacher.leave_decision`).

Thin: each handler reads the tap, calls one function of `bot.families` (replies, leave) and renders what it
returns. Callback data carries ids only and is never trusted: the services re-check that the tapping person is a
guardian of that child (or the child's teacher, for decisions); a forged or stale tap gets a clear refusal and
changes nothing.
"""

from aiogram import Router

from handlers.guardian import answers, leave_form


def make_router() -> Router:
    """The guardian's flows, in the order their handlers are tried."""
    router = Router(name="guardian")
    router.include_routers(answers.make_router(), leave_form.make_router())
    return router
