"""The teacher's working copy of a roll call between taps (`bot.rollcall.view`), so a tap on a name needs no database.

Kept in the dispatcher's FSM storage (memory, or Redis when configured) under a destiny of its own, beside the
person's guided forms and never inside them: a form that clears its state leaves the roll call alone. One copy per
roll call the person has open, with the language it is shown in; copies of other days go on the next write. The
dispatcher handles one person's updates one at a time (its event isolation, `bot/app.py`), so two quick taps never
lose one another.

The copy is only ever written by the bot after the service checked the person's scope, under the key of the
Telegram account that tapped, so it vouches for that account; everything in it is checked again when saved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from aiogram.fsm.context import FSMContext

from bot.rollcall.view import RollCallView, from_data, to_data

DESTINY = "roll_call"

@dataclass(frozen=True)
class WorkingCopy:
    view: RollCallView
    locale: str


class WorkingCopies:
    """The working copies of the person an update comes from."""

    def __init__(self, state: FSMContext) -> None:
        self._context = FSMContext(state.storage, replace(state.key, destiny=DESTINY))

    async def get(self, roll_call_id: int) -> WorkingCopy | None:
        entry = (await self._context.get_data()).get(str(roll_call_id))
        return _copy(entry) if entry else None

    async def for_class(self, class_id: int, day: date) -> WorkingCopy | None:
        """The copy of the class's roll call of `day`, if the person has one."""
        for entry in (await self._context.get_data()).values():
            if entry["view"]["class_id"] == class_id and entry["view"]["day"] == day.isoformat():
                return _copy(entry)
        return None

    async def put(self, view: RollCallView, locale: str) -> None:
        kept = {
            key: entry
            for key, entry in (await self._context.get_data()).items()
            if entry["view"]["day"] == view.day.isoformat()
        }
        kept[str(view.roll_call_id)] = {"view": to_data(view), "locale": locale}
        await self._context.set_data(kept)

    async def drop(self, roll_call_id: int) -> None:
        data = await self._context.get_data()
        if data.pop(str(roll_call_id), None) is not None:
            await self._context.set_data(data)


def _copy(entry: dict) -> WorkingCopy:
    return WorkingCopy(from_data(entry["view"]), entry["locale"])
