"""How one decoded file becomes a record (``common.records``): file facts, EXIF, text to search.

``build_record`` runs in the decoding workers, once per file read, and ``with_place`` completes
the record there (``common.places``: loaded once, in the server the workers are forked from).
``refreshed_record`` brings a stored record up to date from its own fields.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from common.camera_defaults import names_no_one, without_camera_defaults
from common.clip_xml import clip_xml_of
from common.decoding import DecodedImage, ExifIfds, Header, header_of
from common.extensions import RAW_EXTENSIONS, VIDEO_EXTENSIONS
from common.metadata import (
    EXIF_FIELDS,
    content_hash,
    exif_json,
    file_facts,
    lens_in_words,
    png_text_chunks,
    read_exif,
)
from common.name_dates import date_in_name
from common.places import PLACE_COLUMNS, country_aliases, place_columns
from common.raw import exif_of_raw
from common.records import (
    AVCHD_FORMATS,
    AVCHD_SINCE,
    CLIP_XML_INSIDE_FORMATS,
    CLIP_XML_INSIDE_SINCE,
    HEADER_SINCE,
    RECORD_COLUMNS,
    RECORD_VERSION,
    REFRESHABLE_SINCE,
    SIDECARS_ALONE_SINCE,
    VIDEO_TAGS_SINCE,
    VIDEO_XMP_SINCE,
    XMP_TAKEN_SINCE,
)
from common.takeout import FILLED_COLUMNS, fill_in, read_takeout_json, takeout_json_of
from common.text_search import characters_and_pairs_of_unspaced_runs, in_one_form, word_parts
from common.video import CAMERA_COLUMNS, video_header
from common.xmp import (
    LIST_SEPARATOR,
    distinct,
    embedded_packet,
    info_holding,
    newest_sidecar_mtime,
    read_xmp,
    sidecar_of,
)
from common.xmp_taken import NOTHING_IN_XMP, TakenInXmp, taken_as_xmp_says, taken_in_xmp

log = logging.getLogger(__name__)

# Where ``annotations_of`` gives what a Takeout JSON says: no column, to fill in, never to overwrite.
TAKEOUT = "takeout"
# Where it gives when and where the file's XMP says it was taken (``common.xmp_taken``): weighed
# against the file's EXIF, not taken over it.
XMP_TAKEN = "xmp_taken"
# Where ``annotations_from_header`` gives what the file itself says now of when and where it was
# taken (``taken_now``).
TAKEN_NOW = "taken"
# What a Takeout JSON fills that the file says first (its EXIF, a video's tags): the date and the position.
TAKEN_COLUMNS = tuple(column for column in FILLED_COLUMNS if column in EXIF_FIELDS)

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
TEXT_SOURCE_COLUMNS = (
    "make", "model", "lens", "description", "user_comment", "artist", "software", "date_taken",
    "city", "county", "state", "country", "title", "caption", "keywords", "people", "location", "creator",
    "copyright",
)  # fmt: skip


def build_record(path: str, decoded: DecodedImage) -> dict[str, Any]:
    """Everything we know about one decoded image, as a row of ``record_schema()``."""
    record: dict[str, Any] = dict.fromkeys(RECORD_COLUMNS)
    record.update(file_facts(path))
    exif_columns, raw_tags = read_exif(path, decoded.exif)
    record.update({k: exif_columns.get(k) for k in EXIF_FIELDS})
    text_chunks = png_text_chunks(decoded.info) if decoded.format == "PNG" else {}
    record.update(decoded.video or {"media_type": "image"})
    annotations = annotations_of(path, decoded.info, decoded.older_annotations)
    takeout, xmp_taken = annotations.pop(TAKEOUT), annotations.pop(XMP_TAKEN)
    record = filled_in({**record, **annotations}, takeout, xmp_taken)
    record["creator"] = creator_of(record)
    record["copyright"] = copyright_of(record, raw_tags)
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


def annotations_of(path: str, info: dict[str, Any], older: dict[str, str]) -> dict[str, Any]:
    """What people wrote about the file at ``path``: its XMP columns (``common.xmp``) from its
    sidecar and the packet in ``info`` (its ``Image.info``), the columns IPTC-IIM or Windows'
    tags give (``older``: ``common.decoding.older_annotations``) where XMP has none, the newest
    mtime of its sidecars (a video's clip XML too: ``common.clip_xml``), under ``XMP_TAKEN``
    when and where its XMP says it was taken, and under ``TAKEOUT`` what its Google Takeout JSON
    says (``common.takeout``). The last two are for ``filled_in``, which weighs them against
    what the file says."""
    sidecar, takeout = sidecar_of(path), takeout_json_of(path)
    xmp = read_xmp(embedded_packet(info), sidecar)
    columns = dict(xmp.columns)
    older = dict(older)
    iim_date = older.pop("date_taken", None)  # weighed with the XMP packet's date (common.xmp_taken)
    for column, value in older.items():
        if columns[column] is None:
            columns[column] = value
    return {
        **columns,
        "sidecar_mtime": newest_sidecar_mtime(sidecar, takeout, clip_xml_of(path)),
        XMP_TAKEN: taken_in_xmp(xmp, iim_date),
        TAKEOUT: read_takeout_json(takeout),
    }


def annotations_from_header(path: str) -> dict[str, Any] | None:
    """``annotations_of`` the file at ``path`` from its header and sidecar, its pixels left
    alone, and under ``TAKEN_NOW`` when and where it says it was taken (``taken_now``): for a copy
    of an indexed photo, a photo whose sidecar changed, or a row from before they were recorded
    (well under a millisecond a file). None when the file cannot be opened now: its row keeps
    what it holds."""
    extension = os.path.splitext(path)[1].lower()
    if extension in VIDEO_EXTENSIONS:
        try:
            tags, xmp = video_header(path)
        except Exception as error:  # PyAV's errors for a file it cannot open
            log.debug("cannot read the header of %s: %s", path, error)
            return None
        camera = {column: tags.pop(column) for column in CAMERA_COLUMNS}  # a clip XML's, an MDPM's
        return {**annotations_of(path, info_holding(xmp), {}), **camera, TAKEN_NOW: {**taken_now(path, None), **tags}}
    header = header_of(path)  # None: it was decoded once, so unreadable now (a drive, a rewrite)
    exif = header.exif if header else None
    if extension in RAW_EXTENSIONS:
        # Its tags as indexing read them: the preview's EXIF, not the TIFF header Pillow reads (a
        # CR3's or a RAF's, Pillow reads none): the same tags tell the camera's date from a
        # sidecar's (``refreshed_record``), so a sidecar deleted gives the camera's date back.
        try:
            exif = exif_of_raw(path)
        except Exception as error:  # LibRaw's errors: it was read once, so unreadable now
            log.debug("cannot read %s: %s", path, error)
            return None
        header = header or Header({}, {}, None)  # a raw not built on TIFF: its sidecar alone
    if header is None:
        return None
    return {**annotations_of(path, header.info, header.older_annotations), TAKEN_NOW: taken_now(path, exif)}


def taken_as_indexing_says(path: str) -> dict[str, Any] | None:
    """When and where the file at ``path`` was taken (``TAKEN_COLUMNS``) as indexing it records
    them: its EXIF or a video's tags, its XMP, its Takeout JSON and its name in ``filled_in``'s
    order, from its header and sidecars alone (``--near IMG_0042.CR2`` is where its sidecar
    says). None when it cannot be read as a photo or a video."""
    read = annotations_from_header(path)
    if read is None:
        return None
    said = {**read[TAKEN_NOW], "filename": os.path.basename(path)}
    filled = filled_in(said, read[TAKEOUT], read[XMP_TAKEN])
    return {column: filled.get(column) for column in TAKEN_COLUMNS}


def taken_now(path: str, ifds: ExifIfds | None) -> dict[str, Any]:
    """What the EXIF of the file at ``path`` says now of ``TAKEN_COLUMNS`` (``ifds``: Pillow's,
    as ``header_of`` reads them), and its tags as a row keeps them (``exif_json``): a row's date
    and position may be its Takeout JSON's, and only the file tells which (``refreshed_record``)."""
    columns, tags = read_exif(path, ifds)
    return {**{column: columns.get(column) for column in TAKEN_COLUMNS}, "exif_json": exif_json(tags)}


def filled_in(record: dict[str, Any], takeout: dict[str, Any], xmp: TakenInXmp) -> dict[str, Any]:
    """``record`` (what the file's EXIF or a video's tags say, and its XMP columns) with its
    date and position as its XMP has them (``taken_as_xmp_says``: a sidecar's edit first, the
    file's own packet where EXIF says nothing), then what its Takeout JSON says where they all
    say nothing (``fill_in``), then, where nothing dates it, the date in its file's name
    (``date_in_name``: a guess, so last); and no description or caption a camera writes on
    every photo (``without_camera_defaults``). The one order, for a file read and a row brought
    up to date alike."""
    filled = fill_in(taken_as_xmp_says(record, xmp), takeout)
    filled["date_taken"] = filled.get("date_taken") or date_in_name(filled.get("filename") or "")
    return without_camera_defaults(filled)


def creator_of(record: dict[str, Any]) -> str | None:
    """Who made the photo: what XMP or IPTC-IIM credit (``annotations_of``), else EXIF's Artist.

    The Metadata Working Group reads the three as one field, and photo software keeps them in
    step where it writes more than one; a photo credited in one alone (a raw file's sidecar,
    a newspaper's IIM, a camera set to sign its photos) is found by the creator all the same."""
    return record.get("creator") or record.get("artist")


def copyright_of(record: dict[str, Any], exif_tags: dict[str, str]) -> str | None:
    """Whose rights the photo is: what XMP or IPTC-IIM say (``annotations_of``), else EXIF's
    Copyright (``exif_tags``: every tag as text, as ``exif_json`` keeps them), in the Metadata
    Working Group's order. EXIF's may hold the photographer's and the editor's notices apart
    (a NUL between them): both are kept. Cameras that pad it with spaces say nothing, nor those
    that write a notice naming no one on every photo (``names_no_one``: 'COPYRIGHT, 2005'),
    wherever software copied it."""
    make, model = record.get("make"), record.get("model")
    if record.get("copyright") and not names_no_one(record["copyright"], make, model):
        return record["copyright"]
    notices = [part.strip() for part in (exif_tags.get("Image Copyright") or "").split("\x00")]
    named = [notice for notice in notices if notice and not names_no_one(notice, make, model)]
    return LIST_SEPARATOR.join(distinct(named)) or None


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
    (``annotations_from_header``, read from its file now) tell, with no file decoded. A row described
    since ``REFRESHABLE_SINCE`` gets everything (the place of its GPS position) and this
    version's number, or, when it lacks what headers or sidecars hold and nothing was read
    (``lacks_header_columns``), the last version that lacked as much; an older one only this
    version's search text (the rest needs its file decoded, which the next --index does); a row
    of this version, the search text."""
    columns_read = dict(read or {})
    takeout, xmp_taken = columns_read.pop(TAKEOUT, {}), columns_read.pop(XMP_TAKEN, NOTHING_IN_XMP)
    taken = columns_read.pop(TAKEN_NOW, None)
    if taken is not None and taken["exif_json"] == record.get("exif_json"):
        # The tags the row was read from: where the row's date and position are not theirs, its
        # XMP or a Takeout JSON gave them, and they are what those say now (an edit in Lightroom
        # or Google Photos since, or a sidecar gone). Other tags (a raw's, read now from its
        # header, not its preview): the row keeps its own, and a sidecar's edit comes over them.
        columns_read |= {column: taken[column] for column in TAKEN_COLUMNS}
    before = (record.get("gps_latitude"), record.get("gps_longitude"))
    updated = filled_in(dict.fromkeys(PLACE_COLUMNS) | record | columns_read, takeout, xmp_taken)
    if (updated.get("gps_latitude"), updated.get("gps_longitude")) != before:  # XMP's or a JSON's, or one gone
        updated.update(place_columns(updated))
    updated["creator"] = creator_of(updated)
    updated["lens"] = lens_in_words(updated.get("lens"))  # LensSpecification's printing before 18
    notice = updated.get("copyright")
    if not notice or names_no_one(notice, updated.get("make"), updated.get("model")):
        # the stored tags are parsed only when XMP and IIM say nothing (or name no one)
        updated["copyright"] = copyright_of(updated, _stored_exif_tags(record))
    version = record.get("record_version")
    if version is not None and REFRESHABLE_SINCE <= version < RECORD_VERSION:
        complete = not lacks_header_columns(record) or read is not None
        if complete:
            still = RECORD_VERSION
        else:  # what its header holds, only what its sidecar does, a video's tags, XMP's dates, an MDPM, …
            sinces = (
                SIDECARS_ALONE_SINCE,
                HEADER_SINCE,
                VIDEO_TAGS_SINCE,
                XMP_TAKEN_SINCE,
                VIDEO_XMP_SINCE,
                AVCHD_SINCE,
                CLIP_XML_INSIDE_SINCE,
            )
            still = next((since - 1 for since in sinces if version < since), version)
        updated.update(place_columns(updated), record_version=still)
        if complete and updated.get("favorite") is None:  # no JSON to star it (``lacks_header_columns``)
            updated["favorite"] = False
    updated["search_text"] = current_search_text(updated)
    return updated


def lacks_header_columns(record: dict[str, Any]) -> bool:
    """Whether a row lacks what its file's header or sidecars hold (XMP, IPTC-IIM, a Takeout
    JSON's star, a video's date and position, XMP's date and position): to be read from them
    again. A row since ``SIDECARS_ALONE_SINCE`` without a sidecar lacks nothing a read would
    give, but a video's before ``VIDEO_XMP_SINCE`` its tags or its own XMP, an AVCHD clip's
    before ``AVCHD_SINCE`` its MDPM, an MP4's before ``CLIP_XML_INSIDE_SINCE`` the XML a Sony
    keeps inside it, and before ``XMP_TAKEN_SINCE`` a photo's whose EXIF holds no date (its XMP
    packet's may: a PNG exported, a scan)."""
    version = record.get("record_version")
    if version is None:
        return False
    if record.get("media_type") == "video" and version < VIDEO_XMP_SINCE:  # its tags, its own XMP
        return True
    if record.get("format") in AVCHD_FORMATS and version < AVCHD_SINCE:  # its MDPM
        return True
    if record.get("format") in CLIP_XML_INSIDE_FORMATS and version < CLIP_XML_INSIDE_SINCE:  # a Sony's XML
        return True
    if version < XMP_TAKEN_SINCE and (record.get("sidecar_mtime") is not None or _undated_by_exif(record)):
        return True
    if version >= HEADER_SINCE:
        return False
    return version < SIDECARS_ALONE_SINCE or record.get("sidecar_mtime") is not None


def _undated_by_exif(record: dict[str, Any]) -> bool:
    """Whether a photo's stored EXIF tags hold no date (``exif_json``: every tag by name,
    'EXIF DateTimeOriginal', 'Image DateTime'), so an XMP packet's would date it. A video's
    header is read again for its own reasons (``VIDEO_XMP_SINCE``)."""
    return record.get("media_type") != "video" and "DateTime" not in (record.get("exif_json") or "")


def search_text(record: dict[str, Any], text_chunks: dict[str, str]) -> str:
    """The text a metadata search matches: path, name and every human-readable field."""
    parts = [record["path"], record["filename"]]
    # Each value once: the creator is often the artist's name again, a caption the title, and a
    # word said twice would weigh twice in BM25.
    parts += dict.fromkeys(str(record[c]) for c in TEXT_SOURCE_COLUMNS if record.get(c))
    aliases = country_aliases(record.get("country_code"))  # "usa" finds the United States
    if aliases:
        parts.append(aliases)
    parts += [f"{key} {value}" for key, value in text_chunks.items()]
    parts.append(" ".join(word_parts(in_one_form(record["path"]))))  # "vacation2019.jpg" found by "vacation"
    # In one form, as every query is: a Mac writes 'é' in names as 'e' and an accent, which
    # LanceDB took for two words ('Résumé': 're', 'sume'; ``in_one_form``).
    text = in_one_form("\n".join(parts))
    parts = [text, *characters_and_pairs_of_unspaced_runs(text)]  # "北京天安门.jpg" found by "天安门"
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


def _stored_exif_tags(record: dict[str, Any]) -> dict[str, str]:
    """The EXIF tags a stored record keeps as text (``exif_json``); none if it is unreadable."""
    try:
        tags = json.loads(record.get("exif_json") or "{}")
    except ValueError:
        return {}
    return tags if isinstance(tags, dict) else {}


def _json_or_none(value: dict[str, str]) -> str | None:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else None
