"""The Quanxue schema: places (county → township → school → class), students, people and their roles,
onboarding (contact points, invite codes, consents) and the append-only audit log.

Guardians and staff are both `Person` rows: one phone number is one person, so a teacher who is also a parent is
linked once. How a person is reached is data (`ContactPoint.channel`), never a Telegram-specific column.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, MetaData, String, UniqueConstraint
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
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


class Role(StrEnum):
    CLASS_TEACHER = "class_teacher"
    SCHOOL_ADMIN = "school_admin"  # 控辍专干
    PRINCIPAL = "principal"
    TOWNSHIP_OFFICER = "township_officer"


class EnrolmentStatus(StrEnum):
    ENROLLED = "enrolled"
    SUSPENDED = "suspended"  # 休学, approved
    DEFERRED = "deferred"  # 延缓入学, approved
    HOME_TEACHING = "home_teaching"  # 送教上门, still enrolled
    TRANSFERRED = "transferred"
    GRADUATED = "graduated"


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


class School(Base):
    __tablename__ = "schools"
    __table_args__ = (UniqueConstraint("township_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
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
    """A role with its scope: exactly one of class_id / school_id / township_id is set, as the role requires."""

    __tablename__ = "staff_roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)


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
