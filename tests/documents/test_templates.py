"""Every document exists in every locale and prints in it: the names (one outside the BMP), the dates and the number
come out of the PDF, and the font has a glyph for every character."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.i18n import LOCALES, LOCALES_DIR
from bot.core.settings import Settings
from bot.documents.layout import Sheet
from bot.documents.pdf import finish, write_document
from bot.documents.records import FAMILY_KINDS
from storage.models import DocumentKind, FormalDocument
from tests.documents.helpers import missing_glyphs, pdf_text

FACTS = {
    "child": "陈𠮷", "class_name": "四年级2班", "school": "青山镇中心小学", "township": "青山镇",
    "first_absent_day": "2026-09-11", "days_absent": 4, "deadline": "2026-09-24", "teacher": "王丽",
    "issuer": "青山镇人民政府", "issuer_phone": "0871-5550123", "on_day": "2026-09-16", "method": "home_visit",
    "visitors": "王丽、赵强", "people_met": "陈堃", "reason": "gone_to_work", "attitude": "refusing",
    "next_step": "再次家访", "succeeded": False, "by": "王丽", "attempts": [
        {"on_day": "2026-09-16", "method": "home_visit", "reason": "gone_to_work", "attitude": "refusing",
         "succeeded": False, "next_step": ""}],
    "why": "deadline", "note": "", "ordered_on": "2026-09-17", "order_deadline": "2026-10-09",
}


def document(kind: DocumentKind, locale: str) -> FormalDocument:
    return FormalDocument(id=1, case_id=1, kind=kind.value, issuer_kind="township", issuer_id=1, year=2026, seq=7,
                          reference="青山镇人民政府复学〔2026〕7号", recipient_name="陈堃", copy=False, locale=locale,
                          facts=FACTS, issued_at=datetime(2026, 9, 17, 2, tzinfo=UTC))


def test_every_document_template_exists_in_every_locale():
    names = {locale: {p.name for p in (LOCALES_DIR / locale / "documents").glob("*.j2")} for locale in LOCALES}
    assert {f"{kind.value}.j2" for kind in DocumentKind} <= names["zh_Hans"]
    assert names["zh_Hans"] == names["zh_Hant"] == names["en"]


RECEIPT = {"zh_Hans": "送达回证", "zh_Hant": "送達回證", "en": "Deliveryreceipt(送达回证)"}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_document_prints_in_every_locale(locale):
    settings = Settings(_env_file=None)
    pdf = Sheet(locale)
    for kind in DocumentKind:
        write_document(pdf, document(kind, locale), settings, "https://t.me/quanxue_bot?start=X")
    text = pdf_text(finish(pdf, "all.pdf").data)
    assert text.count("陈𠮷") >= len(DocumentKind) and text.count("青山镇人民政府复学〔2026〕7号") >= len(DocumentKind)
    assert ("2026年9月17日" if locale != "en" else "September17,2026") in text  # the date issued
    assert missing_glyphs(finish(pdf, "all.pdf").data, locale) == set()
    # a 送达回证 after each document served on a family (not after the school's file and its report)
    assert text.count(RECEIPT[locale]) == len(FAMILY_KINDS) * (1 if locale == "en" else 2)  # title (and a row)
