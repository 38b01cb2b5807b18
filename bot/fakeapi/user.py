"""A Telegram user talking to the bot through the fake server.

Every action pushes a real update, waits until the bot has processed it (`FakeTelegram.settled`) and returns the
bot messages sent or edited in this user's chat meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from bot.fakeapi.html import utf16_len
from bot.fakeapi.state import Chat, Record, UserState

if TYPE_CHECKING:
    from bot.fakeapi.server import FakeTelegram

OTHER_USER_ID = 10**12  # whose contact a user shares when it is not their own


class FakeUser:
    def __init__(self, server: FakeTelegram, state: UserState) -> None:
        self.server = server
        self.state = state

    @property
    def id(self) -> int:
        return self.state.id

    # -- actions ---------------------------------------------------------------------------------------------------

    async def send(self, text: str) -> list[Record]:
        """Send a text message; a leading `/command` gets its bot_command entity."""
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])}]
        return await self._act(self.server.receive(self.id, text=text, entities=entities))

    async def start(self, payload: str | None = None) -> list[Record]:
        return await self.send("/start" if payload is None else f"/start {payload}")

    async def share_contact(self, phone: str | None = None, own: bool = True) -> list[Record]:
        """Share a contact: by default the user's own (with `phone` or the registered phone)."""
        phone = phone or self.state.phone
        if phone is None:
            raise ValueError(f"user {self.id} has no phone to share; pass one")
        if own:
            self.state.phone = phone
        contact: dict[str, str | int] = {
            "phone_number": phone,
            "first_name": self.state.first_name if own else "Someone",
            "user_id": self.id if own else OTHER_USER_ID,
        }
        return await self._act(self.server.receive(self.id, contact=contact))

    async def tap(self, label: str, message: Record | None = None) -> list[Record]:
        """Tap the inline button labelled `label` on `message` or on the newest bot message that has one."""
        candidates = [message] if message else reversed(self.bot_messages())
        for record in candidates:
            button = next((b for b in record.inline_buttons() if b["text"] == label), None)
            if button is None:
                continue
            if "callback_data" not in button:
                raise LookupError(f"button {label!r} of message {record.message_id} has no callback_data: {button}")
            return await self._act(self.server.callback(self.id, record.message_id, button["callback_data"], label))
        raise LookupError(f"no inline button {label!r} in chat {self.id}; buttons: {self._all_buttons()}")

    async def tap_data(self, data: str, message_id: int) -> list[Record]:
        """Send a callback query with any callback_data for any message id (forged taps)."""
        return await self._act(self.server.callback(self.id, message_id, data))

    async def press(self, label: str) -> list[Record]:
        """Press a reply-keyboard button: sends its text, or shares the own contact for request_contact."""
        keyboard = self._chat.keyboard or {}
        button = next((b for row in keyboard.get("keyboard", []) for b in row if b["text"] == label), None)
        if button is None:
            raise LookupError(f"no keyboard button {label!r} in chat {self.id}; keyboard: {self.keyboard()}")
        if keyboard.get("one_time_keyboard"):
            self._chat.keyboard = None
        if button.get("request_contact"):
            return await self.share_contact()
        return await self.send(label)

    async def block(self) -> list[Record]:
        return await self._act(self.server.set_blocked(self.id, True))

    async def unblock(self) -> list[Record]:
        return await self._act(self.server.set_blocked(self.id, False))

    # -- reading ---------------------------------------------------------------------------------------------------

    @property
    def chat(self) -> list[Record]:
        """Every message of the chat, both directions, deleted ones included."""
        return self._chat.messages

    def bot_messages(self) -> list[Record]:
        """The bot's messages as they are now (after edits), without deleted ones."""
        return [record for record in self.chat if record.sender == "bot" and not record.deleted]

    def last(self) -> Record:
        messages = self.bot_messages()
        if not messages:
            raise LookupError(f"the bot has not written to user {self.id}")
        return messages[-1]

    def buttons(self, record: Record | None = None) -> list[str]:
        """Inline button labels of `record` (default: the newest bot message), flattened in order."""
        return (record or self.last()).buttons()

    def keyboard(self) -> list[str]:
        """Labels of the reply keyboard currently shown."""
        rows = (self._chat.keyboard or {}).get("keyboard", [])
        return [button["text"] for row in rows for button in row]

    @property
    def callback_answers(self) -> list[str | None]:
        """Texts of the bot's answerCallbackQuery calls for this user's taps."""
        return [answer["text"] for answer in self._chat.callback_answers]

    @property
    def _chat(self) -> Chat:
        return self.server.chats[self.id]

    def _all_buttons(self) -> dict[int, list[str]]:
        return {record.message_id: record.buttons() for record in self.bot_messages() if record.buttons()}

    async def _act(self, action: Awaitable[object]) -> list[Record]:
        mark = len(self.server.log)
        await action
        await self.server.settled()
        return self.server.produced(self.id, since=mark)
