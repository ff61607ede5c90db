"""--distinct: each result a different picture; the near duplicates of a hit ranked above (a
burst's other frames) are folded into it and named in its ``alike``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance

from conftest import Cli, paint_photo

# The tiny test model is coarse: two of these painted scenes are within 0.92 of each other, a
# scene's retouched and cropped frames within 0.984 of it (measured); 0.97 parts them.
THRESHOLD = "0.97"


@pytest.fixture
def bursts(tmp_path: Path) -> Path:
    """Three scenes of three frames each (as shot, brighter, cropped a little) and one alone."""
    root = tmp_path / "bursts"
    for scene, seed in {"a": 121, "b": 128, "c": 135, "d": 107}.items():
        picture = Image.open(paint_photo(root / f"{scene}-1.png", seed=seed, size=(320, 240))).convert("RGB")
        if scene == "d":
            continue
        ImageEnhance.Brightness(picture).enhance(1.08).save(root / f"{scene}-2.png")
        picture.crop((6, 4, 314, 236)).resize((320, 240)).save(root / f"{scene}-3.png")
    return root


def scene(path: str) -> str:
    return Path(path).name[0]


def test_a_search_shows_each_scene_once_naming_its_other_frames(cli: Cli, bursts: Path) -> None:
    cli.index(bursts)
    query = str(bursts / "a-1.png")
    (plain,) = cli.search("--search", query, "--limit", "3")
    assert [scene(r["path"]) for r in plain["results"]] == ["a", "a", "a"]  # one scene fills the page

    (distinct,) = cli.search("--search", query, "--limit", "4", "--distinct", "--duplicate-threshold", THRESHOLD)
    results = distinct["results"]
    assert results[0]["path"] == query
    assert sorted(scene(r["path"]) for r in results) == ["a", "b", "c", "d"]
    for result in results:
        frames = {f"{scene(result['path'])}-{n}.png" for n in (1, 2, 3)} - {Path(result["path"]).name}
        expected = set() if scene(result["path"]) == "d" else frames
        assert {Path(p).name for p in result.get("alike", [])} == expected, result["path"]
    assert [r["rank"] for r in results] == [1, 2, 3, 4]
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


def test_the_table_counts_and_csv_and_html_name_what_was_folded(cli: Cli, bursts: Path) -> None:
    cli.index(bursts)
    args = ("--search", str(bursts / "b-1.png"), "--limit", "2", "--distinct", "--duplicate-threshold", THRESHOLD)
    table = cli(*args)
    assert table.code == 0, table.stderr
    header, first = table.stdout.splitlines()[1:3]
    assert header.split()[-1] == "alike" and first.split()[-1] == "+2" and str(bursts / "b-1.png") in first
    rows = list(csv.DictReader(io.StringIO(cli(*args, "--format", "csv").stdout)))
    assert sorted(Path(p).name for p in rows[0]["alike"].split("; ")) == ["b-2.png", "b-3.png"]
    page = bursts.parent / "page.html"
    assert cli(*args, "--html", str(page)).code == 0
    assert "2 alike: b-" in page.read_text()
    without = cli("--search", str(bursts / "b-1.png"), "--limit", "2")
    assert "alike" not in without.stdout.splitlines()[1]  # the column is there only when something was folded


def test_a_listing_shows_one_row_a_scene(cli: Cli, bursts: Path) -> None:
    cli.index(bursts)
    (listing,) = cli.search("--under", str(bursts), "--distinct", "--duplicate-threshold", THRESHOLD)
    assert sorted(scene(r["path"]) for r in listing["results"]) == ["a", "b", "c", "d"]
    assert sum(len(r.get("alike", [])) for r in listing["results"]) == 6


def test_distinct_needs_results_to_fold(cli: Cli, bursts: Path) -> None:
    cli.index(bursts)
    refused = cli("--stats", "--distinct")
    assert refused.code == 2 and "--distinct folds near duplicates among results" in refused.stderr


def test_a_search_re_ranked_by_colour_keeps_what_was_folded(cli: Cli, bursts: Path) -> None:
    cli.index(bursts)
    (found,) = cli.search(
        "--search", str(bursts / "c-1.png"), "--color", "red", "--limit", "4", "--distinct",
        "--duplicate-threshold", THRESHOLD,
    )  # fmt: skip
    results = found["results"]
    assert sorted(scene(r["path"]) for r in results) == ["a", "b", "c", "d"]
    assert all("color_score" in r for r in results)
    assert sum(len(r.get("alike", [])) for r in results) == 6
