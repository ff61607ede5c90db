"""What older photo software wrote about a photo: IPTC-IIM's title, caption, keywords, place,
creator, copyright, and the date it was taken.

Before XMP, Photoshop, Picasa and the press's tools (Photo Mechanic, newspaper archives) kept a
photo's caption and keywords as IPTC-IIM datasets: in a JPEG's Photoshop block (APP13), in a
TIFF's IPTC tag. Photo Mechanic still writes them first. Where a photo also carries XMP, XMP wins
column by column (the Metadata Working Group's rule: software that writes both keeps them in
step, and XMP is the one current software edits); IIM fills what XMP lacks.

Pillow's ``IptcImagePlugin.getiptcinfo`` finds and splits the datasets; this module only picks
the ones that have columns and decodes their text.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from common.xmp import LIST_SEPARATOR, LOCATION_SEPARATOR, distinct

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

# (record, dataset) of IIM's application record (2) for each column it fills.
# Object Name, Caption/Abstract, Keywords, By-line (the creator: repeated for several), Copyright Notice.
DATASETS = {"title": (2, 5), "caption": (2, 120), "keywords": (2, 25), "creator": (2, 80), "copyright": (2, 116)}
LIST_COLUMNS = ("keywords", "creator")  # every value kept; of the others, the first
# The parts of the location column (common.xmp.LOCATION_PARTS): Sub-location, City,
# Province/State, Country/Primary Location Name.
LOCATION_DATASETS = ((2, 92), (2, 90), (2, 95), (2, 101))
# Date Created ('CCYYMMDD': '00' for a month or day not known) and Time Created ('HHMMSS±HHMM').
DATE_CREATED, TIME_CREATED = (2, 55), (2, 60)
CODED_CHARACTER_SET = (1, 90)
UTF8_ESCAPE = b"\x1b%G"  # ISO 2022's announcement of UTF-8, the only character set declared in practice


def iptc_columns(image: Image.Image) -> dict[str, str]:
    """The title, caption, keywords, creator, copyright and location the IIM datasets of an opened JPEG or TIFF hold
    (only the ones it holds), and ``date_taken`` as XMP writes a date (``date_created``, for
    ``common.xmp_taken``); nothing for other formats, or for a block Pillow cannot split."""
    from PIL import IptcImagePlugin

    try:
        datasets = IptcImagePlugin.getiptcinfo(image) or {}
    except Exception as error:  # a damaged block costs its text, never the photo
        log.debug("ignoring an IPTC block that cannot be read: %s", error)
        return {}
    utf8 = _values(datasets.get(CODED_CHARACTER_SET))[:1] == [UTF8_ESCAPE]
    found: dict[str, str] = {}
    for column, dataset in DATASETS.items():
        texts = distinct([text for value in _values(datasets.get(dataset)) if (text := _text(value, utf8))])
        if texts:
            found[column] = LIST_SEPARATOR.join(texts) if column in LIST_COLUMNS else texts[0]
    parts = [text for dataset in LOCATION_DATASETS for value in _values(datasets.get(dataset))[:1]
             if (text := _text(value, utf8))]  # fmt: skip
    if parts := distinct(parts):
        found["location"] = LOCATION_SEPARATOR.join(parts)
    if created := date_created(_values(datasets.get(DATE_CREATED))[:1], _values(datasets.get(TIME_CREATED))[:1]):
        found["date_taken"] = created
    return found


def date_created(date: list[bytes], time: list[bytes]) -> str | None:
    """IIM's Date Created and Time Created (each a one-value list, or empty) as XMP writes a date,
    as precise as known: '1975' for '19750000', '2019-10-14T15:00:20+00:00' for '20191014' and
    '150020+0000'. None without a date of eight digits; checked as a date by ``common.xmp_taken``."""
    written = date[0].decode("ascii", "replace").strip() if date else ""
    if len(written) != 8 or not written.isdigit():
        return None
    year, month, day_of_month = written[:4], written[4:6], written[6:8]
    # '00': not known; a day of an unknown month dates no more than the year.
    parts = [year] if month == "00" else [year, month] if day_of_month == "00" else [year, month, day_of_month]
    day = "-".join(parts)
    clock = time[0].decode("ascii", "replace").strip() if time else ""
    if len(parts) < 3 or len(clock) < 6 or not clock[:6].isdigit():
        return day
    zone = f"{clock[6:9]}:{clock[9:11]}" if len(clock) >= 11 and clock[6] in "+-" and clock[7:11].isdigit() else ""
    return f"{day}T{clock[:2]}:{clock[2:4]}:{clock[4:6]}{zone}"


def _values(value: bytes | list[bytes] | None) -> list[bytes]:
    """A dataset's values: Pillow gives a repeated one (keywords) as a list, a single one as bytes."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: bytes, utf8: bool) -> str | None:
    """A dataset's text: UTF-8 when the block says so or the bytes are valid UTF-8 (what the
    Metadata Working Group advises where it says nothing), else Windows-1252, the code page of
    the Western software that wrote IIM without a declaration."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("utf-8" if utf8 else "cp1252", errors="replace")
    return text.strip(" \t\r\n\x00") or None
