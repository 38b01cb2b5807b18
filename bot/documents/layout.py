"""Printed pages: a document is written as tagged lines (rendered from a Jinja2 template, bot.documents.templates)
and laid out here on A4 in black and white with fpdf2 and the CJK font of bot.core.fonts.

One line is one block, `tag: text` (lines without a known tag are paragraphs; empty lines are skipped):

    title: 劝学书                      centred, large           ref: 青山镇中心小学劝学〔2026〕3号   right
    h: 法律依据                        a heading                p: …                               a paragraph
    item: …                           a bulleted line          field: 学生 | 张𠮷                  a labelled row
    to: 张三：                         the addressee            note: …                            small print
    sign: 青山镇中心小学                the issuer, with the place for the seal (盖章) beside it
    date: 2026年9月7日                 right-aligned            sigline: 受送达人签名 | 日期         lines to sign on
    gap:                              some space               page:                              a new page
    qr: https://t.me/bot?start=CODE | caption                  the link's QR code, the caption beside it

A field without a value leaves room to write or sign in.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from typing import cast

import segno
from fpdf import FPDF

from bot.core.fonts import CJK_FONT_PATH, face_index

FONT = "cjk"
MARGIN = 20  # mm
BODY = 11.5  # pt
LINE = 6.5  # mm per body line
TAGS = frozenset({"title", "subtitle", "ref", "h", "p", "item", "field", "to", "note", "sign", "date", "sigline",
                  "gap", "page", "qr"})
QR_SIZE = 32  # mm: scans from a phone at arm's length


@dataclass(frozen=True)
class Block:
    tag: str
    text: str

    @property
    def parts(self) -> list[str]:
        return [part.strip() for part in self.text.split("|")]


def parse(source: str, tags: frozenset[str] = TAGS) -> list[Block]:
    """The blocks of a rendered template (lines without one of `tags` are paragraphs). Values were HTML-escaped by
    the template (autoescape): unescaped here."""
    blocks = []
    for raw in source.splitlines():
        line = raw.strip()
        if not line:
            continue
        tag, sep, text = line.partition(":")
        if sep and tag.strip() in tags:
            blocks.append(Block(tag.strip(), html.unescape(text.strip())))
        else:
            blocks.append(Block("p", html.unescape(line)))
    return blocks


class Sheet(FPDF):
    """An A4 PDF with the CJK font, page numbers in the footer (`footer_text` beside them)."""

    def __init__(self, locale: str, footer_text: str = "") -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.locale = locale
        self.add_font(FONT, fname=str(CJK_FONT_PATH), collection_font_number=face_index(locale))
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN)
        self.footer_text = footer_text
        self.set_font(FONT, size=BODY)
        self.set_text_color(0)
        self.set_draw_color(0)

    def footer(self) -> None:
        if not self.footer_text:
            return
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.cell(0, 5, f"{self.footer_text}  {self.page_no()}/{{nb}}", align="C")
        self.set_font(FONT, size=BODY)


def write_blocks(pdf: Sheet, blocks: list[Block]) -> None:
    """Lay the blocks out from the current position, adding pages as they fill."""
    width = pdf.w - 2 * MARGIN
    for block in blocks:
        handler = _WRITERS.get(block.tag, _paragraph)
        handler(pdf, block, width)


def _sized(pdf: Sheet, size: float, block: Block, width: float, align: str, height: float) -> None:
    pdf.set_font(FONT, size=size)
    pdf.set_x(MARGIN)
    pdf.multi_cell(width, height, block.text, align=align, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=BODY)


def _title(pdf: Sheet, block: Block, width: float) -> None:
    _sized(pdf, 20, block, width, "C", 11)
    pdf.ln(2)


def _subtitle(pdf: Sheet, block: Block, width: float) -> None:
    _sized(pdf, 10, block, width, "C", 5)


def _ref(pdf: Sheet, block: Block, width: float) -> None:
    _sized(pdf, 10.5, block, width, "R", 6)
    pdf.ln(2)


def _heading(pdf: Sheet, block: Block, width: float) -> None:
    pdf.ln(1.5)
    _sized(pdf, 12.5, block, width, "L", 7)


def _paragraph(pdf: Sheet, block: Block, width: float) -> None:
    _sized(pdf, BODY, block, width, "L", LINE)
    pdf.ln(1)


def _to(pdf: Sheet, block: Block, width: float) -> None:
    _sized(pdf, BODY, block, width, "L", LINE)


def _item(pdf: Sheet, block: Block, width: float) -> None:
    pdf.set_x(MARGIN + 4)
    pdf.cell(5, LINE, "•")
    pdf.multi_cell(width - 9, LINE, block.text, align="L", new_x="LMARGIN", new_y="NEXT")


def _note(pdf: Sheet, block: Block, width: float) -> None:
    pdf.ln(1.5)
    _sized(pdf, 9, block, width, "L", 4.8)


def _field(pdf: Sheet, block: Block, width: float) -> None:
    label, *rest = block.parts
    value = " | ".join(rest)
    label_width = 38
    pdf.set_x(MARGIN)
    lines = max(_lines(pdf, label_width - 3, label), _lines(pdf, width - label_width - 3, value))
    height = (lines if value else max(lines, 2)) * LINE + 2  # an empty value is room to sign or write in
    if pdf.will_page_break(height):
        pdf.add_page()
    y = pdf.get_y()
    pdf.rect(MARGIN, y, label_width, height)
    pdf.rect(MARGIN + label_width, y, width - label_width, height)
    pdf.set_xy(MARGIN + 1.5, y + 1)
    pdf.multi_cell(label_width - 3, LINE, label, align="L")
    pdf.set_xy(MARGIN + label_width + 1.5, y + 1)
    pdf.multi_cell(width - label_width - 3, LINE, value, align="L")
    pdf.set_xy(MARGIN, y + height)


def _lines(pdf: Sheet, width: float, text: str) -> int:
    wrapped = cast(list[str], pdf.multi_cell(width, LINE, text, dry_run=True, output="LINES"))
    return len(wrapped) or 1


def _sign(pdf: Sheet, block: Block, width: float) -> None:
    """The issuer, right-aligned, with a dashed circle marking where the seal goes (盖章)."""
    if pdf.will_page_break(40):
        pdf.add_page()
    pdf.ln(6)
    y = pdf.get_y()
    seal, radius = block.parts[1] if len(block.parts) > 1 else "", 19
    cx = MARGIN + width - radius - 8
    with pdf.local_context():
        pdf.set_dash_pattern(dash=1.2, gap=1.2)
        pdf.set_line_width(0.3)
        pdf.circle(x=cx, y=y + radius - 4, radius=radius)
    if seal:
        pdf.set_font(FONT, size=8)
        pdf.set_xy(cx - radius, y + radius + 8)
        pdf.cell(2 * radius, 4, seal, align="C")
    pdf.set_font(FONT, size=BODY + 0.5)
    pdf.set_xy(MARGIN, y + radius - 8)
    pdf.cell(width - 8, LINE, block.parts[0], align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=BODY)


def _date(pdf: Sheet, block: Block, width: float) -> None:
    pdf.set_x(MARGIN)
    pdf.cell(width - 8, LINE, block.text, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)


def _sigline(pdf: Sheet, block: Block, width: float) -> None:
    """Labels each followed by a line to write on: "受送达人签名 | 日期"."""
    parts = block.parts
    share = width / len(parts)
    pdf.ln(3)
    y = pdf.get_y() + LINE
    for i, label in enumerate(parts):
        x = MARGIN + i * share
        pdf.set_xy(x, pdf.get_y())
        label_width = pdf.get_string_width(label) + 2
        pdf.cell(label_width, LINE, label)
        pdf.line(x + label_width, y, x + share - 4, y)
    pdf.set_xy(MARGIN, y + 2)


def qr_png(link: str, scale: int = 1, mask: int | None = None) -> bytes:
    """The link's QR code as a black-and-white PNG (segno: pure Python), one pixel per module: the PDF scales it
    up without smoothing (no /Interpolate). `mask` None lets segno score the eight masks and pick the best (most
    of the time it takes); any fixed mask makes a valid code."""
    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False, mask=mask).save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def draw_qr(pdf: FPDF, link: str, x: float, y: float, size: float = QR_SIZE, mask: int | None = None) -> None:
    pdf.image(io.BytesIO(qr_png(link, mask=mask)), x=x, y=y, w=size, h=size)


def _qr(pdf: Sheet, block: Block, width: float) -> None:
    link, *caption = block.parts
    if pdf.will_page_break(QR_SIZE + 4):
        pdf.add_page()
    y = pdf.get_y() + 2
    draw_qr(pdf, link, MARGIN, y)
    pdf.set_font(FONT, size=9.5)
    pdf.set_xy(MARGIN + QR_SIZE + 4, y + 2)
    pdf.multi_cell(width - QR_SIZE - 4, 5, "\n".join([*caption, link]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=BODY)
    pdf.set_xy(MARGIN, max(pdf.get_y(), y + QR_SIZE + 2))


def _gap(pdf: Sheet, block: Block, width: float) -> None:
    pdf.ln(LINE)


def _page(pdf: Sheet, block: Block, width: float) -> None:
    pdf.add_page()


_WRITERS = {
    "title": _title, "subtitle": _subtitle, "ref": _ref, "h": _heading, "p": _paragraph, "item": _item,
    "field": _field, "to": _to, "note": _note, "sign": _sign, "date": _date, "sigline": _sigline, "gap": _gap,
    "page": _page, "qr": _qr,
}
