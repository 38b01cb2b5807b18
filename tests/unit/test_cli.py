"""The `quanxue` command as an operator types it: import the samples, print invites, run a tick."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def operator_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    monkeypatch.setenv("QUANXUE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'q.db'}")
    monkeypatch.setenv("QUANXUE_BOT_USERNAME", "quanxue_bot")
    monkeypatch.setenv("QUANXUE_BOT_TOKEN", "")
    clock_file = tmp_path / "now.txt"
    clock_file.write_text("2026-09-07T08:00:00+08:00")
    monkeypatch.setenv("QUANXUE_CLOCK_FILE", str(clock_file))
    return tmp_path


def test_import_then_invites_then_tick(operator_env):
    assert main(["import-roster", str(EXAMPLES / "roster.csv")]) == 0
    assert main(["import-staff", str(EXAMPLES / "staff.csv")]) == 0
    assert main(["import-calendar", str(EXAMPLES / "calendar.toml")]) == 0
    output = operator_env / "invites.csv"
    assert main(["invites", "--format", "csv", "--output", str(output)]) == 0
    with output.open(encoding="utf-8-sig") as file:
        rows = list(csv.reader(file))
    links = [cell for row in rows[1:] for cell in row if cell.startswith("https://t.me/quanxue_bot?start=")]
    assert len(links) == len(rows) - 1 >= 20  # every unlinked teacher, officer and guardian, one link each
    assert main(["tick", "--now", "2026-09-07T10:05:00+08:00"]) == 0
    assert main(["tick"]) == 0  # the instant comes from QUANXUE_CLOCK_FILE


def test_a_bad_file_is_refused_with_its_row_and_nothing_written(operator_env, capfd):
    bad = operator_env / "bad.csv"
    bad.write_text("乡镇,学校,班级,姓名,出生日期,监护人,监护人电话\n青山镇,青山镇中心小学,三年级1班,李明,2017-02-30,李建国,13900001001\n",
                   encoding="utf-8")
    assert main(["import-roster", str(bad)]) == 1
    assert "第 2 行，出生日期" in capfd.readouterr().out  # the row as the spreadsheet numbers it, in the default locale
    assert main(["invites", "--format", "csv", "--output", str(operator_env / "i.csv")]) == 0
    assert "没有生成新的邀请码" in capfd.readouterr().out  # nobody was imported, so nobody gets a code
    assert not (operator_env / "i.csv").exists()


def test_run_without_a_token_says_how_to_set_it(operator_env, caplog):
    assert main(["run"]) == 2
    assert "QUANXUE_BOT_TOKEN" in caplog.text


def test_report_writes_the_spreadsheet_and_the_chart(operator_env, capsys):
    assert main(["import-roster", str(EXAMPLES / "roster.csv")]) == 0
    capsys.readouterr()
    output = operator_env / "out" / "county.xlsx"
    output.parent.mkdir()
    assert main(["report", "--scope", "school:没有这个学校", "--month", "2026-09", "--output", str(output)]) == 2
    assert "找不到范围" in capsys.readouterr().out
    assert main(["report", "--scope", "county", "--month", "2026-13", "--output", str(output)]) == 2
    assert not output.exists()
    assert main(["report", "--scope", "county", "--month", "2026-09", "--output", str(output),
                 "--locale", "en"]) == 0
    printed = capsys.readouterr().out
    assert "Attendance: —" in printed and "attachments" not in printed  # no roll call yet: no rate, not 0 %
    book = load_workbook(output)
    assert book.sheetnames == ["Summary", "School-age children", "Suspected dropouts", "Dropouts"]
    assert book["School-age children"].max_row - 1 == sum(1 for _ in (EXAMPLES / "roster.csv").open()) - 1
    assert output.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
