"""The onboarding service on SQLite and PostgreSQL: codes, linking, throttling, contact linking, consent."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.core.scope import load_actor
from bot.core.settings import Settings
from bot.fakeapi import FakeTelegram
from bot.onboarding import service as ob
from bot.onboarding.invites import issue_selected
from bot.onboarding.invites_cli import display_width, run_invites
from storage.models import AuditEvent, Consent, ContactPoint, InviteCode, LinkAttempt, Person, Role, StaffRole
from tests.seed import give_consents, seed_world

TG = "telegram"


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None, invite_ttl_days=30, link_attempts_allowed=5, link_attempts_window_minutes=15)


@pytest.fixture
async def world(sessions, clock):
    async with sessions() as session, session.begin():
        return await seed_world(session, clock.now())


async def issue(sessions, clock, ttl_days: int = 30) -> dict[str, ob.Invite]:
    async with sessions() as session, session.begin():
        invites = await ob.issue_invites(session, clock.now(), ttl_days)
    return {invite.name: invite for invite in invites}


async def redeem(sessions, clock, settings, address: str, code: str, locale: str | None = None) -> ob.LinkResult:
    async with sessions() as session, session.begin():
        return await ob.redeem_code(session, clock.now(), TG, address, code, settings=settings, locale=locale)


async def by_contact(sessions, clock, settings, address: str, phone: str) -> ob.LinkResult:
    async with sessions() as session, session.begin():
        return await ob.link_by_contact(session, clock.now(), TG, address, phone, settings=settings)


async def count(sessions, model, *where) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_codes_are_random_unambiguous_and_stored_hashed(sessions, clock, world):
    invites = await issue(sessions, clock)
    assert set(invites) == {"王丽", "赵强", "孙敏", "李建国", "张奶奶", "张伟"}
    codes = [invite.code for invite in invites.values()]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert len(code) == ob.CODE_LENGTH >= 8
        assert set(code) <= set(ob.ALPHABET)
        assert not set(code) & set("01OIL")
    async with sessions() as session:
        stored = list(await session.scalars(select(InviteCode)))
        events = list(await session.scalars(select(AuditEvent).where(AuditEvent.action == "invite_issued")))
    assert len(stored) == 6 and len(events) == 6
    hashes = {row.code_hash for row in stored}
    assert not hashes & set(codes)  # the plain code is nowhere
    assert hashes == {ob.hash_code(code) for code in codes}
    assert all(row.expires_at == clock.now() + timedelta(days=30) for row in stored)
    assert all("王丽" not in str(event.details) for event in events)
    # staff first, with their units; guardians with their children
    teacher = invites["王丽"]
    assert [(r.role, r.unit) for r in teacher.roles] == [(Role.CLASS_TEACHER, "青山镇中心小学 三年级1班")]
    children = [(c.name, c.class_name) for c in invites["李建国"].children]
    assert children == [("李华", "三年级1班"), ("李明", "三年级1班")]
    assert [r.unit for r in invites["孙敏"].roles] == ["青山镇"]


async def test_a_county_officer_is_invited_and_links_with_the_county_as_unit(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        officer = Person(name="吴卫东", phone="13900000401", created_at=clock.now(), updated_at=clock.now())
        session.add(officer)
        await session.flush()
        session.add(StaffRole(person_id=officer.id, role=Role.COUNTY_OFFICER, county_id=world.township.county_id))
    invites = await issue(sessions, clock)
    assert [(r.role, r.unit) for r in invites["吴卫东"].roles] == [(Role.COUNTY_OFFICER, "示范县")]
    result = await redeem(sessions, clock, settings, "1009", invites["吴卫东"].code)
    assert result.outcome is ob.LinkOutcome.LINKED and not result.needs_consent
    assert ob.role_label(Role.COUNTY_OFFICER, "zh_Hans") == "县教育局控辍专干"
    async with sessions() as session:
        actor = await load_actor(session, await session.get(Person, officer.id))
        assert ob.help_topics(actor) == [ob.HelpTopic.COUNTY] and actor.oversees_county(world.township.county_id)


def test_code_normalisation():
    assert ob.normalize_code(" abcde-fghjk ") == "ABCDEFGHJK"
    assert ob.normalize_code("ＡＢＣＤＥ　ＦＧＨＪＫ") == "ABCDEFGHJK"  # full-width, as a Chinese IME types it
    assert ob.hash_code("abcde fghjk") == ob.hash_code("ABCDEFGHJK")
    assert ob.looks_like_code("abcd-efgh-jk")
    assert not ob.looks_like_code("你好")
    assert not ob.looks_like_code("hello")
    assert ob.format_code("ABCDEFGHJK") == "ABCDE-FGHJK"
    assert ob.invite_link("@quanxue_bot", "ABCDEFGHJK") == "https://t.me/quanxue_bot?start=ABCDEFGHJK"


async def test_redeem_links_once_and_is_single_use(sessions, clock, settings, world):
    invites = await issue(sessions, clock)
    code = invites["王丽"].code
    typed = ob.format_code(code).lower()  # "abcde-fghjk" works too
    result = await redeem(sessions, clock, settings, "1001", typed, locale="en")
    assert result.outcome is ob.LinkOutcome.LINKED
    assert result.profile.name == "王丽" and result.profile.roles[0].role is Role.CLASS_TEACHER
    assert not result.needs_consent
    async with sessions() as session:
        point = await session.scalar(select(ContactPoint))
        teacher = await session.get(Person, world.teacher.id)
        row = await session.scalar(select(InviteCode).where(InviteCode.person_id == world.teacher.id))
    assert (point.person_id, point.channel, point.address, point.reachable) == (world.teacher.id, TG, "1001", True)
    assert point.linked_at == clock.now()
    assert teacher.locale == "en"
    assert row.used_at == clock.now()

    again = await redeem(sessions, clock, settings, "1001", code)
    assert again.outcome is ob.LinkOutcome.ALREADY_LINKED and again.profile.name == "王丽"
    other = await redeem(sessions, clock, settings, "2002", code)
    assert other.outcome is ob.LinkOutcome.USED
    assert await count(sessions, ContactPoint) == 1
    assert await count(sessions, LinkAttempt, LinkAttempt.address == "2002") == 1


async def test_guardian_link_keeps_chosen_locale_and_needs_consent(sessions, clock, settings, world):
    async with sessions() as session, session.begin():
        (await session.get(Person, world.father_li.id)).locale = "zh_Hant"
    invites = await issue(sessions, clock)
    result = await redeem(sessions, clock, settings, "3003", invites["李建国"].code, locale="en")
    assert result.linked and result.needs_consent
    assert [c.name for c in result.profile.children] == ["李华", "李明"]
    async with sessions() as session:
        assert (await session.get(Person, world.father_li.id)).locale == "zh_Hant"


async def test_expired_code_is_refused(sessions, clock, settings, world):
    invites = await issue(sessions, clock)
    clock.advance(timedelta(days=31))
    result = await redeem(sessions, clock, settings, "1001", invites["王丽"].code)
    assert result.outcome is ob.LinkOutcome.EXPIRED
    assert await count(sessions, ContactPoint) == 0
    assert await count(sessions, LinkAttempt) == 1


async def test_reissue_revokes_older_unused_codes(sessions, clock, settings, world):
    first = await issue(sessions, clock)
    linked = await redeem(sessions, clock, settings, "1001", first["王丽"].code)
    assert linked.linked
    clock.advance(timedelta(days=1))
    assert await issue(sessions, clock) == {}  # everyone else holds a valid code: their slips stay valid
    async with sessions() as session, session.begin():
        batch = await issue_selected(session, clock.now(), 30, reissue=True)  # lost slips: replaced on purpose
    second = {invite.name: invite for invite in batch.issued}
    assert "王丽" not in second  # linked people get no new code
    assert set(second) == {"赵强", "孙敏", "李建国", "张奶奶", "张伟"}
    old = await redeem(sessions, clock, settings, "2002", first["赵强"].code)
    assert old.outcome is ob.LinkOutcome.EXPIRED
    new = await redeem(sessions, clock, settings, "2002", second["赵强"].code)
    assert new.linked and new.profile.name == "赵强"
    async with sessions() as session:
        rows = list(await session.scalars(select(InviteCode).where(InviteCode.person_id == world.officer.id)))
    states = sorted((row.used_at is not None, row.revoked_at is not None) for row in rows)
    assert states == [(False, True), (True, False)]  # (used, revoked)


async def test_code_of_a_person_linked_elsewhere_is_refused(sessions, clock, settings, world):
    invites = await issue(sessions, clock)
    assert (await by_contact(sessions, clock, settings, "5005", "13900001001")).linked  # 李建国 by phone
    # his printed code was closed when he linked; a code issued meanwhile (a second printout) is refused too
    stale = await redeem(sessions, clock, settings, "6006", invites["李建国"].code)
    assert stale.outcome is ob.LinkOutcome.EXPIRED
    async with sessions() as session, session.begin():
        session.add(InviteCode(person_id=world.father_li.id, code_hash=ob.hash_code("ZZZZZZZZZZ"),
                               created_at=clock.now(), expires_at=clock.now() + timedelta(days=1)))
    other = await redeem(sessions, clock, settings, "6006", "ZZZZZZZZZZ")
    assert other.outcome is ob.LinkOutcome.PERSON_LINKED_ELSEWHERE
    async with sessions() as session:
        points = list(await session.scalars(select(ContactPoint)))
    assert [(p.person_id, p.address) for p in points] == [(world.father_li.id, "5005")]


async def test_throttle_after_wrong_tries_and_release_after_window(sessions, clock, settings, world):
    invites = await issue(sessions, clock)
    for _ in range(settings.link_attempts_allowed):
        assert (await redeem(sessions, clock, settings, "7007", "WRONG-CODE")).outcome is ob.LinkOutcome.UNKNOWN
        clock.advance(timedelta(minutes=1))
    # even the right code is not checked while throttled
    blocked = await redeem(sessions, clock, settings, "7007", invites["张伟"].code)
    assert blocked.outcome is ob.LinkOutcome.THROTTLED
    assert blocked.wait_minutes == 10  # the first wrong try (5 minutes ago) leaves the 15-minute window in 10
    assert await count(sessions, LinkAttempt) == 5  # a throttled try is not counted
    # another account is not affected
    assert (await redeem(sessions, clock, settings, "8008", "WRONG-CODE")).outcome is ob.LinkOutcome.UNKNOWN
    clock.advance(timedelta(minutes=10))
    released = await redeem(sessions, clock, settings, "7007", invites["张伟"].code)
    assert released.linked and released.profile.name == "张伟"


async def test_contact_links_guardians_by_normalised_phone_only(sessions, clock, settings, world):
    await issue(sessions, clock)
    result = await by_contact(sessions, clock, settings, "4004", "+86 139-0000-1003")
    assert result.linked and result.profile.name == "张奶奶" and result.needs_consent
    assert [c.name for c in result.profile.children] == ["张小红"]
    async with sessions() as session:
        codes = list(await session.scalars(select(InviteCode).where(InviteCode.person_id == world.grandma_zhang.id)))
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "account_linked"))
    assert all(code.revoked_at == clock.now() for code in codes)  # her printed code is closed
    assert event.details["how"] == "contact" and "1390000" not in str(event.details)

    staff = await by_contact(sessions, clock, settings, "4005", "13900000101")  # 王丽, a teacher
    assert staff.outcome is ob.LinkOutcome.STAFF_USE_CODE
    unknown = await by_contact(sessions, clock, settings, "4006", "13812345678")
    assert unknown.outcome is ob.LinkOutcome.NO_MATCH
    garbage = await by_contact(sessions, clock, settings, "4006", "not a phone")
    assert garbage.outcome is ob.LinkOutcome.NO_MATCH
    twice = await by_contact(sessions, clock, settings, "4007", "13900001003")
    assert twice.outcome is ob.LinkOutcome.PERSON_LINKED_ELSEWHERE
    assert await count(sessions, ContactPoint) == 1
    assert await count(sessions, LinkAttempt, LinkAttempt.address == "4006") == 2
    assert await count(sessions, LinkAttempt, LinkAttempt.address == "4005") == 0


async def test_contact_attempts_are_throttled(sessions, clock, settings, world):
    for _ in range(settings.link_attempts_allowed):
        assert (await by_contact(sessions, clock, settings, "4006", "13812345678")).outcome is ob.LinkOutcome.NO_MATCH
    blocked = await by_contact(sessions, clock, settings, "4006", "13900001003")
    assert blocked.outcome is ob.LinkOutcome.THROTTLED and blocked.wait_minutes == 15


async def test_two_separate_consents_each_recorded_once_with_its_version(sessions, clock, settings, world):
    assert (await by_contact(sessions, clock, settings, "4004", "13900001003")).needs_consent
    async with sessions() as session, session.begin():
        grandma, teacher, now = world.grandma_zhang.id, world.teacher.id, clock.now()
        assert await ob.missing_consents(session, grandma) == [ob.ConsentKind.SENSITIVE, ob.ConsentKind.ABROAD]
        assert await ob.missing_consents(session, teacher) == []
        assert await ob.record_consent(session, now, grandma, "zh_Hans", TG, ob.ConsentKind.SENSITIVE) \
            is ob.ConsentOutcome.RECORDED
        assert await ob.needs_consent(session, grandma)  # the transfer abroad is asked on its own
        assert await ob.missing_consents(session, grandma) == [ob.ConsentKind.ABROAD]
        assert await ob.record_consent(session, now, grandma, "zh_Hans", TG, ob.ConsentKind.SENSITIVE) \
            is ob.ConsentOutcome.ALREADY
        assert await ob.record_consent(session, now, grandma, "zh_Hant", TG, ob.ConsentKind.ABROAD) \
            is ob.ConsentOutcome.RECORDED
        assert await ob.record_consent(session, now, teacher, "zh_Hans", TG, ob.ConsentKind.SENSITIVE) \
            is ob.ConsentOutcome.NOT_NEEDED
        assert not await ob.needs_consent(session, grandma) and await ob.has_consented(session, grandma)
        terms = await ob.consent_terms(session, grandma, 36)
        assert terms.recipient == "Telegram" and terms.holders == (("青山镇中心小学", ""),)
    async with sessions() as session:
        consents = list(await session.scalars(select(Consent).order_by(Consent.id)))
    assert [(c.person_id, c.text_version, c.locale, c.channel, c.accepted_at) for c in consents] == [
        (world.grandma_zhang.id, f"sensitive-{ob.CONSENT_VERSION}", "zh_Hans", TG, clock.now()),
        (world.grandma_zhang.id, f"abroad-{ob.CONSENT_VERSION}", "zh_Hant", TG, clock.now()),
    ]


async def test_declining_or_withdrawing_unlinks(sessions, clock, settings, world):
    assert (await by_contact(sessions, clock, settings, "4004", "13900001003")).linked
    async with sessions() as session, session.begin():
        assert await ob.decline_consent(session, clock.now(), world.grandma_zhang.id, TG,
                                        ob.ConsentKind.ABROAD) is ob.ConsentOutcome.DECLINED
    assert await count(sessions, ContactPoint) == 0
    assert await count(sessions, Consent) == 0
    # she can link again any time, and is asked again
    again = await by_contact(sessions, clock, settings, "4004", "13900001003")
    assert again.linked and again.needs_consent
    async with sessions() as session, session.begin():
        await give_consents(session, clock.now(), world.grandma_zhang.id)
        outcome = await ob.withdraw_consent(session, clock.now(), world.grandma_zhang.id, TG)
        assert outcome is ob.ConsentOutcome.WITHDRAWN
    assert await count(sessions, ContactPoint) == 0
    assert await count(sessions, Consent) == 0
    async with sessions() as session:
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["account_linked", "consent_declined", "account_unlinked", "account_linked", "consent_given",
                       "consent_given", "consent_withdrawn", "account_unlinked"]


async def test_set_locale(sessions, clock, world):
    async with sessions() as session, session.begin():
        await ob.set_locale(session, clock.now(), world.teacher.id, "zh_Hant")
        with pytest.raises(ValueError):
            await ob.set_locale(session, clock.now(), world.teacher.id, "fr")
    async with sessions() as session:
        assert (await session.get(Person, world.teacher.id)).locale == "zh_Hant"


async def test_help_topics(sessions, clock, settings, world):
    from bot.core.scope import load_actor

    assert ob.help_topics(None) == [ob.HelpTopic.UNLINKED]
    async with sessions() as session:
        teacher = await load_actor(session, await session.get(Person, world.teacher.id))
        officer = await load_actor(session, await session.get(Person, world.officer.id))
        father = await load_actor(session, await session.get(Person, world.father_li.id))
    assert ob.help_topics(teacher) == [ob.HelpTopic.TEACHER]
    assert ob.help_topics(officer) == [ob.HelpTopic.SCHOOL]
    assert ob.help_topics(father) == [ob.HelpTopic.GUARDIAN]


# --- `quanxue invites` ----------------------------------------------------------------------------------------------


def cli_settings(db_url: str, **overrides) -> Settings:
    values = {"bot_username": "quanxue_bot", "database_url": db_url} | overrides
    return Settings(_env_file=None, **values)


async def test_invites_table_lines_up_and_codes_work(db_url, sessions, clock, settings, world):
    out, err = io.StringIO(), io.StringIO()
    assert await run_invites(cli_settings(db_url), clock, out=out, err=err) == 0
    lines = out.getvalue().splitlines()
    header, rule, *rows = lines[: lines.index("")]
    assert header.split() == ["角色", "姓名", "学生", "班级/单位", "邀请码", "链接"]
    assert set(rule) == {"-", " "}
    assert len(rows) == 6
    links = [line.rsplit(" ", 1)[1] for line in rows]
    assert all(link.startswith("https://t.me/quanxue_bot?start=") for link in links)
    # the link column starts at the same display column on every row (CJK characters are two columns wide)
    starts = {display_width(line[: line.index("https://")]) for line in rows}
    assert len(starts) == 1
    teacher = next(line for line in rows if "王丽" in line)
    assert "班主任" in teacher and "青山镇中心小学 三年级1班" in teacher
    father = next(line for line in rows if "李建国" in line)
    assert "家长" in father and "李华、李明" in father
    assert "2026-10-07" in out.getvalue()  # valid until, in the school's time zone
    code = links[0].rsplit("=", 1)[1]
    assert (await redeem(sessions, clock, settings, "1001", code)).linked


async def test_invites_csv_file_for_excel(db_url, clock, world, tmp_path):
    target = tmp_path / "invites.csv"
    out = io.StringIO()
    assert await run_invites(cli_settings(db_url), clock, fmt="csv", output=target, out=out) == 0
    raw = target.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["角色", "姓名", "学生", "班级/单位", "邀请码", "链接"]
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name["张奶奶"][2:4] == ["张小红", "青山镇中心小学 三年级1班"]
    assert by_name["孙敏"][0] == "乡镇专干" and by_name["孙敏"][2] == ""
    assert "6" in out.getvalue() and str(target) in out.getvalue()
    assert target.stat().st_mode & 0o077 == 0  # live codes: readable by the owner only


async def test_invites_need_a_bot_username(db_url, sessions, clock, world):
    err = io.StringIO()
    assert await run_invites(cli_settings(db_url, bot_username=""), clock, out=io.StringIO(), err=err) == 2
    assert "QUANXUE_BOT_USERNAME" in err.getvalue()
    assert await count(sessions, InviteCode) == 0  # nothing issued


async def test_invites_read_the_username_from_telegram(db_url, clock, world):
    async with FakeTelegram(clock=clock, bot_username="county_quanxue_bot") as telegram:
        settings = cli_settings(db_url, bot_username="", bot_token="123:ABC", telegram_api=telegram.base_url)
        out = io.StringIO()
        assert await run_invites(settings, clock, fmt="csv", out=out, err=io.StringIO()) == 0
    assert "https://t.me/county_quanxue_bot?start=" in out.getvalue()


async def test_invites_when_everyone_is_linked(db_url, sessions, clock, world):
    async with sessions() as session, session.begin():
        for index, person in enumerate(await session.scalars(select(Person))):
            session.add(ContactPoint(person_id=person.id, channel=TG, address=str(index), linked_at=clock.now()))
    out = io.StringIO()
    assert await run_invites(cli_settings(db_url), clock, out=out, err=io.StringIO()) == 0
    assert "所有人都已绑定" in out.getvalue()
