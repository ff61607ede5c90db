"""``--export out.jsonl|out.pkl``: every indexed image (or those ``--where``, ``--near`` and
``--under`` keep) as ``{"vector": [...], "metadata": {...}}``.

JSON Lines for any tool, or a pickle stream of dicts (one ``pickle.dump`` per record, read back
with repeated ``pickle.load``) for Python. Times are POSIX seconds; ``exif`` holds every tag
exifread reported, as text. The file is written beside its destination and renamed into place,
so a failed export never leaves half a file under the name asked for.

Rows are read a chunk of paths at a time, so an export's memory does not grow with the library
(100k rows: 1.2-2.0 GB when every record and vector was read first). JSON is written by orjson:
the standard library's encoder spent ~20 of an export's 28 s at 100k rows turning vector
components into text; orjson writes each float32 component at its shortest exact form
(``-0.069405042``, not the float64 widening ``-0.06940504163503647``), which reads back as the
very float32 stored, in a file ~45 % smaller.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np

from common.atomic import write_atomically
from common.store import ImageStore

EXPORT_FORMATS = {".jsonl": "jsonl", ".pkl": "pickle", ".pickle": "pickle"}
# Paths read per chunk: large enough that a chunk's two lookups cost little per row, small
# enough that a chunk's records and vectors (~2,000 × 2 KB of floats) are a few MB.
EXPORT_CHUNK = 2_000


def export_format(path: str) -> str | None:
    """The format an export path asks for, by extension (None when unsupported)."""
    return EXPORT_FORMATS.get(os.path.splitext(path)[1].lower())


def exported_records(
    store: ImageStore, chunk: int = EXPORT_CHUNK, where: str | None = None
) -> Iterator[dict[str, Any]]:
    """One export record per indexed image (each matching ``where``, if given: ``--where``,
    ``--near``, ``--under``), in path order, its vector a float32 array."""
    paths = sorted(set(store.get_columns(["path"], where).column("path").to_pylist()))
    for start in range(0, len(paths), chunk):
        some = paths[start : start + chunk]
        records, vectors = store.get_records_by_path(some), store.get_vectors(some)
        for path in some:
            record, vector = records.get(path), vectors.get(path)
            if record is None or vector is None:  # deleted by another process meanwhile
                continue
            yield {
                "vector": np.ascontiguousarray(vector, dtype=np.float32),
                "metadata": {
                    "path": record["path"],
                    "filename": record["filename"],
                    "size_bytes": record["size_bytes"],
                    "creation_time": record["created"],
                    "modification_time": record["mtime"],
                    "width": record["width"],
                    "height": record["height"],
                    "exif": json.loads(record["exif_json"]) if record["exif_json"] else {},
                },
            }


def _write_json_line(record: dict[str, Any], out: BinaryIO) -> None:
    import orjson

    out.write(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE))


def _write_pickle(record: dict[str, Any], out: BinaryIO) -> None:
    # Plain Python floats, so reading the export back needs no NumPy.
    pickle.dump(record | {"vector": record["vector"].tolist()}, out, protocol=pickle.HIGHEST_PROTOCOL)


def export_store(store: ImageStore, path: str, where: str | None = None) -> int:
    """Write every record (matching ``where``, if given) to ``path`` in the format its extension
    names; returns how many."""
    kind = export_format(path)
    if kind is None:
        raise ValueError(f"unsupported export format: {path} (use .jsonl or .pkl)")
    write_record = _write_json_line if kind == "jsonl" else _write_pickle
    count = 0

    def write(temp: str) -> None:
        nonlocal count
        with open(temp, "wb") as out:
            for record in exported_records(store, where=where):
                write_record(record, out)
                count += 1

    write_atomically(path, write)
    return count


def read_export(path: str) -> list[dict[str, Any]]:
    """Load an export back (JSON Lines or pickle stream)."""
    if export_format(path) == "jsonl":
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    records = []
    with open(path, "rb") as handle:
        while True:
            try:
                records.append(pickle.load(handle))
            except EOFError:
                return records
