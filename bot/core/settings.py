"""Settings from the environment (prefix QUANXUE_) and an optional `.env` file."""

from __future__ import annotations

from datetime import time
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core.i18n import LOCALES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUANXUE_", env_file=".env", extra="ignore")

    bot_token: SecretStr = SecretStr("")
    bot_username: str = Field("", description="used in invite links; read from getMe when empty")
    telegram_api: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///./quanxue.db"
    redis_url: str | None = Field(None, description="keeps half-finished forms (FSM) in Redis; in memory when unset")
    redis_prefix: str = Field("quanxue", min_length=1, description="prefix of this bot's keys in Redis")
    timezone: str = "Asia/Shanghai"
    locale: str = "zh_Hans"
    county: str = Field("本县", description="county that roster rows without a 县 column belong to")
    clock_file: Path | None = None
    invite_ttl_days: int = Field(30, ge=1)
    link_attempts_allowed: int = Field(5, ge=1, description="wrong codes per account before a pause")
    link_attempts_window_minutes: int = Field(15, ge=1)
    quiet_hours_start: time = time(21, 0)  # notices that fall inside wait until quiet_hours_end
    quiet_hours_end: time = time(7, 0)
    send_rate_global: float = Field(30.0, gt=0, description="messages per second, all chats together")
    send_rate_per_chat: float = Field(1.0, gt=0, description="messages per second to one chat")
    sender_poll_seconds: float = Field(1.0, gt=0)
    rollcall_reminder_at: time = time(10, 0)
    monthly_report_at: time = Field(time(8, 0), description="on the month's first school day, the previous month's "
                                    "report goes to school, township and county officers from this time")
    weekly_digest_at: time = Field(time(17, 30), description="on the week's last school day, each class teacher's "
                                   "digest of their class goes out from this time")
    monthly_reports: bool = Field(True, description="push the monthly report on schedule (/report works regardless)")
    policy: Path | None = Field(None, description="the ladder's policy file (TOML); the shipped defaults when unset")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"locale must be one of {', '.join(LOCALES)}")
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
