"""Cases: the escalation ladder of 控辍保学 from suspected dropout to return (DOMAIN.md, "The ladder").

The service API (no aiogram; handlers, the CLI and the tick call the same functions). Every function takes
(session, settings, policy, now, actor, …), checks scope, appends history, audits and queues notices in the
caller's transaction, and raises `CaseError(code)` on refusal:

- reading: `list_cases`, `case_detail` (writes nothing), `record_view` (the audit of opening a case)
- the school: `record_persuasion`, `report_to_township`, `request_support`, `resolve_referral`, `close_case`
- the township: `issue_return_order`, `record_legal_step` (only where the policy enables legal steps; `check_legal_step`
  tells beforehand whether it would be refused), `close_case`
- the class teacher: `record_persuasion`, `student_marked_present` then `close_case(…, RETURNED)`
- guardians: `answer_persuasion_notice` (the 劝学书 buttons), `request_support`
- the tick: `run_ladder` (bot.cases.ladder); its return reminders carry `RETURNED_ACTION` (one tap:
  `close_case(…, RETURNED)`)
"""

from .actions import (
    answer_persuasion_notice,
    check_legal_step,
    close_case,
    issue_return_order,
    record_legal_step,
    record_persuasion,
    report_to_township,
    request_support,
    resolve_referral,
    student_marked_present,
    students_marked_present,
)
from .ladder import LadderReport, run_ladder
from .model import (
    ANSWER_LABELS,
    CASE_ACTION,
    RETURNED_ACTION,
    SUPPORT_ACTION,
    SUPPORT_LABELS,
    AbsenceDay,
    ActionResult,
    AttemptView,
    Attitude,
    CaseAction,
    CaseDetail,
    CaseError,
    CaseErrorCode,
    CaseSummary,
    DeadlineKind,
    EventView,
    FamilyAnswer,
    GuardianCaseAnswer,
    GuardianView,
    LegalStepKind,
    PersuasionInput,
    PersuasionMethod,
    ReasonFound,
    Recipient,
    ReferralView,
    SupportKind,
    Told,
)
from .queries import ALL_OPEN, case_detail, list_cases, record_view

__all__ = [
    "ALL_OPEN",
    "ANSWER_LABELS",
    "CASE_ACTION",
    "RETURNED_ACTION",
    "SUPPORT_ACTION",
    "SUPPORT_LABELS",
    "AbsenceDay",
    "ActionResult",
    "AttemptView",
    "Attitude",
    "CaseAction",
    "CaseDetail",
    "CaseError",
    "CaseErrorCode",
    "CaseSummary",
    "DeadlineKind",
    "EventView",
    "FamilyAnswer",
    "GuardianCaseAnswer",
    "GuardianView",
    "LadderReport",
    "LegalStepKind",
    "PersuasionInput",
    "PersuasionMethod",
    "ReasonFound",
    "Recipient",
    "ReferralView",
    "SupportKind",
    "Told",
    "answer_persuasion_notice",
    "case_detail",
    "check_legal_step",
    "close_case",
    "issue_return_order",
    "list_cases",
    "record_legal_step",
    "record_persuasion",
    "record_view",
    "report_to_township",
    "request_support",
    "resolve_referral",
    "run_ladder",
    "student_marked_present",
    "students_marked_present",
]
