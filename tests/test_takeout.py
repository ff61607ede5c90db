"""Google Takeout's JSON sidecars: a Google Photos export's descriptions, people, dates and places."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from test_places import photo_taken_at

from common import refresh
from common.records import RECORD_VERSION
from common.takeout import forget_listings, json_name_groups, takeout_json_of
from conftest import BACKENDS, Cli, made_by_an_older_imagedb, paint_photo, paint_tagged_photo, rows_rewritten

FLORENCE = (43.7687, 11.2569)
LISBON = (38.7223, -9.1393)
TAKEN = 1562164380  # 2019-07-03 14:33:00 UTC
CORRECTED = 1300000000  # 2011-03-13 07:06:40 UTC


def write_takeout_json(path: Path, title: str, **fields) -> Path:
    """A JSON as Takeout writes one beside each photo (its keys, and 0, 0 for no position)."""
    latitude, longitude = fields.pop("position", (0.0, 0.0))
    data = {
        "title": title,
        "description": fields.pop("description", ""),
        "imageViews": "3",
        "creationTime": {"timestamp": "1562500000", "formatted": "7 Jul 2019, 11:46:40 UTC"},
        "photoTakenTime": {"timestamp": str(fields.pop("taken", TAKEN)), "formatted": "3 Jul 2019, 14:33:00 UTC"},
        "geoData": {"latitude": latitude, "longitude": longitude, "altitude": 0.0, "latitudeSpan": 0.0},
        "people": [{"name": name} for name in fields.pop("people", [])],
        "url": "https://photos.google.com/photo/AF1Qip",
        "googlePhotosOrigin": {"mobileUpload": {"deviceType": "ANDROID_PHONE"}},
    }
    if fields.pop("favorited", False):  # written only for a photo starred in Google Photos
        data["favorited"] = True
    if fields.pop("trashed", False):  # written only for a photo in Google Photos' trash
        data["trashed"] = True
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def json_names_for(name: str) -> list[str]:
    """Every name the Takeout JSON of a photo named ``name`` may have, the likeliest first."""
    return [candidate for group in json_name_groups(name) for candidate in group]


def local(seconds: int) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def takeout(tmp_path: Path) -> Path:
    """A folder as a Takeout export of Google Photos lays it out, its names as Google writes them."""
    folder = tmp_path / "Takeout" / "Google Photos" / "Photos from 2019"
    folder.mkdir(parents=True)
    paint_photo(folder / "PXL_20190703_143300.jpg", 1)  # a phone photo whose EXIF has no position
    write_takeout_json(
        folder / "PXL_20190703_143300.jpg.supplemental-metadata.json", "PXL_20190703_143300.jpg",
        description="Fireworks over the Arno", position=FLORENCE, people=["Giulia Rossi", "Marco"],
    )  # fmt: skip
    paint_photo(folder / "IMG_0042.jpg", 2)
    write_takeout_json(folder / "IMG_0042.jpg.json", "IMG_0042.jpg", taken=1262304000)  # the older name
    paint_photo(folder / "IMG_0042(1).jpg", 3)  # a second photo of the name: its JSON, numbered
    write_takeout_json(folder / "IMG_0042.jpg(1).json", "IMG_0042.jpg", description="the second one")
    paint_photo(folder / "IMG_0042-edited.jpg", 4)  # an edit made in Google Photos: the original's
    long_name = "Screenshot_20190705-101010_WhatsApp-Business-Chat.jpg"
    paint_photo(folder / long_name, 5)  # its JSON's name cut to 51 characters
    write_takeout_json(folder / "Screenshot_20190705-101010_WhatsApp-Business-C.json", long_name, description="cut")
    # The camera's own date and position come first: the JSON fills what they lack.
    photo_taken_at(folder / "camera.jpg", 6, *LISBON)
    paint_tagged_photo(folder / "dated.jpg", 7, {0x0132: "2015:04:10 10:00:00"})
    for name in ("camera.jpg", "dated.jpg"):
        write_takeout_json(folder / f"{name}.json", name, position=FLORENCE, description=f"about {name}")
    paint_photo(folder / "other.jpg", 8)  # another program's JSON of the same name: no Takeout's
    (folder / "other.jpg.json").write_text(json.dumps({"labels": ["cat"], "description": "not this"}))
    return folder


def test_json_names_google_writes_are_found_for_their_photos(tmp_path: Path) -> None:
    assert json_names_for("IMG_0042.jpg")[:2] == ["IMG_0042.jpg.supplemental-metadata.json", "IMG_0042.jpg.json"]
    assert "IMG_0042.jpg.supplemental-met.json" in json_names_for("IMG_0042.jpg")
    assert "IMG_0042.jpg(1).json" in json_names_for("IMG_0042(1).jpg")
    assert "IMG_0042.jpg.supplemental-metadata(1).json" in json_names_for("IMG_0042(1).jpg")
    assert "IMG_0042.jpg(1).supplemental-metadata.json" in json_names_for("IMG_0042(1).jpg")
    assert "IMG_0042.jpg.json" in json_names_for("IMG_0042-edited.jpg")
    # An edit of the second photo of a name: the second photo's JSON, numbered either side.
    assert "IMG_0042.jpg(1).json" in json_names_for("IMG_0042(1)-edited.jpg")
    assert "IMG_0042.jpg(1).json" in json_names_for("IMG_0042-edited(1).jpg")
    assert "IMG_0042.jpg.json" not in json_names_for("IMG_0042-edited(1).jpg")
    # The edit's word in the export's language, in any case; a Mac's decomposed 'é' too.
    for edit in (
        "IMG_0042-EDITED.jpg",
        "IMG_0042-edytowane.jpg",
        "IMG_0042-編集済み.jpg",
        "IMG_0042-modifie\u0301.jpg",
    ):
        assert "IMG_0042.jpg.json" in json_names_for(edit), edit
    assert "IMG_0042.jpg.json" not in json_names_for("IMG_0042-party.jpg")
    # Uploaded without an extension, which the export added.
    assert "IMG_0042.json" in json_names_for("IMG_0042.jpg")
    assert "IMG_0043.jpg.json" not in json_names_for("IMG_0042.jpg")
    (tmp_path / "a.jpg.json").write_text("{}")
    assert takeout_json_of(str(tmp_path / "a.jpg")) == str(tmp_path / "a.jpg.json")
    assert takeout_json_of(str(tmp_path / "b.jpg")) is None
    (tmp_path / "c.json").write_text("{}")  # 'c' uploaded without an extension
    forget_listings()  # a new look at the folder (as a new walk's)
    assert takeout_json_of(str(tmp_path / "c.jpg")) == str(tmp_path / "c.json")
    # A video's own JSON, in another case, before its still's as written (a Live Photo's borrows it).
    for json_name in ("IMG_1234.jpg.json", "IMG_1234.mp4.json", "IMG_2000.HEIC.json"):
        (tmp_path / json_name).write_text("{}")
    forget_listings()
    assert takeout_json_of(str(tmp_path / "IMG_1234.MP4")) == str(tmp_path / "IMG_1234.mp4.json")
    assert takeout_json_of(str(tmp_path / "IMG_2000.MOV")) == str(tmp_path / "IMG_2000.HEIC.json")
    # On a Mac's disk the JSON's 'é' decomposed, and the photo's composed (or the other way).
    (tmp_path / "Cafe\u0301.jpg.json").write_text("{}")
    forget_listings()
    assert takeout_json_of(str(tmp_path / "Caf\u00e9.jpg")) == str(tmp_path / "Cafe\u0301.jpg.json")


def test_a_json_named_for_the_uploaded_name_in_another_case_is_read(cli: Cli, tmp_path: Path) -> None:
    """Google names a JSON for the name the photo was uploaded with, whose case need not be that
    of the name it exports the photo under: 'IMG_4081.JPG(1).json' beside 'IMG_4081(1).jpg'. Looked
    up as written, such JSONs were not found, and their photos had no date, place or people from
    Google. A JSON named as written still comes first."""
    folder = tmp_path / "Takeout" / "Google Photos" / "Photos from 2015"
    folder.mkdir(parents=True)
    paint_photo(folder / "IMG_4081(1).jpg", 1)
    write_takeout_json(
        folder / "IMG_4081.JPG(1).json", "IMG_4081.JPG", description="the second upload", position=FLORENCE
    )
    paint_photo(folder / "DSC_0001.jpg", 2)
    write_takeout_json(folder / "DSC_0001.JPG.supplemental-metadata.json", "DSC_0001.JPG", people=["Marco"])
    paint_photo(folder / "IMG_0002.jpg", 3)
    write_takeout_json(folder / "IMG_0002.jpg.json", "IMG_0002.jpg", description="as written")
    write_takeout_json(folder / "IMG_0002.JPG.json", "IMG_0002.JPG", description="another case")
    assert takeout_json_of(str(folder / "IMG_4081(1).jpg")) == str(folder / "IMG_4081.JPG(1).json")
    cli.index(folder)
    rows = {Path(path).name: row for path, row in cli.records().items()}
    second = rows["IMG_4081(1).jpg"]
    assert (second["caption"], second["city"], second["date_taken"]) == ("the second upload", "Florence", local(TAKEN))
    assert rows["DSC_0001.jpg"]["people"] == "Marco"
    assert rows["IMG_0002.jpg"]["caption"] == "as written"


def test_a_json_is_not_given_to_a_photo_whose_name_differs_from_its_own_by_case_alone(cli: Cli, tmp_path: Path) -> None:
    """A case-sensitive disk can hold 'IMG_0001.jpg' and 'img_0001.jpg', two photos, with
    'img_0001.jpg.json' the second one's alone. Looked up with case ignored, the first one's
    look-up found that JSON too, and the first photo got the other's date, place and people.
    Where the folder holds another file of the photo's name in another case, a JSON is the
    photo's only as written."""
    folder = tmp_path / "Takeout" / "Google Photos" / "Photos from 2016"
    folder.mkdir(parents=True)
    paint_photo(folder / "IMG_0001.jpg", 1)
    paint_photo(folder / "img_0001.jpg", 2)
    write_takeout_json(
        folder / "img_0001.jpg.json", "img_0001.jpg", description="the lower-case one", position=FLORENCE,
        people=["Marco"],
    )  # fmt: skip
    paint_photo(folder / "DSC_0002.jpg", 3)  # no other of its name: its JSON in another case is its own
    write_takeout_json(folder / "DSC_0002.JPG.json", "DSC_0002.JPG", description="uploaded as DSC_0002.JPG")
    assert takeout_json_of(str(folder / "IMG_0001.jpg")) is None
    cli.index(folder)
    rows = {Path(path).name: row for path, row in cli.records().items()}
    assert (rows["img_0001.jpg"]["caption"], rows["img_0001.jpg"]["city"]) == ("the lower-case one", "Florence")
    upper = rows["IMG_0001.jpg"]
    assert (upper["caption"], upper["city"], upper["people"]) == (None, None, None)
    assert rows["DSC_0002.jpg"]["caption"] == "uploaded as DSC_0002.JPG"


def test_a_motion_photos_clip_is_its_stills_companion_and_described_by_its_json(cli: Cli, tmp_path: Path) -> None:
    """A Pixel's motion photo comes out of Takeout as its still, 'PXL_….MP.jpg', and its clip, an
    MP4 named for the still without '.jpg' ('PXL_….MP'; 'PXL_….MP~2' beside an edited copy): the
    clip was not indexed, and a folder holding only clips (the stills left behind) had nothing.
    It is a video described by its still's JSON, and its still's companion in a search. A Live
    Photo's video has no JSON of its own either: the still's describes it."""
    from PIL import Image
    from test_video import make_video

    folder = tmp_path / "Takeout" / "Google Photos" / "Photos from 2023"
    folder.mkdir(parents=True)
    scenes = {}
    for seed, name in ((1, "PXL_20230521_101010123.MP"), (2, "PXL_20230522_090000456.MP~2")):
        scenes[name] = paint_photo(tmp_path / "scenes" / f"{seed}.png", seed, size=(320, 240))
        picture = Image.open(scenes[name]).convert("RGB")
        picture.save(folder / f"{name}.jpg", quality=92)
        make_video(folder / name, picture, picture, seconds=1.0)
    write_takeout_json(
        folder / "PXL_20230521_101010123.MP.jpg.supplemental-met.json", "PXL_20230521_101010123.MP.jpg",
        description="Ponte Vecchio at dusk", position=FLORENCE, people=["Giulia Rossi"],
    )  # fmt: skip
    write_takeout_json(folder / "PXL_20230522_090000456.MP~2.jpg.json", "PXL_20230522_090000456.MP~2.jpg")
    paint_photo(folder / "IMG_1234.HEIC", 3)  # an iPhone's Live Photo, its video an MP4 in Takeout
    live = Image.open(folder / "IMG_1234.HEIC").convert("RGB")
    make_video(folder / "IMG_1234.MP4", live, live, seconds=1.0)
    write_takeout_json(folder / "IMG_1234.HEIC.supplemental-metadata.json", "IMG_1234.HEIC", position=LISBON)
    assert cli.index(folder).summary()["new"] == 6
    rows = {Path(path).name: row for path, row in cli.records().items()}
    clip, still = rows["PXL_20230521_101010123.MP"], rows["PXL_20230521_101010123.MP.jpg"]
    assert (clip["media_type"], clip["format"], still["media_type"]) == ("video", "MP4", "image")
    for row in (clip, still):
        assert (row["caption"], row["people"], row["city"]) == ("Ponte Vecchio at dusk", "Giulia Rossi", "Florence")
    assert rows["PXL_20230522_090000456.MP~2"]["date_taken"] == local(TAKEN), "an edited copy's clip: its JSON"
    assert rows["IMG_1234.MP4"]["city"] == rows["IMG_1234.HEIC"]["city"] == "Lisbon"

    for name, scene in scenes.items():
        (found,) = cli.search("--search", str(scene), "--limit", "2")
        first = found["results"][0]
        assert {Path(p).name for p in [first["path"], *first["companions"]]} == {name, f"{name}.jpg"}
        assert Path(found["results"][1]["path"]).name not in (name, f"{name}.jpg"), "one picture, shown once"


def test_a_file_named_like_a_motion_clip_that_is_no_video_is_left_alone(cli: Cli, tmp_path: Path) -> None:
    """'.mp' is also MetaPost's drawings (a TeX user's folders hold them): each was reported as a
    video that failed to decode, on every run. Only an MP4 by that name is a clip; a broken one
    is still reported."""
    from PIL import Image
    from test_video import make_video

    folder = tmp_path / "home"
    paint_photo(folder / "IMG_0001.jpg", 1)
    scene = Image.open(paint_photo(tmp_path / "scene.png", 2, size=(320, 240))).convert("RGB")
    clip = make_video(folder / "PXL_20230521_101010123.MP", scene, scene, seconds=1.0)
    (folder / "thesis").mkdir()
    (folder / "thesis" / "figure.mp").write_text("beginfig(1);\ndraw (0,0)--(10,10);\nendfig;\nend\n")
    (folder / "thesis" / "arrows.MV").write_bytes(b"\x00" * 64)
    truncated = folder / "PXL_20230522_090000456.MP"
    truncated.write_bytes(clip.read_bytes()[:2000])

    run = cli.index(folder)
    assert "found 1 image and 2 videos under" in run.stderr
    assert run.summary() == {"new": 2, "updated": 0, "removed": 0, "unchanged": 0, "failed": 1}
    assert {Path(p).name for p in cli.records()} == {"IMG_0001.jpg", clip.name}
    assert list(cli.failures_by_name()) == [truncated.name]
    assert "figure.mp" not in run.stderr and "arrows.MV" not in run.stderr


def test_a_takeout_export_gets_its_descriptions_people_dates_and_places(cli: Cli, takeout: Path) -> None:
    """Indexed without its JSONs, a Google Photos export had no places, no people and few dates.
    They fill what the photo's own metadata lacks; the camera's EXIF date and position win."""
    cli.index(takeout)
    rows = {Path(path).name: row for path, row in cli.records().items()}

    pixel = rows["PXL_20190703_143300.jpg"]
    assert (pixel["caption"], pixel["people"]) == ("Fireworks over the Arno", "Giulia Rossi; Marco")
    assert (pixel["gps_latitude"], pixel["gps_longitude"], pixel["city"]) == (*FLORENCE, "Florence")
    assert pixel["date_taken"] == local(TAKEN)
    assert rows["IMG_0042.jpg"]["date_taken"] == local(1262304000) == rows["IMG_0042-edited.jpg"]["date_taken"]
    assert rows["IMG_0042(1).jpg"]["caption"] == "the second one"
    assert rows["Screenshot_20190705-101010_WhatsApp-Business-Chat.jpg"]["caption"] == "cut"
    camera, dated = rows["camera.jpg"], rows["dated.jpg"]
    assert (
        camera["city"] == "Lisbon" and camera["caption"] == "about camera.jpg" and camera["date_taken"] == local(TAKEN)
    )
    assert dated["date_taken"] == "2015-04-10T10:00:00" and dated["city"] == "Florence"
    assert rows["other.jpg"]["caption"] is None

    (found,) = cli.search("--text", "giulia fireworks")
    assert [Path(r["path"]).name for r in found["results"]] == ["PXL_20190703_143300.jpg"]
    near = cli("--near", "Florence", "--format", "paths")
    assert sorted(Path(p).name for p in near.stdout.splitlines()) == ["PXL_20190703_143300.jpg", "dated.jpg"]
    # A photo as the place: its JSON's position where its EXIF has none.
    like_it = cli("--near", takeout / "PXL_20190703_143300.jpg", "--radius", "1", "--format", "paths")
    assert sorted(Path(p).name for p in like_it.stdout.splitlines()) == ["PXL_20190703_143300.jpg", "dated.jpg"]
    july = cli("--where", "date_taken LIKE '2019-07%'", "--format", "paths")
    assert len(july.stdout.splitlines()) == 4, july.stdout


def test_a_json_added_or_edited_later_updates_the_row_with_nothing_decoded(
    cli: Cli, takeout: Path, decoded: list[str]
) -> None:
    cli.index(takeout, extra=("--workers", "0"))
    decoded.clear()
    sidecar = takeout / "IMG_0042.jpg.json"
    write_takeout_json(sidecar, "IMG_0042.jpg", description="New Year in Lisbon", position=LISBON)
    write_takeout_json(takeout / "other.jpg.supplemental-metadata.json", "other.jpg", people=["Ana"])
    later = os.stat(sidecar).st_mtime + 5  # a later edit, whatever the file system's clock grain
    for name in ("IMG_0042.jpg.json", "other.jpg.supplemental-metadata.json"):
        os.utime(takeout / name, (later, later))

    again = cli.index(takeout, extra=("--workers", "0"))
    assert again.summary() == {"new": 0, "updated": 3, "removed": 0, "unchanged": 5, "failed": 0}
    assert decoded == [], "a sidecar edited: the row is described again, its vector kept"
    rows = {Path(path).name: row for path, row in cli.records().items()}
    assert rows["IMG_0042.jpg"]["caption"] == "New Year in Lisbon" == rows["IMG_0042-edited.jpg"]["caption"]
    assert rows["IMG_0042.jpg"]["city"] == "Lisbon" and rows["other.jpg"]["people"] == "Ana"
    unchanged = cli.index(takeout, extra=("--workers", "0"))
    assert unchanged.summary()["unchanged"] == 8 and "0 to index" in unchanged.stderr


def test_a_date_or_place_corrected_in_google_photos_replaces_the_one_its_json_gave(
    cli: Cli, takeout: Path, decoded: list[str]
) -> None:
    """Google Photos lets its owner set the date of a scan and the place of a photo whose camera
    recorded none; an export made after the correction must index the corrected ones, not keep
    what the earlier JSON gave. What the camera's EXIF says still comes first, and a JSON gone
    takes its date and place with it, as if the photo had been indexed without it."""
    cli.index(takeout, extra=("--workers", "0"))
    decoded.clear()
    corrected = {
        "PXL_20190703_143300.jpg.supplemental-metadata.json": dict(
            title="PXL_20190703_143300.jpg", description="Fireworks over the Arno", position=LISBON, taken=CORRECTED
        ),
        "camera.jpg.json": dict(title="camera.jpg", position=FLORENCE, taken=CORRECTED),  # EXIF: Lisbon
        "dated.jpg.json": dict(title="dated.jpg", taken=CORRECTED),  # EXIF: 2015; no place now
    }
    later = os.stat(takeout / "camera.jpg.json").st_mtime + 5
    for name, fields in corrected.items():
        write_takeout_json(takeout / name, **fields)
        os.utime(takeout / name, (later, later))
    (takeout / "IMG_0042.jpg(1).json").unlink()  # its date was the JSON's alone

    again = cli.index(takeout, extra=("--workers", "0"))
    assert again.summary() == {"new": 0, "updated": 4, "removed": 0, "unchanged": 4, "failed": 0}
    assert decoded == []
    rows = {Path(path).name: row for path, row in cli.records().items()}
    pixel, camera, dated = rows["PXL_20190703_143300.jpg"], rows["camera.jpg"], rows["dated.jpg"]
    assert (pixel["gps_latitude"], pixel["gps_longitude"], pixel["city"]) == (*LISBON, "Lisbon")
    assert pixel["date_taken"] == local(CORRECTED) == camera["date_taken"]
    assert camera["city"] == "Lisbon" and camera["gps_latitude"] == pytest.approx(LISBON[0], abs=1e-4)
    assert (dated["date_taken"], dated["gps_latitude"], dated["city"]) == ("2015-04-10T10:00:00", None, None)
    assert rows["IMG_0042(1).jpg"]["date_taken"] is None and rows["IMG_0042(1).jpg"]["caption"] is None
    near = cli("--near", "Florence", "--format", "paths")
    assert near.code != 0 or near.stdout.strip() == "", near.stdout
    march = cli("--text", "March 2011", "--format", "paths")
    assert sorted(Path(p).name for p in march.stdout.splitlines()) == ["PXL_20190703_143300.jpg", "camera.jpg"]


def test_the_photos_starred_in_google_photos_are_favorites_on_both_backends(
    tmp_path: Path, takeout: Path, decoded: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Google Photos' star (the JSON's 'favorited') is the one thing people mark their best
    photos with there: an export lost it. It is the record's favorite, listed by --where
    favorite, shown as a heart beside the stars, counted by --stats; the JSON unstarred later
    takes it away, nothing decoded. An index an older imagedb made gets it at its next --index,
    which reads the JSONs and no file without a sidecar (on a network share, each read waits)."""
    write_takeout_json(takeout / "IMG_0042.jpg.json", "IMG_0042.jpg", taken=1262304000, favorited=True)
    write_takeout_json(takeout / "camera.jpg.json", "camera.jpg", position=FLORENCE, favorited=True)
    paint_photo(tmp_path / "elsewhere" / "plain.jpg", 9)  # no JSON at all: no favorite either
    paint_tagged_photo(tmp_path / "elsewhere" / "dated.jpg", 10, {306: "2019:07:04 10:00:00"})  # nor an EXIF date
    reading = refresh.annotations_from_header
    for backend in BACKENDS:
        cli = Cli(backend, tmp_path / f"db-{backend}")
        cli.index(takeout, tmp_path / "elsewhere", extra=("--workers", "0"))
        favorites = cli("--where", "favorite", "--format", "paths")
        starred = ["IMG_0042-edited.jpg", "IMG_0042.jpg", "camera.jpg"]  # the edit is its original's
        assert sorted(Path(p).name for p in favorites.stdout.splitlines()) == starred, backend
        assert len(cli("--where", "NOT favorite", "--format", "paths").stdout.splitlines()) == 7, backend
        page = tmp_path / f"favorites-{backend}.html"
        table = cli("--where", "favorite", "--order-by", "path", "--html", page)
        assert [line.split()[-1] for line in table.stdout.splitlines()[2:]] == ["♥"] * 3, table.stdout
        assert page.read_text(encoding="utf-8").count("♥") == 3
        assert "favorites     3 starred in Google Photos" in cli("--stats").stdout

        unstarred = write_takeout_json(takeout / "camera.jpg.json", "camera.jpg", position=FLORENCE)
        later = os.stat(unstarred).st_mtime + 5
        os.utime(unstarred, (later, later))
        decoded.clear()
        assert cli.index(takeout, extra=("--workers", "0")).summary()["updated"] == 1
        assert decoded == []
        assert not cli.records()[str(takeout / "camera.jpg")]["favorite"]

        rows_rewritten(cli, lambda r: r | {"favorite": None, "record_version": 10})
        made_by_an_older_imagedb(cli, ["favorite"])
        assert cli("--where", "favorite", "--format", "paths").code != 0 or backend == "faiss"
        read: list[str] = []

        def recorded(path: str, read: list[str] = read) -> dict | None:
            read.append(path)
            return reading(path)

        with monkeypatch.context() as patched:
            patched.setattr(refresh, "annotations_from_header", recorded)
            cli.index(takeout, tmp_path / "elsewhere", extra=("--workers", "0"))
        assert decoded == [], "the JSON read again, no photo"
        # Only files with a sidecar are read: a file without one cannot have been starred. And
        # one that nothing in its EXIF dates, whose XMP packet may (version 14); not dated.jpg.
        with_json = [n for n in os.listdir(takeout) if n.endswith(".jpg")]
        assert sorted(Path(path).name for path in read) == sorted([*with_json, "plain.jpg"])
        records = {Path(path).name: row for path, row in cli.records().items()}
        assert sorted(name for name, row in records.items() if row["favorite"]) == starred[:2], backend
        assert records["plain.jpg"]["favorite"] is False
        assert {row["record_version"] for row in records.values()} == {RECORD_VERSION}
        write_takeout_json(unstarred, "camera.jpg", position=FLORENCE, favorited=True)  # for the next backend
        os.utime(unstarred, (later + 5, later + 5))


def test_the_photos_in_google_photos_trash_are_not_indexed(cli: Cli, takeout: Path, decoded: list[str]) -> None:
    """Takeout exports the trash too, each photo's JSON saying ``trashed``: what its owner
    deleted must not come back in searches. Left out and said so; one trashed since an earlier
    export has its row removed; one restored comes back; an index made before this version
    loses the rows of those in the trash at its next --index."""
    write_takeout_json(takeout / "IMG_0042.jpg.json", "IMG_0042.jpg", description="a blurry one", trashed=True)
    result = cli.index(takeout, extra=("--workers", "0"))
    assert "left out 2 file(s) in Google Photos' trash" in result.stderr, "the photo and its edit"
    assert result.summary() == {"new": 6, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}
    assert not {"IMG_0042.jpg", "IMG_0042-edited.jpg"} & {Path(p).name for p in cli.records()}
    assert cli("--text", "blurry", "--format", "paths").stdout.strip() == ""
    assert cli.index(takeout).summary()["unchanged"] == 6, "still left out, nothing read again"

    later = os.stat(takeout / "camera.jpg.json").st_mtime + 5
    write_takeout_json(takeout / "camera.jpg.json", "camera.jpg", position=FLORENCE, trashed=True)  # deleted since
    write_takeout_json(takeout / "IMG_0042.jpg.json", "IMG_0042.jpg", description="a blurry one")  # restored
    for name in ("camera.jpg.json", "IMG_0042.jpg.json"):
        os.utime(takeout / name, (later, later))
    again = cli.index(takeout, extra=("--workers", "0"))
    assert again.summary() == {"new": 2, "updated": 0, "removed": 1, "unchanged": 5, "failed": 0}, again.stderr
    names = {Path(p).name for p in cli.records()}
    assert "IMG_0042.jpg" in names and "camera.jpg" not in names

    write_takeout_json(takeout / "camera.jpg.json", "camera.jpg", position=FLORENCE)  # restored: indexed again
    os.utime(takeout / "camera.jpg.json", (later + 5, later + 5))
    cli.index(takeout, extra=("--workers", "0"))
    rows_rewritten(cli, lambda r: r | {"record_version": 13})  # as an imagedb that indexed the trash left them
    as_indexed = os.stat(takeout / "dated.jpg.json")
    write_takeout_json(takeout / "dated.jpg.json", "dated.jpg", position=FLORENCE, trashed=True)
    os.utime(takeout / "dated.jpg.json", ns=(as_indexed.st_atime_ns, as_indexed.st_mtime_ns))  # signature unchanged
    decoded.clear()
    upgraded = cli.index(takeout, extra=("--workers", "0"))
    assert upgraded.summary()["removed"] == 1 and decoded == [], upgraded.stderr
    assert "dated.jpg" not in {Path(p).name for p in cli.records()}
