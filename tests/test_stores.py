"""The two stores directly: ANN index above the size threshold, persistence, consistency checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from common.color import COLOR_DIM
from common.embedding import ModelSpec
from common.store import IndexInfo, StoreError
from conftest import BACKENDS, Cli, load_script, paint_photo, raw_lance_table, store_class

DIM = 32


class SimulatedKill(BaseException):
    """Stands for the process dying mid-commit (BaseException, like a signal, escapes except Exception)."""


def random_records(n: int, seed: int = 0) -> tuple[list[dict], np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [
        {
            "path": f"/photos/{i:05d}.jpg",
            "folder": "/photos",
            "filename": f"{i:05d}.jpg",
            "size_bytes": 1000 + i,
            "mtime": 1.0 + i,
            "width": 100 + i % 50,
            "make": ("Canon", "Nikon")[i % 2],
            "search_text": f"/photos/{i:05d}.jpg {('Canon', 'Nikon')[i % 2]}",
        }
        for i in range(n)
    ]
    return records, vectors


def new_store(backend: str, path: Path, monkeypatch=None, ann_min_rows: int | None = None):
    if ann_min_rows is not None:
        monkeypatch.setattr(load_script(backend), "ANN_INDEX_MIN_ROWS", ann_min_rows)
    cls = store_class(backend)
    return cls, cls.create(str(path), IndexInfo(ModelSpec("test-model", "none"), DIM))


@pytest.mark.parametrize("backend", BACKENDS)
def test_ann_index_above_threshold_finds_exact_neighbours_with_exact_scores(
    backend: str, tmp_path: Path, monkeypatch
) -> None:
    records, vectors = random_records(3000)
    cls, store = new_store(backend, tmp_path / "db", monkeypatch, ann_min_rows=1000)
    store.upsert_images(records, vectors)
    store.finish_indexing()
    store = cls.open(str(tmp_path / "db"))
    if backend == "lancedb":
        assert lance_vector_index_type(tmp_path / "db") == load_script("lancedb").VECTOR_INDEX_TYPE
    else:
        assert not load_script("faiss").is_flat(store.index)
    assert_exact_neighbours(store, records, vectors)

    filtered = store.search_by_vector(vectors[4], 10, "make = 'Nikon' AND width > 120")
    assert filtered and all(h.record["make"] == "Nikon" and h.record["width"] > 120 for h in filtered)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_filtered_search_on_an_ann_index_finds_the_best_of_the_rows_let_through(
    backend: str, tmp_path: Path, monkeypatch
) -> None:
    """However few rows a --where lets through, a search answers with the best of them, as an
    exact search would: FAISS's IVF index looked in a sixteenth of its lists and answered a
    filter of 60 rows in 3,000 with the few of them those lists held. A filter letting more
    through is answered no worse than an unfiltered search is (random vectors: ANN's worst case)."""
    records, vectors = random_records(3000, seed=12)
    # An album: a tenth of the rows (width 100, 110, ... 140), pictures alike.
    album = np.arange(0, 3000, 10)
    vectors[album] = vectors[0] + 0.1 * vectors[album]
    vectors[album] /= np.linalg.norm(vectors[album], axis=1, keepdims=True)
    cls, store = new_store(backend, tmp_path / "db", monkeypatch, ann_min_rows=1000)
    store.upsert_images(records, vectors)
    store.finish_indexing()
    store = cls.open(str(tmp_path / "db"))
    if backend == "faiss":
        assert not load_script("faiss").is_flat(store.index)
    queries = np.random.default_rng(13).standard_normal((20, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    def found_and_best(where: str | None, lets_through, asked=queries) -> list[tuple[list[int], list[int]]]:
        allowed = np.array([i for i in range(len(records)) if lets_through(i)])
        answers = []
        for query in asked:
            hits = store.search_by_vector(query, 10, where)
            assert all(lets_through(int(Path(hit.record["path"]).stem)) for hit in hits)
            best = allowed[np.argsort(-(vectors[allowed] @ query))[:10]].tolist()
            answers.append(([int(Path(hit.record["path"]).stem) for hit in hits], best))
        return answers

    five = (7, 700, 1400, 2100, 2800)
    selective = {
        f"path IN ({', '.join(repr(records[i]['path']) for i in five)})": lambda i: i in five,
        "width = 120": lambda i: 100 + i % 50 == 120,  # 60 rows: 1/50
        "width < 102 AND make = 'Nikon'": lambda i: 100 + i % 50 < 102 and i % 2 == 1,  # 60 rows
    }
    for where, lets_through in selective.items():
        for found, best in found_and_best(where, lets_through):
            assert found == best, where

    # The album searched for what it does not show: the lists nearest the query hold none of it.
    away = -vectors[:1] + 0.3 * queries[:5]
    away /= np.linalg.norm(away, axis=1, keepdims=True)
    for found, best in found_and_best("width IN (100, 110, 120, 130, 140)", lambda i: i % 10 == 0, away):
        assert found == best, "the album"

    def recall(answers: list[tuple[list[int], list[int]]]) -> float:
        return float(np.mean([len(set(found) & set(best)) / len(best) for found, best in answers]))

    unfiltered = recall(found_and_best(None, lambda i: True))
    broad = found_and_best("width < 110 AND make = 'Nikon'", lambda i: 100 + i % 50 < 110 and i % 2 == 1)  # 1/10
    assert all(len(found) == 10 for found, _ in broad)
    assert recall(broad) >= unfiltered


def lance_vector_index_type(db: Path) -> str | None:
    found = [i.index_type for i in raw_lance_table(db).list_indices() if tuple(i.columns) == ("vector",)]
    return found[0] if found else None


def assert_exact_neighbours(store, records: list[dict], vectors: np.ndarray) -> None:
    """Every 150th stored vector finds itself first, and every hit's score is its true cosine."""
    for i in range(0, len(records), 150):
        hits = store.search_by_vector(vectors[i], 5)
        assert hits[0].record["path"] == records[i]["path"]
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        for hit in hits:  # the score is the true cosine, whatever the index reports internally
            j = int(Path(hit.record["path"]).stem)
            assert hit.score == pytest.approx(float(vectors[j] @ vectors[i]), abs=1e-4)


def test_runs_that_change_a_few_photos_do_not_pile_up_lance_index_segments(tmp_path: Path, monkeypatch) -> None:
    """Each run that writes adds its rows to LanceDB's ANN index as a segment every query then
    searches; past MAX_VECTOR_INDEX_SEGMENTS the run rebuilds the index in one."""
    most = load_script("lancedb").MAX_VECTOR_INDEX_SEGMENTS
    records, vectors = random_records(3000, seed=5)
    cls, store = new_store("lancedb", tmp_path / "db", monkeypatch, ann_min_rows=1000)
    store.upsert_images(records, vectors)
    store.finish_indexing()

    def segments() -> int:
        table = raw_lance_table(tmp_path / "db")
        (name,) = [i.name for i in table.list_indices() if tuple(i.columns) == ("vector",)]
        return table.index_stats(name).num_indices

    seen = [segments()]
    rng = np.random.default_rng(6)
    for run in range(most):
        i = run * 7
        vectors[i] = rng.standard_normal(DIM).astype(np.float32)
        vectors[i] /= np.linalg.norm(vectors[i])
        store.upsert_images([records[i]], vectors[i : i + 1])
        store.finish_indexing()
        seen.append(segments())
    assert seen == [*range(1, most + 1), 1], "a segment a run, then one again"
    assert_exact_neighbours(cls.open(str(tmp_path / "db")), records, vectors)


def lance_files(db: Path) -> dict[str, int]:
    """How many files a LanceDB table holds on disk, by kind: its versions' manifests, data files
    and index segments (a folder each)."""
    table = db / "images.lance"
    return {
        "manifests": len(list((table / "_versions").glob("*.manifest"))),
        "data": len(list((table / "data").iterdir())),
        "index segments": len(list((table / "_indices").iterdir())),
    }


def test_a_lance_run_leaves_its_latest_version_alone_when_no_one_else_reads_the_table(
    tmp_path: Path, monkeypatch
) -> None:
    """Each write is a version and the run's compaction replaces their files: Lance's default kept
    them all for 7 days (a first index of 100k photos took 1.5 GB where its rows and indexes take
    0.6). With nobody else reading, a run ends holding its latest version's files alone."""
    records, vectors = random_records(1200, seed=8)
    cls, store = new_store("lancedb", tmp_path / "db", monkeypatch, ann_min_rows=1000)
    for start in range(0, 1200, 100):  # twelve writes, as a run's groups of photos
        store.add_images(records[start : start + 100], vectors[start : start + 100])
    store.finish_indexing()
    changed = np.roll(vectors[:50], 1, axis=1)  # other unit vectors: the same components, moved
    store.upsert_images(records[:50], changed)  # a later run replaces rows and removes others
    store.delete_images([r["path"] for r in records[1100:]])
    store.finish_indexing()
    store.close()

    table = raw_lance_table(tmp_path / "db")
    stats = table.stats()
    assert len(table.list_versions()) == 1
    assert lance_files(tmp_path / "db") == {
        "manifests": 1,
        "data": stats["fragment_stats"]["num_fragments"],
        "index segments": sum(table.index_stats(index.name).num_indices for index in table.list_indices()),
    }
    assert stats["num_rows"] == 1100
    vectors[:50] = changed
    assert_exact_neighbours(cls.open(str(tmp_path / "db")), records[:1100], vectors[:1100])


def test_a_lance_reader_keeps_reading_its_version_while_another_process_indexes(tmp_path: Path, monkeypatch) -> None:
    """A search reads the version that was the latest when it opened the table: a run that
    replaces and removes rows meanwhile keeps that version's files, and the next run that finds
    no one else reading drops them."""
    records, vectors = random_records(600, seed=9)
    cls, writer = new_store("lancedb", tmp_path / "db", monkeypatch)
    for start in range(0, 600, 100):
        writer.add_images(records[start : start + 100], vectors[start : start + 100])
    writer.finish_indexing()
    writer.close()
    reader = cls.open(str(tmp_path / "db"))
    first = [hit.record["path"] for hit in reader.search_by_vector(vectors[7], 5)]

    writer = cls.open(str(tmp_path / "db"))
    changed = np.roll(vectors[:300], 1, axis=1)  # other unit vectors: the same components, moved
    writer.upsert_images(records[:300], changed)
    writer.delete_images([r["path"] for r in records[300:400]])
    writer.finish_indexing()
    assert len(raw_lance_table(tmp_path / "db").list_versions()) > 1, "the reader's version is kept"
    assert [hit.record["path"] for hit in reader.search_by_vector(vectors[7], 5)] == first
    assert len(reader.get_records()) == 600 and len(reader.search_by_text("canon", 600)) == 300
    reader.close()

    writer.upsert_images(records[:1], changed[:1])
    writer.finish_indexing()
    writer.close()
    assert len(raw_lance_table(tmp_path / "db").list_versions()) == 1, "no one reads the old versions now"


def test_lance_cleanup_keeps_every_version_that_was_the_latest_within_the_readers_grace() -> None:
    """While another process reads the table, a version goes only once it stopped being the
    latest more than READER_GRACE ago: a reader that opened it since may still be reading it."""
    from datetime import datetime, timedelta

    lancedb_script = load_script("lancedb")
    grace, slack = lancedb_script.READER_GRACE, lancedb_script.CLEANUP_SLACK
    now = datetime(2026, 12, 3, 12, 0)
    made = [now - 3 * grace, now - 2 * grace, now - grace - timedelta(seconds=1), now - grace / 2, now]
    versions = [{"version": i + 1, "timestamp": t} for i, t in enumerate(made)]

    older_than = lancedb_script.age_of_unread_versions(versions, now)
    # Lance removes what was made before (the time it cleans up) - older_than: up to a slack later.
    for cleaned_at in (now, now + slack):
        removed = [v["version"] for v in versions if v["timestamp"] < cleaned_at - older_than]
        assert removed == [1, 2], "version 3 was the latest until grace/2 ago"
    assert lancedb_script.age_of_unread_versions(versions[2:], now) is None, "none older than the one to keep"
    assert lancedb_script.age_of_unread_versions(versions[3:], now) is None


def test_an_older_quantised_lance_index_still_gives_exact_scores_and_is_replaced_by_the_next_run(
    tmp_path: Path, monkeypatch
) -> None:
    """imagedb used to build LanceDB's HNSW-SQ index, whose distances are approximate: such a
    table must still answer with true cosines (re-ranked) until a run that writes replaces it."""
    records, vectors = random_records(3000, seed=3)
    cls, store = new_store("lancedb", tmp_path / "db", monkeypatch, ann_min_rows=1000)
    store.upsert_images(records, vectors)
    store.finish_indexing()
    store.close()
    raw_lance_table(tmp_path / "db").create_index(
        vector_column_name="vector", index_type="IVF_HNSW_SQ", metric="cosine"
    )
    assert lance_vector_index_type(tmp_path / "db") == "IvfHnswSq"

    store = cls.open(str(tmp_path / "db"))
    assert_exact_neighbours(store, records, vectors)

    changed = np.roll(vectors[:1], 1, axis=1)  # another unit vector: the same components, moved
    store.upsert_images(records[:1], changed)
    store.finish_indexing()
    assert lance_vector_index_type(tmp_path / "db") == load_script("lancedb").VECTOR_INDEX_TYPE
    assert_exact_neighbours(store, records, np.concatenate([changed, vectors[1:]]))


@pytest.mark.parametrize(("backend", "older_faiss_file"), [("lancedb", False), ("faiss", False), ("faiss", True)])
def test_an_ann_index_gives_back_stored_vectors_and_replaces_and_removes_rows(
    backend: str, older_faiss_file: bool, tmp_path: Path, monkeypatch
) -> None:
    """Moved files and copies take their vectors from the store (common.reuse) and a re-index
    replaces rows: above the ANN threshold as below it. FAISS finds an IVF index's entries through
    an id table that indexes written before it lacked (``older_faiss_file``: the table dropped)."""
    records, vectors = random_records(3000, seed=9)
    cls, store = new_store(backend, tmp_path / "db", monkeypatch, ann_min_rows=1000)
    store.add_images(records, vectors)
    store.finish_indexing()
    if older_faiss_file:
        import faiss

        generation = json.loads((tmp_path / "db" / "manifest.json").read_text())["generation"]
        index_file = tmp_path / "db" / f"images-{generation}.faiss"
        index = faiss.read_index(str(index_file))
        faiss.extract_index_ivf(index).set_direct_map_type(faiss.DirectMap.NoMap)
        faiss.write_index(index, str(index_file))
    store = cls.open(str(tmp_path / "db"))
    if backend == "faiss":
        import faiss

        assert not load_script("faiss").is_flat(store.index)
        has_table = faiss.extract_index_ivf(store.index).direct_map.type == faiss.DirectMap.Hashtable
        assert has_table != older_faiss_file

    wanted = [records[i]["path"] for i in (0, 1234, 2999)] + ["/not/indexed.jpg"]
    stored = store.get_vectors(wanted)
    assert sorted(stored) == sorted(wanted[:3])
    for i in (0, 1234, 2999):
        np.testing.assert_allclose(stored[records[i]["path"]], vectors[i], atol=1e-6)

    replacement = np.roll(vectors[10:20], 1, axis=0)  # rows 10-19 change pictures
    store.upsert_images(records[10:20], replacement)
    assert store.delete_images([records[i]["path"] for i in range(20, 30)]) == 10
    store.finish_indexing()
    store = cls.open(str(tmp_path / "db"))
    assert store.count() == 2990
    after = store.get_vectors([records[i]["path"] for i in range(10, 30)])
    assert sorted(after) == [records[i]["path"] for i in range(10, 20)], "removed rows have no vector"
    for i in range(10, 20):
        np.testing.assert_allclose(after[records[i]["path"]], replacement[i - 10], atol=1e-6)
    [hit] = store.search_by_vector(replacement[3], 1)
    assert (hit.record["path"], hit.score) == (records[13]["path"], pytest.approx(1.0, abs=1e-4))
    assert not store.search_by_vector(vectors[25], 1, where=f"path = '{records[25]['path']}'")


@pytest.mark.parametrize("backend", BACKENDS)
def test_small_index_is_exact(backend: str, tmp_path: Path) -> None:
    records, vectors = random_records(500, seed=1)
    cls, store = new_store(backend, tmp_path / "db")
    store.upsert_images(records, vectors)
    store.finish_indexing()
    query = vectors[7] + 0.3 * vectors[8]
    query /= np.linalg.norm(query)
    expected = np.argsort(-(vectors @ query))[:20]
    hits = cls.open(str(tmp_path / "db")).search_by_vector(query, 20)
    assert [h.record["path"] for h in hits] == [records[i]["path"] for i in expected]


@pytest.mark.parametrize("backend", BACKENDS)
def test_upsert_replaces_by_path_and_delete_removes(backend: str, tmp_path: Path) -> None:
    records, vectors = random_records(50, seed=2)
    cls, store = new_store(backend, tmp_path / "db")
    store.upsert_images(records, vectors)
    store.upsert_images(records[:10], vectors[10:20])
    assert store.delete_images([records[-1]["path"], "/not/indexed.jpg"]) == 1
    store.commit()
    store = cls.open(str(tmp_path / "db"))
    assert store.count() == 49
    assert len(store.get_signatures()) == 49
    stored = store.get_vectors([records[0]["path"], records[20]["path"]])
    np.testing.assert_allclose(stored[records[0]["path"]], vectors[10], atol=1e-6)
    np.testing.assert_allclose(stored[records[20]["path"]], vectors[20], atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_pass_over_every_record_in_chunks_gives_each_row_once_with_what_it_holds(
    backend: str, tmp_path: Path
) -> None:
    """--check and --repair read the library this way: 23 rows in chunks of 5, one replaced and
    one deleted after the rows were written in three commits."""
    records, vectors = random_records(24, seed=4)
    cls, store = new_store(backend, tmp_path / "db")
    for start in (0, 10, 20):
        store.upsert_images(records[start : start + 10], vectors[start : start + 10])
        store.commit()
    store.upsert_images([records[3] | {"width": 999}], vectors[3:4])
    store.delete_images([records[7]["path"]])
    store.commit()
    store = cls.open(str(tmp_path / "db"))
    chunks = list(store.get_all_records_in_chunks(5))
    assert all(len(chunk) <= 5 for chunk in chunks) and len(chunks) >= 5
    seen = [record for chunk in chunks for record in chunk]
    assert sorted(r["path"] for r in seen) == sorted(r["path"] for r in records if r is not records[7])
    by_path = {r["path"]: r for r in seen}
    assert by_path[records[3]["path"]]["width"] == 999 and by_path[records[4]["path"]]["make"] == "Canon"


@pytest.mark.parametrize("backend", BACKENDS)
def test_added_rows_are_stored_once_searchable_and_replaced_by_a_later_upsert(backend: str, tmp_path: Path) -> None:
    """The indexer adds the rows of new files (no row to replace: an append on LanceDB) and
    upserts those of changed ones; either way each path has one row, with its latest vector."""
    records, vectors = random_records(40, seed=3)
    cls, store = new_store(backend, tmp_path / "db")
    store.add_images(records[:30], vectors[:30])
    store.upsert_images(records[:5], vectors[35:40])
    store.add_images(records[30:], vectors[30:])
    store.finish_indexing()
    store.commit()
    store = cls.open(str(tmp_path / "db"))
    paths, stored = store.get_all_vectors()
    assert sorted(paths) == [r["path"] for r in records], "one row per path"
    by_path = dict(zip(paths, stored, strict=True))
    np.testing.assert_allclose(by_path[records[0]["path"]], vectors[35], atol=1e-6)
    np.testing.assert_allclose(by_path[records[33]["path"]], vectors[33], atol=1e-6)
    [hit] = store.search_by_vector(vectors[33], 1, where="make = 'Nikon'")
    assert (hit.record["path"], hit.score) == (records[33]["path"], pytest.approx(1.0, abs=1e-5))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_filtered_search_gives_the_nearest_matching_rows_also_after_rows_were_replaced_many_times(
    backend: str, tmp_path: Path
) -> None:
    """A filter lets through exactly its rows, before and after every row was replaced forty
    times over (FAISS hands each replacement a new id: the ids then run far past the rows, which
    changes how it selects them)."""
    records, vectors = random_records(60, seed=9)
    cls, store = new_store(backend, tmp_path / "db")
    store.upsert_images(records, vectors)
    query = vectors[4] + 0.5 * vectors[5]
    query /= np.linalg.norm(query)

    def expected(chosen: list[int], current: np.ndarray) -> list[tuple[str, float]]:
        scores = current[chosen] @ query
        return [(records[chosen[i]]["path"], float(scores[i])) for i in np.argsort(-scores)[:10]]

    def found(where: str) -> list[tuple[str, float]]:
        return [(h.record["path"], h.score) for h in store.search_by_vector(query, 10, where)]

    conditions = {
        "make = 'Nikon'": [i for i in range(60) if i % 2 == 1],
        "make = 'Canon' AND width >= 140": [i for i in range(60) if i % 2 == 0 and 100 + i % 50 >= 140],
        "path = '/photos/00007.jpg'": [7],
        "width > 1000": [],
    }
    for round_ in range(2):
        for where, chosen in conditions.items():
            got, want = found(where), expected(chosen, vectors)
            assert [p for p, _ in got] == [p for p, _ in want], (round_, where)
            np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
        for _ in range(40):
            vectors = random_records(60, seed=10 + _)[1]
            store.upsert_images(records, vectors)
        store.commit()
        store = cls.open(str(tmp_path / "db"))
    assert store.count() == 60


@pytest.mark.parametrize("backend", BACKENDS)
def test_records_by_content_hash_give_one_row_per_hash_among_thousands_of_copies(backend: str, tmp_path: Path) -> None:
    """A moved file looks its bytes up by hash (common.reuse); a library may hold 2,000 copies
    of one picture, and the lookup must answer with one of them, not all."""
    records, vectors = random_records(2100, seed=4)
    for i, record in enumerate(records):
        record["content_hash"] = "ab" * 32 if i < 2000 else f"{i:064x}"
    records[-1]["content_hash"] = None  # a row of an older version without a hash
    cls, store = new_store(backend, tmp_path / "db")
    store.add_images(records, vectors)
    store.commit()
    store = cls.open(str(tmp_path / "db"))
    wanted = {"ab" * 32, f"{2050:064x}", f"{9999:064x}", "not a hash"}
    found = store.get_records_by_content_hash(wanted)
    assert sorted(found) == sorted(["ab" * 32, f"{2050:064x}"])
    assert found[f"{2050:064x}"]["path"] == records[2050]["path"]
    assert found["ab" * 32]["path"] in {r["path"] for r in records[:2000]}
    assert (
        found["ab" * 32]["size_bytes"]
        == next(r for r in records if r["path"] == found["ab" * 32]["path"])["size_bytes"]
    )
    assert store.get_records_by_content_hash(set()) == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hit_carries_the_record_the_metadata_columns_hold_also_after_a_replace(backend: str, tmp_path: Path) -> None:
    """LanceDB reads a hit's record from its packed JSON column: it must say what the typed
    columns (the ones filters see) say, for awkward text and missing values too."""
    from common.records import RECORD_COLUMNS

    records, vectors = random_records(40, seed=5)
    awkward = "café 'quoted' \"x\" ✓\nline two"
    records[3].update(description=awkward, gps_latitude=51.501, iso=None)
    records[5].update(description=awkward)
    cls, store = new_store(backend, tmp_path / "db")
    store.upsert_images(records, vectors)
    store.commit()
    replaced = dict(records[3], description="edited", make="Sony")
    store.upsert_images([replaced], vectors[3:4])
    store.commit()
    store.finish_indexing()
    store.close()

    store = cls.open(str(tmp_path / "db"))
    stored = {r["path"]: r for r in store.get_records()}
    (hit,) = store.search_by_vector(vectors[3], 1)
    assert hit.record == stored[records[3]["path"]]
    facts = [hit.record[k] for k in ("description", "make", "gps_latitude", "iso")]
    assert facts == ["edited", "Sony", 51.501, None]
    assert store.search_by_vector(vectors[5], 1)[0].record["description"] == awkward
    (filtered,) = store.get_records("make = 'Sony'")
    assert filtered == hit.record
    assert store.search_by_vector(vectors[3], 1, "make = 'Canon'")[0].record["make"] == "Canon"
    if backend == "lancedb":
        import json

        table = raw_lance_table(tmp_path / "db").to_arrow()
        typed = table.select(list(RECORD_COLUMNS)).to_pylist()
        assert typed == [json.loads(row) for row in table.column("record_json").to_pylist()]


def test_metadata_search_with_a_limit_gives_the_first_rows_in_path_order(backend: str, tmp_path: Path) -> None:
    records, vectors = random_records(40, seed=6)
    order = np.random.default_rng(6).permutation(40)  # written out of path order, in two batches
    _, store = new_store(backend, tmp_path / "db")
    store.upsert_images([records[i] for i in order[:25]], vectors[order[:25]])
    store.upsert_images([records[i] for i in order[25:]], vectors[order[25:]])
    store.commit()
    store.finish_indexing()
    canon = sorted(r["path"] for r in records if r["make"] == "Canon")
    assert [r["path"] for r in store.get_records("make = 'Canon'")] == canon
    assert [r["path"] for r in store.get_records("make = 'Canon'", limit=3)] == canon[:3]
    assert store.get_records("make = 'Canon'", limit=3)[0]["size_bytes"] == next(
        r["size_bytes"] for r in records if r["path"] == canon[0]
    )
    assert [r["path"] for r in store.get_records(limit=5)] == sorted(r["path"] for r in records)[:5]
    assert store.get_records("make = 'Leica'", limit=5) == []


def test_equal_scores_list_in_path_order_and_a_limit_through_them_keeps_the_first_paths(
    backend: str, tmp_path: Path
) -> None:
    """Byte-identical copies tie on every vector and colour query, and equal texts on BM25.
    Written in reverse path order (workers hand files over as they finish), they still list by
    path on both backends, and a limit that cuts through the tie keeps the first paths."""
    from common.color import COLOR_DIM

    records, vectors = random_records(40, seed=7)
    rng = np.random.default_rng(7)
    colors = np.abs(rng.standard_normal((40, COLOR_DIM))).astype(np.float32)
    copies = [f"/photos/copy-{letter}.jpg" for letter in "edcba"]  # written e first, a last
    for path in copies:
        records.append({"path": path, "folder": "/photos", "filename": path[8:], "search_text": f"{path} holiday"})
    # The copies' vector and colour are new ones (a row of the 40 would tie with them too).
    vectors = np.vstack([vectors, np.repeat(-vectors[:1], len(copies), axis=0)])
    colors = np.vstack([colors, np.ones((len(copies), COLOR_DIM), np.float32)])
    colors /= np.linalg.norm(colors, axis=1, keepdims=True)
    cls, store = new_store(backend, tmp_path / "db")
    store.upsert_images(records, vectors, colors)
    store.commit()
    store.finish_indexing()
    store.close()
    store = cls.open(str(tmp_path / "db"))
    in_path_order = sorted(copies)

    def paths(hits: list) -> list[str]:
        return [hit.record["path"] for hit in hits]

    for limit in (2, 4, 8):
        expected = in_path_order[: min(limit, len(copies))]
        by_vector = store.search_by_vector(vectors[-1], limit)
        assert paths(by_vector)[: len(expected)] == expected
        assert len({hit.score for hit in by_vector[: len(expected)]}) == 1
        assert paths(store.search_by_color(colors[-1], limit))[: len(expected)] == expected
        assert paths(store.search_by_text("holiday", limit)) == expected
        assert paths(store.search_hybrid(vectors[-1], "holiday", limit))[: len(expected)] == expected
    assert paths(store.search_by_vector(vectors[-1], 2, "filename != 'copy-a.jpg'")) == in_path_order[1:3]


@pytest.mark.parametrize("backend", BACKENDS)
def test_rows_and_vectors_are_found_by_path_in_a_store_only_read(backend: str, tmp_path: Path) -> None:
    """A process that opens the store to search it finds rows and stored vectors by path (a
    search by a photo of the library) without FAISS building its table of every path, and
    after many lookups, with it built, finds the same; a path the store lacks is left out."""
    records, vectors = random_records(300, seed=5)
    cls, store = new_store(backend, tmp_path / "db")
    store.upsert_images(records, vectors)
    store.commit()
    store.close()
    store = cls.open(str(tmp_path / "db"))
    asked = ["/photos/00007.jpg", "/photos/00290.jpg", "/photos/missing.jpg", "/photos/00007.jpg"]
    answers = []
    for _ in range(20):  # past PATH_SCANS: the later ones through the table by path
        found = store.get_vectors(asked)
        assert sorted(found) == ["/photos/00007.jpg", "/photos/00290.jpg"]
        assert np.allclose(found["/photos/00290.jpg"], vectors[290], atol=1e-6)
        by_path = store.get_records_by_path(iter(asked))
        assert {p: r["size_bytes"] for p, r in by_path.items()} == {
            "/photos/00007.jpg": 1007,
            "/photos/00290.jpg": 1290,
        }
        answers.append((sorted(found), sorted(by_path)))
        if backend == "faiss" and len(answers) == 1:
            assert store._id_by_path is None, "a search process does not build the table of every path"
    assert all(answer == answers[0] for answer in answers)


def test_a_long_tie_is_cut_by_path_however_the_engine_orders_it() -> None:
    """Three rows score best, then 300 tie (a word every file of a folder holds once): the
    first ten are those three and the seven first paths of the tie, though the engine hands
    each answer over with its ties in the worst order, and asked for 11 rows the tie runs past
    its answer, and past 176."""
    import pyarrow as pa

    from common.store import best_rows

    tied = [f"/photos/{n:04d}.jpg" for n in np.random.default_rng(3).permutation(300)]
    paths = ["/photos/zz-best.jpg", "/photos/zz-second.jpg", "/photos/zz-third.jpg", *tied]
    scores = [3.0, 2.0, 1.5] + [1.0 + 1e-9 * (n % 2) for n in range(300)]  # equal once rounded
    asked: list[int] = []

    def search(wanted: int) -> pa.Table:
        asked.append(wanted)
        # The best scores, and of a tie the last paths, in no order: the worst an engine can do.
        chosen = sorted(range(len(paths)), key=lambda i: (round(scores[i], 6), paths[i]), reverse=True)[:wanted]
        chosen = [chosen[i] for i in np.random.default_rng(wanted).permutation(len(chosen))]
        return pa.table({"path": [paths[i] for i in chosen], "score": [scores[i] for i in chosen]})

    best = best_rows(search, 10)
    assert best.column("path").to_pylist() == paths[:3] + sorted(tied)[:7]
    assert best.column("score").to_pylist() == [3.0, 2.0, 1.5] + [1.0] * 7
    assert asked == [11, 176, 2816]


@pytest.mark.parametrize("engine_order", ["random", "first paths first", "last paths first"])
def test_a_long_tie_is_ranked_by_searching_up_to_a_path_not_by_reading_it_all(engine_order: str) -> None:
    """Three rows score best, 20,000 tie (a word every file holds, as 'img' in a camera's file
    names), 100 score less. A store that can search rows up to a path (LanceDB by its index on
    paths, FAISS by comparing them) gets the same ten as reading the whole tie would give: the three and the tie's seven
    first paths. With the engine's ties in an order unrelated to paths it reads about a thousand
    rows, not 20,000, and as few with the first paths first (rows written in path order); one
    that hands the last paths over first takes no more rounds than reading the whole tie does."""
    import pyarrow as pa

    from common.store import best_rows

    rng = np.random.default_rng(5)
    tied = [f"/photos/{n:05d}.jpg" for n in range(20_000)]
    lower = [f"/photos/less-{n:03d}.jpg" for n in range(100)]
    paths = ["/photos/zz-best.jpg", "/photos/zz-second.jpg", "/photos/zz-third.jpg", *tied, *lower]
    scores = [3.0, 2.0, 1.5] + [1.0] * len(tied) + [0.5] * len(lower)
    tie_order = {
        "random": rng.permutation(len(tied)),
        "first paths first": np.arange(len(tied)),
        "last paths first": np.arange(len(tied))[::-1],
    }[engine_order]
    engine_rank = [0, 1, 2, *(3 + tie_order), *range(3 + len(tied), len(paths))]  # its order, best first
    asked: list[int] = []
    rows_read = 0

    def search_up_to(wanted: int, last_path: str | None) -> pa.Table:
        nonlocal rows_read
        asked.append(wanted)
        chosen = [i for i in engine_rank if last_path is None or paths[i] <= last_path][:wanted]
        rows_read += len(chosen)
        return pa.table({"path": [paths[i] for i in chosen], "score": [scores[i] for i in chosen]})

    best = best_rows(lambda wanted: search_up_to(wanted, None), 10, search_up_to)
    assert best.column("path").to_pylist() == paths[:3] + tied[:7]
    assert best.column("score").to_pylist() == [3.0, 2.0, 1.5] + [1.0] * 7
    whole_tie_rounds = [11, 176, 2816, 45056]  # best_rows without a bounded search: 20,000 rows read
    if engine_order != "last paths first":
        assert rows_read < 2_000, asked
    else:
        assert len(asked) <= len(whole_tie_rounds), asked


def test_a_long_tie_on_a_store_lists_by_path_whatever_its_paths_hold(backend: str, tmp_path: Path) -> None:
    """400 files with one text, vector and colour, written in random order, paths with a quote,
    a backslash and an accent (an SQL literal's hard cases: LanceDB searches rows up to such a
    path), and two files that match the words twice: a search whose limit cuts through the tie
    lists the first paths, by text, vector and colour, filtered or not, on both backends."""
    rng = np.random.default_rng(11)
    tied = [f"/photos/O'Brien\\{n:03d} café.jpg" for n in range(400)]
    better = ["/photos/zz-twice-1.jpg", "/photos/zz-twice-2.jpg"]
    written = [tied[i] for i in rng.permutation(len(tied))] + better
    records = [
        {
            "path": path,
            "folder": "/photos",
            "filename": path.rsplit("/", 1)[1],
            "make": ("Canon", "Nikon")[n % 2],
            "search_text": "holiday holiday snapshot" if path in better else "holiday snapshot",
        }
        for n, path in enumerate(written)
    ]
    vector = np.zeros(DIM, np.float32)
    vector[0] = 1.0
    color = np.full(COLOR_DIM, 1 / np.sqrt(COLOR_DIM), np.float32)
    cls, store = new_store(backend, tmp_path / "db")
    store.upsert_images(records, np.tile(vector, (len(records), 1)), np.tile(color, (len(records), 1)))
    store.commit()
    store.finish_indexing()
    store.close()
    store = cls.open(str(tmp_path / "db"))
    bounds: list[str | None] = []
    if backend == "lancedb":
        run = store._run

        def run_noting_bounds(query, where: str | None, limit: int, last_path: str | None = None):
            bounds.append(last_path)
            return run(query, where, limit, last_path)

        store._run = run_noting_bounds
    canons = sorted(r["path"] for r in records if r["make"] == "Canon" and r["path"] in tied)

    def paths(hits: list) -> list[str]:
        return [hit.record["path"] for hit in hits]

    assert paths(store.search_by_text("holiday", 10)) == better + sorted(tied)[:8]
    # Matching 'snapshot' once in three words, the two rank below the tie.
    assert paths(store.search_by_text("snapshot", 10, "make = 'Canon'")) == canons[:10]
    assert paths(store.search_by_vector(vector, 10)) == sorted(better + tied)[:10]
    assert paths(store.search_by_color(color, 10)) == sorted(better + tied)[:10]
    if backend == "lancedb":
        assert any(bound is not None and "'" in bound for bound in bounds), "searched up to a path"


def test_the_model_is_recorded_with_the_index(backend: str, tmp_path: Path) -> None:
    cls, _ = new_store(backend, tmp_path / "db")
    info = cls.open(str(tmp_path / "db")).info
    assert info == IndexInfo(ModelSpec("test-model", "none"), DIM)


def faiss_store_holding_ten(tmp_path: Path, seed: int):
    """A FAISS store with the first 10 of 20 random records committed."""
    records, vectors = random_records(20, seed=seed)
    cls, store = new_store("faiss", tmp_path / "db")
    store.upsert_images(records[:10], vectors[:10])
    store.commit()
    return load_script("faiss"), cls, store, records, vectors


def crashing_at_the_manifest_switch(faiss_module, monkeypatch) -> Callable[[], None]:
    """Make the FAISS store's next manifest write die as a killed process would (its other files
    written); what is returned heals it, as the next process is healthy."""
    real_write = faiss_module.write_atomically

    def crash_on_manifest(path: str, write) -> None:
        if path.endswith("manifest.json"):
            raise SimulatedKill("killed while committing")
        real_write(path, write)

    monkeypatch.setattr(faiss_module, "write_atomically", crash_on_manifest)
    return lambda: monkeypatch.setattr(faiss_module, "write_atomically", real_write)


def test_faiss_crash_before_the_manifest_switch_keeps_the_previous_state(tmp_path: Path, monkeypatch) -> None:
    faiss_module, cls, store, records, vectors = faiss_store_holding_ten(tmp_path, seed=3)
    heal = crashing_at_the_manifest_switch(faiss_module, monkeypatch)
    store.upsert_images(records[10:], vectors[10:])
    with pytest.raises(SimulatedKill):
        store.commit()
    heal()  # the next process is healthy
    reopened = cls.open(str(tmp_path / "db"))
    assert reopened.count() == 10
    assert sorted(reopened.get_signatures()) == [r["path"] for r in records[:10]]
    reopened.upsert_images(records[10:12], vectors[10:12])
    reopened.commit()
    # One generation is left: its vectors, colour signatures and metadata.
    assert len(list((tmp_path / "db").glob("images-*"))) == 3, "the crashed commit's files are cleaned up"


def test_faiss_reader_that_loses_a_race_with_a_commit_reads_the_new_generation(tmp_path: Path, monkeypatch) -> None:
    """A search opens the manifest, then a writer commits and deletes that generation's files."""
    faiss_module, cls, writer, records, vectors = faiss_store_holding_ten(tmp_path, seed=4)

    real_read = faiss_module.read_manifest
    commits_in_between = []

    def read_then_writer_commits(db_path: str) -> dict:
        manifest = real_read(db_path)
        if not commits_in_between:  # the writer wins the race once
            writer.upsert_images(records[10:], vectors[10:])
            writer.commit()
            commits_in_between.append(manifest["generation"])
        return manifest

    monkeypatch.setattr(faiss_module, "read_manifest", read_then_writer_commits)
    reader = cls.open(str(tmp_path / "db"))
    assert commits_in_between and reader.generation != commits_in_between[0]
    assert sorted(reader.get_signatures()) == [r["path"] for r in records], "the reader sees the new commit"


def test_faiss_metadata_search_keeps_its_word_postings_for_the_next_process_and_carries_them_over_a_commit(
    tmp_path: Path, monkeypatch
) -> None:
    """The first metadata search after a commit makes the word postings and saves them beside
    the index; the next process reads them instead of making them again. After a commit, the
    first search carries the postings of the commit before over, reading only the rows changed
    since; rows not yet committed are searched, never saved; a commit keeps the newest postings
    of an earlier commit and deletes the older ones; a damaged or unwritable file costs work,
    never a wrong answer."""
    from common.text_search import Postings

    faiss_module, cls, store, records, vectors = faiss_store_holding_ten(tmp_path, seed=5)
    db = tmp_path / "db"
    real_build = Postings.of
    read: list[list[str | None]] = []

    def reading(_cls, documents):
        read.append(list(documents))
        return real_build(documents)

    monkeypatch.setattr(Postings, "of", classmethod(reading))
    canon = [r["path"] for r in records[:10] if r["make"] == "Canon"]
    assert [h.record["path"] for h in store.search_by_text("Canon", 10)] == canon
    assert read == [[r["search_text"] for r in records[:10]]], "none to carry over: every row read"
    (saved,) = db.glob("text-*.npz")
    read.clear()
    assert [h.record["path"] for h in cls.open(str(db)).search_by_text("Canon", 10)] == canon
    assert read == [], "the next process reads the saved postings"

    edited = {**records[2], "search_text": f"{records[2]['path']} Leica", "make": "Leica"}
    store.upsert_images([*records[10:], edited], np.vstack([vectors[10:], vectors[2:3]]))
    all_canon = [r["path"] for r in records if r["make"] == "Canon" and r["path"] != edited["path"]]
    assert [h.record["path"] for h in store.search_by_text("Canon", 20)] == all_canon
    assert [h.record["path"] for h in store.search_by_text("Leica", 20)] == [edited["path"]]
    new_texts = [r["search_text"] for r in records[10:]] + [edited["search_text"]]
    assert read == [new_texts], "carried over, only the rows written since read"
    assert list(db.glob("text-*.npz")) == [saved], "rows not committed are never saved"
    store.commit()
    assert list(db.glob("text-*.npz")) == [saved], "kept for the first search after the commit"

    read.clear()
    reopened = cls.open(str(db))
    assert [h.record["path"] for h in reopened.search_by_text("Canon", 20)] == all_canon
    assert [h.record["path"] for h in reopened.search_by_text("Leica", 20)] == [edited["path"]]
    assert [h.record["path"] for h in reopened.search_by_text(records[2]["path"], 1)] == [edited["path"]]
    assert read == [new_texts]
    (current,) = set(db.glob("text-*.npz")) - {saved}

    current.write_bytes(b"not postings")
    read.clear()
    assert [h.record["path"] for h in cls.open(str(db)).search_by_text("Canon", 20)] == all_canon
    assert read == [new_texts], "a damaged file is passed over for the newest readable one"
    assert Postings.read(str(current), len(records)) is not None, "the damaged file is made again"

    store.delete_images([records[0]["path"]])
    store.commit()
    assert list(db.glob("text-*.npz")) == [current], "a commit keeps the newest postings alone"
    current.unlink()

    def unwritable(path: str, write, durable: bool = True) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(faiss_module, "write_atomically", unwritable)
    read.clear()
    assert [h.record["path"] for h in cls.open(str(db)).search_by_text("Canon", 20)] == all_canon[1:]
    assert read == [[r["search_text"] for r in records[1:] if r["path"] != edited["path"]] + [edited["search_text"]]]
    assert not list(db.glob("text-*.npz"))


def test_faiss_saves_its_word_postings_at_the_end_of_a_run_that_wrote(tmp_path: Path, monkeypatch) -> None:
    """A run that wrote ends with the word postings saved beside the index (as LanceDB's builds
    its text index), so the first metadata search, in any process, reads them instead of making
    them; a run that wrote nothing makes none (an unchanged re-index stays quick)."""
    from common.text_search import Postings

    records, vectors = random_records(30, seed=8)
    cls, store = new_store("faiss", tmp_path / "db")
    db = tmp_path / "db"
    store.upsert_images(records, vectors)
    store.commit()
    store.finish_indexing()
    (saved,) = db.glob("text-*.npz")
    made: list[int] = []
    real_build = Postings.of
    monkeypatch.setattr(Postings, "of", classmethod(lambda _cls, docs: made.append(len(docs)) or real_build(docs)))
    canon = [r["path"] for r in records if r["make"] == "Canon"][:10]
    assert [h.record["path"] for h in cls.open(str(db)).search_by_text("Canon", 10)] == canon
    assert made == [], "the first search read the saved postings"

    saved.unlink()
    unchanged = cls.open(str(db))
    unchanged.finish_indexing()
    assert not list(db.glob("text-*.npz")), "a run that wrote nothing made none"
    assert made == []


def test_faiss_reads_its_vectors_and_colours_only_when_a_search_or_a_write_needs_them(tmp_path: Path) -> None:
    """An open reads the metadata alone: a metadata search or a listing never reads the vectors
    (2 KB a row), a search by vector or text never reads the colour signatures (1 KB). Damaged,
    either fails what needs it and --check, which say to repair, not what does without it. A
    commit that deletes them after an open cannot take them from that open: they were opened
    with the rest."""
    import faiss

    faiss_module, cls, store, records, vectors = faiss_store_holding_ten(tmp_path, seed=9)
    db = tmp_path / "db"
    colors = np.abs(np.random.default_rng(9).standard_normal((10, COLOR_DIM))).astype(np.float32)
    colors /= np.linalg.norm(colors, axis=1, keepdims=True)
    store.upsert_images(records[:10], vectors[:10], colors)
    store.commit()
    (colour_file,) = db.glob("images-*.color.faiss")
    (vector_file,) = set(db.glob("images-*.faiss")) - {colour_file}
    whole, whole_vectors = colour_file.read_bytes(), vector_file.read_bytes()

    reader = cls.open(str(db))
    vector_file.write_bytes(b"not an index")  # in place: the file the open holds, not read yet
    assert reader.search_by_text(records[4]["path"], 1)[0].record["path"] == records[4]["path"]
    assert [r["path"] for r in reader.get_records(where="make = 'Canon'")] == [
        r["path"] for r in records[:10] if r["make"] == "Canon"
    ]
    with pytest.raises(StoreError, match=r"inconsistent: the vectors are unreadable.*--repair") as refused:
        reader.search_by_vector(vectors[3], 1)
    assert "not recognized" in str(refused.value) and ".cpp" not in str(refused.value), "FAISS's words, not its C++"
    problems = check_store_problems(cls.open(str(db)))
    assert any("the vectors are unreadable" in problem for problem in problems), problems
    vector_file.write_bytes(whole_vectors)

    reader = cls.open(str(db))
    assert reader.search_by_vector(vectors[3], 1)[0].record["path"] == records[3]["path"]
    assert reader.search_by_text(records[4]["path"], 1)[0].record["path"] == records[4]["path"]
    colour_file.write_bytes(b"not an index")  # in place: the file the open holds, not read yet
    with pytest.raises(StoreError, match=r"inconsistent: the colour signatures are unreadable.*--repair"):
        reader.search_by_color(colors[5], 1)
    assert reader.search_by_vector(vectors[3], 1)[0].record["path"] == records[3]["path"]
    problems = check_store_problems(cls.open(str(db)))
    assert any("the colour signatures are unreadable" in problem for problem in problems), problems

    colour_file.write_bytes(whole)
    reader = cls.open(str(db))
    assert reader.integrity_problems() == []
    colour_file.write_bytes(b"not an index")
    assert reader.search_by_color(colors[5], 1)[0].record["path"] == records[5]["path"], "read once, by --check"
    colour_file.write_bytes(whole)

    faiss.write_index(faiss_module.zero_colors(np.arange(3, dtype=np.int64)), str(colour_file))
    with pytest.raises(StoreError, match=r"inconsistent: 3 colour signatures and 10 metadata rows: 7 rows without"):
        cls.open(str(db)).search_by_color(colors[5], 1)

    store.upsert_images(records[:10], vectors[:10], colors)
    store.commit()  # a new generation, its colours whole again
    opened_before = cls.open(str(db))
    store.upsert_images(records[10:], vectors[10:])
    store.commit()  # a new generation: the one ``opened_before`` opened is deleted
    assert not (db / f"images-{opened_before.generation}.color.faiss").exists()
    assert opened_before.search_by_color(colors[5], 1)[0].record["path"] == records[5]["path"], "opened, kept"
    assert opened_before.search_by_vector(vectors[3], 1)[0].record["path"] == records[3]["path"]
    assert opened_before.count() == 10 and cls.open(str(db)).count() == 20


def test_faiss_unchanged_run_learns_what_its_vectors_are_in_without_reading_them(tmp_path: Path, monkeypatch) -> None:
    """The end of an indexing run that changed nothing asks whether the vectors are still in a
    flat index (an IVF one is built past ANN_INDEX_MIN_ROWS): the manifest says, the vectors (2 KB
    a row) stay unread; a manifest that does not say (an older imagedb's) has them read."""
    _, cls, _, _, _ = faiss_store_with_deltas(tmp_path, monkeypatch, ivf=True)
    db = tmp_path / "db"
    (vector_file,) = {p for p in db.glob("images-*.faiss") if not p.name.endswith(".color.faiss")}
    whole = vector_file.read_bytes()
    reopened = cls.open(str(db))
    vector_file.write_bytes(b"not an index")  # in place: the file the open holds
    reopened.finish_indexing()
    vector_file.write_bytes(whole)
    manifest = json.loads((db / "manifest.json").read_text())
    assert manifest["vector_index"] == "ivf"

    del manifest["vector_index"]
    (db / "manifest.json").write_text(json.dumps(manifest))
    older = cls.open(str(db))
    vector_file.write_bytes(b"not an index")
    with pytest.raises(StoreError, match="the vectors are unreadable"):
        older.finish_indexing()


def check_store_problems(store) -> list[str]:
    """What --check reports of ``store``; an error it raises is one problem (as the CLI reports it)."""
    from common.health import check_store

    try:
        return check_store(store).problems
    except StoreError as error:
        return [str(error)]


# --- FAISS deltas: a commit that changes few rows of a large index writes those rows alone ---
def faiss_store_with_deltas(tmp_path: Path, monkeypatch, rows: int = 400, ivf: bool = False):
    """A committed FAISS store of ``rows`` random records that takes deltas of up to a quarter
    of its rows (the thresholds scaled down from 10,000 rows), flat or IVF."""
    faiss_module = load_script("faiss")
    monkeypatch.setattr(faiss_module, "DELTA_MIN_BASE_ROWS", 100)
    monkeypatch.setattr(faiss_module, "DELTA_MAX_FRACTION", 0.25)
    records, vectors = random_records(rows + 200, seed=21)
    cls, store = new_store("faiss", tmp_path / "db", monkeypatch, ann_min_rows=200 if ivf else 10**9)
    store.upsert_images(records[:rows], vectors[:rows])
    store.finish_indexing()
    assert faiss_module.is_flat(store.index) != ivf
    return faiss_module, cls, store, records, vectors


def changed_copy(record: dict, width: int) -> dict:
    return {**record, "width": width, "make": "Leica", "search_text": record["search_text"] + " Leica"}


def state_of(store) -> tuple[dict, dict, dict]:
    """Everything a store answers with: records, vectors and colour signatures by path."""
    records = {r["path"]: r for r in store.get_records()}
    return records, store.get_vectors(list(records)), store.get_colors(list(records))


def assert_same_state(one, other) -> None:
    records, vectors, colors = state_of(one)
    other_records, other_vectors, other_colors = state_of(other)
    assert records == other_records
    for path in records:
        np.testing.assert_array_equal(vectors[path], other_vectors[path])
        np.testing.assert_array_equal(colors[path], other_colors[path])


@pytest.mark.parametrize("ivf", [False, True], ids=["flat", "ivf"])
def test_faiss_commit_of_a_few_rows_writes_a_delta_and_an_open_reads_the_same_index(
    tmp_path: Path, monkeypatch, ivf: bool
) -> None:
    faiss_module, cls, store, records, vectors = faiss_store_with_deltas(tmp_path, monkeypatch, ivf=ivf)
    db = tmp_path / "db"
    generation = store.generation
    generation_files = {p.name: p.stat().st_mtime_ns for p in db.glob("images-*")}

    colors = np.random.default_rng(5).random((3, COLOR_DIM)).astype(np.float32)
    store.upsert_images([changed_copy(r, 999) for r in records[:3]], vectors[450:453], colors)  # replaced
    store.upsert_images(records[400:405], vectors[400:405])  # new
    assert store.delete_images([records[10]["path"], records[11]["path"]]) == 2
    store.commit()
    store.upsert_images([changed_copy(records[0], 777)], vectors[460:461])  # replaced again, in a second delta
    store.delete_images([records[400]["path"]])  # added in the first delta, removed in the second
    store.commit()

    assert store.generation == generation, "no new generation for a few rows"
    assert {p.name: p.stat().st_mtime_ns for p in db.glob("images-*")} == generation_files, "its files untouched"
    assert len(list(db.glob("delta-*.parquet"))) == 2
    reopened = cls.open(str(db))
    assert faiss_module.is_flat(reopened.index) != ivf
    assert_same_state(store, reopened)
    assert reopened.count() == 400 + 5 - 2 - 1
    got = reopened.get_records_by_path([records[0]["path"], records[1]["path"]])
    assert got[records[0]["path"]]["width"] == 777 and got[records[1]["path"]]["width"] == 999
    assert records[400]["path"] not in reopened.get_signatures()
    hit = reopened.search_by_vector(vectors[451], 1)[0]  # the second record's new vector
    assert hit.record["path"] == records[1]["path"] and hit.score == pytest.approx(1.0, abs=1e-5)
    assert [h.record["path"] for h in reopened.search_by_text("Leica", 10)] == [r["path"] for r in records[:3]]
    np.testing.assert_array_equal(reopened.get_colors([records[2]["path"]])[records[2]["path"]], colors[2])
    assert not reopened.search_by_vector(vectors[10], 5, where=f"path = '{records[10]['path']}'")


def test_faiss_deltas_fold_into_a_new_generation_past_their_limit(tmp_path: Path, monkeypatch) -> None:
    _, cls, store, records, vectors = faiss_store_with_deltas(tmp_path, monkeypatch)
    db = tmp_path / "db"
    first = store.generation
    for start in range(400, 520, 40):  # 40, 80, 120 rows changed: the third passes a quarter of 400
        store.upsert_images(records[start : start + 40], vectors[start : start + 40])
        store.commit()
        if start < 480:
            assert store.generation == first
    assert store.generation != first
    assert not list(db.glob("delta-*")), "the folded deltas are deleted"
    assert sorted(p.name for p in db.glob("images-*")) == sorted(store.committed.files())
    assert_same_state(store, cls.open(str(db)))
    assert cls.open(str(db)).count() == 520


def test_faiss_crash_before_a_delta_counts_keeps_the_previous_state(tmp_path: Path, monkeypatch) -> None:
    faiss_module, cls, store, records, vectors = faiss_store_with_deltas(tmp_path, monkeypatch)
    heal = crashing_at_the_manifest_switch(faiss_module, monkeypatch)
    store.upsert_images(records[400:410], vectors[400:410])
    with pytest.raises(SimulatedKill):
        store.commit()
    assert len(list((tmp_path / "db").glob("delta-*"))) == 1, "the delta was written, the manifest not switched"
    heal()
    reopened = cls.open(str(tmp_path / "db"))
    assert reopened.count() == 400
    reopened.upsert_images(records[410:412], vectors[410:412])
    reopened.commit()
    (delta,) = (tmp_path / "db").glob("delta-*")
    assert delta.name == reopened.committed.deltas[0]["file"], "the crashed commit's delta is cleaned up"
    assert sorted(cls.open(str(tmp_path / "db")).get_signatures()) == sorted(
        r["path"] for r in records[:400] + records[410:412]
    )


def test_faiss_repair_applies_the_readable_deltas_and_reports_a_damaged_one(tmp_path: Path, monkeypatch) -> None:
    _, cls, store, records, vectors = faiss_store_with_deltas(tmp_path, monkeypatch)
    db = tmp_path / "db"
    store.upsert_images(records[400:410], vectors[400:410])
    store.commit()
    store.upsert_images([changed_copy(records[0], 555)], vectors[480:481])
    store.commit()
    store.upsert_images(records[410:420], vectors[410:420])
    store.commit()
    first, second, _third = (db / d["file"] for d in store.committed.deltas)
    second.write_bytes(second.read_bytes()[:100])  # the middle delta damaged
    with pytest.raises(StoreError):
        cls.open(str(db))

    repaired, actions, dropped = cls.salvage(str(db))
    assert any(second.name in action and "unreadable" in action for action in actions)
    assert not dropped, "every row kept has its vector"
    paths = repaired.get_signatures()
    assert all(r["path"] in paths for r in records[:420]), "the rows of the other deltas are kept"
    assert repaired.get_records_by_path([records[0]["path"]])[records[0]["path"]]["width"] == records[0]["width"], (
        "a row the damaged delta changed is back as it was before, to be read again"
    )
    assert not list(db.glob("delta-*")) and first.name not in {p.name for p in db.iterdir()}
    assert cls.open(str(db)).count() == 420


def test_faiss_repair_without_a_manifest_finds_the_deltas_on_disk(tmp_path: Path, monkeypatch) -> None:
    _, cls, store, records, vectors = faiss_store_with_deltas(tmp_path, monkeypatch)
    db = tmp_path / "db"
    for start in (400, 410):
        store.upsert_images(records[start : start + 10], vectors[start : start + 10])
        store.commit()
    store.upsert_images([changed_copy(records[5], 321)], vectors[490:491])
    store.commit()
    expected = state_of(store)
    (db / "manifest.json").unlink()
    repaired, _, dropped = cls.salvage(str(db))
    assert not dropped
    assert state_of(repaired)[0] == expected[0]


def test_faiss_reindex_of_a_few_changed_photos_commits_a_delta_that_search_and_check_read(
    tmp_path: Path, photos: Path, monkeypatch
) -> None:
    faiss_module = load_script("faiss")
    monkeypatch.setattr(faiss_module, "DELTA_MIN_BASE_ROWS", 1)  # twelve photos stand for a large library
    monkeypatch.setattr(faiss_module, "DELTA_MAX_FRACTION", 1.0)
    cli = Cli("faiss", tmp_path / "db")
    cli.index(photos)
    generation = json.loads((cli.db / "manifest.json").read_text())["generation"]
    paint_photo(photos / "sub" / "new.jpg", 40)
    paint_photo(photos / "a.jpg", 41)  # edited
    (photos / "b.png").unlink()

    assert cli.index(photos).summary() == {"new": 1, "updated": 1, "removed": 1, "unchanged": 10, "failed": 0}
    manifest = json.loads((cli.db / "manifest.json").read_text())
    assert manifest["generation"] == generation and manifest["rows"] == 12
    assert sum(delta["rows"] for delta in manifest["deltas"]) == 3, "the removal and the two files read"
    for name in ("sub/new.jpg", "a.jpg"):
        (hits,) = cli.search("--search", str(photos / name), "--limit", "1")
        assert hits["results"][0]["path"] == str(photos / name) and hits["results"][0]["score"] == pytest.approx(1.0)
    assert str(photos / "b.png") not in cli.records()
    assert cli("--check").code == 0
    assert cli.index(photos).summary()["unchanged"] == 12


def test_faiss_index_written_by_a_newer_format_is_refused_in_one_line(tmp_path: Path, photos: Path) -> None:
    cli = Cli("faiss", tmp_path / "db")
    cli.index(photos)
    manifest = json.loads((cli.db / "manifest.json").read_text())
    (cli.db / "manifest.json").write_text(json.dumps({**manifest, "format": 99}))
    result = cli("--search", str(photos / "a.jpg"))
    assert result.code == 1 and len(result.stderr_lines()) == 1
    assert "newer imagedb" in result.stderr and str(cli.db) in result.stderr


def test_faiss_index_and_metadata_that_disagree_are_refused_not_wiped(tmp_path: Path, photos: Path) -> None:
    cli = Cli("faiss", tmp_path / "db")
    cli.index(photos)
    manifest = json.loads((cli.db / "manifest.json").read_text())
    parquet = cli.db / f"images-{manifest['generation']}.parquet"
    import pandas as pd

    frame = pd.read_parquet(parquet)
    frame.iloc[:-1].to_parquet(parquet, index=False)  # one metadata row lost
    before = sorted(p.name for p in cli.db.iterdir())

    result = cli("--search", str(photos / "a.jpg"))
    assert result.code == 1
    assert len(result.stderr_lines()) == 1
    assert "inconsistent" in result.stderr and "rebuild" in result.stderr
    result = cli("--index", photos)
    assert result.code == 1
    assert sorted(p.name for p in cli.db.iterdir()) == before


def test_lancedb_table_not_made_by_imagedb_is_refused(tmp_path: Path) -> None:
    import lancedb
    import pyarrow as pa

    lancedb.connect(str(tmp_path / "db")).create_table("images", schema=pa.schema([pa.field("path", pa.string())]))
    with pytest.raises(StoreError, match="did not create"):
        store_class("lancedb").open(str(tmp_path / "db"))


# EXIF orientation N, and the counter-clockwise turn that makes an upright picture need it.
@pytest.mark.parametrize("orientation, stored_turn", [(3, 180), (6, 90), (8, 270)])
def test_generated_photo_with_exif_orientation_embeds_like_its_upright_twin(
    cli: Cli, tmp_path: Path, orientation: int, stored_turn: int
) -> None:
    """Core (no shared data): a photo stored turned, with the tag that says so, equals the upright one."""
    from PIL import Image

    folder = tmp_path / "turned"
    upright = paint_photo(folder / "upright.png", seed=7, size=(200, 120))
    with Image.open(upright) as image:
        stored = image.rotate(stored_turn, expand=True)
        exif = Image.Exif()
        exif[0x0112] = orientation
        stored.save(folder / "turned.jpg", exif=exif, quality=95)
    cli.index(folder)
    records = cli.records()
    turned = records[str(folder / "turned.jpg")]
    assert turned["orientation"] == orientation
    assert (turned["width"], turned["height"]) == (200, 120)
    (hits,) = cli.search("--search", str(upright), "--limit", "2")
    assert hits["results"][1]["path"] == str(folder / "turned.jpg")
    assert hits["results"][1]["score"] >= 0.99
