"""Onboarding: invite codes, linking a channel account (Telegram today) to a person, and the guardian's consent.

Plain Python, no aiogram: the CLI (`quanxue invites`) and the bot's handlers call the same functions. Every
function takes the session and `now` (from the injected clock) and returns plain results; none of them commits.

Invite codes are random (`secrets`), `CODE_LENGTH` characters from `ALPHABET` (no 0/O, 1/I/L), and only their
SHA-256 is stored: a code cannot be printed twice. `issue_invites` gives codes only to people without a valid one;
bot.onboarding.invites selects people (school, class, role, person) and reissues on purpose, revoking older codes.
A code is single-use and expires (`Settings.invite_ttl_days`). Wrong, expired or used
codes and unmatched phone numbers are recorded as `LinkAttempt` rows per account; after
`Settings.link_attempts_allowed` of them within `Settings.link_attempts_window_minutes` the account is throttled
and codes are not even checked until the window has passed.

Guardians may also link by sharing their own phone number (the channel vouches for it); staff always use a code,
because their accounts see other people's children. A guardian who links is asked for two separate consents, each
recorded with its text version: processing sensitive information about children under 14 (PIPL arts. 28, 29, 31)
and transferring it abroad to Telegram (arts. 38, 39: the foreign recipient named, with what goes there, who holds
the data and for how long, `consent_terms`). Declining either, or withdrawing later, unlinks the account: the school
then contacts the family by phone or on paper.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import audit
from bot.core.i18n import LOCALES, gettext
from bot.core.phones import normalize_phone
from bot.core.scope import Actor
from storage.db import rows_affected
from storage.models import (
    Channel,
    Consent,
    ContactPoint,
    County,
    EnrolmentStatus,
    Guardianship,
    InviteCode,
    LinkAttempt,
    Person,
    Role,
    School,
    SchoolClass,
    StaffRole,
    Student,
    Township,
)

if TYPE_CHECKING:  # bot.core.policy imports bot.calendar, which imports bot.notices.outbox, which imports us
    from bot.core.policy import Duration

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
CONSENT_VERSION = "2026-12"  # bump when the privacy notice's content changes: guardians are asked again


class ConsentKind(StrEnum):
    """The two separate consents a guardian gives (PIPL art. 29 and art. 39), asked in this order."""

    SENSITIVE = "sensitive"  # sensitive personal information about a child under 14
    ABROAD = "abroad"  # the transfer to Telegram, a service outside mainland China


FOREIGN_RECIPIENT = "Telegram"  # named in the consent to the transfer abroad


def consent_version(kind: ConsentKind) -> str:
    """The text version a consent of this kind is recorded with, e.g. "abroad-2026-12"."""
    return f"{kind.value}-{CONSENT_VERSION}"


CONSENT_VERSIONS = tuple(consent_version(kind) for kind in ConsentKind)

# What a typed message must look like to be taken as a code attempt: generous (any letters and digits, so that a
# mistyped O or I is answered as a wrong code rather than ignored), with optional spaces or dashes.
_CODE_LIKE = re.compile(r"[A-Z0-9]{8,12}")
_CODE_SEPARATORS = re.compile(r"[\s\-_.·—–]")

# Students whose guardians still need the bot (transferred or graduated pupils' families do not).
ACTIVE_STATUSES = (
    EnrolmentStatus.ENROLLED,
    EnrolmentStatus.SUSPENDED,
    EnrolmentStatus.DEFERRED,
    EnrolmentStatus.HOME_TEACHING,
)
ROLE_ORDER = (Role.CLASS_TEACHER, Role.SCHOOL_ADMIN, Role.PRINCIPAL, Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICER)


class LinkSettings(Protocol):
    link_attempts_allowed: int
    link_attempts_window_minutes: int


# --- codes --------------------------------------------------------------------------------------------------------


def generate_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str:
    """What the person typed, as the code it means: full-width folded, upper case, no spaces or dashes."""
    text = unicodedata.normalize("NFKC", raw or "").strip().upper()
    return _CODE_SEPARATORS.sub("", text)


def hash_code(raw: str) -> str:
    return hashlib.sha256(normalize_code(raw).encode("ascii", "replace")).hexdigest()


def looks_like_code(text: str | None) -> bool:
    """Whether a plain message from someone not linked should be tried as an invite code."""
    return text is not None and 0 < len(text) <= 40 and _CODE_LIKE.fullmatch(normalize_code(text)) is not None


def format_code(code: str) -> str:
    """For printing: ABCDE-FGHJK (the dash is optional when typing)."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def invite_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


# --- who someone is -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleLink:
    role: Role
    unit: str  # "青山镇中心小学 三年级1班", "青山镇中心小学", "青山镇" or (a county officer's) "示范县"
    township: str


@dataclass(frozen=True)
class ChildLink:
    name: str
    class_name: str
    school: str


@dataclass(frozen=True)
class Profile:
    """A person as they are shown to themselves: name, roles with their units, children with their class.

    Never carries 学籍号, ID numbers, phone numbers or database ids of students.
    """

    person_id: int
    name: str
    locale: str | None
    roles: tuple[RoleLink, ...] = ()
    children: tuple[ChildLink, ...] = ()

    @property
    def is_staff(self) -> bool:
        return bool(self.roles)

    @property
    def is_guardian(self) -> bool:
        return bool(self.children)


async def roles_of(session: AsyncSession, person_ids: list[int]) -> dict[int, list[RoleLink]]:
    school_id = func.coalesce(StaffRole.school_id, SchoolClass.school_id)
    township_id = func.coalesce(StaffRole.township_id, School.township_id)
    rows = await session.execute(
        select(StaffRole.person_id, StaffRole.role, SchoolClass.name, School.name, Township.name, County.name)
        .outerjoin(SchoolClass, SchoolClass.id == StaffRole.class_id)
        .outerjoin(School, School.id == school_id)
        .outerjoin(Township, Township.id == township_id)
        .outerjoin(County, County.id == StaffRole.county_id)
        .where(StaffRole.person_id.in_(person_ids))
        .order_by(StaffRole.id)
    )
    roles: dict[int, list[RoleLink]] = defaultdict(list)
    for person_id, role, class_name, school_name, township_name, county_name in rows:
        unit = (" ".join(part for part in (school_name, class_name) if part) or township_name or county_name
                or "")
        roles[person_id].append(RoleLink(Role(role), unit, township_name or ""))
    for links in roles.values():
        links.sort(key=lambda link: ROLE_ORDER.index(link.role) if link.role in ROLE_ORDER else len(ROLE_ORDER))
    return roles


async def children_of(session: AsyncSession, person_ids: list[int]) -> dict[int, list[ChildLink]]:
    rows = await session.execute(
        select(Guardianship.person_id, Student.name, SchoolClass.name, School.name)
        .join(Student, Student.id == Guardianship.student_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .join(School, School.id == SchoolClass.school_id)
        .where(Guardianship.person_id.in_(person_ids), Student.status.in_(ACTIVE_STATUSES))
        .order_by(School.name, SchoolClass.name, Student.name)
    )
    children: dict[int, list[ChildLink]] = defaultdict(list)
    for person_id, name, class_name, school_name in rows:
        children[person_id].append(ChildLink(name, class_name, school_name))
    return children


async def profile(session: AsyncSession, person_id: int) -> Profile:
    person = await session.get(Person, person_id)
    if person is None:
        raise LookupError(f"no person {person_id}")
    roles = await roles_of(session, [person_id])
    children = await children_of(session, [person_id])
    return Profile(person.id, person.name, person.locale, tuple(roles[person_id]), tuple(children[person_id]))


def role_label(role: Role | str, locale: str) -> str:
    """The role's name in `locale` (literal msgids, so that pybabel finds them)."""
    if role == Role.CLASS_TEACHER:
        return gettext("Class teacher", locale)
    if role == Role.SCHOOL_ADMIN:
        return gettext("Dropout-control officer", locale)
    if role == Role.PRINCIPAL:
        return gettext("Principal", locale)
    if role == Role.TOWNSHIP_OFFICER:
        return gettext("Township officer", locale)
    if role == Role.COUNTY_OFFICER:
        return gettext("County education bureau officer", locale)
    return gettext("Guardian", locale)


# --- invites ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invite:
    """One freshly issued code, with what the printed slip needs. `code` is the only copy of the plain code."""

    person_id: int
    name: str
    roles: tuple[RoleLink, ...]
    children: tuple[ChildLink, ...]
    code: str
    expires_at: datetime

    @property
    def is_guardian(self) -> bool:
        return bool(self.children)

    @property
    def units(self) -> tuple[str, ...]:
        """Where the person belongs, for sorting and printing: role units first, then the children's classes."""
        seen = dict.fromkeys([r.unit for r in self.roles] + [f"{c.school} {c.class_name}" for c in self.children])
        return tuple(seen)


async def issue_invites(
    session: AsyncSession, now: datetime, ttl_days: int, *, channel: str = Channel.TELEGRAM
) -> list[Invite]:
    """A code for every person with a staff role or an active child's guardianship, not yet linked on `channel`
    and without a valid code (bot.onboarding.invites selects, filters and reissues)."""
    from bot.onboarding.invites import issue_selected

    return (await issue_selected(session, now, ttl_days, channel=channel)).issued


# --- linking ------------------------------------------------------------------------------------------------------


class LinkOutcome(StrEnum):
    LINKED = "linked"
    UNKNOWN = "unknown"  # no such code
    EXPIRED = "expired"  # past its date, or replaced by a newer printout
    USED = "used"
    THROTTLED = "throttled"
    ALREADY_LINKED = "already_linked"  # this account is linked already (profile says to whom)
    PERSON_LINKED_ELSEWHERE = "person_linked_elsewhere"  # the person has another account on this channel
    NO_MATCH = "no_match"  # the shared phone number is not a guardian's in the roster
    STAFF_USE_CODE = "staff_use_code"  # the phone is a staff member's: staff link with their code


WRONG_TRIES = (LinkOutcome.UNKNOWN, LinkOutcome.EXPIRED, LinkOutcome.USED, LinkOutcome.NO_MATCH,
               LinkOutcome.PERSON_LINKED_ELSEWHERE)


@dataclass(frozen=True)
class LinkResult:
    outcome: LinkOutcome
    profile: Profile | None = None  # LINKED and ALREADY_LINKED
    wait_minutes: int = 0  # THROTTLED
    needs_consent: bool = False  # LINKED / ALREADY_LINKED guardians who have not accepted the current notice

    @property
    def linked(self) -> bool:
        return self.outcome is LinkOutcome.LINKED


async def _throttle(session: AsyncSession, now: datetime, channel: str, address: str, settings: LinkSettings) -> int:
    """Minutes until this account may try again (0: it may try now)."""
    window = timedelta(minutes=settings.link_attempts_window_minutes)
    recent = list(
        await session.scalars(
            select(LinkAttempt.at)
            .where(LinkAttempt.channel == channel, LinkAttempt.address == address, LinkAttempt.at > now - window)
            .order_by(LinkAttempt.at)
        )
    )
    if len(recent) < settings.link_attempts_allowed:
        return 0
    frees_at = recent[len(recent) - settings.link_attempts_allowed] + window
    return max(1, math.ceil((frees_at - now).total_seconds() / 60))


def _wrong(session: AsyncSession, now: datetime, channel: str, address: str, outcome: LinkOutcome) -> LinkResult:
    session.add(LinkAttempt(channel=channel, address=address, at=now))
    return LinkResult(outcome)


async def _account_person(session: AsyncSession, channel: str, address: str) -> Person | None:
    return await session.scalar(
        select(Person).join(ContactPoint).where(ContactPoint.channel == channel, ContactPoint.address == address)
    )


async def _has_contact(session: AsyncSession, person_id: int, channel: str) -> bool:
    found = await session.scalar(
        select(ContactPoint.id).where(ContactPoint.person_id == person_id, ContactPoint.channel == channel)
    )
    return found is not None


async def _already_linked(session: AsyncSession, person: Person) -> LinkResult:
    consent = await needs_consent(session, person.id)
    return LinkResult(LinkOutcome.ALREADY_LINKED, await profile(session, person.id), needs_consent=consent)


async def _link(
    session: AsyncSession, now: datetime, person: Person, channel: str, address: str, locale: str | None, how: str,
    code: InviteCode | None = None,
) -> LinkResult:
    session.add(ContactPoint(person_id=person.id, channel=channel, address=address, reachable=True, linked_at=now))
    if code is not None:
        code.used_at = now
    # Any other printed code of this person is now pointless: close it.
    await session.execute(
        update(InviteCode)
        .where(InviteCode.person_id == person.id, InviteCode.used_at.is_(None), InviteCode.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if locale in LOCALES and person.locale is None:
        person.locale = locale
        person.updated_at = now
    await session.flush()
    code_used: dict[str, Any] = {"invite_code_id": code.id} if code is not None else {}
    audit.record(
        session, now, "account_linked", "person", person.id, actor_person_id=person.id, channel=channel, how=how,
        **code_used,
    )
    return LinkResult(
        LinkOutcome.LINKED, await profile(session, person.id), needs_consent=await needs_consent(session, person.id)
    )


async def redeem_code(
    session: AsyncSession,
    now: datetime,
    channel: str,
    address: str,
    code: str,
    *,
    settings: LinkSettings,
    locale: str | None = None,
) -> LinkResult:
    """Link the account (`channel`, `address`) to the person the invite `code` was issued to.

    `locale` is the account's language; it becomes the person's language if they have none yet.
    """
    current = await _account_person(session, channel, address)
    if current is not None:
        return await _already_linked(session, current)
    wait = await _throttle(session, now, channel, address, settings)
    if wait:
        return LinkResult(LinkOutcome.THROTTLED, wait_minutes=wait)
    invite = await session.scalar(select(InviteCode).where(InviteCode.code_hash == hash_code(code)))
    if invite is None:
        return _wrong(session, now, channel, address, LinkOutcome.UNKNOWN)
    if invite.used_at is not None:
        return _wrong(session, now, channel, address, LinkOutcome.USED)
    if invite.revoked_at is not None or invite.expires_at <= now:
        return _wrong(session, now, channel, address, LinkOutcome.EXPIRED)
    if await _has_contact(session, invite.person_id, channel):
        return _wrong(session, now, channel, address, LinkOutcome.PERSON_LINKED_ELSEWHERE)
    person = await session.get(Person, invite.person_id)
    assert person is not None  # foreign key
    return await _link(session, now, person, channel, address, locale, "code", invite)


async def link_by_contact(
    session: AsyncSession,
    now: datetime,
    channel: str,
    address: str,
    phone: str,
    *,
    settings: LinkSettings,
    locale: str | None = None,
) -> LinkResult:
    """Link a guardian by the phone number the channel says is the account's own.

    The caller must make sure the contact is the account's own (on Telegram: contact.user_id == from_user.id).
    Staff are told to use their code: their accounts see other people's children, a phone number is not enough.
    """
    current = await _account_person(session, channel, address)
    if current is not None:
        return await _already_linked(session, current)
    wait = await _throttle(session, now, channel, address, settings)
    if wait:
        return LinkResult(LinkOutcome.THROTTLED, wait_minutes=wait)
    try:
        number = normalize_phone(phone)
    except ValueError:
        number = None
    person = await session.scalar(select(Person).where(Person.phone == number)) if number else None
    if person is None:
        return _wrong(session, now, channel, address, LinkOutcome.NO_MATCH)
    if await session.scalar(select(StaffRole.id).where(StaffRole.person_id == person.id).limit(1)) is not None:
        return LinkResult(LinkOutcome.STAFF_USE_CODE)
    if not (await children_of(session, [person.id]))[person.id]:
        return _wrong(session, now, channel, address, LinkOutcome.NO_MATCH)
    if await _has_contact(session, person.id, channel):
        return _wrong(session, now, channel, address, LinkOutcome.PERSON_LINKED_ELSEWHERE)
    return await _link(session, now, person, channel, address, locale, "contact")


async def unlink(session: AsyncSession, now: datetime, person_id: int, channel: str, *, reason: str) -> bool:
    """Remove the person's contact point on `channel` (they can link again); False if there was none."""
    removed = await rows_affected(
        session, delete(ContactPoint).where(ContactPoint.person_id == person_id, ContactPoint.channel == channel)
    )
    if not removed:
        return False
    audit.record(session, now, "account_unlinked", "person", person_id, actor_person_id=person_id,
                 channel=channel, reason=reason)
    return True


# --- consent ------------------------------------------------------------------------------------------------------


async def _is_guardian(session: AsyncSession, person_id: int) -> bool:
    found = await session.scalar(select(Guardianship.id).where(Guardianship.person_id == person_id).limit(1))
    return found is not None


async def current_consents(session: AsyncSession, person_id: int) -> set[ConsentKind]:
    """The kinds of consent the person gave to the current text versions."""
    versions = set(await session.scalars(
        select(Consent.text_version).where(Consent.person_id == person_id, Consent.text_version.in_(CONSENT_VERSIONS))
    ))
    return {kind for kind in ConsentKind if consent_version(kind) in versions}


async def has_consented(session: AsyncSession, person_id: int) -> bool:
    """Both consents given to the current texts."""
    return len(await current_consents(session, person_id)) == len(ConsentKind)


async def missing_consents(session: AsyncSession, person_id: int) -> list[ConsentKind]:
    """The consents a guardian still has to be asked for, in order (none for staff who are not guardians)."""
    if not await _is_guardian(session, person_id):
        return []
    given = await current_consents(session, person_id)
    return [kind for kind in ConsentKind if kind not in given]


async def needs_consent(session: AsyncSession, person_id: int) -> bool:
    """A guardian who has not given both consents to the current texts."""
    return bool(await missing_consents(session, person_id))


class ConsentOutcome(StrEnum):
    RECORDED = "recorded"
    ALREADY = "already"  # accepted before: nothing changed
    NOT_NEEDED = "not_needed"  # not a guardian: there is nothing to accept
    DECLINED = "declined"  # declined: the account was unlinked
    WITHDRAWN = "withdrawn"  # accepted earlier, withdrawn now: the consent is deleted and the account unlinked


@dataclass(frozen=True)
class ConsentTerms:
    """What the consent texts name: the foreign recipient, who holds the data (the children's schools, with their
    office phones) and for how long (policy `privacy.retention`, after the child leaves compulsory education)."""

    recipient: str
    holders: tuple[tuple[str, str], ...]  # (school, office phone or "")
    retention_months: int


def retention_months(retention: Duration) -> int:
    """Policy `privacy.retention` in whole months (a period given in calendar days is rounded up to months)."""
    return retention.amount if retention.unit == "months" else math.ceil(retention.amount / 30)


async def consent_terms(session: AsyncSession, person_id: int, retention_months: int) -> ConsentTerms:
    rows = await session.execute(
        select(School.name, School.office_phone).distinct()
        .join(SchoolClass, SchoolClass.school_id == School.id).join(Student, Student.class_id == SchoolClass.id)
        .join(Guardianship, Guardianship.student_id == Student.id)
        .where(Guardianship.person_id == person_id).order_by(School.name)
    )
    return ConsentTerms(FOREIGN_RECIPIENT, tuple((name, phone or "") for name, phone in rows), retention_months)


async def record_consent(
    session: AsyncSession, now: datetime, person_id: int, locale: str, channel: str, kind: ConsentKind
) -> ConsentOutcome:
    """Record one consent (`kind`) with its text version: one `Consent` row and one audit row, once."""
    if not await _is_guardian(session, person_id):
        return ConsentOutcome.NOT_NEEDED
    if kind not in await missing_consents(session, person_id):
        return ConsentOutcome.ALREADY
    row = Consent(person_id=person_id, text_version=consent_version(kind), locale=locale, channel=channel,
                  accepted_at=now)
    session.add(row)
    await session.flush()
    audit.record(session, now, "consent_given", "person", person_id, actor_person_id=person_id,
                 consent_id=row.id, text_version=row.text_version, kind=kind.value, channel=channel)
    return ConsentOutcome.RECORDED


async def decline_consent(
    session: AsyncSession, now: datetime, person_id: int, channel: str, kind: ConsentKind
) -> ConsentOutcome:
    """The guardian said no to `kind`: nothing is sent to them on `channel` any more and the school contacts the
    family by phone or on paper; they may link again any time. A consent given earlier to the other kind stays
    recorded (it was given; linking again asks only what is missing). ALREADY if `kind` was given: declining it
    now would be a withdrawal, which `withdraw_consent` handles."""
    if not await _is_guardian(session, person_id):
        return ConsentOutcome.NOT_NEEDED
    if kind not in await missing_consents(session, person_id):
        return ConsentOutcome.ALREADY
    audit.record(session, now, "consent_declined", "person", person_id, actor_person_id=person_id,
                 text_version=consent_version(kind), kind=kind.value, channel=channel)
    await unlink(session, now, person_id, channel, reason="consent_declined")
    return ConsentOutcome.DECLINED


async def withdraw_consent(session: AsyncSession, now: datetime, person_id: int, channel: str) -> ConsentOutcome:
    """PIPL art. 15: the guardian withdraws. The consent rows go (the audit log keeps that they existed, by id),
    and the account is unlinked; linking again asks for consent again."""
    consent_ids = list(await session.scalars(select(Consent.id).where(Consent.person_id == person_id)))
    if not consent_ids:
        return ConsentOutcome.NOT_NEEDED
    await session.execute(delete(Consent).where(Consent.id.in_(consent_ids)))
    audit.record(session, now, "consent_withdrawn", "person", person_id, actor_person_id=person_id,
                 consent_ids=consent_ids, channel=channel)
    await unlink(session, now, person_id, channel, reason="consent_withdrawn")
    return ConsentOutcome.WITHDRAWN


# --- language and help --------------------------------------------------------------------------------------------


async def set_locale(session: AsyncSession, now: datetime, person_id: int, locale: str) -> None:
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}")
    person = await session.get(Person, person_id)
    if person is None:
        raise LookupError(f"no person {person_id}")
    if person.locale != locale:
        person.locale = locale
        person.updated_at = now
        audit.record(session, now, "locale_set", "person", person_id, actor_person_id=person_id, locale=locale)


class HelpTopic(StrEnum):
    UNLINKED = "unlinked"
    TEACHER = "teacher"
    SCHOOL = "school"
    TOWNSHIP = "township"
    COUNTY = "county"
    GUARDIAN = "guardian"


def help_topics(actor: Actor | None) -> list[HelpTopic]:
    """Which help sections a person gets (several for several roles); None means not linked."""
    if actor is None:
        return [HelpTopic.UNLINKED]
    roles = {scope.role for scope in actor.roles}
    topics: list[HelpTopic] = []
    if Role.CLASS_TEACHER in roles:
        topics.append(HelpTopic.TEACHER)
    if Role.SCHOOL_ADMIN in roles or Role.PRINCIPAL in roles:
        topics.append(HelpTopic.SCHOOL)
    if Role.TOWNSHIP_OFFICER in roles:
        topics.append(HelpTopic.TOWNSHIP)
    if Role.COUNTY_OFFICER in roles:
        topics.append(HelpTopic.COUNTY)
    if actor.is_guardian:
        topics.append(HelpTopic.GUARDIAN)
    return topics
