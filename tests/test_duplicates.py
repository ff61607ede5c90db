"""--duplicates: exact copies by content hash, near duplicates by cosine, listed separately."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from common.duplicates import find_duplicates
from common.embedding import ModelSpec
from common.store import IndexInfo
from conftest import BACKENDS, Cli, paint_photo, store_class


def test_exact_and_near_duplicates_are_listed_separately(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    originals = [paint_photo(folder / f"photo-{i}.png", seed=100 + i, size=(320, 240)) for i in range(8)]
    shutil.copy(originals[0], folder / "copy-of-0.png")  # exact: same bytes, other name
    (folder / "sub").mkdir()
    shutil.copy(originals[0], folder / "sub" / "photo-0.png")
    picture = Image.open(originals[1])
    picture.resize((280, 210)).save(folder / "photo-1-smaller.jpg", quality=80)  # near: resized, re-encoded
    ImageEnhance.Brightness(picture).enhance(1.1).save(folder / "photo-1-brighter.png")  # near: lightly edited
    cli.index(folder)

    result = cli("--duplicates", "--duplicate-threshold", "0.97", "--format", "json")
    assert result.code == 0, result.stderr
    found = result.json()
    assert found["exact"] == [{"paths": sorted(str(p) for p in (originals[0], folder / "copy-of-0.png",
                                                                 folder / "sub" / "photo-0.png"))}]  # fmt: skip
    near_groups = [set(g["paths"]) for g in found["near"]]
    assert {str(originals[1]), str(folder / "photo-1-smaller.jpg"), str(folder / "photo-1-brighter.png")} in near_groups
    assert len(near_groups) == 1, f"unrelated pictures were grouped: {near_groups}"
    assert all(g["min_cosine"] >= 0.97 for g in found["near"])

    table = cli("--duplicates", "--duplicate-threshold", "0.97")
    assert (
        "exact duplicates (same bytes): 1 group(s)" in table.stdout
        and "near duplicates (cosine >= 0.97): 1" in table.stdout
        and "3 files, any two at cosine >= 0.9" in table.stdout
    )

    # For scripts: the same groups a file per CSV row, a group per JSON line, or bare paths.
    groups = [set(g["paths"]) for g in found["exact"]] + near_groups
    rows = list(
        csv.DictReader(io.StringIO(cli("--duplicates", "--duplicate-threshold", "0.97", "--format", "csv").stdout))
    )
    by_group: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        by_group.setdefault((row["kind"], row["group"]), set()).add(row["path"])
    assert list(by_group.values()) == groups
    assert all(float(row["min_cosine"]) >= 0.97 for row in rows if row["kind"] == "near")
    lines = cli("--duplicates", "--duplicate-threshold", "0.97", "--format", "jsonl").stdout.splitlines()
    assert [set(json.loads(line)["paths"]) for line in lines] == groups
    listed = cli("--duplicates", "--duplicate-threshold", "0.97", "--format", "paths").stdout
    assert [set(block.splitlines()) for block in listed.strip().split("\n\n")] == groups
    nul = cli("--duplicates", "--duplicate-threshold", "0.97", "--format", "paths0").stdout
    assert [set(block.split("\0")) for block in nul.removesuffix("\0").split("\0\0")] == groups


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_chain_of_near_duplicates_reports_its_two_most_different_files(backend: str, tmp_path: Path) -> None:
    """A≈B and B≈C put A, B and C in one group, though A and C are further apart than the
    threshold (a burst drifting): the group says how far apart its files can be, not how
    close its closest links are."""
    step = math.acos(0.97)  # A to B and B to C: cosine 0.97; A to C: cos(2 * step) ~ 0.88
    angles = {"a.jpg": 0.0, "b.jpg": step, "c.jpg": 2 * step}
    vectors = np.zeros((4, 32), dtype=np.float32)
    for row, angle in enumerate(angles.values()):
        vectors[row, :2] = math.cos(angle), math.sin(angle)
    vectors[3, 2] = 1.0  # an unrelated picture
    names = [*angles, "other.jpg"]
    records = [
        {"path": f"/photos/{name}", "folder": "/photos", "filename": name, "size_bytes": 1, "mtime": 1.0}
        for name in names
    ]
    store = store_class(backend).create(str(tmp_path / "db"), IndexInfo(ModelSpec("test-model", "none"), 32))
    store.upsert_images(records, vectors)
    store.finish_indexing()

    [group] = find_duplicates(store, threshold=0.95).near
    assert group.paths == ["/photos/a.jpg", "/photos/b.jpg", "/photos/c.jpg"]
    assert group.min_cosine == pytest.approx(math.cos(2 * step), abs=1e-4)


def test_near_duplicates_are_found_wherever_their_rows_fall_among_the_blocks(tmp_path: Path, monkeypatch) -> None:
    """The vectors are compared a block at a time, each pair once: a pair within a block, a pair
    across blocks, a chain through three blocks and a pair in the last, short block are each
    one group, and nothing else is (blocks of 3 over 20 rows)."""
    import common.duplicates

    monkeypatch.setattr(common.duplicates, "BLOCK", 3)
    rng = np.random.default_rng(21)
    vectors = rng.standard_normal((20, 64)).astype(np.float32)
    groups = [(0, 1), (2, 17), (4, 9, 15), (18, 19)]
    for members in groups:
        for other in members[1:]:
            vectors[other] = vectors[members[0]] + 0.05 * rng.standard_normal(64).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [
        {"path": f"/photos/{i:02d}.jpg", "folder": "/photos", "filename": f"{i:02d}.jpg", "size_bytes": 1, "mtime": 1.0}
        for i in range(20)
    ]
    store = store_class("faiss").create(str(tmp_path / "db"), IndexInfo(ModelSpec("test-model", "none"), 64))
    store.upsert_images(records, vectors)
    store.finish_indexing()

    found = sorted(group.paths for group in find_duplicates(store, threshold=0.95).near)
    assert found == sorted([f"/photos/{i:02d}.jpg" for i in members] for members in groups)


def test_a_threshold_outside_zero_to_one_is_refused(cli: Cli) -> None:
    result = cli("--duplicates", "--duplicate-threshold", "1.5")
    assert result.code == 2 and "must be in (0, 1]" in result.stderr


def test_duplicates_among_the_rows_a_filter_keeps(cli: Cli, tmp_path: Path) -> None:
    """--where narrows --duplicates to one album (it lists no rows beside the groups): the copies
    in another album are not reported, nor a copy that crosses albums."""
    albums = tmp_path / "albums"
    for album, seed in (("rome", 300), ("oslo", 400)):
        original = paint_photo(albums / album / "photo.png", seed=seed, size=(320, 240))
        shutil.copy(original, albums / album / "copy.png")
    shutil.copy(albums / "rome" / "photo.png", albums / "oslo" / "from-rome.png")
    cli.index(albums)

    everything = cli("--duplicates", "--format", "json").json()
    assert sorted(len(group["paths"]) for group in everything["exact"]) == [2, 3]
    assert everything["among"] is None

    result = cli("--duplicates", "--where", f"folder = '{albums / 'oslo'}'", "--format", "json")
    assert result.code == 0, result.stderr
    oslo = result.json()  # one JSON document: the groups, no listing of the matching rows
    assert oslo["exact"] == [{"paths": sorted([str(albums / "oslo" / "copy.png"), str(albums / "oslo" / "photo.png")])}]
    assert oslo["near"] == [] and oslo["among"] == f"folder = '{albums / 'oslo'}'"
    table = cli("--duplicates", "--where", f"folder = '{albums / 'rome'}'").stdout.splitlines()
    assert table[0] == f"among the files matching: folder = '{albums / 'rome'}'"
    assert str(albums / "oslo" / "from-rome.png") not in "\n".join(table)
