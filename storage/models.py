"""The Quanxue schema: places (county → township → school → class), students, people and their roles,
onboarding (contact points, invite codes, consents) and the append-only audit log.

Guardians and staff are both `Person` rows: one phone number is one person, so a teacher who is also a parent is
linked once. How a person is reached is data (`ContactPoint.channel`), never a Telegram-specific column.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON(), list[Any]: JSON()}


class Role(StrEnum):
    CLASS_TEACHER = "class_teacher"
    SCHOOL_ADMIN = "school_admin"  # 控辍专干
    PRINCIPAL = "principal"
    TOWNSHIP_OFFICER = "township_officer"
    COUNTY_OFFICER = "county_officer"  # 县教育局 控辍保学 office


class EnrolmentStatus(StrEnum):
    ENROLLED = "enrolled"
    SUSPENDED = "suspended"  # 休学, approved
    DEFERRED = "deferred"  # 延缓入学, approved
    HOME_TEACHING = "home_teaching"  # 送教上门, still enrolled
    TRANSFERRED = "transferred"
    GRADUATED = "graduated"
    DECEASED = "deceased"


class Channel(StrEnum):
    TELEGRAM = "telegram"


class County(Base):
    __tablename__ = "counties"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Township(Base):
    __tablename__ = "townships"
    __table_args__ = (UniqueConstraint("county_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id"))
    name: Mapped[str] = mapped_column(String(100))
    # Who signs the township's documents ("青山镇人民政府"); None: the name followed by 人民政府.
    issuer_name: Mapped[str | None] = mapped_column(String(100))
    office_phone: Mapped[str | None] = mapped_column(String(30))  # shown in its documents


class School(Base):
    __tablename__ = "schools"
    __table_args__ = (UniqueConstraint("township_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    office_phone: Mapped[str | None] = mapped_column(String(30))  # the school office, shown in its documents
    township: Mapped[Township] = relationship(lazy="joined")


class SchoolClass(Base):
    """A class (年级+班) of a school, e.g. 三年级2班."""

    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("school_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    school: Mapped[School] = relationship(lazy="joined")


class Student(Base):
    __tablename__ = "students"
    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str | None] = mapped_column(String(1))  # "M" / "F"
    birth_date: Mapped[date | None] = mapped_column(Date)
    student_no: Mapped[str | None] = mapped_column(String(40), unique=True)  # 学籍号; never leaves the database
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)  # 身份证件号; never leaves the database
    status: Mapped[str] = mapped_column(String(20), default=EnrolmentStatus.ENROLLED)
    tags: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    school_class: Mapped[SchoolClass] = relationship(lazy="joined")


class Person(Base):
    """A guardian or a staff member (or both): someone Quanxue talks to."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)  # normalised digits, see bot.roster.phones
    locale: Mapped[str | None] = mapped_column(String(10))  # None until chosen or learnt from the channel
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ContactPoint(Base):
    """Where a person is reached on one channel (a Telegram user id today)."""

    __tablename__ = "contact_points"
    __table_args__ = (UniqueConstraint("channel", "address"), UniqueConstraint("person_id", "channel"))
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(64))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    unreachable_since: Mapped[datetime | None]
    linked_at: Mapped[datetime]


class Guardianship(Base):
    __tablename__ = "guardianships"
    __table_args__ = (UniqueConstraint("student_id", "person_id"), UniqueConstraint("student_id", "rank"))
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    relation: Mapped[str | None] = mapped_column(String(20))  # as written in the roster: 父亲, 奶奶, 被委托人 …
    rank: Mapped[int] = mapped_column(Integer, default=1)  # 1 = 监护人, 2 = 监护人2


class StaffRole(Base):
    """A role with its scope: exactly one of class_id / school_id / township_id / county_id is set, as the role
    requires."""

    __tablename__ = "staff_roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id"), index=True)


class InviteCode(Base):
    __tablename__ = "invite_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LinkAttempt(Base):
    """A wrong invite code or unmatched contact from one address, kept to throttle guessing."""

    __tablename__ = "link_attempts"
    __table_args__ = (Index("ix_link_attempts_address_at", "channel", "address", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class Consent(Base):
    """A guardian's acceptance of the privacy notice (PIPL art. 31), with the notice's version."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    text_version: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(20))
    accepted_at: Mapped[datetime]


class AuditEvent(Base):
    """Append-only: who did what, when. Details carry ids, never names or phone numbers."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity", "entity_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    actor: Mapped[str] = mapped_column(String(40))  # "person", "cli", "scheduler", "system"
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- School calendar -------------------------------------------------------------------------------------------


class DayKind(StrEnum):
    HOLIDAY = "holiday"  # a public holiday the official data lacks (entered by an admin)
    WORKDAY = "workday"  # a make-up working day (调休) the official data lacks
    CLOSURE = "closure"  # the school is closed (weather, exams elsewhere, …)


class Term(Base):
    """A term (学期) of a county, or of one school when it differs from the county's."""

    __tablename__ = "terms"
    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)


class CalendarDay(Base):
    """A day that the official calendar gets wrong for this county or school."""

    __tablename__ = "calendar_days"
    __table_args__ = (Index("ix_calendar_days_day", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


# --- Roll call, absences, guardian replies, leave --------------------------------------------------------------


class AbsenceReason(StrEnum):
    SICK = "sick"  # 病假
    PERSONAL = "personal"  # 事假
    UNEXPLAINED = "unexplained"  # 无故缺勤
    UNKNOWN = "unknown"  # 原因不明
    APPROVED_LEAVE = "approved_leave"  # a leave request the teacher approved


class GuardianAnswer(StrEnum):
    SICK = "sick"  # 生病
    FAMILY = "family"  # 家里有事
    BACK_TOMORROW = "back_tomorrow"  # 明天返校
    CALL_ME = "call_me"  # 请老师联系我
    OTHER = "other"  # 其他 (free text follows)


class RollCall(Base):
    """One class's roll call on one school day. While `submitted_at` is None it is a draft being tapped."""

    __tablename__ = "roll_calls"
    __table_args__ = (UniqueConstraint("class_id", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"))
    day: Mapped[date] = mapped_column(Date)
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"absent": {student_id: reason|None}, "page": n}
    opened_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    submitted_at: Mapped[datetime | None]
    revision: Mapped[int] = mapped_column(Integer, default=0)  # 1 at first submission, +1 per correction


class Absence(Base):
    """A student absent on a school day, as the roll call recorded it. A correction withdraws it, never deletes it."""

    __tablename__ = "absences"
    __table_args__ = (UniqueConstraint("student_id", "day"), Index("ix_absences_day", "day"))
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    roll_call_id: Mapped[int] = mapped_column(ForeignKey("roll_calls.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(20))
    expected_return: Mapped[date | None] = mapped_column(Date)
    excused: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    recorded_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]  # the teacher corrected the roll call: the student was present


class AbsenceReply(Base):
    """A guardian's answer to an absence notice; the newest one counts, earlier ones stay as history."""

    __tablename__ = "absence_replies"
    id: Mapped[int] = mapped_column(primary_key=True)
    absence_id: Mapped[int] = mapped_column(ForeignKey("absences.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    answer: Mapped[str] = mapped_column(String(20))
    text: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime]


class LeaveStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class LeaveRequest(Base):
    """请假: a guardian asks in advance; the class teacher approves or declines."""

    __tablename__ = "leave_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(20))  # AbsenceReason.SICK or PERSONAL
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10), default=LeaveStatus.PENDING)
    requested_at: Mapped[datetime]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None]


# --- The outbox ---------------------------------------------------------------------------------------------------


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender; see bot.delivery for what a crash here means
    SENT = "sent"
    UNREACHABLE = "unreachable"  # the person blocked the bot or never started it
    FAILED = "failed"  # rejected for good (bad request)


class OutboxMessage(Base):
    """A notice, rendered in the recipient's language when it was enqueued: what was sent is what is on record.

    `actions` are the answers the recipient can give, as data ({"label", "action", "ref", "value"} rows); each
    channel turns them into its own buttons. `idempotency_key` makes enqueueing the same notice twice a no-op.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(60))
    locale: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    actions: Mapped[list[Any]] = mapped_column(default=list)
    entity: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(12), default=OutboxStatus.PENDING)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]  # quiet hours and retry backoff push this forward
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(64))  # the channel's message id
    last_error: Mapped[str | None] = mapped_column(String(300))
    # An attached file (a chart, a spreadsheet, a PDF): `text` is then its caption. The bytes are kept in the row,
    # or `attachment_path` names a file the sender reads; see bot.notices.outbox.Attachment.
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_mime: Mapped[str | None] = mapped_column(String(100))
    attachment_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    attachment_path: Mapped[str | None] = mapped_column(String(500))


# --- Cases: the escalation ladder --------------------------------------------------------------------------------


class CaseStage(StrEnum):
    OPEN = "open"  # 疑似辍学: suspected dropout, the school persuades
    REPORTED = "reported"  # 辍学: reported in writing to the township (辍学报告)
    ORDERED = "ordered"  # the township issued the 复学通知书
    LEGAL = "legal"  # legal steps, only where the locality's policy provides them
    CLOSED = "closed"


class CaseOutcome(StrEnum):
    RETURNED = "returned"
    TRANSFERRED = "transferred"
    LAWFUL_ABSENCE = "lawful_absence"  # 休学 / 送教上门 approved (延缓入学 is only before enrolling: never a case)
    OTHER = "other"


class Case(Base):
    """One student's dropout case, from suspicion to return. At most one open case per student."""

    __tablename__ = "cases"
    __table_args__ = (
        Index(
            "uq_cases_open_student",
            "student_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_cases_stage", "stage"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)  # the scope, as opened
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    stage: Mapped[str] = mapped_column(String(10), default=CaseStage.OPEN)
    first_absent_day: Mapped[date] = mapped_column(Date)
    opened_at: Mapped[datetime]
    persuasion_deadline: Mapped[date | None] = mapped_column(Date)  # return deadline in the 劝学书
    home_visit_due: Mapped[date | None] = mapped_column(Date)
    reason_found: Mapped[str | None] = mapped_column(String(30))  # from the persuasion records
    reported_at: Mapped[datetime | None]
    ordered_at: Mapped[datetime | None]
    order_deadline: Mapped[date | None] = mapped_column(Date)  # deadline in the 复学通知书
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_note: Mapped[str | None] = mapped_column(String(500))
    watch_until: Mapped[date | None] = mapped_column(Date)  # after a return, new absences go straight up


class CaseEvent(Base):
    """The case's history: every transition and every contact. Never rewritten."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    actor: Mapped[str] = mapped_column(String(20))  # "person" or "scheduler"
    kind: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CaseStep(Base):
    """A scheduled step done once: the tick inserts (case, step) before acting, so no step runs twice."""

    __tablename__ = "case_steps"
    __table_args__ = (UniqueConstraint("case_id", "step"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    step: Mapped[str] = mapped_column(String(60))
    done_at: Mapped[datetime]


class PersuasionAttempt(Base):
    """劝返记录 / 家访记录: a home visit or other persuasion attempt."""

    __tablename__ = "persuasion_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    on_day: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(20))  # home_visit, phone, school_meeting, other
    visitors: Mapped[str] = mapped_column(String(200))
    people_met: Mapped[str | None] = mapped_column(String(200))
    reason_found: Mapped[str] = mapped_column(String(30))
    attitude: Mapped[str] = mapped_column(String(20))  # cooperative, hesitant, refusing, not_met
    next_step: Mapped[str | None] = mapped_column(String(500))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    recorded_at: Mapped[datetime]
    # child labour or early marriage found: whether the authorities were told (未成年人保护法 art. 11); else None
    authorities_told: Mapped[bool | None] = mapped_column(Boolean)


class SupportReferral(Base):
    """Help the family asked for (cost, transport, learning, family care), for the school officer to arrange."""

    __tablename__ = "support_referrals"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    requested_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(500))


# --- the ladder's patterns: repeated truancy and piling excused days (多次旷课) --------------------------------------


class WatchItem(Base):
    """A student whose absences in one calendar month reached a pattern threshold (policy `patterns`): the school's
    officer was alerted once for that month and kind. A watch item on the case list, not a dropout case."""

    __tablename__ = "watch_items"
    __table_args__ = (UniqueConstraint("student_id", "kind", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "unexplained" or "excused"
    month: Mapped[date] = mapped_column(Date)  # the month's first day
    days: Mapped[int] = mapped_column(Integer)  # the days counted when it was raised
    raised_at: Mapped[datetime]


# --- Records: enrolment changes (学籍变动) ------------------------------------------------------------------------


class EnrolmentChangeKind(StrEnum):
    TRANSFER_OUT = "transfer_out"  # 转出: destination school, confirmed by it
    TRANSFER_IN = "transfer_in"  # 转入: the receiving class may not refuse
    SUSPENSION = "suspension"  # 休学: approved by the township government or county education department
    RESUMPTION = "resumption"  # 复学 after a suspension or home teaching
    HOME_TEACHING = "home_teaching"  # 送教上门: still enrolled, after the county's assessment
    GRADUATION = "graduation"  # 毕业
    DEATH = "death"  # 死亡


class EnrolmentChange(Base):
    """One change of a student's enrolment, with its proof; the student's `status` follows the newest one."""

    __tablename__ = "enrolment_changes"
    __table_args__ = (Index("ix_enrolment_changes_student_on", "student_id", "effective_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    kind: Mapped[str] = mapped_column(String(20))
    effective_on: Mapped[date] = mapped_column(Date, index=True)
    status_after: Mapped[str] = mapped_column(String(20))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)  # the school it happened at
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"))
    destination_school: Mapped[str | None] = mapped_column(String(100))  # 转出: the receiving school
    origin_school: Mapped[str | None] = mapped_column(String(100))  # 转入: where the student came from
    approving_body: Mapped[str | None] = mapped_column(String(100))  # who approved or confirmed it
    document_no: Mapped[str | None] = mapped_column(String(60))  # the approval's or confirmation's number
    note: Mapped[str | None] = mapped_column(String(500))
    closed_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # None: an import or the CLI
    recorded_at: Mapped[datetime]


# --- Formal documents (劝学书, 家访记录, 辍学报告, 复学通知书, legal-step documents) and their delivery -------------


class DocumentKind(StrEnum):
    PERSUASION_NOTICE = "persuasion_notice"  # 劝学书 (school → guardian)
    VISIT_RECORD = "visit_record"  # 家访记录 / 劝返记录 (school file), one per attempt
    DROPOUT_REPORT = "dropout_report"  # 辍学报告 (school → township and county)
    RETURN_ORDER = "return_order"  # 复学通知书 (township → guardian)
    PENALTY_NOTICE = "penalty_notice"  # 行政处罚告知书
    PENALTY_DECISION = "penalty_decision"  # 行政处罚决定书
    DEMAND_FOR_PERFORMANCE = "demand_for_performance"  # 催告书


class IssuerKind(StrEnum):
    SCHOOL = "school"
    TOWNSHIP = "township"


class DeliveryManner(StrEnum):
    IN_PERSON = "in_person"  # 直接送达: the recipient signed
    REFUSED_WITNESSED = "refused_witnessed"  # 留置送达: refused, left with a witness present
    BY_POST = "by_post"  # 邮寄送达


class DocumentCounter(Base):
    """The last number an issuer gave in a year: each issuer numbers its own documents."""

    __tablename__ = "document_counters"
    __table_args__ = (UniqueConstraint("issuer_kind", "issuer_id", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    issuer_kind: Mapped[str] = mapped_column(String(10))
    issuer_id: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    last: Mapped[int] = mapped_column(Integer, default=0)


class FormalDocument(Base):
    """A formal document as issued to one recipient: its number, the facts it stated (`facts`, so the printout can be
    produced again as it was) and how it was delivered. The PDF is produced on demand from this row. Copies of one
    document to several guardians share its number (`seq`, `reference`)."""

    __tablename__ = "formal_documents"
    __table_args__ = (Index("ix_formal_documents_issuer", "issuer_kind", "issuer_id", "year", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int | None]  # the persuasion attempt a 家访记录 records
    issuer_kind: Mapped[str] = mapped_column(String(10))
    issuer_id: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(80))  # e.g. 青山镇中心小学劝学〔2026〕3号
    recipient_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    recipient_name: Mapped[str | None] = mapped_column(String(100))  # a guardian, or the offices a report goes to
    copy: Mapped[bool] = mapped_column(Boolean, default=False)  # a carer's (被委托人) copy
    locale: Mapped[str] = mapped_column(String(10))
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    issued_at: Mapped[datetime]
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # None: the scheduler
    delivered_on: Mapped[date | None] = mapped_column(Date)
    delivery_manner: Mapped[str | None] = mapped_column(String(20))
    delivery_place: Mapped[str | None] = mapped_column(String(200))
    witness: Mapped[str | None] = mapped_column(String(100))
    delivery_recorded_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    delivery_recorded_at: Mapped[datetime | None]
