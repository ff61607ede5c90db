"""What a camera writes where a person's words belong: no description at all, and no copyright.

Many compacts fill EXIF's ImageDescription (and some the UserComment) with their maker's name,
'OLYMPUS DIGITAL CAMERA', 'SONY DSC', '<Digimax i50 MP3, Samsung #1 MP3>', on every photo, and
photo software that keeps EXIF and XMP in step copies it into the XMP and IPTC caption (Windows
shows it as the title). Kept, it was every such photo's description and caption, shown as if
someone had written it, and in its search text, so that `--text camera` or `--text digital`
listed every photo of those cameras. gThumb, iNaturalist and PhotoPrism drop the same texts.

Some write a copyright notice that names no one the same way: Kodak's its model ('KODAK DC240
ZOOM DIGITAL CAMERA'), Ricoh's '(C) by RDC-5300 User', Samsung's 'COPYRIGHT, 2005' (the year of
its firmware, on photos taken later): ``--stats`` counted them among the copyright holders. A
notice whose words, the camera's make and model set aside, are only the words of a notice and
years names no one, and is none. The row's ``exif_json`` keeps the tags.
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
# The words of a copyright notice that name no one ('(C) by <model> User', 'COPYRIGHT, 2005'),
# beside years (``names_no_one``).
NOTICE_WORDS = frozenset({"c", "copyright", "by", "user", "owner", "all", "rights", "reserved"})
_WORD = re.compile(r"\w+")
_YEAR = re.compile(r"(?:19|20)\d\d")


def is_camera_default(text: str | None) -> bool:
    """Whether ``text`` is what a camera writes on every photo (``CAMERA_DEFAULTS``)."""
    if not text:
        return False
    said = " ".join(text.split())
    return said.casefold() in CAMERA_DEFAULTS or _SAMSUNG_LABEL.fullmatch(said) is not None


def names_no_one(notice: str | None, make: str | None, model: str | None) -> bool:
    """Whether a copyright ``notice`` names no one: its words, the camera's ``make`` and
    ``model`` set aside, are only ``NOTICE_WORDS`` and years ('KODAK DC240 ZOOM DIGITAL CAMERA'
    on a DC240's photo, '(C) by RDC-5300 User', 'COPYRIGHT, 2005'). An empty one is no notice."""
    if not notice or not notice.strip():
        return False
    camera = set(_WORD.findall(f"{make or ''} {model or ''}".casefold()))
    named = set(_WORD.findall(notice.casefold())) - camera - NOTICE_WORDS
    return all(_YEAR.fullmatch(word) for word in named)


def without_camera_defaults(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with each of its ``WORDS_COLUMNS`` that a camera wrote (``is_camera_default``)
    left empty. (A copyright notice is chosen among several: ``common.describe.copyright_of``
    passes over those that name no one.)"""
    return record | {column: None for column in WORDS_COLUMNS if is_camera_default(record.get(column))}
