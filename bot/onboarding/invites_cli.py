"""`quanxue invites`: an invite code and link for everyone not yet linked and without a valid code, as a table or
CSV to print or share; `--school`, `--class`, `--role`, `--person` narrow the selection, `--reissue` replaces valid
codes on purpose (lost slips: the old codes stop working).

Only the codes' hashes are stored, so a code can be shown once. The output says how many codes are new and how many
selected people already hold a valid one. It is written before the transaction commits, so a failed write changes
nothing.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import sys
import unicodedata
from pathlib import Path
from typing import TextIO

from bot.core.clock import Clock, to_local
from bot.core.i18n import gettext
from bot.core.settings import Settings
from bot.documents.cli import write_private
from bot.documents.slips import invite_slips
from bot.onboarding import service as ob
from bot.onboarding.invites import InviteBatch, InviteSelection, issue_selected
from storage.db import create_engine, create_sessionmaker, upgrade

log = logging.getLogger(__name__)


async def bot_username(settings: Settings) -> str:
    """The bot's username from the settings, else from Telegram's getMe; "" when neither is possible."""
    if settings.bot_username.strip():
        return settings.bot_username.strip().lstrip("@")
    if not settings.bot_token.get_secret_value():
        return ""
    from bot.app import build_bot  # aiogram only when it is needed

    bot = build_bot(settings)
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    return me.username or ""


def _join(items: list[str] | tuple[str, ...], locale: str) -> str:
    return ("、" if locale.startswith("zh") else ", ").join(items)


def invite_rows(invites: list[ob.Invite], username: str, locale: str) -> list[list[str]]:
    rows = []
    for invite in invites:
        roles = [ob.role_label(role.role, locale) for role in invite.roles]
        if invite.is_guardian:
            roles.append(gettext("Guardian", locale))
        roles = list(dict.fromkeys(roles))
        students = [child.name for child in invite.children]
        rows.append([
            _join(roles, locale),
            invite.name,
            _join(students, locale),
            "; ".join(invite.units),
            ob.format_code(invite.code),
            ob.invite_link(username, invite.code),
        ])
    return rows


def headers(locale: str) -> list[str]:
    return [
        gettext("Role", locale),
        gettext("Name", locale),
        gettext("Student", locale),
        gettext("Class / unit", locale),
        gettext("Code", locale),
        gettext("Link", locale),
    ]


def display_width(text: str) -> int:
    """Columns a terminal gives `text`: CJK (wide and full-width) characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def render_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(display_width(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [cell + " " * (width - display_width(cell)) for cell, width in zip(cells, widths, strict=True)]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)]) + "\n"


def render_csv(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _write_private(path: Path, text: str, encoding: str) -> None:
    """Write the file readable by its owner only: it holds live invite codes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding=encoding, newline="") as handle:
        handle.write(text)


def _counts(batch: InviteBatch, locale: str) -> str:
    return gettext(
        "New codes: {new}. Already holding a valid code: {holding} (their slips stay valid; --reissue replaces "
        "lost ones). Codes are shown only now.", locale
    ).format(new=len(batch.issued), holding=batch.holding)


def _nothing_new(batch: InviteBatch, locale: str) -> str:
    if batch.holding:
        return gettext(
            "No new codes: all {holding} selected people already hold a valid code (use --reissue for lost slips).",
            locale,
        ).format(holding=batch.holding)
    return gettext("Everyone is linked already: no invite codes were issued.", locale)


async def run_invites(
    settings: Settings,
    clock: Clock,
    *,
    fmt: str = "table",
    output: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    selection: InviteSelection | None = None,
    reissue: bool = False,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    locale = settings.locale
    if fmt not in ("table", "csv", "pdf"):
        print(gettext("Unknown format {fmt}: use table or csv.", locale).format(fmt=fmt), file=err)
        return 2
    if fmt == "pdf" and output is None:
        print(gettext("Invite slips are written to a file: add --output FILE.pdf.", locale), file=err)
        return 2
    try:
        username = await bot_username(settings)
    except Exception as exc:  # network, bad token: say what happened, change nothing
        print(gettext("Could not ask Telegram for the bot's username ({error}); set QUANXUE_BOT_USERNAME.",
                      locale).format(error=exc), file=err)
        return 2
    if not username:
        print(gettext("The invite links need the bot's username: set QUANXUE_BOT_USERNAME (or QUANXUE_BOT_TOKEN, "
                      "to read it from Telegram).", locale), file=err)
        return 2

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        sessions = create_sessionmaker(engine)
        async with sessions() as session, session.begin():
            now = clock.now()
            batch = await issue_selected(session, now, settings.invite_ttl_days, selection, reissue=reissue)
            invites = batch.issued
            if not invites:
                print(_nothing_new(batch, locale), file=out)
                return 0
            header, rows = headers(locale), invite_rows(invites, username, locale)
            expires = to_local(invites[0].expires_at, settings.tz).date().isoformat()
            notes = (
                gettext("{count} invite codes, valid until {date}. Each code works once.", locale).format(
                    count=len(invites), date=expires)
                + "\n"
                + _counts(batch, locale)
                + "\n"
            )
            if fmt == "pdf" and output is not None:  # slips to cut out, grouped by class (bot.documents.slips)
                slips = await invite_slips(session, settings, invites, username)
                write_private(output, slips.data)
                print(gettext("Wrote {count} invite slips to {file} ({pages} pages).", locale).format(
                    count=len(invites), file=output, pages=slips.pages), file=out)
                out.write(notes)
            elif fmt == "csv":
                text = render_csv(header, rows)
                if output is None:
                    out.write(text)
                    err.write(notes)
                else:
                    _write_private(output, text, "utf-8-sig")  # the BOM lets Excel read the Chinese correctly
            else:
                text = render_table(header, rows) + "\n" + notes
                if output is None:
                    out.write(text)
                else:
                    _write_private(output, text, "utf-8")
            if output is not None and fmt != "pdf":
                written = gettext("Wrote {count} invites to {file}.", locale).format(count=len(invites), file=output)
                print(written, file=out)
                if fmt == "csv":
                    out.write(notes)
        log.info("issued %d invite codes", len(invites))
    finally:
        await engine.dispose()
    return 0
