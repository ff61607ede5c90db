"""What Windows wrote about a photo in its own EXIF tags: a title, comments, tags and authors.

Windows Explorer's Details tab (and Windows Photo Gallery before it) keeps a photo's Title,
Comments, Tags and Authors in EXIF tags of Microsoft's (XPTitle, XPComment, XPKeywords,
XPAuthor: UTF-16 text in IFD0), beside XMP where the file has it. A photo tagged on Windows XP
or by a tool that writes only these has its tags nowhere else. They are read where neither XMP
nor IPTC-IIM says anything (``common.decoding.older_annotations``): the standards' fields come
first, as Windows itself reads them. Pillow reads the tags as bytes; exifread prints most of
them as lists of numbers.
"""

from __future__ import annotations

import logging

from PIL import Image

from common.xmp import LIST_SEPARATOR, distinct

log = logging.getLogger(__name__)

# Microsoft's tags (IFD0) by their EXIF names, as exif_json keeps them as text.
WINDOWS_TAG_NAMES = {
    "XPTitle": 0x9C9B,
    "XPComment": 0x9C9C,
    "XPAuthor": 0x9C9D,
    "XPKeywords": 0x9C9E,
    "XPSubject": 0x9C9F,
}
# ... and the record column each fills (Subject fills none).
WINDOWS_TAGS = {
    column: WINDOWS_TAG_NAMES[name]
    for column, name in (
        ("title", "XPTitle"),
        ("caption", "XPComment"),
        ("creator", "XPAuthor"),
        ("keywords", "XPKeywords"),
    )
}
WINDOWS_SEPARATOR = ";"  # between tags or authors, as Explorer writes them


def windows_columns(exif: Image.Exif | None) -> dict[str, str]:
    """The title, caption, keywords and creator Windows wrote in ``exif`` (an image's IFD0, as
    ``Image.getexif()`` reads it); only those it wrote, keywords and authors joined by
    ``LIST_SEPARATOR`` as XMP's are."""
    if exif is None:
        return {}
    found: dict[str, str] = {}
    for column, tag in WINDOWS_TAGS.items():
        text = windows_text(exif.get(tag))
        if not text:
            continue
        if column in ("keywords", "creator"):
            parts = distinct([part.strip() for part in text.split(WINDOWS_SEPARATOR) if part.strip()])
            text = LIST_SEPARATOR.join(parts)
        if text:
            found[column] = text
    return found


def windows_text(value: object) -> str:
    """A tag's UTF-16 (little-endian, NUL-ended) bytes as text; Pillow gives some as a tuple of
    byte values. Anything that is not that kind of text is no text."""
    if isinstance(value, tuple) and all(isinstance(v, int) and 0 <= v < 256 for v in value):
        value = bytes(value)
    if not isinstance(value, bytes):
        return value.strip("\x00 ").strip() if isinstance(value, str) else ""
    try:
        return value.decode("utf-16-le").split("\x00")[0].strip()
    except UnicodeDecodeError as error:
        log.debug("ignoring a Windows tag that is not UTF-16: %s", error)
        return ""
