"""Formal documents: numbered by their issuer, printed as PDFs whose text, glyphs and QR codes can be read back,
and their delivery recorded once, with the deadlines that run from it."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import select, update

from bot.cases import PersuasionInput, issue_return_order, record_persuasion, report_to_township
from bot.core.settings import Settings
from bot.documents.casefile import case_file, plain_lines
from bot.documents.cli import run_case_file
from bot.documents.pdf import print_document, render_document
from bot.documents.records import (
    DocumentError,
    DocumentErrorCode,
    documents_of_case,
    record_delivery,
)
from bot.onboarding.service import LinkOutcome, redeem_code
from storage.models import DeliveryManner, DocumentKind, FormalDocument, OutboxMessage, Person, Student, Township
from tests.db.test_ladder import POLICY, actor_of, at, linked_world, open_case
from tests.documents.helpers import missing_glyphs, pdf_text, qr_codes
from tests.policies import AUTOMATIC_NOTICE
from tests.seed import World

BOT = "quanxue_test_bot"
CHILD = "张𠮷红"  # 𠮷 (U+20BB7) is outside the Basic Multilingual Plane
FATHER = "张堃"


@pytest.fixture
def settings() -> Settings:
    """The 劝学书 goes out when the case opens (the default waits for the school officer's tap)."""
    return Settings(_env_file=None, policy=AUTOMATIC_NOTICE)


@pytest.fixture
async def world(sessions, clock) -> World:
    world = await linked_world(sessions, clock)
    async with sessions() as session, session.begin():
        await session.execute(update(Student).where(Student.id == world.zhang_xiaohong.id).values(name=CHILD))
        await session.execute(update(Person).where(Person.id == world.father_zhang.id).values(name=FATHER))
        await session.execute(update(Township).where(Township.id == world.township.id)
                              .values(office_phone="0871-5550123"))
    return world


async def documents(sessions, case_id: int, kind: DocumentKind) -> list[FormalDocument]:
    async with sessions() as session:
        return [d for d in await documents_of_case(session, case_id) if d.kind == kind]


async def test_the_persuasion_notice_prints_with_its_number_names_dates_and_a_join_code(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.zhang_xiaohong)
    notices = await documents(sessions, case.id, DocumentKind.PERSUASION_NOTICE)
    assert {d.recipient_name for d in notices} == {"张奶奶", FATHER}
    assert {d.reference for d in notices} == {"青山镇中心小学劝学〔2026〕1号"}  # one document, a copy to each
    unlinked = next(d for d in notices if d.recipient_name == FATHER)
    async with sessions() as session, session.begin():
        officer = await actor_of(session, world.officer)
        printed = await print_document(session, settings, at("2026-09-16 09:00"), officer, unlinked.id, BOT)
    text = pdf_text(printed.data)
    for expected in ("劝学书", "青山镇中心小学劝学〔2026〕1号", CHILD, FATHER, "三年级1班", "2026年9月11日",
                     "送达回证", "留置送达", "盖章"):
        assert expected in text
    assert "2026年9月" in text.split("返校期限")[1][:12]  # the deadline is printed
    assert missing_glyphs(printed.data) == set()  # 𠮷 and 堃 included: they are in the text
    [link] = qr_codes(printed.data)
    assert link.startswith(f"https://t.me/{BOT}?start=")
    code = link.rsplit("=", 1)[1]
    async with sessions() as session, session.begin():  # the code joins that guardian, once
        first = await redeem_code(session, at("2026-09-16 20:00"), "telegram", "7001", code, settings=settings)
        again = await redeem_code(session, at("2026-09-16 20:01"), "telegram", "7002", code, settings=settings)
    assert first.outcome is LinkOutcome.LINKED and first.profile.person_id == world.father_zhang.id
    assert again.outcome is LinkOutcome.USED


async def test_each_issuer_numbers_its_own_documents(sessions, settings, world):
    one = await open_case(sessions, settings, world, world.zhang_xiaohong)
    now = at("2026-09-16 10:00")
    async with sessions() as session, session.begin():
        officer, township = await actor_of(session, world.officer), await actor_of(session, world.township_officer)
        await record_persuasion(session, settings, POLICY, now, officer, one.id, PersuasionInput(
            on_day=date(2026, 9, 16), method="home_visit", visitors="王丽、赵强", people_met="张奶奶",
            reason_found="family_hardship", attitude="hesitant", next_step="申请资助", succeeded=False))
        await report_to_township(session, settings, POLICY, now, officer, one.id)
        await issue_return_order(session, settings, POLICY, now, township, one.id)
    [visit] = await documents(sessions, one.id, DocumentKind.VISIT_RECORD)
    [report] = await documents(sessions, one.id, DocumentKind.DROPOUT_REPORT)
    orders = await documents(sessions, one.id, DocumentKind.RETURN_ORDER)
    assert visit.reference == "青山镇中心小学家访〔2026〕2号"
    assert report.reference == "青山镇中心小学辍报〔2026〕3号"
    assert report.recipient_name == "青山镇人民政府、示范县教育局"
    assert {o.reference for o in orders} == {"青山镇人民政府复学〔2026〕1号"}  # the township's own first number
    order_text = pdf_text(render_document(orders[0], settings).data)
    for expected in ("复学通知书", "青山镇人民政府复学〔2026〕1号", CHILD, "逾期仍未送孩子返校的，将依法作进一步处理",
                     "0871-5550123", "第五十八条", "青山镇人民政府"):
        assert expected in order_text
    report_text = pdf_text(render_document(report, settings).data)
    assert "辍学报告" in report_text and "示范县教育局" in report_text and "家庭困难" in report_text
    visit_text = pdf_text(render_document(visit, settings).data)
    assert "家访记录" in visit_text and "王丽、赵强" in visit_text and "2026年9月16日" in visit_text
    async with sessions() as session:
        texts = list(await session.scalars(select(FormalDocument.reference)))
    assert len(set(texts)) == 4  # two guardians share each family document's number


async def test_delivery_is_recorded_once_by_the_issuers_side(sessions, settings, world):
    case = await open_case(sessions, settings, world, world.zhang_xiaohong)
    notice = (await documents(sessions, case.id, DocumentKind.PERSUASION_NOTICE))[0]
    async with sessions() as session, session.begin():
        officer, township = await actor_of(session, world.officer), await actor_of(session, world.township_officer)
        now = at("2026-09-17 18:00")

        async def refused(actor, *args, **kw) -> DocumentErrorCode:
            with pytest.raises(DocumentError) as error:
                await record_delivery(session, settings, now, actor, notice.id, *args, **kw)
            return error.value.code

        assert await refused(township, date(2026, 9, 16), "in_person") is DocumentErrorCode.NOT_ALLOWED
        assert await refused(officer, date(2026, 9, 18), "in_person") is DocumentErrorCode.BAD_VALUE  # future
        assert await refused(officer, date(2026, 9, 14), "in_person") is DocumentErrorCode.BAD_VALUE  # before issue
        assert await refused(officer, date(2026, 9, 16), "refused_witnessed") is DocumentErrorCode.BAD_VALUE
        assert await refused(officer, date(2026, 9, 16), "by_pigeon") is DocumentErrorCode.BAD_VALUE
        done = await record_delivery(session, settings, now, officer, notice.id, date(2026, 9, 16),
                                     DeliveryManner.REFUSED_WITNESSED, witness="村委会 李四", place="张家")
        assert (done.delivered_on, done.delivery_manner, done.witness) == (
            date(2026, 9, 16), "refused_witnessed", "村委会 李四")
        assert await refused(officer, date(2026, 9, 16), "in_person") is DocumentErrorCode.ALREADY
    text = pdf_text(render_document(done, settings).data)
    assert "■留置送达" in text and "村委会李四" in text and "2026年9月16日" in text


async def test_the_case_file_holds_the_history_the_notices_as_sent_and_every_document(sessions, settings, world,
                                                                                       tmp_path, clock):
    case = await open_case(sessions, settings, world, world.zhang_xiaohong)
    now = at("2026-09-16 10:00")
    async with sessions() as session, session.begin():
        officer, township = await actor_of(session, world.officer), await actor_of(session, world.township_officer)
        await record_persuasion(session, settings, POLICY, now, officer, case.id, PersuasionInput(
            on_day=date(2026, 9, 16), method="home_visit", visitors="王丽", people_met="张奶奶",
            reason_found="gone_to_work", attitude="refusing", next_step=None, succeeded=False,
            authorities_told=True))
        await report_to_township(session, settings, POLICY, now, officer, case.id)
        await issue_return_order(session, settings, POLICY, now, township, case.id)
        sent = await session.scalar(select(OutboxMessage.text).where(OutboxMessage.template == "return_order",
                                                                     OutboxMessage.entity_id == case.id).limit(1))
        teacher = await actor_of(session, world.teacher)
        with pytest.raises(DocumentError):  # a class teacher does not print the case file
            await case_file(session, settings, now, teacher, case.id, "zh_Hans")
        rendered = await case_file(session, settings, now, township, case.id, "zh_Hans")
    text = pdf_text(rendered.data)
    for expected in ("个案档案", CHILD, "张奶奶（奶奶）", "建档跟进", "记录劝返", "书面报告乡镇", "乡镇发出复学通知书",
                     "发出的通知（原文）", "家访记录（劝返记录）", "辍学报告", "复学通知书", "尚未记录送达",
                     "青山镇人民政府复学〔2026〕1号", "送达回证"):
        assert expected in text, expected
    assert "".join(plain_lines(sent)[1].split()) in text  # a line of the notice exactly as it was sent
    assert missing_glyphs(rendered.data) == set()
    # the same from the command line, by the case's number
    settings_file = Settings(_env_file=None, database_url=str(sessions.kw["bind"].url))
    output = tmp_path / "case.pdf"
    out = io.StringIO()
    assert await run_case_file(settings_file, clock, f"2026-{case.id:05d}", output, out=out) == 0
    assert "个案档案" in pdf_text(output.read_bytes()) and "页" in out.getvalue()
    assert await run_case_file(settings_file, clock, "9999", output, out=out, err=io.StringIO()) == 2
