"""The chart's font: the shipped Noto Sans CJK draws rare characters such as 𠮷 as themselves, not as the empty box
(tofu) a font draws for a character it lacks, headless on the Agg canvas."""

from __future__ import annotations

from io import BytesIO

import matplotlib as mpl
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.records.chart import chart_font

MISSING = "\U000f0000"  # a private-use character no font has: drawn as the font's tofu box


def drawn(text: str, locale: str) -> bytes:
    with mpl.rc_context(chart_font(locale)):  # type: ignore[arg-type]  # rc keys are typed as literals
        figure = Figure(figsize=(1, 1), dpi=50)
        canvas = FigureCanvasAgg(figure)
        figure.text(0.1, 0.2, text, fontsize=30)
        canvas.draw()
        out = BytesIO()
        figure.savefig(out, format="raw")
    return out.getvalue()


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # the tofu we compare with, on purpose
@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant", "en"])
def test_rare_characters_are_drawn_not_boxed(locale):
    tofu = drawn(MISSING, locale)
    blank = drawn("", locale)
    for char in ("𠮷", "䶮", "堃", "李"):
        image = drawn(char, locale)
        assert image != tofu and image != blank, char
    assert drawn("𠮷", locale) != drawn("吉", locale)  # 𠮷 is its own glyph, not a fallback look-alike

