"""The one form pattern: each form is an aiogram Scene (`Form`), its steps, ◀ Back and ✖ Cancel declared once here.

A form's answers so far, the step it is at and the steps before it live in the FSM data of its scene's state
(Redis in production, `bot.app.FORM_TTL`); the final step calls one service function, which checks everything
again, so an abandoned form changes nothing. A form declares its role (`role=STAFF`), its steps as handlers
guarded by `Tap(step)` and `Typed(step)`, each step's question (`question`), and its texts. Here, for every form:

- the role, router-wide: whoever lost it mid-form (unlinked, no longer a guardian) hears `refused` and the form ends;
- ✖ Cancel (button and /cancel) ends the form with `cancelled`; ◀ Back shows the previous step again;
- a button of an earlier step or of an earlier form is answered and changes nothing; a button of a form that is
  over is answered with `over` and taken off its message;
- a menu button (「📋 点名」, 「📝 请假」, or its command /roll, /leave) ends the form and goes on to its own flow
  (`menu_leaves`): what is typed next is no answer.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any, ClassVar

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, Filter, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.scene import Scene, ScenesManager, on
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.scope import Actor
from handlers.context import Context
from handlers.menu import ASK_LEAVE, ROLL_CALL, is_button, main_menu
from handlers.roles import Holds
from handlers.texts import t

SERIAL, STEP, TRAIL = "form_n", "form_step", "form_trail"  # in the FSM data, beside the form's answers
BACK, CANCEL = "back", "cancel"


class FormTap(CallbackData, prefix="fm"):
    """A button of a form: the form (its scene's state), which run of it (`n`), the step it was shown on, the
    answer (`v`), or `do`: back / cancel."""

    form: str
    n: str
    step: str
    v: str = ""
    do: str = ""


def _typed(text: str) -> bool:
    """Text the person typed as an answer: not a /command, not a menu button."""
    return not text.startswith("/") and not is_button(text, ROLL_CALL) and not is_button(text, ASK_LEAVE)


TYPED = F.text.func(_typed)
MENU = F.text.func(lambda text: is_button(text, ROLL_CALL) or is_button(text, ASK_LEAVE))


class Tap(Filter):
    """A tap on the form's newest buttons: an answer to `step` (the step the form is at), or `do` back (from the
    step it is at, not the first) or cancel (from any of its steps). Hands the handler the answers so far
    (`answers`) and the button (`callback_data`); any other tap falls through to `Form.stale`."""

    def __init__(self, step: str = "", *, values: Any = None, do: str = "") -> None:
        self.step, self.do = step, do
        self.values = None if values is None else {str(value) for value in values}

    async def __call__(self, query: CallbackQuery, raw_state: str | None, state: FSMContext) -> bool | dict[str, Any]:
        try:
            tap = FormTap.unpack(query.data or "")
        except (TypeError, ValueError):
            return False
        if tap.do != self.do or (self.step and tap.step != self.step) or (
                self.values is not None and tap.v not in self.values):
            return False
        answers = await state.get_data()
        if (tap.form, tap.n) != (raw_state, answers.get(SERIAL)):
            return False
        if self.do != CANCEL and tap.step != answers.get(STEP):
            return False
        if self.do == BACK and not answers.get(TRAIL):
            return False
        return {"callback_data": tap, "answers": answers}


class Typed(Filter):
    """Typed text (not a command, not a menu button) while the form is at one of `steps`; hands the handler the
    answers so far (`answers`)."""

    def __init__(self, *steps: str) -> None:
        self.steps = set(steps)

    async def __call__(self, message: Message, state: FSMContext) -> bool | dict[str, Any]:
        if not message.text or not _typed(message.text):
            return False
        answers = await state.get_data()
        return {"answers": answers} if answers.get(STEP) in self.steps else False


class Keys(InlineKeyboardBuilder):
    """The buttons of one step of a form: `answer(label, value)` adds one (lay them out with `adjust`)."""

    def __init__(self, form: str, serial: str, step: str) -> None:
        super().__init__()
        self.tap = FormTap(form=form, n=serial, step=step)

    def answer(self, label: str, value: str = "", do: str = "") -> Keys:
        self.button(text=label, callback_data=self.tap.model_copy(update={"v": value, "do": do}))
        return self


async def typed_within(message: Message, limit: int) -> str | None:
    """The typed answer, stripped; None when it is longer than `limit` (the person is told, and types again)."""
    text = (message.text or "").strip()
    if len(text) > limit:
        await message.answer(t("That is {n} characters; please keep it under {limit}.", n=len(text), limit=limit))
        return None
    return text


async def show(event: Message | CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """A form's next screen: in place of the tapped message, or as a new message after typed text."""
    if isinstance(event, Message):
        await event.answer(text, reply_markup=markup)
        return
    if not isinstance(event.message, Message):
        return  # too old to be shown to the bot
    try:
        await event.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as error:
        if "not modified" not in str(error):
            await event.message.answer(text, reply_markup=markup)


def _(msgid: str) -> str:
    """Marks a form's text for extraction; translated when shown."""
    return msgid


class Form(Scene, reset_data_on_enter=True):
    """A form. Subclass with `state=` (also the name on its buttons) and `role=` (a filter of `handlers.roles`);
    declare the steps' handlers (`Tap`, `Typed`), `question`, and the texts; include `router()` in the flow's
    router and add the form to the registry in `handlers.build_router`."""

    role: ClassVar[Holds]
    cancelled: ClassVar[str] = _("Cancelled. Nothing was recorded.")
    wants_text: ClassVar[str] = _("Please answer with a text message, or send /cancel.")  # to a photo, a sticker…
    refused: ClassVar[str]  # to whoever lost the role mid-form
    over: ClassVar[str]  # a tap on a form that is over

    def __init_subclass__(cls, role: Holds | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if role is not None:
            cls.role = role

    @classmethod
    def form_id(cls) -> str:
        return cls.__scene_config__.state or ""

    # --- what a form declares ---

    async def question(self, step: str, answers: dict[str, Any], ctx: Context, actor: Actor) -> tuple[str, Keys]:
        """The question of `step` and its answers' buttons (`keys`); ◀ Back and ✖ Cancel are added here."""
        raise NotImplementedError

    async def after_cancel(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        """What the message shows once ✖ Cancel was tapped (the toast already said `cancelled`)."""
        await show(query, t(self.cancelled), None)

    # --- moving through the steps ---

    def keys(self, answers: dict[str, Any], step: str) -> Keys:
        """The (empty) buttons of `step`'s answers."""
        return Keys(self.form_id(), answers[SERIAL], step)

    async def begin(self, event: Message | CallbackQuery, ctx: Context, actor: Actor, step: str,
                    **answers: Any) -> None:
        """Start a new run of the form at its first step."""
        await self._at(event, ctx, actor, {**answers, SERIAL: secrets.token_hex(2), STEP: step, TRAIL: []})

    async def ask(self, event: Message | CallbackQuery, ctx: Context, actor: Actor, answers: dict[str, Any],
                  step: str, **answered: Any) -> None:
        """Keep the answers just given and move on to `step` (◀ Back returns to the step the form was at)."""
        trail = [*answers.get(TRAIL, []), answers[STEP]]
        await self._at(event, ctx, actor, {**answers, **answered, STEP: step, TRAIL: trail})

    async def _at(self, event: Message | CallbackQuery, ctx: Context, actor: Actor, answers: dict[str, Any]) -> None:
        await self.wizard.set_data(answers)
        step = answers[STEP]
        text, keys = await self.question(step, answers, ctx, actor)
        footer = self.keys(answers, step)
        if answers[TRAIL]:
            footer.answer(t("◀ Back"), do=BACK)
        footer.answer(t("✖ Cancel"), do=CANCEL)
        if isinstance(event, CallbackQuery):
            await event.answer()
        keys.attach(footer)
        await show(event, text, keys.as_markup())

    async def close(self) -> None:
        """End the form: its state and its answers are gone."""
        await self.wizard.exit()

    # --- declared once for every form ---

    @on.message.exit()
    @on.callback_query.exit()
    async def forget(self, event: Message | CallbackQuery) -> None:
        await self.wizard.clear_data()

    @on.callback_query(Tap(do=CANCEL))
    async def cancel(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        await self.close()
        await query.answer(t(self.cancelled))
        await self.after_cancel(query, answers, ctx, actor)

    @on.callback_query(Tap(do=BACK))
    async def back(self, query: CallbackQuery, answers: dict[str, Any], ctx: Context, actor: Actor) -> None:
        *trail, step = answers[TRAIL]
        await self._at(query, ctx, actor, {**answers, STEP: step, TRAIL: trail})

    @on.callback_query(FormTap.filter())
    async def stale(self, query: CallbackQuery) -> None:
        """A button of an earlier step or an earlier form, or a forged one: nothing changes."""
        await query.answer(t("This button belongs to an earlier step. Nothing was changed; please answer the "
                             "newest question."), show_alert=True)

    @on.message(Command("cancel"))
    async def cancel_command(self, message: Message, actor: Actor) -> None:
        await self.close()
        await message.answer(t(self.cancelled), reply_markup=main_menu(actor))

    @on.message(TYPED)
    async def expects_a_tap(self, message: Message) -> None:
        await message.answer(t("Please tap one of the buttons above, or send /cancel."))

    @on.message(~F.text)
    async def not_text(self, message: Message) -> None:
        await message.answer(t(self.wants_text))

    @classmethod
    def router(cls) -> Router:
        """The form's handlers behind its role, the refusal for whoever lost it mid-form, and the answer to a tap
        on a form that is over."""
        guarded = cls.as_router(name=f"form.{cls.form_id()}")
        guarded.message.filter(cls.role)
        guarded.callback_query.filter(cls.role)
        lost = Router(name=f"form.{cls.form_id()}.lost")
        for observer in (lost.message, lost.callback_query):
            observer.filter(StateFilter(cls.form_id()), ~cls.role)
            observer.register(cls._lost)
        over = Router(name=f"form.{cls.form_id()}.over")
        over.callback_query.register(cls._over, FormTap.filter(F.form == cls.form_id()))
        router = Router(name=f"form.{cls.form_id()}.all")
        router.include_routers(guarded, lost, over)
        return router

    @classmethod
    async def _lost(cls, event: Message | CallbackQuery, scenes: ScenesManager) -> None:
        await scenes.close()
        text = t(cls.refused) + "\n" + t(cls.cancelled)
        if isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)
        else:
            await event.answer(text)

    @classmethod
    async def _over(cls, query: CallbackQuery) -> None:
        await query.answer(t(cls.over), show_alert=True)
        if isinstance(query.message, Message):
            with contextlib.suppress(TelegramBadRequest):  # already without buttons, or too old to edit
                await query.message.edit_reply_markup(reply_markup=None)


async def leave(form: str, state: FSMContext, scenes: ScenesManager) -> None:
    """End the form `form` (its scene's state) if it is the one in progress, its person having moved on elsewhere in
    its flow: what is typed next must not become its answer. Any other form goes on."""
    if await state.get_state() == form:
        await scenes.close()


def menu_leaves(*forms: type[Form]) -> Router:
    """A menu button (or its command) sent during one of `forms` ends it, then goes on to its own flow (include this
    router before the flows): a text typed next is no answer to the form."""
    router = Router(name="forms.menu")
    during = StateFilter(*(form.form_id() for form in forms))
    for menu in (MENU, Command("roll", "leave")):
        router.message.register(_leave_for_the_menu, menu, during)
    return router


async def _leave_for_the_menu(message: Message, scenes: ScenesManager) -> None:
    await scenes.close()
    raise SkipHandler  # not answered here: the routers after this one take the button
