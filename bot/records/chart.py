"""The monthly report's chart as a PNG: attendance by class (or by school, for a township or county) and week, and
the cases open at the month's end by stage. Drawn headless (matplotlib's Agg canvas, no pyplot) in the CJK font of
bot.core.fonts, never a system font, so every name renders (𠮷 included)."""

from __future__ import annotations

from functools import cache
from io import BytesIO
from typing import Any

import matplotlib as mpl
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.core.fonts import CJK_FONT_PATH
from bot.core.i18n import gettext
from bot.records import labels
from bot.records.ledgers import RecordsData
from bot.records.rates import open_cases_by_stage, weekly_attendance
from bot.records.scope import Level

PNG_MIME = "image/png"
MAX_LINES = 12  # more lines than this are unreadable: the lowest-attending units are drawn
FAMILY = {"zh_Hant": "Noto Sans CJK TC"}  # the face with the locale's glyph forms; SC otherwise
STAGE_ORDER = ("open", "reported", "ordered", "legal")


@cache
def _register_font() -> None:
    font_manager.fontManager.addfont(str(CJK_FONT_PATH))  # every face of the collection


def chart_font(locale: str) -> dict[str, Any]:
    """The rc settings that draw text in the shipped CJK font for `locale` (and no other font)."""
    _register_font()
    return {"font.family": [FAMILY.get(locale, "Noto Sans CJK SC")], "axes.unicode_minus": False}


def build_chart(data: RecordsData, locale: str) -> bytes:
    with mpl.rc_context(chart_font(locale)):  # type: ignore[arg-type]  # rc keys are typed as literals
        figure = Figure(figsize=(11, 4.8), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        left, right = figure.subplots(1, 2, width_ratios=(2.2, 1))
        _attendance(left, data, locale)
        _cases(right, data, locale)
        figure.suptitle(f"{data.scope.name} {data.period.label}")
        out = BytesIO()
        figure.savefig(out, format="png")
    return out.getvalue()


def _attendance(axes, data: RecordsData, locale: str) -> None:
    weeks = weekly_attendance(data, by_school=data.scope.level is not Level.SCHOOL)
    axes.set_title(gettext(labels.CHART_ATTENDANCE, locale))
    if not weeks:
        axes.text(0.5, 0.5, gettext(labels.CHART_NO_DATA, locale), ha="center", va="center")
        axes.set_axis_off()
        return
    lowest = sorted(weeks, key=lambda name: min(weeks[name].values()))[:MAX_LINES]
    for name in sorted(lowest):
        series = weeks[name]
        axes.plot([week.strftime("%m-%d") for week in series], [rate * 100 for rate in series.values()],
                  marker="o", label=name)
    axes.set_xlabel(gettext(labels.CHART_WEEK, locale))
    axes.set_ylabel("%")
    axes.set_ylim(min(80.0, axes.get_ylim()[0]), 100.5)
    axes.legend(fontsize="small", loc="lower left")
    axes.grid(alpha=0.3)


def _cases(axes, data: RecordsData, locale: str) -> None:
    counts = open_cases_by_stage(data)
    names = [labels.label(labels.STAGES, stage, locale) for stage in STAGE_ORDER]
    values = [counts.get(stage, 0) for stage in STAGE_ORDER]
    bars = axes.bar(names, values, color=["#f2c14e", "#f78154", "#d1495b", "#6d597a"])
    axes.bar_label(bars)
    axes.set_title(gettext(labels.CHART_CASES, locale))
    axes.set_ylim(0, max([*values, 1]) * 1.2)
    axes.tick_params(axis="x", labelrotation=15)
