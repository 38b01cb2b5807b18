"""Invite slips to cut from A4: one per person, grouped by class for the class teacher to hand out. Each names the
person (and, for a family, all its children), shows the code and the QR code of its deep link, and short
instructions in 简体中文 and, when known and different, in the family's language."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import cast

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import to_local
from bot.core.fonts import CJK_FONT_PATH, face_index
from bot.core.i18n import DEFAULT_LOCALE
from bot.core.settings import Settings
from bot.onboarding import service as ob
from storage.models import Person

from .layout import draw_qr
from .pdf import Rendered
from .templates import render_blocks

COLUMNS, ROWS = 2, 4
PAGE_MARGIN = 8  # mm, outside the cut lines
PAD = 4  # mm inside a slip
QR = 27  # mm
QR_MASK = 2
SLIP_TAGS = frozenset({"unit", "name", "children", "code", "how"})


@dataclass(frozen=True)
class SlipEntry:
    """What one slip shows. `unit` groups the slips (a class, or a staff member's school or township)."""

    name: str
    code: str  # as printed, e.g. ABCDE-FGHJK
    link: str  # the deep link t.me/<bot>?start=<code>
    children: tuple[str, ...]
    unit: str
    expires: date
    locale: str | None = None  # the family's language, when known


class SlipSheet(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
        self.set_text_color(0)
        self.set_draw_color(0)
        self.faces: set[str] = set()
        self.wrapped: dict[tuple[str, float, float, str], list[str]] = {}

    def face(self, locale: str, size: float) -> None:
        """The CJK font in the glyph forms of `locale` (Simplified or Traditional)."""
        name = f"cjk{face_index(locale)}"
        if name not in self.faces:
            self.add_font(name, fname=str(CJK_FONT_PATH), collection_font_number=face_index(locale))
            self.faces.add(name)
        self.set_font(name, size=size)


def _cut_lines(pdf: SlipSheet, width: float, height: float) -> None:
    with pdf.local_context():
        pdf.set_dash_pattern(dash=2, gap=1.5)
        pdf.set_line_width(0.2)
        pdf.set_draw_color(90)
        for column in range(COLUMNS + 1):
            x = PAGE_MARGIN + column * width
            pdf.line(x, PAGE_MARGIN, x, PAGE_MARGIN + ROWS * height)
        for row in range(ROWS + 1):
            y = PAGE_MARGIN + row * height
            pdf.line(PAGE_MARGIN, y, PAGE_MARGIN + COLUMNS * width, y)


def _texts(entry: SlipEntry, locale: str) -> dict[str, list[str]]:
    values = {"name": entry.name, "children": list(entry.children), "code": entry.code, "unit": entry.unit,
              "expires": entry.expires}
    found: dict[str, list[str]] = {}
    for block in render_blocks("invite_slip", locale, values, SLIP_TAGS):
        found.setdefault(block.tag, []).append(block.text)
    return found


def _write(pdf: SlipSheet, x: float, width: float, height: float, text: str) -> None:
    """`text` from `x` in lines of at most `width` (wrapped once per distinct text: most slips share their
    instructions), one cell per line."""
    key = (pdf.font_family, pdf.font_size_pt, width, text)
    if key not in pdf.wrapped:
        pdf.wrapped[key] = cast(list[str], pdf.multi_cell(width, height, text, dry_run=True, output="LINES"))
    for line in pdf.wrapped[key]:
        pdf.set_x(x)
        pdf.cell(width, height, line, new_x="LMARGIN", new_y="NEXT")


def _slip(pdf: SlipSheet, entry: SlipEntry, x: float, y: float, width: float) -> None:
    texts = _texts(entry, DEFAULT_LOCALE)
    inner = width - 2 * PAD
    # a fixed mask: scoring the eight masks would take most of the time of 2,000 slips
    draw_qr(pdf, entry.link, x + width - PAD - QR, y + PAD, QR, mask=QR_MASK)
    pdf.set_xy(x + PAD, y + PAD)
    for tag, size, height in (("unit", 8, 4.2), ("name", 14, 7.5), ("children", 9.5, 5), ("code", 13, 8)):
        for text in texts.get(tag, []):
            pdf.face(DEFAULT_LOCALE, size)
            _write(pdf, x + PAD, inner - QR - 2, height, text)
    pdf.set_y(max(pdf.get_y(), y + PAD + QR) + 1)
    how = [(DEFAULT_LOCALE, line) for line in texts.get("how", [])]
    if entry.locale and entry.locale != DEFAULT_LOCALE:
        how += [(entry.locale, line) for line in _texts(entry, entry.locale).get("how", [])]
    for locale, line in how:
        pdf.face(locale, 7.5)
        _write(pdf, x + PAD, inner, 3.6, line)


def render_slips(entries: Sequence[SlipEntry], file_name: str = "invite-slips.pdf") -> Rendered:
    """The slips, 2 × 4 to an A4 page with dashed cut lines; each unit (class) starts on a new page, in the order
    the units first appear."""
    pdf = SlipSheet()
    width = (pdf.w - 2 * PAGE_MARGIN) / COLUMNS
    height = (pdf.h - 2 * PAGE_MARGIN) / ROWS
    rank = {unit: i for i, unit in enumerate(dict.fromkeys(entry.unit for entry in entries))}
    ordered = sorted(entries, key=lambda entry: rank[entry.unit])
    for _unit, group in groupby(ordered, key=lambda entry: entry.unit):
        members = list(group)
        for start in range(0, len(members), COLUMNS * ROWS):
            pdf.add_page()
            _cut_lines(pdf, width, height)
            for i, entry in enumerate(members[start:start + COLUMNS * ROWS]):
                row, column = divmod(i, COLUMNS)
                _slip(pdf, entry, PAGE_MARGIN + column * width, PAGE_MARGIN + row * height, width)
    return Rendered(file_name, pdf.pages_count, bytes(pdf.output()))


async def invite_slips(session: AsyncSession, settings: Settings, invites: Sequence[ob.Invite],
                       username: str) -> Rendered:
    """The slips of freshly issued invites (`ob.issue_invites`): a family's slip under its first child's class."""
    ids = [invite.person_id for invite in invites]
    locales = dict((await session.execute(select(Person.id, Person.locale).where(Person.id.in_(ids)))).all())
    return render_slips([
        SlipEntry(name=invite.name, code=ob.format_code(invite.code), link=ob.invite_link(username, invite.code),
                  children=tuple(child.name for child in invite.children), unit=invite.units[0] if invite.units else "",
                  expires=to_local(invite.expires_at, settings.tz).date(), locale=locales.get(invite.person_id))
        for invite in invites
    ])
