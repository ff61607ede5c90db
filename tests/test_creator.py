"""Who made a photo: XMP's dc:creator, else IPTC-IIM's By-line, else EXIF's Artist, as one
`creator` column to search, filter and count by."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from test_iptc import iim, with_iim
from test_xmp import RDF_CLOSE, RDF_OPEN, by_name, reindexed_after_emptying, write_sidecar

from common.iptc import iptc_columns
from common.xmp import fields_of
from conftest import Cli, brought_up_to_date, linked_folder, names_listed, paint_photo, paint_tagged_photo, shared

ARTIST = 0x013B  # EXIF's Artist tag


def credited(*names: str) -> str:
    """An XMP packet crediting ``names`` as dc:creator (an ordered list, as Lightroom writes it)."""
    items = "".join(f"<rdf:li>{name}</rdf:li>" for name in names)
    return RDF_OPEN.format(attributes="") + f"<dc:creator><rdf:Seq>{items}</rdf:Seq></dc:creator>" + RDF_CLOSE


def photo(path: Path, seed: int, *, artist: str | None = None, xmp: str | None = None) -> Path:
    """A generated JPEG, signed in EXIF by ``artist`` and carrying ``xmp``, as given."""
    return paint_tagged_photo(path, seed, {ARTIST: artist} if artist else {}, xmp)


def test_xmp_and_iim_name_every_creator() -> None:
    assert fields_of(credited("Jane Doe", "John Roe", "Jane Doe")) == {"creator": "Jane Doe; John Roe"}


def test_iim_by_lines_are_read(tmp_path: Path) -> None:
    block = iim((2, 0, b"\x00\x04"), (2, 80, b"Press Agency"), (2, 80, "Jörg Müller".encode()))
    with Image.open(with_iim(paint_photo(tmp_path / "wire.jpg", 1), block)) as image:
        assert iptc_columns(image) == {"creator": "Press Agency; Jörg Müller"}


def test_the_creators_of_real_photos(cli: Cli, tmp_path: Path) -> None:
    """The shared sets' credits: XMP alone beside an EXIF Copyright (Pentax), XMP and IIM that
    agree (a COCO photo from Flickr), IIM alone (another), EXIF's Artist and XMP that agree (a
    US Army photo)."""
    files = {
        "Pentax_K10D.jpg": shared("camera", "jpg", "Pentax_K10D.jpg"),
        "long_description.jpg": shared("camera", "jpg", "long_description.jpg"),
        "000000343803.jpg": shared("coco-mini", "val2017", "000000343803.jpg"),
        "000000229997.jpg": shared("coco-mini", "val2017", "000000229997.jpg"),
    }
    folder = linked_folder(tmp_path / "credited", files)
    cli.index(folder)
    records = by_name(cli)
    assert {name: (r["creator"], r["artist"]) for name, r in records.items()} == {
        "Pentax_K10D.jpg": ("Laitche", None),
        "long_description.jpg": ("SSG KYLE DAVIS", "SSG KYLE DAVIS"),
        "000000343803.jpg": ("Michael Tarne", None),
        "000000229997.jpg": ("Photographer:SpecialKolin.Com", None),
    }
    listed = cli("--text", "tarne", "--format", "paths")
    assert listed.stdout.split() == [str(folder / "000000343803.jpg")], listed.stderr


@pytest.fixture
def credits(tmp_path: Path) -> Path:
    """A photo credited in each place photo software writes a creator, and one credited nowhere."""
    root = tmp_path / "credits"
    photo(root / "lightroom.jpg", 1, artist="Camera Owner", xmp=credited("Jane Doe"))
    photo(root / "wire.jpg", 2)
    with_iim(root / "wire.jpg", iim((2, 0, b"\x00\x04"), (2, 80, b"Press Agency")))
    photo(root / "signed.jpg", 3, artist="Camera Owner")
    photo(root / "raw_export.jpg", 4, artist="Camera Owner")
    write_sidecar(root / "raw_export.xmp", credited("Raw Shooter", "Second Shooter"))
    paint_photo(root / "plain.jpg", 5)
    return root


def test_indexing_records_who_made_each_photo(cli: Cli, credits: Path, decoded: list[str]) -> None:
    cli.index(credits)
    records = by_name(cli)
    assert {name: r["creator"] for name, r in records.items()} == {
        "lightroom.jpg": "Jane Doe",  # XMP wins over EXIF's Artist, which stays in `artist`
        "wire.jpg": "Press Agency",
        "signed.jpg": "Camera Owner",
        "raw_export.jpg": "Raw Shooter; Second Shooter",
        "plain.jpg": None,
    }
    assert records["lightroom.jpg"]["artist"] == "Camera Owner"
    assert records["signed.jpg"]["search_text"].count("Camera Owner") == 1, "said once, weighed once"

    def names(*args: str) -> list[str]:
        return names_listed(cli, *args)

    assert names("--where", "creator = 'Camera Owner'") == ["signed.jpg"]
    assert names("--where", "creator LIKE '%Shooter%'") == ["raw_export.jpg"]
    assert names("--text", "press agency") == ["wire.jpg"]
    assert names("--text", "second shooter") == ["raw_export.jpg"]
    stats = cli("--stats", "--format", "json").json()
    assert stats["creators"]["counts"] == {
        "Camera Owner": 1, "Jane Doe": 1, "Press Agency": 1, "Raw Shooter": 1, "Second Shooter": 1,
    }  # fmt: skip
    assert stats["creators"]["without"] == 1
    page = credits.parent / "results.html"
    assert cli("--where", "creator IS NOT NULL", "--html", page).code == 0
    assert "by Raw Shooter; Second Shooter" in page.read_text(encoding="utf-8")

    # The sidecar no longer credits anyone: EXIF's Artist is the creator.
    assert reindexed_after_emptying(cli, credits / "raw_export.xmp", decoded)["raw_export.jpg"]["creator"] == (
        "Camera Owner"
    )


def test_an_index_from_version_5_reads_creators_from_headers_decoding_nothing(
    cli: Cli, credits: Path, decoded: list[str], model_loads: list[str]
) -> None:
    """Rows version 5 wrote have no creator column: --repair, which reads no file, names EXIF's
    Artist alone; the next --index reads the headers and sidecars, no pixels, every vector kept."""
    repaired, after = brought_up_to_date(cli, credits, "creator", 5, decoded, model_loads)
    assert (repaired["signed.jpg"]["creator"], repaired["wire.jpg"]["creator"]) == ("Camera Owner", None)
    assert after["wire.jpg"]["creator"] == "Press Agency"
    assert cli("--text", "press", "--format", "paths").stdout.split() == [str(credits / "wire.jpg")]
