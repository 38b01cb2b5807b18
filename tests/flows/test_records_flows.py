"""/report and /enrol end to end through the fake Bot API server: an officer gets a month's report (text, a PNG,
an XLSX) for their own scope only; the enrolment-change form records a suspension with its proof and closes the
open case; a teacher or a forged tap gets a clear refusal and nothing changes."""

from __future__ import annotations

from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from handlers.forms import FormTap
from handlers.records.report import ReportPick
from storage.models import EnrolmentChange, EnrolmentStatus, School, Student
from tests.seed import link


async def linked(app, telegram, person, user_id: int, first_name: str):
    async with app.sessions() as session, session.begin():
        await link(session, person, user_id, app.clock.now())
    return telegram.user(user_id, first_name, language_code="zh-hans")


async def test_an_officer_gets_the_report_of_a_chosen_month(telegram, app, world):
    officer = await linked(app, telegram, world.officer, 301, "强")
    async with app.sessions() as session, session.begin():
        other = School(township_id=world.township.id, name="白石村小学")
        session.add(other)
        await session.flush()
        other_id = other.id
    [menu] = await officer.send("/report")
    assert "要哪份月报" in menu.text
    label = next(b for b in menu.buttons() if b.startswith("青山镇中心小学 · "))
    await officer.tap(label, menu)
    text, photo, document = officer.bot_messages()[-3:]
    assert "控辍保学月报" in text.text
    assert photo.photo["data"].startswith(b"\x89PNG")
    book = load_workbook(BytesIO(document.document["data"]))
    assert book.sheetnames == ["汇总", "适龄儿童", "疑似辍学", "辍学"]

    before = len(officer.bot_messages())
    forged = ReportPick(level="school", unit=other_id, month="2026-08").pack()
    await telegram.callback(301, menu.message_id, forged)
    await telegram.settled()
    assert officer.callback_answers[-1] == "您无权查看这份月报。"
    assert len(officer.bot_messages()) == before  # another school's report never comes

    teacher = await linked(app, telegram, world.teacher, 302, "丽")
    [refused] = await teacher.send("/report")
    assert refused.text == "月报只发给学校、乡镇和县里的控辍专干。"


async def test_the_enrolment_form_records_a_suspension_with_its_proof(telegram, app, world):
    officer = await linked(app, telegram, world.officer, 301, "强")
    [ask] = await officer.send("/enrol")
    assert "学籍变动" in ask.text
    [pick] = await officer.send("李明")
    await officer.tap(next(b for b in pick.buttons() if b.startswith("李明")), pick)
    await officer.tap("休学")
    await officer.tap("今天")
    await officer.send("示范县教育局")
    await officer.send("示教休〔2026〕12号")
    await officer.tap("跳过")
    await officer.tap("💾 保存")
    assert "已记录" in officer.bot_messages()[-1].text
    async with app.sessions() as session:
        assert (await session.get(Student, world.li_ming.id)).status == EnrolmentStatus.SUSPENDED
        change = await session.scalar(select(EnrolmentChange))
        assert (change.approving_body, change.document_no) == ("示范县教育局", "示教休〔2026〕12号")

    teacher = await linked(app, telegram, world.teacher, 302, "丽")
    [refused] = await teacher.send("/enrol")
    assert refused.text == "您无权变更这名学生的学籍。"


async def test_the_enrolment_form_goes_back_cancels_and_refuses_stale_taps(telegram, app, world):
    officer = await linked(app, telegram, world.officer, 301, "强")
    [ask] = await officer.send("/enrol")
    [pick] = await officer.send("李明")
    student = next(b for b in pick.buttons() if b.startswith("李明"))
    forged = FormTap.unpack(pick.inline_buttons()[0]["callback_data"]).model_copy(update={"v": "999999"})
    assert await officer.tap_data(forged.pack(), pick.message_id) == []  # a student not found for this officer
    assert officer.callback_answers[-1] == "您无权变更这名学生的学籍。" and student in pick.buttons()
    await officer.tap(student, pick)
    await officer.tap("休学", pick)
    await officer.tap("今天", pick)
    await officer.send("示范镇政府")
    [step] = await officer.send("示教休〔2026〕12号")
    assert "备注" in step.text and step.buttons() == ["跳过", "◀ 返回", "✖ 取消"]
    await officer.tap("◀ 返回", step)
    assert "文号" in step.text
    await officer.tap("◀ 返回", step)  # who approved it, answered anew
    assert "谁批准" in step.text
    await officer.send("示范县教育局")
    [note] = await officer.send("示教休〔2026〕13号")
    # a forged tap on a step already answered changes nothing
    forged = FormTap.unpack(note.inline_buttons()[0]["callback_data"]).model_copy(update={"step": "kind",
                                                                                          "v": "death"})
    assert await officer.tap_data(forged.pack(), note.message_id) == []
    assert officer.callback_answers[-1] == "这个按钮属于前面的步骤，没有做任何更改。请回答最新的问题。"
    await officer.tap("跳过", note)
    await officer.tap("💾 保存", note)
    async with app.sessions() as session:
        change = await session.scalar(select(EnrolmentChange))
    assert (change.kind, change.approving_body, change.document_no) == ("suspension", "示范县教育局",
                                                                       "示教休〔2026〕13号")

    # ✖ 取消 and /cancel: nothing is recorded, and the form's buttons are answered as over
    [ask] = await officer.send("/enrol")
    await officer.tap("✖ 取消", ask)
    assert officer.callback_answers[-1] == "已取消，没有记录任何内容。" and ask.buttons() == []
    await officer.send("/enrol")
    [pick] = await officer.send("李华")
    [cancelled] = await officer.send("/cancel")
    assert cancelled.text == "已取消，没有记录任何内容。"
    await officer.tap(next(b for b in pick.buttons() if b.startswith("李华")), pick)
    assert officer.callback_answers[-1] == "这份表单已结束。请发送 /enrol 重新开始。" and pick.buttons() == []
    async with app.sessions() as session:
        assert len(list(await session.scalars(select(EnrolmentChange)))) == 1
