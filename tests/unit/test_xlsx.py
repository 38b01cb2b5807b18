"""The lean XLSX writer, read back with openpyxl: numbers stay numbers, dates are dates, rates are percentages,
the header is bold and frozen, columns are sized, and text that looks like markup stays text."""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO

from openpyxl import load_workbook

from bot.records.xlsx import Sheet, write_xlsx


def test_a_workbook_reads_back_as_written():
    rows = [["𠮷祥", 3, 0.875, date(2026, 9, 3), None, "a < b & c"], ["李明", 0, None, None, "", "x\x01y"]]
    data = write_xlsx([Sheet("汇总", ["姓名", "天数", "出勤率", "日期", "空", "备注"], rows, frozenset({2})),
                       Sheet("Second", ["A"], [])])
    book = load_workbook(BytesIO(data))
    assert book.sheetnames == ["汇总", "Second"]
    sheet = book["汇总"]
    assert [cell.value for cell in sheet[2]] == ["𠮷祥", 3, 0.875, datetime(2026, 9, 3), None, "a < b & c"]
    assert sheet["F3"].value == "xy"  # a control character XML cannot hold is dropped, the rest kept
    assert sheet["C2"].number_format == "0.0%" and sheet["D2"].number_format == "yyyy-mm-dd"
    assert sheet["A1"].font.b and not sheet["A2"].font.b
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width >= 6 and sheet.column_dimensions["F"].width >= 11
