"""Files whose bytes are already indexed (moved, renamed, copied, touched) keep their vectors.

Renaming a folder, sorting photos into others, copying a library to a new disk without its
times: the bytes did not change, so nothing is decoded or embedded again, and the model is not
even loaded. The rows these runs leave must be the rows a fresh index of the same files makes.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import Cli, drive_not_answering, paint_photo, shared

# What differs between a reused row and a fresh one for the same file: when it was indexed.
WHEN_INDEXED = {"indexed_at"}


def vectors_of(cli: Cli, paths: list[str]) -> dict[str, np.ndarray]:
    store = cli.store()
    try:
        return store.get_vectors(paths)
    finally:
        store.close()


def thumbnail_files(cli: Cli) -> list[Path]:
    return sorted(p for p in (cli.db / "thumbnails").rglob("*") if p.is_file())


def test_a_renamed_folder_a_copy_and_a_touched_file_take_their_stored_vectors(
    cli: Cli, photos: Path, decoded: list[str], model_loads: list[str]
) -> None:
    cli.index(photos)
    model_loads.clear()
    before = cli.records()
    old_vectors = vectors_of(cli, list(before))
    moved = {"sub/g.jpg": "trip/g.jpg", "sub/h.jpeg": "trip/h.jpeg", "sub/deeper/i.png": "trip/deeper/i.png"}
    (photos / "sub").rename(photos / "trip")
    shutil.copy(photos / "b.png", photos / "copy of b.png")  # a new mtime, the same bytes
    later = time.time() + 5
    os.utime(photos / "a.jpg", (later, later))  # touched: changed to the indexer, not in its bytes

    result = cli.index(photos, extra=("--workers", "0"))  # in-process: `decoded` sees every decode

    assert result.summary() == {"new": 4, "updated": 1, "removed": 3, "unchanged": 8, "failed": 0}
    assert decoded == [] and model_loads == [], "nothing decoded, no model loaded"
    assert "5 had the bytes of indexed files: vectors reused" in result.stderr
    after = cli.records()
    moved_from = {str(photos / old) for old in moved}
    renames = {str(photos / old): str(photos / new) for old, new in moved.items()}
    renames |= {str(photos / "b.png"): str(photos / "copy of b.png"), str(photos / "a.jpg"): str(photos / "a.jpg")}
    assert set(after) == set(before) - moved_from | set(renames.values())
    new_vectors = vectors_of(cli, list(renames.values()))
    for old, new in renames.items():
        np.testing.assert_array_equal(new_vectors[new], old_vectors[old])
        stat = os.stat(new)
        assert (after[new]["size_bytes"], after[new]["mtime"]) == (stat.st_size, stat.st_mtime)
        assert after[new]["folder"] == os.path.dirname(new) and after[new]["filename"] == os.path.basename(new)
        assert after[new]["content_hash"] == before[old]["content_hash"]
        assert (after[new]["width"], after[new]["height"]) == (before[old]["width"], before[old]["height"])
    assert after[str(photos / "a.jpg")]["mtime"] == later

    # The moved rows are found by their new names and folders, and as images.
    (by_folder,) = cli.search("--text", "trip", "--limit", "10")
    assert {hit["path"] for hit in by_folder["results"]} == {str(photos / new) for new in moved.values()}
    (by_image,) = cli.search("--search", str(photos / "trip" / "g.jpg"), "--limit", "1")
    assert by_image["results"][0]["path"] == str(photos / "trip" / "g.jpg")
    assert by_image["results"][0]["score"] == pytest.approx(1.0, abs=1e-6)

    # Each row has its thumbnail, and those of the paths that are gone were removed.
    from common.thumbnails import find_thumbnail

    assert all(find_thumbnail(str(cli.db / "thumbnails"), record) for record in after.values())
    assert len(thumbnail_files(cli)) == len(after)
    assert cli("--check").code == 0


def test_reused_rows_are_the_rows_a_fresh_index_makes(cli: Cli, photos: Path, tmp_path: Path) -> None:
    cli.index(photos)
    moved = tmp_path / "moved"
    photos.rename(moved)
    assert "vectors reused" in cli.index(moved).stderr  # a new root: the rows under the old one stay
    fresh = Cli(cli.backend, tmp_path / "fresh-db")
    fresh.index(moved)
    reused, made = cli.records(), fresh.records()
    moved_paths = sorted(str(p) for p in moved.rglob("*") if p.is_file())
    assert sorted(made) == moved_paths and set(moved_paths) <= set(reused)
    for path in moved_paths:
        assert {k: v for k, v in reused[path].items() if k not in WHEN_INDEXED} == {
            k: v for k, v in made[path].items() if k not in WHEN_INDEXED
        }, path
    old, new = vectors_of(cli, moved_paths), vectors_of(fresh, moved_paths)
    assert all(float(old[p] @ new[p]) > 0.9999 for p in moved_paths)


def test_a_file_with_other_bytes_of_a_stored_size_is_embedded(
    cli: Cli, photos: Path, decoded: list[str], model_loads: list[str]
) -> None:
    """A BMP of the same dimensions has the same size whatever it shows: the hash decides."""
    cli.index(photos)
    model_loads.clear()
    before = vectors_of(cli, [str(photos / "d.bmp")])[str(photos / "d.bmp")]
    size = (photos / "d.bmp").stat().st_size
    paint_photo(photos / "d.bmp", seed=1000)
    assert (photos / "d.bmp").stat().st_size == size

    result = cli.index(photos, extra=("--workers", "0"))

    assert result.summary() == {"new": 0, "updated": 1, "removed": 0, "unchanged": 11, "failed": 0}
    assert decoded == ["d.bmp"] and len(model_loads) == 1
    assert "vectors reused" not in result.stderr
    after = vectors_of(cli, [str(photos / "d.bmp")])[str(photos / "d.bmp")]
    assert float(before @ after) < 0.999


def test_a_copy_into_another_root_takes_the_vector_and_leaves_the_original(
    cli: Cli, tmp_path: Path, decoded: list[str]
) -> None:
    library, inbox = tmp_path / "library", tmp_path / "inbox"
    paint_photo(library / "one.jpg", seed=1)
    paint_photo(library / "two.png", seed=2)
    cli.index(library)
    inbox.mkdir()
    shutil.copy(library / "one.jpg", inbox / "one-again.jpg")
    paint_photo(inbox / "three.jpg", seed=3)

    result = cli.index(inbox, extra=("--workers", "0"))

    assert result.summary() == {"new": 2, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}
    assert decoded == ["three.jpg"], "only the file with bytes of its own is decoded"
    assert set(cli.records()) == {str(library / "one.jpg"), str(library / "two.png"), *map(str, inbox.iterdir())}


def test_force_embeds_again_files_whose_bytes_are_indexed(cli: Cli, photos: Path, decoded: list[str]) -> None:
    cli.index(photos)
    (photos / "sub").rename(photos / "trip")
    result = cli.index(photos, extra=("--force", "--workers", "0"))
    assert result.summary() == {"new": 3, "updated": 9, "removed": 3, "unchanged": 0, "failed": 0}
    assert sorted(decoded) == sorted(p.name for p in photos.rglob("*") if p.is_file())


def test_files_moved_here_from_a_folder_the_run_does_not_index_say_where_their_old_rows_are(
    cli: Cli, tmp_path: Path
) -> None:
    """A library folder renamed, or photos sorted out of a folder into the one indexed: the new
    rows take the old ones' vectors, and the old rows stay (their folder is not looked at, and
    may be a drive not mounted), so every search listed each photo twice, once at a path that is
    gone, and nothing said why. One line a folder says where they came from and how to drop them;
    a copy, or a move within the folders indexed, says nothing."""
    library, kept = tmp_path / "library", tmp_path / "kept"
    for i in range(3):
        paint_photo(library / f"l{i}.jpg", seed=i)
    paint_photo(kept / "k0.jpg", seed=10)
    paint_photo(kept / "k1.jpg", seed=11)
    cli.index(library, kept)
    renamed = tmp_path / "library 2024"
    library.rename(renamed)
    (renamed / "from kept").mkdir()
    (kept / "k0.jpg").rename(renamed / "from kept" / "k0.jpg")
    shutil.copy(kept / "k1.jpg", renamed / "copy of k1.jpg")  # a copy: its source is still there
    run = cli.index(renamed)
    assert run.summary()["new"] == 5 and len(cli.records()) == 10
    said = [line for line in run.stderr_lines() if "were moved here from" in line]
    assert said == [
        f"imagedb-{cli.backend}.py: 1 file(s) were moved here from {kept}, which this run does not index: their "
        f"old rows stay, listed beside the new ones; --index {kept} drops them",
        f"imagedb-{cli.backend}.py: 3 file(s) were moved here from {library}: the folder is not there (a drive not "
        f"mounted?); their old rows stay, listed beside the new ones; if it is gone for good, --forget {library} "
        "drops them",
    ]
    assert cli("--forget", library).code == 0 and cli.index(kept).summary()["removed"] == 1
    assert sorted(cli.records()) == sorted(str(p) for p in [*renamed.rglob("*.jpg"), kept / "k1.jpg"])
    (renamed / "l0.jpg").rename(renamed / "from kept" / "l0.jpg")
    assert "moved here" not in cli.index(renamed).stderr, "a move within the folders indexed"


def test_a_run_stopped_after_the_moved_rows_were_written_is_finished_by_the_next(
    cli: Cli, photos: Path, monkeypatch, decoded: list[str]
) -> None:
    """Moved files' rows are committed before their old rows are removed: stopped in between,
    the index holds both for a while, never neither, and the next run removes the old ones."""
    cli.index(photos)
    (photos / "sub").rename(photos / "trip")
    store_class = type(cli.store())

    def stopped(self, paths):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(store_class, "delete_images", stopped)
        assert cli("--index", photos, "--workers", "0").code == 130
    records = cli.records()
    assert {str(photos / "trip" / "g.jpg"), str(photos / "sub" / "g.jpg")} <= set(records)

    again = cli.index(photos, extra=("--workers", "0"))
    assert again.summary() == {"new": 0, "updated": 0, "removed": 3, "unchanged": 12, "failed": 0}
    assert decoded == []
    assert sorted(cli.records()) == sorted(str(p) for p in photos.rglob("*") if p.is_file())
    assert cli("--check").code == 0


def test_real_photos_moved_keep_every_field_a_fresh_index_gives(cli: Cli, tmp_path: Path) -> None:
    """Camera JPEGs, HEICs and PNG text chunks: EXIF, GPS, orientation, text, all as a fresh index."""
    sources = [
        *sorted(shared("camera", "jpg").glob("*.jpg"))[:6],
        *sorted(shared("camera", "heic").glob("*.HEIC"))[:2],
        *sorted(shared("formats", "ok").glob("*.png"))[:4],
    ]
    before = tmp_path / "before"
    before.mkdir()
    for source in sources:
        shutil.copy2(source, before / source.name)
    cli.index(before)
    after = tmp_path / "after" / "sorted"
    after.parent.mkdir()
    before.rename(after)
    assert f"{len(sources)} had the bytes of indexed files: vectors reused" in cli.index(after).stderr
    fresh = Cli(cli.backend, tmp_path / "fresh-db")
    fresh.index(after)
    reused, made = cli.records(), fresh.records()
    assert len(made) == len(sources)
    for path, record in made.items():
        assert {k: v for k, v in reused[path].items() if k not in WHEN_INDEXED} == {
            k: v for k, v in record.items() if k not in WHEN_INDEXED
        }, path


def test_a_drive_that_stops_answering_while_files_are_hashed_does_not_hang_the_run(
    cli: Cli, photos: Path, monkeypatch, decoded: list[str]
) -> None:
    """A read that never returns (a network or cloud drive gone away) costs the time limit, as
    in the decoders; the file is then left to them, and the others still take their rows."""
    cli.index(photos)
    shutil.copy(photos / "b.png", photos / "copy of b.png")
    (photos / "sub").rename(photos / "trip")

    with drive_not_answering(monkeypatch, "content_hash", "copy of b.png"):
        result = cli.index(photos, extra=("--workers", "0", "--time-limit", "1"))

    assert "no file read for 1 s while looking for copies" in result.stderr
    assert result.summary() == {"new": 4, "updated": 0, "removed": 3, "unchanged": 9, "failed": 0}
    assert decoded == ["copy of b.png"], "the moved files took their rows; the one not hashed was decoded"
    assert sorted(cli.records()) == sorted(str(p) for p in photos.rglob("*") if p.is_file())
