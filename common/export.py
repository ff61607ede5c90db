"""``--export out.jsonl|out.pkl|out.parquet``: every indexed image (or those ``--where``,
``--near`` and ``--under`` keep).

JSON Lines for any tool, or a pickle stream of dicts (one ``pickle.dump`` per record, read back
with repeated ``pickle.load``) for Python, each ``{"vector": [...], "metadata": {...}}``: times are
POSIX seconds; ``exif`` holds every tag exifread reported, as text. Parquet, for pandas, DuckDB,
Polars or Spark (clip-retrieval's users keep their embeddings so): a row an image, every record
column typed as the index holds it (``date_taken``, ``make``, ``gps_latitude``, ``keywords``, …;
``exif_json`` the tags as JSON) and ``vector`` a fixed-size list of float32, with the model that
made the vectors in the file's metadata (``imagedb``: the index's model and vector size). The
file is written beside its destination and renamed into place, so a failed export never leaves
half a file under the name asked for.

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
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from common.atomic import write_atomically
from common.records import record_schema, records_to_arrow, vectors_to_arrow
from common.store import ImageStore

if TYPE_CHECKING:
    import pyarrow as pa

EXPORT_FORMATS = {".jsonl": "jsonl", ".pkl": "pickle", ".pickle": "pickle", ".parquet": "parquet"}
# Paths read per chunk: large enough that a chunk's two lookups cost little per row, small
# enough that a chunk's records and vectors (~2,000 × 2 KB of floats) are a few MB.
EXPORT_CHUNK = 2_000
# Parquet: rows a row group (a reader's unit of work and of memory; ~130 MB of 512-d vectors).
PARQUET_ROW_GROUP = 65_536
# Record columns that are the index's own workings, not facts about the file.
PARQUET_LEFT_OUT = {"search_text", "record_version"}


def export_format(path: str) -> str | None:
    """The format an export path asks for, by extension (None when unsupported)."""
    return EXPORT_FORMATS.get(os.path.splitext(path)[1].lower())


def rows_in_chunks(
    store: ImageStore, chunk: int | None = None, where: str | None = None
) -> Iterator[list[tuple[dict[str, Any], np.ndarray]]]:
    """Every indexed image's record and vector (each matching ``where``, if given: ``--where``,
    ``--near``, ``--under``), in path order, ``chunk`` paths (``EXPORT_CHUNK``) at a time."""
    chunk = chunk or EXPORT_CHUNK
    paths = sorted(set(store.get_columns(["path"], where).column("path").to_pylist()))
    for start in range(0, len(paths), chunk):
        some = paths[start : start + chunk]
        records, vectors = store.get_records_by_path(some), store.get_vectors(some)
        # A path without either was deleted by another process meanwhile.
        yield [(records[p], vectors[p]) for p in some if p in records and p in vectors]


def exported_records(store: ImageStore, chunk: int | None = None, where: str | None = None) -> Iterator[dict[str, Any]]:
    """One export record per indexed image (each matching ``where``, if given), in path order,
    its vector a float32 array."""
    for rows in rows_in_chunks(store, chunk, where):
        for record, vector in rows:
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


def parquet_schema(dim: int) -> pa.Schema:
    """The Parquet export's columns: the record's, less the index's own (its words for BM25, the
    version of imagedb that described the file), and the vector."""
    import pyarrow as pa

    columns = [field for field in record_schema() if field.name not in PARQUET_LEFT_OUT]
    return pa.schema([*columns, pa.field("vector", pa.list_(pa.float32(), dim))])


def _write_parquet(store: ImageStore, temp: str, where: str | None) -> int:
    """The rows as Parquet, in row groups of ``PARQUET_ROW_GROUP`` rows (the last one fewer):
    chunks read are held until a group's worth is, so memory stays at about a group's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema(store.info.dim).with_metadata({"imagedb": store.info.to_json()})
    count, held = 0, schema.empty_table()
    with pq.ParquetWriter(temp, schema, compression="zstd") as writer:
        for rows in rows_in_chunks(store, where=where):
            if not rows:
                continue
            table = records_to_arrow([record for record, _ in rows]).drop_columns(sorted(PARQUET_LEFT_OUT))
            vectors = vectors_to_arrow([vector for _, vector in rows], store.info.dim)
            held = pa.concat_tables([held, table.append_column(schema.field("vector"), vectors).cast(schema)])
            count += len(rows)
            while held.num_rows >= PARQUET_ROW_GROUP:
                writer.write_table(held.slice(0, PARQUET_ROW_GROUP))
                held = held.slice(PARQUET_ROW_GROUP)
        if held.num_rows:
            writer.write_table(held)
    return count


def export_store(store: ImageStore, path: str, where: str | None = None) -> int:
    """Write every record (matching ``where``, if given) to ``path`` in the format its extension
    names; returns how many."""
    kind = export_format(path)
    if kind is None:
        raise ValueError(f"unsupported export format: {path} (use .jsonl, .pkl or .parquet)")
    write_record = _write_json_line if kind == "jsonl" else _write_pickle
    count = 0

    def write(temp: str) -> None:
        nonlocal count
        if kind == "parquet":
            count = _write_parquet(store, temp, where)
            return
        with open(temp, "wb") as out:
            for record in exported_records(store, where=where):
                write_record(record, out)
                count += 1

    write_atomically(path, write)
    return count


def read_export(path: str) -> list[dict[str, Any]]:
    """Load an export back (JSON Lines, pickle stream or Parquet), each image as
    ``{"vector": [...], "metadata": {...}}`` (Parquet's metadata: its record columns)."""
    if export_format(path) == "parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
        return [{"vector": row.pop("vector"), "metadata": row} for row in rows]
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
