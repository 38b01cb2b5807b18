"""Role filters: a handler registered with one runs only for a person who holds the role, and receives that
person's `Actor` (never None) as `actor`. Whoever is outside falls through to the refusal handler registered after
it for the same trigger, so no handler body checks who is acting.

    router.message.register(cases_command, Command("cases"), STAFF)
    router.message.register(not_for_you, Command("cases"))  # anyone else
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from bot.core.scope import Actor
from handlers.menu import takes_roll
from storage.models import Role


class Holds(Filter):
    """Passes when the person is linked and `allows` their actor; adds `actor` to the handler's arguments."""

    def __init__(self, allows: Callable[[Actor], bool]) -> None:
        self.allows = allows

    async def __call__(self, event: TelegramObject, actor: Actor | None = None) -> bool | dict[str, Any]:
        if actor is None or not self.allows(actor):
            return False
        return {"actor": actor}


LINKED = Holds(lambda actor: True)
STAFF = Holds(lambda actor: actor.is_staff)
GUARDIAN = Holds(lambda actor: actor.is_guardian)
TAKES_ROLL = Holds(takes_roll)
OFFICER = Holds(lambda actor: actor.has_role(Role.SCHOOL_ADMIN, Role.PRINCIPAL))
TOWNSHIP = Holds(lambda actor: actor.has_role(Role.TOWNSHIP_OFFICER))
REPORTER = Holds(lambda actor: actor.has_role(Role.SCHOOL_ADMIN, Role.PRINCIPAL, Role.TOWNSHIP_OFFICER,
                                              Role.COUNTY_OFFICER))  # monthly reports of their scope
DECIDES_LEAVE = TAKES_ROLL  # the class's teacher or the school's officers (bot.families.leave.decide_leave)
ENROLS = REPORTER  # the same officers record enrolment changes (bot.records.enrolment.may_record)
