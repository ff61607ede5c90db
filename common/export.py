"""``--export out.jsonl|out.pkl``: every indexed image as ``{"vector": [...], "metadata": {...}}``.

JSON Lines for any tool, or a pickle stream of dicts (one ``pickle.dump`` per record, read back
with repeated ``pickle.load``) for Python. Times are POSIX seconds; ``exif`` holds every tag
exifread reported, as text. The file is written beside its destination and renamed into place,
so a failed export never leaves half a file under the name asked for.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from typing import Any

from common.atomic import write_atomically
from common.store import ImageStore

EXPORT_FORMATS = {".jsonl": "jsonl", ".pkl": "pickle", ".pickle": "pickle"}


def export_format(path: str) -> str | None:
    """The format an export path asks for, by extension (None when unsupported)."""
    return EXPORT_FORMATS.get(os.path.splitext(path)[1].lower())


def exported_records(store: ImageStore) -> Iterator[dict[str, Any]]:
    """One export record per indexed image, in path order."""
    paths, vectors = store.get_all_vectors()
    vector_by_path = dict(zip(paths, vectors, strict=True))
    for record in store.get_records():
        yield {
            "vector": [float(v) for v in vector_by_path[record["path"]]],
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


def export_store(store: ImageStore, path: str) -> int:
    """Write every record to ``path`` in the format its extension names; returns how many."""
    kind = export_format(path)
    if kind is None:
        raise ValueError(f"unsupported export format: {path} (use .jsonl or .pkl)")
    count = 0

    def write(temp: str) -> None:
        nonlocal count
        with open(temp, "w" if kind == "jsonl" else "wb", **({"encoding": "utf-8"} if kind == "jsonl" else {})) as out:
            for record in exported_records(store):
                if kind == "jsonl":
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                else:
                    pickle.dump(record, out, protocol=pickle.HIGHEST_PROTOCOL)
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
