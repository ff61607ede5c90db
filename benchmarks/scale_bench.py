"""Store-only scale benchmark: random unit vectors with realistic metadata, no model.

Each (backend, rows) pair runs in its own process (``python -m benchmarks.scale_bench``) so its
peak RSS is its own. It reports build time, query p50/p95, recall@10 of whatever index the
backend chose against exact search, disk bytes and peak RSS, plus the references every figure
is read against: exact NumPy search and FAISS flat search on the same vectors.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.stats import directory_bytes, latency_stats, peak_rss_bytes, run_child, time_each  # noqa: E402

CAMERAS = [("Canon", "Canon EOS R6"), ("NIKON CORPORATION", "NIKON D750"), ("Apple", "iPhone 13 Pro"),
           ("SONY", "ILCE-7M3"), ("FUJIFILM", "X-T3"), ("samsung", "SM-G991B"), (None, None)]  # fmt: skip
SIZES = [(4032, 3024), (6000, 4000), (1920, 1080), (3024, 4032), (640, 480)]
WRITE_BATCH = 10_000
SCALE_FILTER = "make = 'Canon' AND width >= 1920"
# Filtered searches, each with the rows it lets through: a camera's larger photos (~9 % of the
# rows), and one album's photos (16 at 100k rows), a filter that lets few rows through: an IVF
# index that searches some of its lists answers it with fewer or other rows than an exact search.
FILTERS: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "filtered": (SCALE_FILTER, lambda record: record["make"] == "Canon" and record["width"] >= 1920),
    "album": ("folder = '/photos/2015/album-001'", lambda record: record["folder"] == "/photos/2015/album-001"),
}
# Metadata searches of the kinds people type: a camera, a model, a year, a file name, a phrase.
TEXT_QUERIES = ["canon", "nikon d750", "2019", "IMG_0004242", '"eos r6"', "iphone 13 pro 2015", "sony", "fujifilm x-t3"]
# Hybrid searches (a vector and metadata words, fused), by what their words ask of the rows:
# nothing, a word left out, and a term required that one row holds, one album's rows (250 a
# 100k rows), one year's (a fifteenth of them). ``{one_row}``: a file name the store holds.
HYBRID_QUERIES = {
    "words": "canon", "left_out": "canon -2019", "one_row": "canon +{one_row}",
    "one_album": "canon +album-001", "one_year": "canon +2019",
}  # fmt: skip


DISTRIBUTIONS = ("uniform", "clustered")


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def library_vectors(n: int, dim: int, seed: int, distribution: str) -> np.ndarray:
    """'uniform': random unit vectors, ANN's worst case (beyond the nearest, neighbours are barely
    closer than everything else). 'clustered': groups of ~100 around random centres at cosine ~0.8,
    the way a photo library's embeddings bunch into bursts and subjects."""
    if distribution == "uniform":
        return unit_vectors(n, dim, seed)
    centres = unit_vectors(max(1, n // 100), dim, seed)
    members = np.random.default_rng(seed + 7).integers(0, len(centres), n)
    noise = np.random.default_rng(seed + 8).standard_normal((n, dim), dtype=np.float32)
    # float32 throughout: NumPy 2 promotes float32 * np.float64 scalar to float64.
    vectors = centres[members] + np.float32(0.75 / np.sqrt(dim)) * noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32, copy=False)


def synthetic_records(start: int, stop: int, seed: int = 0) -> list[dict[str, Any]]:
    """Records shaped like a real photo library: albums by year, a handful of cameras, GPS on some."""
    rng = np.random.default_rng(seed + start)
    records = []
    for i in range(start, stop):
        make, model = CAMERAS[int(rng.integers(len(CAMERAS)))]
        width, height = SIZES[int(rng.integers(len(SIZES)))]
        year = 2010 + i % 15
        folder = f"/photos/{year}/album-{(i // 250) % 400:03d}"
        path = f"{folder}/IMG_{i:07d}.jpg"
        taken = f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00"
        records.append(
            {
                "path": path, "folder": folder, "filename": path.rsplit("/", 1)[1], "extension": "jpg",
                "size_bytes": int(rng.integers(300_000, 12_000_000)), "mtime": 1.6e9 + i, "modified": taken,
                "width": width, "height": height, "format": "JPEG", "mode": "RGB", "make": make, "model": model,
                "date_taken": taken if make else None, "iso": int(rng.choice([100, 200, 400, 800, 3200])) if make else None,
                "gps_latitude": float(rng.uniform(-60, 70)) if i % 3 == 0 else None,
                "gps_longitude": float(rng.uniform(-180, 180)) if i % 3 == 0 else None,
                "search_text": f"{path}\nIMG_{i:07d}.jpg\n{make or ''}\n{model or ''}\n{taken}",
                "indexed_at": 1.7e9,
            }
        )  # fmt: skip
    return records


def rows_let_through(rows: int, seed: int) -> dict[str, np.ndarray]:
    """The rows each of ``FILTERS`` lets through, among the first ``rows`` records (none: left out)."""
    allowed: dict[str, list[int]] = {name: [] for name in FILTERS}
    for start in range(0, rows, WRITE_BATCH):
        for offset, record in enumerate(synthetic_records(start, min(rows, start + WRITE_BATCH), seed)):
            for name, (_, lets_through) in FILTERS.items():
                if lets_through(record):
                    allowed[name].append(start + offset)
    return {name: np.array(found) for name, found in allowed.items() if found}


def filtered_search(
    store: Any, queries: np.ndarray, vectors: np.ndarray, where: str, allowed: np.ndarray, path_index: dict[str, int]
) -> dict[str, Any]:
    """Latencies of ``store``'s searches with ``where``, and their recall@10 against an exact
    search of the rows it lets through (``allowed``)."""
    found: list[list[int]] = []

    def search(query: np.ndarray) -> None:
        found.append([path_index[h.record["filename"]] for h in store.search_by_vector(query, 10, where)])

    latencies = time_each(list(queries), search)
    truth = allowed[np.argsort(-(queries @ vectors[allowed].T), axis=1)[:, :10]]
    recall = float(np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)]))
    return {"latency": latency_stats(latencies), "recall_at_10": recall, "rows_let_through": len(allowed)}


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ vectors.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def measure(
    backend: str, rows: int, dim: int, queries: int, distribution: str = "uniform", seed: int = 0
) -> dict[str, Any]:
    """Build a ``rows``-row store, query it, and compare with exact search."""
    import faiss

    from common.backends import store_class
    from common.embedding import ModelSpec
    from common.store import IndexInfo

    vectors = library_vectors(rows, dim, seed, distribution)
    # Queries near stored vectors, as real searches land near real photos.
    picks = np.random.default_rng(seed + 1).integers(0, rows, queries)
    query_vectors = vectors[picks] + np.float32(0.5 / np.sqrt(2)) * unit_vectors(queries, dim, seed + 2)
    query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
    assert vectors.dtype == query_vectors.dtype == np.float32
    truth = exact_top_k(vectors, query_vectors, 10)
    baseline_rss = peak_rss_bytes()

    with tempfile.TemporaryDirectory(prefix="imagedb-scale-") as workdir:
        cls = store_class(backend)
        store = cls.create(str(Path(workdir) / "db"), IndexInfo(ModelSpec("random", "none"), dim))
        started = time.perf_counter()
        for start in range(0, rows, WRITE_BATCH):
            stop = min(rows, start + WRITE_BATCH)
            store.upsert_images(synthetic_records(start, stop, seed), vectors[start:stop])
        store.commit()
        written = time.perf_counter()
        store.finish_indexing()
        built = time.perf_counter()
        store.close()
        store = cls.open(str(Path(workdir) / "db"))

        path_index = {f"IMG_{i:07d}.jpg": i for i in range(rows)}
        for q in query_vectors[:3]:
            store.search_by_vector(q, 10)
        found: list[list[int]] = []

        def search(q: np.ndarray) -> None:
            found.append([path_index[h.record["filename"]] for h in store.search_by_vector(q, 10)])

        latencies = time_each(list(query_vectors), search)
        recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
        recall_at_1 = float(np.mean([bool(f) and f[0] == t[0] for f, t in zip(found, truth, strict=True)]))
        filtered = {
            name: filtered_search(store, query_vectors, vectors, FILTERS[name][0], allowed, path_index)
            for name, allowed in rows_let_through(rows, seed).items()
        }
        first_text_ms, text = text_search_ms(store, rows)
        hybrid_ms = hybrid_search_ms(store, rows, query_vectors)
        lookup_ms = stored_vectors_lookup_ms(store, rows, vectors, seed)
        disk = directory_bytes(str(Path(workdir) / "db"))
        peak_rss = peak_rss_bytes()  # before the opens below, which hold two copies for a moment
        commit_ms = small_commit_ms(store, rows, vectors, seed)
        store.close()
        open_ms, after_commits_text_ms, later_first_text_ms = open_ms_of(cls, str(Path(workdir) / "db"), rows)

    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors)
    return {
        "backend": backend,
        "rows": rows,
        "distribution": distribution,
        "dim": dim,
        "write_seconds": written - started,
        "index_seconds": built - written,
        "build_seconds": built - started,
        "query": latency_stats(latencies),
        "filtered_query": filtered["filtered"]["latency"],
        "filtered_recall_at_10": filtered["filtered"]["recall_at_10"],
        "album_query": filtered["album"]["latency"] if "album" in filtered else None,
        "album_recall_at_10": filtered["album"]["recall_at_10"] if "album" in filtered else None,
        "first_text_query_ms": first_text_ms,
        "after_commits_first_text_query_ms": after_commits_text_ms,
        "later_first_text_query_ms": later_first_text_ms,
        "text_query": latency_stats(text),
        "hybrid_query_p50_ms": hybrid_ms,
        "stored_vectors_1000_ms": lookup_ms,
        "small_commit_ms": commit_ms,
        "open_ms": open_ms,
        "recall_at_10": recall,
        "recall_at_1": recall_at_1,
        "disk_bytes": disk,
        "peak_rss_bytes": peak_rss,
        "data_rss_bytes": baseline_rss,
        "reference": {
            "numpy_exact": latency_stats(time_each(list(query_vectors), lambda q: exact_top_k(vectors, q[None], 10))),
            "faiss_flat": latency_stats(time_each(list(query_vectors), lambda q: flat.search(q[None], 10))),
        },
    }


def text_search_ms(store: Any, rows: int, repeats: int = 5) -> tuple[float, list[float]]:
    """The first metadata search's ms in this process (what a cold ``--text`` pays beyond
    opening: FAISS reads the BM25 postings its last index run saved, LanceDB its text index), then each of
    ``TEXT_QUERIES`` ``repeats`` times. Checked, not only timed: a camera's search finds its rows."""
    started = time.perf_counter()
    hits = store.search_by_text(TEXT_QUERIES[0], 10)
    first_ms = 1000 * (time.perf_counter() - started)
    if len(hits) != min(10, rows) or any(hit.record["make"] != "Canon" for hit in hits):
        raise AssertionError(f"--text canon found {[hit.record['make'] for hit in hits]}")
    return first_ms, time_each(TEXT_QUERIES * repeats, lambda query: store.search_by_text(query, 10))


def hybrid_search_ms(store: Any, rows: int, query_vectors: np.ndarray, repeats: int = 5) -> dict[str, float]:
    """Median ms of each of ``HYBRID_QUERIES``, each with ``repeats`` query vectors. Checked, not
    only timed: every hit of a search requiring a term holds it."""
    from common.text_search import TextQuery

    def searched(query: str) -> tuple[list[list[Any]], list[float]]:
        found: list[list[Any]] = []
        latencies = time_each(list(query_vectors[:repeats]), lambda q: found.append(store.search_hybrid(q, query, 10)))
        return found, latencies

    one_row = f"IMG_{rows // 2:07d}"
    medians = {}
    for kind, written in HYBRID_QUERIES.items():
        query = written.format(one_row=one_row)
        parts = TextQuery.of(query)
        found, latencies = searched(query)
        wanted = 1 if kind == "one_row" else 10
        if any(len(hits) != wanted or any(parts.rules_out(h.record["search_text"]) for h in hits) for hits in found):
            raise AssertionError(f"hybrid {query!r} found {[[h.record['path'] for h in hits] for hits in found]}")
        medians[kind] = latency_stats(latencies)["p50_ms"]
    return medians


def stored_vectors_lookup_ms(store: Any, rows: int, vectors: np.ndarray, seed: int, paths: int = 1000) -> float:
    """Median ms to read back the stored vectors of ``paths`` random rows: what indexing a moved
    or copied library does for each group of 1,000 files (``common.reuse``). Checked, not only timed."""
    picks = np.random.default_rng(seed + 3).choice(rows, min(paths, rows), replace=False)
    wanted = [synthetic_records(int(i), int(i) + 1, seed)[0]["path"] for i in picks]
    times = []
    for _ in range(3):
        started = time.perf_counter()
        found = store.get_vectors(wanted)
        times.append(time.perf_counter() - started)
        if not all(np.allclose(found[path], vectors[i], atol=1e-5) for path, i in zip(wanted, picks, strict=True)):
            raise AssertionError("the store gave back other vectors than were stored")
    return 1000 * float(np.median(times))


def small_commit_ms(store: Any, rows: int, vectors: np.ndarray, seed: int, changed: int = 50) -> float:
    """Median ms to replace ``changed`` random rows (new vectors) and commit: what a --watch look
    that saw a few edited photos, or a run's periodic commit, costs at this size. Checked, not only timed."""
    rng = np.random.default_rng(seed + 4)
    times = []
    for _ in range(3):
        picks = rng.choice(rows, changed, replace=False)
        records = [synthetic_records(int(i), int(i) + 1, seed)[0] for i in picks]
        moved = vectors[picks] + np.float32(0.1) * unit_vectors(changed, vectors.shape[1], int(rng.integers(1 << 30)))
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
        started = time.perf_counter()
        store.upsert_images(records, moved)
        store.commit()
        times.append(time.perf_counter() - started)
        found = store.get_vectors([r["path"] for r in records])
        if not all(np.allclose(found[r["path"]], v, atol=1e-5) for r, v in zip(records, moved, strict=True)):
            raise AssertionError("the store gave back other vectors than were committed")
    return 1000 * float(np.median(times))


def open_ms_of(cls: Any, db_path: str, rows: int) -> tuple[float, float, float]:
    """Median ms to open the store (after ``small_commit_ms``' commits), what every cold search
    pays; ms of the first metadata search since those commits, in a new process (FAISS carries
    the BM25 postings saved before them over, reading the rows they changed, and saves them);
    and median ms of the first metadata search after each later open, what a later cold
    ``--text`` pays beyond opening (FAISS reads those postings; LanceDB reads its text index)."""
    store = cls.open(db_path)
    started = time.perf_counter()
    store.search_by_text(TEXT_QUERIES[0], 10)
    after_commits_ms = 1000 * (time.perf_counter() - started)
    store.close()
    opens, first_searches = [], []
    for _ in range(5):
        started = time.perf_counter()
        store = cls.open(db_path)
        opened = time.perf_counter()
        store.search_by_text(TEXT_QUERIES[0], 10)
        first_searches.append(time.perf_counter() - opened)
        opens.append(opened - started)
        if store.count() != rows:
            raise AssertionError(f"the store opened with {store.count()} rows, not {rows}")
        store.close()
    return 1000 * float(np.median(opens)), after_commits_ms, 1000 * float(np.median(first_searches))


def measure_in_subprocess(backend: str, rows: int, dim: int, queries: int, distribution: str) -> dict[str, Any]:
    """Run ``measure`` in a fresh interpreter so peak RSS belongs to this configuration alone."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.scale_bench",
        backend,
        str(rows),
        "--dim",
        str(dim),
        "--queries",
        str(queries),
        "--distribution",
        distribution,
    ]
    done = run_child(command, f"scale benchmark {backend} at {rows} rows", cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description="one store-only scale measurement, printed as JSON")
    parser.add_argument("backend")
    parser.add_argument("rows", type=int)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--distribution", choices=DISTRIBUTIONS, default="uniform")
    args = parser.parse_args()
    print(json.dumps(measure(args.backend, args.rows, args.dim, args.queries, args.distribution)))


if __name__ == "__main__":
    main()
