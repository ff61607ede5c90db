#!/usr/bin/env python3
"""imagedb on FAISS: a vector index plus a pandas metadata frame, searched separately.

The two halves are joined by FAISS ids, which are the frame's ``row_id`` column. Filters are
SQL evaluated over the frame (DuckDB) and handed to FAISS as an id selector; full-text search
is BM25 over the frame's text column; hybrid search fuses both rankings by reciprocal rank
(``ImageStore.search_hybrid``, shared with the LanceDB store).

On disk a database folder holds one committed generation at a time, and the deltas written on
top of it since::

    manifest.json                       which generation and deltas are current, the model, rows,
                                        whether the vectors are in a flat or an IVF index
    images-<generation>.faiss           the vectors
    images-<generation>.color.faiss     the colour signatures
    images-<generation>.parquet         the metadata, one row per vector
    delta-<generation>-<id>.parquet     rows a later commit changed: their records, vectors and
                                        colours, and the ids it removed
    text-<generation>-<id>.npz          the metadata's word postings (BM25), as of that
                                        generation and its last delta: a cache, written by the
                                        first metadata search after a commit, which carries
                                        over the newest one of an earlier commit, kept till then

A commit writes its files (a whole generation, or a delta when it changes few rows of a large
index), then atomically replaces ``manifest.json`` (temp file + rename); a new generation then
deletes the old one and its deltas. A crash at any point leaves the previous state intact and
current. An open reads the frame and opens the two index files, read when a command first
needs them (``FaissImageStore.index``, ``colors``: a metadata search needs neither) and then
checked against the frame, so the two can never silently drift apart. A reader that read the
manifest just before a commit deleted that generation reads the manifest again; one that opened
the files keeps them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import uuid
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.arrow_rows import take_rows
from common.atomic import write_atomically
from common.cli import main as cli_main
from common.color import COLOR_DIM
from common.filters import RecordFilter
from common.ordering import Order, order_columns, sort_indices
from common.records import RECORD_COLUMNS, record_schema, records_to_arrow, vectors_to_arrow
from common.store import (
    Hit,
    ImageStore,
    IndexInfo,
    StoreError,
    best_rows,
    missing_record_columns,
    version_of_unversioned_rows,
)
from common.text_search import BM25, DocumentKeys, Postings

log = logging.getLogger("imagedb")

MANIFEST = "manifest.json"
INFO_ATTR = "imagedb.index"
REMOVED_ATTR = "imagedb.removed"
# 2: deltas. An imagedb of format 1 would read the generation alone, without them.
FORMAT_VERSION = 2
# How often open() starts over when a writer replaces the generation it is reading.
OPEN_ATTEMPTS = 5
# Below this many vectors exact inner-product search is fast and perfectly accurate; above
# it an IVF index (trained on the stored vectors) keeps queries in milliseconds.
ANN_INDEX_MIN_ROWS = 50_000
IVF_PROBE_FRACTION = 1 / 16
# How many path lookups a store answers by scanning its path column before it builds its table
# by path (``FaissImageStore._ids_by_path``): at most about what building the table costs.
PATH_SCANS = 16
# A commit that changes few rows of a large index writes those rows alone, as a delta that every
# open applies on top of the generation: a --watch that saw one new photo, or a first run's
# periodic commit, no longer rewrites the whole generation (0.5-1.4 s and 300 MB at 100k rows).
# Applying costs every open something (adding the deltas' vectors to an IVF index: ~9 ms per
# 1,000 at 100k rows), so they are folded into a new generation once they would hold more rows
# than DELTA_MAX_ROWS or DELTA_MAX_FRACTION of the generation, or more than DELTA_MAX_FILES
# files. Below DELTA_MIN_BASE_ROWS a whole generation is written in milliseconds anyway.
DELTA_MIN_BASE_ROWS = 10_000
DELTA_MAX_ROWS = 5_000
DELTA_MAX_FRACTION = 0.1
DELTA_MAX_FILES = 32


@dataclass
class Committed:
    """What the manifest points at: a generation and the deltas written on top of it since."""

    generation: str | None = None
    base_rows: int = 0  # rows the generation itself holds
    deltas: list[dict[str, Any]] = field(default_factory=list)  # {"file": name, "rows": ids it changed}
    vector_index: str | None = None  # "flat" or "ivf"; None: an older manifest does not say

    @property
    def delta_rows(self) -> int:
        return sum(int(delta["rows"]) for delta in self.deltas)

    def files(self) -> set[str]:
        generation = {f"images-{self.generation}.{ext}" for ext in ("faiss", "color.faiss", "parquet")}
        return generation | {delta["file"] for delta in self.deltas}

    def text_postings_file(self) -> str:
        """The name of the word postings of exactly these rows: a commit changes it."""
        last = self.deltas[-1]["file"].removesuffix(".parquet").rpartition("-")[2] if self.deltas else "base"
        return f"text-{self.generation}-{last}.npz"

    def takes_a_delta_of(self, rows: int) -> bool:
        """Whether ``rows`` more changed rows may go in a delta, not a new generation."""
        if self.generation is None or self.base_rows < DELTA_MIN_BASE_ROWS or len(self.deltas) >= DELTA_MAX_FILES:
            return False
        return self.delta_rows + rows <= min(DELTA_MAX_ROWS, DELTA_MAX_FRACTION * self.base_rows)

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> Committed:
        deltas = list(manifest.get("deltas", []))
        rows = int(manifest.get("rows", 0))
        return cls(manifest["generation"], int(manifest.get("base_rows", rows)), deltas, manifest.get("vector_index"))


@dataclass
class IndexChanges:
    """What deltas changed in an id-mapped index (the vectors, or the colour signatures): the ids
    whose entry went (removed or replaced), then the newest entries of the rows changed. Kept by
    an open until the index is first read (``IndexOnDisk``)."""

    gone: np.ndarray
    ids: np.ndarray
    entries: np.ndarray

    @classmethod
    def removing(cls, gone: np.ndarray, dim: int) -> IndexChanges:
        """Changes that remove ``gone`` alone, of an index of ``dim``-d entries."""
        return cls(gone, np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32))

    def apply_to(self, index: Any) -> None:
        if self.gone.size:
            with_ids_looked_up_directly(index).remove_ids(self.gone)
        if self.ids.size:
            index.add_with_ids(self.entries, self.ids)


@dataclass
class IndexOnDisk:
    """A committed state's id-mapped index (the vectors, or the colour signatures), not read yet:
    its generation's file, opened (so a later commit that deletes the generation cannot take it
    away), what its deltas changed, and the row ids it must hold (the rows' at the open)."""

    what: str  # "vector", "colour signature": for what a problem says
    file: BinaryIO
    changes: IndexChanges
    row_ids: np.ndarray

    def read(self, db_path: str, dim: int) -> Any:
        """The index, the deltas' changes applied (FAISS reads through the open file), checked
        against the rows: a StoreError says what does not fit, and to repair."""
        import faiss

        try:
            with self.file:
                index = faiss.read_index(faiss.PyCallbackIOReader(self.file.read))
        except (RuntimeError, OSError) as error:
            raise inconsistent(db_path, [f"the {self.what}s are unreadable ({faiss_reason(error)})"]) from None
        if index.d != dim:
            raise inconsistent(db_path, [f"the {self.what}s are {index.d}-d, not {dim}-d as the manifest says"])
        self.changes.apply_to(index)
        ids, rows = distinct_ids(all_ids(index)), distinct_ids(self.row_ids)
        if not np.array_equal(ids, rows):
            raise inconsistent(db_path, [
                f"{len(ids)} {self.what}s and {len(rows)} metadata rows: {np.setdiff1d(rows, ids).size} rows "
                f"without a {self.what}, {np.setdiff1d(ids, rows).size} {self.what}s without a row"
            ])  # fmt: skip
        return index


def empty_frame() -> pd.DataFrame:
    frame = records_to_frame([])
    frame.index = pd.Index([], dtype=np.int64, name="row_id")
    return frame


def records_to_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Records as a frame with Arrow-backed dtypes, so nulls stay SQL NULLs and ints stay ints."""
    return records_to_arrow(records).to_pandas(types_mapper=pd.ArrowDtype)


def with_every_record_column(frame: pd.DataFrame, missing: list[str]) -> pd.DataFrame:
    """A frame an older imagedb wrote, with the record columns it lacks (NULL, in their order):
    searched as it is, written in full with the next commit. Vectors and colours live in their
    own indexes, so the record is all a frame can lack."""
    if not missing:
        return frame
    schema = record_schema()
    unversioned = version_of_unversioned_rows(missing)
    for name in missing:
        value = unversioned if name == "record_version" and unversioned is not None else pd.NA
        frame[name] = pd.Series(value, index=frame.index, dtype=pd.ArrowDtype(schema.field(name).type))
    return frame[list(RECORD_COLUMNS)]


class FaissImageStore(ImageStore):
    """A FAISS id-mapped inner-product index and its pandas metadata frame."""

    backend = "faiss"
    default_db_path = "imagedb-faiss"

    def __init__(
        self,
        db_path: str,
        info: IndexInfo,
        index: Any | IndexOnDisk,
        frame: pd.DataFrame,
        next_id: int,
        committed: Committed,
        colors: Any | IndexOnDisk | None = None,
    ) -> None:
        self.db_path = db_path
        self._info = info
        # The vectors, and the colour signatures in a second, always exact, id-mapped index with
        # the same ids: each read when first needed (``index``, ``colors``), closed with the store
        # if never read.
        pairs = (("index", index), ("colors", colors))
        self._on_disk = {name: value for name, value in pairs if isinstance(value, IndexOnDisk)}
        for unread in self._on_disk.values():
            weakref.finalize(self, unread.file.close)
        self._unreadable: dict[str, StoreError] = {}
        self._index = None if "index" in self._on_disk else index
        if "colors" in self._on_disk:
            self._colors = None
        else:
            self._colors = colors if colors is not None else zero_colors(all_ids(index))
        self.frame = frame  # indexed by row_id (the FAISS id)
        self.next_id = next_id
        self.committed = committed
        self._id_by_path: dict[str, int] | None = None  # built when first needed (``id_by_path``)
        self._path_scans = 0
        self._dirty = False
        self._touched: set[int] = set()  # ids written or removed since the last commit
        self._rewrite = False  # the next commit must write a whole generation
        self._committed_rows = False  # a commit by this store wrote rows (``finish_indexing``)
        self._bm25: BM25 | None = None
        self._filter: RecordFilter | None = None
        self._columns: pa.Table | None = None

    @property
    def id_by_path(self) -> dict[str, int]:
        """Row id by path, built when first needed: ~0.1 s at 100k rows and ~1 s at 1M that a
        process searching the store, and not writing, need not pay at all (``_ids_by_path``)."""
        if self._id_by_path is None:
            # Through NumPy: iterating the Arrow-backed columns boxes a value at a time (~0.1 s at 100k rows).
            paths = self.frame["path"].to_numpy(dtype=object).tolist()
            ids = self.frame.index.to_numpy(dtype=np.int64).tolist()
            self._id_by_path = dict(zip(paths, ids, strict=True))
        return self._id_by_path

    def _ids_by_path(self, paths: Iterable[str]) -> dict[str, int]:
        """The row ids of those of ``paths`` the store holds. The first ``PATH_SCANS`` lookups
        before ``id_by_path`` is built scan the path column instead (~4 ms at 100k rows, 37 ms at
        1M): a search by a photo of the library looks up one path, and building the table for it
        took longer than the search."""
        if self._id_by_path is None and self._path_scans < PATH_SCANS:
            import pyarrow.compute as pc

            self._path_scans += 1
            column = self._arrow_columns()["path"]
            wanted = pa.array(list(dict.fromkeys(paths)), pa.string())
            positions = np.flatnonzero(pc.is_in(column, value_set=wanted).to_numpy(zero_copy_only=False))
            found = take_rows(column, positions).to_pylist()
            return dict(zip(found, self.frame.index.to_numpy(dtype=np.int64)[positions].tolist(), strict=True))
        return {p: self.id_by_path[p] for p in paths if p in self.id_by_path}

    # --- opening -------------------------------------------------------------------------
    @classmethod
    def exists(cls, db_path: str) -> bool:
        return os.path.isfile(os.path.join(db_path, MANIFEST))

    @classmethod
    def create(cls, db_path: str, info: IndexInfo) -> FaissImageStore:
        os.makedirs(db_path, exist_ok=True)
        store = cls(db_path, info, new_flat_index(info.dim), empty_frame(), 0, Committed())
        store._dirty = True
        store.commit()
        return store

    @classmethod
    def open(cls, db_path: str) -> FaissImageStore:
        for _attempt in range(OPEN_ATTEMPTS):
            manifest: dict[str, Any] | None = None
            try:
                manifest = read_manifest(db_path)
                return cls._open_generation(db_path, manifest)
            except (OSError, KeyError, ValueError, RuntimeError) as error:
                if manifest is None or _generation_of(_manifest_or_none(db_path)) == _generation_of(manifest):
                    raise StoreError(f"cannot open the FAISS index in {db_path}: {faiss_reason(error)}") from None
                # A writer committed a new generation (and deleted this one) between reading the
                # manifest and reading its files: read the new one instead.
        raise StoreError(f"cannot open the FAISS index in {db_path}: it kept changing while being read; try again")

    @classmethod
    def _open_generation(cls, db_path: str, manifest: dict[str, Any]) -> FaissImageStore:
        if int(manifest.get("format", 1)) > FORMAT_VERSION:
            raise StoreError(
                f"{db_path} was written by a newer imagedb (format {manifest['format']}); upgrade to use it"
            )
        info = IndexInfo.from_json(json.dumps(manifest["info"]))
        committed = Committed.from_manifest(manifest)
        generation = committed.generation
        # The indexes' files opened now, read when first needed (``index``, ``colors``).
        paths = [os.path.join(db_path, f"images-{generation}.{ext}") for ext in ("faiss", "color.faiss")]
        with contextlib.ExitStack() as opened:
            files = [opened.enter_context(open(path, "rb")) for path in paths]
            frame = pd.read_parquet(os.path.join(db_path, f"images-{generation}.parquet"), dtype_backend="pyarrow")
            frame = frame.set_index("row_id")
            frame = with_every_record_column(frame, missing_record_columns(frame.columns, db_path))
            deltas = [read_delta(db_path, delta["file"]) for delta in committed.deltas]
            frame, vector_changes, color_changes = apply_deltas(frame, deltas, info.dim, db_path)
            duplicated = int(frame["path"].duplicated().sum())
            if duplicated:
                raise inconsistent(db_path, [f"{duplicated} duplicate path(s) in the metadata"])
            opened.pop_all()  # the store closes them
        rows = frame.index.to_numpy(np.int64)
        index = IndexOnDisk("vector", files[0], vector_changes, rows)
        colors = IndexOnDisk("colour signature", files[1], color_changes, rows)
        return cls(db_path, info, index, frame, int(manifest["next_id"]), committed, colors)

    @property
    def index(self) -> Any:
        """The vectors, read from the generation's file when first needed (a search by vector, a
        write), not at every open: a metadata search, a ``--where`` listing or ``--stats`` never
        reads them (2 KB a row: ~0.2 s of a 0.55 s open at 300k rows, 2 GB at 1M)."""
        if self._index is None:
            self._index = self._read_on_first_use("index", self.info.dim)
        return self._index

    @index.setter
    def index(self, index: Any) -> None:
        self._index = index

    def _index_is_flat(self) -> bool:
        """Whether the vectors are in a flat index: as the manifest says while they are unread (an
        unchanged re-index need not read 2 KB a row to learn that they are in an IVF index)."""
        if self._index is None and self.committed.vector_index in ("flat", "ivf"):
            return self.committed.vector_index == "flat"
        return is_flat(self.index)

    @property
    def colors(self) -> Any:
        """The colour signatures, read as ``index`` is: by a colour search or a write (the file is
        half the vectors' size, 256 floats a row)."""
        if self._colors is None:
            self._colors = self._read_on_first_use("colors", COLOR_DIM)
        return self._colors

    def _read_on_first_use(self, name: str, dim: int) -> Any:
        """The index ``name`` read from its file; what it found wrong, raised again at every use."""
        if name in self._unreadable:
            raise self._unreadable[name]
        try:
            return self._on_disk.pop(name).read(self.db_path, dim)
        except StoreError as error:
            self._unreadable[name] = error
            raise

    def integrity_problems(self) -> list[str]:
        """What reading the vectors and the colour signatures found wrong (each read, and checked
        against the rows, if not yet)."""
        problems = []
        for read in (lambda: self.index, lambda: self.colors):
            try:
                read()
            except StoreError as error:
                problems.append(str(error))
        return problems

    @property
    def info(self) -> IndexInfo:
        return self._info

    @property
    def generation(self) -> str | None:
        return self.committed.generation

    def outdated(self) -> bool:
        """The manifest names other files than those this store read (a commit writes a new
        generation or a new delta); reading it costs ~0.01 ms."""
        manifest = _manifest_or_none(self.db_path)
        return manifest is not None and Committed.from_manifest(manifest).files() != self.committed.files()

    # --- reading -------------------------------------------------------------------------
    def count(self) -> int:
        return len(self.frame)

    def get_record_versions_before(self, version: int) -> dict[str, int | None]:
        described = self.frame["record_version"]
        older = self.frame.loc[(described.isna() | (described < version)).to_numpy(dtype=bool)]
        return {p: None if pd.isna(v) else int(v) for p, v in zip(older["path"], older["record_version"], strict=True)}

    def get_records(
        self, where: str | None = None, limit: int | None = None, order: Order | None = None
    ) -> list[dict[str, Any]]:
        positions = self._rows_matching(where) if where else np.arange(len(self.frame))
        keys = take_rows(self._arrow_columns().select(order_columns(order or [])), positions)
        in_order = positions[sort_indices(keys, order or []).to_numpy()]
        return self._records_at(in_order[:limit] if limit else in_order)

    def get_all_records_in_chunks(self, size: int) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(self.frame), size):
            yield self._records_at(np.arange(start, min(start + size, len(self.frame))))

    def get_columns(self, columns: list[str], where: str | None = None) -> pa.Table:
        selected = self._arrow_columns().select(columns)
        return take_rows(selected, self._rows_matching(where)) if where else selected

    def get_records_by_path(self, paths: Iterable[str]) -> dict[str, dict[str, Any]]:
        positions = self.frame.index.get_indexer(list(self._ids_by_path(paths).values()))
        return {record["path"]: record for record in self._records_at(positions)}

    def get_records_by_content_hash(self, hashes: Iterable[str]) -> dict[str, dict[str, Any]]:
        positions = np.flatnonzero(self.frame["content_hash"].isin(list(hashes)).to_numpy())
        _, first = np.unique(self.frame["content_hash"].to_numpy()[positions].astype(str), return_index=True)
        return {record["content_hash"]: record for record in self._records_at(positions[first])}

    def get_vectors(self, paths: list[str]) -> dict[str, np.ndarray]:
        return self._stored(self.index, paths)

    def get_colors(self, paths: list[str]) -> dict[str, np.ndarray]:
        return self._stored(self.colors, paths)

    def _stored(self, index: Any, paths: list[str]) -> dict[str, np.ndarray]:
        """The vectors ``index`` holds for ``paths`` (the vector index or the colour index)."""
        ids = self._ids_by_path(paths)
        looked_up = with_ids_looked_up_directly(index)
        return {p: looked_up.reconstruct(i) for p, i in ids.items()}

    def get_all_vectors(self) -> tuple[list[str], np.ndarray]:
        ids, vectors = all_vectors(self.index)
        return self.frame["path"].reindex(ids).tolist(), vectors

    @classmethod
    def salvage(cls, db_path: str) -> tuple[FaissImageStore, list[str], list[str]]:
        """Rebuild a consistent generation from the newest readable files: rows with a vector are
        kept (one per path, the newest), rows whose vector is lost are dropped for re-embedding."""
        import faiss

        actions: list[str] = []
        frame, index, info, generation = None, None, None, None
        manifest = _manifest_or_none(db_path)
        for generation in _generations_newest_first(db_path, manifest):
            try:
                frame = pd.read_parquet(os.path.join(db_path, f"images-{generation}.parquet"), dtype_backend="pyarrow")
                break
            except (OSError, ValueError) as error:
                actions.append(f"skipped unreadable metadata images-{generation}.parquet ({error})")
        if frame is None:
            raise StoreError(f"nothing to rebuild from in {db_path}: no readable metadata file; re-run --index")
        info = _read_info(db_path, manifest, frame)
        try:
            index = faiss.read_index(os.path.join(db_path, f"images-{generation}.faiss"))
        except RuntimeError:
            actions.append(f"the vector file of generation {generation} is unreadable: its rows need re-embedding")
        try:
            old_colors = faiss.read_index(os.path.join(db_path, f"images-{generation}.color.faiss"))
        except RuntimeError:
            old_colors = None
            actions.append("the colour file is unreadable: colour signatures are made again")
        frame = frame.set_index("row_id")
        frame = with_every_record_column(frame, missing_record_columns(frame.columns, db_path))
        if index is None:
            index = new_flat_index(info.dim)  # the generation's rows are dropped below, having no vector
        deltas = []
        for name in _deltas_of(db_path, generation, manifest):
            try:
                deltas.append(read_delta(db_path, name))
            except (OSError, ValueError) as error:
                actions.append(f"skipped unreadable delta {name} ({error}): its files are read again")
        if deltas and old_colors is None:
            old_colors = zero_colors(np.zeros(0, dtype=np.int64))
        frame, vector_changes, color_changes = apply_deltas(frame, deltas, info.dim, db_path)
        vector_changes.apply_to(index)
        if old_colors is not None:
            color_changes.apply_to(old_colors)
        ids, vectors = all_vectors(index)
        has_vector = frame.index.isin(ids)
        dropped = frame.loc[~has_vector, "path"].tolist()
        frame = frame[has_vector].sort_index()
        newest = ~frame["path"].duplicated(keep="last")
        if not newest.all():
            actions.append(f"kept the newest of {int((~newest).sum())} duplicate row(s)")
        frame = frame[newest]
        position = {int(i): n for n, i in enumerate(ids.tolist())}
        kept = vectors[[position[int(i)] for i in frame.index]] if len(frame) else np.zeros((0, info.dim))
        if len(ids) > len(frame) + len(dropped):
            actions.append(f"dropped {len(ids) - len(frame)} vector(s) without a metadata row")
        if dropped:
            actions.append(f"dropped {len(dropped)} row(s) whose vector was lost")
        flat = new_flat_index(info.dim)
        kept_ids = frame.index.to_numpy(dtype=np.int64)
        flat.add_with_ids(np.ascontiguousarray(kept, dtype=np.float32), kept_ids)
        colors = zero_colors(np.zeros(0, dtype=np.int64))
        if len(kept_ids):
            known = set(all_ids(old_colors).tolist()) if old_colors is not None else set()
            signatures = np.stack(
                [
                    old_colors.reconstruct(int(i)) if int(i) in known else np.zeros(COLOR_DIM, np.float32)
                    for i in kept_ids
                ]
            )
            colors.add_with_ids(signatures, kept_ids)
        next_id = int(max([*ids.tolist(), *frame.index.tolist(), -1])) + 1
        store = cls(db_path, info, flat, frame, next_id, Committed(), colors)
        store._dirty = True
        store.commit()
        return store, actions, dropped

    # --- writing -------------------------------------------------------------------------
    def upsert_images(
        self, records: list[dict[str, Any]], vectors: np.ndarray, colors: np.ndarray | None = None
    ) -> None:
        if not records:
            return
        paths = [r["path"] for r in records]
        replaced = [self.id_by_path[p] for p in paths if p in self.id_by_path]
        if replaced:
            self._remove_ids(replaced)
        ids = np.array([self.id_by_path.get(p, -1) for p in paths], dtype=np.int64)
        fresh = ids < 0
        ids[fresh] = np.arange(self.next_id, self.next_id + int(fresh.sum()), dtype=np.int64)
        self.next_id += int(fresh.sum())
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        if colors is None:
            colors = np.zeros((len(records), COLOR_DIM), dtype=np.float32)
        self.colors.add_with_ids(np.ascontiguousarray(colors, dtype=np.float32), ids)
        rows = records_to_frame(records)
        rows.index = pd.Index(ids, name="row_id")
        self.frame = rows if self.frame.empty else pd.concat([self.frame, rows])
        self.id_by_path.update(zip(paths, ids.tolist(), strict=True))
        self._touched.update(ids.tolist())
        self._changed()

    def delete_images(self, paths: list[str]) -> int:
        ids = [self.id_by_path[p] for p in paths if p in self.id_by_path]
        if ids:
            self._remove_ids(ids)
            for path in paths:
                self.id_by_path.pop(path, None)
            self._changed()
        return len(ids)

    def _remove_ids(self, ids: list[int]) -> None:
        # FAISS removes by id array from the lookup table (with_ids_looked_up_directly) in place
        # of scanning every IVF list for them.
        with_ids_looked_up_directly(self.index).remove_ids(np.asarray(ids, dtype=np.int64))
        self.colors.remove_ids(np.asarray(ids, dtype=np.int64))
        self.frame = self.frame.drop(index=ids)
        self._touched.update(ids)

    def _changed(self) -> None:
        self._dirty = True
        self._bm25 = None
        self._columns = None
        self._forget_filter()

    def close(self) -> None:
        self._forget_filter()
        for unread in self._on_disk.values():
            unread.file.close()

    def _forget_filter(self) -> None:
        """Drop the DuckDB view of the frame (stale after a write, unneeded after close)."""
        if self._filter is not None:
            self._filter.close()
            self._filter = None

    def _rows_matching(self, where: str) -> np.ndarray:
        """Positions in the frame where ``where`` holds (the frame's DuckDB view is kept between queries)."""
        if self._filter is None:
            self._filter = RecordFilter(self._arrow_columns())
        return self._filter.positions(where)

    def commit(self) -> None:
        """Make every write so far durable and visible to readers: the rows changed since the
        last commit as a delta on the current generation when few beside it (``Committed.
        takes_a_delta_of``), else a whole new generation; the manifest switch is the moment
        either counts."""
        if not self._dirty:
            return
        if not self._rewrite and self.committed.takes_a_delta_of(len(self._touched)):
            self._write_delta()
        else:
            self._write_generation()
        self._dirty = False
        self._rewrite = False
        self._committed_rows = True
        self._touched.clear()
        self._remove_uncommitted_files()

    def _write_generation(self) -> None:
        import faiss

        generation = uuid.uuid4().hex[:12]
        index_path = os.path.join(self.db_path, f"images-{generation}.faiss")
        colors_path = os.path.join(self.db_path, f"images-{generation}.color.faiss")
        frame_path = os.path.join(self.db_path, f"images-{generation}.parquet")
        write_atomically(index_path, lambda temp: faiss.write_index(self.index, temp))
        write_atomically(colors_path, lambda temp: faiss.write_index(self.colors, temp))
        frame = self.frame.reset_index()
        frame.attrs = {INFO_ATTR: self.info.to_json()}  # the model travels with the rows (--repair)
        write_atomically(frame_path, lambda temp: frame.to_parquet(temp, index=False))
        self._switch_manifest_to(Committed(generation, len(self.frame)))

    def _write_delta(self) -> None:
        """Write the rows changed since the last commit (records, vectors, colours) and the ids
        removed, as one file on top of the current generation."""
        import pyarrow.parquet as pq

        name = f"delta-{self.generation}-{uuid.uuid4().hex[:12]}.parquet"
        delta = self._delta_table(np.fromiter(self._touched, dtype=np.int64, count=len(self._touched)))
        write_atomically(os.path.join(self.db_path, name), lambda temp: pq.write_table(delta, temp))
        deltas = [*self.committed.deltas, {"file": name, "rows": len(self._touched)}]
        self._switch_manifest_to(Committed(self.generation, self.committed.base_rows, deltas))

    def _delta_table(self, ids: np.ndarray) -> pa.Table:
        """The rows of ``ids`` still in the index, with their vectors and colours; the ids of the
        others, removed, in the table's metadata."""
        present = np.isin(ids, self.frame.index.to_numpy())
        kept, removed = ids[present], ids[~present]
        table = take_rows(self._arrow_columns(), self.frame.index.get_indexer(kept))
        table = table.append_column("row_id", pa.array(kept, pa.int64()))
        table = table.append_column("vector", vector_column(with_ids_looked_up_directly(self.index), kept))
        table = table.append_column("color", vector_column(self.colors, kept))
        return table.replace_schema_metadata({REMOVED_ATTR: json.dumps(removed.tolist())})

    def _switch_manifest_to(self, committed: Committed) -> None:
        # What the vectors are in, for a reader that has not read them (``_index_is_flat``).
        committed = replace(committed, vector_index="flat" if is_flat(self.index) else "ivf")
        manifest = {
            "format": FORMAT_VERSION,
            "generation": committed.generation,
            "info": json.loads(self.info.to_json()),
            "rows": len(self.frame),
            "next_id": self.next_id,
            "base_rows": committed.base_rows,
            "deltas": committed.deltas,
            "vector_index": committed.vector_index,
        }
        write_atomically(
            os.path.join(self.db_path, MANIFEST),
            lambda temp: _write_text(temp, json.dumps(manifest, indent=2)),
        )
        self.committed = committed

    def _remove_uncommitted_files(self) -> None:
        """Delete superseded generations and their deltas, any a crashed commit left half-written,
        and the word postings saved for any commit but this one and the newest other: the first
        metadata search after this commit carries those over (``_text_postings``)."""
        kept = self.committed.files() | {self.committed.text_postings_file(), *saved_text_postings(self.db_path)[:1]}
        for name in os.listdir(self.db_path):
            if name.startswith(("images-", "delta-", "text-")) and name not in kept:
                # PermissionError: Windows deletes no file another process holds open (a reader's
                # colour file); the next commit tries again.
                with contextlib.suppress(FileNotFoundError, PermissionError):
                    os.remove(os.path.join(self.db_path, name))

    def finish_indexing(self) -> None:
        """Switch to an IVF index once the collection is large enough to need one, and, after a
        run that wrote, save the metadata's word postings beside the index (``_text_postings``),
        as LanceDB's run builds its text index: the first metadata search then reads them (0.4 s
        at 1M rows) where it had built them (9.3 s) or carried them over a commit (1.7 s). A run
        that wrote nothing reads and builds none: an unchanged re-index stays quick."""
        if len(self.frame) >= ANN_INDEX_MIN_ROWS and self._index_is_flat():
            self.index = build_ivf_index(self.index, self.info.dim)
            self._dirty = self._rewrite = True
        self.commit()
        if self._committed_rows and not self.frame.empty:
            if not os.path.exists(os.path.join(self.db_path, self.committed.text_postings_file())):
                self._text_postings()
            self._committed_rows = False

    # --- searching -----------------------------------------------------------------------
    def search_by_vector(self, vector: np.ndarray, limit: int, where: str | None = None) -> list[Hit]:
        return self._hits(best_rows(lambda wanted: self._search(self.index, vector, wanted, where), limit))

    def search_by_color(self, signature: np.ndarray, limit: int, where: str | None = None) -> list[Hit]:
        return self._hits(best_rows(lambda wanted: self._search(self.colors, signature, wanted, where), limit))

    def _search(self, index: Any, vector: np.ndarray, limit: int, where: str | None) -> pa.Table:
        """Inner-product search of ``index`` (vectors or colours), ``where`` as an id selector:
        the ``limit`` best rows' positions in the frame, paths and scores."""
        import faiss

        if index.ntotal == 0:
            return _ranked_rows([], [], [])
        selector = None
        if where:
            allowed = self.frame.index[self._rows_matching(where)].to_numpy(dtype=np.int64)
            if allowed.size == 0:
                return _ranked_rows([], [], [])
            selector = self._selector_of(allowed)
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        wanted = min(limit, index.ntotal)
        if is_flat(index):
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
            scores, ids = index.search(query, wanted, params=params)
        else:
            nlist = faiss_ivf(index).nlist
            probed = lists_probed(nlist, index.ntotal, None if selector is None else allowed.size)
            scores, ids = index.search(query, wanted, params=faiss.SearchParametersIVF(sel=selector, nprobe=probed))
            if selector is not None and probed < nlist and (ids[0] >= 0).sum() < min(wanted, allowed.size):
                # The lists looked in held too few of the rows let through (a filter that
                # follows the pictures: one album's): look in every list, an exact search.
                scores, ids = index.search(query, wanted, params=faiss.SearchParametersIVF(sel=selector, nprobe=nlist))
        found = ids[0] >= 0
        # By position in the Arrow columns: a quarter of the time .loc takes (~60 vs 240 us).
        positions = self.frame.index.get_indexer(ids[0][found])
        return _ranked_rows(positions, take_rows(self._arrow_columns()["path"], positions), scores[0][found])

    def _selector_of(self, ids: np.ndarray) -> Any:
        """A FAISS selector letting through exactly ``ids``.

        A bitmap over every id handed out so far is built in microseconds and tested with one
        bit read; FAISS's id batch hashes each id (~0.5 ms for 10k ids, a tenth of a filtered
        search at 100k rows). Ids of deleted rows are never reused, so after many re-indexes the
        bitmap may span far more ids than rows: past 32 bits a selected id, the batch is cheaper.
        """
        import faiss

        if self.next_id > 32 * ids.size:
            return faiss.IDSelectorBatch(ids)
        chosen = np.zeros(self.next_id, dtype=bool)
        chosen[ids] = True
        bits = np.packbits(chosen, bitorder="little")
        selector = faiss.IDSelectorBitmap(self.next_id, faiss.swig_ptr(bits))
        selector.bits = bits  # FAISS reads the bits in place: they live as long as the selector
        return selector

    def _hits(self, rows: pa.Table) -> list[Hit]:
        records = self._records_at(rows.column("position").to_numpy())
        return [Hit(record, score) for record, score in zip(records, rows.column("score").to_pylist(), strict=True)]

    def search_by_text(self, query: str, limit: int, where: str | None = None) -> list[Hit]:
        if self.frame.empty:
            return []
        positions, scores = self._text_matches(query, where)
        paths = self._arrow_columns()["path"]

        def matching(wanted: int, last_path: str | None = None) -> pa.Table:
            # The best ``wanted`` matches, ties in any order (best_rows orders them), their
            # paths in one Arrow take: a word 50k files hold ranks in milliseconds.
            found, found_scores = positions, scores
            if last_path is not None:
                import pyarrow.compute as pc

                # Those whose path sorts at or before it: one comparison of every path (~5 ms at
                # 1M rows), where ranking a tie of them all took the paths of every tied row.
                up_to = pc.less_equal(paths, last_path).to_numpy(zero_copy_only=False)[positions]
                found, found_scores = positions[up_to], scores[up_to]
            best = np.argpartition(-found_scores, wanted - 1)[:wanted] if wanted < len(found) else slice(None)
            chosen = found[best]
            return pa.table({"position": chosen, "score": found_scores[best], "path": take_rows(paths, chosen)})

        return self._hits(best_rows(matching, limit, search_up_to=matching))

    def paths_matching_text(self, query: str, up_to: int, where: str | None = None) -> list[str]:
        """The paths of the first ``up_to`` matches, ranked by nothing: no record is made."""
        if self.frame.empty:
            return []
        positions, _ = self._text_matches(query, where)
        return take_rows(self._arrow_columns()["path"], positions[:up_to]).to_pylist()

    def _text_matches(self, query: str, where: str | None) -> tuple[np.ndarray, np.ndarray]:
        """The positions of the rows ``query`` matches that ``where`` lets through, and their BM25
        scores (the ranking made at the first text search)."""
        if self._bm25 is None:
            self._bm25 = BM25(self._arrow_columns()["search_text"], self._text_postings())
        return self._bm25.matches(query, self._rows_matching(where) if where else None)

    def _text_postings(self) -> Postings:
        """The metadata's word postings: read from beside the index when the first search since
        the last commit saved them (~15 ms at 100k rows); else carried over from the postings
        saved for an earlier commit (``Postings.carried_over``: only the rows changed since are
        read, ~0.1 s at 100k rows), or built from all the rows when there are none (0.35-0.8 s);
        and saved for the next process. Rows written but not committed are searched, never saved:
        the file's name says which commit it is of, and a commit deletes the files of every
        other but the newest (``_remove_uncommitted_files``). Saving is a cache's: a folder this
        process may not write to costs the next one the work again."""
        texts = self._arrow_columns()["search_text"]
        path = None if self._dirty else os.path.join(self.db_path, self.committed.text_postings_file())
        postings = Postings.read(path, len(texts)) if path else None
        if postings is not None:
            return postings
        earlier = self._earlier_text_postings(path)
        if earlier is None and path is None:  # nothing to carry over, nowhere to save: no keys needed
            return Postings.of(texts.to_pylist())
        keys = DocumentKeys.of(self.frame.index.to_numpy(dtype=np.int64), texts)
        postings = earlier[0].carried_over(earlier[1], keys, texts) if earlier else Postings.of(texts.to_pylist())
        if path:
            try:
                write_atomically(path, lambda temp: postings.save(temp, keys), durable=False)
            except OSError as error:
                log.debug("word postings not saved to %s: %s", path, error)
        return postings

    def _earlier_text_postings(self, current: str | None) -> tuple[Postings, DocumentKeys] | None:
        """The newest word postings saved beside the index for another commit, with their rows'
        keys; None when there are none this version can read."""
        paths = [os.path.join(self.db_path, name) for name in saved_text_postings(self.db_path)]
        for path in (p for p in paths if p != current):
            earlier = Postings.read_with_keys(path)
            if earlier is not None:
                return earlier
        return None

    def _records_at(self, positions: np.ndarray) -> list[dict[str, Any]]:
        """The records at these positions of the frame, read through its Arrow columns.

        pandas builds a row (``frame.loc[id].to_dict()``) at ~0.15 ms a hit, boxing each of the
        ~40 columns; one Arrow ``take`` of all ten hits costs about as much as one such row,
        and a 100k-row listing drops from ~2.7 s to ~0.4 s.
        """
        return take_rows(self._arrow_columns(), positions).to_pylist()

    def _arrow_columns(self) -> pa.Table:
        """The frame's record columns as one Arrow table, NaN read as NULL (None, as records
        report a missing value): wrapped, not copied, but for the float columns (~1.5 ms at
        100k rows), once, and again only after a write."""
        if self._columns is None:
            self._columns = pa.table({column: _nan_as_null(self.frame[column].array) for column in RECORD_COLUMNS})
        return self._columns


def lists_probed(nlist: int, rows: int, rows_allowed: int | None) -> int:
    """How many of the ``nlist`` lists of an IVF index of ``rows`` rows a search looks in:
    ``IVF_PROBE_FRACTION`` of them, or, when only ``rows_allowed`` rows may answer (``--where``),
    as many more as it takes to look at as many of those rows as an unfiltered search looks at.

    FAISS skips the rows a filter keeps out inside the lists it looks in. With a sixteenth of
    the lists for every search, a filter letting 1,300 rows of 100k through found 84 % of its
    ten best (clustered vectors), and one album's 16 rows came back as one or two (LanceDB: all ten
    right). Now a filter letting through a sixteenth of the rows or fewer looks in every list,
    an exact search of those rows; one letting more through, in proportionally more lists. A
    search that still finds fewer rows than it asked for looks in every list (a filter that
    follows the pictures, an album, where the lists nearest the query hold none of it).
    Measured at 100k rows (benchmark): 2.1-2.3 ms p50 one album, 3.9-4.8 ms a camera's photos,
    against 1.6-2.5 ms looking in a sixteenth."""
    probed = max(1, int(nlist * IVF_PROBE_FRACTION))
    if rows_allowed:
        probed = -(-probed * rows // rows_allowed)
    return min(nlist, probed)


def new_flat_index(dim: int) -> Any:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def zero_colors(ids: np.ndarray) -> Any:
    """A colour index holding "no colour known" (zeros) for ``ids``."""
    colors = new_flat_index(COLOR_DIM)
    if len(ids):
        colors.add_with_ids(np.zeros((len(ids), COLOR_DIM), dtype=np.float32), ids)
    return colors


def is_flat(index: Any) -> bool:
    import faiss

    return isinstance(index, faiss.IndexIDMap2 | faiss.IndexIDMap)


def faiss_ivf(index: Any) -> Any:
    import faiss

    return faiss.extract_index_ivf(index)


def with_ids_looked_up_directly(index: Any) -> Any:
    """``index``, an IVF one given a table from id to list entry (FAISS's hashtable direct map).

    Without it an IVF index finds an id's vector, or the entry to remove, only by walking all of
    its lists: 0.05-0.15 s at 100k rows for each 1,000-file group of a copied library that
    takes stored vectors, and a walk for each write that replaces rows. The table costs ~2 ms
    to build at 100k rows and is saved with the index; indexes written before it get it here,
    the first time it is needed. A flat ``IndexIDMap2`` keeps such a table already.
    """
    import faiss

    if not is_flat(index):
        ivf = faiss_ivf(index)
        if ivf.direct_map.type != faiss.DirectMap.Hashtable:
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
    return index


def all_vectors(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every (id, vector) an index holds, whichever kind it is."""
    import faiss

    if is_flat(index):
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)
        return ids, vectors
    from faiss.contrib.inspect_tools import get_invlist

    ivf = faiss_ivf(index)
    # Each list copied straight into its rows: gathering the lists' copies and concatenating
    # them held every vector twice (at 100k rows, 400 MB at the peak for 200 MB of vectors).
    sizes = [ivf.invlists.list_size(list_no) for list_no in range(ivf.nlist)]
    ids, vectors = np.empty(sum(sizes), np.int64), np.empty((sum(sizes), ivf.d), np.float32)
    row = 0
    for list_no, size in enumerate(sizes):
        if size:
            list_ids, codes = get_invlist(ivf.invlists, list_no)
            ids[row : row + size] = list_ids
            vectors[row : row + size] = codes.view(np.float32).reshape(size, ivf.d)
            row += size
    return ids, vectors


def all_ids(index: Any) -> np.ndarray:
    """Every id an index holds, without touching the vectors (what a load-time check needs)."""
    import faiss

    if is_flat(index):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    lists = faiss_ivf(index).invlists
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(list_no), lists.list_size(list_no)).copy()
        for list_no in range(lists.nlist)
        if lists.list_size(list_no)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def build_ivf_index(flat: Any, dim: int) -> Any:
    """Train an IVF-Flat inner-product index on the stored vectors and move them into it."""
    import faiss

    ids, vectors = all_vectors(flat)
    # ~4·sqrt(n) lists, but at least 39 training points per centroid, as k-means needs.
    nlist = max(1, min(int(4 * np.sqrt(len(ids))), len(ids) // 39))
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors)
    ivf.add_with_ids(vectors, ids)
    return with_ids_looked_up_directly(ivf)


def vector_column(index: Any, ids: np.ndarray) -> pa.FixedSizeListArray:
    """The vectors ``index`` holds for ``ids``, as an Arrow column (one fixed-size list a row)."""
    vectors = index.reconstruct_batch(ids) if len(ids) else np.zeros((0, index.d), np.float32)
    return vectors_to_arrow(vectors, index.d)


def vectors_of(column: pa.ChunkedArray, dim: int) -> np.ndarray:
    return np.ascontiguousarray(column.combine_chunks().flatten().to_numpy().reshape(-1, dim), dtype=np.float32)


def read_delta(db_path: str, name: str) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(os.path.join(db_path, name))


def apply_deltas(
    frame: pd.DataFrame, deltas: list[pa.Table], dim: int, db_path: str
) -> tuple[pd.DataFrame, IndexChanges, IndexChanges]:
    """``frame`` with ``deltas`` applied in order: every row a delta removed or changed goes, and
    the newest version of each changed row comes in its place; and what they change in the
    vectors (``dim`` floats a row) and in the colour signatures, for whenever those are read. All
    at once, so an open pays one pass over the frame however many deltas there are (a pass drops
    rows from 40 columns: ~25 ms at 100k)."""
    newest: dict[int, tuple[int, int] | None] = {}  # id -> (delta, row) of its newest version; None: removed
    for number, delta in enumerate(deltas):
        removed = json.loads((delta.schema.metadata or {}).get(REMOVED_ATTR.encode(), b"[]"))
        newest.update(dict.fromkeys(removed))
        newest.update((row_id, (number, row)) for row, row_id in enumerate(delta.column("row_id").to_pylist()))
    if not newest:
        nothing = np.zeros(0, dtype=np.int64)
        return frame, IndexChanges.removing(nothing, dim), IndexChanges.removing(nothing, COLOR_DIM)
    touched = np.fromiter(newest, dtype=np.int64, count=len(newest))
    gone = touched[np.isin(touched, frame.index.to_numpy())]
    if gone.size:
        frame = frame[~frame.index.isin(gone)]
    kept_rows: list[list[int]] = [[] for _ in deltas]
    for version in newest.values():
        if version is not None:
            kept_rows[version[0]].append(version[1])
    parts = [
        delta.replace_schema_metadata(None).take(pa.array(rows, pa.int64()))
        for delta, rows in zip(deltas, kept_rows, strict=True)
    ]
    changed = pa.concat_tables(parts, promote_options="permissive")
    if not changed.num_rows:
        return frame, IndexChanges.removing(gone, dim), IndexChanges.removing(gone, COLOR_DIM)
    ids = changed.column("row_id").to_numpy().astype(np.int64)
    vector_changes = IndexChanges(gone, ids, vectors_of(changed.column("vector"), dim))
    color_changes = IndexChanges(gone, ids, vectors_of(changed.column("color"), COLOR_DIM))
    names = [c for c in RECORD_COLUMNS if c in changed.column_names]
    rows = changed.select(names).to_pandas(types_mapper=pd.ArrowDtype)
    rows.index = pd.Index(ids, name="row_id")
    rows = with_every_record_column(rows, missing_record_columns(names, db_path))
    return (rows if frame.empty else pd.concat([frame, rows])), vector_changes, color_changes


def faiss_reason(error: Exception) -> str:
    """What FAISS says went wrong, without where in its C++ it noticed ("Error in ... at
    index_read.cpp:3251: ")."""
    return re.sub(r"^Error in .*? at \S+:\d+: ", "", str(error).strip())


def inconsistent(db_path: str, problems: list[str]) -> StoreError:
    """The error refusing an index whose vectors, colours and metadata rows do not correspond."""
    return StoreError(
        f"{db_path} is inconsistent: {'; '.join(problems)}; run --repair to rebuild it from what is on disk"
    )


def distinct_ids(ids: np.ndarray) -> np.ndarray:
    """``np.unique(ids)``, by sorting: NumPy 2.4's ``unique`` hashes, 27-60 ms for 100k ids
    where a sort takes 0.5; every open checks three such arrays (~180 ms of a 400 ms open)."""
    ordered = np.sort(ids)
    if ordered.size < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _ranked_rows(positions: Any, paths: Any, scores: Any) -> pa.Table:
    return pa.table(
        {
            "position": pa.array(positions, pa.int64()),
            "path": pa.array(paths, pa.string()),
            "score": pa.array(scores, pa.float32()),
        }
    )


def _nan_as_null(values: Any) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    column = pa.chunked_array(pa.array(values))
    if not pa.types.is_floating(column.type):
        return column
    return pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)


def read_manifest(db_path: str) -> dict[str, Any]:
    with open(os.path.join(db_path, MANIFEST), encoding="utf-8") as handle:
        return json.load(handle)


def _generation_of(manifest: dict[str, Any] | None) -> Any:
    return manifest.get("generation") if isinstance(manifest, dict) else None


def _manifest_or_none(db_path: str) -> dict[str, Any] | None:
    """The manifest, or None when it is missing or unreadable (what --repair must work without)."""
    try:
        manifest = read_manifest(db_path)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _generations_newest_first(db_path: str, manifest: dict[str, Any] | None) -> list[str]:
    """The manifest's generation first, then any other metadata files, newest first."""
    current = [manifest["generation"]] if manifest and "generation" in manifest else []
    names = [n for n in os.listdir(db_path) if n.startswith("images-") and n.endswith(".parquet")]
    names.sort(key=lambda n: os.path.getmtime(os.path.join(db_path, n)), reverse=True)
    others = [n[len("images-") : -len(".parquet")] for n in names]
    return current + [g for g in others if g not in current]


def _deltas_of(db_path: str, generation: str, manifest: dict[str, Any] | None) -> list[str]:
    """The deltas on ``generation``, in order: the manifest's when it names that generation,
    else (the manifest lost) every delta file of it there is, oldest first."""
    if _generation_of(manifest) == generation:
        return [delta["file"] for delta in manifest.get("deltas", [])]  # type: ignore[union-attr]
    names = [n for n in os.listdir(db_path) if n.startswith(f"delta-{generation}-") and n.endswith(".parquet")]
    return sorted(names, key=lambda n: os.path.getmtime(os.path.join(db_path, n)))


def _read_info(db_path: str, manifest: dict[str, Any] | None, frame: pd.DataFrame) -> IndexInfo:
    """The model the rows were made with: from the manifest, else from the metadata file itself."""
    if manifest and "info" in manifest:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            return IndexInfo.from_json(json.dumps(manifest["info"]))
    if INFO_ATTR in frame.attrs:
        return IndexInfo.from_json(frame.attrs[INFO_ATTR])
    raise StoreError(f"cannot tell which model made the vectors in {db_path}: the manifest is lost; re-run --index")


def saved_text_postings(db_path: str) -> list[str]:
    """The names of the word postings files saved in ``db_path``, the newest first."""
    names = [name for name in os.listdir(db_path) if name.startswith("text-") and name.endswith(".npz")]
    return sorted(names, key=lambda name: _modified_or_zero(os.path.join(db_path, name)), reverse=True)


def _modified_or_zero(path: str) -> float:
    """When ``path`` was last written; 0 when it is gone (a commit elsewhere deleted it)."""
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def main(argv: list[str] | None = None) -> int:
    return cli_main(FaissImageStore, argv, prog="imagedb-faiss.py")


if __name__ == "__main__":
    sys.exit(main())
