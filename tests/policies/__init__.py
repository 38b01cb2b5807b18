"""Policy files for tests: `AUTOMATIC_NOTICE`, the 劝学书 sent when a case opens."""

from pathlib import Path

AUTOMATIC_NOTICE = Path(__file__).resolve().parent / "automatic_notice.toml"
