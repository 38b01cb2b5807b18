"""The 劝学书 (letter about returning to school): what it says and sending it, when the case opens (policy
`suspected_dropout.persuasion_notice = "automatic"`) or when the school's officer confirms it with one tap (the
default, `"officer_confirms"`: the seeds' order is report, persuade, then the 劝学书). Sending it is the case step
`PERSUASION_STEP`, claimed once; its return deadline is counted from the day it goes out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.scope import Actor
from bot.documents.records import issue, reference_of, state
from bot.notices.outbox import Action
from storage.models import Absence, Case, CaseStep, DocumentKind

from .common import COUNTED_REASONS, Cast, case_ref, tell_guardians
from .model import ANSWER_LABELS, CASE_ACTION, CONFIRM_ACTION, CONFIRM_LABEL, Told
from .outbox import NoticeBatch

PERSUASION_STEP = "persuasion_notice"


def case_actions(case: Case) -> list[list[Action]]:
    """The 劝学书's answer buttons: one per row."""
    return [[Action(label, CASE_ACTION, case.id, answer.value)] for answer, label in ANSWER_LABELS.items()]


def confirm_actions(case: Case) -> list[list[Action]]:
    """The school officer's one tap that sends the 劝学书."""
    return [[Action(CONFIRM_LABEL, CONFIRM_ACTION, case.id)]]


def notice_values(batch: NoticeBatch, case: Case, cast: Cast, days: list[date], issued: date) -> dict[str, Any]:
    """What the 劝学书 and the opening alerts say (the guardian's name is added per guardian)."""
    return {
        "child": cast.student.name, "class_name": cast.school_class.name, "school": cast.school_name,
        "school_phone": cast.offices.school_phone, "first_absent_day": case.first_absent_day, "days": days,
        "days_absent": len(days), "deadline": case.persuasion_deadline, "home_visit_due": case.home_visit_due,
        "ref": case_ref(case, batch.settings), "teacher": cast.teachers[0].name if cast.teachers else "",
        "issued": issued,
    }


async def send_notice(
    batch: NoticeBatch, case: Case, cast: Cast, values: dict[str, Any], actor: Actor | None
) -> list[Told]:
    """The 劝学书 to every guardian (by hand through the school's officers for those it cannot reach), on a case
    whose `PERSUASION_STEP` the caller claimed and whose `persuasion_deadline` is set. It is issued on the school's
    own numbering (bot.documents) and carries that number."""
    documents = await issue(batch.session, batch.settings, batch.now, case, DocumentKind.PERSUASION_NOTICE, actor, {},
                            guardians=cast.guardians)
    letter = values | {"ref": reference_of(documents)} if documents else values
    state(documents, letter)
    return tell_guardians(batch, case, cast, "persuasion_notice", letter, case.persuasion_deadline,
                          case_actions(case))


async def notice_sent_on(session: AsyncSession, case_ids: list[int]) -> dict[int, datetime]:
    """When the 劝学书 went out, per case that has it."""
    if not case_ids:
        return {}
    return dict((await session.execute(
        select(CaseStep.case_id, CaseStep.done_at).where(CaseStep.case_id.in_(case_ids),
                                                        CaseStep.step == PERSUASION_STEP)
    )).all())


async def absent_days(session: AsyncSession, case: Case, until: date) -> list[date]:
    """The case's school days absent without a proper reason, from its first one to `until`."""
    return list(await session.scalars(
        select(Absence.day).where(Absence.student_id == case.student_id, Absence.day >= case.first_absent_day,
                                  Absence.day <= until, Absence.withdrawn_at.is_(None),
                                  Absence.excused.is_(False), Absence.reason.in_(COUNTED_REASONS))
        .order_by(Absence.day)
    ))
