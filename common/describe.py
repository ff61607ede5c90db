"""How one decoded file becomes a record (``common.records``): file facts, EXIF, text to search.

``build_record`` runs in the decoding workers, once per file read; ``with_place`` completes the
record in the indexing process (``common.places``: loaded once there, not in every worker).
``refreshed_record`` brings a stored record up to date from its own fields.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from PIL import Image

from common.decoding import DecodedImage
from common.discovery import VIDEO_EXTENSIONS
from common.metadata import EXIF_FIELDS, content_hash, exif_json, file_facts, png_text_chunks, read_exif
from common.places import PLACE_COLUMNS, country_aliases, place_columns
from common.records import RECORD_COLUMNS, RECORD_VERSION, REFRESHABLE_SINCE, XMP_SINCE
from common.text_search import word_parts
from common.xmp import embedded_packet, read_xmp, sidecar_mtime, sidecar_of

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
TEXT_SOURCE_COLUMNS = (
    "make", "model", "lens", "description", "user_comment", "artist", "software", "date_taken",
    "city", "county", "state", "country", "title", "caption", "keywords", "people",
)  # fmt: skip


def build_record(path: str, decoded: DecodedImage) -> dict[str, Any]:
    """Everything we know about one decoded image, as a row of ``record_schema()``."""
    record: dict[str, Any] = dict.fromkeys(RECORD_COLUMNS)
    record.update(file_facts(path))
    exif_columns, raw_tags = read_exif(path, decoded.exif)
    record.update({k: exif_columns.get(k) for k in EXIF_FIELDS})
    text_chunks = png_text_chunks(decoded.info) if decoded.format == "PNG" else {}
    record.update(decoded.video or {"media_type": "image"})
    record.update(xmp_columns(path, decoded.info))
    record.update(
        content_hash=content_hash(path),
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
        mode=decoded.mode,
        png_text=_json_or_none(text_chunks),
        exif_json=exif_json(raw_tags),
        indexed_at=time.time(),
        record_version=RECORD_VERSION,
    )
    record["search_text"] = search_text(record, text_chunks)
    return record


def xmp_columns(path: str, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The XMP columns of the file at ``path`` (``common.xmp``) and its sidecar's mtime. ``info``
    is the file's ``Image.info`` from its decoding; without it the file's header is read for its
    packet (a copy of an indexed photo, which is not decoded: milliseconds)."""
    if info is None:
        info = _header_info(path)
    sidecar = sidecar_of(path)
    return {**read_xmp(embedded_packet(info), sidecar), "sidecar_mtime": sidecar_mtime(sidecar)}


def _header_info(path: str) -> dict[str, Any]:
    if os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS:
        return {}
    try:
        with Image.open(path) as opened:
            return dict(opened.info)
    except Exception:  # it was decoded once; a file unreadable now has no packet to give
        return {}


def with_place(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` (as ``build_record`` made it) with the place of its GPS position and a search
    text that names it; unchanged without a position."""
    place = place_columns(record)
    if any(place.values()):
        record.update(place)
        record["search_text"] = current_search_text(record)
    return record


def refreshed_record(record: dict[str, Any], read: dict[str, Any] | None = None) -> dict[str, Any]:
    """What this version records for a stored ``record``, as far as its own fields and ``read``
    (``xmp_columns``, read from its file now) tell, with no file decoded. A row described since
    ``REFRESHABLE_SINCE`` gets everything (the place of its GPS position) and this version's
    number, or ``XMP_SINCE - 1`` when it predates XMP and nothing was read; an older one only this
    version's search text (the rest needs its file decoded, which the next --index does); a row
    of this version, the search text."""
    updated = dict.fromkeys(PLACE_COLUMNS) | record | (read or {})
    version = record.get("record_version")
    if version is not None and REFRESHABLE_SINCE <= version < RECORD_VERSION:
        complete = version >= XMP_SINCE or read is not None
        updated.update(place_columns(updated), record_version=RECORD_VERSION if complete else XMP_SINCE - 1)
    updated["search_text"] = current_search_text(updated)
    return updated


def search_text(record: dict[str, Any], text_chunks: dict[str, str]) -> str:
    """The text a metadata search matches: path, name and every human-readable field."""
    parts = [record["path"], record["filename"]]
    parts += [str(record[c]) for c in TEXT_SOURCE_COLUMNS if record.get(c)]
    aliases = country_aliases(record.get("country_code"))  # "usa" finds the United States
    if aliases:
        parts.append(aliases)
    parts += [f"{key} {value}" for key, value in text_chunks.items()]
    parts.append(" ".join(word_parts(record["path"])))  # "vacation2019.jpg" found by "vacation"
    taken = month_and_year(record.get("date_taken"))  # "july 2021" finds 2021-07-14T10:00:00
    return "\n".join([*parts, taken] if taken else parts)


def month_and_year(date_taken: str | None) -> str:
    """'July 2021' for an ISO date ('' when there is none): people search by the month's name."""
    if not date_taken or len(date_taken) < 7 or not date_taken[5:7].isdigit():
        return ""
    month = int(date_taken[5:7])
    return f"{MONTHS[month - 1]} {date_taken[:4]}" if 1 <= month <= 12 else ""


def current_search_text(record: dict[str, Any]) -> str:
    """The search text this version builds for a stored ``record``: what the row would hold had
    its file been indexed now. The rule grows between versions (file-name parts were added), and
    a record keeps every field the text is made from, so an old row can be brought up to date
    without reading or embedding its file again (``--repair``)."""
    chunks = json.loads(record["png_text"]) if record.get("png_text") else {}
    return search_text(record, chunks)


def _json_or_none(value: dict[str, str]) -> str | None:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else None
