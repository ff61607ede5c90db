"""--duplicates: exact copies by content hash, near duplicates by cosine, listed separately."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image, ImageEnhance

from conftest import Cli, paint_photo


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
    )


def test_a_threshold_outside_zero_to_one_is_refused(cli: Cli) -> None:
    result = cli("--duplicates", "--duplicate-threshold", "1.5")
    assert result.code == 2 and "must be in (0, 1]" in result.stderr
