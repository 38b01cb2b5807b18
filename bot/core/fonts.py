"""The CJK font of every picture and PDF: Noto Sans CJK (SIL Open Font License 1.1), shipped by the
`noto-cjk-sans-otc` package, never whatever the system has, so that rare characters such as 𠮷, 䶮 and 堃 render.

The file is an OpenType collection; `FACE_INDEX` picks the face whose glyph forms suit a locale.
"""

from pathlib import Path

import noto_cjk_sans_otc

CJK_FONT_PATH = Path(str(noto_cjk_sans_otc.FONT_PATH))

# Faces of the collection: 2 = Simplified Chinese forms, 3 = Traditional Chinese (Taiwan) forms.
FACE_INDEX = {"zh_Hans": 2, "zh_Hant": 3, "en": 2}


def face_index(locale: str) -> int:
    """The collection face to use for text in `locale` (Simplified Chinese forms when unknown)."""
    return FACE_INDEX.get(locale, FACE_INDEX["zh_Hans"])
