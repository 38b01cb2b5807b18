"""`quanxue invites` keeps handed-out slips valid: codes only for people without one, filters, --reissue on purpose."""

from __future__ import annotations

import io

import pytest

from bot.core.settings import Settings
from bot.onboarding import service as ob
from bot.onboarding.invites import InviteSelection, issue_selected
from bot.onboarding.invites_cli import run_invites
from tests.seed import seed_world

EVERYONE = {"王丽", "赵强", "孙敏", "李建国", "张奶奶", "张伟"}


@pytest.fixture
async def world(sessions, clock):
    async with sessions() as session, session.begin():
        return await seed_world(session, clock.now())


async def issue(sessions, clock, selection: InviteSelection | None = None, *, reissue: bool = False):
    async with sessions() as session, session.begin():
        batch = await issue_selected(session, clock.now(), 30, selection, reissue=reissue)
    return {invite.name: invite.code for invite in batch.issued}, batch.holding


async def redeem(sessions, clock, address: str, code: str) -> ob.LinkOutcome:
    settings = Settings(_env_file=None)
    async with sessions() as session, session.begin():
        return (await ob.redeem_code(session, clock.now(), "telegram", address, code, settings=settings)).outcome


async def test_a_second_run_leaves_valid_codes_alone(sessions, clock, world):
    first, holding = await issue(sessions, clock)
    assert set(first) == EVERYONE and holding == 0
    again, holding = await issue(sessions, clock)
    assert again == {} and holding == len(EVERYONE)
    assert await redeem(sessions, clock, "1", first["李建国"]) is ob.LinkOutcome.LINKED  # the old slip still works


async def test_reissue_one_lost_slip(sessions, clock, world):
    first, _ = await issue(sessions, clock)
    lost, holding = await issue(sessions, clock, InviteSelection(person="13900001003"), reissue=True)
    assert set(lost) == {"张奶奶"} and holding == 0
    assert await redeem(sessions, clock, "1", first["张奶奶"]) is ob.LinkOutcome.EXPIRED
    assert await redeem(sessions, clock, "2", lost["张奶奶"]) is ob.LinkOutcome.LINKED
    assert await redeem(sessions, clock, "3", first["张伟"]) is ob.LinkOutcome.LINKED  # others' slips untouched


@pytest.mark.parametrize(
    ("selection", "names"),
    [
        (InviteSelection(school="青山镇中心小学"), EVERYONE - {"孙敏"}),  # the township officer is not the school's
        (InviteSelection(class_name="三年级(1)班"), {"王丽", "李建国", "张奶奶", "张伟"}),  # spelt differently
        (InviteSelection(class_name="五年级2班"), set()),
        (InviteSelection(role="guardian"), {"李建国", "张奶奶", "张伟"}),
        (InviteSelection(role="school_admin"), {"赵强"}),
        (InviteSelection(school="青山镇中心小学", role="class_teacher"), {"王丽"}),
        (InviteSelection(person="王丽"), {"王丽"}),
    ],
)
async def test_filters(sessions, clock, world, selection, names):
    issued, _ = await issue(sessions, clock, selection)
    assert set(issued) == names


async def test_the_cli_says_how_many_are_new_and_how_many_hold_a_code(db_url, clock, world):
    settings = Settings(_env_file=None, bot_username="quanxue_bot", database_url=db_url, locale="en")
    out = io.StringIO()
    selection = InviteSelection(class_name="三年级1班", role="guardian")
    assert await run_invites(settings, clock, out=out, err=io.StringIO(), selection=selection) == 0
    assert "New codes: 3. Already holding a valid code: 0" in out.getvalue()
    out = io.StringIO()
    assert await run_invites(settings, clock, out=out, err=io.StringIO()) == 0
    assert "New codes: 3. Already holding a valid code: 3" in out.getvalue()
    assert "李建国" not in out.getvalue() and "王丽" in out.getvalue()
    out = io.StringIO()
    assert await run_invites(settings, clock, out=out, err=io.StringIO()) == 0
    assert "No new codes: all 6 selected people already hold a valid code" in out.getvalue()
