"""The image record both backends store: its columns and their types.

One definition keeps the two stores honest: a ``--where`` filter means the same thing on
LanceDB and FAISS because both hold exactly these columns with exactly these types. How a file
becomes a record is ``common.describe``'s: the stores import this module, and a text search
need not load the decoders and EXIF readers with it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

# Every column and its Arrow type, as pyarrow names it (``pyarrow.type_for_alias``): plain strings,
# so decoding workers build records without importing pyarrow (~33 MB and ~30 ms a worker);
# ``record_schema()`` is the Arrow form the stores use.
RECORD_TYPES: dict[str, str] = {
    "path": "string",
    "folder": "string",
    "filename": "string",
    "extension": "string",
    "size_bytes": "int64",
    "mtime": "float64",
    "modified": "string",
    "created": "float64",  # birth time where the filesystem keeps one, else ctime
    "content_hash": "string",  # sha256 of the file's bytes (exact duplicates)
    "media_type": "string",  # "image" or "video"
    "duration": "float64",  # videos: seconds
    "fps": "float64",
    "codec": "string",
    "width": "int32",
    "height": "int32",
    "format": "string",
    "mode": "string",
    "make": "string",
    "model": "string",
    "lens": "string",
    "date_taken": "string",
    "iso": "int32",
    "exposure_time": "float64",
    "f_number": "float64",
    "focal_length": "float64",
    "orientation": "int32",
    "gps_latitude": "float64",
    "gps_longitude": "float64",
    "gps_altitude": "float64",
    # Where the GPS position is, in words (common.places): GeoNames' names, in English where it has one.
    "city": "string",
    "county": "string",
    "state": "string",  # region: a US state, a French région, an English country, ...
    "country": "string",
    "country_code": "string",  # ISO 3166-1 alpha-2
    "description": "string",
    "user_comment": "string",
    "artist": "string",
    "software": "string",
    # What people wrote in their photo software (common.xmp): XMP in the file or a sidecar beside it.
    "title": "string",
    "caption": "string",
    "keywords": "string",  # "beach; Sunset; Viareggio"
    "people": "string",  # the names of the people tagged in it: "Alice Smith; Bob"
    "location": "string",  # where it was taken, as written: "Porto Antico, Genova, Liguria, Italia"
    # Who made it: XMP's dc:creator, else IIM's By-line, else EXIF's Artist: "Jane Doe; John Roe"
    "creator": "string",
    # Whose rights it is: XMP's dc:rights, else IIM's Copyright Notice, else EXIF's Copyright:
    # "© 2019 Jane Doe"; NULL where none is written (what a photographer checks before sharing)
    "copyright": "string",
    "rating": "int32",  # 0-5 stars, -1 rejected
    "favorite": "bool",  # starred in Google Photos (its Takeout JSON: common.takeout); false otherwise
    "sidecar_mtime": "float64",  # its XMP sidecar's or Takeout JSON's mtime, the newest: an edit there is a change to index
    "png_text": "string",
    "exif_json": "string",
    "search_text": "string",
    "indexed_at": "float64",
    "record_version": "int32",  # the RECORD_VERSION that described the file (NULL: an older imagedb)
}
RECORD_COLUMNS = tuple(RECORD_TYPES)
# Raised whenever describing a file gains or changes what a record holds (a column, a field read
# better). Rows an older version described are brought up to date by the next --index of their
# folders, their vectors kept (common.pipeline): upgrading imagedb never costs a re-embedding.
# 1: the first kept. 2: places (city, county, state, country, country_code) from the GPS position,
# and the month and year taken ("July 2021") in the search text. 3: countries by the names in use
# now ("Russia", not "Russian Federation"), and other names of theirs in the search text ("USA").
# 4: XMP's title, caption, keywords, people and rating, from the file or its sidecar.
# 5: IPTC-IIM's title, caption and keywords where XMP has none (common.iptc); the location as
# written in XMP or IIM (no GPS needed). 6: the creator (XMP, IIM, EXIF's Artist); the location
# from the IPTC Extension's structures where the legacy fields have none. 7: the copyright
# notice (XMP, IIM, EXIF). 8: the title, comments, tags and authors Windows keeps in its own
# EXIF tags, where XMP and IIM have none (common.windows_tags). 9: the characters and pairs of
# characters of Chinese, Japanese and Korean runs in the search text (common.text_search). 10:
# those of Thai, Lao, Khmer and Burmese runs too; the search text composed (NFC: a Mac's names).
# 11: whether Google Photos starred it (a Takeout JSON's ``favorited``). 12: a video's date and
# position from its container's tags (common.video). 13: the date in a phone's or an app's file
# name where nothing else dates the file (common.name_dates). 14: the date and position in XMP,
# a sidecar's before EXIF, the file's own packet (or IPTC-IIM's date) after it (common.xmp_taken);
# and a row of a photo in Google Photos' trash goes (common.pipeline.set_aside_trashed). 15: a
# video's own XMP packet (an MP4's or a QuickTime movie's: keywords, title, stars; common.video).
# 16: an AVCHD clip's date, position and camera from its H.264 stream's MDPM (common.avchd).
# 17: a Sony MP4's local time, camera and lens from the XML inside it (common.clip_xml).
# 18: a lens named by EXIF's LensSpecification alone in words, '18-70mm f/3.5-4.5', not as the
# tag prints, '[18, 70, 7/2, 9/2]' (common.metadata.lens_from_specification), and no description
# or caption a camera writes on every photo, 'OLYMPUS DIGITAL CAMERA' (common.camera_defaults);
# rows mended from what they hold. 19: no copyright notice that names no one, as cameras write
# on every photo: 'KODAK DC240 ZOOM DIGITAL CAMERA', 'COPYRIGHT, 2005' (common.camera_defaults);
# rows mended from what they hold.
RECORD_VERSION = 19
# Rows described since this version hold every field the current description works out from a
# file's pixels: what later versions add is derived from those fields (places from the GPS
# position) or read from the file's header and its sidecar (from HEADER_SINCE), so such rows
# are brought up to date without decoding a file (common.refresh). Older rows' files are read
# again. Lower it never; raise it to RECORD_VERSION when a version needs the pixels again.
REFRESHABLE_SINCE = 1
# Rows described before this version lack something read from the file's header and its XMP
# sidecar, not its pixels (XMP since 4, IPTC-IIM since 5, the creator and more of the location
# since 6, the copyright notice since 7, Windows' tags since 8, a Takeout JSON's star since 11):
# bringing them up to date reads those again. Without that read (--repair) a row is brought up to
# HEADER_SINCE - 1 only (SIDECARS_ALONE_SINCE - 1 if it was older). Raise it to RECORD_VERSION
# when a version reads more from every file's header or sidecar; what only some rows lack (a
# video's tags) gets a version of its own (VIDEO_TAGS_SINCE), read for those rows alone
# (``common.describe.lacks_header_columns``).
HEADER_SINCE = 11
# Rows described since this version lack only what a sidecar holds (a Takeout JSON's star, since
# 11): one without a sidecar (``sidecar_mtime`` NULL, and a sidecar added since is a change the
# walk sees) is brought up to date with no file read, where 100k rows on a network share would
# each wait for one. Raise it to HEADER_SINCE when a version reads more from the file itself.
SIDECARS_ALONE_SINCE = 8
# Rows of videos described before this version lack their container's date and position: their
# header is read again (under a millisecond a video), and only theirs.
VIDEO_TAGS_SINCE = 12
# Rows described before this version lack the date and position their XMP holds: a photo's with
# a sidecar, or whose EXIF holds no date, has its header and sidecar read again, and only those.
XMP_TAKEN_SINCE = 14
# Rows of videos described before this version lack what the XMP packet inside the file says:
# their header is read again, and only theirs (under a millisecond a video, as for their tags).
VIDEO_XMP_SINCE = 15
# Rows of AVCHD clips (``AVCHD_FORMATS``) described before this version lack the date, position
# and camera their H.264 stream holds: their headers and first units are read again (nothing
# decoded), and only theirs.
AVCHD_SINCE = 16
AVCHD_FORMATS = frozenset({"MTS", "M2TS"})  # the record's ``format`` of a camcorder's clips
# Rows of MP4s described before this version lack what the XML a Sony camera keeps inside its MP4
# says (its local time, camera and lens): their header is read again (a few box headers more),
# and only theirs.
CLIP_XML_INSIDE_SINCE = 17
CLIP_XML_INSIDE_FORMATS = frozenset({"MP4"})
# The version that added each column added after the first: an index an older imagedb made lacks
# these, and lacking them says nothing about how its rows were described (see
# ``common.store.version_of_unversioned_rows``).
COLUMNS_ADDED_IN = {
    "city": 2, "county": 2, "state": 2, "country": 2, "country_code": 2,
    "title": 4, "caption": 4, "keywords": 4, "people": 4, "rating": 4, "sidecar_mtime": 4, "location": 5,
    "creator": 6, "copyright": 7, "favorite": 11,
}  # fmt: skip
# Columns worth a scalar index: the ones people filter on. The GPS ones are --near's box (at
# 100k rows on LanceDB, B-trees on them took a --near search from 15.5 to 11.6 ms p50, a
# --near listing from 12.7 to 6.9).
FILTER_COLUMNS = (
    "folder", "extension", "width", "height", "make", "model", "date_taken", "size_bytes", "country", "city",
    "rating", "gps_latitude", "gps_longitude",
)  # fmt: skip
# Filter columns a library holds few distinct values of (cameras, folders, countries, stars):
# LanceDB indexes them as bitmaps rather than B-trees, and ``common.filters`` hands the text ones
# to DuckDB dictionary-encoded, so a condition compares each distinct value once.
FEW_VALUE_COLUMNS = ("extension", "make", "model", "folder", "country", "rating")


@cache
def record_schema() -> pa.Schema:
    """The record's columns as an Arrow schema (only ``path`` may not be null)."""
    import pyarrow as pa

    return pa.schema(
        [pa.field(name, pa.type_for_alias(alias), nullable=name != "path") for name, alias in RECORD_TYPES.items()]
    )


def records_to_arrow(records: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pylist(records, schema=record_schema())


def vectors_to_arrow(vectors: Any, dim: int) -> pa.FixedSizeListArray:
    """Rows of ``dim`` numbers (an array, or a list of rows) as an Arrow column of float32
    fixed-size lists: how both stores and the Parquet export hold vectors."""
    import numpy as np
    import pyarrow as pa

    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel())
    return pa.FixedSizeListArray.from_arrays(flat, dim)


def columns_like(name: str) -> list[str]:
    """The columns (three at most) a half-remembered or mistyped name may mean: one holding it or
    a word of it ('taken' or 'taken_at': date_taken; 'iso_speed': iso), else one spelt nearly
    alike ('heigth': height, 'wdith': width; ``common.spelt_nearly``)."""
    from common.spelt_nearly import spelt_nearly  # only when a name is wrong

    name = name.lower()
    words = [word for word in re.split(r"[\W_]+", name) if len(word) >= 3]
    holding = [column for column in RECORD_COLUMNS if name in column or set(words) & set(column.split("_"))]
    return holding[:3] or spelt_nearly(name, RECORD_COLUMNS, most=1, likeness=0.8)


# Names people give what a record keeps under another ('camera', 'tags', 'year'), and the
# columns that keep it: no spelling of theirs is near these.
COLUMNS_CALLED_OTHERWISE: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("year", "month", "day", "when"), ("date_taken",)),
    **dict.fromkeys(("camera", "brand", "manufacturer"), ("make", "model")),
    **dict.fromkeys(("tag", "tags", "label", "labels", "subject"), ("keywords",)),
    **dict.fromkeys(("person", "persons", "face", "faces", "who"), ("people",)),
    **dict.fromkeys(("place", "where"), ("city", "country", "location")),
    **dict.fromkeys(("album", "dir", "directory"), ("folder",)),
    **dict.fromkeys(("author", "photographer", "owner"), ("creator", "artist")),
    **dict.fromkeys(("aperture", "fnumber"), ("f_number",)),
    **dict.fromkeys(("shutter", "shutter_speed", "speed"), ("exposure_time",)),
    "stars": ("rating",),
    **dict.fromkeys(("resolution", "megapixels", "pixels"), ("width", "height")),
    **dict.fromkeys(("lng", "long"), ("gps_longitude",)),
    **dict.fromkeys(("video", "kind"), ("media_type",)),
    "ext": ("extension",),
}  # fmt: skip


def columns_hint(name: str) -> str:
    """What an error about ``name``, no column's name, adds: the columns it may mean
    (``COLUMNS_CALLED_OTHERWISE``, else ``columns_like``), then every column."""
    meant = list(COLUMNS_CALLED_OTHERWISE.get(name.lower(), ())) or columns_like(name)
    guess = f"did you mean {' or '.join(meant)}? " if meant else ""
    return f"{guess}columns: {', '.join(RECORD_COLUMNS)}"
