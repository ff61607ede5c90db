"""Thumbnails (made while indexing, kept in step with the files) and the --html gallery,
rendered in a real headless browser."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.thumbnails import THUMBNAIL_DIR, thumbnail_name, thumbnail_path
from conftest import Cli, paint_photo


def thumbnails_of(cli: Cli) -> set[Path]:
    return {p for p in (cli.db / THUMBNAIL_DIR).rglob("*") if p.is_file()}


def test_every_indexed_file_gets_a_thumbnail_kept_in_step_with_it(cli: Cli, tmp_path: Path, decoded: list[str]) -> None:
    folder = tmp_path / "photos"
    for i in range(5):
        paint_photo(folder / f"{i}.jpg", seed=i, size=(640, 480))
    paint_photo(folder / "tall.png", seed=9, size=(200, 500))
    cli.index(folder, extra=("--workers", "0"))
    assert len(decoded) == 6, "thumbnails come from the decode the embedding used, not a second one"

    records = cli.records()
    paths = {p: Path(thumbnail_path(str(cli.db / THUMBNAIL_DIR), r)) for p, r in records.items()}
    assert set(paths.values()) == thumbnails_of(cli)
    with Image.open(paths[str(folder / "0.jpg")]) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (300, 225)
    with Image.open(paths[str(folder / "tall.png")]) as thumb:
        assert thumb.size == (120, 300)

    paint_photo(folder / "0.jpg", seed=100, size=(640, 480))  # modified: a new thumbnail replaces the old
    (folder / "1.jpg").unlink()  # removed: its thumbnail goes too
    cli.index(folder)
    records = cli.records()
    now = {Path(thumbnail_path(str(cli.db / THUMBNAIL_DIR), r)) for r in records.values()}
    assert now == thumbnails_of(cli) and len(now) == 5
    assert paths[str(folder / "0.jpg")] not in now and paths[str(folder / "1.jpg")] not in now


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no headless Chromium on this machine (Debian package: chromium)")


def screenshot(page: Path, out: Path, profile: Path) -> np.ndarray:
    subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--user-data-dir={profile}", f"--screenshot={out}", "--window-size=1280,1600", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def pixels_near(shot: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int((np.abs(shot - np.array(colour)).max(axis=2) < 24).sum())


@pytest.mark.slow
def test_the_html_gallery_renders_thumbnails_one_section_per_query(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(6):
        paint_photo(folder / f"{i}.jpg", seed=i, size=(400, 300))
    magenta, teal = (230, 20, 200), (10, 190, 170)
    Image.new("RGB", (400, 300), magenta).save(folder / "magenta.png")
    Image.new("RGB", (400, 300), teal).save(folder / "a <b>&amp; teal.png")  # markup in a name stays text
    cli.index(folder)

    page = tmp_path / "results.html"
    result = cli("--search", str(folder / "magenta.png"), str(folder / "a <b>&amp; teal.png"), "--limit", "3",
                 "--html", page)  # fmt: skip
    assert result.code == 0, result.stderr
    text = page.read_text(encoding="utf-8")
    assert text.count("<section") == 2 and text.count("<figure>") == 6
    assert "a &lt;b&gt;&amp;amp; teal.png" in text and "<b>" not in text
    assert 'src="file:' not in text and "data:image/jpeg;base64," in text, "self-contained"

    shot = screenshot(page, tmp_path / "shot.png", tmp_path / "profile")
    # Each query's own picture is its first result: both colours must be on screen, as pictures.
    assert pixels_near(shot, magenta) > 20_000 and pixels_near(shot, teal) > 20_000


def test_thumbnails_from_an_earlier_version_are_still_shown_and_still_removed(cli: Cli, tmp_path: Path) -> None:
    """Databases made when thumbnails were WebP keep their pictures until the files change."""
    folder = tmp_path / "photos"
    for i in range(3):
        paint_photo(folder / f"{i}.jpg", seed=i, size=(400, 300))
    cli.index(folder)
    records = cli.records()
    earlier = {}
    for path, record in records.items():  # as an earlier version left them
        made = Path(thumbnail_path(str(cli.db / THUMBNAIL_DIR), record))
        earlier[path] = cli.db / THUMBNAIL_DIR / thumbnail_name(path, record["size_bytes"], record["mtime"], ".webp")
        with Image.open(made) as picture:
            picture.save(earlier[path], "WEBP")
        made.unlink()

    page = tmp_path / "r.html"
    assert cli("--search", str(folder / "0.jpg"), "--limit", "3", "--html", page).code == 0
    text = page.read_text(encoding="utf-8")
    assert text.count("data:image/webp;base64,") == 3 and 'class="missing"' not in text

    paint_photo(folder / "0.jpg", seed=100, size=(400, 300))  # modified: its WebP goes, a JPEG replaces it
    (folder / "1.jpg").unlink()  # removed: its WebP goes too
    cli.index(folder)
    assert thumbnails_of(cli) == {
        earlier[str(folder / "2.jpg")],
        Path(thumbnail_path(str(cli.db / THUMBNAIL_DIR), cli.records()[str(folder / "0.jpg")])),
    }


def test_html_needs_a_search(cli: Cli, tmp_path: Path) -> None:
    result = cli("--html", tmp_path / "x.html", "--check")
    assert result.code == 2 and "--html writes search results" in result.stderr


def test_html_to_a_dash_is_refused_not_written_to_a_file_named_dash(cli: Cli, photos: Path, monkeypatch) -> None:
    """'-' is stdout to most tools (and to --search); the page went to a file called '-' in the
    working folder while the table went to stdout."""
    cli.index(photos)
    monkeypatch.chdir(photos)
    result = cli("--where", "width > 0", "--html", "-")
    assert result.code == 2 and result.stdout == "" and not (photos / "-").exists()
    assert result.stderr_lines()[-1].endswith(
        "--html -: the page is written to a file: name it, as in --html results.html"
    )


def test_no_thumbnails_skips_them_and_the_gallery_decodes_the_files(cli: Cli, photos: Path, tmp_path: Path) -> None:
    """Each picture is its file decoded at a thumbnail's size; a file gone since gets a placeholder."""
    cli.index(photos, extra=("--no-thumbnails",))
    assert not thumbnails_of(cli)
    page = tmp_path / "r.html"
    assert cli("--search", str(photos / "a.jpg"), "--limit", "2", "--html", page).code == 0
    text = page.read_text(encoding="utf-8")
    assert text.count("data:image/jpeg;base64,") == 2 and 'class="missing"' not in text
    shown = re.search(r'data:image/jpeg;base64,([^"]+)', text).group(1)
    with Image.open(io.BytesIO(base64.b64decode(shown))) as picture:
        assert max(picture.size) <= 300
    (photos / "a.jpg").unlink()
    assert cli("--under", str(photos), "--limit", "50", "--html", page).code == 0
    assert page.read_text(encoding="utf-8").count('class="missing"') == 1


def test_duplicates_html_shows_each_group_s_files_as_pictures(cli: Cli, tmp_path: Path) -> None:
    """--duplicates --html: a section a group, each of its files' own thumbnail in it, so which
    copy to keep can be seen; the table still goes to stdout."""
    import base64
    import re

    folder = tmp_path / "photos"
    for i in range(3):
        paint_photo(folder / f"{i}.jpg", seed=i, size=(400, 300))
    shutil.copy(folder / "0.jpg", folder / "0 copy.jpg")
    with Image.open(folder / "1.jpg") as image:
        image.resize((200, 150)).save(folder / "1 small.jpg", quality=80)  # a resized re-save: near
    cli.index(folder)

    page = tmp_path / "duplicates.html"
    result = cli("--duplicates", "--html", page)
    assert result.code == 0, result.stderr
    assert "exact duplicates (same bytes): 1 group(s)" in result.stdout and f"wrote {page}" in result.stderr
    text = page.read_text(encoding="utf-8")
    sections = re.findall(r"<section.*?</section>", text, re.S)
    assert len(sections) == 2 and "exact duplicates [1]" in sections[0] and "near duplicates [1]" in sections[1]
    assert "(same bytes, 2 files)" in sections[0]
    records = cli.records()
    for section, names in zip(sections, [["0 copy.jpg", "0.jpg"], ["1 small.jpg", "1.jpg"]], strict=True):
        shown = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', section)
        expected = [
            Path(thumbnail_path(str(cli.db / THUMBNAIL_DIR), records[str(folder / name)])).read_bytes()
            for name in names
        ]
        assert [base64.b64decode(data) for data in shown] == expected
        assert re.findall(r'<div class="path" title="([^"]+)"', section) == [str(folder / name) for name in names]

    both = cli("--duplicates", "--search", "a dog", "--html", page)
    assert both.code == 2 and "--html writes one page" in both.stderr


def test_a_named_pipe_where_a_photo_was_is_reported_by_repair_and_pages_not_waited_on(
    cli: Cli, photos: Path, tmp_path: Path
) -> None:
    """A photo replaced by a named pipe (a stalled read alike): opened to make its lost thumbnail
    it waited for a writer forever, and --repair never ended, not even on Ctrl-C or SIGTERM; a
    page or --preview of it never came. It is reported, and the rest is made."""
    cli.index(photos)
    pipe = photos / "b.png"
    for lost in (pipe, photos / "a.jpg"):
        Path(thumbnail_path(str(cli.db / THUMBNAIL_DIR), cli.records()[str(lost)])).unlink()
    pipe.unlink()
    os.mkfifo(pipe)
    repair = cli("--repair")
    assert repair.code == 0, repair.stderr
    assert "repair: made 1 missing thumbnail(s)" in repair.stderr
    assert (
        f"no thumbnail for 1 file(s): {pipe}: the file cannot be read: no longer a file but a named pipe"
        in repair.stderr
    )
    page = tmp_path / "page.html"
    listed = cli("--where", f"path = '{pipe}'", "--html", page)
    assert listed.code == 0 and page.is_file() and str(pipe) in page.read_text()


def test_check_notes_thumbnails_of_no_indexed_file_and_repair_removes_them(cli: Cli, photos: Path) -> None:
    """Thumbnails a run made of files whose rows it never committed (a full disk, a crash), a
    write cut short, or those of rows --repair removed stayed in the folder for good. --check
    notes them (the index is sound), --repair removes them and nothing else."""
    cli.index(photos)
    thumbnails = cli.db / THUMBNAIL_DIR
    kept = thumbnails_of(cli)
    uncommitted = Path(
        thumbnail_path(str(thumbnails), {"path": str(photos / "new.jpg"), "size_bytes": 9, "mtime": 1.0})
    )
    uncommitted.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(sorted(kept)[0], uncommitted)
    cut_short = sorted(kept)[1].with_name(sorted(kept)[1].name + ".tmp-4242")
    cut_short.write_bytes(b"\xff\xd8")
    check = cli("--check")
    assert check.code == 0 and check.stdout.splitlines()[1:] == [
        "note: 2 file(s) in the thumbnails folder are no indexed file's thumbnail (left by a run stopped before "
        "its commit, or made by one running now): --repair removes them"
    ]
    deleted = photos / "a.jpg"
    its_thumbnail = Path(thumbnail_path(str(thumbnails), cli.records()[str(deleted)]))
    deleted.unlink()
    repair = cli("--repair")
    assert repair.code == 0, repair.stderr
    assert "repair: removed 3 file(s) of the thumbnails folder that were no indexed file's" in repair.stderr
    assert thumbnails_of(cli) == kept - {its_thumbnail} and len(thumbnails_of(cli)) == len(cli.records())
    assert cli("--check").stdout.splitlines()[1:] == []
    assert "thumbnails folder" not in cli("--repair").stderr


def test_check_notes_missing_thumbnails_and_repair_makes_them(cli: Cli, photos: Path) -> None:
    """Thumbnails lost (a cleaner, a restore without them) read as healthy and stayed lost: the
    gallery and --preview decoded each file, a 200-megapixel HEIC showed none. --check notes them
    (a note: the index is sound), --repair makes those of an index that has others, and every
    one with --thumbnails; an index made with --no-thumbnails is left without."""
    cli.index(photos)
    lost = sorted(thumbnails_of(cli))[:2]
    for thumbnail in lost:
        thumbnail.unlink()
    check = cli("--check")
    assert check.code == 0 and check.stdout.splitlines()[1].startswith("note: 2 of 12 files have no thumbnail")
    repair = cli("--repair")
    assert repair.code == 0 and "repair: made 2 missing thumbnail(s)" in repair.stderr
    assert all(thumbnail.is_file() for thumbnail in lost) and len(thumbnails_of(cli)) == 12
    assert cli("--check").stdout.splitlines()[1:] == []

    shutil.rmtree(cli.db / "thumbnails")
    assert "note: no file has a thumbnail" in cli("--check").stdout
    assert "thumbnail" not in cli("--repair").stderr and not thumbnails_of(cli), "a choice, not a loss"
    assert "thumbnail" not in cli("--repair", "--thumbnails", "--no-thumbnails").stderr
    made = cli("--repair", "--thumbnails")
    assert "repair: made 12 missing thumbnail(s)" in made.stderr and len(thumbnails_of(cli)) == 12
    (check,) = [json.loads(cli("--check", "--format", "json").stdout)]
    assert check["healthy"] and check["notes"] == []
