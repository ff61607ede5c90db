"""Copies among the files of one run are read and embedded once; the others take that row.

Photo exports and years of backups leave the same picture in several folders (an album folder
and a year folder). A first index of such a library must not pay a decode and a forward pass
for each copy, and the rows the copies get must be the rows indexing each copy makes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import MODEL_ARGS, Cli, drive_not_answering, paint_photo

# What differs between a copy's row and the row of an index that read the copy itself.
WHEN_INDEXED = {"indexed_at"}


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """Five pictures, two of them also in an album folder and one of those also in a year folder."""
    root = tmp_path / "library"
    for seed, name in enumerate(["a.jpg", "b.png", "c.jpg", "d.webp", "e.tiff"]):
        paint_photo(root / "camera" / name, seed)
    (root / "albums" / "trip").mkdir(parents=True)
    (root / "2024").mkdir()
    shutil.copy(root / "camera" / "a.jpg", root / "albums" / "trip" / "a.jpg")
    shutil.copy(root / "camera" / "b.png", root / "albums" / "trip" / "beach.png")
    shutil.copy(root / "camera" / "a.jpg", root / "2024" / "IMG_0001.jpg")
    return root


def all_files(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file())


def test_each_picture_is_embedded_once_and_its_copies_take_its_row(
    cli: Cli, library: Path, tmp_path: Path, decoded: list[str]
) -> None:
    result = cli.index(library, extra=("--workers", "0"))

    assert result.summary() == {"new": 8, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}
    pictures = [{"a.jpg", "IMG_0001.jpg"}, {"b.png", "beach.png"}, {"c.jpg"}, {"d.webp"}, {"e.tiff"}]
    assert sorted(len(names.intersection(decoded)) for names in pictures) == [1] * 5 and len(decoded) == 5, (
        f"one decode a picture, not {decoded}"
    )
    assert "3 file(s) have the bytes of others found in this run" in result.stderr
    assert "3 had the bytes of indexed files: vectors reused" in result.stderr
    records = cli.records()
    assert sorted(records) == all_files(library)

    decoded.clear()
    forced = Cli(cli.backend, tmp_path / "each-read")  # --force: every file read and embedded
    forced.index(library, extra=("--force", "--workers", "0"))
    assert len(decoded) == 8
    for path, record in forced.records().items():
        assert {k: v for k, v in records[path].items() if k not in WHEN_INDEXED} == {
            k: v for k, v in record.items() if k not in WHEN_INDEXED
        }, path
    store = cli.store()
    try:
        vectors = store.get_vectors(all_files(library))
    finally:
        store.close()
    assert np.array_equal(vectors[str(library / "2024" / "IMG_0001.jpg")], vectors[str(library / "camera" / "a.jpg")])
    hits = cli.search("--search", str(library / "camera" / "b.png"), "--limit", "2")[0]["results"]
    # One picture, one result: the copies tie, the first path is shown and the other named.
    assert (hits[0]["path"], hits[0]["companions"]) == (
        str(library / "albums" / "trip" / "beach.png"),
        [str(library / "camera" / "b.png")],
    )
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5) and hits[1]["score"] < 0.999

    thumbnails = [p for p in (cli.db / "thumbnails").rglob("*") if p.is_file()]
    assert len(thumbnails) == 8, "every copy has its thumbnail"
    assert cli("--check").code == 0


def test_copies_of_a_broken_file_fail_alike_without_being_read(cli: Cli, tmp_path: Path, decoded: list[str]) -> None:
    """A broken download saved three times is read once; each copy is reported with the reason."""
    folder = tmp_path / "downloads"
    paint_photo(folder / "good.jpg", seed=1)
    for name in ("IMG_1.jpg", "IMG_1 (1).jpg", "IMG_1 (2).jpg"):
        (folder / name).write_bytes(b"a download that never finished")

    result = cli.index(folder, extra=("--workers", "0"))

    assert result.summary() == {"new": 1, "updated": 0, "removed": 0, "unchanged": 0, "failed": 3}
    assert len(decoded) == 2 and "good.jpg" in decoded
    [read] = [name for name in decoded if name != "good.jpg"]
    report = cli.failures_by_name()
    assert set(report) == {"IMG_1.jpg", "IMG_1 (1).jpg", "IMG_1 (2).jpg"}
    original = report[read]
    for name in set(report) - {read}:
        assert report[name]["reason"] == f"the same bytes as {folder / read}, which failed: {original['reason']}"
        assert report[name]["retry"] == original["retry"] == "when-changed"
        assert f"skipped {folder / name}: " in result.stderr

    decoded.clear()
    again = cli.index(folder, extra=("--workers", "0"))
    assert again.summary()["failed"] == 3 and decoded == [], "not read again while unchanged"


def test_files_of_one_size_with_other_bytes_are_each_embedded_without_a_hashing_pass(
    cli: Cli, tmp_path: Path, decoded: list[str], monkeypatch
) -> None:
    """Uncompressed scans of the same dimensions have the same size whatever they show: samples
    of their bytes tell them apart, so none is read whole before it is indexed."""
    import common.reuse

    whole_reads: list[str] = []
    real_hash = common.reuse.content_hash
    monkeypatch.setattr(common.reuse, "content_hash", lambda path: whole_reads.append(path) or real_hash(path))
    folder = tmp_path / "scans"
    for seed in range(3):
        paint_photo(folder / f"scan-{seed}.bmp", seed, size=(400, 300))  # 360 KB: larger than the samples
    assert len({p.stat().st_size for p in folder.iterdir()}) == 1

    result = cli.index(folder, extra=("--workers", "0"))

    assert whole_reads == []
    assert sorted(decoded) == ["scan-0.bmp", "scan-1.bmp", "scan-2.bmp"]
    assert "vectors reused" not in result.stderr
    store = cli.store()
    try:
        vectors = list(store.get_vectors(all_files(folder)).values())
    finally:
        store.close()
    assert float(vectors[0] @ vectors[1]) < 0.999


def test_a_run_stopped_before_the_copies_were_written_is_finished_by_the_next(
    cli: Cli, library: Path, monkeypatch, decoded: list[str], model_loads: list[str]
) -> None:
    import common.pipeline

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(common.pipeline, "take_originals_rows", stopped)
        assert cli("--index", library, *MODEL_ARGS, "--workers", "0").code == 130
    assert len(cli.records()) == 5, "each picture's row was written before the stop"
    decoded.clear()
    model_loads.clear()

    again = cli.index(library, extra=("--workers", "0"))

    assert again.summary() == {"new": 3, "updated": 0, "removed": 0, "unchanged": 5, "failed": 0}
    assert decoded == [] and model_loads == [], "the copies take the rows written before the stop"
    assert sorted(cli.records()) == all_files(library)


def test_a_copy_that_cannot_take_its_row_is_read_by_the_worker_processes(cli: Cli, library: Path, monkeypatch) -> None:
    """A copy changed after it was hashed (or whose original vanished) is read after all."""
    import common.reuse

    with monkeypatch.context() as patch:
        patch.setattr(common.reuse, "record_for_copy", lambda source, file: None)
        result = cli.index(library, extra=("--workers", "1"))

    assert result.summary() == {"new": 8, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}
    assert "vectors reused" not in result.stderr
    assert sorted(cli.records()) == all_files(library)
    assert cli("--check").code == 0


def test_files_alike_where_sampled_are_told_apart_by_their_whole_bytes(tmp_path: Path) -> None:
    """Two scans with the same white margins at the sampled places but other pictures between."""
    from common.discovery import FoundFile
    from common.reuse import SAMPLE_BYTES, FileHashes, likely_copies, set_aside_copies

    size = 10 * SAMPLE_BYTES
    contents = {
        "scan-1.tif": bytes(size),
        "scan-2.tif": bytes(2 * SAMPLE_BYTES) + b"x" * SAMPLE_BYTES + bytes(7 * SAMPLE_BYTES),
        "scan-1 copy.tif": bytes(size),
        "other size.tif": bytes(size + 1),
    }
    files = []
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
        stat = (tmp_path / name).stat()
        files.append(FoundFile(str(tmp_path / name), stat.st_size, stat.st_mtime))

    likely = likely_copies(files)
    assert sorted(Path(f.path).name for f in likely) == ["scan-1 copy.tif", "scan-1.tif", "scan-2.tif"]
    hashes = FileHashes()
    hashes.add(likely)
    to_read, copies = set_aside_copies(files, hashes)
    assert [Path(f.path).name for f in to_read] == ["scan-1.tif", "scan-2.tif", "other size.tif"]
    assert {Path(k).name: [Path(f.path).name for f in v] for k, v in copies.items()} == {
        "scan-1.tif": ["scan-1 copy.tif"]
    }


def test_a_drive_that_stops_answering_while_files_are_compared_does_not_hang_the_run(
    cli: Cli, library: Path, monkeypatch
) -> None:
    with drive_not_answering(monkeypatch, "sampled_bytes", "IMG_0001.jpg"):
        result = cli.index(library, extra=("--workers", "0", "--time-limit", "1"))

    assert "no file read for 1 s while looking for copies" in result.stderr
    assert result.summary() == {"new": 8, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}
    assert sorted(cli.records()) == all_files(library)
