"""The Telegram-HTML parser of the fake server."""

import re

import pytest

from bot.fakeapi.html import HtmlError, parse_html


def test_html_entities_use_utf16_offsets():
    parsed = parse_html('😀<a href="https://x.cn/?a=1&amp;b=2">链接</a> <pre><code class="language-py">x</code></pre>')
    assert parsed.text == "😀链接 x"
    assert parsed.entities == [
        {"type": "text_link", "url": "https://x.cn/?a=1&b=2", "offset": 2, "length": 2},
        {"type": "pre", "language": "py", "offset": 5, "length": 1},
    ]


def test_html_error_messages():
    with pytest.raises(HtmlError, match='Unsupported start tag "" at byte offset 2'):
        parse_html("a < b")
    with pytest.raises(HtmlError, match='Can\'t find end tag corresponding to start tag "b"'):
        parse_html("<b>x")


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("Tom & Jerry", 'Unsupported "&" at byte offset 4'),
        ("&nbsp;", 'Unsupported "&" at byte offset 0'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
        ('<a href="?a=1&b=2">x</a>', 'Unsupported "&" at byte offset 13'),
    ],
)
def test_invalid_html(source, error):
    with pytest.raises(HtmlError, match=re.escape(error)):
        parse_html(source)


def test_all_supported_tags():
    source = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike><del>d</del>"
        '<span class="tg-spoiler">p</span><tg-spoiler>t</tg-spoiler><code>c</code><pre>r</pre>'
        '<blockquote>q</blockquote><blockquote expandable>x</blockquote><tg-emoji emoji-id="5368">👍</tg-emoji>'
    )
    parsed = parse_html(source)
    assert parsed.text == "bsieunskdptcrqx👍"
    kinds = [entity["type"] for entity in parsed.entities]
    assert kinds == [
        "bold", "bold", "italic", "italic", "underline", "underline", "strikethrough", "strikethrough",
        "strikethrough", "spoiler", "spoiler", "code", "pre", "blockquote", "expandable_blockquote", "custom_emoji",
    ]  # fmt: skip
    assert parsed.entities[-1] == {"type": "custom_emoji", "custom_emoji_id": "5368", "offset": 15, "length": 2}
