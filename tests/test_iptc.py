"""IPTC-IIM: the title, caption, keywords and location older software and the press's tools wrote."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_xmp import by_name, packet, photo_with_packet, write_sidecar

from common.iptc import iptc_columns
from common.records import RECORD_VERSION, SIDECARS_ALONE_SINCE
from common.xmp import embedded_packet, fields_of, read_xmp, sidecar_of
from conftest import (
    Cli,
    drive_not_answering,
    made_by_an_older_imagedb,
    names_listed,
    paint_photo,
    paint_tagged_photo,
    rows_rewritten,
    shared,
)

IIM_COLUMNS = ["title", "caption", "keywords", "location"]
UTF8 = (1, 90, b"\x1b%G")


def iim(*datasets: tuple[int, int, bytes]) -> bytes:
    """IIM datasets as written: a tag marker, record and dataset numbers, a two-byte length."""
    return b"".join(b"\x1c" + bytes([record, number]) + len(value).to_bytes(2, "big") + value
                    for record, number, value in datasets)  # fmt: skip


def words(*, title: str | None = None, caption: str | None = None, keywords: tuple[str, ...] = (),
          city: str | None = None, state: str | None = None, country: str | None = None,
          encoding: str = "utf-8") -> list[tuple[int, int, bytes]]:  # fmt: skip
    datasets = [(2, 0, b"\x00\x04")]  # the record's version, which every writer puts first
    if title:
        datasets.append((2, 5, title.encode(encoding)))
    datasets += [(2, 25, keyword.encode(encoding)) for keyword in keywords]
    for number, part in ((90, city), (95, state), (101, country)):  # in dataset order, as written
        if part:
            datasets.append((2, number, part.encode(encoding)))
    if caption:
        datasets.append((2, 120, caption.encode(encoding)))
    return datasets


def with_iim(path: Path, block: bytes) -> Path:
    """The JPEG at ``path`` given a Photoshop block (APP13) holding ``block``, as Photoshop,
    Picasa and Photo Mechanic write it: an 8BIM resource 0x0404 with an empty name."""
    resource = b"8BIM\x04\x04\x00\x00" + len(block).to_bytes(4, "big") + block + b"\x00" * (len(block) % 2)
    segment = b"Photoshop 3.0\x00" + resource
    data = path.read_bytes()
    path.write_bytes(data[:2] + b"\xff\xed" + (len(segment) + 2).to_bytes(2, "big") + segment + data[2:])
    return path


def tiff_with_iim(path: Path, seed: int, block: bytes) -> Path:
    paint_photo(path.with_suffix(".png"), seed)
    with Image.open(path.with_suffix(".png")) as image:
        image.save(path, tiffinfo={33723: block})
    path.with_suffix(".png").unlink()
    return path


def columns_of(path: Path) -> dict[str, str]:
    with Image.open(path) as image:
        return iptc_columns(image)


def test_the_iim_of_the_shared_photoshop_photos_says_what_their_xmp_says() -> None:
    """Real photos whose software wrote both: the IIM reading agrees with the XMP one."""
    for name in ("BlueSquare.jpg", "no_exif.jpg"):
        with Image.open(shared("camera", "jpg", "xmp", name)) as image:
            from_iim, from_xmp = iptc_columns(image), fields_of(image.info["xmp"])
        assert from_iim and set(from_iim) <= set(from_xmp), name
        assert from_iim == {column: from_xmp[column] for column in from_iim}, name
    with Image.open(shared("camera", "jpg", "tests", "30-type_error.jpg")) as image:
        from_iim, from_xmp = iptc_columns(image), fields_of(image.info["xmp"])
    assert from_iim == {"copyright": "Francisco Gonzalez"} and from_xmp["copyright"] == "Francisco Gonzalez"


def test_text_is_read_as_declared_as_utf8_else_as_windows_1252(tmp_path: Path) -> None:
    declared = iim(UTF8, *words(title="Café", keywords=("Köln",)), (2, 92, b"Altstadt"),
                   *words(city="Köln", state="Nordrhein-Westfalen", country="Deutschland")[1:])  # fmt: skip
    assert columns_of(with_iim(paint_photo(tmp_path / "declared.jpg", 1), declared)) == {
        "title": "Café", "keywords": "Köln", "location": "Altstadt, Köln, Nordrhein-Westfalen, Deutschland",
    }, "the location's parts from sub-location to country"  # fmt: skip
    undeclared = with_iim(paint_photo(tmp_path / "plain.jpg", 2), iim(*words(caption="Größe über Zürich")))
    assert columns_of(undeclared) == {"caption": "Größe über Zürich"}, "valid UTF-8 needs no declaration"
    legacy = iim(*words(title="“Café”", keywords=("Mädchen", "mädchen", " ", "Strand"), encoding="cp1252"))
    assert columns_of(with_iim(paint_photo(tmp_path / "old.jpg", 3), legacy)) == {
        "title": "“Café”", "keywords": "Mädchen; Strand",
    }, "Windows-1252 without a declaration; keywords once each, blank ones left out"  # fmt: skip
    assert columns_of(tiff_with_iim(tmp_path / "scan.tif", 4, iim(*words(caption="Grandma, 1962")))) == {
        "caption": "Grandma, 1962"
    }


def test_a_damaged_iim_block_costs_its_text_not_the_photo(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "damaged"
    cut_short = iim(*words(title="Lost"))[:-2] + b"\x1c\x02\x19\xff\xff"  # a dataset longer than the block
    with_iim(paint_photo(folder / "damaged.jpg", 1), cut_short)
    paint_photo(folder / "fine.jpg", 2)
    result = cli.index(folder)
    assert result.summary()["new"] == 2 and result.summary()["failed"] == 0, result.stderr
    assert by_name(cli)["damaged.jpg"]["keywords"] is None


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A press archive: IIM only (JPEG and a TIFF scan), IIM with an XMP sidecar, nothing."""
    root = tmp_path / "archive"
    with_iim(paint_photo(root / "harbour.jpg", 1),
             iim(UTF8, *words(title="Harbour at dawn", caption="Fishing boats", keywords=("boats", "Genova"),
                              city="Genova", state="Liguria", country="Italia")))  # fmt: skip
    tiff_with_iim(root / "scan.tif", 2, iim(*words(caption="Wedding of Anna and Luca", keywords=("wedding",))))
    with_iim(paint_photo(root / "edited.jpg", 3),
             iim(*words(caption="Old caption kept", keywords=("old",), city="Camogli", country="Italia")))  # fmt: skip
    write_sidecar(root / "edited.jpg.xmp", packet(keywords=("new",), rating=4, location=("Portofino", "Italy")))
    photo_with_packet(root / "both.jpg", 4, packet(title="XMP title"))
    with_iim(root / "both.jpg", iim(*words(title="IIM title", keywords=("iim-only",))))
    paint_photo(root / "plain.jpg", 5)
    return root


def test_indexing_records_iim_where_xmp_has_none(cli: Cli, archive: Path) -> None:
    cli.index(archive)
    records = by_name(cli)
    harbour, scan, edited, both = (records[n] for n in ("harbour.jpg", "scan.tif", "edited.jpg", "both.jpg"))
    assert (harbour["title"], harbour["caption"], harbour["keywords"]) == ("Harbour at dawn", "Fishing boats",
                                                                          "boats; Genova")  # fmt: skip
    assert (scan["caption"], scan["keywords"]) == ("Wedding of Anna and Luca", "wedding")
    assert harbour["location"] == "Genova, Liguria, Italia"
    assert (edited["keywords"], edited["caption"], edited["rating"]) == ("new", "Old caption kept", 4), (
        "XMP wins column by column; IIM fills the caption XMP lacks"
    )
    assert edited["location"] == "Portofino, Italy", "the location is one column: XMP's, whole"
    assert (both["title"], both["keywords"]) == ("XMP title", "iim-only")
    assert all(records["plain.jpg"][column] is None for column in IIM_COLUMNS)

    def names(*args: str) -> list[str]:
        return names_listed(cli, *args)

    assert names("--text", "genova") == ["harbour.jpg"]
    assert names("--text", "anna luca") == ["scan.tif"]
    assert names("--text", "old") == ["edited.jpg"], "its caption is searchable; its IIM keyword is not kept"
    assert names("--where", "keywords LIKE '%wedding%'") == ["scan.tif"]
    assert names("--where", "location LIKE '%Italia'") == ["harbour.jpg"]
    assert names("--text", "liguria") == ["harbour.jpg"]
    assert names("--text", "portofino") == ["edited.jpg"]
    assert cli.index(archive).summary()["unchanged"] == 5
    counted = cli("--stats", "--format", "json").json()
    assert counted["locations"] == {"counts": {"Genova, Liguria, Italia": 1, "Portofino, Italy": 1}, "without": 3}


def test_the_date_older_software_wrote_dates_a_photo_its_exif_does_not(cli: Cli, tmp_path: Path) -> None:
    """IIM's Date Created and Time Created (a press agency's, a scan's dated in old Photoshop):
    when nothing in EXIF dates the photo, as precisely as written ('00' for a month or a day
    not known); the camera's EXIF comes first, a sidecar's edit before both."""
    folder = tmp_path / "press"
    with_iim(
        paint_photo(folder / "agency.jpg", 1),
        iim(*words(title="Summit"), (2, 55, b"20191014"), (2, 60, b"150020+0000")),
    )
    tiff_with_iim(folder / "scan.tif", 2, iim(*words(caption="Grandma"), (2, 55, b"19620000")))
    camera = paint_tagged_photo(folder / "camera.jpg", 3, {306: "2015:04:10 10:00:00"})
    with_iim(camera, iim(*words(title="Later"), (2, 55, b"20191014")))
    with_iim(paint_photo(folder / "edited.jpg", 4), iim(*words(title="Edited"), (2, 55, b"20191014")))
    write_sidecar(folder / "edited.jpg.xmp", packet(rating=3).replace(
        'xmp:Rating="3"', 'xmp:Rating="3" xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:DateTimeOriginal="2019:10:15 09:00:00"'
    ))  # fmt: skip
    cli.index(folder)
    dates = {name: row["date_taken"] for name, row in by_name(cli).items()}
    assert dates == {
        "agency.jpg": "2019-10-14T15:00:20+00:00", "scan.tif": "1962", "camera.jpg": "2015-04-10T10:00:00",
        "edited.jpg": "2019-10-15T09:00:00",
    }  # fmt: skip
    assert names_listed(cli, "--where", "date_taken LIKE '2019-10%'") == ["agency.jpg", "edited.jpg"]


def test_a_real_photo_dated_in_iim_alone_is_dated() -> None:
    """Pillow's test photo with several APP13 blocks: its IIM holds a date and a time with a
    zone, its EXIF no date."""
    assert (
        columns_of(shared("formats", "ok", "pillow__app13-multiple.jpg"))["date_taken"] == "2019-10-14T15:00:20+00:00"
    )


def as_version_4_left_it(cli: Cli) -> None:
    """Rewrite the index as version 4 wrote it: XMP's title, caption and keywords, not IIM's,
    and no location or creator column."""

    def version_4(record: dict) -> dict:
        with Image.open(record["path"]) as image:
            xmp = read_xmp(embedded_packet(image.info), sidecar_of(record["path"])).columns
        return (
            record
            | {column: xmp[column] for column in IIM_COLUMNS}
            | {"location": None, "creator": None, "record_version": 4}
        )

    rows_rewritten(cli, version_4)
    made_by_an_older_imagedb(cli, ["location", "creator"])


def test_an_index_from_version_4_reads_iim_from_headers_decoding_nothing(
    cli: Cli, archive: Path, decoded: list[str], model_loads: list[str]
) -> None:
    """Rows version 4 wrote lack IIM's columns: the next --index reads the files' headers, no
    pixels, keeps every vector; --repair, which reads no file, leaves them to that --index."""
    cli.index(archive)
    before = cli.records()
    as_version_4_left_it(cli)
    assert by_name(cli)["both.jpg"]["title"] == "XMP title" and by_name(cli)["both.jpg"]["keywords"] is None
    assert cli("--text", "genova", "--format", "paths").stdout == ""

    repaired = cli("--repair")
    assert repaired.code == 0, repaired.stderr
    assert {r["record_version"] for r in cli.records().values()} == {SIDECARS_ALONE_SINCE - 1}
    assert cli("--text", "genova", "--format", "paths").stdout == ""

    decoded.clear()
    model_loads.clear()
    stored = cli.vectors(sorted(before))
    result = cli.index(archive, extra=("--workers", "0"))
    assert result.summary() == {"new": 0, "updated": 5, "removed": 0, "unchanged": 0, "failed": 0}
    assert "5 brought up to date from their rows: nothing decoded or embedded" in result.stderr
    assert decoded == [] and model_loads == []
    np.testing.assert_array_equal(cli.vectors(sorted(before)), stored)
    after = cli.records()
    for column in (*IIM_COLUMNS, "creator", "rating", "people", "record_version"):
        assert {p: r[column] for p, r in after.items()} == {p: r[column] for p, r in before.items()}, column
    assert cli("--text", "genova", "--format", "paths").stdout.split() == [str(archive / "harbour.jpg")]
    assert cli.index(archive).summary()["unchanged"] == 5


def test_a_file_that_cannot_be_read_now_keeps_its_row_until_it_can(
    cli: Cli, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bringing rows up to date reads headers on threads: a drive that stops answering costs
    the time limit, and a file that cannot be opened keeps what its row holds (XMP included),
    one warning saying so, until an --index can read it."""
    cli.index(archive)
    before = by_name(cli)
    as_version_4_left_it(cli)
    both = archive / "both.jpg"
    stat, original = both.stat(), both.read_bytes()
    both.write_bytes(b"\0" * len(original))  # damaged in place: same size, same mtime
    os.utime(both, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    with drive_not_answering(monkeypatch, "annotations_from_header", "scan.tif", module="common.refresh"):
        result = cli.index(archive, extra=("--workers", "0", "--time-limit", "1"))
    assert result.code == 0, result.stderr
    assert "no file read for 1 s while reading headers" in result.stderr
    assert "2 file(s) could not be read for what photo software wrote in them" in result.stderr
    records = by_name(cli)
    assert (records["both.jpg"]["title"], records["both.jpg"]["record_version"]) == (
        "XMP title",
        SIDECARS_ALONE_SINCE - 1,
    )
    assert (records["scan.tif"]["caption"], records["scan.tif"]["record_version"]) == (None, SIDECARS_ALONE_SINCE - 1)
    assert records["harbour.jpg"] == before["harbour.jpg"] | {"indexed_at": records["harbour.jpg"]["indexed_at"]}

    both.write_bytes(original)
    os.utime(both, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cli.index(archive).summary()["updated"] == 2
    records = by_name(cli)
    assert (records["both.jpg"]["keywords"], records["scan.tif"]["caption"]) == ("iim-only", "Wedding of Anna and Luca")
    assert {r["record_version"] for r in records.values()} == {RECORD_VERSION}
