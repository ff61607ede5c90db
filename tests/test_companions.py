"""A raw and the JPEG the camera wrote beside it are one photo, and so are a Live Photo and its
video: a search shows it once, naming its companion; --duplicates does not call them near
duplicates; a listing lists both files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from PIL import Image
from test_raw import raw_photo
from test_video import make_video

from common.companions import without_companions
from common.store import Hit
from conftest import Cli, names_listed, paint_photo


def test_a_search_shows_each_photo_once_and_fills_its_limit() -> None:
    ranked = ["/c/A.jpg", "/c/A.CR2", "/c/B.nef", "/c/B.JPG", "/c/E.jpg", "/c/E.jpeg", "/d/A.jpg", "/c/F.jpg"]
    asked: list[int] = []

    def search(n: int) -> list[Hit]:
        asked.append(n)
        return [Hit({"path": path}, 1.0 - i / 10) for i, path in enumerate(ranked[:n])]

    hits = without_companions(search, 4)
    assert [(h.record["path"], h.extra.get("companions")) for h in hits] == [
        ("/c/A.jpg", ["/c/A.CR2"]),
        ("/c/B.nef", ["/c/B.JPG"]),  # whichever ranks first is shown
        ("/c/E.jpg", None),  # two JPEGs of one name, no raw: two photos
        ("/c/E.jpeg", None),
    ]
    assert asked == [5, 10], "one more than shown; asked again for more when companions left it short"
    assert [h.record["path"] for h in without_companions(search, 10)][-2:] == ["/d/A.jpg", "/c/F.jpg"]
    (alone,) = without_companions(search, 1)
    assert alone.extra["companions"] == ["/c/A.CR2"], "the companion ranked next to the last one shown is named"


def test_exact_copies_and_their_companions_are_one_picture_whatever_order_they_rank_in() -> None:
    """A backup of a RAW+JPEG pair's JPEG is the pair's picture too: copies (one content hash)
    join companions into one result, however the three rank, while files of other bytes stay
    results of their own."""
    files = {
        "/card/IMG_1.CR2": "raw", "/card/IMG_1.JPG": "jpeg", "/backup/IMG_1.JPG": "jpeg",
        "/card/IMG_2.JPG": "other", "/takeout/2019/IMG_2.JPG": "other", "/card/IMG_3.JPG": "third",
    }  # fmt: skip
    for ranked in (list(files), list(reversed(files))):
        hits = [Hit({"path": path, "content_hash": files[path]}, 1.0 - i / 10) for i, path in enumerate(ranked)]
        kept = without_companions(lambda n, hits=hits: hits[:n], 10)
        pictures = [{hit.record["path"], *hit.extra.get("companions", [])} for hit in kept]
        assert sorted(map(sorted, pictures)) == [
            ["/backup/IMG_1.JPG", "/card/IMG_1.CR2", "/card/IMG_1.JPG"],
            ["/card/IMG_2.JPG", "/takeout/2019/IMG_2.JPG"],
            ["/card/IMG_3.JPG"],
        ], ranked
        # Each picture is shown as its first-ranked file, where that file ranks.
        assert [hit.record["path"] for hit in kept] == sorted(
            (min(p, key=ranked.index) for p in pictures), key=ranked.index
        )


def test_raw_and_jpeg_pairs_in_searches_duplicates_and_listings(cli: Cli, tmp_path: Path) -> None:
    shoot = tmp_path / "card"
    scenes = {}
    for seed in (1, 2, 3, 4, 5):
        scene = tmp_path / "scenes" / f"{seed}.png"
        paint_photo(scene, seed, size=(320, 240))
        scenes[seed] = Image.open(scene).convert("RGB")
    for seed in (1, 2):  # RAW+JPEG, the JPEG as the raw's preview is (one picture: one vector)
        raw_photo(shoot / f"IMG_000{seed}.dng", scenes[seed])
        scenes[seed].save(shoot / f"IMG_000{seed}.JPG", quality=95)
    scenes[3].save(shoot / "IMG_0003.JPG", quality=90)
    scenes[3].resize((300, 225)).save(shoot / "IMG_0003-edit.JPG", quality=80)  # a real near duplicate
    scenes[4].save(shoot / "IMG_0004.JPG", quality=90)
    scenes[5].save(shoot / "IMG_0005.HEIC", quality=90)  # a Live Photo, and its three seconds of video
    make_video(shoot / "IMG_0005.mov", scenes[5], scenes[5], seconds=1.0)
    (tmp_path / "backup").mkdir()
    for name in ("IMG_0001.JPG", "IMG_0002.dng"):  # a backup of one pair's JPEG, of the other's raw
        (tmp_path / "backup" / name).write_bytes((shoot / name).read_bytes())
    assert cli.index(shoot, tmp_path / "backup").summary()["new"] == 11

    (found,) = cli.search("--search", str(tmp_path / "scenes" / "1.png"), "--limit", "3")
    shown = [Path(hit["path"]) for hit in found["results"]]
    assert len(shown) == 3 and len({path.stem for path in shown}) == 3, "no photo twice"
    # The backup's copy of the JPEG, the JPEG and its raw are one picture: ties go by path.
    assert shown[0] == tmp_path / "backup" / "IMG_0001.JPG"
    assert set(found["results"][0]["companions"]) == {str(shoot / "IMG_0001.JPG"), str(shoot / "IMG_0001.dng")}
    table = cli("--search", str(tmp_path / "scenes" / "2.png"), "--limit", "3").stdout.splitlines()
    assert table[1].split()[-1] == "also"
    assert next(row.split()[-1] for row in table[2:] if str(shoot) in row) in ("IMG_0002.dng", "IMG_0002.JPG")

    (by_name,) = cli.search("--text", "0002")  # the pair, and the backup of its raw elsewhere: one picture
    assert [len(hit.get("companions", [])) for hit in by_name["results"]] == [2]
    (live,) = cli.search("--search", str(tmp_path / "scenes" / "5.png"), "--limit", "1")
    (photo,) = live["results"]
    assert {Path(p).name for p in [photo["path"], *photo["companions"]]} == {"IMG_0005.HEIC", "IMG_0005.mov"}
    page = tmp_path / "live.html"
    as_csv = cli("--search", str(tmp_path / "scenes" / "5.png"), "--limit", "1", "--format", "csv", "--html", page)
    (row,) = csv.DictReader(io.StringIO(as_csv.stdout))
    assert {Path(row["path"]).name, Path(row["companions"]).name} == {"IMG_0005.HEIC", "IMG_0005.mov"}
    assert f"also {Path(row['companions']).name}" in page.read_text()

    duplicates = json.loads(cli("--duplicates", "--format", "json").stdout)
    assert [[Path(p).name for p in group["paths"]] for group in duplicates["exact"]] == [
        ["IMG_0001.JPG"] * 2, ["IMG_0002.dng"] * 2,
    ]  # fmt: skip
    assert [[Path(p).name for p in group["paths"]] for group in duplicates["near"]] == [
        ["IMG_0003-edit.JPG", "IMG_0003.JPG"]
    ], "the RAW+JPEG pairs (with copies of their files) and the Live Photo are one picture each"

    listed = names_listed(cli, "--where", f"folder = '{shoot}' AND filename LIKE 'IMG_0002%'")
    assert listed == ["IMG_0002.JPG", "IMG_0002.dng"], "a listing lists files: both"
