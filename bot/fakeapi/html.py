"""Telegram-HTML as the Bot API parses it: visible text plus message entities, or an `HtmlError`.

Stricter than Telegram in one way: a bare `&` that does not start an entity is an error (Telegram keeps it), so
a bot that forgets to escape user input fails here before it fails in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTRIBUTE = re.compile(r"\s+([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_END_TAG = re.compile(r"</([a-zA-Z0-9-]*)\s*>")
_TAG_CLOSE = re.compile(r"\s*>")


class HtmlError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's wording after "can't parse entities: "."""


@dataclass
class Parsed:
    text: str
    entities: list[dict] = field(default_factory=list)


@dataclass
class _Open:
    tag: str
    offset: int
    attrs: dict[str, str]
    language: str | None = None


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> Parsed:
    """Parse `source` like Telegram's parse_mode=HTML; entity offsets and lengths are in UTF-16 code units."""
    return _Parser(source).run()


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.out: list[str] = []
        self.offset = 0
        self.stack: list[_Open] = []
        self.entities: list[dict] = []

    def run(self) -> Parsed:
        while self.pos < len(self.source):
            tag = self.source.find("<", self.pos)
            tag = len(self.source) if tag == -1 else tag
            self._emit(self._decode(self.pos, tag))
            self.pos = tag
            if tag < len(self.source):
                self._tag()
        if self.stack:
            raise HtmlError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return Parsed("".join(self.out), self.entities)

    def _emit(self, text: str) -> None:
        self.out.append(text)
        self.offset += utf16_len(text)

    def _byte_offset(self, pos: int) -> int:
        return len(self.source[:pos].encode())

    def _decode(self, start: int, end: int) -> str:
        """source[start:end] with its HTML entities decoded; a bare `&` is an error."""
        out, index = [], start
        while (amp := self.source.find("&", index, end)) != -1:
            out.append(self.source[index:amp])
            decoded = _decode_entity(self.source, amp)
            if decoded is None or decoded[1] > end:
                raise HtmlError(f'Unsupported "&" at byte offset {self._byte_offset(amp)}: escape it as "&amp;"')
            out.append(decoded[0])
            index = decoded[1]
        out.append(self.source[index:end])
        return "".join(out)

    def _tag(self) -> None:
        if self.source.startswith("</", self.pos):
            self._end_tag()
        else:
            self._start_tag()

    def _start_tag(self) -> None:
        start = self.pos
        match = _NAME.match(self.source, start + 1)
        name = match.group().lower() if match else ""
        if name not in ENTITY_TYPES:
            raise HtmlError(f'Unsupported start tag "{name}" at byte offset {self._byte_offset(start)}')
        self.pos = start + 1 + len(name)
        attrs: dict[str, str] = {}
        while (match := _ATTRIBUTE.match(self.source, self.pos)) is not None:
            value = next((index for index in (2, 3, 4) if match.group(index) is not None), None)
            attrs[match.group(1).lower()] = self._decode(match.start(value), match.end(value)) if value else ""
            self.pos = match.end()
        closing = _TAG_CLOSE.match(self.source, self.pos)
        if closing is None:
            raise HtmlError(f"Unclosed start tag at byte offset {self._byte_offset(start)}")
        self.pos = closing.end()
        self._check_attributes(name, attrs, start)
        self.stack.append(_Open(name, self.offset, attrs))

    def _check_attributes(self, name: str, attrs: dict[str, str], start: int) -> None:
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte_offset(start)}')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise HtmlError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {self._byte_offset(start)}')

    def _end_tag(self) -> None:
        match = _END_TAG.match(self.source, self.pos)
        if match is None:
            raise HtmlError(f"Unclosed end tag at byte offset {self._byte_offset(self.pos)}")
        name = match.group(1).lower()
        if not self.stack:
            raise HtmlError(f"Unexpected end tag at byte offset {self._byte_offset(self.pos)}")
        if self.stack[-1].tag != name:
            raise HtmlError(
                f"Unmatched end tag at byte offset {self._byte_offset(self.pos)}, "
                f'expected "</{self.stack[-1].tag}>", found "</{name}>"'
            )
        self.pos = match.end()
        self._close(self.stack.pop())

    def _close(self, tag: _Open) -> None:
        if tag.tag == "code" and self.stack and self.stack[-1].tag == "pre":
            language = tag.attrs.get("class", "")
            if language.startswith("language-"):
                self.stack[-1].language = language.removeprefix("language-")
                return  # Telegram folds <pre><code class="language-x"> into one pre entity
        entity = _entity_for(tag)
        if entity is not None and self.offset > tag.offset:
            self.entities.append({**entity, "offset": tag.offset, "length": self.offset - tag.offset})


def _decode_entity(text: str, index: int) -> tuple[str, int] | None:
    """The character of the HTML entity at text[index] and the index after it, or None if there is none."""
    match = _ENTITY.match(text, index)
    if match is None:
        return None
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return (NAMED_ENTITIES[name], match.end()) if name in NAMED_ENTITIES else None
    code = int(decimal) if decimal else int(hexadecimal, 16)
    return (chr(code), match.end()) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else None


def _entity_for(tag: _Open) -> dict | None:
    kind = ENTITY_TYPES[tag.tag]
    if kind == "text_link":
        return {"type": kind, "url": tag.attrs["href"]} if tag.attrs.get("href") else None
    if kind == "custom_emoji":
        return {"type": kind, "custom_emoji_id": tag.attrs["emoji-id"]}
    if kind == "pre" and tag.language:
        return {"type": kind, "language": tag.language}
    if kind == "blockquote" and "expandable" in tag.attrs:
        return {"type": "expandable_blockquote"}
    return {"type": kind}
