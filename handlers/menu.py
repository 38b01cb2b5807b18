"""The persistent menu under the text box: one button for each thing a person does every day.

A class teacher (or a school officer who takes the roll) gets 「📋 点名」, a guardian 「📝 请假」; someone who is both
gets both. It is shown whenever the bot greets a person: on /start, on linking, after consent, on /help.
"""

from __future__ import annotations

from aiogram.types import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove
from aiogram.utils.i18n import get_i18n

from bot.core.i18n import LOCALES, gettext
from bot.core.scope import Actor
from storage.models import Role


def _(message: str) -> str:
    """Marks a msgid for extraction; translated when the button is drawn."""
    return message


ROLL_CALL = _("📋 Roll call")
ASK_LEAVE = _("📝 Ask for leave")


def takes_roll(actor: Actor | None) -> bool:
    return actor is not None and actor.has_role(Role.CLASS_TEACHER, Role.SCHOOL_ADMIN, Role.PRINCIPAL)


def main_menu(actor: Actor | None, locale: str | None = None) -> ReplyKeyboardMarkup | ReplyKeyboardRemove:
    """The person's menu in `locale` (default: the update's language); a removal when they have none."""
    locale = locale or get_i18n().current_locale
    labels = [msgid for msgid, shown in ((ROLL_CALL, takes_roll(actor)), (ASK_LEAVE, actor and actor.is_guardian))
              if shown]
    if not labels:
        return ReplyKeyboardRemove()
    row = [KeyboardButton(text=gettext(msgid, locale)) for msgid in labels]
    return ReplyKeyboardMarkup(keyboard=[row], resize_keyboard=True, is_persistent=True)


def is_button(text: str | None, msgid: str) -> bool:
    """Whether `text` is this menu button in any language (the keyboard may predate a /lang switch)."""
    return text is not None and text in {gettext(msgid, locale) for locale in LOCALES}
