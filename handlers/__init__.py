"""The router tree, built in one place. Order matters: specific flows first, the catch-all (common) last."""

from functools import cache

from aiogram import Router

from handlers import cases, common, errors, guardian, membership, onboarding, school, teacher


@cache
def _tree() -> Router:
    root = Router(name="root")
    root.include_routers(
        errors.router,
        membership.router,
        onboarding.router,
        teacher.router,
        guardian.router,
        school.router,
        cases.router,
        common.router,
    )
    return root


def build_router() -> Router:
    """The tree, ready to include in a new Dispatcher.

    Handlers are registered on module-level routers, so the tree exists once per process; a process that builds a
    second Dispatcher (tests, the demo, the benchmark) moves it over. aiogram has no public way to detach a router.
    """
    root = _tree()
    root._parent_router = None
    return root
