"""Colour search: Lab histogram signatures (Hellinger), by named colours, by a palette image,
and combined with an image query — on pictures the tests paint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.color import colors_signature, image_signature, parse_colors
from conftest import Cli, paint_photo

DODGER_BLUE, RED, YELLOW = (30, 144, 255), (220, 30, 30), (250, 220, 40)


def two_tone(path: Path, left: tuple[int, int, int], right: tuple[int, int, int], split: float) -> Path:
    image = Image.new("RGB", (300, 200), right)
    image.paste(left, (0, 0, int(300 * split), 200))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def test_signatures_are_unit_vectors_whose_dot_product_measures_shared_colour() -> None:
    blue = image_signature(Image.new("RGB", (120, 80), DODGER_BLUE))
    near_blue = image_signature(Image.new("RGB", (120, 80), (45, 130, 240)))
    red = image_signature(Image.new("RGB", (120, 80), RED))
    half = image_signature(_half())
    assert np.linalg.norm(blue) == pytest.approx(1.0, abs=1e-5)
    assert blue @ blue == pytest.approx(1.0, abs=1e-5) and blue @ red == pytest.approx(0.0, abs=1e-6)
    assert blue @ half == pytest.approx(np.sqrt(0.5), abs=0.01), "half the colour scores √½"
    # A typed colour stands for its neighbourhood: the exact colour first, near ones close behind.
    query = colors_signature(parse_colors(["#1e90ff"]))
    assert query @ blue > query @ near_blue > 0.75 > query @ half > 0.5 > 0.01 > query @ red
    # Hellinger: Euclidean distance is √2 × the Hellinger distance √(1 − BC).
    assert np.linalg.norm(blue - half) == pytest.approx(np.sqrt(2) * np.sqrt(1 - blue @ half), abs=1e-5)


def test_only_the_weights_proportions_count_whatever_their_size() -> None:
    """'red:1e300,blue' is red, 'red:1e-50' is red: weights past float32's range neither overflow
    into an empty search nor vanish into one (both found nothing, with NumPy warnings)."""
    red = colors_signature(parse_colors(["red"]))
    for spec in ("red:1e300,blue", "red:1e-50", "red:1e30"):
        signature = colors_signature(parse_colors([spec]))
        assert np.isfinite(signature).all() and signature @ red == pytest.approx(1.0, abs=1e-4), spec
    even = colors_signature(parse_colors(["red:1e-50,blue:1e-50"]))
    assert even @ colors_signature(parse_colors(["red,blue"])) == pytest.approx(1.0, abs=1e-4)


def _half() -> Image.Image:
    image = Image.new("RGB", (300, 200), RED)
    image.paste(DODGER_BLUE, (0, 0, 150, 200))
    return image


@pytest.fixture
def painted(tmp_path: Path) -> Path:
    folder = tmp_path / "colours"
    two_tone(folder / "mostly-blue.png", DODGER_BLUE, (255, 255, 255), 0.8)
    two_tone(folder / "some-blue.png", DODGER_BLUE, RED, 0.3)
    two_tone(folder / "blue-and-yellow.png", DODGER_BLUE, YELLOW, 0.5)
    two_tone(folder / "red.png", RED, RED, 1.0)
    for i in range(4):
        paint_photo(folder / f"photo-{i}.jpg", seed=200 + i)
    return folder


def test_color_search_ranks_by_how_much_of_the_colour_a_picture_holds(cli: Cli, painted: Path) -> None:
    cli.index(painted)
    (hits,) = cli.search("--color", "#1e90ff", "--limit", "3")
    assert [Path(h["path"]).name for h in hits["results"]] == ["mostly-blue.png", "blue-and-yellow.png",
                                                                "some-blue.png"]  # fmt: skip
    scores = [h["score"] for h in hits["results"]]
    assert hits["query_kind"] == "color" and 1.0 > scores[0] > scores[1] > scores[2] > 0.3
    (weighted,) = cli.search("--color", "dodgerblue:0.5,#fadc28:0.5", "--limit", "1")
    assert Path(weighted["results"][0]["path"]).name == "blue-and-yellow.png"
    assert weighted["results"][0]["score"] > 0.7
    (palette,) = cli.search("--palette", str(painted / "red.png"), "--limit", "2", "--where", "filename != 'red.png'")
    assert Path(palette["results"][0]["path"]).name == "some-blue.png", "the filter applies; the reddest is next"


def test_color_combined_with_an_image_query_reranks_its_matches(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(8):
        paint_photo(folder / f"other-{i}.jpg", seed=300 + i)
    # The same scene on three backgrounds: alike to the model, far apart in colour.
    scene = np.asarray(Image.open(paint_photo(folder / "scene.png", seed=7, size=(320, 240))).convert("RGB"))
    background = (scene == scene[0, 0]).all(axis=2)
    for name, colour in (("scene-red.png", RED), ("scene-blue.png", DODGER_BLUE)):
        variant = scene.copy()
        variant[background] = colour
        Image.fromarray(variant).save(folder / name)
    cli.index(folder)

    def ranking(*extra: str) -> list[str]:
        (found,) = cli.search("--search", str(folder / "scene.png"), "--limit", "11", *extra)
        assert all(("color_score" in h) == bool(extra) for h in found["results"])
        return [Path(h["path"]).name for h in found["results"]]

    plain = ranking()
    assert plain[0] == "scene.png"
    for colour, wanted, other in (
        ("red", "scene-red.png", "scene-blue.png"),
        ("dodgerblue", "scene-blue.png", "scene-red.png"),
    ):
        combined = ranking("--color", colour)
        assert combined.index(wanted) < combined.index(other), (colour, combined)
        assert combined.index(wanted) <= min(1, plain.index(wanted)), f"{colour} lifts {wanted}: {plain} → {combined}"
    (labelled,) = cli.search("--search", str(folder / "scene.png"), "--color", "red", "--limit", "1")
    assert labelled["search_mode"] == "vector+color" and labelled["query"].endswith("+ colour red")


def test_bad_colours_are_usage_errors(cli: Cli, tmp_path: Path) -> None:
    for args, expected in ((["--color", "#12345"], "not a colour"), (["--color", "red:heavy"], "not a weight"),
                           (["--color", "red:0"], "above 0"), (["--color", "red:inf"], "a number above 0"),
                           (["--color", "red:nan"], "a number above 0"), (["--palette", str(tmp_path / "none.png")], "not found"),
                           (["--color", "red", "--palette", str(tmp_path)], "not both")):  # fmt: skip
        result = cli(*args)
        assert result.code == 2 and expected in result.stderr, (args, result.stderr)
