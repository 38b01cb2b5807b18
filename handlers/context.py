"""The one object a handler receives for everything about the update it answers (`ctx: Context`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from aiogram.fsm.context import FSMContext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import Clock
from bot.core.scope import Actor
from bot.core.settings import Settings
from handlers.roll_copies import WorkingCopies
from storage.models import Person


@dataclass
class Context:
    """Built by `DatabaseMiddleware` for each update; `LocaleMiddleware` fills in `locale`.

    `person`/`actor` are None for someone not linked, and for a tap the roll call's working copy serves
    (`lookup_deferred`: its handler looks the person up only if it must). `wake_sender` is called after a commit
    that queued notices; handlers never need it. `state` is aiogram's FSM context of the update's chat and user.
    """

    session: AsyncSession
    clock: Clock
    settings: Settings
    person: Person | None
    actor: Actor | None
    lookup_deferred: bool
    wake_sender: Callable[[], None]
    state: FSMContext | None = None
    locale: str = ""

    @cached_property
    def copies(self) -> WorkingCopies:
        """The person's roll-call working copies (`handlers/roll_copies.py`), beside their forms' state."""
        if self.state is None:
            raise LookupError("this update has no chat and user to keep working copies for")
        return WorkingCopies(self.state)
