"""Words for the cases' stages, choices and events, and the one place a case refusal becomes text."""

from __future__ import annotations

from datetime import date, datetime

from aiogram.utils.i18n import gettext

from bot.cases import (
    ANSWER_LABELS,
    SUPPORT_LABELS,
    Attitude,
    CaseError,
    CaseErrorCode,
    DeadlineKind,
    LegalStepKind,
    PersuasionMethod,
    ReasonFound,
)
from bot.core.clock import to_local
from bot.core.settings import Settings
from handlers.texts import long_day, month_day, short_day, t
from storage.models import CaseOutcome, CaseStage


def _when(at: datetime, settings: Settings) -> str:
    local = to_local(at, settings.tz)
    return f"{month_day(local)} {local:%H:%M}"


def stage_label(stage: str) -> str:
    labels: dict[str | None, str] = {
        CaseStage.OPEN: t("Suspected dropout"),
        CaseStage.REPORTED: t("Reported to the township"),
        CaseStage.ORDERED: t("Return order issued"),
        CaseStage.LEGAL: t("Legal steps"),
        CaseStage.CLOSED: t("Closed"),
    }
    return labels.get(stage, stage)


def deadline_label(kind: DeadlineKind | None) -> str:
    labels: dict[str | None, str] = {
        DeadlineKind.HOME_VISIT: t("home visit due"),
        DeadlineKind.PERSUASION: t("persuasion notice deadline"),
        DeadlineKind.ORDER: t("return order deadline"),
    }
    return labels.get(kind, t("deadline"))


def method_label(method: str) -> str:
    labels: dict[str | None, str] = {
        PersuasionMethod.HOME_VISIT: t("Home visit"),
        PersuasionMethod.PHONE: t("Phone call"),
        PersuasionMethod.SCHOOL_MEETING: t("Meeting at school"),
        PersuasionMethod.OTHER: t("Other contact"),
    }
    return labels.get(method, method)


def reason_label(reason: str) -> str:
    labels: dict[str | None, str] = {
        ReasonFound.LEARNING_DIFFICULTY: t("Learning difficulty or dislike of school"),
        ReasonFound.FAMILY_HARDSHIP: t("Family hardship"),
        ReasonFound.GONE_TO_WORK: t("Gone to work"),
        ReasonFound.FOLLOWING_PARENTS: t("Following migrant parents"),
        ReasonFound.ILLNESS_DISABILITY: t("Illness or disability"),
        ReasonFound.EARLY_MARRIAGE: t("Early marriage"),
        ReasonFound.OTHER: t("Other reason"),
    }
    return labels.get(reason, reason)


def attitude_label(attitude: str) -> str:
    labels: dict[str | None, str] = {
        Attitude.COOPERATIVE: t("Cooperative"),
        Attitude.HESITANT: t("Hesitant"),
        Attitude.REFUSING: t("Refusing"),
        Attitude.NOT_MET: t("Guardian not met"),
    }
    return labels.get(attitude, attitude)


def outcome_label(outcome: str | None) -> str:
    labels: dict[str | None, str] = {
        CaseOutcome.RETURNED: t("Back at school"),
        CaseOutcome.TRANSFERRED: t("Transferred to another school"),
        CaseOutcome.LAWFUL_ABSENCE: t("Lawful absence approved"),
        CaseOutcome.OTHER: t("Other outcome"),
    }
    return labels.get(outcome, outcome or "")


def legal_label(kind: str) -> str:
    labels: dict[str | None, str] = {
        LegalStepKind.PENALTY_NOTICE: t("Notice of intended penalty"),
        LegalStepKind.PENALTY_DECISION: t("Penalty decision"),
        LegalStepKind.DEMAND_FOR_PERFORMANCE: t("Demand for performance"),
        LegalStepKind.COURT_APPLICATION: t("Application to the court"),
    }
    return labels.get(kind, kind)


def support_label(kind: str) -> str:
    msgid = next((label for key, label in SUPPORT_LABELS.items() if key.value == kind), None)
    return gettext(msgid) if msgid else kind


def answer_label(answer: str) -> str:
    from bot.notices.absence import ANSWER_LABELS as ABSENCE_LABELS

    for labels in (ANSWER_LABELS, ABSENCE_LABELS):
        msgid = next((label for key, label in labels.items() if key.value == answer), None)
        if msgid:
            return gettext(msgid)
    return answer


def event_label(kind: str) -> str:
    labels: dict[str | None, str] = {
        "opened": t("Case opened"),
        "persuasion_recorded": t("Persuasion attempt recorded"),
        "reported": t("Reported to the township"),
        "return_order_issued": t("Return order issued"),
        "legal_step": t("Legal step recorded"),
        "closed": t("Case closed"),
        "guardian_answer": t("The family answered"),
        "support_requested": t("Help requested"),
        "support_arranged": t("Help arranged"),
        "present": t("Marked present"),
        "home_visit_overdue": t("Home visit overdue"),
        "order_deadline_passed": t("Return order deadline passed"),
        "watch_absence": t("Absent again while watched"),
        "watch_ended": t("Watch ended"),
        "return_reminder": t("Reminder: confirm the return"),
        "return_reminder_officer": t("Return not confirmed: the school officer was reminded"),
        "persuasion_notice_sent": t("Letter about returning to school sent"),
        "confirm_reminder": t("Reminder: send the letter about returning to school"),
        "no_home_visit": t("No home visit: the principal was alerted"),
        "report_waits": t("Report on hold: the absences are excused"),
        "document_delivered": t("Document served"),
    }
    return labels.get(kind, t("Other update"))


def refusal(error: CaseError) -> str:
    """What a person working on the case hears when the service refuses a step."""
    code = error.code
    if code is CaseErrorCode.STALE:
        return t("This case has moved on since these buttons were shown. Nothing was changed; here it is as it "
                 "is now.")
    if code is CaseErrorCode.WRONG_STAGE:
        return t("This step does not fit the case's stage now. Nothing was changed.")
    if code is CaseErrorCode.DISABLED:
        return t("The local policy provides no legal steps.")
    if code is CaseErrorCode.TOO_EARLY:
        until = error.details.get("until")
        if isinstance(until, date):
            return t("It is too early for this step (the date that matters: {day}).", day=short_day(until))
        return t("It is too early for this step: an earlier step must be recorded first.")
    if code is CaseErrorCode.TOO_LATE:
        until = error.details.get("until")
        if isinstance(until, date):
            return t("The time to apply to the court ended on {day}. Nothing was changed.", day=long_day(until))
        return t("The time to apply to the court has ended. Nothing was changed.")
    if code is CaseErrorCode.BAD_VALUE:
        return t("This value was not accepted. Nothing was changed.")
    if code is CaseErrorCode.NEEDS_PROOF:
        return t("A transfer or an approved absence closes the case when it is recorded with its approval: use "
                 "/enrol. Nothing was changed.")
    if code is CaseErrorCode.NOT_AVAILABLE:
        return t("This step is not available for this case now. Nothing was changed.")
    return t("You cannot see or change this case.")


def guardian_refusal(error: CaseError) -> str:
    """What a guardian hears when the service refuses an answer to the 劝学书."""
    if error.code is CaseErrorCode.STALE:
        return t("This case is closed. Thank you; nothing more is needed.")
    if error.code is CaseErrorCode.BAD_VALUE:
        return t("This button is no longer valid.")
    return t("This notice is not about your child, so nothing was recorded.")
