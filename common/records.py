"""The image record both backends store: its columns, their types, and how one is built.

One definition keeps the two stores honest: a ``--where`` filter means the same thing on
LanceDB and FAISS because both hold exactly these columns with exactly these types.
"""

from __future__ import annotations

import json
import time
from functools import cache
from typing import TYPE_CHECKING, Any

from common.decoding import DecodedImage
from common.metadata import EXIF_FIELDS, content_hash, exif_json, file_facts, png_text_chunks, read_exif
from common.text_search import word_parts

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
    "description": "string",
    "user_comment": "string",
    "artist": "string",
    "software": "string",
    "png_text": "string",
    "exif_json": "string",
    "search_text": "string",
    "indexed_at": "float64",
}
RECORD_COLUMNS = tuple(RECORD_TYPES)
# Columns worth a scalar index: the ones people filter on.
FILTER_COLUMNS = ("folder", "extension", "width", "height", "make", "model", "date_taken", "size_bytes")
TEXT_SOURCE_COLUMNS = ("make", "model", "lens", "description", "user_comment", "artist", "software", "date_taken")


def build_record(path: str, decoded: DecodedImage) -> dict[str, Any]:
    """Everything we know about one decoded image, as a row of ``record_schema()``."""
    record: dict[str, Any] = dict.fromkeys(RECORD_COLUMNS)
    record.update(file_facts(path))
    exif_columns, raw_tags = read_exif(path, decoded.exif)
    record.update({k: exif_columns.get(k) for k in EXIF_FIELDS})
    text_chunks = png_text_chunks(decoded.info) if decoded.format == "PNG" else {}
    record.update(decoded.video or {"media_type": "image"})
    record.update(
        content_hash=content_hash(path),
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
        mode=decoded.mode,
        png_text=_json_or_none(text_chunks),
        exif_json=exif_json(raw_tags),
        indexed_at=time.time(),
    )
    record["search_text"] = search_text(record, text_chunks)
    return record


def search_text(record: dict[str, Any], text_chunks: dict[str, str]) -> str:
    """The text a metadata search matches: path, name and every human-readable field."""
    parts = [record["path"], record["filename"]]
    parts += [str(record[c]) for c in TEXT_SOURCE_COLUMNS if record.get(c)]
    parts += [f"{key} {value}" for key, value in text_chunks.items()]
    parts.append(" ".join(word_parts(record["path"])))  # "vacation2019.jpg" found by "vacation"
    return "\n".join(parts)


def _json_or_none(value: dict[str, str]) -> str | None:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else None


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
