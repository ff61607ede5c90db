"""The image record both backends store: its columns, their types, and how one is built.

One definition keeps the two stores honest: a ``--where`` filter means the same thing on
LanceDB and FAISS because both hold exactly these columns with exactly these types.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pyarrow as pa

from common.decoding import DecodedImage
from common.metadata import EXIF_FIELDS, content_hash, exif_json, file_facts, png_text_chunks, read_exif
from common.text_search import word_parts

RECORD_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("folder", pa.string()),
        pa.field("filename", pa.string()),
        pa.field("extension", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("mtime", pa.float64()),
        pa.field("modified", pa.string()),
        pa.field("created", pa.float64()),  # birth time where the filesystem keeps one, else ctime
        pa.field("content_hash", pa.string()),  # sha256 of the file's bytes (exact duplicates)
        pa.field("media_type", pa.string()),  # "image" or "video"
        pa.field("duration", pa.float64()),  # videos: seconds
        pa.field("fps", pa.float64()),
        pa.field("codec", pa.string()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("format", pa.string()),
        pa.field("mode", pa.string()),
        pa.field("make", pa.string()),
        pa.field("model", pa.string()),
        pa.field("lens", pa.string()),
        pa.field("date_taken", pa.string()),
        pa.field("iso", pa.int32()),
        pa.field("exposure_time", pa.float64()),
        pa.field("f_number", pa.float64()),
        pa.field("focal_length", pa.float64()),
        pa.field("orientation", pa.int32()),
        pa.field("gps_latitude", pa.float64()),
        pa.field("gps_longitude", pa.float64()),
        pa.field("gps_altitude", pa.float64()),
        pa.field("description", pa.string()),
        pa.field("user_comment", pa.string()),
        pa.field("artist", pa.string()),
        pa.field("software", pa.string()),
        pa.field("png_text", pa.string()),
        pa.field("exif_json", pa.string()),
        pa.field("search_text", pa.string()),
        pa.field("indexed_at", pa.float64()),
    ]
)
RECORD_COLUMNS = tuple(RECORD_SCHEMA.names)
# Columns worth a scalar index: the ones people filter on.
FILTER_COLUMNS = ("folder", "extension", "width", "height", "make", "model", "date_taken", "size_bytes")
TEXT_SOURCE_COLUMNS = ("make", "model", "lens", "description", "user_comment", "artist", "software", "date_taken")


def build_record(path: str, decoded: DecodedImage) -> dict[str, Any]:
    """Everything we know about one decoded image, as a row of ``RECORD_SCHEMA``."""
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


def records_to_arrow(records: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(records, schema=RECORD_SCHEMA)
