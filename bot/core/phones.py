"""Phone numbers as the roster and Telegram write them, reduced to one comparable form."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-().·]")
_CHINA_PREFIXES = ("+86", "0086", "86")


def normalize_phone(raw: str | None) -> str | None:
    """Digits only, without China's country code: '+86 138-0013-8000' → '13800138000'.

    Returns None for an empty value; raises ValueError for something that is not a phone number.
    Numbers from other countries keep their country code with a leading '+'.
    """
    if raw is None or not str(raw).strip():
        return None
    text = _SEPARATORS.sub("", str(raw).strip())
    if text.endswith(".0") and text[:-2].isdigit():  # a number that a spreadsheet stored as a float
        text = text[:-2]
    for prefix in _CHINA_PREFIXES:
        if text.startswith(prefix) and len(text) - len(prefix) == 11:
            text = text[len(prefix) :]
            break
    international = text.startswith("+")
    digits = text.lstrip("+")
    if not digits.isdigit() or not 5 <= len(digits) <= 15:
        raise ValueError(f"not a phone number: {raw!r}")
    return f"+{digits}" if international else digits
