"""Invite slips: one per person, cut from A4, grouped by class, with the code, a QR code of the deep link that
decodes, and instructions in 简体中文 and the family's language."""

from __future__ import annotations

import io
from datetime import date

from sqlalchemy import update

from bot.core.settings import Settings
from bot.documents.slips import SlipEntry, render_slips
from bot.onboarding.invites_cli import run_invites
from storage.models import Person, Student
from tests.documents.helpers import missing_glyphs, page_count, pdf_text, qr_codes
from tests.seed import seed_world

EXPIRES = date(2026, 10, 7)


def entry(name: str, unit: str, children: tuple[str, ...] = (), locale: str | None = None,
          code: str = "ABCDE-FGHJK") -> SlipEntry:
    return SlipEntry(name=name, code=code, link=f"https://t.me/quanxue_bot?start={code.replace('-', '')}",
                     children=children, unit=unit, expires=EXPIRES, locale=locale)


def pages_text(data: bytes) -> list[str]:
    from pypdf import PdfReader, PdfWriter

    texts = []
    for page in PdfReader(io.BytesIO(data)).pages:
        writer = PdfWriter()
        writer.add_page(page)
        buffer = io.BytesIO()
        writer.write(buffer)
        texts.append(pdf_text(buffer.getvalue()))
    return texts


def test_a_family_slip_names_every_child_in_chinese_and_the_familys_language():
    slips = render_slips([entry("王𠮷", "三年级1班", ("王小堃", "王小䶮"), locale="en", code="KMNPQ-RSTUV")])
    text = pdf_text(slips.data)
    for expected in ("三年级1班", "王𠮷", "孩子：王小堃、王小䶮", "邀请码KMNPQ-RSTUV", "扫描", "2026年10月7日",
                     "scan", "October7,2026"):
        assert expected in text, expected
    assert missing_glyphs(slips.data) == set()
    assert qr_codes(slips.data) == ["https://t.me/quanxue_bot?start=KMNPQRSTUV"]


def test_slips_are_grouped_by_class_eight_to_a_page():
    entries = [entry(f"家长{i}", "三年级1班", code=f"AAAAA-{i:05d}") for i in range(9)]
    entries += [entry("李老师", "五年级2班", code="BBBBB-00001")]
    entries.insert(3, entry("赵家长", "五年级2班", code="BBBBB-00002"))
    slips = render_slips(entries)
    assert slips.pages == page_count(slips.data) == 3  # 9 slips of one class: two pages; the other class its own
    first, second, third = pages_text(slips.data)
    assert "家长7" in first and "家长8" in second and "赵家长" not in first + second
    assert "赵家长" in third and "李老师" in third and "三年级1班" not in third
    assert len(qr_codes(slips.data)) == 11


async def test_the_invites_command_prints_slips_to_a_private_pdf(db_url, sessions, clock, tmp_path):
    async with sessions() as session, session.begin():
        world = await seed_world(session, clock.now())
        await session.execute(update(Student).where(Student.id == world.li_ming.id).values(name="李𠮷"))
        await session.execute(update(Person).where(Person.id == world.grandma_zhang.id).values(locale="zh_Hant"))
    target = tmp_path / "slips.pdf"
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(_env_file=None, bot_username="quanxue_bot", database_url=db_url)
    assert await run_invites(settings, clock, fmt="pdf", out=out, err=err) == 2  # a PDF needs a file
    assert "--output" in err.getvalue()
    assert await run_invites(settings, clock, fmt="pdf", output=target, out=out, err=err) == 0
    data = target.read_bytes()
    assert target.stat().st_mode & 0o077 == 0  # live codes: readable by the owner only
    text = pdf_text(data)
    assert "孩子：李华、李𠮷" in text or "孩子：李𠮷、李华" in text  # the father's one slip names both children
    assert "張奶奶" not in text and "张奶奶" in text and "掃描" in text  # her instructions in Traditional too
    assert len(qr_codes(data)) == 6 and "6" in out.getvalue() and str(target) in out.getvalue()
