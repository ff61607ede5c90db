"""--preview: each result's picture under its row of the table, drawn as coloured half blocks, by
kitty's graphics protocol or by iTerm2's inline images; the picture under a row is that row's
file, upright and undistorted."""

from __future__ import annotations

import base64
import io
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from common.preview import Previewer, palette_index, terminal_protocol
from common.thumbnails import THUMBNAIL_DIR, find_thumbnail
from conftest import Cli, paint_photo

ROW = re.compile(r"^\s+\d+\s+(?:[\d.]+\s+)?(/\S+)")  # a table row: rank, score (a search's), path
KITTY = re.compile(r"\033_G([^;]*);([^\033]*)\033\\")
ITERM = re.compile(r"\033\]1337;File=([^:]*):([^\a]*)\a")


@pytest.fixture
def album(tmp_path: Path) -> Path:
    """Three landscape photos and one a camera held upright (EXIF orientation 6: stored 160 x 120,
    shown 120 x 160)."""
    root = tmp_path / "album"
    for seed, name in enumerate(["a.jpg", "b.png", "c.jpg"]):
        paint_photo(root / name, seed=900 + seed)
    upright = paint_photo(root / "d-portrait.jpg", seed=950)
    with Image.open(upright) as image:
        image.load()
        exif = Image.Exif()
        exif[0x0112] = 6
        image.save(upright, exif=exif, quality=92)
    return root


def pictures_under_rows(stdout: str) -> dict[str, str]:
    """Each listed path with the text written between its row and the next row or heading."""
    shown: dict[str, str] = {}
    path = None
    for line in stdout.splitlines(keepends=True):
        match = ROW.match(line)
        if match:
            path = match.group(1)
            shown[path] = ""
        elif path is not None and line.startswith("  ") and not line.lstrip().startswith("#"):
            shown[path] += line
        else:
            path = None
    return shown


def blocks_to_pixels(text: str) -> np.ndarray:
    """The pixels half blocks in 24-bit colour draw: each cell's text colour above its background."""
    rows = []
    for line in text.splitlines():
        foreground = background = None
        upper, lower = [], []
        for match in re.finditer(r"(?:\033\[([0-9;]*)m)?▀", line):
            codes = [int(code) for code in match.group(1).split(";")] if match.group(1) else []
            while codes:
                layer, kind, *rgb = codes[:5]
                assert kind == 2, "24-bit colour expected"
                foreground, background = (tuple(rgb), background) if layer == 38 else (foreground, tuple(rgb))
                codes = codes[5:]
            upper.append(foreground)
            lower.append(background)
        rows += [upper, lower]
    return np.array(rows, dtype=np.float64)


def upright(path: str) -> Image.Image:
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def likeness(drawn: np.ndarray, path: str) -> float:
    """Mean absolute difference between a drawn picture and the file's, at the drawing's size."""
    height, width = drawn.shape[:2]
    expected = np.asarray(upright(path).resize((width, height), Image.Resampling.BOX), dtype=np.float64)
    return float(np.abs(drawn - expected).mean())


def test_blocks_draw_each_row_s_own_picture_upright(cli: Cli, album: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLORTERM", "truecolor")
    cli.index(album)
    listing = cli("--under", str(album), "--preview", "blocks")
    assert listing.code == 0, listing.stderr
    shown = pictures_under_rows(listing.stdout)
    assert sorted(shown) == sorted(str(p) for p in album.iterdir())

    drawn = {path: blocks_to_pixels(text) for path, text in shown.items()}
    for path, picture in drawn.items():
        assert picture.shape[0] == 20  # ten rows of two pixels
        # The row's own picture, not another's: much closer to it than to any other of the album.
        own = likeness(picture, path)
        assert own < 12, (path, own)
        assert all(own * 3 < likeness(picture, other) for other in drawn if other != path), path
    # Undistorted: a landscape 4:3 picture is 27 columns of square pixels, the upright one 15.
    assert drawn[str(album / "a.jpg")].shape[1] == 27
    assert drawn[str(album / "d-portrait.jpg")].shape[1] == 15

    # A search's rows get them too, and so does every answer of a --search - session.
    found = cli("--search", str(album / "c.jpg"), "--limit", "2", "--preview", "blocks")
    (best, best_drawn), _ = pictures_under_rows(found.stdout).items()
    assert best == str(album / "c.jpg") and likeness(blocks_to_pixels(best_drawn), best) < 12
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{album / 'a.jpg'}\n{album / 'b.png'}\n"))
    session = cli("--search", "-", "--limit", "1", "--preview", "blocks")
    assert session.code == 0, session.stderr
    assert list(pictures_under_rows(session.stdout)) == [str(album / "a.jpg"), str(album / "b.png")]


def test_without_24_bit_colour_blocks_use_the_256_colour_palette(cli: Cli, album: Path, monkeypatch) -> None:
    monkeypatch.delenv("COLORTERM", raising=False)
    cli.index(album)
    listing = cli("--under", str(album / "a.jpg"), "--preview", "blocks")
    assert listing.code == 0, listing.stderr
    (text,) = pictures_under_rows(listing.stdout).values()
    assert "38;5;" in text and "48;5;" in text and ";2;" not in text
    # The palette's nearest entries: the colour cube's corners and the grey ramp.
    assert [palette_index(np.array(rgb)) for rgb in [(255, 0, 0), (0, 0, 0), (128, 128, 128), (0, 95, 255)]] == [
        196, 16, 244, 27
    ]  # fmt: skip


def test_kitty_and_iterm_get_the_thumbnail_itself(cli: Cli, album: Path, monkeypatch) -> None:
    cli.index(album)
    record = cli.records()[str(album / "d-portrait.jpg")]
    thumbnail, _ = find_thumbnail(str(cli.db / THUMBNAIL_DIR), record)

    kitty = cli("--under", str(album / "d-portrait.jpg"), "--preview", "kitty")
    assert kitty.code == 0, kitty.stderr
    chunks = KITTY.findall(kitty.stdout)
    assert len(chunks) > 1 and all(len(payload) <= 4096 for _, payload in chunks)
    keys = dict(pair.split("=") for pair in chunks[0][0].split(","))
    assert keys["a"] == "T" and keys["f"] == "100" and keys["q"] == "2" and keys["r"] == "10"
    assert [k.split(",")[-1] for k, _ in chunks] == ["m=1"] * (len(chunks) - 1) + ["m=0"]
    png = Image.open(io.BytesIO(base64.b64decode("".join(payload for _, payload in chunks))))
    assert png.format == "PNG" and png.size == (120, 160)  # the upright thumbnail (never enlarged)
    assert np.array_equal(np.asarray(png.convert("RGB")), np.asarray(Image.open(thumbnail).convert("RGB")))
    assert likeness(np.asarray(png.convert("RGB"), dtype=np.float64), str(album / "d-portrait.jpg")) < 6

    iterm = cli("--under", str(album / "d-portrait.jpg"), "--preview", "iterm")
    assert iterm.code == 0, iterm.stderr
    ((keys, payload),) = ITERM.findall(iterm.stdout)
    sent = base64.b64decode(payload)
    assert sent == Path(thumbnail).read_bytes()
    assert f"size={len(sent)}" in keys and "height=10" in keys and "inline=1" in keys

    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")  # asked for inside tmux: passed through
    wrapped = cli("--under", str(album / "d-portrait.jpg"), "--preview", "iterm")
    assert "\033Ptmux;\033\033]1337;File=" in wrapped.stdout


def test_auto_draws_nothing_into_a_pipe_and_says_so(cli: Cli, album: Path) -> None:
    cli.index(album)
    piped = cli("--under", str(album), "--preview")
    assert piped.code == 0, piped.stderr
    assert "\033" not in piped.stdout and len(pictures_under_rows(piped.stdout)) == 4
    assert "--preview: stdout is not a terminal, so no pictures" in piped.stderr


def test_preview_is_refused_where_there_is_no_table(cli: Cli, album: Path) -> None:
    cli.index(album)
    refused = cli("--under", str(album), "--preview", "blocks", "--format", "json")
    assert refused.code == 2 and refused.stdout == ""
    assert refused.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: --preview draws pictures in the table: not with --format json"
    ]
    alone = cli("--stats", "--preview")
    assert alone.code == 2 and "--preview shows search results" in alone.stderr


def test_a_file_indexed_without_thumbnails_is_decoded_for_its_picture(cli: Cli, album: Path, monkeypatch) -> None:
    """Upright, by every way; a file gone since says why there is no picture, and one too large
    to decode quickly is not decoded."""
    monkeypatch.setenv("COLORTERM", "truecolor")
    cli.index(album, extra=("--no-thumbnails",))
    portrait = str(album / "d-portrait.jpg")
    listing = cli("--under", portrait, "--preview", "blocks")
    assert listing.code == 0, listing.stderr
    (drawn,) = pictures_under_rows(listing.stdout).values()
    assert blocks_to_pixels(drawn).shape == (20, 15, 3) and likeness(blocks_to_pixels(drawn), portrait) < 12
    kitty = cli("--under", portrait, "--preview", "kitty")
    png = Image.open(io.BytesIO(base64.b64decode("".join(payload for _, payload in KITTY.findall(kitty.stdout)))))
    assert png.size == (120, 160) and likeness(np.asarray(png.convert("RGB"), dtype=np.float64), portrait) < 6
    iterm = cli("--under", portrait, "--preview", "iterm")
    ((_, payload),) = ITERM.findall(iterm.stdout)
    sent = Image.open(io.BytesIO(base64.b64decode(payload)))
    assert sent.format == "JPEG" and sent.size == (120, 160)

    (album / "a.jpg").unlink()
    gone = cli("--under", str(album / "a.jpg"), "--preview", "kitty")
    assert gone.code == 0, gone.stderr
    assert list(pictures_under_rows(gone.stdout).values()) == [
        "  (no thumbnail: indexed with --no-thumbnails, and the file cannot be read: file vanished before it could be read)\n"
    ]
    huge = {**cli.records()[str(album / "b.png")], "width": 20_000, "height": 10_000}
    previewer = Previewer(str(cli.db / THUMBNAIL_DIR), "blocks")
    assert previewer(huge) == (
        "  (no thumbnail: indexed with --no-thumbnails, and the file is too large (200 megapixels) "
        "to decode for a picture here)\n"
    )


def test_a_file_on_a_drive_that_stopped_answering_is_given_up_after_the_time_limit(
    cli: Cli, tmp_path: Path, monkeypatch
) -> None:
    """A result with no thumbnail on a share that stopped answering: the search waited for its
    picture for good (--preview and --html alike). It is given --time-limit, its folder's other
    files none, and the rest are drawn."""
    import threading

    import common.thumbnails

    monkeypatch.setenv("COLORTERM", "truecolor")
    for name, seed in (("stalled/a.jpg", 1), ("stalled/b.jpg", 2), ("local/c.jpg", 3)):
        paint_photo(tmp_path / name, seed=seed)
    cli.index(tmp_path / "stalled", tmp_path / "local", extra=("--no-thumbnails",))
    answering, reads = threading.Event(), []
    reading = common.thumbnails.small_picture_of

    def read_unless_stalled(path: str, *args):
        reads.append(path)
        if "stalled" in path:
            answering.wait(5)  # a read that does not return (in time; ended when the test ends)
        return reading(path, *args)

    monkeypatch.setattr(common.thumbnails, "small_picture_of", read_unless_stalled)
    try:
        page = tmp_path / "page.html"
        listing = cli("--where", "width > 0", "--order-by", "path", "--preview", "blocks", "--time-limit", "0.5",
                      "--html", page)  # fmt: skip
        assert listing.code == 0, listing.stderr
    finally:
        answering.set()
    shown = pictures_under_rows(listing.stdout)
    assert shown[str(tmp_path / "stalled/a.jpg")] == (
        "  (no thumbnail: indexed with --no-thumbnails, and the file did not answer in 0.5 s (--time-limit))\n"
    )
    assert shown[str(tmp_path / "stalled/b.jpg")] == (
        "  (no thumbnail: indexed with --no-thumbnails, and another file in its folder did not answer in 0.5 s)\n"
    )
    assert likeness(blocks_to_pixels(shown[str(tmp_path / "local/c.jpg")]), str(tmp_path / "local/c.jpg")) < 14
    assert reads.count(str(tmp_path / "stalled/a.jpg")) == 1 and str(tmp_path / "stalled/b.jpg") not in reads
    assert page.read_text().count('<div class="missing">no thumbnail</div>') == 2
    assert page.read_text().count("data:image/jpeg;base64,") == 1

    def failing(record: dict):
        raise ValueError("a decoder's own error")

    refused = common.thumbnails.PicturesOfFiles(5, read=failing)
    assert refused({"path": "/x/y.jpg"}) == (None, "the file cannot be read: a decoder's own error")
    assert refused.stalled_folders == set(), "an error is no stall"


def test_preview_rows_sets_how_tall_a_picture_is(cli: Cli, album: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLORTERM", "truecolor")
    cli.index(album)
    listing = cli("--under", str(album / "a.jpg"), "--preview", "blocks", "--preview-rows", "4")
    (drawn,) = pictures_under_rows(listing.stdout).values()
    assert blocks_to_pixels(drawn).shape[0] == 8  # four rows of two pixels
    assert likeness(blocks_to_pixels(drawn), str(album / "a.jpg")) < 14
    iterm = cli("--under", str(album / "a.jpg"), "--preview", "iterm", "--preview-rows", "25")
    assert "height=25" in ITERM.findall(iterm.stdout)[0][0]
    assert cli("--under", str(album), "--preview", "--preview-rows", "0").code == 2


def test_a_panorama_keeps_its_shape_within_a_narrow_window(cli: Cli, tmp_path: Path) -> None:
    panorama = paint_photo(tmp_path / "pano" / "wide.jpg", seed=990, size=(800, 100))
    cli.index(panorama.parent)
    previewer = Previewer(
        str(cli.db / THUMBNAIL_DIR), "blocks", environ={"COLORTERM": "truecolor"},
        window=os.terminal_size((40, 24)), cell_height_per_width=2,
    )  # fmt: skip
    drawn = blocks_to_pixels(previewer(cli.records()[str(panorama)]))
    # 8:1 at ten rows would be 160 columns: at most the window's 37, and as few rows as keep 8:1.
    assert drawn.shape[1] <= 37 and drawn.shape[1] / drawn.shape[0] == pytest.approx(8, rel=0.25)


@pytest.mark.parametrize(
    ("environ", "way"),
    [
        ({"TERM": "xterm-kitty", "KITTY_WINDOW_ID": "1"}, "kitty"),
        ({"TERM": "xterm-ghostty", "TERM_PROGRAM": "ghostty"}, "kitty"),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "iTerm.app"}, "iterm"),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}, "iterm"),
        ({"TERM": "tmux-256color", "TMUX": "/tmp/tmux-0/default,1,0", "TERM_PROGRAM": "tmux"}, "blocks"),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "vscode"}, "blocks"),  # images are off by default there
        ({"TERM": "xterm-256color"}, "blocks"),
    ],
)
def test_auto_picks_the_way_the_terminal_says_it_supports(environ: dict[str, str], way: str) -> None:
    assert terminal_protocol(environ) == way


@pytest.mark.parametrize(
    ("value", "words"), [("true", ["--preview"]), ("blocks", ["--preview", "blocks"]), ("false", [])]
)
def test_a_config_file_says_preview_as_a_switch_or_a_way(tmp_path: Path, value: str, words: list[str]) -> None:
    from common.backends import store_class
    from common.config import config_to_argv
    from common.options import build_parser

    config = tmp_path / "imagedb.yaml"
    config.write_text(f"preview: {value}\n")
    parser = build_parser(store_class("faiss"))
    assert config_to_argv(str(config), parser) == words
    assert parser.parse_args(words).preview == {"true": "auto", "blocks": "blocks", "false": None}[value]


def test_duplicates_show_each_file_s_picture_under_it(cli: Cli, album: Path, monkeypatch) -> None:
    """Which copy to keep is easier to say seen: --duplicates --preview draws each group's files."""
    monkeypatch.setenv("COLORTERM", "truecolor")
    (album / "a-copy.jpg").write_bytes((album / "a.jpg").read_bytes())
    cli.index(album)
    listed = cli("--duplicates", "--preview", "blocks")
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines(keepends=True)
    group = [str(album / "a-copy.jpg"), str(album / "a.jpg")]
    starts = [lines.index(f"      {path}\n") for path in group]
    for path, start in zip(group, starts, strict=True):
        drawn = blocks_to_pixels("".join(lines[start + 1 : start + 11]))
        assert drawn.shape == (20, 27, 3) and likeness(drawn, path) < 12
    assert all(line.startswith("      \033[") for line in lines[starts[0] + 1 : starts[0] + 11])


def test_an_unreadable_thumbnail_is_named_with_how_to_make_it_again(cli: Cli, album: Path) -> None:
    cli.index(album)
    thumbnail, _ = find_thumbnail(str(cli.db / THUMBNAIL_DIR), cli.records()[str(album / "a.jpg")])
    Path(thumbnail).write_bytes(b"not a jpeg")
    listing = cli("--under", str(album / "a.jpg"), "--preview", "blocks")
    assert listing.code == 0, listing.stderr
    assert list(pictures_under_rows(listing.stdout).values()) == [
        f"  (no thumbnail: {thumbnail} is not a picture; --index DIR --force makes it again)\n"
    ]
