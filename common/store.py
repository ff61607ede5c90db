"""The contract every storage backend fulfils; the CLI and the pipeline speak only this.

A backend script (``imagedb-lancedb.py``, ``imagedb-faiss.py``) subclasses ``ImageStore``;
everything else — discovery, decoding, embedding, diffing, output — is shared, so the two
scripts differ only in how records are written, read, filtered, searched and persisted.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from common.embedding import ModelSpec
from common.ordering import Order

if TYPE_CHECKING:
    import pyarrow as pa

    from common.text_search import TextQuery


class StoreError(Exception):
    """The database cannot be used as asked (missing, inconsistent, built by another model)."""


class FilterError(Exception):
    """A ``--where`` condition that is not valid SQL over the record columns."""


def where_and(where: str | None, condition: str) -> str:
    """``where`` (if any) and ``condition``, as one condition a store takes (``--near``'s circle,
    ``--under``'s folders and a store's own bounds joined to the user's ``--where``)."""
    return f"({where}) AND {condition}" if where else condition


def sql_string(value: str) -> str:
    """A SQL string literal in a condition a store takes: single quotes doubled (a backslash is
    itself in both engines, LanceDB's DataFusion and DuckDB)."""
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Hit:
    """One search result: the stored record (no vector) and a relevance score, higher is better."""

    record: dict[str, Any]
    score: float
    extra: dict[str, Any] = field(default_factory=dict)


def rank_key(score: float, path: str) -> tuple[float, str]:
    """The one order every search lists its hits in: best score first, equal scores by path.

    Ties are real: byte-identical copies score alike on any vector query, BM25 gives equal scores
    to equally matching texts, reciprocal-rank fusion to mirrored ranks. Rows are written in the
    order decoding workers finish files, so without a rule of its own a tie would list in write
    order: differently after a re-index, and differently on the two backends.
    """
    return (-score, path)


# rank_key for Arrow tables (UTF-8 sorts bytewise in code-point order, as Python compares str).
RANK_SORT_KEYS = [("score", "descending"), ("path", "ascending")]

# Similarity scores are ranked and reported to this many decimals. Below that they are float
# noise: a vector's last bits depend on the batch it was embedded in, so a copy of a photo,
# embedded beside other files, scores 0.99999994 against the original's 1.0 on FAISS (LanceDB
# computes both as 1.0); a tie, and which copy a limit keeps, must not hinge on that.
SCORE_DECIMALS = 6


# A hybrid search that requires terms ranks by vector the rows holding them, read here, when
# fewer than this many do (``ImageStore._vector_half``): ~4 ms for 250 rows' vectors at 100k
# rows on LanceDB. Past it, they are a share of the rows large enough for the vector search to
# meet them early.
FEW_TEXT_MATCHES = 2000


def rounded_score(score: float) -> float:
    """``score`` to ``SCORE_DECIMALS`` decimals: how every similarity and BM25 score is ranked and shown."""
    return round(float(score), SCORE_DECIMALS)


def in_rank_order(hits: Iterable[Hit]) -> list[Hit]:
    """``hits`` sorted by ``rank_key``."""
    return sorted(hits, key=lambda hit: rank_key(hit.score, hit.record["path"]))


def best_rows(
    search: Callable[[int], pa.Table],
    limit: int,
    search_up_to: Callable[[int, str], pa.Table] | None = None,
) -> pa.Table:
    """The ``limit`` best rows of what ``search(n)`` finds, in rank order (``rank_key``).

    ``search(n)`` answers with its ``n`` best rows, ties in any order, as a table with ``score``
    and ``path`` columns beside whatever the store needs to make hits of them; the scores are
    rounded (``SCORE_DECIMALS``) before they are ranked. Sorting that answer is not enough when
    the limit cuts through a run of equal scores: the engine chose which of them made the cut.
    Asking for one more row than needed shows whether the run goes on past the limit; while it
    does, ask for sixteen times as many, so that the rank order, not the engine, picks who is in.
    One extra row per search in the usual case; a long tie (a metadata word every file of a
    folder matches equally: 'canon' in a camera's 14,000 photos of one naming scheme) ranks
    thousands of rows, which is why this works on columns and the store makes hits of the kept
    rows only. Each round runs the search again: growing sixteenfold, not fourfold, took
    LanceDB's metadata search p50 at 100k rows from 35 to 22 ms. The best ``limit`` rows are
    selected, not all rows sorted: at 1M rows, a word every file holds ('img') tied them all, and
    sorting them by path took 0.55 s, selecting ten 21 ms.

    A store that can search rows up to a path (``search_up_to(n, last_path)``: the ``n`` best
    of the rows whose path sorts at or before ``last_path``; LanceDB finds them by its index on
    paths, FAISS by comparing every path) gets a tie still running past sixteen times the limit
    ranked without reading it all (``_first_paths_of_a_tie``); a shorter one ends in the second
    round, as before, without that cost. LanceDB, reading every row of the tie, took 130 ms at
    100k rows for 'IMG_0004242' to rank the 99,999 rows that tie on 'img' behind the one it
    names; now 10-14 ms (FAISS at 300k rows: 30 -> 18 ms).
    """
    import pyarrow.compute as pc

    if limit <= 0:
        return search(1).slice(0, 0)
    wanted = limit + 1
    while True:
        rows = _rounded(search(wanted))
        best = _best_of(rows, limit)
        if rows.num_rows < wanted or pc.min(rows.column("score")).as_py() < best.column("score")[-1].as_py():
            return best
        if search_up_to is not None and wanted > limit + 1:
            return _first_paths_of_a_tie(rows, best, limit, search_up_to)
        wanted *= 16


def _first_paths_of_a_tie(
    rows: pa.Table, best: pa.Table, limit: int, search_up_to: Callable[[int, str], pa.Table]
) -> pa.Table:
    """The ``limit`` best rows, given ``rows``, an answer whose ``best`` end in a tie that runs
    past it: the rows scoring above the tie (all in ``rows``) and the first paths of the tie.

    The tie's ``needed`` first paths all sort at or before the ``needed``-th path of any tied
    rows at hand, so the search is asked again for rows up to that path only; its answer, if it
    holds rows scoring below the tie or fewer rows than asked, holds every tied row up to that
    path, so the first of them are the answer. Else its tied rows narrow the path again: with
    the engine's ties in an order unrelated to their paths, each round cuts the rows up to the
    path to a few hundredths, and rounds grow sixteenfold, as ``best_rows``' do, so an engine
    that hands the last paths over first costs no more rounds than reading the whole tie.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    tie = best.column("score")[-1]
    above = rows.filter(pc.greater(rows.column("score"), tie))
    needed = limit - above.num_rows
    tied = rows.filter(pc.equal(rows.column("score"), tie))
    wanted = rows.num_rows
    while True:
        first_paths = tied.column("path").take(pc.select_k_unstable(tied, needed, [("path", "ascending")]))
        wanted *= 16
        rows = _rounded(search_up_to(wanted, pc.max(first_paths).as_py()))
        tied = rows.filter(pc.equal(rows.column("score"), tie))
        if rows.num_rows < wanted or pc.min(rows.column("score")).as_py() < tie.as_py():
            # Later answers may read fewer columns than the first (the store makes hits of either).
            columns = [name for name in above.column_names if name in tied.column_names]
            return _best_of(pa.concat_tables([above.select(columns), tied.select(columns)]), limit)


def _rounded(rows: pa.Table) -> pa.Table:
    """``rows`` with their scores rounded to ``SCORE_DECIMALS``, as they are ranked."""
    import pyarrow.compute as pc

    score = rows.schema.get_field_index("score")
    return rows.set_column(score, "score", pc.round(rows.column(score).cast("float64"), SCORE_DECIMALS))


def _best_of(rows: pa.Table, limit: int) -> pa.Table:
    """The ``limit`` first of ``rows`` in rank order: the few kept selected, then sorted."""
    import pyarrow.compute as pc

    best = rows.take(pc.select_k_unstable(rows, k=min(limit, rows.num_rows), sort_keys=RANK_SORT_KEYS))
    return best.take(pc.sort_indices(best, sort_keys=RANK_SORT_KEYS))


@dataclass(frozen=True)
class IndexInfo:
    """What an index records about itself: which model made its vectors, and their width."""

    model: ModelSpec
    dim: int

    def to_json(self) -> str:
        return json.dumps({"model": self.model.to_dict(), "dim": self.dim}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> IndexInfo:
        data = json.loads(text)
        return cls(model=ModelSpec(**data["model"]), dim=int(data["dim"]))


class ImageStore(ABC):
    """One database of image records keyed by absolute path, each with a unit vector."""

    backend: ClassVar[str]
    default_db_path: ClassVar[str]
    db_path: str  # the folder it lives in

    # --- opening -----------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def exists(cls, db_path: str) -> bool:
        """Whether an index has been created at ``db_path``."""

    @classmethod
    @abstractmethod
    def open(cls, db_path: str) -> ImageStore:
        """Open an existing index for reading and writing."""

    @classmethod
    @abstractmethod
    def create(cls, db_path: str, info: IndexInfo) -> ImageStore:
        """Create an empty index recording the model that will fill it."""

    @property
    @abstractmethod
    def info(self) -> IndexInfo:
        """The model and vector width this index was built with."""

    # --- reading -----------------------------------------------------------------------
    @abstractmethod
    def count(self) -> int:
        """How many images are indexed."""

    def count_videos(self) -> int:
        """How many of the indexed files are videos (none in an index from before videos): their
        media types counted in Arrow, no SQL (an index run imports no DuckDB for it)."""
        import pyarrow.compute as pc

        media_types = self.get_columns(["media_type"]).column("media_type")
        return pc.sum(pc.equal(media_types, "video")).as_py() or 0

    @abstractmethod
    def get_record_versions_before(self, version: int) -> dict[str, int | None]:
        """The paths whose records an older describing rule wrote, with the ``record_version``
        each was written by (below ``version``; None: before versions were kept)."""

    def get_signatures(self) -> dict[str, tuple[int, float, float | None]]:
        """Every indexed path with its (size, mtime, its XMP sidecar's mtime or None) when it was
        described (``FoundFile.signature``)."""
        columns = self.get_columns(["path", "size_bytes", "mtime", "sidecar_mtime"]).to_pydict()
        signatures = zip(columns["size_bytes"], columns["mtime"], columns["sidecar_mtime"], strict=True)
        return dict(zip(columns["path"], signatures, strict=True))

    @abstractmethod
    def get_records(
        self, where: str | None = None, limit: int | None = None, order: Order | None = None
    ) -> list[dict[str, Any]]:
        """Stored records (without vectors) matching ``where``, in path order or in ``order``
        (``common.ordering``: missing values last, ties by path); with ``limit``, the first
        that many in that order."""

    @abstractmethod
    def get_all_records_in_chunks(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """Every stored record (without vectors), at most ``size`` at a time, in no particular
        order: a pass over the whole library (``--check``, ``--repair``) without holding it all
        in memory (at 100k rows, the records at once are ~0.4-1 GB)."""

    @abstractmethod
    def get_columns(self, columns: list[str], where: str | None = None) -> pa.Table:
        """These record columns (at their record types) of every row matching ``where``, in no
        particular order: what counting rows needs, without reading whole records. A column an
        older imagedb's index lacks comes back all null."""

    def count_matching(self, where: str) -> int:
        """How many rows match ``where``: one narrow column read (what a hint that something
        found nothing says of the conditions it names, never a hot path)."""
        return self.get_columns(["width"], where).num_rows

    def get_distinct_values(self, column: str, most: int) -> list[str] | None:
        """The distinct non-empty values of the text ``column``, sorted; None where it holds more
        than ``most`` (paths, a caption on every photo), which are not worth reading into Python."""
        values = self.get_columns([column]).column(column).unique()
        return sorted(value for value in values.to_pylist() if value) if len(values) <= most else None

    @abstractmethod
    def get_records_by_path(self, paths: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored records (without vectors) of those of ``paths`` that are indexed."""

    @abstractmethod
    def get_records_by_content_hash(self, hashes: Iterable[str]) -> dict[str, dict[str, Any]]:
        """One stored record for each of these sha256 hashes (``content_hash``) that some row
        has: a row a file with those bytes can take its vector from (``common.reuse``). One, not
        all: a library may hold thousands of copies of one picture."""

    @abstractmethod
    def get_vectors(self, paths: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of ``paths`` that are indexed."""

    @abstractmethod
    def get_all_vectors(self) -> tuple[list[str], np.ndarray]:
        """Every stored row's path and vector, duplicates included (what ``--check`` audits)."""

    # --- health ------------------------------------------------------------------------
    def integrity_problems(self) -> list[str]:
        """Backend-specific problems ``--check`` should report (its own files, its own indexes)."""
        return []

    @classmethod
    def salvage(cls, db_path: str) -> tuple[ImageStore, list[str], list[str]]:
        """Open whatever ``db_path`` still holds, mending the backend's own structures.

        Returns the store, what was done (in words) and the paths whose rows had to be dropped
        (their files need re-embedding). The default is a plain ``open``.
        """
        return cls.open(db_path), [], []

    def rebuild_indexes(self) -> None:
        """Rebuild secondary indexes from the rows (``--repair``); by default, bring them up to date."""
        self.finish_indexing()

    # --- writing -----------------------------------------------------------------------
    @abstractmethod
    def get_colors(self, paths: list[str]) -> dict[str, np.ndarray]:
        """The stored colour signatures (common.color) of ``paths`` that are indexed."""

    @abstractmethod
    def upsert_images(
        self, records: list[dict[str, Any]], vectors: np.ndarray, colors: np.ndarray | None = None
    ) -> None:
        """Insert or replace (by path) records with their vectors and colour signatures (zeros,
        "no colour known", when None), all or none; durable once ``commit`` returns (LanceDB
        commits each write at once, FAISS on ``commit``)."""

    def add_images(self, records: list[dict[str, Any]], vectors: np.ndarray, colors: np.ndarray | None = None) -> None:
        """Store rows for files the store does not hold yet, as ``upsert_images`` does.

        The indexer knows which files are new (it listed the store's paths under its roots, as
        the only writer), so a store may append them without looking for rows to replace: a
        LanceDB upsert joins on the path column and costs 2-3 times as much as an append. A path
        the store does hold may then be stored twice.
        """
        self.upsert_images(records, vectors, colors)

    @abstractmethod
    def delete_images(self, paths: list[str]) -> int:
        """Remove these paths, all or none, durable as writes are; returns how many were indexed."""

    def commit(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Make every write so far durable (a no-op for stores that commit on each write)."""

    def finish_indexing(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Bring secondary indexes (full-text, scalar, ANN) up to date after a run's writes."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release files and locks."""

    @abstractmethod
    def outdated(self) -> bool:
        """Whether another process has committed since this store read the database. A reader
        that lives long (``--search -``) opens it again then: to find what was indexed since,
        and to let go of files the writer's clean-up may delete once no reader should need them."""

    # --- searching ---------------------------------------------------------------------
    @abstractmethod
    def search_by_vector(self, vector: np.ndarray, limit: int, where: str | None = None) -> list[Hit]:
        """Nearest records by cosine similarity (the score), filtered by ``where``."""

    @abstractmethod
    def search_by_color(self, signature: np.ndarray, limit: int, where: str | None = None) -> list[Hit]:
        """Nearest records by colour signature (the score: Bhattacharyya coefficient, 0-1)."""

    @abstractmethod
    def search_by_text(self, query: str, limit: int, where: str | None = None) -> list[Hit]:
        """Records whose text field matches ``query`` (BM25 score), filtered by ``where``."""

    def search_hybrid(self, vector: np.ndarray, query: str, limit: int, where: str | None = None) -> list[Hit]:
        """The ``limit`` best by vector and the ``limit`` best by text, fused by reciprocal rank (the score).

        A row holding a word or phrase the query leaves out (``-nikon``), or lacking one it
        requires (``+2019``), is in neither ranking.
        One implementation for every store, over the store's own two searches: each ranks its
        ties by path (``best_rows``), so the fused ranks, and the answer, do not depend on the
        order rows were written in or on the backend. (LanceDB's hybrid query fuses in Python
        too, but its child queries leave ties at their limit to the engine and skip the exact
        re-ranking the vector search does on the ANN index.)

        When the query requires a term (``+2019``), the vector half keeps the rows holding it:
        asked for more and more rows until enough of them held it, the vector search read most
        of the index for a term few rows hold (11.8 s at 100k rows on LanceDB, for a word one
        photo holds). Those rows' vectors are ranked here instead when they are few
        (``_vector_half``).
        """
        from common.text_search import TextQuery, reciprocal_rank_fusion

        by_text = self.search_by_text(query, limit, where)
        parts = TextQuery.of(query)
        if parts.left_out or parts.required:  # what the text half leaves out, the vector half does too
            by_vector = self._vector_half(vector, query, parts, by_text, limit, where)
        else:
            by_vector = self.search_by_vector(vector, limit, where)
        records = {hit.record["path"]: hit.record for hit in (*by_text, *by_vector)}
        rankings = [[hit.record["path"] for hit in hits] for hits in (by_vector, by_text)]
        return [Hit(records[path], score) for path, score in reciprocal_rank_fusion(rankings)[:limit]]

    def _vector_half(
        self, vector: np.ndarray, query: str, parts: TextQuery, by_text: list[Hit], limit: int, where: str | None
    ) -> list[Hit]:
        """The ``limit`` rows nearest ``vector`` that ``query`` (taken apart: ``parts``) rules out
        none of (``by_text``: its text search's best ``limit``).

        Every row a query requiring terms keeps, its text search matches: when fewer than
        ``FEW_TEXT_MATCHES`` do (or ``by_text`` holds them all), their vectors are ranked here.
        Otherwise, and for a query that only leaves words out, the vector search is asked for
        more and more rows until enough are kept."""
        if parts.required:
            every_match = len(by_text) < limit
            if every_match:
                paths = [hit.record["path"] for hit in by_text]
            else:
                paths = self.paths_matching_text(query, FEW_TEXT_MATCHES, where)
            if every_match or len(paths) < FEW_TEXT_MATCHES:
                ranked = nearest_of(vector, self.get_vectors(paths))[:limit]
                # The records the text search read are at hand; the others are read (a row
                # another process deleted meanwhile is left out, not a crash).
                found = {hit.record["path"]: hit.record for hit in by_text}
                unread = [path for _, path in ranked if path not in found]
                if unread:
                    found |= self.get_records_by_path(unread)
                return [Hit(found[path], score) for score, path in ranked if path in found]
        return best_kept(
            lambda n: self.search_by_vector(vector, n, where),
            limit,
            lambda found: [hit for hit in found if not parts.rules_out(hit.record.get("search_text") or "")],
            limit,
        )[:limit]

    def paths_matching_text(self, query: str, up_to: int, where: str | None = None) -> list[str]:
        """The paths of up to ``up_to`` rows ``query``'s text search matches, in no particular
        order: every one when fewer match. (A store that can read the paths alone does so.)"""
        return [hit.record["path"] for hit in self.search_by_text(query, up_to, where)]


def nearest_of(vector: np.ndarray, vectors: dict[str, np.ndarray]) -> list[tuple[float, str]]:
    """The paths of ``vectors`` ranked by their cosine to ``vector``, with it, as a vector
    search ranks them (``rank_key``)."""
    if not vectors:
        return []
    paths = list(vectors)
    target = np.asarray(vector, dtype=np.float32)
    scores = (np.stack([vectors[path] for path in paths]) @ (target / (np.linalg.norm(target) or 1))).tolist()
    return sorted(zip(map(rounded_score, scores), paths, strict=True), key=lambda scored: rank_key(*scored))


def best_kept(
    search: Callable[[int], list[Hit]], wanted: int, kept_of: Callable[[list[Hit]], list[Hit]], enough: int
) -> list[Hit]:
    """What ``kept_of`` keeps of the ``wanted`` best hits ``search(n)`` gives (its ``n`` best, in
    rank order), asking for twice as many while it keeps fewer than ``enough`` and the search
    had as many as were asked for: each photo once, each scene once, rows a query leaves out."""
    while True:
        found = search(wanted)
        kept = kept_of(found)
        if len(kept) >= enough or len(found) < wanted:
            return kept
        wanted *= 2


# Errors that mean "the disk refused the write", whichever library met them (FAISS and LanceDB
# raise RuntimeError with the system's wording inside).
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO)


@contextlib.contextmanager
def write_errors_explained(db_path: str) -> Iterator[None]:
    """A refused write (disk full, read-only folder) is one line naming the database, not a traceback.

    Every store commits atomically, so what was committed before the failed write is kept.
    """
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
    except RuntimeError as error:
        reason = next((os.strerror(code) for code in WRITE_ERRNOS if os.strerror(code) in str(error)), None)
        if reason is None:
            raise
    else:
        return
    raise StoreError(f"cannot write to the database at {db_path}: {reason}; everything committed before is kept")


def version_of_unversioned_rows(missing: Iterable[str]) -> int | None:
    """The ``record_version`` rows lacking that column count as (an index, or a LanceDB row's
    packed record, from before it), given every record column they lack: 1 when the others
    came after version 1 (``COLUMNS_ADDED_IN``: the version just before ``record_version``
    described files as version 1 does, so its rows need not be read again); None, described
    before, when an older imagedb also left out a column version 1 has. None too when
    ``record_version`` is not missing: the rows say."""
    from common.records import COLUMNS_ADDED_IN

    missing = set(missing)
    if "record_version" not in missing:
        return None
    return 1 if all(COLUMNS_ADDED_IN.get(column, 1) > 1 for column in missing - {"record_version"}) else None


def missing_record_columns(names: Iterable[str], db_path: str, backend_columns: Iterable[str] = ()) -> list[str]:
    """The record columns a database made by an older imagedb lacks: a store opens it all the
    same, reading them as NULL, and adds them once it writes (the next --index fills them, from
    the rows' own fields or by reading the files again, the vectors kept). One that lacks what the backend keeps beside the record
    (``backend_columns``: vectors, colours) cannot be brought up to date that way: refused."""
    from common.records import RECORD_COLUMNS

    present = set(names)
    lost = [c for c in backend_columns if c not in present]
    if lost:
        raise StoreError(
            f"{db_path} was made by an older imagedb (no {', '.join(lost)} columns): "
            "index your folders into a new --db, or move this one aside"
        )
    return [c for c in RECORD_COLUMNS if c not in present]


def ensure_parent_dir(path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
