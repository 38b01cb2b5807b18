"""Printed documents through the fake Bot API server: the township officer's 「📄 PDF」 on the case card sends the
case file as a document and lists the case's documents; one tap sends a document's PDF; delivery is recorded with
a tap for the manner and one for the day (a refusal asks for the witness), and the court's 10 days run from it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select

from bot.fakeapi.state import Record
from handlers.cases.documents import Doc, DocTap
from handlers.forms import FormTap
from storage.models import DocumentKind, FormalDocument, StaffRole
from tests.documents.helpers import pdf_text, qr_codes
from tests.flows import test_case_flows
from tests.flows.test_case_flows import county_officer, open_card, order_issued

people, policy, settings = test_case_flows.people, test_case_flows.policy, test_case_flows.settings  # fixtures


def document_messages(user) -> list[Record]:
    return [r for r in user.bot_messages() if r.document]


async def served(app, kind: DocumentKind) -> FormalDocument:
    async with app.sessions() as session:
        return await session.scalar(select(FormalDocument).where(FormalDocument.kind == kind.value))


async def test_the_township_prints_the_case_file_and_records_the_order_served(app, people, world, clock):
    await order_issued(app, people, world, clock)
    township = people.township
    card = await open_card(township)
    assert "📄 PDF：个案档案和文书" in card.buttons()
    await township.tap("📄 PDF：个案档案和文书", card)
    [case_file] = document_messages(township)
    assert case_file.document["file_name"].startswith("case-2026-")
    text = pdf_text(case_file.document["data"])
    assert "个案档案" in text and "李明" in text and "复学通知书" in text and "辍学报告" in text
    listing = township.last()
    assert "本个案的文书" in listing.text
    # the township handles its own documents: the order, not the school's 劝学书
    assert listing.buttons() == ["📄 复学通知书 · 李建国", "✅ 已送达：复学通知书 · 李建国"]

    await township.tap("📄 复学通知书 · 李建国", listing)
    order_pdf = document_messages(township)[-1]
    order_text = pdf_text(order_pdf.document["data"])
    assert "复学通知书" in order_text and "青山镇人民政府复学〔2026〕1号" in order_text and "送达回证" in order_text
    assert qr_codes(order_pdf.document["data"]) == ["https://t.me/quanxue_bot"]  # the father is in the bot already

    await township.tap("✅ 已送达：复学通知书 · 李建国", listing)
    assert "怎样送达" in listing.text
    await township.tap("当面送达，已签收", listing)
    assert "哪一天" in listing.text
    await township.tap(next(b for b in listing.buttons() if b.startswith("今天")), listing)
    assert "✅ 已记录送达：复学通知书（青山镇人民政府复学〔2026〕1号）送达李建国，当面送达，已签收" in listing.text
    order = await served(app, DocumentKind.RETURN_ORDER)
    assert (order.delivered_on, order.delivery_manner) == (date(2026, 9, 9), "in_person")


async def test_only_the_cases_officers_get_the_pdf_and_a_refusal_needs_its_witness(app, people, world, clock):
    case_id = await order_issued(app, people, world, clock)
    teacher_card = await open_card(people.teacher)
    assert not any(b.startswith("📄") for b in teacher_card.buttons())
    forged = DocTap(a=Doc.FILE, i=case_id).pack()
    await people.teacher.tap_data(forged, teacher_card.message_id)  # a class teacher: refused, nothing sent
    stranger_card = (await people.stranger.send("/cases"))[-1]  # an officer of another township: refused too
    await people.stranger.tap_data(forged, stranger_card.message_id)
    for outsider in (people.teacher, people.stranger):
        assert outsider.callback_answers[-1] == people.teacher.callback_answers[-1] != ""
        assert not document_messages(outsider)

    officer = people.officer  # the school's officer serves the school's 劝学书: refused, with a witness
    card = await open_card(officer)
    await officer.tap("📄 PDF：个案档案和文书", card)
    listing = officer.last()
    await officer.tap("✅ 已送达：劝学书 · 李建国", listing)
    await officer.tap("拒收，在见证人见证下留置", listing)
    await officer.tap(next(b for b in listing.buttons() if b.startswith("今天")), listing)
    assert "见证人" in listing.text
    [reply] = await officer.send("李四，村委会委员")
    assert "✅ 已记录送达：劝学书" in reply.text and "拒收" in reply.text
    notice = await served(app, DocumentKind.PERSUASION_NOTICE)
    assert (notice.delivery_manner, notice.witness) == ("refused_witnessed", "李四，村委会委员")
    # recorded once: a second record of the same delivery is refused and changes nothing
    forged = DocTap(a=Doc.DAY, i=notice.id, m="in_person", d=0).pack()
    await officer.tap_data(forged, listing.message_id)
    assert "已经记录过了" in officer.callback_answers[-1]
    assert (await served(app, DocumentKind.PERSUASION_NOTICE)).delivery_manner == "refused_witnessed"


async def test_the_witness_is_a_form_cancelled_refused_to_a_lost_role_and_its_old_buttons_change_nothing(
        app, people, world, clock):
    """The witness's name is asked for with ✖ 取消: /cancel ends the wait and a later text records nothing; a button
    of a wait that is over is answered and taken off, a forged one changes nothing; an officer who lost his role
    while the name was awaited hears the refusal and the wait ends."""
    await order_issued(app, people, world, clock)
    officer = people.officer
    card = await open_card(officer)

    async def witness_asked() -> Record:
        await officer.tap("📄 PDF：个案档案和文书", card)
        listing = officer.last()
        await officer.tap("✅ 已送达：劝学书 · 李建国", listing)
        await officer.tap("拒收，在见证人见证下留置", listing)
        await officer.tap(next(b for b in listing.buttons() if b.startswith("今天")), listing)
        assert "见证人" in listing.text and listing.buttons() == ["✖ 取消"]
        return listing

    listing = await witness_asked()
    [cancelled] = await officer.send("/cancel")
    assert cancelled.text == "已取消，没有记录任何内容。"
    [reply] = await officer.send("李四，村委会委员")
    assert "已记录送达" not in reply.text
    await officer.tap("✖ 取消", listing)
    assert officer.callback_answers[-1] == "这一步已结束。请发送 /cases 重新开始。" and listing.buttons() == []
    assert (await served(app, DocumentKind.PERSUASION_NOTICE)).delivered_on is None

    listing = await witness_asked()
    await officer.tap_data(FormTap(form="witness", n="0000", step="name", do="cancel").pack(), listing.message_id)
    assert officer.callback_answers[-1] == "这个按钮属于前面的步骤，没有做任何更改。请回答最新的问题。"
    assert "见证人" in listing.text and listing.buttons() == ["✖ 取消"]
    async with app.sessions() as session, session.begin():
        await session.execute(delete(StaffRole).where(StaffRole.person_id == world.officer.id))
    [refused] = await officer.send("李四，村委会委员")
    assert refused.text == "您无权查看或处理此个案。\n已取消，没有记录任何内容。"
    [reply] = await officer.send("李四，村委会委员")
    assert "已记录送达" not in reply.text and "您无权" not in reply.text  # the wait is over
    notice = await served(app, DocumentKind.PERSUASION_NOTICE)
    assert (notice.delivered_on, notice.witness) == (None, None)


async def test_the_county_reads_the_file_and_a_closed_case_still_prints(app, telegram, people, world, clock):
    await order_issued(app, people, world, clock)
    county = await county_officer(app, telegram, world, clock)
    card = await open_card(county)
    assert card.buttons() == ["📄 PDF：个案档案和文书", "◀ 全部个案", "🔄 刷新"]  # it reads, it changes nothing
    await county.tap("📄 PDF：个案档案和文书", card)
    [case_file] = document_messages(county)
    text = pdf_text(case_file.document["data"])
    assert "辍学报告" in text and "复学通知书" in text
    assert county.last() is case_file  # nothing for the county to serve, and no "no document yet" either

    township = people.township  # closed as returned: the file can still be printed for the archive
    card = await open_card(township)
    await township.tap("✅ 结案", card)
    await township.tap("已返校", card)
    await township.tap("✅ 确认结案", card)
    assert "已结案" in card.text and "📄 PDF：个案档案和文书" in card.buttons() and "✅ 结案" not in card.buttons()
    await township.tap("📄 PDF：个案档案和文书", card)
    assert "已返校" in pdf_text(document_messages(township)[-1].document["data"])
