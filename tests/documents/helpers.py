"""Reading generated PDFs back: their text (pypdf), the glyphs of their embedded font (fontTools) and their QR
codes (zxing-cpp)."""

from __future__ import annotations

import io
from functools import cache

import zxingcpp
from fontTools.ttLib import TTFont
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import NameObject

from bot.core.fonts import CJK_FONT_PATH, face_index


def pdf_text(data: bytes) -> str:
    """All the text of the PDF with the whitespace removed (the extraction puts spaces between CJK glyphs).

    fpdf2 embeds the CFF font with a CMap stream as /Encoding (two-byte codes); pypdf reads any stream encoding as
    one-byte StandardEncoding, which garbles every code above 255. Told it is the two-byte Identity-H instead, it
    maps each code through the font's /ToUnicode, as a viewer does."""
    reader = PdfReader(io.BytesIO(data))
    for page in reader.pages:
        for font_ref in page["/Resources"].get_object().get("/Font", {}).values():
            font = font_ref.get_object()
            if font.get("/Subtype") == "/Type0" and "/ToUnicode" in font:
                font[NameObject("/Encoding")] = NameObject("/Identity-H")
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


def page_count(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


def embedded_font_names(data: bytes) -> set[str]:
    """The base names of the fonts the PDF embeds (subset prefixes such as ABCDEF+ removed)."""
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font_ref in page["/Resources"].get_object().get("/Font", {}).values():
            for descendant in font_ref.get_object().get("/DescendantFonts", []):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                if "/FontFile2" in descriptor or "/FontFile3" in descriptor:
                    names.add(str(descriptor["/FontName"]).split("+", 1)[-1])
    return names


@cache
def _font_cmap(locale: str) -> frozenset[int]:
    font = TTFont(str(CJK_FONT_PATH), fontNumber=face_index(locale), lazy=True)
    return frozenset(font.getBestCmap())


def missing_glyphs(data: bytes, locale: str = "zh_Hans") -> set[str]:
    """Characters of the PDF's text that the embedded font (Noto Sans CJK, the face of `locale`) has no glyph for.
    The embedded subset is bare CFF without a cmap, so the characters are looked up in the font it came from."""
    assert any(name.startswith("NotoSansCJK") for name in embedded_font_names(data))
    return {char for char in pdf_text(data) if ord(char) not in _font_cmap(locale)}


def qr_codes(data: bytes) -> list[str]:
    """The text of every QR code in the PDF's images."""
    found = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for image in page.images:
            picture = Image.open(io.BytesIO(image.data)).convert("L")
            picture = picture.resize((picture.width * 8, picture.height * 8), Image.Resampling.NEAREST)
            found += [result.text for result in zxingcpp.read_barcodes(picture)]
    return found
