"""Records: /report (an officer's monthly report on demand) and /enrol (the enrolment-change form, a Scene)."""

from aiogram import Router

from handlers.records import enrolment, report


def make_router() -> Router:
    router = Router(name="records")
    router.include_routers(report.make_router(), enrolment.make_router())
    return router
