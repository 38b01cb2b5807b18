"""Notices: rendered once in the recipient's language and written to the outbox in the caller's transaction.

A service calls `enqueue_notice` in the same transaction as the change that causes the notice; the sender
(bot.delivery) delivers it later. Templates are Jinja2 files `locales/<locale>/notices/<name>.html.j2` with
autoescape on, so every value is HTML-escaped. Enqueueing is idempotent by key: the second call is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import to_local
from bot.core.i18n import LOCALES_DIR, babel_locale, gettext
from bot.core.settings import Settings
from bot.onboarding.service import needs_consent
from storage.models import Channel, ContactPoint, OutboxMessage, OutboxStatus, Person

NOTICES_QUEUED = "notices_queued"


@dataclass(frozen=True)
class Action:
    """An answer the recipient can give with one tap. `label` is a msgid, translated for the recipient."""

    label: str
    action: str
    ref: int
    value: str = ""


class Delivery(StrEnum):
    QUEUED = "queued"
    DUPLICATE = "duplicate"  # this notice was enqueued before (same key)
    NOT_LINKED = "not_linked"  # the person has no contact point: someone must phone them
    UNREACHABLE = "unreachable"  # they blocked the bot: someone must phone them
    NO_CONSENT = "no_consent"  # a guardian who has not accepted the privacy notice: someone must phone them


@cache
def _environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(LOCALES_DIR / locale / "notices"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["date"] = lambda day, fmt="long": format_date(day, fmt, locale=babel_locale(locale))
    env.filters["weekday"] = lambda day: format_date(day, "EEEE", locale=babel_locale(locale))
    return env



def render_notice(template: str, locale: str, values: dict[str, Any]) -> str:
    return _environment(locale).get_template(f"{template}.html.j2").render(**values).strip()


def recipient_locale(person: Person, settings: Settings) -> str:
    return person.locale or settings.locale


def next_send_time(now: datetime, settings: Settings) -> datetime:
    """`now`, or the end of quiet hours when `now` falls inside them (local time of the deployment)."""
    local = to_local(now, settings.tz)
    start, end = settings.quiet_hours_start, settings.quiet_hours_end
    clock_time = local.time()
    inside = start <= clock_time or clock_time < end if start > end else start <= clock_time < end
    if not inside:
        return now
    end_day: date = local.date() + timedelta(days=1) if start > end and clock_time >= start else local.date()
    return datetime.combine(end_day, end, tzinfo=settings.tz).astimezone(now.tzinfo)


async def contact_of(session: AsyncSession, person_id: int, channel: str = Channel.TELEGRAM) -> ContactPoint | None:
    return await session.scalar(
        select(ContactPoint).where(ContactPoint.person_id == person_id, ContactPoint.channel == channel)
    )


async def queued_keys(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    """Which of these idempotency keys the outbox holds already: a batch step skips them without rendering."""
    keys = list(keys)
    if not keys:
        return set()
    stmt = select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(keys))
    return set(await session.scalars(stmt))


def delivery_by(contact: ContactPoint | None, awaiting_consent: bool) -> Delivery:
    """Whether a notice can reach a person with this contact point: the one rule for single and batched notices."""
    if contact is None:
        return Delivery.NOT_LINKED
    if not contact.reachable:
        return Delivery.UNREACHABLE
    if awaiting_consent:  # PIPL art. 31: nothing about a child before the guardian agrees
        return Delivery.NO_CONSENT
    return Delivery.QUEUED


def outbox_row(
    settings: Settings,
    now: datetime,
    person: Person,
    contact: ContactPoint,
    template: str,
    values: dict[str, Any],
    key: str,
    *,
    actions: list[list[Action]] | None = None,
    entity: str | None = None,
    entity_id: int | None = None,
    next_attempt_at: datetime | None = None,
) -> dict[str, Any]:
    """The outbox row of one notice, rendered in the recipient's language (quiet hours respected by default)."""
    locale = recipient_locale(person, settings)
    return {
        "idempotency_key": key,
        "person_id": person.id,
        "channel": contact.channel,
        "address": contact.address,
        "template": template,
        "locale": locale,
        "text": render_notice(template, locale, values),
        "actions": [[_action_row(a, locale) for a in row] for row in actions or []],
        "entity": entity,
        "entity_id": entity_id,
        "status": OutboxStatus.PENDING,
        "created_at": now,
        "next_attempt_at": next_attempt_at or next_send_time(now, settings),
        "attempts": 0,
    }


def insert_ignoring_duplicates(session: AsyncSession):
    """INSERT … ON CONFLICT (idempotency_key) DO NOTHING into the outbox, for this session's database."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(OutboxMessage).on_conflict_do_nothing(index_elements=["idempotency_key"])


async def enqueue_notice(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    person: Person,
    template: str,
    values: dict[str, Any],
    key: str,
    *,
    actions: list[list[Action]] | None = None,
    entity: str | None = None,
    entity_id: int | None = None,
    respect_quiet_hours: bool = True,
) -> Delivery:
    """Render `template` for `person` and queue it, unless a notice with `key` exists or they cannot be reached."""
    contact = await contact_of(session, person.id)
    delivery = delivery_by(contact, contact is not None and await needs_consent(session, person.id))
    if delivery is not Delivery.QUEUED or contact is None:
        return delivery
    row = outbox_row(settings, now, person, contact, template, values, key, actions=actions, entity=entity,
                     entity_id=entity_id, next_attempt_at=None if respect_quiet_hours else now)
    stmt = insert_ignoring_duplicates(session).values(row).returning(OutboxMessage.id)
    if (await session.execute(stmt)).scalar() is None:
        return Delivery.DUPLICATE
    session.info[NOTICES_QUEUED] = True  # lets the update's middleware wake the sender once this commits
    return Delivery.QUEUED


def _action_row(action: Action, locale: str) -> dict[str, Any]:
    return {"label": gettext(action.label, locale), "action": action.action, "ref": action.ref, "value": action.value}


