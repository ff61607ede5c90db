#!/usr/bin/env python3
"""imagedb on LanceDB: one table holds each image's vector and metadata together.

LanceDB gives this backend what FAISS + pandas must assemble by hand: SQL filters evaluated
inside the vector search (prefiltering), a native BM25 full-text index, hybrid search fused
by reciprocal rank, scalar indexes on the filter columns, versioned commits, and upserts by
key through ``merge_insert``. Vectors are computed by imagedb itself (batched), never by a
LanceDB embedding function.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.cli import main as cli_main
from common.color import COLOR_DIM
from common.records import FILTER_COLUMNS, RECORD_COLUMNS, RECORD_SCHEMA, records_to_arrow
from common.store import FilterError, Hit, ImageStore, IndexInfo, StoreError, require_record_columns
from common.text_search import FTS_OPTIONS

TABLE_NAME = "images"
INFO_KEY = b"imagedb.index"
# Below this many rows an exact (flat) scan is fast and perfectly accurate; above it an
# IVF-HNSW index keeps queries in milliseconds.
ANN_INDEX_MIN_ROWS = 50_000
# The index's quantised (SQ) distances pick limit × this many candidates, re-ranked by their
# exact vectors (see the scale section of the benchmark report for recall).
ANN_REFINE_FACTOR = 4
# Low-cardinality text columns get bitmap indexes, the rest B-trees.
BITMAP_COLUMNS = {"extension", "make", "model", "folder"}
KEEP_OLD_VERSIONS = timedelta(days=7)


def sql_string(value: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


class LanceImageStore(ImageStore):
    """The ``images`` table of a LanceDB database folder."""

    backend = "lancedb"
    default_db_path = "imagedb-lancedb"

    def __init__(self, db_path: str, table: Any) -> None:
        self.db_path = db_path
        self.table = table
        metadata = table.schema.metadata or {}
        if INFO_KEY not in metadata:
            raise StoreError(f"{db_path} holds a LanceDB table that imagedb did not create (no model recorded)")
        self._info = IndexInfo.from_json(metadata[INFO_KEY].decode())
        require_record_columns([n for n in table.schema.names if n != "vector"], db_path)
        self._wrote = False

    # --- opening -------------------------------------------------------------------------
    @classmethod
    def exists(cls, db_path: str) -> bool:
        return os.path.isdir(os.path.join(db_path, f"{TABLE_NAME}.lance"))

    @classmethod
    def open(cls, db_path: str) -> LanceImageStore:
        import lancedb

        try:
            table = lancedb.connect(db_path).open_table(TABLE_NAME)
        except Exception as error:
            raise StoreError(f"cannot open the LanceDB table in {db_path}: {error}") from None
        return cls(db_path, table)

    @classmethod
    def create(cls, db_path: str, info: IndexInfo) -> LanceImageStore:
        import lancedb

        schema = table_schema(info)
        table = lancedb.connect(db_path).create_table(TABLE_NAME, schema=schema)
        return cls(db_path, table)

    @property
    def info(self) -> IndexInfo:
        return self._info

    # --- reading -------------------------------------------------------------------------
    def count(self) -> int:
        return self.table.count_rows()

    def get_signatures(self) -> dict[str, tuple[int, float]]:
        columns = self.table.search().select(["path", "size_bytes", "mtime"]).limit(None).to_arrow().to_pydict()
        return {p: (s, m) for p, s, m in zip(columns["path"], columns["size_bytes"], columns["mtime"], strict=True)}

    def get_records(self, where: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        query = self.table.search().select(list(RECORD_COLUMNS))
        if where:
            query = query.where(where)
        with _filter_errors_explained(where):
            rows = query.limit(None).to_arrow().sort_by("path").to_pylist()
        return rows[:limit] if limit else rows

    def get_vectors(self, paths: list[str]) -> dict[str, np.ndarray]:
        return self._arrays_by_path(paths, "vector", self.info.dim)

    def get_colors(self, paths: list[str]) -> dict[str, np.ndarray]:
        return self._arrays_by_path(paths, "color", COLOR_DIM)

    def _arrays_by_path(self, paths: list[str], column: str, width: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for chunk in _chunks(paths, 500):
            rows = self.table.search().where(_path_in(chunk)).select(["path", column]).limit(None).to_arrow()
            found.update(zip(rows.column("path").to_pylist(), _as_matrix(rows.column(column), width), strict=True))
        return found

    def get_all_vectors(self) -> tuple[list[str], np.ndarray]:
        rows = self.table.search().select(["path", "vector"]).limit(None).to_arrow()
        return rows.column("path").to_pylist(), _as_matrix(rows.column("vector"), self.info.dim)

    # --- health --------------------------------------------------------------------------
    def integrity_problems(self) -> list[str]:
        if self.count() and not self._has_text_index():
            return ["no full-text index (an interrupted first run?): --text finds nothing until --repair or --index"]
        return []

    def rebuild_indexes(self) -> None:
        for index in self.table.list_indices():
            self.table.drop_index(index.name)
        self._wrote = True
        self.finish_indexing()

    # --- writing -------------------------------------------------------------------------
    def upsert_images(
        self, records: list[dict[str, Any]], vectors: np.ndarray, colors: np.ndarray | None = None
    ) -> None:
        if not records:
            return
        if colors is None:
            colors = np.zeros((len(records), COLOR_DIM), dtype=np.float32)
        data = records_to_arrow(records)
        for name, values, width in (("vector", vectors, self.info.dim), ("color", colors, COLOR_DIM)):
            flat = pa.array(np.ascontiguousarray(values, dtype=np.float32).ravel())
            data = data.append_column(
                pa.field(name, pa.list_(pa.float32(), width)), pa.FixedSizeListArray.from_arrays(flat, width)
            )
        self.table.merge_insert("path").when_matched_update_all().when_not_matched_insert_all().execute(data)
        self._wrote = True

    def delete_images(self, paths: list[str]) -> int:
        deleted = 0
        for chunk in _chunks(paths, 500):
            condition = _path_in(chunk)
            deleted += self.table.count_rows(condition)
            self.table.delete(condition)
        self._wrote = self._wrote or deleted > 0
        return deleted

    def finish_indexing(self) -> None:
        """Index what the run wrote: full-text, scalar and (once large enough) ANN indexes."""
        if not self._wrote:
            return
        from lancedb.index import FTS, Bitmap, BTree

        rows = self.count()
        existing = {tuple(index.columns): index for index in self.table.list_indices()}
        if rows:
            if ("search_text",) not in existing:
                self.table.create_index("search_text", config=FTS(**FTS_OPTIONS))
            for column in ("path", *FILTER_COLUMNS):
                if (column,) not in existing:
                    self.table.create_index(column, config=Bitmap() if column in BITMAP_COLUMNS else BTree())
            if rows >= ANN_INDEX_MIN_ROWS and ("vector",) not in existing:
                from lancedb.index import HnswSq

                self.table.create_index("vector", config=HnswSq(distance_type="cosine"))
        # Compacts the small fragments each batch wrote and folds new rows into every index.
        self.table.optimize(cleanup_older_than=KEEP_OLD_VERSIONS)
        self._wrote = False

    # --- searching -----------------------------------------------------------------------
    def search_by_vector(self, vector: np.ndarray, limit: int, where: str | None = None) -> list[Hit]:
        query_vector = np.asarray(vector, dtype=np.float32)
        query = (
            self.table.search(query_vector, vector_column_name="vector")
            .distance_type("cosine")
            .refine_factor(ANN_REFINE_FACTOR)
            .select([*RECORD_COLUMNS, "vector", "_distance"])  # not the colour signature: each column costs
        )
        rows = self._run(query, where, limit)
        # The score is the exact cosine (vectors are unit length): an ANN index may report its
        # own distance (IVF-HNSW-SQ returns squared L2), and a score must mean the same on
        # every index and backend.
        return [
            Hit(_record(row), float(np.dot(query_vector, np.asarray(row["vector"], dtype=np.float32)))) for row in rows
        ]

    def search_by_color(self, signature: np.ndarray, limit: int, where: str | None = None) -> list[Hit]:
        query_signature = np.asarray(signature, dtype=np.float32)
        query = (
            self.table.search(query_signature, vector_column_name="color")
            .distance_type("dot")
            .select([*RECORD_COLUMNS, "color", "_distance"])
        )
        rows = self._run(query, where, limit)
        return [
            Hit(_record(row), float(np.dot(query_signature, np.asarray(row["color"], dtype=np.float32))))
            for row in rows
        ]

    def search_by_text(self, query: str, limit: int, where: str | None = None) -> list[Hit]:
        if not self._has_text_index():
            return []
        search = self.table.search(query, query_type="fts", fts_columns="search_text")
        rows = self._run(search.select([*RECORD_COLUMNS, "_score"]), where, limit)
        return [Hit(_record(row), float(row["_score"])) for row in rows]

    def search_hybrid(self, vector: np.ndarray, query: str, limit: int, where: str | None = None) -> list[Hit]:
        if not self._has_text_index():
            return self.search_by_vector(vector, limit, where)
        from lancedb.rerankers import RRFReranker

        builder = (
            self.table.search(query_type="hybrid", vector_column_name="vector", fts_columns="search_text")
            .vector(np.asarray(vector, dtype=np.float32))
            .text(query)
            .distance_type("cosine")
            .rerank(RRFReranker())
        )
        rows = self._run(builder, where, limit)
        return [Hit(_record(row), float(row["_relevance_score"])) for row in rows]

    def _run(self, query: Any, where: str | None, limit: int) -> list[dict[str, Any]]:
        if where:
            query = query.where(where, prefilter=True)
        with _filter_errors_explained(where):
            return query.limit(limit).to_list()

    def _has_text_index(self) -> bool:
        return any(tuple(index.columns) == ("search_text",) for index in self.table.list_indices())


def table_schema(info: IndexInfo) -> pa.Schema:
    """The record columns plus the vector, with the model recorded in the schema metadata."""
    schema = RECORD_SCHEMA.append(pa.field("vector", pa.list_(pa.float32(), info.dim)))
    schema = schema.append(pa.field("color", pa.list_(pa.float32(), COLOR_DIM)))
    return schema.with_metadata({INFO_KEY: info.to_json().encode()})


@contextlib.contextmanager
def _filter_errors_explained(where: str | None) -> Iterator[None]:
    """A condition DuckDB accepted but LanceDB's SQL dialect rejects is a usage error, not a crash."""
    try:
        yield
    except (ValueError, RuntimeError) as error:
        if not where:
            raise
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FilterError(f"LanceDB cannot evaluate --where {where!r}: {reason}") from None


def _record(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in RECORD_COLUMNS}


def _path_in(paths: list[str]) -> str:
    return f"path IN ({', '.join(sql_string(p) for p in paths)})"


def _as_matrix(column: Any, width: int) -> np.ndarray:
    """A fixed-size-list column as an (n, width) float32 matrix; a null row reads as NaN."""
    column = column.combine_chunks()
    matrix = np.full((len(column), width), np.nan, dtype=np.float32)
    present = column.is_valid().to_numpy(zero_copy_only=False)
    if present.any():
        matrix[present] = column.filter(column.is_valid()).flatten().to_numpy().reshape(-1, width)
    return matrix


def _chunks(items: list[str], size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def main(argv: list[str] | None = None) -> int:
    return cli_main(LanceImageStore, argv, prog="imagedb-lancedb.py")


if __name__ == "__main__":
    sys.exit(main())
