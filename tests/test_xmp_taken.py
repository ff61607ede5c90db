"""When and where XMP says a photo was taken: a sidecar's edit (Lightroom's Edit Capture Time,
darktable's and digiKam's geotagging of raw files) before the file's EXIF, the file's own packet
where EXIF says nothing (a PNG exported with XMP alone, a scan dated by its owner)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image
from test_places import photo_taken_at
from test_raw import raw_photo
from test_xmp import photo_with_packet, write_sidecar

from common import refresh
from common.records import RECORD_VERSION
from common.xmp import packet_fields_of
from common.xmp_taken import TakenInXmp, taken_as_xmp_says, taken_columns
from conftest import Cli, paint_photo, paint_tagged_photo, rows_rewritten

LISBON = (38.7223, -9.1393)
# Florence as XMP's GPS coordinates write it: degrees, then minutes to a thousandth.
FLORENCE_WRITTEN = ("43,46.122N", "11,15.414E")
FLORENCE = (43 + 46.122 / 60, 11 + 15.414 / 60)
GENOA_WRITTEN = ("44,24.324N", "8,55.968E")
XMP_OPEN = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" {}>'
)
XMP_CLOSE = "</rdf:Description></rdf:RDF></x:xmpmeta>"


def xmp_saying(*, elements: dict[str, str] | None = None, **attributes: str) -> str:
    """A packet with these properties ('exif:DateTimeOriginal'): as attributes, as darktable and
    digiKam write them, or as elements (``elements``), as Lightroom does."""
    written = " ".join(f'{name.replace("__", ":")}="{value}"' for name, value in attributes.items())
    inside = "".join(f"<{name}>{value}</{name}>" for name, value in (elements or {}).items())
    return XMP_OPEN.format(written) + inside + XMP_CLOSE


def taken(packet: str, *, made_too: bool = False) -> dict:
    return taken_columns(packet_fields_of(packet).taken, made_too=made_too)


def test_the_dates_and_positions_photo_software_writes_are_read() -> None:
    lightroom = xmp_saying(elements={
        "exif:DateTimeOriginal": "2019-07-03T09:33:00.37+02:00",
        "exif:GPSLatitude": FLORENCE_WRITTEN[0], "exif:GPSLongitude": FLORENCE_WRITTEN[1],
    })  # fmt: skip
    found = taken(lightroom)
    assert found["date_taken"] == "2019-07-03T09:33:00+02:00"
    assert (found["gps_latitude"], found["gps_longitude"]) == pytest.approx(FLORENCE)
    darktable = xmp_saying(exif__DateTimeOriginal="2021:04:26 18:02:13", exif__GPSLatitude="33,51.408000S",
                           exif__GPSLongitude="151,12.918000E", exif__GPSAltitude="35000/1000")  # fmt: skip
    assert taken(darktable) == pytest.approx(
        {"date_taken": "2021-04-26T18:02:13", "gps_latitude": -33.8568, "gps_longitude": 151.2153, "gps_altitude": 35.0}
    )
    below = xmp_saying(exif__GPSLatitude="31,46,49.2N", exif__GPSLongitude="35.5E", exif__GPSAltitude="430/1",
                       exif__GPSAltitudeRef="1")  # fmt: skip
    assert taken(below) == pytest.approx({"gps_latitude": 31.78033333, "gps_longitude": 35.5, "gps_altitude": -430.0})
    # Where what it shows is (the IPTC Extension's location shown) is not where it was taken.
    shown = XMP_OPEN.format('xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"') + (
        '<Iptc4xmpExt:LocationShown><rdf:Bag><rdf:li rdf:parseType="Resource">'
        f"<exif:GPSLatitude>{FLORENCE_WRITTEN[0]}</exif:GPSLatitude><exif:GPSLongitude>{FLORENCE_WRITTEN[1]}"
        "</exif:GPSLongitude></rdf:li></rdf:Bag></Iptc4xmpExt:LocationShown>"
    ) + XMP_CLOSE  # fmt: skip
    assert taken(shown) == {}
    # As precise as its owner knew it: a year, a month; never a made-up 1 January.
    assert taken(xmp_saying(photoshop__DateCreated="1975")) == {"date_taken": "1975"}
    assert taken(xmp_saying(photoshop__DateCreated="1975-06")) == {"date_taken": "1975-06"}
    # What is no date or position: month 13, zeros, 61 minutes, a latitude written east, 0,0.
    for nothing in (
        xmp_saying(exif__DateTimeOriginal="2019-13-03T09:33:00"),
        xmp_saying(exif__DateTimeOriginal="0000:00:00 00:00:00"),
        xmp_saying(exif__GPSLatitude="43,61.0N", exif__GPSLongitude="11,15.414E"),
        xmp_saying(exif__GPSLatitude="43,46.122E", exif__GPSLongitude="11,15.414E"),
        xmp_saying(exif__GPSLatitude="0,0.000N", exif__GPSLongitude="0,0.000E"),
        xmp_saying(exif__GPSLatitude=FLORENCE_WRITTEN[0]),  # half a position
    ):
        assert taken(nothing) == {}, nothing
    # When its file was made counts only where nothing says when it was taken, and only in the file.
    export = xmp_saying(xmp__CreateDate="2020-02-02T20:20:20")
    assert (taken(export), taken(export, made_too=True)) == ({}, {"date_taken": "2020-02-02T20:20:20"})


def photo_dated(path: Path, seed: int, when: str, offset: str | None = None, position=None) -> Path:
    """A JPEG whose EXIF says when it was taken (DateTimeOriginal, and OffsetTimeOriginal given),
    and where (given ``position``)."""
    if position:
        photo_taken_at(path, seed, *position)
    else:
        paint_photo(path, seed)
    with Image.open(path) as image:
        image.load()
        exif = image.getexif()
        exif[ExifTags.IFD.Exif] = {
            ExifTags.Base.DateTimeOriginal: when,
            **({ExifTags.Base.OffsetTimeOriginal: offset} if offset else {}),
        }
        image.save(path, exif=exif, quality=92)
    return path


@pytest.fixture
def shoot(tmp_path: Path) -> Path:
    """A shoot edited in photo software: a raw and a JPEG whose camera clock was five hours
    ahead and whose GPS was off, set right in their sidecars; a JPEG whose darktable sidecar
    repeats its EXIF time; a scan exported as PNG, dated and placed in its own XMP; an export
    whose packet is older than its EXIF; one nothing dates."""
    folder = tmp_path / "shoot"
    scene = Image.new("RGB", (320, 240), (40, 90, 160))
    raw_photo(folder / "IMG_0042.dng", scene, tags=((306, "s", 0, "2019:07:03 14:33:00", True),))
    corrected = {"exif:DateTimeOriginal": "2019-07-03T09:33:00.00", "exif:GPSLatitude": FLORENCE_WRITTEN[0],
                 "exif:GPSLongitude": FLORENCE_WRITTEN[1]}  # fmt: skip
    write_sidecar(folder / "IMG_0042.xmp", xmp_saying(elements=corrected))  # Adobe's name for a raw's
    photo_dated(folder / "IMG_0043.jpg", 2, "2019:07:03 14:40:00", position=LISBON)
    write_sidecar(
        folder / "IMG_0043.jpg.xmp", xmp_saying(elements={**corrected, "exif:DateTimeOriginal": "2019-07-03T09:40:00"})
    )
    photo_dated(folder / "same.jpg", 3, "2019:07:03 14:50:00", offset="+01:00")
    write_sidecar(folder / "same.jpg.xmp", xmp_saying(exif__DateTimeOriginal="2019:07:03 14:50:00"))
    photo_with_packet(folder / "scan.png", 4, xmp_saying(
        photoshop__DateCreated="1975", exif__GPSLatitude=GENOA_WRITTEN[0], exif__GPSLongitude=GENOA_WRITTEN[1]
    ))  # fmt: skip
    paint_tagged_photo(
        folder / "export.jpg",
        5,
        {306: "2015:04:10 10:00:00"},
        xmp=xmp_saying(exif__DateTimeOriginal="2010:01:01 10:00:00"),
    )
    paint_photo(folder / "plain.jpg", 6)
    return folder


def when_and_where(cli: Cli) -> dict[str, tuple]:
    return {
        Path(path).name: (row["date_taken"], row["city"], row["record_version"]) for path, row in cli.records().items()
    }


EDITED = {
    "IMG_0042.dng": ("2019-07-03T09:33:00", "Florence", RECORD_VERSION),
    "IMG_0043.jpg": ("2019-07-03T09:40:00", "Florence", RECORD_VERSION),
    "same.jpg": ("2019-07-03T14:50:00+01:00", None, RECORD_VERSION),  # the sidecar's time, its zone kept
    "scan.png": ("1975", "Genoa", RECORD_VERSION),
    "export.jpg": ("2015-04-10T10:00:00", None, RECORD_VERSION),  # EXIF's before its own packet's
    "plain.jpg": (None, None, RECORD_VERSION),
}


def test_a_sidecars_date_and_place_come_before_the_exif_and_a_packets_after_it(
    cli: Cli, shoot: Path, decoded: list[str]
) -> None:
    """What a user sees of it: the corrected time and place in the rows, --near the right city
    (by name, and by the raw itself), a year alone kept a year; a sidecar edited again is
    followed and one deleted gives the camera's back, nothing decoded either time."""
    cli.index(shoot, extra=("--workers", "0"))
    assert when_and_where(cli) == EDITED
    assert cli.records()[str(shoot / "IMG_0043.jpg")]["gps_latitude"] == pytest.approx(FLORENCE[0], abs=1e-6)
    near = cli("--near", "Florence", "--radius", "5", "--format", "paths")
    assert sorted(Path(p).name for p in near.stdout.split()) == ["IMG_0042.dng", "IMG_0043.jpg"]
    assert cli("--near", "Lisbon", "--format", "paths").stdout.strip() == "", "the GPS's wrong place"
    by_raw = cli("--near", str(shoot / "IMG_0042.dng"), "--radius", "1", "--format", "paths")
    assert sorted(Path(p).name for p in by_raw.stdout.split()) == ["IMG_0042.dng", "IMG_0043.jpg"], by_raw.stderr
    assert cli("--where", "date_taken LIKE '1975%'", "--format", "paths").stdout.split() == [str(shoot / "scan.png")]
    assert "January" not in cli.records()[str(shoot / "scan.png")]["search_text"], "a year alone: no month"

    # Edited again in Lightroom: the row follows, nothing decoded; the sidecar gone, the camera's again.
    decoded.clear()
    write_sidecar(shoot / "IMG_0042.xmp", xmp_saying(exif__DateTimeOriginal="2019-07-04T08:00:00"), later_by=5)
    (shoot / "IMG_0043.jpg.xmp").unlink()
    assert cli.index(shoot, extra=("--workers", "0")).summary()["updated"] == 2
    assert decoded == []
    rows = cli.records()
    raw, jpeg = rows[str(shoot / "IMG_0042.dng")], rows[str(shoot / "IMG_0043.jpg")]
    assert (raw["date_taken"], raw["gps_latitude"], raw["city"]) == ("2019-07-04T08:00:00", None, None)
    assert (jpeg["date_taken"], jpeg["city"]) == ("2019-07-03T14:40:00", "Lisbon")
    assert jpeg["gps_latitude"] == pytest.approx(LISBON[0], abs=1e-4)


def test_an_index_from_before_xmp_dates_reads_the_photos_with_a_sidecar_or_no_exif_date(
    cli: Cli, shoot: Path, decoded: list[str], monkeypatch
) -> None:
    """Rows version 13 wrote hold the EXIF's date and position alone: the next --index reads the
    headers and sidecars of those XMP can change (a sidecar, or no date in their EXIF), no
    pixels, and keeps every vector; a photo dated by its EXIF alone is not read."""
    cli.index(shoot)
    paths = sorted(cli.records())
    vectors = cli.vectors(paths)
    as_exif_said = {
        "IMG_0042.dng": {"date_taken": "2019-07-03T14:33:00", "gps_latitude": None, "gps_longitude": None},
        "IMG_0043.jpg": {"date_taken": "2019-07-03T14:40:00", "gps_latitude": LISBON[0], "gps_longitude": LISBON[1]},
        "scan.png": {"date_taken": None, "gps_latitude": None, "gps_longitude": None},
    }
    places = dict.fromkeys(("city", "county", "state", "country", "country_code"))
    rows_rewritten(cli, lambda r: r | as_exif_said.get(r["filename"], {}) | places | {"record_version": 13})
    assert cli("--near", "Florence", "--format", "paths").stdout.strip() == ""

    read: list[str] = []
    reading = refresh.annotations_from_header
    monkeypatch.setattr(refresh, "annotations_from_header", lambda path: read.append(path) or reading(path))
    decoded.clear()
    result = cli.index(shoot, extra=("--workers", "0"))
    assert result.summary()["failed"] == 0 and decoded == []
    assert sorted(Path(p).name for p in read) == ["IMG_0042.dng", "IMG_0043.jpg", "plain.jpg", "same.jpg", "scan.png"]
    np.testing.assert_array_equal(cli.vectors(paths), vectors)
    assert when_and_where(cli) == EDITED
    assert cli.index(shoot).summary()["unchanged"] == len(EDITED)


def test_a_sidecar_saying_what_the_exif_says_keeps_the_exifs_offset_and_altitude() -> None:
    """Where the sidecar repeats the camera's time or place (darktable and digiKam copy them in),
    the EXIF's stays: it may be the more precise (an offset, the seconds, an altitude). A sidecar
    that moves the photo moves all of its position; the file's own packet fills only a gap."""
    camera = {"date_taken": "2019-07-03T14:33:00+02:00", "gps_latitude": 43.7687, "gps_longitude": 11.2569,
              "gps_altitude": 52.0}  # fmt: skip
    repeated = TakenInXmp({"date_taken": "2019-07-03", "gps_latitude": 43.768702, "gps_longitude": 11.256901}, {})
    assert taken_as_xmp_says(camera, repeated) == camera
    moved = TakenInXmp({"date_taken": "2019-07-03T09:33:00", "gps_latitude": 38.7223, "gps_longitude": -9.1393}, {})
    assert taken_as_xmp_says(camera, moved) == {
        "date_taken": "2019-07-03T09:33:00", "gps_latitude": 38.7223, "gps_longitude": -9.1393, "gps_altitude": None,
    }  # fmt: skip
    zoned = TakenInXmp({"date_taken": "2019-07-03T14:33:00-04:00"}, {})
    assert taken_as_xmp_says(camera, zoned)["date_taken"] == "2019-07-03T14:33:00-04:00", "its zone set right"
    packet = TakenInXmp({}, {"date_taken": "2010-01-01T00:00:00", "gps_latitude": 1.0, "gps_longitude": 2.0})
    assert taken_as_xmp_says(camera, packet) == camera
    assert taken_as_xmp_says({"date_taken": None, "gps_latitude": None}, packet) == {
        "date_taken": "2010-01-01T00:00:00", "gps_latitude": 1.0, "gps_longitude": 2.0, "gps_altitude": None,
    }  # fmt: skip


def test_a_raw_exifread_cannot_read_has_its_cameras_date_back_when_its_sidecar_goes(
    cli: Cli, tmp_path: Path, decoded: list[str], monkeypatch
) -> None:
    """A CR3 or a RAF (exifread reads neither: the EXIF LibRaw parsed into its preview stands in)
    dated and placed anew in Lightroom: its row has the sidecar's time and place; the sidecar
    deleted, the camera's time is back, nothing decoded."""
    from common import metadata

    monkeypatch.setattr(metadata, "_exifread_tags", lambda path: {})  # as for a CR3
    folder = tmp_path / "shoot"
    scene = Image.new("RGB", (320, 240), (40, 90, 160))
    raw = raw_photo(folder / "IMG_0042.dng", scene, tags=((306, "s", 0, "2019:07:03 14:33:00", True),))
    corrected = {"exif:DateTimeOriginal": "2019-07-03T09:33:00.00", "exif:GPSLatitude": FLORENCE_WRITTEN[0],
                 "exif:GPSLongitude": FLORENCE_WRITTEN[1]}  # fmt: skip
    write_sidecar(folder / "IMG_0042.xmp", xmp_saying(elements=corrected))
    cli.index(folder, extra=("--workers", "0"))
    assert when_and_where(cli) == {"IMG_0042.dng": ("2019-07-03T09:33:00", "Florence", RECORD_VERSION)}
    assert cli.records()[str(raw)]["make"] == "Testmaker"

    (folder / "IMG_0042.xmp").unlink()
    decoded.clear()
    assert cli.index(folder, extra=("--workers", "0")).summary()["updated"] == 1
    assert decoded == []
    assert when_and_where(cli) == {"IMG_0042.dng": ("2019-07-03T14:33:00", None, RECORD_VERSION)}
