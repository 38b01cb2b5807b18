"""The Bot API methods of the fake server, enforcing what Telegram enforces with Telegram's own error texts."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.web_request import FileField

from bot.fakeapi.html import HtmlError, parse_html
from bot.fakeapi.state import Chat, Record

if TYPE_CHECKING:
    from bot.fakeapi.server import FakeTelegram

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
INVALID_QUERY = "Bad Request: query is too old and response timeout expired or query ID is invalid"
SOURCE_FIELDS = ("raw", "parse_mode")  # how a text was written, not what it shows


class ApiError(Exception):
    """A Bot API error response."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def payload(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class Params:
    """A request's parameters, however they were sent (query, form, multipart or JSON)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def get(self, name: str) -> Any:
        return self.data.get(name)

    def text(self, name: str) -> str | None:
        value = self.data.get(name)
        return None if value is None else str(value)

    def int(self, name: str) -> int | None:
        value = self.data.get(name)
        try:
            return None if value is None else int(value)
        except ValueError:
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        return self.data.get(name) in (True, "true", "True", "1")

    def json(self, name: str) -> Any:
        value = self.data.get(name)
        try:
            return json.loads(value) if isinstance(value, str) else value
        except ValueError:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None


async def read_params(request: web.Request) -> Params:
    data: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        data |= await request.json()
    elif request.can_read_body:
        data |= dict(await request.post())
    return Params(data)


class BotApi:
    """The implemented methods, by lower-cased name (Telegram matches method names case-insensitively)."""

    def __init__(self, server: FakeTelegram) -> None:
        self.server = server
        self.commands: dict[str, list[dict]] = {}
        self.files: dict[str, dict] = {}
        implemented: dict[str, Callable[[Params], Awaitable[Any]]] = {
            "getMe": self.get_me,
            "getUpdates": server.get_updates,
            "deleteWebhook": self.accept,
            "sendMessage": self.send_message,
            "sendDocument": self.send_document,
            "sendPhoto": self.send_photo,
            "sendChatAction": self.send_chat_action,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "answerCallbackQuery": self.answer_callback_query,
            "deleteMessage": self.delete_message,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "setChatMenuButton": self.accept,
        }
        self.methods = {name.lower(): method for name, method in implemented.items()}

    # -- methods ---------------------------------------------------------------------------------------------------

    async def get_me(self, params: Params) -> dict:
        flags = {"can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
        return self.server.bot_user() | flags

    async def accept(self, params: Params) -> bool:
        return True

    async def send_message(self, params: Params) -> dict:
        text, entities = self._formatted(params, "text")
        markup = self._markup(params)
        chat = self._chat(params)
        self.server.throttle(chat.user.id)
        record = self._new(chat, text=text, entities=entities, reply_markup=markup, **self._source(params, "text"))
        return self._deliver(chat, record)

    async def send_document(self, params: Params) -> dict:
        return await self._send_file(params, "document")

    async def send_photo(self, params: Params) -> dict:
        return await self._send_file(params, "photo")

    async def send_chat_action(self, params: Params) -> bool:
        self._chat(params)
        return True

    async def edit_message_text(self, params: Params) -> dict:
        text, entities = self._formatted(params, "text")
        markup = self._markup(params)
        record = self._editable(params)
        if record.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        changes = {"text": text, "entities": entities, "reply_markup": markup, **self._source(params, "text")}
        return self._edit(record, changes)

    async def edit_message_reply_markup(self, params: Params) -> dict:
        markup = self._markup(params)
        return self._edit(self._editable(params), {"reply_markup": markup})

    async def answer_callback_query(self, params: Params) -> bool:
        chat_id = self.server.unanswered_callbacks.pop(params.text("callback_query_id") or "", None)
        if chat_id is None:
            raise ApiError(400, INVALID_QUERY)
        text = params.text("text")
        answer = {"text": text, "show_alert": params.flag("show_alert"), "url": params.text("url")}
        self.server.chats[chat_id].callback_answers.append(answer)
        self.server.record_event(chat_id, "bot", "answer", text or "")
        return True

    async def delete_message(self, params: Params) -> bool:
        chat = self._chat(params)
        record = chat.find(params.int("message_id"))
        if record is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        record.deleted = True
        self.server.record_event(chat.user.id, "bot", "delete", record.summary(), record)
        return True

    async def set_my_commands(self, params: Params) -> bool:
        commands = params.json("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: commands is empty")
        self.commands[scope_key(params.json("scope"), params.text("language_code"))] = commands
        return True

    async def get_my_commands(self, params: Params) -> list[dict]:
        return self.commands.get(scope_key(params.json("scope"), params.text("language_code")), [])

    # -- checks ----------------------------------------------------------------------------------------------------

    def _chat(self, params: Params) -> Chat:
        """The addressed private chat, if the bot may write there."""
        raw = params.text("chat_id")
        if raw is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.server.chats.get(int(raw)) if raw.lstrip("-").isdigit() else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not chat.user.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _formatted(self, params: Params, name: str) -> tuple[str | None, list[dict]]:
        """The visible text (or caption) and its entities; validates HTML, emptiness and length."""
        source, parse_mode = params.text(name), params.text("parse_mode")
        if source is None or parse_mode is None:
            text, entities = source, params.json("entities" if name == "text" else "caption_entities") or []
        elif parse_mode.lower() == "html":
            try:
                parsed = parse_html(source)
            except HtmlError as error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
            text, entities = parsed.text, parsed.entities
        else:
            raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r} (the fake speaks HTML only)")
        if name == "text" and not (text or "").strip():
            raise ApiError(400, "Bad Request: message text is empty")
        limit, what = (TEXT_LIMIT, "message") if name == "text" else (CAPTION_LIMIT, "message caption")
        if text is not None and len(text) > limit:
            raise ApiError(400, f"Bad Request: {what} is too long")
        return text, entities

    def _markup(self, params: Params) -> dict | None:
        markup = params.json("reply_markup")
        if markup is not None and not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                _check_inline_button(button)
        return markup

    def _editable(self, params: Params) -> Record:
        chat = self._chat(params)
        record = chat.find(params.int("message_id"))
        if record is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if record.sender != "bot":
            raise ApiError(400, "Bad Request: message can't be edited")
        return record

    # -- effects ---------------------------------------------------------------------------------------------------

    def _new(self, chat: Chat, **content: Any) -> Record:
        return Record(chat.user.id, "bot", self.server.clock.now(), **content)

    def _deliver(self, chat: Chat, record: Record) -> dict:
        chat.add(record)
        markup = record.reply_markup or {}
        if "keyboard" in markup:
            chat.keyboard = markup
        elif markup.get("remove_keyboard"):
            chat.keyboard = None
        self.server.stats.sent += 1
        self.server.record_event(chat.user.id, "bot", "send", record.summary(), record)
        return self.server.message(record)

    def _edit(self, record: Record, changes: dict[str, Any]) -> dict:
        if all(getattr(record, key) == value for key, value in changes.items() if key not in SOURCE_FIELDS):
            raise ApiError(400, NOT_MODIFIED)
        self.server.throttle(record.chat_id)
        record.history.append(record.snapshot())
        for key, value in changes.items():
            setattr(record, key, value)
        record.edited, record.edit_date = True, self.server.clock.now()
        self.server.record_event(record.chat_id, "bot", "edit", record.summary(), record)
        return self.server.message(record)

    async def _send_file(self, params: Params, kind: str) -> dict:
        caption, entities = self._formatted(params, "caption")
        markup = self._markup(params)
        chat = self._chat(params)
        info = self._upload(params, kind)
        self.server.throttle(chat.user.id)
        content = {"caption": caption, "entities": entities, "reply_markup": markup, kind: info}
        return self._deliver(chat, self._new(chat, **content, **self._source(params, "caption")))

    def _upload(self, params: Params, kind: str) -> dict:
        """The sent file: a multipart upload (stored under a new file_id) or a known file_id."""
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, FileField):
            return self._store_file(value, kind)
        if value is None:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        if value not in self.files:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return self.files[value]

    def _store_file(self, upload: FileField, kind: str) -> dict:
        data = upload.file.read()
        if not data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        file_id = f"{kind}-{len(self.files) + 1}"
        mime_type = mimetypes.guess_type(upload.filename)[0] or upload.content_type
        info = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": upload.filename}
        self.files[file_id] = info | {"mime_type": mime_type, "file_size": len(data), "data": data}
        return self.files[file_id]

    @staticmethod
    def _source(params: Params, name: str) -> dict[str, str | None]:
        return {"raw": params.text(name), "parse_mode": params.text("parse_mode")}


def _check_inline_button(button: dict) -> None:
    data = button.get("callback_data")
    if data is not None and not 1 <= len(str(data).encode()) <= 64:
        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    if not set(button) - {"text"}:
        raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")


def scope_key(scope: dict | None, language_code: str | None) -> str:
    """Where setMyCommands stores a command list: per scope and language, like Telegram."""
    return json.dumps(scope or {"type": "default"}, sort_keys=True) + "|" + (language_code or "")
