"""`quanxue demo`: the main job, offline. The in-process fake Bot API server, the sample roster in a fresh SQLite
file, the real bot polling it, and a scripted week of conversations printed as a transcript."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from bot.app import App
from bot.calendar.file import run_import_calendar
from bot.core.clock import ManualClock, to_local
from bot.core.i18n import gettext
from bot.core.settings import Settings
from bot.documents.casefile import case_file
from bot.documents.pdf import family_link, render_document
from bot.documents.records import FAMILY_KINDS, documents_of_case
from bot.fakeapi import FakeTelegram, FakeUser
from bot.fakeapi.state import LogEntry, Record
from bot.onboarding.service import Invite, format_code, issue_invites
from bot.roster.cli import run_import_roster, run_import_staff
from bot.tick import run_tick
from handlers.menu import ROLL_CALL
from storage.models import Case

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO_TOKEN = "123456789:QUANXUE-OFFLINE-DEMO"
MONDAY = datetime.fromisoformat("2026-09-07T07:30:00+08:00")


@dataclass
class Transcript:
    """Prints what happened in the fake Telegram since the last call, one line per message, tap or edit."""

    server: FakeTelegram
    settings: Settings
    out: TextIO
    names: dict[int, str] = field(default_factory=dict)
    shown: int = 0
    versions: dict[int, int] = field(default_factory=dict)

    def _(self, message: str) -> str:
        return gettext(message, self.settings.locale)

    def say(self, text: str) -> None:
        print(text, file=self.out)

    def heading(self, when: datetime, title: str) -> None:
        local = to_local(when, self.settings.tz)
        self.say(f"\n══ {local:%Y-%m-%d %H:%M}  {title}")

    def flush(self) -> None:
        for entry in self._in_stable_order(self.server.log[self.shown :]):
            self._print(entry)
        self.shown = len(self.server.log)
        self.out.flush()

    def _in_stable_order(self, entries: list[LogEntry]) -> list[LogEntry]:
        """The log with each run of messages the sender delivered in the same minute ordered by recipient: it sends
        to several chats at once, so their arrival order varies from run to run (each chat's own order is kept)."""
        ordered: list[LogEntry] = []
        run: list[LogEntry] = []
        for entry in [*entries, None]:
            if entry is not None and entry.kind == "send" and (not run or run[0].at == entry.at):
                run.append(entry)
                continue
            ordered += sorted(run, key=lambda sent: self.names.get(sent.chat_id, str(sent.chat_id)))
            run = [entry] if entry is not None and entry.kind == "send" else []
            if entry is not None and entry.kind != "send":
                ordered.append(entry)
        return ordered

    def _version(self, record: Record) -> tuple[Record, Record | None]:
        """The message as it looked right after this send or edit, and as it looked just before (for edits)."""
        number = self.versions[id(record)] = self.versions.get(id(record), -1) + 1
        versions = [*record.history, record]
        return versions[min(number, len(versions) - 1)], versions[number - 1] if number else None

    def _print(self, entry: LogEntry) -> None:
        if entry.kind == "answer" and not entry.text:
            return
        at = f"{to_local(entry.at, self.settings.tz):%H:%M}"
        who = self.names.get(entry.chat_id, str(entry.chat_id))
        if entry.actor == "user":
            self.say(f"{at}  {who} ▸ [{entry.text}]" if entry.kind == "tap" else f"{at}  {who} ▸ {entry.text}")
            return
        if entry.kind == "answer":
            self.say(f"{at}  🤖 ({who}) · {entry.text}")
            return
        state, before = self._version(entry.record) if entry.record is not None else (None, None)
        if state is not None and before is not None and state.text == before.text:
            self.say(f"{at}  🤖 ✎ {who}: " + (self._buttons(state) or "—"))
            return
        lines = (entry.text or "").splitlines() or [""]
        self.say(f"{at}  🤖 {'✎' if entry.kind == 'edit' else '→'} {who}: {lines[0]}")
        for line in lines[1:]:
            self.say(f"         {line}")
        if state is not None and self._buttons(state):
            self.say("         " + self._buttons(state))

    @staticmethod
    def _buttons(record: Record) -> str:
        return " ".join(f"[{label}]" for label in record.buttons())


class Demo:
    def __init__(self, app: App, server: FakeTelegram, clock: ManualClock, transcript: Transcript) -> None:
        self.app, self.server, self.clock, self.transcript = app, server, clock, transcript
        self.invites: dict[str, Invite] = {}
        self.next_user_id = 1001

    def user(self, name: str, role: str) -> FakeUser:
        user_id = self.next_user_id
        self.next_user_id += 1
        self.transcript.names[user_id] = f"{name} ({role})"
        return self.server.user(user_id, name, language_code="zh-hans")

    def at(self, hh_mm: str) -> None:
        """Later the same day."""
        self.on(f"{to_local(self.clock.now(), self.app.settings.tz):%Y-%m-%d}", hh_mm)

    def on(self, day: str, hh_mm: str) -> None:
        self.clock.set(datetime.fromisoformat(f"{day}T{hh_mm}:00").replace(tzinfo=self.app.settings.tz))

    def code(self, name: str) -> str:
        return format_code(self.invites[name].code)

    async def issue_invites(self) -> int:
        async with self.app.sessions() as session, session.begin():
            invites = await issue_invites(session, self.clock.now(), self.app.settings.invite_ttl_days)
        self.invites = {invite.name: invite for invite in invites}
        return len(invites)

    async def deliver(self) -> None:
        """Let the outbox sender deliver everything due now."""
        await self.app.sender.drain()


async def load_sample_data(settings: Settings, clock: ManualClock, transcript: Transcript) -> None:
    _ = transcript._
    transcript.heading(clock.now(), _("The school office loads the sample roster, officers and calendar"))
    for path, run in (
        (EXAMPLES / "roster.csv", run_import_roster),
        (EXAMPLES / "staff.csv", run_import_staff),
        (EXAMPLES / "calendar.toml", run_import_calendar),
    ):
        transcript.say(f"$ quanxue {run.__name__.removeprefix('run_').replace('_', '-')} examples/{path.name}")
        if await run(settings, clock, path, out=transcript.out) != 0:
            raise RuntimeError(f"the sample file {path.name} did not import")


async def onboarding(demo: Demo) -> dict[str, FakeUser]:
    t, _ = demo.transcript, demo.transcript._
    count = await demo.issue_invites()
    t.say("$ quanxue invites --format csv --output invites.csv")
    t.say(_("{count} invite codes issued: one for everyone not yet linked.").format(count=count))

    demo.at("07:40")
    t.heading(demo.clock.now(), _("The class teacher links her account with her invite code"))
    teacher = demo.user("王丽", _("Class teacher"))
    await teacher.start(demo.code("王丽"))
    t.flush()

    demo.at("07:45")
    t.heading(demo.clock.now(), _("A father links with his code and gives both consents"))
    father = demo.user("李建国", _("Guardian"))
    await father.start(demo.code("李建国"))
    await father.tap(father.buttons()[0])  # the child's sensitive information
    await father.tap(father.buttons()[0])  # the transfer abroad to Telegram
    t.flush()

    demo.at("07:50")
    t.heading(demo.clock.now(), _("A grandmother without a code links by sharing her phone number"))
    grandma = demo.user("张奶奶", _("Guardian"))
    grandma.state.phone = "+86 139 0000 1003"
    await grandma.start()
    await grandma.press(grandma.keyboard()[0])
    for _consent in range(2):
        await grandma.tap(grandma.buttons()[0])
    t.flush()

    demo.at("07:55")
    t.heading(demo.clock.now(), _("Someone who is not on the roster writes to the bot"))
    stranger = demo.user("陌生人", _("not linked"))
    await stranger.send("你好，我想看看学生名单")
    await stranger.start("WRONG-CODE")
    t.flush()

    demo.at("08:00")
    t.heading(demo.clock.now(), _("The school's, the township's and the county's officers link; the father "
                                  "switches to English"))
    officer = demo.user("赵国华", _("Dropout-control officer"))
    await officer.start(demo.code("赵国华"))
    township = demo.user("周文斌", _("Township officer"))
    await township.start(demo.code("周文斌"))
    county = demo.user("吴卫东", _("County education bureau officer"))
    await county.start(demo.code("吴卫东"))
    await father.send("/lang")
    await father.tap("English")
    await father.send("/help")
    t.flush()
    return {"teacher": teacher, "father": father, "grandma": grandma, "officer": officer, "township": township,
            "county": county}


async def monday_roll_call(demo: Demo, people: dict[str, FakeUser]) -> None:
    t, _ = demo.transcript, demo.transcript._
    teacher, father = people["teacher"], people["father"]
    zh = "zh_Hans"  # the teacher's and the grandmother's language; the father now reads English

    demo.at("08:20")
    t.heading(demo.clock.now(), _("Monday's roll call: two pupils are absent"))
    await teacher.press(gettext(ROLL_CALL, zh))
    await teacher.tap("✅ 李明")
    await teacher.tap("✅ 张小红")
    await teacher.tap(gettext("Submit", zh))
    await teacher.tap(gettext("Reason unknown", zh))
    await teacher.tap(gettext("Unexplained", zh))
    t.flush()

    demo.at("08:21")
    t.heading(demo.clock.now(), _("Each guardian hears about it, in their own language"))
    await demo.deliver()
    t.flush()

    demo.at("09:10")
    t.heading(demo.clock.now(), _("The father answers with one tap; the grandmother stays silent"))
    await father.tap("Sick")
    await demo.deliver()
    t.flush()


async def tick(demo: Demo, day: str, hh_mm: str, title: str) -> None:
    """What the scheduler does at that moment (`quanxue tick --now …`), then the sender delivers."""
    demo.on(day, hh_mm)
    demo.transcript.heading(demo.clock.now(), title)
    demo.transcript.say(f"$ quanxue tick --now {to_local(demo.clock.now(), demo.app.settings.tz).isoformat()}")
    await run_tick(demo.app.sessions, demo.app.settings, demo.clock.now())
    await demo.deliver()
    demo.transcript.flush()


async def absent_again(demo: Demo, teacher: FakeUser, day: str) -> None:
    zh = "zh_Hans"
    demo.on(day, "08:20")
    demo.transcript.heading(demo.clock.now(), demo.transcript._("Roll call: 张小红 is absent again"))
    await teacher.press(gettext(ROLL_CALL, zh))
    await teacher.tap("✅ 张小红")
    await teacher.tap(gettext("Submit", zh))
    await teacher.tap(gettext("Unexplained", zh))
    await demo.deliver()
    demo.transcript.flush()


async def the_ladder(demo: Demo, people: dict[str, FakeUser]) -> None:
    """张小红 stays away; the scheduler walks her case up to the township, and she comes back."""
    t, _ = demo.transcript, demo.transcript._
    teacher, grandma, officer, township = people["teacher"], people["grandma"], people["officer"], people["township"]
    await tick(demo, "2026-09-07", "12:30", _("Four hours without an answer: the grandmother is reminded"))
    await tick(demo, "2026-09-07", "17:00", _("Still no answer at 17:00: the teacher is asked to phone"))
    await absent_again(demo, teacher, "2026-09-08")
    await absent_again(demo, teacher, "2026-09-09")
    await tick(demo, "2026-09-09", "18:00",
               _("Three school days in a row: a suspected-dropout case opens; the officer is asked to confirm the "
                 "劝学书"))

    demo.on("2026-09-10", "08:30")
    t.heading(demo.clock.now(), _("The school officer confirms the 劝学书 with one tap: it goes to the family"))
    alert = next(r for r in reversed(officer.bot_messages()) if "✉️ 发出劝学书" in r.buttons())
    await officer.tap("✉️ 发出劝学书", alert)
    await demo.deliver()
    t.flush()

    demo.on("2026-09-10", "09:00")
    t.heading(demo.clock.now(), _("The grandmother answers the 劝学书: the family needs help"))
    notice = next(r for r in reversed(grandma.bot_messages()) if any(b.startswith("🤝") for b in r.buttons()))
    await grandma.tap(next(b for b in notice.buttons() if b.startswith("🤝")), notice)
    await grandma.tap(grandma.buttons()[1])
    await demo.deliver()
    t.flush()

    demo.on("2026-09-10", "16:30")
    t.heading(demo.clock.now(), _("The school officer records the home visit"))
    [listing] = await officer.send("/cases")
    await officer.tap(next(b for b in listing.buttons() if b.startswith("1. 张小红")), listing)
    await officer.tap("📝 记录劝返", listing)
    for label in ("家访", "今天", "我自己"):
        await officer.tap(label, listing)
    await officer.send("张小红的奶奶")
    for label in ("家庭困难", "犹豫", "否"):
        await officer.tap(label)
    await officer.send("申请交通补助，下周一再访")
    await officer.tap("💾 保存")
    t.flush()

    await absent_again(demo, teacher, "2026-09-17")
    await tick(demo, "2026-09-18", "08:00",
               _("The 劝学书 deadline has passed: the school's 辍学报告 goes to the township and the county"))

    demo.on("2026-09-18", "09:00")
    t.heading(demo.clock.now(), _("The township officer orders the child's return (复学通知书)"))
    [listing] = await township.send("/cases")
    await township.tap(next(b for b in listing.buttons() if b.startswith("1. 张小红")), listing)
    await township.tap("📨 发出复学通知书", listing)
    await township.tap("📨 确认发出", listing)
    await demo.deliver()
    t.flush()

    await print_documents(demo)

    demo.on("2026-09-21", "08:20")
    t.heading(demo.clock.now(), _("Monday: 张小红 is back; the teacher takes the roll call"))
    await teacher.press(gettext(ROLL_CALL, "zh_Hans"))
    await teacher.tap(gettext("All present", "zh_Hans"))
    t.flush()

    demo.at("09:00")
    t.heading(demo.clock.now(), _("Reported already, so the school officer closes the case: back at school"))
    [listing] = await officer.send("/cases")
    await officer.tap(next(b for b in listing.buttons() if b.startswith("1. 张小红")), listing)
    for label in ("✅ 结案", "已返校", "✅ 确认结案"):
        await officer.tap(label, listing)
    await demo.deliver()
    t.flush()


async def monthly_report(demo: Demo) -> None:
    """October's first school day (after the National Day holiday): September's report reaches the school officer,
    the township officer and the county, each for their own scope."""
    _ = demo.transcript._
    await tick(demo, "2026-10-08", "08:05",
               _("The first school day of October: September's report (summary, chart, ledgers) goes out"))

async def print_documents(demo: Demo) -> None:
    """The case's formal documents as PDFs (each family document with its 送达回证 and, for a guardian not in the
    bot, a join code), and the case file, written to a folder that stays after the demo."""
    t, _, settings = demo.transcript, demo.transcript._, demo.app.settings
    folder = Path(tempfile.mkdtemp(prefix="quanxue-demo-documents-"))
    t.heading(demo.clock.now(), _("The documents are printed to sign, seal and serve: {folder}").format(folder=folder))
    async with demo.app.sessions() as session, session.begin():
        case_id = await session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
        assert case_id is not None
        printed = []
        for document in await documents_of_case(session, case_id):
            link = ""
            if document.kind in FAMILY_KINDS and document.recipient_person_id is not None:
                link = await family_link(session, settings, demo.clock.now(), document.recipient_person_id,
                                         settings.bot_username)
            printed.append(render_document(document, settings, link))
        printed.append(await case_file(session, settings, demo.clock.now(), None, case_id, settings.locale))
    for rendered in printed:
        (folder / rendered.name).write_bytes(rendered.data)
        t.say(_("{file}: {pages} pages").format(file=rendered.name, pages=rendered.pages))


async def run_demo(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    clock = ManualClock(MONDAY)
    with tempfile.TemporaryDirectory(prefix="quanxue-demo-") as folder:
        async with FakeTelegram(clock=clock, bot_username="quanxue_bot", per_chat_burst=100) as server:
            settings = Settings(
                _env_file=None,
                bot_token=DEMO_TOKEN,
                bot_username="quanxue_bot",
                telegram_api=server.base_url,
                database_url=f"sqlite+aiosqlite:///{Path(folder) / 'demo.db'}",
            )
            transcript = Transcript(server, settings, out)
            transcript.say(gettext("Quanxue demo: offline, with a fake Telegram server and a fresh database.",
                                   settings.locale))
            await load_sample_data(settings, clock, transcript)
            app = await App.create(settings, clock, api_session=server.session())
            polling = asyncio.create_task(app.run_polling(handle_as_tasks=False, polling_timeout=1))
            try:
                demo = Demo(app, server, clock, transcript)
                people = await onboarding(demo)
                await monday_roll_call(demo, people)
                await the_ladder(demo, people)
                await monthly_report(demo)
            finally:
                await app.stop()
                await asyncio.wait_for(polling, 10)
                await app.close()
    return 0


