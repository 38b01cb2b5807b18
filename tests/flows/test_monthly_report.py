"""The monthly report end to end: a month of roll calls, the tick on the first school day of the next month, the
outbox rows with their attachments, the real sender, and the fake Bot API server receiving sendMessage, sendPhoto
(a PNG that decodes) and sendDocument (an XLSX whose figures match the hand-computed ones). Each officer gets their
own scope only, in their own language."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select

from bot.core.settings import Settings
from bot.notices.outbox import Attachment, enqueue_notice
from bot.tick import run_tick
from storage.models import (
    AbsenceReason,
    AuditEvent,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    School,
    SchoolClass,
    StaffRole,
    Student,
)
from tests.db.test_ladder import at, roll_call
from tests.flows.conftest import TOKEN
from tests.flows.test_delivery import link_people, opened

SEPTEMBER_DAYS = ("2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04")


@pytest.fixture
def settings(db_url, telegram) -> Settings:
    return Settings(_env_file=None, bot_token=TOKEN, bot_username="quanxue_bot", telegram_api=telegram.base_url,
                    database_url=db_url, send_rate_global=1000, send_rate_per_chat=1000, sender_poll_seconds=0.05)


@pytest.fixture
async def county(app, world, clock):
    """Besides the seeded school: a second school of the township with its own officer and a pupil named 𠮷祥,
    a county officer who reads English, and a month of roll calls at the first school."""
    now = clock.now()
    async with app.sessions() as session, session.begin():
        other = School(township_id=world.township.id, name="青山镇第二小学")
        session.add(other)
        await session.flush()
        klass = SchoolClass(school_id=other.id, name="一年级1班")
        other_officer = Person(name="钱进", phone="13900000999", created_at=now, updated_at=now)
        county_officer = Person(name="Officer Hu", phone="13900000888", locale="en", created_at=now, updated_at=now)
        session.add_all([klass, other_officer, county_officer])
        await session.flush()
        session.add_all([
            Student(class_id=klass.id, name="𠮷祥", created_at=now, updated_at=now),
            StaffRole(person_id=other_officer.id, role=Role.SCHOOL_ADMIN, school_id=other.id),
            StaffRole(person_id=county_officer.id, role=Role.COUNTY_OFFICER, county_id=world.township.county_id),
        ])
        for day in SEPTEMBER_DAYS:
            await roll_call(session, world, date.fromisoformat(day))
        await roll_call(session, world, date(2026, 9, 2), {world.li_ming.id: AbsenceReason.UNEXPLAINED})
        await roll_call(session, world, date(2026, 9, 3), {world.li_ming.id: AbsenceReason.SICK})
    await link_people(app, clock, (world.officer, 1002), (world.township_officer, 1003), (other_officer, 1005),
                      (county_officer, 1006))
    return {"other_officer": other_officer, "county_officer": county_officer}


def workbook_of(user):
    (document,) = [m.document for m in user.bot_messages() if m.document]
    return load_workbook(BytesIO(document["data"]))


async def test_the_report_arrives_on_the_first_school_day_with_a_chart_and_the_ledgers(
        app, world, county, telegram, clock):
    users = {telegram_id: opened(telegram, telegram_id, str(telegram_id)) for telegram_id in (1002, 1003, 1005, 1006)}
    assert (await run_tick(app.sessions, app.settings, at("2026-10-07 09:00"))).report_rows == 0  # National Day
    assert (await run_tick(app.sessions, app.settings, at("2026-10-08 07:30"))).report_rows == 0  # before 08:00
    assert (await run_tick(app.sessions, app.settings, at("2026-10-08 09:00"))).report_rows == 4 * 3
    assert (await run_tick(app.sessions, app.settings, at("2026-10-08 09:02"))).report_rows == 0  # once
    clock.set(at("2026-10-08 09:03"))
    await app.sender.drain()

    officer = users[1002]
    text, photo, document = officer.bot_messages()
    assert "青山镇中心小学 2026-09" in text.text and "出勤率：83.3%（应到 12 人次，实到 10 人次）" in text.text
    image = Image.open(BytesIO(photo.photo["data"]))
    image.verify()  # a PNG that decodes
    assert image.format == "PNG" and image.size == (1100, 480)
    assert document.document["file_name"] == "青山镇中心小学-2026-09.xlsx"

    book = workbook_of(officer)
    assert book.sheetnames == ["汇总", "适龄儿童", "疑似辍学", "辍学"]
    summary = book["汇总"]
    assert summary.freeze_panes == "A2"
    header = [cell.value for cell in summary[1]]
    assert header[:7] == ["层级", "名称", "群体", "在籍学生", "应到人次", "实到人次", "出勤率"]
    first = [cell.value for cell in summary[2]]
    assert first[3:7] == [3, 12, 10, pytest.approx(10 / 12)]  # numbers stay numbers
    assert summary.cell(2, 7).number_format == "0.0%"
    children = [row[3] for row in book["适龄儿童"].iter_rows(min_row=2, values_only=True)]
    assert sorted(children) == sorted(["李明", "李华", "张小红"])  # school A's officer never sees school B's rows

    other_children = [row[3] for row in workbook_of(users[1005])["适龄儿童"].iter_rows(min_row=2, values_only=True)]
    assert other_children == ["𠮷祥"]
    township_children = workbook_of(users[1003])["适龄儿童"]
    assert township_children.max_row - 1 == 4  # the township sees both schools

    english = users[1006]
    assert "monthly report" in english.bot_messages()[0].text
    county_book = workbook_of(english)
    assert county_book.sheetnames == ["Summary", "School-age children", "Suspected dropouts", "Dropouts"]
    assert [cell.value for cell in county_book["Summary"][1]][6] == "Attendance rate"

    async with app.sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.entity == "report")))
        assert {row.attachment_mime for row in rows} == {
            None, "image/png", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        sent = list(await session.scalars(select(AuditEvent).where(AuditEvent.action == "report.sent")))
        assert len(sent) == 4


async def test_an_attachment_kept_on_disk_goes_as_a_document_and_a_lost_file_fails_cleanly(
        app, world, telegram, clock, tmp_path):
    user = opened(telegram, 1002, "officer")
    await link_people(app, clock, (world.officer, 1002))
    pdf = tmp_path / "劝学书.pdf"
    pdf.write_bytes(b"%PDF-1.7 fictional")
    async with app.sessions() as session, session.begin():
        officer = await session.get(Person, world.officer.id)
        values = {"scope": "青山镇中心小学", "period": "2026-09"}
        for key, path in (("on-disk", pdf), ("lost", tmp_path / "gone.pdf")):
            await enqueue_notice(session, app.settings, clock.now(), officer, "report_chart", values, key,
                                 attachment=Attachment(path.name, "application/pdf", path=path))
    await app.sender.drain()
    (message,) = user.bot_messages()
    assert message.document["data"] == b"%PDF-1.7 fictional" and message.document["file_name"] == "劝学书.pdf"
    assert message.caption.startswith("青山镇中心小学 2026-09")
    async with app.sessions() as session:
        statuses = dict((await session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.status))).all())
    assert statuses == {"on-disk": OutboxStatus.SENT, "lost": OutboxStatus.FAILED}
