"""Indexing on photos the tests paint: search-by-image, incremental re-index, --force, roots, clutter."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageChops

from conftest import (
    MODEL_ARGS,
    REPO,
    TINY_CONFIG,
    TINY_WEIGHTS,
    Cli,
    made_by_an_older_imagedb,
    names_listed,
    paint_photo,
    paint_tagged_photo,
    raw_lance_table,
    rows_rewritten,
    share_not_answering,
)


def test_index_then_search_by_image_returns_the_query_first(
    cli: Cli, photos: Path, tmp_path: Path, model_loads: list[str]
) -> None:
    """An indexed photo is searched by the vector the index holds for it (no model loaded); the
    same picture in a file the index does not hold (its bytes differ: one appended after the
    picture's end) is embedded, decoded as indexing decodes, and finds it at 1.0 too."""
    result = cli.index(photos)
    assert result.summary() == {"new": 12, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}
    for name in ("a.jpg", "sub/deeper/i.png", "f.tiff"):
        query = photos / name
        model_loads.clear()
        (hits,) = cli.search("--search", str(query), "--limit", "3")
        assert model_loads == [], "an indexed photo's own vector needs no model"
        assert hits["query_kind"] == "image"
        top = hits["results"][0]
        assert top["path"] == str(query)
        assert top["score"] == pytest.approx(1.0, abs=1e-6)
        assert hits["results"][1]["score"] < top["score"]

        outside = tmp_path / "elsewhere" / f"same-picture{query.suffix}"
        outside.parent.mkdir(exist_ok=True)
        outside.write_bytes(query.read_bytes() + b"\0")
        (again,) = cli.search("--search", str(outside), "--limit", "3")
        assert len(model_loads) == 1, "a picture the index does not hold is embedded"
        assert [h["path"] for h in again["results"]] == [h["path"] for h in hits["results"]]
        assert again["results"][0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_a_photo_changed_since_it_was_indexed_is_searched_by_what_it_shows_now(
    cli: Cli, photos: Path, model_loads: list[str]
) -> None:
    """The stored vector stands for a file only while it is unchanged: a photo overwritten with
    another picture since is embedded again (or takes the vector of an indexed file with its new
    bytes), never searched by the picture it used to hold."""
    cli.index(photos)
    query = photos / "a.jpg"
    query.write_bytes((photos / "k.jpg").read_bytes())  # now a copy of k.jpg: k's vector, no model
    model_loads.clear()
    (hits,) = cli.search("--search", str(query), "--limit", "2")
    assert model_loads == []
    assert hits["results"][0]["path"] == str(photos / "k.jpg") and hits["results"][0]["score"] == pytest.approx(1.0)

    paint_photo(query, seed=99)  # a picture no file of the index has: embedded now
    (hits,) = cli.search("--search", str(query), "--limit", "12")
    assert len(model_loads) == 1
    assert all(h["score"] < 0.9999 for h in hits["results"]), "not the old a.jpg's vector"


def test_a_search_by_an_indexed_photo_still_refuses_another_model(cli: Cli, photos: Path) -> None:
    cli.index(photos)
    refused = cli("--search", str(photos / "a.jpg"), "--model", "ViT-B-32", "--pretrained", "none")
    assert refused.code == 2 and "was built with" in refused.stderr


def test_a_model_whose_files_moved_is_found_by_their_content(cli: Cli, photos: Path, tmp_path: Path) -> None:
    """A local checkpoint is recorded by its path: moved (a new drive, a tidied folder), the index
    could never be searched again (the recorded path was gone, and the new one "another model")
    short of re-embedding every photo. The index records the files' sha256: the same bytes
    elsewhere are the same model; other bytes are still refused."""
    import shutil

    import torch

    models = tmp_path / "models"
    models.mkdir()
    config, weights = (Path(shutil.copy(f, models)) for f in (TINY_CONFIG, TINY_WEIGHTS))
    made_with = ("--model-config", str(config), "--pretrained", str(weights))
    assert cli("--index", photos, *made_with).code == 0
    before = cli.search("--search", "a photo of a dog", "--limit", "3")
    moved = tmp_path / "moved"
    models.rename(moved)

    gone = cli("--search", "a photo of a dog")
    assert gone.code == 2
    assert gone.stderr_lines()[-1].endswith(
        f"error: model config {config} does not exist (the index at {cli.db} was made with it: moved? "
        "give its new place with --model-config and --pretrained)"
    )
    given = ("--model-config", str(moved / config.name), "--pretrained", str(moved / weights.name))
    assert cli.search("--search", "a photo of a dog", "--limit", "3", *given) == before
    assert cli("--index", photos, *given).summary()["unchanged"] == 12  # nothing re-embedded

    other = tmp_path / "other.pt"
    checkpoint = torch.load(moved / weights.name)
    next(iter(checkpoint["state_dict"].values())).mul_(1.01)
    torch.save(checkpoint, other)
    refused = cli("--search", "a photo of a dog", "--model-config", str(moved / config.name), "--pretrained", other)
    assert refused.code == 2 and "was built with" in refused.stderr


def test_records_hold_file_facts(cli: Cli, photos: Path) -> None:
    cli.index(photos)
    records = cli.records()
    assert set(records) == {str(p) for p in photos.rglob("*") if p.is_file()}
    record = records[str(photos / "sub" / "g.jpg")]
    assert record["folder"] == str(photos / "sub")
    assert record["filename"] == "g.jpg"
    assert record["extension"] == "jpg"
    assert record["size_bytes"] == (photos / "sub" / "g.jpg").stat().st_size
    assert (record["width"], record["height"]) == (160, 120)
    assert record["format"] == "JPEG" and record["mode"] == "RGB"
    assert records[str(photos / "j.JPG")]["extension"] == "jpg"


def test_reindex_of_unchanged_tree_decodes_nothing(cli: Cli, photos: Path, monkeypatch) -> None:
    cli.index(photos)
    import common.workers

    decoded: list[str] = []
    real_decode = common.workers.decode_image
    monkeypatch.setattr(common.workers, "decode_image", lambda *args: decoded.append(args[0]) or real_decode(*args))
    # In-process decoding, so the counter sees every decode this process would make.
    result = cli.index(photos, extra=("--workers", "0"))
    assert result.summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 12, "failed": 0}
    assert decoded == []
    cli("--index", photos, "--force", "--workers", "0")  # the counter does see decoding when it happens
    assert len(decoded) == 12


def test_reindex_of_unchanged_tree_does_not_load_the_model(cli: Cli, photos: Path, model_loads: list[str]) -> None:
    """Loading a model costs seconds (torch, weights); a run with nothing to embed needs none."""
    cli.index(photos)
    model_loads.clear()
    unchanged = cli.index(photos)
    assert unchanged.summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 12, "failed": 0}
    assert model_loads == []
    (photos / "k.jpg").unlink()
    assert cli.index(photos).summary()["removed"] == 1 and model_loads == [], "removing rows needs no model either"
    paint_photo(photos / "new.jpg", seed=99)
    added = cli.index(photos)
    assert added.summary() == {"new": 1, "updated": 0, "removed": 0, "unchanged": 11, "failed": 0}
    assert len(model_loads) == 1
    (hits,) = cli.search("--search", str(photos / "new.jpg"), "--limit", "1")
    assert hits["results"][0]["path"] == str(photos / "new.jpg")


def test_modify_add_delete_is_one_update_one_insert_one_removal(cli: Cli, photos: Path) -> None:
    cli.index(photos)
    before = cli.records()
    modified, added, deleted = photos / "a.jpg", photos / "sub" / "new.png", photos / "b.png"
    paint_photo(modified, seed=99, size=(200, 100))
    os.utime(modified, (time.time() + 5, time.time() + 5))
    paint_photo(added, seed=100)
    deleted.unlink()

    result = cli.index(photos)
    assert result.summary() == {"new": 1, "updated": 1, "removed": 1, "unchanged": 10, "failed": 0}
    after = cli.records()
    assert set(after) == set(before) - {str(deleted)} | {str(added)}
    assert (after[str(modified)]["width"], after[str(modified)]["height"]) == (200, 100)
    (hits,) = cli.search("--search", str(modified), "--limit", "1")
    assert hits["results"][0]["path"] == str(modified)
    assert hits["results"][0]["score"] == pytest.approx(1.0, abs=1e-4)


def kept_lines(result) -> list[str]:
    return [line for line in result.stderr_lines() if "kept the rows of" in line]


def test_an_emptied_root_keeps_its_rows_as_for_a_drive_not_mounted(cli: Cli, photos: Path, decoded: list[str]) -> None:
    cli.index(photos)
    before = cli.records()
    drive = photos.parent / "drive"
    photos.rename(drive)
    photos.mkdir()  # the mount point, with the drive not mounted: an empty folder

    result = cli.index(photos)
    assert result.summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}
    assert cli.records() == before, "nothing indexed is lost"
    (line,) = kept_lines(result)
    assert f"kept the rows of 12 file(s) not found under {photos}: the folder is empty" in line
    assert "index with --force" in line
    assert "12 out of reach" in result.stderr

    photos.rmdir()
    drive.rename(photos)  # mounted again: nothing to embed
    back = cli.index(photos, extra=("--workers", "0"))
    assert back.summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 12, "failed": 0}
    assert decoded == []
    assert not kept_lines(back)


def test_rows_of_an_emptied_root_go_with_force(cli: Cli, photos: Path) -> None:
    cli.index(photos)
    shutil.rmtree(photos)
    photos.mkdir()  # deleted for good; the folder stays
    result = cli("--index", photos, "--force", *MODEL_ARGS)
    assert result.code == 0, result.stderr
    assert result.summary()["removed"] == 12
    assert cli.records() == {}


def test_a_drive_mounted_inside_a_root_keeps_its_rows_while_deleted_files_go(cli: Cli, photos: Path) -> None:
    cli.index(photos)
    shutil.rmtree(photos / "sub")
    (photos / "sub").mkdir()  # the drive mounted at sub/ is not there: sub/ and sub/deeper/ look empty
    (photos / "a.jpg").unlink()  # deleted: its folder is there and holds other files

    result = cli.index(photos)
    assert result.summary()["removed"] == 1
    names = {Path(p).name for p in cli.records()}
    assert "a.jpg" not in names and {"g.jpg", "h.jpeg", "i.png"} <= names
    (line,) = kept_lines(result)
    assert f"kept the rows of 3 file(s) not found under {photos / 'sub'}: the folder is empty" in line
    assert "remove the empty folder" in line

    (photos / "sub").rmdir()  # the user says they were deleted
    assert cli.index(photos).summary()["removed"] == 3
    assert len(cli.records()) == 8


def test_a_linked_folder_whose_target_is_gone_keeps_its_rows(cli: Cli, tmp_path: Path) -> None:
    library, drive = tmp_path / "library", tmp_path / "drive"
    paint_photo(library / "home.jpg", seed=1)
    for i in range(3):
        paint_photo(drive / f"{i}.jpg", seed=10 + i)
    (library / "drive").symlink_to(drive, target_is_directory=True)
    cli.index(library)
    assert len(cli.records()) == 4
    drive.rename(tmp_path / "unplugged")

    result = cli.index(library)
    assert result.summary()["removed"] == 0
    assert len(cli.records()) == 4
    (line,) = kept_lines(result)
    assert f"under {library / 'drive'}: it links to {drive}, which is not there" in line


def test_force_reembeds_every_row_without_duplicating(cli: Cli, photos: Path) -> None:
    cli.index(photos)
    before = cli.records()
    result = cli("--index", photos, "--force")
    assert result.code == 0, result.stderr
    assert result.summary() == {"new": 0, "updated": 12, "removed": 0, "unchanged": 0, "failed": 0}
    after = cli.records()
    assert set(after) == set(before)
    store = cli.store()
    try:
        assert store.count() == 12
    finally:
        store.close()
    assert all(after[p]["indexed_at"] > before[p]["indexed_at"] for p in after)


def test_a_folder_named_twice_is_indexed_and_named_once(cli: Cli, tmp_path: Path, monkeypatch) -> None:
    """``--index photos ./photos/`` on a new index: one folder, its files once, and the closing
    line names it once (it listed it twice)."""
    paint_photo(tmp_path / "photos" / "a.jpg", seed=1)
    monkeypatch.chdir(tmp_path)
    result = cli.index("photos", "./photos/")
    assert result.summary()["new"] == 1
    assert f"indexed {tmp_path / 'photos'}: 1 new" in result.stderr


def test_files_under_other_roots_are_untouched(cli: Cli, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for i in range(3):
        paint_photo(first / f"{i}.jpg", seed=i)
        paint_photo(second / f"{i}.jpg", seed=10 + i)
    cli.index(first)
    cli.index(second)
    (first / "0.jpg").unlink()
    result = cli.index(second)
    assert result.summary()["removed"] == 0
    assert str(first / "0.jpg") in cli.records()
    result = cli.index(first)
    assert result.summary()["removed"] == 1
    assert str(first / "0.jpg") not in cli.records()
    assert len(cli.records()) == 5


def test_hidden_files_clutter_and_other_extensions_are_skipped(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    paint_photo(root / "keep.jpg", seed=1)
    paint_photo(root / ".hidden.jpg", seed=2)
    paint_photo(root / "._keep.jpg", seed=3)
    paint_photo(root / ".thumbs" / "inside-hidden-dir.jpg", seed=4)
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (root / "notes.txt").write_text("not an image")
    cli.index(root)
    assert set(cli.records()) == {str(root / "keep.jpg")}


def test_jpegs_by_other_names_and_a_3d_cameras_mpo_are_indexed(cli: Cli, tmp_path: Path) -> None:
    """Windows saves a picture from the web as '.jfif'; a 3D camera (Fujifilm's W3, a Nintendo
    3DS) writes its two views as one '.MPO': JPEGs all, which the walk passed by."""
    root = tmp_path / "photos"
    scenes = {name: paint_photo(tmp_path / "scenes" / f"{seed}.png", seed) for seed, name in enumerate(
        ("saved.jfif", "old.jpe", "DSCF0001.MPO")
    )}  # fmt: skip
    root.mkdir()
    for name, scene in scenes.items():
        picture = Image.open(scene).convert("RGB")
        if name.endswith(".MPO"):  # the left view, then the right one
            picture.save(root / name, "MPO", save_all=True, append_images=[ImageChops.offset(picture, 4, 0)])
        else:
            picture.save(root / name, "JPEG", quality=92)
    assert cli.index(root).summary() == {"new": 3, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}
    records = cli.records()
    assert [records[str(root / name)]["format"] for name in scenes] == ["JPEG", "JPEG", "MPO"]
    for name, scene in scenes.items():
        (found,) = cli.search("--search", str(scene), "--limit", "1")
        assert found["results"][0]["path"] == str(root / name) and found["results"][0]["score"] > 0.95


def test_jpeg_xl_pictures_are_indexed_with_their_exif_and_xmp(cli: Cli, tmp_path: Path, monkeypatch) -> None:
    """JPEG XL (.jxl: Lightroom's and newer phones' exports, a JPEG archive recompressed without
    loss) was passed by: Pillow reads it with its plugin, its EXIF and XMP (keywords, rating)
    from its boxes, compressed or not. A broken one is reported. Its own
    orientation, which libjxl applies, is the one that counts (browsers ignore the EXIF's): an
    EXIF orientation is applied only to a recompressed JPEG, given back as the JPEG it was."""
    import pillow_jxl  # noqa: F401  (Pillow writes JPEG XL once it is imported)
    from test_xmp import packet

    root = tmp_path / "photos"
    root.mkdir()
    scenes = [paint_photo(tmp_path / "scenes" / f"{seed}.png", seed, size=(320, 240)) for seed in (1, 2, 3)]
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "FUJIFILM", "X-T5"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 09:15:00"  # DateTimeOriginal
    exif[0x0112] = 6  # a stale EXIF orientation: the picture's own says upright
    xmp = packet(rating=4, keywords=("harbour",), title="Blue hour").encode()
    Image.open(scenes[0]).convert("RGB").save(root / "DSCF0001.jxl", quality=90, exif=exif.tobytes(), xmp=xmp)
    compressed = packet(keywords=("lighthouse",)).encode()  # its boxes compressed, as libjxl may write them
    Image.open(scenes[2]).convert("RGB").save(
        root / "DSCF0002.jxl", quality=90, exif=exif.tobytes(), xmp=compressed, compress_metadata=True
    )
    Image.open(scenes[1]).convert("RGB").save(tmp_path / "archived.jpg", quality=92)
    Image.open(tmp_path / "archived.jpg").save(root / "archived.jxl", lossless_jpeg=True)  # its bytes, recompressed
    turned = Image.Exif()
    turned[0x0112] = 6  # shot holding the camera upright: shown turned a quarter
    Image.open(scenes[1]).convert("RGB").save(tmp_path / "portrait.jpg", quality=92, exif=turned.tobytes())
    Image.open(tmp_path / "portrait.jpg").save(root / "portrait.jxl", lossless_jpeg=True)
    (root / "cut.jxl").write_bytes((root / "DSCF0001.jxl").read_bytes()[:300])

    run = cli.index(root)
    assert run.summary() == {"new": 4, "updated": 0, "removed": 0, "unchanged": 0, "failed": 1}
    records = {Path(path).name: record for path, record in cli.records().items()}
    camera = records["DSCF0001.jxl"]
    assert (camera["format"], camera["width"], camera["height"]) == ("JXL", 320, 240)
    assert (records["portrait.jxl"]["width"], records["portrait.jxl"]["height"]) == (240, 320)
    assert (camera["make"], camera["model"], camera["date_taken"]) == ("FUJIFILM", "X-T5", "2024-05-01T09:15:00")
    assert (camera["rating"], camera["keywords"], camera["title"]) == (4, "harbour", "Blue hour")
    assert (records["DSCF0002.jxl"]["keywords"], records["DSCF0002.jxl"]["make"]) == ("lighthouse", "FUJIFILM")
    for scene, name in zip(scenes, ("DSCF0001.jxl", "archived.jxl", "DSCF0002.jxl"), strict=True):
        (found,) = cli.search("--search", str(scene), "--limit", "1")
        assert Path(found["results"][0]["path"]).name == name and found["results"][0]["score"] > 0.95
    assert (
        cli.failures_by_name()["cut.jxl"]["reason"] == "corrupt or truncated JPEG XL data: libjxl could not decode it"
    )

    # Copied elsewhere, each takes its stored vector and keeps what its boxes say, read without
    # decoding a picture (the plugin decodes one to open a file).
    from pillow_jxl import JpegXLImagePlugin

    (root / "picks").mkdir()
    for name in ("DSCF0001.jxl", "DSCF0002.jxl"):
        shutil.copy2(root / name, root / "picks" / name)
    monkeypatch.setattr(JpegXLImagePlugin, "Decoder", None)  # any decode fails
    copied = cli.index(root, extra=("--workers", "0"))
    assert copied.summary() == {"new": 2, "updated": 0, "removed": 0, "unchanged": 4, "failed": 1}
    picks = {Path(p).name: r for p, r in cli.records().items() if Path(p).parent.name == "picks"}
    for name in ("DSCF0001.jxl", "DSCF0002.jxl"):
        kept = ("keywords", "rating", "make", "date_taken", "width", "height")
        assert {c: picks[name][c] for c in kept} == {c: records[name][c] for c in kept}


def test_a_jpeg_xl_query_is_decoded_once(cli: Cli, tmp_path: Path, monkeypatch) -> None:
    """Its plugin decodes the whole picture to open a file (0.45 s for 24 MP): checking that a
    query is a picture before the model loads had decoded it a first time."""
    from pillow_jxl import JpegXLImagePlugin

    paint_photo(tmp_path / "photos" / "a.jpg", 1)
    cli.index(tmp_path / "photos")
    query = tmp_path / "query.jxl"
    Image.open(paint_photo(tmp_path / "scene.png", 1)).convert("RGB").save(query, quality=90)
    (tmp_path / "notes.jxl").write_text("not a picture")
    decodes = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        decoder = real(*args, **kwargs)
        return lambda data: decodes.append(1) or decoder(data)

    real = JpegXLImagePlugin.Decoder
    monkeypatch.setattr(JpegXLImagePlugin, "Decoder", counted)
    (found,) = cli.search("--search", str(query), "--limit", "1")
    assert Path(found["results"][0]["path"]).name == "a.jpg" and len(decodes) == 1
    refused = cli("--search", str(tmp_path / "notes.jxl"))
    assert refused.code == 2 and "not a recognised image" in refused.stderr and len(decodes) == 1


def test_system_folders_and_excluded_names_and_paths_are_left_out_and_lose_their_rows(cli: Cli, tmp_path: Path) -> None:
    """A Synology library: @eaDir holds the NAS's thumbnails of every photo and #recycle what was
    deleted; neither is the user's photos. ``--exclude`` adds the user's own: a folder name, a
    file-name glob, a path. Rows indexed before a folder was excluded go; the rest stay unchanged."""
    root = tmp_path / "photo"
    keep = [paint_photo(root / "2020" / "beach.jpg", seed=1), paint_photo(root / "2021" / "party.png", seed=2)]
    paint_photo(root / "2020" / "@eaDir" / "beach.jpg" / "SYNOPHOTO_THUMB_XL.jpg", seed=1)
    paint_photo(root / "#recycle" / "deleted.jpg", seed=3)
    screenshot = paint_photo(root / "Screenshots" / "screen.png", seed=4)
    paint_photo(root / "2021" / "party_thumb.jpg", seed=5)
    scratch = paint_photo(root / "2021" / "tmp" / "scratch.jpg", seed=6)

    first = cli.index(root, extra=("--exclude", "*_THUMB.jpg"))
    assert set(cli.records()) == {str(p) for p in (*keep, screenshot, scratch)}
    assert "left out by name: #recycle (1 folder), @eaDir (1 folder), *_THUMB.jpg (1 file, --exclude)" in first.stderr

    again = cli.index(root, extra=("--exclude", "screenshots/", "--exclude", "*_thumb.jpg", str(root / "2021" / "tmp")))
    assert set(cli.records()) == {str(p) for p in keep}, "the rows of what is now excluded are gone"
    assert again.summary() == {"new": 0, "updated": 0, "removed": 2, "unchanged": 2, "failed": 0}
    assert f"{root / '2021' / 'tmp'} (1 folder, --exclude)" in again.stderr

    nas = cli.index(root / "2020" / "@eaDir")  # named as a folder to index: indexed on purpose
    assert nas.summary()["new"] == 1


def test_forget_drops_a_gone_drive_with_its_thumbnails_and_failures_and_touches_nothing_else(
    cli: Cli, tmp_path: Path
) -> None:
    """A drive that is not there keeps its rows (it may be unplugged) and cannot be named to
    --index: --forget is how to drop it for good. A folder still there is forgotten too, its
    files left as they are."""
    home = [paint_photo(tmp_path / "home" / f"h{i}.jpg", seed=i) for i in range(3)]
    drive = tmp_path / "mnt" / "usb"
    paint_photo(drive / "trip" / "a.jpg", seed=10)
    paint_photo(drive / "b.png", seed=11)
    (drive / "broken.jpg").write_bytes(b"\xff\xd8\xff not a picture")
    kept_folder = [paint_photo(tmp_path / "scans" / f"s{i}.jpg", seed=20 + i) for i in range(2)]
    cli.index(tmp_path / "home", drive, tmp_path / "scans")
    thumbnails = cli.db / "thumbnails"
    assert len([t for t in thumbnails.rglob("*") if t.is_file()]) == 7 and "broken.jpg" in cli.failures_by_name()
    shutil.rmtree(tmp_path / "mnt")  # the drive, sold
    named = cli("--index", str(drive))
    assert named.code == 2 and named.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: folder not found: {drive} (the index holds 2 image(s) from it, kept: "
        f"a drive not mounted? If it is gone for good, --forget {drive} drops them)"
    ]

    result = cli("--forget", str(drive), str(tmp_path / "scans" / "s0.jpg"))
    assert result.code == 0, result.stderr
    assert f"forgot 2 image(s) under {drive}; no file was touched" in result.stderr
    assert set(cli.records()) == {str(p) for p in (*home, kept_folder[1])}
    assert len([t for t in thumbnails.rglob("*") if t.is_file()]) == 4, "the forgotten rows' thumbnails are gone"
    assert "broken.jpg" not in cli.failures_by_name()
    assert all(p.exists() for p in kept_folder), "forgetting touches no file"
    typo = cli("--forget", str(tmp_path / "hom"))
    assert typo.code == 2 and typo.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: --forget: nothing is indexed under {tmp_path / 'hom'}; did you mean "
        f"{tmp_path / 'home'}?"
    ]  # the folder the index holds, spelt nearly so
    assert len(cli.records()) == 4


def test_forget_refuses_to_empty_an_index_whose_files_are_still_there(cli: Cli, tmp_path: Path) -> None:
    """'--forget ~' typed for '--forget ~/old' emptied the index, hours of embedding, of files
    still on disk. Refused (deleting the database is how to start over); a folder still there
    that is forgotten is said to come back with the next --index over it; a gone drive that held
    every row is forgotten as before."""
    home = [paint_photo(tmp_path / "home" / f"h{i}.jpg", seed=i) for i in range(3)]
    scans = [paint_photo(tmp_path / "scans" / f"s{i}.jpg", seed=20 + i) for i in range(2)]
    cli.index(tmp_path / "home", tmp_path / "scans")
    for typed in ([tmp_path], [tmp_path / "home", tmp_path / "scans"]):
        refused = cli("--forget", *typed)
        assert refused.code == 2 and refused.stderr_lines() == [
            f"imagedb-{cli.backend}.py: error: --forget: all 5 images of the index are under {typed[0]}, and its "
            f"files are still there (a folder inside it meant?): to start over, delete {cli.db}; to keep files "
            "out of the index, --index with --exclude"
        ]
        assert len(cli.records()) == 5

    forgotten = cli("--forget", tmp_path / "scans")
    assert forgotten.code == 0 and set(cli.records()) == {str(p) for p in home}
    assert (
        f"{tmp_path / 'scans'} is still there: an --index of a folder holding it reads its files again "
        f"(--exclude {tmp_path / 'scans'} keeps them out)" in forgotten.stderr
    )
    assert all(p.exists() for p in scans)
    shutil.rmtree(tmp_path / "home")  # the drive, sold
    gone = cli("--forget", tmp_path / "home")
    assert gone.code == 0 and cli.records() == {} and "still there" not in gone.stderr


def test_forget_a_share_that_stopped_answering_does_not_hang(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A network share that stopped answering (a NAS switched off, a VPN down) is the one most
    often retired: --forget touches no file, so it must not wait on one either. Each look at
    the share blocks here as on a hard NFS mount; the rows go, the run ends, and so does an
    --forget of every row when their drive does not answer (nothing says they are still there)."""
    share, home = tmp_path / "nas", tmp_path / "home"
    for i in range(2):
        paint_photo(share / "2019" / f"n{i}.jpg", seed=i)
        paint_photo(home / f"h{i}.jpg", seed=10 + i)
    paint_photo(share / "Überblick" / "u0.jpg", seed=20)  # a name with an accent is looked for on the disk
    cli.index(share, home)

    def forgotten_in_time(*folders: Path) -> Any:
        return cli.in_time("--forget", *folders, "--time-limit", "1")

    with share_not_answering(monkeypatch, share):
        result = forgotten_in_time(share / "2019")
        assert result.code == 0, result.stderr
        assert f"forgot 2 image(s) under {share / '2019'}; no file was touched" in result.stderr
        assert sorted(Path(p).name for p in cli.records()) == ["h0.jpg", "h1.jpg", "u0.jpg"]
        # A name the index does not hold, looked for under the index's names (a symlink's?):
        # refused as a typo is, not waited on.
        typo = forgotten_in_time(share / "2020")
        assert typo.code == 2 and f"nothing is indexed under {share / '2020'}" in typo.stderr, typo.stderr
        assert f"{share / '2020'} did not answer in 1 s (a drive not answering?)" in typo.stderr
        accented = forgotten_in_time(share / "Überblick")
        assert accented.code == 0 and "forgot 1 image(s) under" in accented.stderr, accented.stderr
        assert sorted(Path(p).name for p in cli.records()) == ["h0.jpg", "h1.jpg"]

    cli.index(share)
    shutil.rmtree(home)
    with share_not_answering(monkeypatch, share):
        everything = forgotten_in_time(share, home)  # home: a drive gone
        assert everything.code == 0, everything.stderr
        silent = f"{share} did not answer in 1 s (a drive not answering?): taken as not there"
        assert everything.stderr.count(silent) == 1, "waited on, and said, once"
        assert cli.records() == {}


def test_index_a_share_that_stopped_answering_keeps_its_rows_and_indexes_the_rest(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A nightly --index of a NAS and the home folder waited forever once the NAS was switched
    off (a hard NFS mount: each look at it blocks, as here), and so did an --index of a new
    folder while the index held the share's rows (its folders are compared with the new one's).
    Now the share is given --time-limit: the home folder is indexed, the share's rows and its
    reported failures stay as they were, one line says why, and once it answers again the next
    run finds nothing to do."""
    share, home = tmp_path / "nas", tmp_path / "home"
    for i in range(2):
        paint_photo(share / "2019" / f"n{i}.jpg", seed=i)
        paint_photo(home / f"h{i}.jpg", seed=10 + i)
    (share / "2019" / "broken.jpg").write_bytes(b"no picture")
    cli.index(share, home)
    rows = cli.records()
    paint_photo(home / "h2.jpg", seed=30)
    paint_photo(home / "album" / "a0.jpg", seed=31)
    shutil.copy(share / "2019" / "n0.jpg", tmp_path / "laptop.jpg")  # copied off the share before it went
    with share_not_answering(monkeypatch, share):
        both = cli.in_time("--index", share, home, *MODEL_ARGS, "--time-limit", "1")
        assert both.code == 0, both.stderr
        assert both.summary() == {"new": 2, "updated": 0, "removed": 0, "unchanged": 2, "failed": 0}
        assert (
            f"kept the rows of 2 file(s) not found under {share}: it did not answer in 1 s (a drive not answering?); "
            f"they are looked at again at the next --index (if the drive is gone for good, --forget {share} drops them)"
        ) in both.stderr
        assert "broken.jpg" in cli.failures_by_name(), "the share's reported failures are kept too"
        new = cli.in_time("--index", share / "2020", *MODEL_ARGS, "--time-limit", "1")  # there? it cannot say
        assert new.code == 0 and f"{share / '2020'} not indexed in full: it did not answer in 1 s" in new.stderr
        paint_photo(tmp_path / "camera" / "c0.jpg", seed=32)  # a folder the index holds nothing under
        camera = cli.in_time("--index", tmp_path / "camera", *MODEL_ARGS, "--time-limit", "1")
        assert camera.code == 0 and camera.summary()["new"] == 1, camera.stderr
        # Whether the copy's original is still there (a file moved?) is asked of the share too.
        copied = cli.in_time("--index", tmp_path / "laptop.jpg", *MODEL_ARGS, "--time-limit", "1")
        assert copied.code == 0 and "1 had the bytes of indexed files: vectors reused" in copied.stderr
    assert {path: rows[path] for path in rows} == {path: cli.records()[path] for path in rows}
    assert len(cli.records()) == len(rows) + 4
    again = cli.index(share, home)
    assert again.summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 6, "failed": 1}


def test_index_a_folder_linking_to_a_share_that_stopped_answering_keeps_the_rows_it_did_not_see(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link in the home folder to the NAS's photos (followed, as links to albums are): the
    walk of the home folder stops answering where it enters the link. What it found before is
    indexed; the rows of what it could not see are kept, not taken for files deleted."""
    share, home = tmp_path / "nas", tmp_path / "home"
    for i in range(2):
        paint_photo(share / f"n{i}.jpg", seed=i)
        paint_photo(home / f"h{i}.jpg", seed=10 + i)
    (home / "nas").symlink_to(share, target_is_directory=True)
    cli.index(home)
    rows = cli.records()
    assert str(home / "nas" / "n0.jpg") in rows
    paint_photo(home / "h2.jpg", seed=30)
    with share_not_answering(monkeypatch, share, home / "nas"):
        result = cli.in_time("--index", home, *MODEL_ARGS, "--time-limit", "1")
    assert result.code == 0, result.stderr
    assert result.summary() == {"new": 1, "updated": 0, "removed": 0, "unchanged": 2, "failed": 0}
    assert (
        f"kept the rows of 2 file(s) not found under {home}: no answer came for 1 s after {home} was read "
        "(a drive not answering, or a link to one?)"
    ) in result.stderr
    assert set(cli.records()) == {*rows, str(home / "h2.jpg")}
    assert cli.index(home).summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 5, "failed": 0}


def test_a_watchs_looks_at_a_share_gone_for_the_weekend_do_not_each_leave_a_thread_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watch over a share switched off for a weekend: each look walked it again, waited
    --time-limit, and left one more thread waiting in the kernel (thousands by Monday). A look now
    finds the earlier one still waiting and takes the share as silent at once, no new thread;
    once the share answers, the next look walks it."""
    from common.discovery import Walk

    share = tmp_path / "nas"
    paint_photo(share / "n0.jpg", seed=1)
    with share_not_answering(monkeypatch, share):
        first = Walk([str(share)], patience=0.5)
        assert list(first.files()) == [] and list(first.silent) == [str(share)]
        threads, started = threading.active_count(), time.monotonic()
        later = Walk([str(share)], patience=30)
        assert list(later.files()) == [] and later.silent == first.silent
        assert threading.active_count() == threads and time.monotonic() - started < 10
    back = Walk([str(share)], patience=30)
    assert [Path(found.path).name for found in back.files()] == ["n0.jpg"] and not back.silent


def test_a_watchs_later_look_does_not_wait_on_an_accented_folder_of_a_share_gone_since(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watch names its folders before each look (an accented name is looked for on the disk, in
    the Mac's other Unicode form): on a share gone since the watch began, that look waited for
    good. It waits --time-limit: the folder is then named as given and taken as silent (its rows
    kept by the walk it is left out of); an ASCII name needs no look and is named at once."""
    from common.pipeline import roots_named_within

    share = tmp_path / "nas"
    accented, plain = share / "Überblick", share / "2019"
    accented.mkdir(parents=True)
    plain.mkdir()
    named: queue.Queue = queue.Queue()
    with share_not_answering(monkeypatch, share):
        look = threading.Thread(target=lambda: named.put(roots_named_within([str(accented), str(plain)], {}, 1.0)))
        look.daemon = True
        look.start()
        try:
            roots, silent = named.get(timeout=30)
        except queue.Empty:
            pytest.fail("the folders' names waited on the share")
    assert roots == [str(accented), str(plain)]
    assert silent == {str(accented): "it did not answer in 1 s (a drive not answering?)"}


def test_a_file_without_a_date_in_its_metadata_is_dated_by_the_name_its_phone_gave_it(
    cli: Cli, tmp_path: Path, decoded: list[str]
) -> None:
    """WhatsApp strips EXIF from the pictures it passes on, and screenshots carry none: their
    date was only in their names, and a date filter, "July 2021" or a timeline left them out.
    The names phones and apps give are read (WhatsApp's the day alone); the metadata's date comes
    first, and a name that merely holds digits dates nothing. An index made before dates them
    at its next --index from their rows alone, nothing read."""
    folder = tmp_path / "phone"
    dated_by_name = {
        "IMG-20210714-WA0003.jpg": "2021-07-14T00:00:00",
        "Screenshot_20200105-101010.png": "2020-01-05T10:10:10",
        "Screenshot_2019-07-05-10-10-10.png": "2019-07-05T10:10:10",
        "PXL_20220301_081500123.jpg": "2022-03-01T08:15:00",
        "20180812_193000.jpg": "2018-08-12T19:30:00",
        "Screen Shot 2020-02-11 at 9.41.07 PM.png": "2020-02-11T21:41:07",
    }
    undated = ["invoice_20211301.jpg", "IMG_20190230_101010.jpg", "scan 2019.png"]
    for seed, name in enumerate([*dated_by_name, *undated]):
        paint_photo(folder / name, seed=seed)
    paint_tagged_photo(folder / "IMG_20000101_000000.jpg", 20, {0x0132: "2015:04:10 10:00:00"})  # EXIF's first
    cli.index(folder, extra=("--workers", "0"))

    def dates_are_right() -> None:
        dates = {Path(path).name: row["date_taken"] for path, row in cli.records().items()}
        assert dates == {**dated_by_name, **dict.fromkeys(undated), "IMG_20000101_000000.jpg": "2015-04-10T10:00:00"}
        (july,) = cli.search("--text", "july 2021")
        assert [Path(r["path"]).name for r in july["results"]][:1] == ["IMG-20210714-WA0003.jpg"]
        january = cli("--where", "date_taken LIKE '2020-01%'", "--format", "paths")
        assert january.stdout.splitlines() == [str(folder / "Screenshot_20200105-101010.png")]

    dates_are_right()
    rows_rewritten(
        cli, lambda r: r | {"record_version": 12} | ({"date_taken": None} if r["filename"] in dated_by_name else {})
    )
    decoded.clear()
    again = cli.index(folder, extra=("--workers", "0"))
    assert decoded == [] and "10 brought up to date from their rows" in again.stderr
    dates_are_right()


def test_symlink_loop_does_not_hang_and_indexes_each_file_once(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    paint_photo(root / "album" / "one.jpg", seed=1)
    paint_photo(root / "two.jpg", seed=2)
    os.symlink(root, root / "album" / "loop")
    os.symlink(root / "album", root / "album-link")
    result = cli.index(root)
    assert result.summary()["new"] == 2
    assert len(cli.records()) == 2


def test_a_file_system_without_inode_numbers_is_walked_whole(cli: Cli, tmp_path: Path, monkeypatch) -> None:
    """Where a file system numbers no inodes (``st_ino`` 0: some network file systems), every
    folder looked like every other: the walk, which visits a folder once, took each for the
    database's own folder, which it skips, and indexed nothing."""
    import stat

    real_stat = os.stat

    def stat_without_inodes(path, *args, **kwargs):
        st = real_stat(path, *args, **kwargs)
        if not stat.S_ISDIR(st.st_mode):
            return st
        return os.stat_result((st.st_mode, 0, *tuple(st)[2:]))

    root = tmp_path / "photos"
    paint_photo(root / "2023" / "one.jpg", seed=1)
    paint_photo(root / "2024" / "two.jpg", seed=2)
    paint_photo(root / "top.jpg", seed=3)
    os.symlink(root, root / "2024" / "loop")
    elsewhere = paint_photo(tmp_path / "scans" / "scan.jpg", seed=4)
    monkeypatch.setattr(os, "stat", stat_without_inodes)

    assert cli.index(root).summary()["new"] == 3
    assert cli.index(elsewhere.parent).summary()["new"] == 1
    assert sorted(cli.records()) == sorted(
        str(p) for p in (root / "2023" / "one.jpg", root / "2024" / "two.jpg", root / "top.jpg", elsewhere)
    )
    assert names_listed(cli, "--under", str(root / "2024")) == ["two.jpg"]


def test_unicode_and_space_names(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "vacances d'été"
    photo = paint_photo(root / "plage à Nice 1.jpg", seed=5)
    paint_photo(root / "写真.png", seed=6)
    cli.index(root)
    assert str(photo) in cli.records()
    (hits,) = cli.search("--search", str(photo), "--limit", "1")
    assert hits["results"][0]["path"] == str(photo)


def test_bad_file_is_reported_and_good_ones_indexed(cli: Cli, photos: Path) -> None:
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "text.png").write_text("this is not a png")
    (photos / "notes.jpg").write_text("a text file named .jpg")
    truncated = (photos / "a.jpg").read_bytes()
    (photos / "truncated.jpg").write_bytes(truncated[: len(truncated) // 2])
    result = cli.index(photos)
    assert result.code == 0
    assert result.summary() == {"new": 12, "updated": 0, "removed": 0, "unchanged": 0, "failed": 4}
    for name in ("empty.jpg", "text.png", "notes.jpg", "truncated.jpg"):
        lines = [line for line in result.stderr_lines() if str(photos / name) in line]
        assert len(lines) == 1 and "skipped" in lines[0]
    from common.failures import read_failures

    report = read_failures(str(cli.db / "failures.jsonl"))
    reasons = {Path(f["path"]).name: f["reason"] for f in report}
    assert set(reasons) == {"empty.jpg", "text.png", "notes.jpg", "truncated.jpg"}
    assert reasons["truncated.jpg"].startswith("truncated: the file ends before its picture does")
    assert reasons["empty.jpg"] == "empty file (0 bytes)"
    assert reasons["text.png"] == "not a recognised image (unknown format or corrupt header)"
    assert len(cli.records()) == 12


def test_a_modified_file_that_now_fails_keeps_its_old_row_and_thumbnail(cli: Cli, photos: Path) -> None:
    from common.thumbnails import THUMBNAIL_DIR, thumbnail_path

    cli.index(photos)
    row = cli.records()[str(photos / "a.jpg")]
    (photos / "a.jpg").write_bytes(b"garbage now")
    result = cli.index(photos)
    assert result.summary()["failed"] == 1
    assert cli.records()[str(photos / "a.jpg")] == row
    assert Path(thumbnail_path(str(cli.db / THUMBNAIL_DIR), row)).is_file(), "the row's gallery picture stays"


def test_same_folder_indexed_twice_in_one_call_counts_once(cli: Cli, photos: Path) -> None:
    result = cli.index(photos, photos / "sub")
    assert result.summary()["new"] == 12
    assert len(cli.records()) == 12


def test_moving_the_database_keeps_it_usable(cli: Cli, photos: Path, tmp_path: Path) -> None:
    cli.index(photos)
    moved = tmp_path / "moved-db"
    shutil.move(str(cli.db), moved)
    cli.db = moved
    (hits,) = cli.search("--search", str(photos / "k.jpg"), "--limit", "1")
    assert hits["results"][0]["path"] == str(photos / "k.jpg")


def test_batches_are_written_in_groups_unless_each_must_be_durable(cli: Cli, tmp_path: Path, monkeypatch) -> None:
    """A store write is a transaction with a fixed cost (as long as a GPU's forward pass), so
    batches are written together; ``--commit-every 0`` still makes each one durable on its own."""
    folder = tmp_path / "photos"
    for i in range(80):
        paint_photo(folder / f"{i:02d}.png", seed=i, size=(48, 40))
    from common.backends import store_class

    cls, writes, kinds, commits, writing = store_class(cli.backend), [], [], [], []

    def watched(kind: str, real):
        def write(self, records, *rest):
            if not writing:  # the indexer's call, not one store method calling another
                writes.append(len(records))
                kinds.append(kind)
            writing.append(kind)
            try:
                return real(self, records, *rest)
            finally:
                writing.pop()

        return write

    monkeypatch.setattr(cls, "add_images", watched("add", cls.add_images))
    monkeypatch.setattr(cls, "upsert_images", watched("upsert", cls.upsert_images))
    monkeypatch.setattr(cls, "commit", lambda self, real=cls.commit: commits.append(len(writes)) or real(self))

    cli.index(folder, extra=("--batch", "8", "--workers", "0"))
    assert sum(writes) == 80 and len(writes) <= 3, f"10 batches of 8, written as {writes}"
    assert set(kinds) == {"add"}, "new files are added: no row to replace"
    assert len(cli.records()) == 80

    writes.clear()
    kinds.clear()
    commits.clear()
    cli.index(folder, extra=("--batch", "8", "--workers", "0", "--force", "--commit-every", "0"))
    assert writes == [8] * 10, "each batch written on its own"
    assert set(kinds) == {"upsert"}, "re-embedded files replace their rows"
    assert commits[:10] == list(range(1, 11)), "and committed right after it"
    assert len(cli.records()) == 80


def test_a_lancedb_index_run_ends_holding_its_latest_version_alone(tmp_path: Path) -> None:
    """Each write of a run is a LanceDB version; with no search open meanwhile, the run ends with
    the latest alone (Lance's default kept them all 7 days: half the disk of a first index). The
    indexing process must not hold the table open twice, or it would count itself a reader."""
    cli = Cli("lancedb", tmp_path / "db")
    folder = tmp_path / "photos"
    for i in range(40):
        paint_photo(folder / f"{i:02d}.png", seed=i, size=(48, 40))
    cli.index(folder, extra=("--batch", "8", "--workers", "0", "--commit-every", "0"))  # five writes
    assert len(raw_lance_table(cli.db).list_versions()) == 1
    (folder / "00.png").unlink()
    paint_photo(folder / "01.png", seed=99, size=(48, 40))
    cli.index(folder, extra=("--workers", "0"))
    assert len(raw_lance_table(cli.db).list_versions()) == 1
    assert len(cli.records()) == 39


def test_the_batch_size_suits_the_device_unless_one_is_given(cli: Cli, tmp_path: Path, monkeypatch) -> None:
    """Without --batch, a model on the CPU runs batches of 32 and one on a CUDA GPU batches of
    128 (common.defaults: smaller ones cost a GPU host's main process 3x the time an image);
    --batch or the config file's ``batch`` overrides either."""
    from common.defaults import default_batch_size
    from common.embedding import Embedder

    folder = tmp_path / "photos"
    for i in range(40):
        paint_photo(folder / f"{i:02d}.png", seed=i, size=(48, 40))
    real_embed, batches = Embedder.embed_prepared, []
    monkeypatch.setattr(
        Embedder, "embed_prepared", lambda self, prepared: batches.append(len(prepared)) or real_embed(self, prepared)
    )

    cli.index(folder, extra=("--workers", "0"))
    assert batches == [32, 8]
    batches.clear()
    config = tmp_path / "imagedb.yaml"
    config.write_text("batch: 16\n")
    cli.index(folder, extra=("--workers", "0", "--force", "--config", str(config)))
    assert batches == [16, 16, 8]
    assert (default_batch_size("cpu"), default_batch_size("mps"), default_batch_size("cuda")) == (32, 32, 128)


@pytest.mark.parametrize("stop, status", [("ctrl-c", 130), ("sigterm", 143)])
def test_ctrl_c_keeps_finished_batches_and_a_rerun_resumes(
    cli: Cli, tmp_path: Path, monkeypatch, stop: str, status: int
) -> None:
    """Ctrl-C or SIGTERM (``kill``, a service manager) mid-run: what was written is kept, and the
    exit status says which stopped it (SIGTERM's said 130 as Ctrl-C's did)."""
    folder = tmp_path / "photos"
    for i in range(40):
        paint_photo(folder / f"{i:02d}.png", seed=i, size=(48, 40))
    from common.cli import Terminated
    from common.embedding import Embedder

    real_embed, calls = Embedder.embed_prepared, []

    def interrupted_on_third_batch(self, prepared):
        calls.append(len(prepared))
        if len(calls) == 3:
            raise KeyboardInterrupt if stop == "ctrl-c" else Terminated
        return real_embed(self, prepared)

    monkeypatch.setattr(Embedder, "embed_prepared", interrupted_on_third_batch)
    result = cli("--index", folder, *MODEL_ARGS, "--batch", "8", "--workers", "0")
    assert result.code == status
    assert "interrupted: 16 new" in result.stderr and "run the same command again to resume" in result.stderr
    assert len(cli.records()) == 16, "the two finished batches were committed"

    monkeypatch.setattr(Embedder, "embed_prepared", real_embed)
    again = cli.index(folder)
    assert again.summary() == {"new": 24, "updated": 0, "removed": 0, "unchanged": 16, "failed": 0}
    assert len(cli.records()) == 40


def test_a_new_index_is_refused_a_folder_of_photos_or_of_other_things_before_the_model_loads(
    backend: str, photos: Path, tmp_path: Path
) -> None:
    """``--db ~/Pictures --index ~/Pictures`` (--db taken for where the photos are) made an index
    of nothing (a run leaves its database's folder out) spread among the photos; ``--db ~``
    spread one among other files. Each is one line, exit 2, and nothing is written there."""
    pictures = sorted(p for p in photos.rglob("*"))
    photos_db, home_db = Cli(backend, photos), Cli(backend, tmp_path)
    own = photos_db("--index", photos, *MODEL_ARGS)
    assert own.code == 2 and own.stderr_lines() == [
        f"imagedb-{backend}.py: error: --db {photos} holds other things (10: a.jpg, b.png, c.webp, …) and no "
        "index: a new index needs a folder of its own (one not there yet, or empty)"
    ], own.stderr
    assert home_db("--index", photos, *MODEL_ARGS).stderr_lines() == [
        f"imagedb-{backend}.py: error: --db {tmp_path} holds other things (1: photos) and no index: a new index "
        "needs a folder of its own (one not there yet, or empty)"
    ]
    assert sorted(p for p in photos.rglob("*")) == pictures and sorted(tmp_path.iterdir()) == [photos]

    # An empty folder made for it, even one the Finder left a .DS_Store in, takes it; so does a
    # folder a first run was stopped in while making the index (its files there, no index yet).
    made = tmp_path / "made"
    made.mkdir()
    (made / ".DS_Store").write_bytes(b"\0")
    assert Cli(backend, made).index(photos).summary()["new"] == 12
    stopped = tmp_path / "stopped"
    shutil.copytree(made, stopped, ignore=shutil.ignore_patterns("manifest.json", "*.lance"))
    assert Cli(backend, stopped).index(photos).summary()["new"] == 12


def test_a_folder_in_the_databases_own_is_refused_as_the_one_to_index(cli: Cli, photos: Path) -> None:
    """A run leaves its database's folder out: asked to index it, or a folder in it, it found
    nothing. Refused, one line, exit 2, by whatever name (here a link to it)."""
    cli.index(photos)
    before = cli.records()
    (photos.parent / "link").symlink_to(cli.db)
    for folder in (cli.db, cli.db / "thumbnails", photos.parent / "link"):
        result = cli("--index", folder, *MODEL_ARGS)
        assert result.code == 2 and result.stderr_lines() == [
            f"imagedb-{cli.backend}.py: error: --index {folder}: it is in the database's own folder (--db "
            f"{cli.db}), which indexing leaves out: give --db a folder of its own, beside the photos or in them"
        ], result.stderr
    assert cli.records() == before


def test_a_database_inside_the_indexed_folder_does_not_index_its_own_thumbnails(cli: Cli, photos: Path) -> None:
    """`cd ~/Pictures && imagedb-lancedb.py --index .` keeps the database (thumbnails: JPEGs) in
    the folder it indexes; each run used to index the last run's thumbnails as photos."""
    pictures = sorted(str(p) for p in photos.rglob("*") if p.is_file())
    inside = Cli(cli.backend, photos / "imagedb")
    assert inside.index(photos).summary()["new"] == len(pictures)
    (photos / "sub" / "link-to-db").symlink_to(inside.db)  # not by another path either
    again = inside.index(photos)
    assert again.summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": len(pictures), "failed": 0}
    assert sorted(inside.records()) == pictures

    # A database an earlier version let index its thumbnails loses those rows on the next run.
    thumbnail = next(p for p in (inside.db / "thumbnails").rglob("*") if p.is_file())
    store = inside.store()
    [vector] = store.get_vectors([pictures[0]]).values()
    record = {**inside.records()[pictures[0]], "path": str(thumbnail), "folder": str(thumbnail.parent)}
    store.upsert_images([record], vector[None, :])
    store.commit()
    store.close()
    assert inside.index(photos).summary()["removed"] == 1
    assert sorted(inside.records()) == pictures


def test_an_older_imagedbs_index_is_searched_as_it_is_and_the_next_run_rereads_its_files_without_embedding(
    cli: Cli, photos: Path, monkeypatch
) -> None:
    """An index from before a column (here content_hash, and record_version itself) opens and
    answers searches; the next --index reads its files again for the records this version writes
    and keeps every stored vector: only a new file reaches the model."""
    from common.embedding import Embedder
    from common.records import RECORD_VERSION

    cli.index(photos)
    store = cli.store()
    try:
        paths, vectors = store.get_all_vectors()
    finally:
        store.close()
    hashes = {path: record["content_hash"] for path, record in cli.records().items()}
    made_by_an_older_imagedb(cli, ["content_hash", "record_version"])

    (found,) = cli.search("--search", str(photos / "a.jpg"), "--limit", "1")
    assert (found["results"][0]["path"], found["results"][0]["score"]) == (str(photos / "a.jpg"), 1.0)
    not_yet = cli("--where", "content_hash IS NULL", "--format", "paths", "--limit", "100")
    if cli.backend == "faiss":  # its frame reads the column as NULL until the rows are written again
        assert not_yet.code == 0 and len(not_yet.stdout.split()) == 12
    else:  # LanceDB cannot filter on a column its table lacks: one line, how to add it
        assert not_yet.code == 2 and "has no content_hash column yet: --index its folders once" in not_yet.stderr
    repaired = cli("--repair")
    assert repaired.code == 0, repaired.stderr

    newcomer = paint_photo(photos / "new.jpg", seed=99)
    real_embed, embedded = Embedder.embed_prepared, []
    monkeypatch.setattr(
        Embedder, "embed_prepared", lambda self, prepared: embedded.append(len(prepared)) or real_embed(self, prepared)
    )
    result = cli.index(photos)
    assert result.summary() == {"new": 1, "updated": 12, "removed": 0, "unchanged": 0, "failed": 0}
    assert "12 read again for what this version records: vectors kept" in result.stderr
    assert sum(embedded) == 1, "only the new file is embedded"
    np.testing.assert_array_equal(cli.vectors(paths), vectors)
    records = cli.records()
    assert {p: records[p]["content_hash"] for p in hashes} == hashes
    assert {r["record_version"] for r in records.values()} == {RECORD_VERSION}
    assert records[str(newcomer)]["content_hash"]
    assert cli.index(photos).summary()["unchanged"] == 13


def test_an_index_from_just_before_record_versions_is_not_read_again(
    cli: Cli, photos: Path, decoded: list[str]
) -> None:
    """The version before record_version described files as version 1 does: its index lacks that
    column (and the place columns version 2 added) alone, and the next run reads none of its
    files: their rows are brought up to date from what they hold, and the run after finds them
    unchanged."""
    from common.places import PLACE_COLUMNS
    from common.records import RECORD_VERSION

    cli.index(photos)
    made_by_an_older_imagedb(cli, ["record_version", *PLACE_COLUMNS])
    decoded.clear()
    result = cli.index(photos, extra=("--workers", "0"))
    assert result.summary()["updated"] == 12 and decoded == []
    assert "12 brought up to date from their rows: nothing decoded or embedded" in result.stderr
    listed = cli("--where", f"record_version = {RECORD_VERSION}", "--format", "paths", "--limit", "100")
    assert listed.code == 0 and len(listed.stdout.split()) == 12
    assert cli.index(photos).summary()["unchanged"] == 12
    paint_photo(photos / "a.jpg", seed=50)
    assert cli.index(photos).summary()["updated"] == 1
    assert {r["record_version"] for r in cli.records().values()} == {RECORD_VERSION}


class Watch:
    """``--index DIR --watch S`` running in a real process, its stderr read line by line."""

    def __init__(
        self, backend: str, photos: Path, db: Path, seconds: float, *extra: str, cwd: Path | None = None
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / f"imagedb-{backend}.py"), "--db", str(db), "--index", str(photos),
             "--watch", str(seconds), *MODEL_ARGS, *extra],
            stderr=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=cwd,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.said: list[str] = []
        self.watching = 0  # how many lines it said before "watching …" (its first run's)

    def wait_until_watching(self) -> None:
        self.next_line_with("watching")
        self.watching = len(self.said)

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))

    def next_line_with(self, text: str) -> str:
        while True:
            self.said.append(self.lines.get(timeout=90))
            if text in self.said[-1]:
                return self.said[-1]

    def stop(self, between_looks: bool = True) -> list[str]:
        """SIGTERM, as a service manager stops it; what it said since watching. With
        ``between_looks`` the signal comes while the watch waits (looks far apart): exit 0;
        else it may cut a look short, which exits 143, its rows kept."""
        time.sleep(0.3)  # the round that printed is over
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) in ((0,) if between_looks else (0, 143))
        self.reader.join(timeout=30)  # every line it wrote read (its pipe at its end)
        self.process.stderr.close()
        while not self.lines.empty():
            self.said.append(self.lines.get())
        return self.said[self.watching :]


@pytest.fixture
def start_watch() -> Iterator[Callable[..., Watch]]:
    """Start a ``Watch`` (its arguments) and wait until it watches; every one started is killed
    at the test's end, whatever failed (registered before the wait, which may time out)."""
    started: list[Watch] = []

    def start(*args: Any, **kwargs: Any) -> Watch:
        started.append(Watch(*args, **kwargs))
        started[-1].wait_until_watching()
        return started[-1]

    yield start
    for watch in started:
        watch.process.kill()


def test_watch_indexes_what_arrives_and_what_goes_until_stopped(
    backend: str, tmp_path: Path, start_watch: Callable[..., Watch]
) -> None:
    """``--index DIR --watch S`` in a real process: a photo that arrives is indexed, one that goes
    is removed, rounds with nothing to do print nothing, and SIGTERM between rounds (a service
    manager stopping it) ends it cleanly, exit 0, every round kept."""
    photos, staging, db = tmp_path / "photos", tmp_path / "staging", tmp_path / "db"
    first = paint_photo(photos / "first.jpg", seed=1)
    watch = start_watch(backend, Path("photos"), db, 1.5, cwd=tmp_path)  # typed as a name in this folder
    arriving = paint_photo(staging / "second.jpg", seed=2)
    os.replace(arriving, photos / "second.jpg")  # whole, as a copy or a download finishes
    # Each look names the folder in full, as the first run did (it said 'indexed photos' before).
    arrived = f"imagedb-{backend}.py: indexed {photos}: 1 new, 0 updated, 0 removed, 1 unchanged, 0 failed"
    assert watch.next_line_with(": indexed ").startswith(arrived)
    time.sleep(3.5)  # rounds with nothing to do, which say nothing (checked below)
    first.unlink()
    gone = f"imagedb-{backend}.py: indexed {photos}: 0 new, 0 updated, 1 removed, 1 unchanged, 0 failed"
    assert watch.next_line_with(": indexed ").startswith(gone)
    said = watch.stop()
    assert [line for line in said if ": indexed " not in line] == [f"imagedb-{backend}.py: stopped watching {photos}"]
    assert set(Cli(backend, db).records()) == {str(photos / "second.jpg")}


def test_a_watch_says_a_folder_is_away_once_not_at_every_look(
    backend: str, tmp_path: Path, start_watch: Callable[..., Watch]
) -> None:
    """A watched drive unmounted for a while: its rows are kept, and the warnings that say so
    come once when it goes, not at every look (two lines a look before); gone a second time,
    they come once more."""
    photos, away, db = tmp_path / "photos", tmp_path / "away", tmp_path / "db"
    paint_photo(photos / "first.jpg", seed=1)
    watch = start_watch(backend, photos, db, 0.25)
    for _ in range(2):
        os.rename(photos, away)
        time.sleep(2)  # looks with the folder away
        os.rename(away, photos)
        time.sleep(1)  # looks with it back
    said = watch.stop(between_looks=False)  # looks 0.25 s apart
    kept = [line for line in said if "kept the rows of 1 file(s) not found" in line]
    assert len(kept) == 2 and "the folder is not there (a drive not mounted?)" in kept[0], said
    assert len([line for line in said if "cannot read folder" in line]) == 2, said
    assert set(Cli(backend, db).records()) == {str(photos / "first.jpg")}


def test_force_and_retry_failed_apply_to_a_watchs_first_run_alone(
    backend: str, tmp_path: Path, start_watch: Callable[..., Watch]
) -> None:
    """``--index DIR --force --retry-failed --watch S``: the first run re-embeds every photo and
    reads the broken file again; the looks after take only what changed. Each look re-embedded
    every photo and re-read every failed file (a 200 MP one for its whole time limit) before."""
    photos, db = tmp_path / "photos", tmp_path / "db"
    paint_photo(photos / "first.jpg", seed=1)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a JPEG")
    assert Cli(backend, db).index(photos).summary()["failed"] == 1
    watch = start_watch(backend, photos, db, 1, "--force", "--retry-failed")
    [first_run] = [line for line in watch.said if ": indexed " in line]
    assert ": 0 new, 1 updated, 0 removed, 0 unchanged, 1 failed" in first_run
    time.sleep(3)  # looks with nothing to do, which say nothing
    paint_photo(photos / "second.jpg", seed=2)
    assert ": 1 new, 0 updated, 0 removed, 1 unchanged, 1 failed" in watch.next_line_with(": indexed ")
    said = watch.stop()
    assert [line for line in said if ": indexed " not in line] == [f"imagedb-{backend}.py: stopped watching {photos}"]


def test_a_watched_file_indexed_by_a_later_look_ends_the_watch_with_exit_status_0(
    backend: str, tmp_path: Path, start_watch: Callable[..., Watch]
) -> None:
    """``--index inbox/new.jpg --watch``: a named file that fails makes the exit status 1 (as
    ``cp`` of an unreadable file does); a watch still ended with 1 once a later look had indexed
    the file (half a download at first, whole since): the status says how the watch left it."""
    photo = tmp_path / "inbox" / "new.jpg"
    photo.parent.mkdir()
    photo.write_bytes(b"\xff\xd8\xff half a download")
    watch = start_watch(backend, photo, tmp_path / "db", 1)
    assert any(f"error: --index {photo}: not indexed" in line for line in watch.said), watch.said
    os.replace(paint_photo(tmp_path / "staging.jpg", seed=1), photo)  # whole, as a download finishes
    assert ": 1 new, 0 updated, 0 removed, 0 unchanged, 0 failed" in watch.next_line_with(": indexed ")
    watch.stop()  # exit status 0: the file is indexed
    assert set(Cli(backend, tmp_path / "db").records()) == {str(photo)}


def test_watch_waits_for_a_file_still_being_written(
    backend: str, tmp_path: Path, start_watch: Callable[..., Watch]
) -> None:
    """A photo copied into a watched folder is read once whole, not half-written: its first half,
    then a pause (a slow drive, a download), then the rest is one new photo, with no "skipped"
    line for the half (which the looks every 0.2 s found, and read, before ``common.settling``).
    A photo whose time is an hour ahead (a file server's clock) is indexed within seconds, not
    an hour."""
    photos, staging, db = tmp_path / "photos", tmp_path / "staging", tmp_path / "db"
    paint_photo(photos / "first.jpg", seed=1)
    watch = start_watch(backend, photos, db, 0.2)
    whole = paint_photo(staging / "copied.jpg", seed=2).read_bytes()
    with open(photos / "copied.jpg", "wb") as copy:
        copy.write(whole[: len(whole) // 2])
        copy.flush()
        time.sleep(0.8)
        copy.write(whole[len(whole) // 2 :])
    assert ": 1 new, 0 updated, 0 removed, 1 unchanged, 0 failed" in watch.next_line_with(": indexed ")
    ahead = paint_photo(photos / "ahead.jpg", seed=3)
    an_hour_on = time.time() + 3600
    os.utime(ahead, (an_hour_on, an_hour_on))
    assert ": 1 new, 0 updated, 0 removed, 2 unchanged, 0 failed" in watch.next_line_with(": indexed ")
    said = watch.stop(between_looks=False)  # looks 0.2 s apart
    assert [line for line in said if "skipped" in line or (": indexed " in line and "0 failed" not in line)] == []
    assert set(Cli(backend, db).records()) == {str(photos / name) for name in ("first.jpg", "copied.jpg", "ahead.jpg")}


def test_the_run_lines_count_one_photo_as_one_image(cli: Cli, tmp_path: Path) -> None:
    paint_photo(tmp_path / "one" / "photo.jpg", seed=1)
    said = cli.index(tmp_path / "one").stderr
    assert f"found 1 image under {tmp_path / 'one'}:" in said and f": 1 image in {cli.db}" in said, said


def test_the_run_lines_say_a_file_given_to_index_by_name(cli: Cli, tmp_path: Path) -> None:
    """A file named to --index was "found 1 image under /photos/a.jpg", as if it were a folder."""
    paint_photo(tmp_path / "one" / "photo.jpg", seed=1)
    single = paint_photo(tmp_path / "inbox" / "scan.jpg", seed=2)
    said = cli.index(single).stderr
    assert f"found 1 image named {single}:" in said, said
    said = cli.index(tmp_path / "one", single).stderr
    assert f"found 2 images under {tmp_path / 'one'} and named {single}:" in said, said
