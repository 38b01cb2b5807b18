"""The router tree, built in one place. Order matters: specific flows first, the catch-all (common) last."""

from aiogram import Router
from aiogram.fsm.scene import SceneRegistry

from handlers import cases, common, consent, errors, guardian, membership, onboarding, records, school, teacher
from handlers.cases.documents import WitnessForm
from handlers.cases.notes import CaseNoteForm
from handlers.cases.persuasion import PersuasionForm
from handlers.forms import menu_leaves
from handlers.guardian.answers import ReplyWordsForm
from handlers.guardian.leave_form import LeaveForm
from handlers.records.enrolment import EnrolmentForm

FORMS = (EnrolmentForm, PersuasionForm, LeaveForm, CaseNoteForm, ReplyWordsForm, WitnessForm)


def build_router() -> Router:
    """A fresh tree of routers for one Dispatcher: each module's factory registers its handlers anew, so a process
    may build as many Dispatchers as it needs (tests, the demo, the benchmark)."""
    root = Router(name="root")
    # every form (handlers/forms.py), so any handler may enter one; each flow includes its form's router
    SceneRegistry(root, register_on_add=False).add(*FORMS)
    root.include_routers(
        errors.make_router(),
        menu_leaves(*FORMS),
        membership.make_router(),
        consent.make_router(),
        onboarding.make_router(),
        records.make_router(),
        teacher.make_router(),
        guardian.make_router(),
        school.make_router(),
        cases.make_router(),
        common.make_router(),
    )
    return root
