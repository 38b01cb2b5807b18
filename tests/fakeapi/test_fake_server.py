"""The fake Telegram server, driven by a real aiogram Bot and Dispatcher over HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import Command, CommandStart
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.text_decorations import html_decoration

from bot.fakeapi import FakeTelegram

pytestmark = pytest.mark.asyncio

TOKEN = "123456:TEST-TOKEN"


def build_router(seen: dict[str, list]) -> Router:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        buttons = [[InlineKeyboardButton(text="是", callback_data="ans:yes")]]
        buttons.append([InlineKeyboardButton(text="否", callback_data="ans:no")])
        await message.answer(
            f"<b>你好</b> {message.from_user.first_name}", reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons)
        )

    @router.message(Command("kb"))
    async def keyboard(message: Message) -> None:
        rows = [[KeyboardButton(text="分享手机号", request_contact=True)], [KeyboardButton(text="帮助")]]
        await message.answer("请分享", reply_markup=ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True))

    @router.message(F.contact)
    async def contact(message: Message) -> None:
        seen["contacts"].append(message.contact)
        await message.answer(f"收到 {message.contact.phone_number}")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {html_decoration.quote(message.text)}")

    @router.callback_query(F.data.startswith("ans:"))
    async def answer(callback: CallbackQuery) -> None:
        seen["callbacks"].append(callback.data)
        if isinstance(callback.message, Message):
            await callback.message.edit_text(f"你选了 {callback.data}")
        await callback.answer("好的")

    @router.my_chat_member()
    async def member(update: ChatMemberUpdated) -> None:
        seen["members"].append(update.new_chat_member.status)

    return router


def make_bot(server: FakeTelegram) -> Bot:
    return Bot(TOKEN, session=server.session(), default=DefaultBotProperties(parse_mode="HTML"))


@pytest.fixture
async def server():
    async with FakeTelegram(token_ok=TOKEN, per_chat_burst=20) as server:
        yield server


@pytest.fixture
def seen() -> dict[str, list]:
    return {"contacts": [], "callbacks": [], "members": []}


@pytest.fixture
async def bot(server, seen):
    """A real bot polling the fake server (handle_as_tasks=False, as the end-to-end tests run it)."""
    dispatcher = Dispatcher()
    dispatcher.include_router(build_router(seen))
    bot = make_bot(server)
    polling_started = asyncio.Event()
    dispatcher.startup.register(polling_started.set)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, handle_as_tasks=False, polling_timeout=1)
    )
    await polling_started.wait()
    yield bot
    await dispatcher.stop_polling()
    await polling


async def started(server: FakeTelegram, user_id: int, name: str = "李雷"):
    user = server.user(user_id, name, phone="+8613800000000")
    await user.start()
    return user


# -- conversations through the real dispatcher ---------------------------------------------------------------------


async def test_start_and_echo(server, bot):
    user = server.user(1001, "李雷")
    [greeting] = await user.start()
    assert greeting.text == "你好 李雷"
    assert greeting.raw == "<b>你好</b> 李雷"
    assert greeting.entities == [{"type": "bold", "offset": 0, "length": 2}]
    assert user.buttons() == ["是", "否"]
    [echo] = await user.send("1 < 2 & 3")
    assert echo.text == "echo: 1 < 2 & 3"
    assert user.last() is echo
    assert [record.sender for record in user.chat] == ["user", "bot", "user", "bot"]
    assert [record.message_id for record in user.chat] == [1, 2, 3, 4]


async def test_tap_edits_the_message(server, bot, seen):
    user = await started(server, 1002)
    [edited] = await user.tap("是")
    assert seen["callbacks"] == ["ans:yes"]
    assert edited is user.last()
    assert edited.text == "你选了 ans:yes"
    assert edited.edited and edited.history[0].text == "你好 李雷"
    assert user.buttons() == []  # editMessageText without reply_markup removes the keyboard
    assert user.callback_answers == ["好的"]
    assert server.unanswered_callbacks == {}
    with pytest.raises(LookupError, match="否"):
        await user.tap("否")  # the keyboard is gone


async def test_tap_unknown_label_lists_buttons(server, bot):
    user = await started(server, 1003)
    with pytest.raises(LookupError, match=r"'是', '否'"):
        await user.tap("也许")


async def test_forged_tap_on_missing_message(server, bot, seen):
    user = await started(server, 1004)
    assert await user.tap_data("ans:forged", message_id=999) == []
    assert seen["callbacks"] == ["ans:forged"]
    assert user.callback_answers == ["好的"]


async def test_contact_via_reply_keyboard(server, bot, seen):
    user = await started(server, 1005)
    await user.send("/kb")
    assert user.keyboard() == ["分享手机号", "帮助"]
    [reply] = await user.press("分享手机号")
    assert reply.text == "收到 +8613800000000"
    assert seen["contacts"][0].user_id == 1005
    await user.share_contact("+8613900000000", own=False)
    assert seen["contacts"][1].user_id != 1005
    [help_echo] = await user.press("帮助")
    assert help_echo.text == "echo: 帮助"


async def test_blocked_user(server, bot, seen):
    user = await started(server, 1006)
    await user.block()
    assert seen["members"] == ["kicked"]
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(user.id, "还在吗")
    await user.unblock()
    assert seen["members"] == ["kicked", "member"]
    await bot.send_message(user.id, "欢迎回来")


async def test_never_started_user_is_forbidden(server, bot):
    server.user(1007, "韩梅梅")
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation with a user"):
        await bot.send_message(1007, "你好")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "你好")


async def test_transcript_log(server, bot):
    user = await started(server, 1008)
    await user.tap("否")
    kinds = [(entry.actor, entry.kind) for entry in server.log]
    assert kinds == [("user", "message"), ("bot", "send"), ("user", "tap"), ("bot", "edit"), ("bot", "answer")]
    assert server.log[2].text == "否"
    assert server.stats.sent == 1
    assert server.stats.calls["editMessageText"] == 1


async def test_message_dates_come_from_the_clock(server, bot, clock):
    server.clock = clock
    user = await started(server, 1009)
    clock.advance(timedelta(hours=1))
    [echo] = await user.send("later")
    assert echo.date == clock.now()
    assert user.chat[0].date == clock.now() - timedelta(hours=1)


# -- what Telegram rejects ------------------------------------------------------------------------------------------


async def test_text_length_is_measured_after_html_parsing(server, bot):
    user = await started(server, 1010)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(user.id, "x" * 4097)
    await bot.send_message(user.id, "<b>" + "字" * 4096 + "</b>")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(user.id, "<b> </b>")


async def test_callback_data_limit(server, bot):
    user = await started(server, 1011)

    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data=data)]])

    await bot.send_message(user.id, "ok", reply_markup=keyboard("x" * 64))
    for data in ("x" * 65, "字" * 22, ""):
        with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
            await bot.send_message(user.id, "bad", reply_markup=keyboard(data))


@pytest.mark.parametrize(
    "text", ["<b>x", "a < b", "<br>", "<b><i>x</b></i>", "Tom & Jerry", '<span class="x">s</span>']
)
async def test_invalid_html_is_rejected(server, bot, text):
    user = await started(server, 1012)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(user.id, text)


async def test_escaped_html_passes(server, bot):
    user = await started(server, 1013)
    message = await bot.send_message(user.id, "&lt;b&gt; &amp; &quot;x&quot; &#20320;")
    assert message.text == '<b> & "x" 你'
    plain = await bot.send_message(user.id, "a < b & c", parse_mode=None)
    assert plain.text == "a < b & c"


async def test_edit_errors(server, bot):
    user = await started(server, 1014)
    message = await bot.send_message(user.id, "<b>一</b>")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("<strong>一</strong>", chat_id=user.id, message_id=message.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("二", chat_id=user.id, message_id=999)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("二", chat_id=user.id, message_id=1)  # the user's /start
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="好", callback_data="ok")]])
    await bot.edit_message_reply_markup(chat_id=user.id, message_id=message.message_id, reply_markup=markup)
    assert user.buttons() == ["好"]


async def test_delete_message(server, bot):
    user = await started(server, 1015)
    message = await bot.send_message(user.id, "临时")
    assert await bot.delete_message(user.id, message.message_id)
    assert user.last().text == "你好 李雷"
    assert user.chat[-1].deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(user.id, message.message_id)


async def test_send_document_keeps_file_and_caption(server, bot):
    user = await started(server, 1016)
    upload = BufferedInputFile(b"PK\x03\x04 fake xlsx", filename="名单.xlsx")
    message = await bot.send_document(user.id, upload, caption="<b>本周</b>名单")
    record = user.last()
    assert record.document["file_name"] == "名单.xlsx"
    assert record.document["data"] == b"PK\x03\x04 fake xlsx"
    assert record.caption == "本周名单"
    assert message.document.file_name == "名单.xlsx"
    again = await bot.send_document(user.id, message.document.file_id)
    assert again.document.file_id == message.document.file_id
    photo = await bot.send_photo(user.id, BufferedInputFile(b"\x89PNG", filename="chart.png"))
    assert photo.photo[0].file_size == 4


async def test_commands_round_trip(server, bot):
    await bot.set_my_commands([BotCommand(command="start", description="开始")], language_code="zh")
    assert [c.command for c in await bot.get_my_commands(language_code="zh")] == ["start"]
    assert await bot.get_my_commands() == []
    assert server.commands(language_code="zh") == [{"command": "start", "description": "开始"}]


# -- flood limits and injected faults -------------------------------------------------------------------------------


async def test_global_rate_limit(server, bot):
    server.set_rate_limits(global_rate=1000)
    users = [await started(server, 2000 + index, f"学生{index}") for index in range(40)]
    server.set_rate_limits(global_rate=30)
    sends = [bot.send_message(user.id, "通知") for user in users]
    results = await asyncio.gather(*sends, return_exceptions=True)
    refused = [result for result in results if isinstance(result, Exception)]
    assert refused and all(isinstance(error, TelegramRetryAfter) for error in refused)
    assert refused[0].retry_after >= 1
    assert 30 <= len(results) - len(refused) < 40
    assert server.stats.rate_limited == len(refused)


async def test_per_chat_rate_limit(server, bot):
    user = await started(server, 1017)
    server.set_rate_limits(per_chat_rate=1, per_chat_burst=3)
    for _ in range(3):
        await bot.send_message(user.id, "一")
    with pytest.raises(TelegramRetryAfter) as refused:
        await bot.send_message(user.id, "二")
    assert refused.value.retry_after == 1


async def test_fail_next(server, bot):
    user = await started(server, 1018)
    server.fail_next("sendMessage", 500)
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_message(user.id, "一")
    await bot.send_message(user.id, "一")
    server.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as refused:
        await bot.send_message(user.id, "二")
    assert refused.value.retry_after == 7


# -- the HTTP surface and update synchronisation --------------------------------------------------------------------


async def test_long_poll_returns_when_an_update_arrives(server):
    server.user(1019, "李雷")
    async with make_bot(server) as bot:
        began = time.monotonic()
        poll = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        await server.receive(1019, text="在吗")
        [update] = await poll
        assert time.monotonic() - began < 1
        assert update.message.text == "在吗"
        with pytest.raises(TimeoutError, match="did not confirm"):
            await server.settled(timeout=0.1)
        assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []
        await server.settled(timeout=0.1)


async def test_plain_aiohttp_session_works_too(server):
    server.user(1020, "李雷").state.started = True
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))
    async with Bot(TOKEN, session=session) as bot:
        me = await bot.get_me()
        message = await bot.send_message(1020, "你好")
    assert me.username == "quanxue_bot" and me.id == bot.id
    assert message.text == "你好" and message.from_user.id == bot.id


async def test_unknown_method_and_wrong_token(server):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.base_url}/bot{TOKEN}/sendSticker") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        async with http.post(f"{server.base_url}/bot1:WRONG/getMe") as response:
            assert response.status == 401
