"""`quanxue case-file CASE --output FILE.pdf`: the case file of one case, for the record or for printing."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import TextIO

from bot.core.clock import Clock
from bot.core.i18n import gettext
from bot.core.settings import Settings
from storage.db import create_engine, create_sessionmaker, upgrade

from .casefile import case_file
from .records import DocumentError

_CASE = re.compile(r"(?:\d{4}-)?0*(\d+)")  # 42, or the case's number as documents show it: 2026-00042


def write_private(path: Path, data: bytes) -> None:
    """Write the file readable by its owner only: it holds personal data (and invite slips hold live codes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as handle:
        handle.write(data)


def case_id_of(text: str) -> int | None:
    found = _CASE.fullmatch(text.strip())
    return int(found.group(1)) if found else None


async def run_case_file(settings: Settings, clock: Clock, case: str, output: Path, *, out: TextIO | None = None,
                        err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    locale = settings.locale
    case_id = case_id_of(case)
    if case_id is None:
        print(gettext("No case {case}.", locale).format(case=case), file=err)
        return 2
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            try:
                rendered = await case_file(session, settings, clock.now(), None, case_id, locale)
            except DocumentError:
                print(gettext("No case {case}.", locale).format(case=case), file=err)
                return 2
            await asyncio.to_thread(write_private, output, rendered.data)
        print(gettext("Wrote the case file to {file} ({pages} pages).", locale).format(
            file=output, pages=rendered.pages), file=out)
    finally:
        await engine.dispose()
    return 0
