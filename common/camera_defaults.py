"""What a camera writes where a person's words belong: no description at all.

Many compacts fill EXIF's ImageDescription (and some the UserComment) with their maker's name,
'OLYMPUS DIGITAL CAMERA', 'SONY DSC', '<Digimax i50 MP3, Samsung #1 MP3>', on every photo, and
photo software that keeps EXIF and XMP in step copies it into the XMP and IPTC caption (Windows
shows it as the title). Kept, it was every such photo's description and caption, shown as if
someone had written it, and in its search text, so that `--text camera` or `--text digital`
listed every photo of those cameras. gThumb, iNaturalist and PhotoPrism drop the same texts. The
row's ``exif_json`` keeps the tag.
"""

from __future__ import annotations

import re
from typing import Any

# The texts, compared case aside and with runs of spaces as one.
CAMERA_DEFAULTS = frozenset(
    {
        "olympus digital camera",
        "sony dsc",
        "konica minolta digital camera",
        "minolta digital camera",
        "sanyo digital camera",
        "kodak digital still camera",
        "samsung camera pictures",
        "digital camera",
    }
)
# Samsung's compacts write their model's name between angle brackets: '<KENOX S1050  / Samsung
# S1050>', '<Digimax i50 MP3, Samsung #1 MP3>'.
_SAMSUNG_LABEL = re.compile(r"<[^<>]*samsung[^<>]*>", re.IGNORECASE)
# The columns a person writes a photo's words in, where cameras and software copying them put these.
WORDS_COLUMNS = ("description", "user_comment", "title", "caption")


def is_camera_default(text: str | None) -> bool:
    """Whether ``text`` is what a camera writes on every photo (``CAMERA_DEFAULTS``)."""
    if not text:
        return False
    said = " ".join(text.split())
    return said.casefold() in CAMERA_DEFAULTS or _SAMSUNG_LABEL.fullmatch(said) is not None


def without_camera_defaults(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with each of its ``WORDS_COLUMNS`` that a camera wrote (``is_camera_default``)
    left empty."""
    return record | {column: None for column in WORDS_COLUMNS if is_camera_default(record.get(column))}
