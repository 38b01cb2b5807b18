"""Phone numbers as the roster and Telegram write them, reduced to one comparable form (with `phonenumbers`)."""

from __future__ import annotations

import re

import phonenumbers

_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_SEPARATORS = re.compile(r"[\s\-().·]")
_CHINA = 86


def normalize_phone(raw: str | None) -> str | None:
    """Digits only, without China's country code: '+86 138-0013-8000' → '13800138000', '0571-8888 8888' →
    '057188888888'; full-width digits become half-width.

    Returns None for an empty value; raises ValueError for something that is not a phone number.
    Numbers from other countries keep their country code with a leading '+'.
    """
    if raw is None or not str(raw).strip():
        return None
    text = _SEPARATORS.sub("", str(raw).translate(_HALF_WIDTH).strip())
    if text.endswith(".0") and text[:-2].isdigit():  # a number that a spreadsheet stored as a float
        text = text[:-2]
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.startswith("86") and len(text) == 13:
        text = "+" + text
    if not text.lstrip("+").isdigit() or not 5 <= len(text.lstrip("+")) <= 15:
        raise ValueError(f"not a phone number: {raw!r}")
    if not text.startswith("+"):
        return text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {raw!r}") from exc
    if number.country_code != _CHINA:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = str(number.national_number)
    return national if national.startswith("1") else "0" + national
