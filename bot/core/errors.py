"""The one shape of a service's refusal: a code the handlers turn into words in the person's language, and the
details those words need (a date, a field). Services raise it; nothing half-done is left behind, because the
caller's transaction is rolled back."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, TypeVar

Code = TypeVar("Code", bound=StrEnum)


class CodedError(Exception, Generic[Code]):
    def __init__(self, code: Code, **details: Any) -> None:
        super().__init__(code.value)
        self.code = code
        self.details = details
