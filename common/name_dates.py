"""The date a phone or an app writes in the name of a file it saves, for files whose metadata
holds none.

WhatsApp strips EXIF from every picture it passes on, and screenshots carry none: in a phone's
library those are many of the files, and their date was only in their names
(``IMG-20210714-WA0003.jpg``, ``Screenshot_20200105-101010.png``), so a date filter, "July 2021"
or a timeline left them out. Only the names phones and their apps give are read, whole dates
that exist: a name that merely holds digits (``invoice_20211301.jpg``, ``scan 2019.png``) dates
nothing. A name gives the local time, as a camera's EXIF does; WhatsApp's the day alone.
"""

from __future__ import annotations

import re
from datetime import datetime

# Each pattern names its parts: year, month, day, and hour, minute, second where the name has them.
_DATE = r"(?P<year>(?:19|20)\d\d)(?P<month>\d\d)(?P<day>\d\d)"
_TIME = r"(?P<hour>\d\d)(?P<minute>\d\d)(?P<second>\d\d)"
_DASHED = r"(?P<year>(?:19|20)\d\d)-(?P<month>\d\d)-(?P<day>\d\d)"
NAME_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # Android's camera apps: IMG_20190703_143300.jpg, VID_…, PXL_20190703_143300123.jpg, MVIMG_…
        rf"(?:IMG|VID|PXL|MVIMG|PANO|BURST\d*)_{_DATE}_{_TIME}",
        # Samsung's camera: 20190703_143300.jpg
        rf"{_DATE}_{_TIME}",
        # WhatsApp: IMG-20210714-WA0003.jpg, VID-20210714-WA0001.mp4 (the day alone)
        rf"(?:IMG|VID)-{_DATE}-WA\d+",
        # Android's screenshots: Screenshot_20200105-101010.png, Screenshot_2019-07-05-10-10-10.png
        rf"Screenshot_{_DATE}-{_TIME}",
        rf"Screenshot_{_DASHED}-(?P<hour>\d\d)-(?P<minute>\d\d)-(?P<second>\d\d)",
        # macOS's: 'Screenshot 2023-02-11 at 09.41.07.png' ('Screen Shot' before macOS 13)
        rf"Screen ?[Ss]hot {_DASHED} at (?P<hour>\d\d?)\.(?P<minute>\d\d)\.(?P<second>\d\d)(?:[\s\u202f]*(?P<half>[AP]M))?",
        # Signal: signal-2021-07-14-101010.jpg
        rf"signal-{_DASHED}-{_TIME}",
    )
)


def date_in_name(filename: str) -> str | None:
    """The date (ISO 8601, local time, as ``date_taken`` holds it) in ``filename`` when it is
    named as a phone or an app names the files it saves; None otherwise."""
    for pattern in NAME_PATTERNS:
        found = pattern.match(filename)
        if found is None:
            continue
        parts = found.groupdict()
        hour = int(parts.get("hour") or 0)
        if parts.get("half"):  # a 12-hour clock: '9.41.07 PM'
            hour = hour % 12 + (12 if parts["half"].upper() == "PM" else 0)
        try:
            when = datetime(
                int(parts["year"]), int(parts["month"]), int(parts["day"]),
                hour, int(parts.get("minute") or 0), int(parts.get("second") or 0),
            )  # fmt: skip
        except ValueError:  # a 30 February, a 25th hour: not a date
            return None
        return when.isoformat()
    return None
