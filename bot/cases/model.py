"""What the case service takes and returns: inputs, views, results and errors. Plain data, no database access.

Handlers render these; they never read `Case` rows themselves. Every view carries names for display, never 学籍号,
ID numbers or phone numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from bot.core.errors import CodedError
from bot.notices.outbox import Delivery
from storage.models import CaseOutcome, CaseStage


def _(message: str) -> str:
    """Extraction marker: button labels are msgids, translated for the recipient when the notice is queued."""
    return message


# --- vocabularies -------------------------------------------------------------------------------------------------


class ReasonFound(StrEnum):
    """Why the child is out of school, as a persuasion attempt found it (DOMAIN.md, 劝返记录)."""

    LEARNING_DIFFICULTY = "learning_difficulty"  # 厌学 / 学习困难
    FAMILY_HARDSHIP = "family_hardship"  # 家庭困难
    GONE_TO_WORK = "gone_to_work"  # 外出务工
    FOLLOWING_PARENTS = "following_parents"  # 随父母外出
    ILLNESS_DISABILITY = "illness_disability"  # 疾病或残疾
    EARLY_MARRIAGE = "early_marriage"  # 早婚
    OTHER = "other"


# Reasons the school must report to the authorities at once (未成年人保护法 art. 11): child labour, early marriage.
REPORT_DUTY_REASONS = frozenset({ReasonFound.GONE_TO_WORK, ReasonFound.EARLY_MARRIAGE})


class PersuasionMethod(StrEnum):
    HOME_VISIT = "home_visit"  # 家访
    PHONE = "phone"
    SCHOOL_MEETING = "school_meeting"  # the family came to the school
    OTHER = "other"


class Attitude(StrEnum):
    """The guardian's attitude as the visitors found it."""

    COOPERATIVE = "cooperative"
    HESITANT = "hesitant"
    REFUSING = "refusing"
    NOT_MET = "not_met"


class LegalStepKind(StrEnum):
    """Legal steps, in their usual order, where local regulation provides them. Recorded, never decided here."""

    PENALTY_NOTICE = "penalty_notice"  # 行政处罚告知书
    PENALTY_DECISION = "penalty_decision"  # 行政处罚决定书
    DEMAND_FOR_PERFORMANCE = "demand_for_performance"  # 催告书
    COURT_APPLICATION = "court_application"  # 申请法院强制执行 (行政强制法 arts. 53, 54: after review and suit lapsed)


LEGAL_ORDER = tuple(LegalStepKind)


class GuardianCaseAnswer(StrEnum):
    """A guardian's answer to the 劝学书 (its buttons)."""

    BACK_TOMORROW = "back_tomorrow"  # 孩子明天返校
    NEED_HELP = "need_help"  # 遇到困难需要帮助
    CALL_ME = "call_me"  # 请联系我


class SupportKind(StrEnum):
    """Help a family asks for; the school officer arranges it (资助, transport, learning support…). 送教上门 is not
    help of this kind: it is a lawful status after the county's assessment."""

    COST = "cost"
    TRANSPORT = "transport"
    LEARNING = "learning"
    FAMILY_CARE = "family_care"


class DeadlineKind(StrEnum):
    HOME_VISIT = "home_visit"  # the home visit is due (no persuasion attempt yet)
    PERSUASION = "persuasion"  # the 劝学书 return deadline
    ORDER = "order"  # the 复学通知书 deadline


class CaseAction(StrEnum):
    """What an actor may do on a case now (`CaseDetail.actions`), so handlers show only the buttons that work."""

    RECORD_PERSUASION = "record_persuasion"
    CONFIRM_NOTICE = "confirm_notice"  # the school officer sends the 劝学书 (policy persuasion_notice)
    REPORT = "report"
    ISSUE_ORDER = "issue_order"
    LEGAL_STEP = "legal_step"
    CLOSE = "close"  # any outcome
    CLOSE_RETURNED = "close_returned"  # the class teacher: returned only
    ANSWER = "answer"  # a guardian's 劝学书 buttons
    REQUEST_SUPPORT = "request_support"
    PRINT = "print"  # the case file and the documents as PDFs, their delivery (the case's officers; bot.documents)


# Notice actions: Action(label msgid, CASE_ACTION, case id, GuardianCaseAnswer value) on the 劝学书, and
# Action(label msgid, SUPPORT_ACTION, case id, SupportKind value) for "which help?" after need_help;
# Action(RETURNED_LABEL, RETURNED_ACTION, case id) under the ladder's return reminders: one tap closes the case as
# returned (`close_case(…, RETURNED)`, with its checks).
CASE_ACTION = "case"
SUPPORT_ACTION = "case_support"
RETURNED_ACTION = "case_returned"
RETURNED_LABEL = _("✅ Back at school: close the case")
CONFIRM_ACTION = "case_confirm"  # Action(CONFIRM_LABEL, CONFIRM_ACTION, case id): `confirm_persuasion_notice`
CONFIRM_LABEL = _("✉️ Send the letter about returning to school")

ANSWER_LABELS: dict[GuardianCaseAnswer, str] = {
    GuardianCaseAnswer.BACK_TOMORROW: _("✅ Back at school tomorrow"),
    GuardianCaseAnswer.NEED_HELP: _("🤝 We need help"),
    GuardianCaseAnswer.CALL_ME: _("📞 Please call me"),
}
SUPPORT_LABELS: dict[SupportKind, str] = {
    SupportKind.COST: _("School costs"),
    SupportKind.TRANSPORT: _("Getting to school"),
    SupportKind.LEARNING: _("Help with lessons"),
    SupportKind.FAMILY_CARE: _("Care at home"),
}


# --- errors -------------------------------------------------------------------------------------------------------


class CaseErrorCode(StrEnum):
    NOT_ALLOWED = "not_allowed"  # out of the actor's scope, or no such case (the same answer: nothing leaks)
    NOT_AVAILABLE = "not_available"  # the actor works on the case, but the step is not offered on it now
    STALE = "stale"  # the case moved since the keyboard was shown (expected_stage differs), or it is closed
    WRONG_STAGE = "wrong_stage"  # this action does not fit the case's stage
    DISABLED = "disabled"  # legal steps: the policy does not provide them
    TOO_EARLY = "too_early"  # a legal step before its time (order deadline not passed; a step it needs missing;
    # the court before the review and suit periods lapsed or 10 days after the demand)
    TOO_LATE = "too_late"  # the court application after its window (行政强制法 art. 53)
    BAD_VALUE = "bad_value"  # a value no button offers (reason, outcome, kind…), or text too long
    NEEDS_PROOF = "needs_proof"  # 休学 / 送教上门 / 转学: recorded as an enrolment change with its approval


class CaseError(CodedError[CaseErrorCode]):
    """Why a step on a case was refused."""


# --- inputs -------------------------------------------------------------------------------------------------------

MAX_TEXT = 500  # characters of any free text on a case


@dataclass(frozen=True)
class PersuasionInput:
    """One 劝返记录 / 家访记录: what the guided form collects."""

    on_day: date
    method: PersuasionMethod | str
    visitors: str  # who went (names as typed)
    people_met: str | None
    reason_found: ReasonFound | str
    attitude: Attitude | str
    next_step: str | None  # the agreed measures and next step
    succeeded: bool  # the family agreed and the child is expected back
    # child labour or early marriage found (REPORT_DUTY_REASONS): whether the school told the authorities (未成年人
    # 保护法 art. 11). Required for those reasons, ignored for the others.
    authorities_told: bool | None = None


# --- views --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseSummary:
    """One line of `/cases`."""

    id: int
    ref: str  # the case's reference number on documents, e.g. 2026-00042 (not an ID of the child)
    student_id: int
    student_name: str
    class_id: int
    class_name: str
    school_id: int
    school_name: str
    township_id: int
    stage: CaseStage
    first_absent_day: date
    opened_at: datetime
    days_absent: int  # school days absent without a proper reason since the first one
    attempts: int
    failed_attempts: int  # failed home visits, on different days
    next_deadline: date | None
    deadline_kind: DeadlineKind | None
    overdue: bool  # next_deadline has passed
    reason_found: str | None
    open_referrals: int
    reported_at: datetime | None = None
    ordered_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: CaseOutcome | None = None
    watch_until: date | None = None


@dataclass(frozen=True)
class GuardianView:
    person_id: int
    name: str
    relation: str | None
    linked: bool  # has a contact point
    reachable: bool  # linked and not blocked
    has_phone: bool  # a number is in the roster (shown to staff as "see the roster", never the number)


@dataclass(frozen=True)
class AbsenceDay:
    day: date
    reason: str
    excused: bool


@dataclass(frozen=True)
class FamilyAnswer:
    at: datetime
    guardian: str
    relation: str | None
    answer: str  # a GuardianAnswer (to an absence notice) or a GuardianCaseAnswer (to the 劝学书)
    text: str | None = None
    day: date | None = None  # the absence answered, for answers to absence notices


@dataclass(frozen=True)
class AttemptView:
    id: int
    on_day: date
    method: str
    visitors: str
    people_met: str | None
    reason_found: str
    attitude: str
    next_step: str | None
    succeeded: bool
    recorded_by: str
    authorities_told: bool | None = None


@dataclass(frozen=True)
class ReferralView:
    id: int
    kind: str
    requested_at: datetime
    requested_by: str | None
    resolved_at: datetime | None
    note: str | None


@dataclass(frozen=True)
class EventView:
    at: datetime
    kind: str
    actor: str | None  # the person's name, or None for the scheduler
    details: dict[str, Any]


@dataclass(frozen=True)
class CaseDetail:
    summary: CaseSummary
    persuasion_deadline: date | None
    home_visit_due: date | None
    order_deadline: date | None
    outcome_note: str | None
    guardians: tuple[GuardianView, ...]
    absences: tuple[AbsenceDay, ...]  # from the first absent day on, not withdrawn
    answers: tuple[FamilyAnswer, ...]  # the family's answers, oldest first
    attempts: tuple[AttemptView, ...]
    referrals: tuple[ReferralView, ...]
    events: tuple[EventView, ...]  # the history, oldest first
    legal_steps: tuple[str, ...]  # LegalStepKind values recorded so far, in order
    next_legal_step: LegalStepKind | None  # None when legal steps are disabled or all are recorded
    actions: frozenset[CaseAction]  # what this actor may do now
    in_charge: bool = False  # the actor works on this case: its school's officer, its class teacher, its township's
    legal_steps_open: tuple[LegalStepKind, ...] = ()  # the legal steps that may be recorded today, in order
    court_application_from: date | None = None  # a demand is recorded, and the application to the court is not due
    notice_pending: bool = False  # the 劝学书 waits for the school officer's confirmation


@dataclass(frozen=True)
class WatchItemView:
    """A pattern of absences this month (多次旷课, or excused days piling up): on the case list, not a case."""

    id: int
    student_id: int
    student_name: str
    class_name: str
    kind: str  # "unexplained" or "excused"
    month: date  # its first day
    days: int
    raised_at: datetime


# --- results ------------------------------------------------------------------------------------------------------


class Recipient(StrEnum):
    GUARDIAN = "guardian"
    TEACHER = "teacher"
    SCHOOL_OFFICER = "school_officer"
    TOWNSHIP_OFFICER = "township_officer"
    COUNTY_OFFICER = "county_officer"


@dataclass(frozen=True)
class Told:
    """Someone a step told (or tried to): `delivery` says whether the notice is on its way."""

    person_id: int
    name: str
    role: Recipient
    delivery: Delivery

    @property
    def reached(self) -> bool:
        return self.delivery in (Delivery.QUEUED, Delivery.DUPLICATE)


@dataclass(frozen=True)
class ActionResult:
    """What an action did. `changed` is False when it was a repeat that changed nothing and told no one."""

    case: CaseSummary
    changed: bool = True
    told: tuple[Told, ...] = ()
    ref_id: int | None = None  # the attempt / referral created, when the action creates one
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def by_hand(self) -> tuple[Told, ...]:
        """Guardians a notice could not reach: the school officer was told to deliver it by hand."""
        return tuple(t for t in self.told if t.role is Recipient.GUARDIAN and not t.reached)
