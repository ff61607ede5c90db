#!/usr/bin/env python3
"""imagedb on LanceDB: one table holds each image's vector and metadata together.

LanceDB gives this backend what FAISS + pandas must assemble by hand: SQL filters evaluated
inside the vector search (prefiltering), a native BM25 full-text index, scalar indexes on
the filter columns, versioned commits, and upserts by key through ``merge_insert``. Hybrid
search fuses this store's vector and full-text answers by reciprocal rank with the rule both
stores share (``ImageStore.search_hybrid``). Vectors are computed by imagedb itself
(batched), never by a LanceDB embedding function.

The store talks to LanceDB's async API on an event loop of its own: the sync API hands every
call to a background thread and asks Rust for the schema three times a query, ~2 ms of a
search's ~5 on two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Coroutine, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.cli import main as cli_main
from common.color import COLOR_DIM
from common.filters import dates_are_text, in_lance_dialect
from common.lancedb_import import import_lancedb
from common.locking import ReadersLock
from common.ordering import Order, order_columns, sort_indices
from common.records import (
    FEW_VALUE_COLUMNS,
    FILTER_COLUMNS,
    RECORD_COLUMNS,
    RECORD_TYPES,
    record_schema,
    records_to_arrow,
    vectors_to_arrow,
)
from common.store import (
    FilterError,
    Hit,
    ImageStore,
    IndexInfo,
    StoreError,
    best_rows,
    missing_record_columns,
    sql_string,
    version_of_unversioned_rows,
    where_and,
)
from common.text_search import FTS_OPTIONS, TextQuery, tokenize

# Lance warns on every listing of a vector index's statistics that centroids will leave them
# (imagedb reads only the index's segment count); opting in to that now keeps the warning off
# the user's terminal.
os.environ.setdefault("LANCE_INCLUDE_VECTOR_CENTROIDS", "false")

log = logging.getLogger("imagedb")
TABLE_NAME = "images"
INFO_KEY = b"imagedb.index"
# Below this many rows an exact (flat) scan is fast enough and perfectly accurate; above it an
# IVF-HNSW index keeps queries in milliseconds. Lance's flat scan costs ~1 ms per 1,000 rows
# here (10k: ~10 ms, 30k: ~60 ms) where the index answers in ~3 ms with recall@10 1.0 on
# clustered vectors and builds in ~3 s at 10k rows, so the index starts early (FAISS's flat
# scan is ~10× faster and waits until 50k).
ANN_INDEX_MIN_ROWS = 10_000
# The index keeps full vectors (HNSW-Flat), so its distances are exact and a search reads
# nothing but its hits. The quantised HNSW-SQ index imagedb built before needed its candidates
# re-ranked by their stored vectors, a random read of limit × 4 vectors: at 100k rows that was
# ~1.4 ms of a ~5 ms query and, with the filter, 13 against 10 ms (an in-process A/B, 400
# queries; the benchmark's 100k p50 went from 6.2-6.7 to 3.5-4.7 ms). The price: a slower build
# (88-110 against 60-62 s at 100k rows), 1.19 against 0.89 GB on disk, and on uniform random
# vectors, where every neighbour is nearly as far as the next, recall@10 0.40 against 0.47
# (clustered ones, like photos', keep 1.0). A re-index replaces an older index (``finish_indexing``).
VECTOR_INDEX_TYPE = "IvfHnswFlat"
# How many candidates the graph search keeps (HNSW's ``ef``): at least this many, and twice the
# rows asked for. Lance's default, 1.5 × the limit, found 98.8% of the true top 10 on clustered
# vectors at 100k rows; 40 finds all of them for ~0.1 ms.
ANN_MIN_CANDIDATES = 40
# Lance's optimize adds the rows each run wrote to the ANN index as a segment of their own (it
# merges segments only when an IVF partition splits), and a query searches every segment: at
# 100k rows, 21 segments (20 runs that changed 50 photos each) took a query from 5.1 to 13.2 ms
# p50. Past this many segments a run rebuilds the index in one piece, which costs that run
# ~90-110 s at 100k rows on two cores (~3 s at 10k), once in every eight that change photos.
MAX_VECTOR_INDEX_SEGMENTS = 8
# An older, quantised index's distances pick limit × this many candidates, re-ranked by their
# exact vectors.
ANN_REFINE_FACTOR = 4
# Columns of few values get bitmap indexes, the rest B-trees. (At 100k rows, a bitmap on country
# took a filtered vector search from 18.7 to 15.6 ms p50 and a listing from 21.5 to 13.9.)
BITMAP_COLUMNS = set(FEW_VALUE_COLUMNS)
# How long a reader may read the version it opened (``_remove_old_versions``): a search takes
# seconds, an export or --check of a million rows minutes.
READER_GRACE = timedelta(minutes=15)
CLEANUP_SLACK = timedelta(minutes=1)
KEEP_EVERY_VERSION = timedelta(days=365_000)  # an optimize that removes no version
# Each row's whole record, as JSON, in one column. Lance reads every selected column of a hit
# separately (~0.15 ms a column a query here), so returning the record columns (37 of them then) cost a search
# ~6 ms, more than finding the hits; reading this one column instead costs one. The typed
# columns stay for filters, indexes and anyone reading the table with other tools; both are
# written together from the same Arrow rows, so they cannot disagree.
RECORD_JSON = "record_json"
# The SQL type that adds a record column of each Arrow type to a table (``add_columns``).
SQL_TYPES = {"string": "STRING", "int64": "BIGINT", "int32": "INT", "float64": "DOUBLE", "bool": "BOOLEAN"}


def age_of_unread_versions(versions: list[dict[str, Any]], now: datetime) -> timedelta | None:
    """How old a version must be, for Lance's cleanup to remove it, when a reader may be reading
    any version that was the latest at some time in the last ``READER_GRACE`` (``versions`` as
    LanceDB lists them, ``now`` by the same clock); None when no version is to go.

    The one that was the latest ``READER_GRACE`` ago is the newest made before then: it and those
    after it stay, those before it go. Lance counts the age when it gets to the cleanup, after
    compacting, so ``CLEANUP_SLACK`` keeps that version however long the compaction takes."""
    made_before = [version["timestamp"] for version in versions if version["timestamp"] <= now - READER_GRACE]
    if len(made_before) < 2:  # none older than the one that was the latest then
        return None
    return now - max(made_before) + CLEANUP_SLACK


class LanceImageStore(ImageStore):
    """The ``images`` table of a LanceDB database folder."""

    backend = "lancedb"
    default_db_path = "imagedb-lancedb"

    def __init__(self, db_path: str, table: Any, loop: asyncio.AbstractEventLoop, readers: ReadersLock) -> None:
        self.db_path = db_path
        self.table = table  # a lancedb AsyncTable, driven by self._loop
        self._loop = loop
        self._readers = readers  # taken before the table was opened: held while it is read
        schema = self._wait(table.schema())
        metadata = schema.metadata or {}
        if INFO_KEY not in metadata:
            raise StoreError(f"{db_path} holds a LanceDB table that imagedb did not create (no model recorded)")
        self._info = IndexInfo.from_json(metadata[INFO_KEY].decode())
        # Record columns an older imagedb did not write: read as NULL, added before the first write.
        self._missing = missing_record_columns(schema.names, db_path, backend_columns=("vector", "color", RECORD_JSON))
        self._unversioned = version_of_unversioned_rows(self._missing)
        self._wrote = False
        self._text_index_seen = False
        self._text_index_has_positions = False  # (asked with _text_index_seen)
        self._vector_index: str | None = None
        self._vector_index_known = False
        self._phrases_said: set[str] = set()  # queries whose phrases an older text index searched as words

    def _wait(self, step: Coroutine[Any, Any, Any]) -> Any:
        """Run one LanceDB call to completion on this store's loop."""
        return self._loop.run_until_complete(step)

    # --- opening -------------------------------------------------------------------------
    @classmethod
    def exists(cls, db_path: str) -> bool:
        return os.path.isdir(os.path.join(db_path, f"{TABLE_NAME}.lance"))

    @classmethod
    def open(cls, db_path: str) -> LanceImageStore:
        lancedb = import_lancedb()

        async def open_table() -> Any:
            return await (await lancedb.connect_async(db_path)).open_table(TABLE_NAME)

        try:
            return cls._on_own_loop(db_path, open_table)
        except StoreError:
            raise
        except Exception as error:
            raise StoreError(f"cannot open the LanceDB table in {db_path}: {error}") from None

    @classmethod
    def create(cls, db_path: str, info: IndexInfo) -> LanceImageStore:
        lancedb = import_lancedb()

        async def create_table() -> Any:
            return await (await lancedb.connect_async(db_path)).create_table(TABLE_NAME, schema=table_schema(info))

        os.makedirs(db_path, exist_ok=True)
        return cls._on_own_loop(db_path, create_table)

    @classmethod
    def _on_own_loop(cls, db_path: str, table: Callable[[], Coroutine[Any, Any, Any]]) -> LanceImageStore:
        """The store for the table ``table()`` gives, on a new event loop of its own, holding the
        database's readers' lock from before the table is opened (both given up again when
        opening or creating fails, so a refused database leaves nothing behind)."""
        readers = ReadersLock(db_path)
        loop = asyncio.new_event_loop()
        try:
            return cls(db_path, loop.run_until_complete(table()), loop, readers)
        except BaseException:
            loop.close()
            readers.release()
            raise

    def close(self) -> None:
        if not self._loop.is_closed():
            self.table.close()
            self._loop.close()
            self._readers.release()

    @property
    def info(self) -> IndexInfo:
        return self._info

    def outdated(self) -> bool:
        """The table has a version newer than the one this store reads (a store reads the
        version that was the latest when it opened the table, however long it lives). Asking
        moves the table to the latest version; the caller opens the store again all the same,
        as what the store learnt of the table may have changed with it."""
        reading = self._wait(self.table.version())
        self._wait(self.table.checkout_latest())
        return self._wait(self.table.version()) != reading

    # --- reading -------------------------------------------------------------------------
    def count(self) -> int:
        return self._wait(self.table.count_rows())

    def count_videos(self) -> int:
        """Counted by LanceDB: ~3 ms at 100k rows, where reading every row's media type took 15-25."""
        if "media_type" in self._missing:
            return 0
        return self._wait(self.table.count_rows("media_type = 'video'"))

    def get_record_versions_before(self, version: int) -> dict[str, int | None]:
        if "record_version" in self._missing:
            if self._unversioned is not None and self._unversioned >= version:
                return {}
            paths = self._wait(self.table.query().select(["path"]).to_arrow()).column("path").to_pylist()
            return dict.fromkeys(paths, self._unversioned)
        query = self.table.query().select(["path", "record_version"])
        rows = self._wait(query.where(f"record_version IS NULL OR record_version < {int(version)}").to_arrow())
        return dict(zip(rows.column("path").to_pylist(), rows.column("record_version").to_pylist(), strict=True))

    def get_records(
        self, where: str | None = None, limit: int | None = None, order: Order | None = None
    ) -> list[dict[str, Any]]:
        """Records in path order, or ``order``. With a limit, the matching rows' ordering columns
        are read and sorted first and only the first ``limit`` records fetched: a `--where`
        search on a large table would otherwise read every matching record to show ten."""
        keys = order_columns(order or [])
        absent = [column for column in keys if column in self._missing]
        if absent:
            raise _not_there_yet(absent[0])
        rows = self._select(keys if limit else [*keys, RECORD_JSON], where)
        rows = rows.take(sort_indices(rows, order or []))
        if limit:
            paths = rows.column("path").to_pylist()[:limit]
            found = self.get_records_by_path(paths)
            return [found[p] for p in paths if p in found]
        return [_record(row) for row in rows.column(RECORD_JSON).to_pylist()]

    def get_all_records_in_chunks(self, size: int) -> Iterator[list[dict[str, Any]]]:
        reader = self._wait(self.table.query().select([RECORD_JSON]).to_batches(max_batch_length=size))

        async def next_batch() -> pa.RecordBatch | None:
            return await anext(reader, None)

        while (batch := self._wait(next_batch())) is not None:
            yield [_record(packed) for packed in batch.column(RECORD_JSON).to_pylist()]

    def get_columns(self, columns: list[str], where: str | None = None) -> pa.Table:
        present = [column for column in columns if column not in self._missing]
        rows = self._select(present, where)
        schema = record_schema()
        return pa.table(
            {
                column: rows.column(column) if column in present else pa.nulls(rows.num_rows, schema.field(column).type)
                for column in columns
            }
        )

    def _select(self, columns: list[str], where: str | None) -> pa.Table:
        """``columns`` of every row matching ``where`` (a condition LanceDB rejects: ``FilterError``)."""
        query = self.table.query().select(columns)
        if where:
            query = query.where(in_lance_dialect(where))
        with _filter_errors_explained(where, self._missing):
            return self._wait(query.to_arrow())

    def get_records_by_path(self, paths: Iterable[str]) -> dict[str, dict[str, Any]]:
        packed = self._rows_by_path(sorted(set(paths)), [RECORD_JSON]).column(RECORD_JSON).to_pylist()
        return {record["path"]: record for record in map(_record, packed)}

    def get_records_by_content_hash(self, hashes: Iterable[str]) -> dict[str, dict[str, Any]]:
        path_of: dict[str, str] = {}  # two short columns per match, the whole record for one path a hash
        for chunk in _chunks(sorted(hashes), 500):
            query = self.table.query().where(f"content_hash IN ({', '.join(map(sql_string, chunk))})")
            rows = self._wait(query.select(["path", "content_hash"]).to_arrow()).to_pydict()
            for path, content_hash in zip(rows["path"], rows["content_hash"], strict=True):
                path_of.setdefault(content_hash, path)
        return {record["content_hash"]: record for record in self.get_records_by_path(path_of.values()).values()}

    def get_vectors(self, paths: list[str]) -> dict[str, np.ndarray]:
        return self._arrays_by_path(paths, "vector", self.info.dim)

    def get_colors(self, paths: list[str]) -> dict[str, np.ndarray]:
        return self._arrays_by_path(paths, "color", COLOR_DIM)

    def _arrays_by_path(self, paths: list[str], column: str, width: int) -> dict[str, np.ndarray]:
        rows = self._rows_by_path(paths, [column])
        return dict(zip(rows.column("path").to_pylist(), _as_matrix(rows.column(column), width), strict=True))

    def _rows_by_path(self, paths: list[str], columns: list[str]) -> pa.Table:
        """``path`` and ``columns`` of the rows with these paths (any order), 500 paths a query."""
        chunks = [
            self._wait(self.table.query().where(_path_in(chunk)).select(["path", *columns]).to_arrow())
            for chunk in _chunks(paths, 500)
        ]
        if not chunks:
            return pa.table({"path": pa.array([], pa.string()), **{c: pa.array([]) for c in columns}})
        return pa.concat_tables(chunks)

    def get_all_vectors(self) -> tuple[list[str], np.ndarray]:
        rows = self._wait(self.table.query().select(["path", "vector"]).to_arrow())
        return rows.column("path").to_pylist(), _as_matrix(rows.column("vector"), self.info.dim)

    # --- health --------------------------------------------------------------------------
    def integrity_problems(self) -> list[str]:
        if self.count() and not self._has_text_index():
            return [
                "no full-text index (a run stopped before it indexed what it wrote?): --text finds nothing until --repair or --index"
            ]
        return []

    def rebuild_indexes(self) -> None:
        for index in self._indices():
            self._wait(self.table.drop_index(index.name))
        self._text_index_seen = self._text_index_has_positions = False
        self._wrote = True
        self.finish_indexing()

    # --- writing -------------------------------------------------------------------------
    def upsert_images(
        self, records: list[dict[str, Any]], vectors: np.ndarray, colors: np.ndarray | None = None
    ) -> None:
        if not records:
            return
        self._add_missing_columns()
        data = self._rows(records, vectors, colors)
        self._wait(
            self.table.merge_insert("path").when_matched_update_all().when_not_matched_insert_all().execute(data)
        )
        self._wrote = True

    def add_images(self, records: list[dict[str, Any]], vectors: np.ndarray, colors: np.ndarray | None = None) -> None:
        if not records:
            return
        self._add_missing_columns()
        self._wait(self.table.add(self._rows(records, vectors, colors)))
        self._wrote = True

    def _add_missing_columns(self) -> None:
        """Give a table an older imagedb made the record columns it lacks, NULL in its rows (the
        indexing run that writes fills them: from the rows' own fields where it can, reading their
        files again where it must)."""
        if self._missing:
            columns = {c: f"CAST(NULL AS {SQL_TYPES[RECORD_TYPES[c]]})" for c in self._missing}
            if self._unversioned is not None:
                columns["record_version"] = f"CAST({self._unversioned} AS INT)"
            self._wait(self.table.add_columns(columns))
            self._missing = []

    def _rows(self, records: list[dict[str, Any]], vectors: np.ndarray, colors: np.ndarray | None) -> pa.Table:
        """The table's rows for these records: their columns, the record as JSON, the vectors."""
        if colors is None:
            colors = np.zeros((len(records), COLOR_DIM), dtype=np.float32)
        data = records_to_arrow(records)
        data = data.append_column(RECORD_JSON, pa.array(_json_rows(data), pa.string()))
        for name, values, width in (("vector", vectors, self.info.dim), ("color", colors, COLOR_DIM)):
            data = data.append_column(pa.field(name, pa.list_(pa.float32(), width)), vectors_to_arrow(values, width))
        return data

    def delete_images(self, paths: list[str]) -> int:
        deleted = 0
        for chunk in _chunks(paths, 500):
            condition = _path_in(chunk)
            deleted += self._wait(self.table.count_rows(condition))
            self._wait(self.table.delete(condition))
        self._wrote = self._wrote or deleted > 0
        return deleted

    def finish_indexing(self) -> None:
        """Index what the run wrote: full-text, scalar and (once large enough) ANN indexes; give a
        table an older imagedb made the record columns it lacks, even when nothing was written.

        The small files the run's writes left are compacted first, so an index built here is
        built once, over the compacted files: built before, it was rewritten by the compaction,
        and a first index of 100k rows kept both copies (240 MB each). Last, the versions no
        reader can still be using go (``_remove_old_versions``)."""
        self._add_missing_columns()
        existing = {tuple(index.columns): index for index in self._indices()}
        text_index = existing.get(("search_text",))
        # An older imagedb's text index (no word positions, 40-byte words): rebuilt, even by a run
        # that changed nothing, so quoted phrases and long words can be searched.
        outdated_text_index = text_index is not None and not _built_as_now(text_index)
        missing_scalar = [c for c in ("path", *FILTER_COLUMNS) if (c,) not in existing]
        vector_index = existing.get(("vector",))
        current = vector_index is not None and vector_index.index_type == VECTOR_INDEX_TYPE
        rows = self.count()
        # A run stopped (Ctrl-C, a full disk) after its last rows were committed and before they
        # were indexed leaves indexes missing or rows outside them; the next run finds every file
        # unchanged and writes nothing, so it indexes them here (else --text finds nothing for good).
        unindexed = text_index is not None and self._wait(self.table.index_stats(text_index.name)).num_unindexed_rows
        missing = rows > 0 and (text_index is None or missing_scalar or (rows >= ANN_INDEX_MIN_ROWS and not current))
        if not (self._wrote or outdated_text_index or unindexed or missing):
            return
        from lancedb.index import FTS, Bitmap, BTree

        if self._wrote or unindexed:  # compacts the writes' small fragments, folds new rows into every index
            self._wait(self.table.optimize(cleanup_older_than=KEEP_EVERY_VERSION))
            rows = self.count()
        if rows:
            if text_index is None or outdated_text_index:
                self._wait(self.table.create_index("search_text", config=FTS(**FTS_OPTIONS), replace=True))
                self._text_index_seen = self._text_index_has_positions = False
            for column in missing_scalar:
                config = Bitmap() if column in BITMAP_COLUMNS else BTree()
                self._wait(self.table.create_index(column, config=config))
        if rows >= ANN_INDEX_MIN_ROWS and not current:
            self._build_vector_index()  # replacing an older imagedb's quantised one, if any
        elif current and self._vector_index_segments(vector_index.name) > MAX_VECTOR_INDEX_SEGMENTS:
            self._build_vector_index()
        self._remove_old_versions()
        self._wrote = False
        self._vector_index_known = False

    def _remove_old_versions(self) -> None:
        """Delete the versions of the table no reader can still be reading, and the files only
        they use. A reader (a search, a listing, an export) reads the version that was the latest
        when it opened the table, for as long as it runs. With no one else holding the database
        open (another process, or another store in this one: ``ReadersLock``), every older version
        goes; otherwise every version that was the latest at some time in the last
        ``READER_GRACE`` stays, and those before it go.

        Lance's default kept every version for 7 days: a first index of 100k photos on a CPU
        took 1.5 GB where its rows and indexes take 0.6 GB, the rest its writes' manifests
        (1,700 of them) and the files the compaction replaced."""
        with self._readers.no_other_reader() as alone:
            if alone:
                with warnings.catch_warnings():  # that no one else is using an older version: known here
                    warnings.filterwarnings("ignore", r"optimize\(cleanup_older_than=0\)", UserWarning)
                    self._wait(self.table.optimize(cleanup_older_than=timedelta(0)))
                return
        older_than = age_of_unread_versions(self._wait(self.table.list_versions()), datetime.now())
        if older_than is not None:
            self._wait(self.table.optimize(cleanup_older_than=older_than))

    def _vector_index_segments(self, name: str) -> int:
        """How many segments the ANN index is in (0 if another process dropped it meanwhile)."""
        stats = self._wait(self.table.index_stats(name))
        return stats.num_indices if stats is not None else 0

    def _build_vector_index(self) -> None:
        """(Re)build the ANN index over every row, in one segment; the old one goes in the same commit."""
        from lancedb.index import HnswFlat

        self._wait(self.table.create_index("vector", config=HnswFlat(distance_type="cosine"), replace=True))

    # --- searching -----------------------------------------------------------------------
    def search_by_vector(self, vector: np.ndarray, limit: int, where: str | None = None) -> list[Hit]:
        return self._nearest("vector", np.asarray(vector, dtype=np.float32), "cosine", limit, where)

    def search_by_color(self, signature: np.ndarray, limit: int, where: str | None = None) -> list[Hit]:
        return self._nearest("color", np.asarray(signature, dtype=np.float32), "dot", limit, where)

    def _nearest(self, column: str, target: np.ndarray, distance: str, limit: int, where: str | None) -> list[Hit]:
        query = self.table.query().nearest_to(target).column(column).distance_type(distance)
        refine = 1
        if column == "vector" and self._vector_index_type() not in (None, VECTOR_INDEX_TYPE):
            refine = ANN_REFINE_FACTOR
            query = query.refine_factor(refine)

        def nearest(wanted: int, last_path: str | None = None) -> pa.Table:
            # HNSW needs ef >= the candidates it returns; a flat scan ignores it.
            candidates = query.ef(max(ANN_MIN_CANDIDATES, 2 * wanted * refine))
            # Only the columns needed: each column read costs (see RECORD_JSON).
            columns = self._ranking_columns(wanted, limit, "_distance")
            rows = self._run(candidates.select(columns), where, wanted, last_path)
            # The score is the exact dot product (the vectors are unit length): Lance's "cosine"
            # and "dot" distances are both 1 - that, exact from a flat scan or the HNSW-Flat index
            # (within 7e-7 at 100k rows), and from an older quantised index once re-ranked by the
            # exact vectors. A score must mean the same on every index and backend; the hits'
            # vectors need not be read back for it.
            return rows.append_column("score", pa.array(1.0 - rows.column("_distance").to_numpy()))

        return self._hits(best_rows(nearest, limit, search_up_to=nearest))

    def search_by_text(self, query: str, limit: int, where: str | None = None) -> list[Hit]:
        search = self._text_search(query)
        if search is None:
            return []

        def matching(wanted: int, last_path: str | None = None) -> pa.Table:
            rows = self._run(search.select(self._ranking_columns(wanted, limit, "_score")), where, wanted, last_path)
            return rows.append_column("score", rows.column("_score"))

        return self._hits(best_rows(matching, limit, search_up_to=matching))

    def paths_matching_text(self, query: str, up_to: int, where: str | None = None) -> list[str]:
        """The paths alone (with their scores, which Lance adds anyway): reading the records of
        2,000 rows took a year's hybrid search 107 ms at 100k rows, the paths 9 ms."""
        search = self._text_search(query)
        if search is None:
            return []
        return self._run(search.select(["path", "_score"]), where, up_to).column("path").to_pylist()

    def _text_search(self, query: str) -> Any:
        """The full-text search of ``query``, None when there is no text index yet or the query
        searches no word."""
        if not self._has_text_index():
            return None
        text_query = self._text_query(query)
        return None if text_query is None else self.table.query().nearest_to_text(text_query)

    def _text_query(self, query: str) -> Any:
        """``query`` as Lance's query objects: its words (a ``MatchQuery``) and each quoted
        phrase (a ``PhraseQuery``), scores summed, each term a plus requires as a ``MUST``
        clause (scored as the others), what a minus leaves out as ``MUST_NOT`` clauses (which
        take nothing from the scores); None when it searches no word at all.
        Built here, not from the string: Lance takes a string in quotes for one phrase, and the
        words of one that only starts with a phrase for words. A text index an older imagedb
        built has no word positions; its phrases are searched as words (a phrase left out:
        rows holding all its words; a phrase required too) until the next --index rebuilds it."""
        from lancedb.query import BooleanQuery, FullTextOperator, MatchQuery, Occur, PhraseQuery

        parts = TextQuery.of(query)
        phrases, words = list(parts.phrases), parts.words
        required_phrases = [term for group in parts.required for term in group if " " in term]
        if (phrases or required_phrases or parts.left_out_phrases) and not self._text_index_has_positions:
            if query not in self._phrases_said:  # once: a hybrid search asks twice
                self._phrases_said.add(query)
                log.warning(
                    "the text index predates phrase search: %s searched as words, in any order "
                    "(the next --index rebuilds the index)",
                    ", ".join(f'"{phrase}"' for phrase in (*phrases, *required_phrases, *parts.left_out_phrases)),
                )
            phrases, words = [], " ".join([words, *phrases])

        def holding(term: str) -> Any:
            """A word, or a phrase: its words together where the index keeps positions, else all of them."""
            if " " not in term:
                return MatchQuery(term, "search_text")
            if self._text_index_has_positions:
                return PhraseQuery(term, "search_text")
            return MatchQuery(term, "search_text", operator=FullTextOperator.AND)

        clauses = [(Occur.SHOULD, PhraseQuery(phrase, "search_text")) for phrase in phrases]
        if tokenize(words):
            clauses.append((Occur.SHOULD, MatchQuery(words, "search_text")))
        for group in parts.required:  # any one of its alternatives, each scored as a term searched
            either = [(Occur.SHOULD, holding(term)) for term in group]
            clauses.append((Occur.MUST, BooleanQuery(either) if len(either) > 1 else either[0][1]))
        if not clauses:
            return None
        if parts.left_out_words:
            clauses.append((Occur.MUST_NOT, MatchQuery(" ".join(parts.left_out_words), "search_text")))
        clauses.extend((Occur.MUST_NOT, holding(phrase)) for phrase in parts.left_out_phrases)
        return BooleanQuery(clauses) if len(clauses) > 1 else clauses[0][1]

    @staticmethod
    def _ranking_columns(wanted: int, limit: int, score: str) -> list[str]:
        """The first query of a search (one row past the limit) reads the packed records too: it is
        usually the only one. Wider ones, ranking a tie that runs past the limit (``best_rows``),
        read path and score alone, a third of the time at 180k rows, and leave the records of the
        kept rows to ``_hits``."""
        return ["path", RECORD_JSON, score] if wanted <= limit + 1 else ["path", score]

    def _hits(self, rows: pa.Table) -> list[Hit]:
        scores = rows.column("score").to_pylist()
        if RECORD_JSON in rows.column_names:
            records = [_record(packed) for packed in rows.column(RECORD_JSON).to_pylist()]
        else:
            paths = rows.column("path").to_pylist()
            found = self.get_records_by_path(paths)
            # A row another process deleted since it was ranked is left out, not a crash.
            records = [found.get(path) for path in paths]
        return [Hit(record, float(score)) for record, score in zip(records, scores, strict=True) if record is not None]

    def _run(self, query: Any, where: str | None, limit: int, last_path: str | None = None) -> pa.Table:
        """``query``'s ``limit`` best rows that ``where`` lets through, only those whose path sorts
        at or before ``last_path`` if given (``best_rows`` ranking a long tie: the path's BTREE
        index finds them)."""
        condition = in_lance_dialect(where) if where else where
        if last_path is not None:
            condition = where_and(condition, f"path <= {sql_string(last_path)}")
        if condition:
            query = query.where(condition)  # prefiltered: the limit counts matching rows only
        with _filter_errors_explained(where, self._missing):
            return self._wait(query.limit(limit).to_arrow())

    def _indices(self) -> list[Any]:
        return self._wait(self.table.list_indices())

    def _vector_index_type(self) -> str | None:
        """The vector column's index type (``VECTOR_INDEX_TYPE``, or an older imagedb's
        quantised one), None while the table is too small for one. Asked once per store and again
        after ``finish_indexing``: should another process index the table meanwhile, the stale
        answer costs this one time (a flat scan, a needless re-ranking), never accuracy."""
        if not self._vector_index_known:
            found = [index for index in self._indices() if tuple(index.columns) == ("vector",)]
            self._vector_index = found[0].index_type if found else None
            self._vector_index_known = True
        return self._vector_index

    def _has_text_index(self) -> bool:
        # Once there, the index stays until this store drops it (rebuild_indexes): ask only until seen.
        if not self._text_index_seen:
            found = [index for index in self._indices() if tuple(index.columns) == ("search_text",)]
            self._text_index_seen = bool(found)
            self._text_index_has_positions = bool(found) and _has_positions(found[0])
        return self._text_index_seen


def _built_as_now(text_index: Any) -> bool:
    """Whether a full-text index was built with ``FTS_OPTIONS`` as they are: those an older
    imagedb built keep no word positions, or drop words of 40 bytes or more."""
    details = getattr(text_index, "index_details", None) or {}
    return all(details.get(option) == value for option, value in FTS_OPTIONS.items())


def _has_positions(text_index: Any) -> bool:
    """Whether a full-text index keeps word positions (phrase search): those imagedb built
    before phrase search keep none."""
    return bool((getattr(text_index, "index_details", None) or {}).get("with_position"))


def table_schema(info: IndexInfo) -> pa.Schema:
    """The record columns plus the vector, with the model recorded in the schema metadata."""
    schema = record_schema().append(pa.field("vector", pa.list_(pa.float32(), info.dim)))
    schema = schema.append(pa.field("color", pa.list_(pa.float32(), COLOR_DIM)))
    schema = schema.append(pa.field(RECORD_JSON, pa.string()))
    return schema.with_metadata({INFO_KEY: info.to_json().encode()})


@contextlib.contextmanager
def _filter_errors_explained(where: str | None, missing: Iterable[str] = ()) -> Iterator[None]:
    """A condition DuckDB accepted but LanceDB's SQL dialect rejects is a usage error, not a
    crash; so is one on a column an older imagedb's table does not have yet (``missing``)."""
    try:
        yield
    except (ValueError, RuntimeError) as error:
        if not where:
            raise
        absent = [column for column in missing if re.search(rf"\b{column}\b", where)]
        if absent:
            raise _not_there_yet(absent[0]) from None
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        reason = re.sub(r",?\s*\S+\.rs:\d+:\d+$", "", reason)  # where in Lance's Rust it was raised
        raise FilterError(
            f"LanceDB cannot evaluate --where {where!r}: {reason}{dates_are_text(where, reason)}"
        ) from None


def _not_there_yet(column: str) -> FilterError:
    """A column asked for that a table an older imagedb made does not have yet."""
    return FilterError(
        f"this index was made by an older imagedb and has no {column} column yet: --index its "
        "folders once to add it (files are read again where needed; nothing is re-embedded)"
    )


def _json_rows(data: pa.Table) -> list[str]:
    """Each row of the record columns as JSON, read back from the Arrow table that is written,
    so the packed copy holds exactly what the typed columns hold."""
    return [json.dumps(row, ensure_ascii=False) for row in data.select(list(RECORD_COLUMNS)).to_pylist()]


def _record(packed: str) -> dict[str, Any]:
    """A row's record from its packed JSON. One an older imagedb wrote lacks the columns added
    since, ``record_version`` among them: its version is read from what it lacks, as for a
    table without that column (``version_of_unversioned_rows``)."""
    record = json.loads(packed)
    if "record_version" not in record:
        record["record_version"] = version_of_unversioned_rows(c for c in RECORD_COLUMNS if c not in record)
    return record


def _path_in(paths: list[str]) -> str:
    return f"path IN ({', '.join(sql_string(p) for p in paths)})"


def _as_matrix(column: Any, width: int) -> np.ndarray:
    """A fixed-size-list column as an (n, width) float32 matrix; a null row reads as NaN.

    Copied a chunk at a time into the matrix: combining the chunks, then dropping the nulls,
    copied the whole column twice first (every vector at 100k rows: 1.1 GB at the peak, for
    200 MB of vectors)."""
    matrix = np.full((len(column), width), np.nan, dtype=np.float32)
    row = 0
    for chunk in getattr(column, "chunks", [column]):
        rows = matrix[row : row + len(chunk)]
        if len(chunk) and chunk.null_count == 0:
            rows[:] = chunk.flatten().to_numpy().reshape(-1, width)
        elif chunk.null_count < len(chunk):  # some rows null (they stay NaN); an empty or all-null chunk has none
            present = chunk.is_valid()
            rows[present.to_numpy(zero_copy_only=False)] = chunk.filter(present).flatten().to_numpy().reshape(-1, width)
        row += len(chunk)
    return matrix


def _chunks(items: list[str], size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def main(argv: list[str] | None = None) -> int:
    return cli_main(LanceImageStore, argv, prog="imagedb-lancedb.py")


if __name__ == "__main__":
    sys.exit(main())
