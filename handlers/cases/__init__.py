"""The ladder's cases in chat: `/cases`, the case card, the guided persuasion record, report, order, legal steps,
closing; the guardian's answers to the 劝学书 and the help they ask for; the class teacher's "back at school".

Thin: every tap reads ids from the callback data, calls one function of `bot.cases` (which checks the tapping
person's scope and the case's stage again) and renders what it returns, editing the card in place. Buttons on a
card carry the stage it showed (`s`), so a tap on a card the case has moved past is refused as stale and the card
is shown as it is now. Refusals are alerts and change nothing.

Taps (school officer): /cases → case → 「记录劝返」 → method → 今天 → 我自己 → 跳过 → reason → attitude → 是/否 →
跳过 → 保存 (11, plus what they type); report: card → 「上报乡镇」 → 「确认上报」 (2 after the card). Township officer:
card → 「发出复学通知书」 → 「确认发出」. Guardian: 1 tap per answer, "we need help" + 1 tap for which help.

One module per flow: `listing` (/cases), `card`, `actions` (report, order, legal step, close, support), `notes`
(the note a step carries, a form: `handlers.forms`), `persuasion` (the guided record, a form), `family` (the
guardian's answers), `returned` (the class teacher's "back at school"), `letter` (the school officer's one tap that
sends the 劝学书), `documents` (the officers' PDFs and delivery records; the witness's name, a form); `base` holds the
callback data and the note form's name, `labels` the words and the refusal text.
"""

from aiogram import F, Router

from bot.cases import CONFIRM_ACTION, RETURNED_ACTION
from bot.delivery.telegram import NoticeAction
from handlers.cases import actions, card, documents, family, letter, listing, notes, persuasion, returned
from handlers.cases.base import CaseCard, CaseDo
from handlers.roles import STAFF


def make_router() -> Router:
    """The case flows, in the order their handlers are tried. The staff's taps on a case are guarded once, by the
    router-wide `STAFF` filter; anyone else's fall through to one refusal."""
    staff = Router(name="cases.staff")
    staff.callback_query.filter(STAFF)
    staff.include_routers(card.make_router(), actions.make_router(), returned.make_router(), letter.make_router())
    refusals = Router(name="cases.refusals")
    for trigger in (CaseCard.filter(), CaseDo.filter(), NoticeAction.filter(F.action == RETURNED_ACTION),
                    NoticeAction.filter(F.action == CONFIRM_ACTION)):
        refusals.callback_query.register(listing.not_staff_tap, trigger)
    router = Router(name="cases")
    flows = (notes, persuasion, family, documents)
    router.include_routers(listing.make_router(), staff, *(flow.make_router() for flow in flows), refusals)
    return router
