"""Whose rights a photo is: XMP's dc:rights, else IPTC-IIM's Copyright Notice, else EXIF's
Copyright, as one `copyright` column to search and filter by (`copyright IS NULL`: the photos a
photographer has not marked yet)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image
from test_iptc import iim, with_iim
from test_xmp import RDF_CLOSE, RDF_OPEN, by_name, reindexed_after_emptying, write_sidecar

from common.iptc import iptc_columns
from common.xmp import fields_of
from conftest import (
    Cli,
    brought_up_to_date,
    linked_folder,
    names_listed,
    paint_photo,
    paint_tagged_photo,
    rows_rewritten,
    shared,
)

COPYRIGHT = 0x8298  # EXIF's Copyright tag


def rights(notice: str) -> str:
    """An XMP packet with ``notice`` as dc:rights (a language alternative, as Lightroom writes it)."""
    alternatives = f'<rdf:li xml:lang="de">Nur auf Deutsch</rdf:li><rdf:li xml:lang="x-default">{notice}</rdf:li>'
    return RDF_OPEN.format(attributes="") + f"<dc:rights><rdf:Alt>{alternatives}</rdf:Alt></dc:rights>" + RDF_CLOSE


def photo(path: Path, seed: int, *, exif_notice: str | None = None, xmp: str | None = None) -> Path:
    """A generated JPEG whose EXIF Copyright is ``exif_notice`` and which carries ``xmp``, as given."""
    return paint_tagged_photo(path, seed, {} if exif_notice is None else {COPYRIGHT: exif_notice}, xmp)


def test_xmp_gives_its_default_language_and_iim_its_notice(tmp_path: Path) -> None:
    assert fields_of(rights("© 2024 Jane Doe")) == {"copyright": "© 2024 Jane Doe"}
    block = iim((2, 0, b"\x00\x04"), (2, 116, "© 1998 Agentur Köln".encode()))
    with Image.open(with_iim(paint_photo(tmp_path / "wire.jpg", 1), block)) as image:
        assert iptc_columns(image) == {"copyright": "© 1998 Agentur Köln"}


def test_the_copyright_notices_of_real_photos(cli: Cli, tmp_path: Path) -> None:
    """The shared sets' notices: XMP (Pentax), XMP and IIM that agree (a COCO photo from Flickr;
    a test file), EXIF alone (two cameras), an empty XMP one beside an empty EXIF one and a
    camera's EXIF padded with spaces (nothing)."""
    files = {
        "Pentax_K10D.jpg": shared("camera", "jpg", "Pentax_K10D.jpg"),
        "000000343803.jpg": shared("coco-mini", "val2017", "000000343803.jpg"),
        "30-type_error.jpg": shared("camera", "jpg", "tests", "30-type_error.jpg"),
        "fujifilm-dx10.jpg": shared("camera", "jpg", "exif-org", "fujifilm-dx10.jpg"),
        "45-gps_ifd.jpg": shared("camera", "jpg", "tests", "45-gps_ifd.jpg"),
        "long_description.jpg": shared("camera", "jpg", "long_description.jpg"),
        "Fujifilm_FinePix6900ZOOM.jpg": shared("camera", "jpg", "Fujifilm_FinePix6900ZOOM.jpg"),
        # Notices their cameras write on every photo, naming no one.
        "kodak-dc240.jpg": shared("camera", "jpg", "exif-org", "kodak-dc240.jpg"),
        "ricoh-rdc5300.jpg": shared("camera", "jpg", "exif-org", "ricoh-rdc5300.jpg"),
        "Samsung_Digimax_i50_MP3.jpg": shared("camera", "jpg", "Samsung_Digimax_i50_MP3.jpg"),
    }
    cli.index(linked_folder(tmp_path / "noticed", files))
    assert {name: r["copyright"] for name, r in by_name(cli).items()} == {
        "Pentax_K10D.jpg": "Laitche (This file is in the public domain.)",
        "000000343803.jpg": "2010 Michael Tarne",
        "30-type_error.jpg": "Francisco Gonzalez",
        "fujifilm-dx10.jpg": "J P Bowen",
        "45-gps_ifd.jpg": "TM&Copyright (C) 2010 Sony Computer Entertainment Inc.",
        "long_description.jpg": None,
        "Fujifilm_FinePix6900ZOOM.jpg": None,
        "kodak-dc240.jpg": None,
        "ricoh-rdc5300.jpg": None,
        "Samsung_Digimax_i50_MP3.jpg": None,
    }
    assert names_listed(cli, "--where", "copyright IS NULL") == [
        "Fujifilm_FinePix6900ZOOM.jpg", "Samsung_Digimax_i50_MP3.jpg", "kodak-dc240.jpg", "long_description.jpg",
        "ricoh-rdc5300.jpg",
    ]  # fmt: skip
    for name in ("kodak-dc240.jpg", "ricoh-rdc5300.jpg", "Samsung_Digimax_i50_MP3.jpg"):
        assert "Image Copyright" in by_name(cli)[name]["exif_json"], "the tag itself is kept"
    assert names_listed(cli, "--text", "bowen") == ["fujifilm-dx10.jpg"]


MAKE, MODEL = 0x010F, 0x0110


def test_a_notice_a_camera_writes_on_every_photo_names_no_one(cli: Cli, tmp_path: Path, decoded: list[str]) -> None:
    """Kodak writes its model as every photo's copyright, Ricoh '(C) by <model> User', Samsung
    'COPYRIGHT, 2005': no one's rights, so no notice (and --stats counts no such holder), here or
    where software copied it into XMP; a person's notice stays, whatever words it shares with the
    camera's. Rows an older imagedb wrote are mended at the next --index, nothing decoded."""
    root = tmp_path / "cameras"
    cameras = {
        "kodak.jpg": ("EASTMAN KODAK COMPANY", "KODAK DC240 ZOOM DIGITAL CAMERA", "KODAK DC240 ZOOM DIGITAL CAMERA "),
        "ricoh.jpg": ("RICOH", "RDC-5300", "(C) by RDC-5300 User     "),
        "samsung.jpg": ("Samsung Techwin", "Digimax A503", "COPYRIGHT, 2005"),
        "owner.jpg": ("RICOH", "RDC-5300", "(C) by Jane Doe"),
        "studio.jpg": ("Canon", "Canon EOS 5D", "(c) 2008 Canon Camera Club"),
    }
    for seed, (name, (make, model, notice)) in enumerate(cameras.items()):
        paint_tagged_photo(root / name, seed, {MAKE: make, MODEL: model, COPYRIGHT: notice})
    synced = paint_tagged_photo(root / "synced.jpg", 9, {MAKE: "RICOH", MODEL: "RDC-5300",
                                                          COPYRIGHT: "(C) by RDC-5300 User"})  # fmt: skip
    write_sidecar(synced.with_suffix(".xmp"), rights("(C) by RDC-5300 User"))
    people = {"owner.jpg": "(C) by Jane Doe", "studio.jpg": "(c) 2008 Canon Camera Club"}
    cli.index(root)
    assert {name: r["copyright"] for name, r in by_name(cli).items()} == dict.fromkeys(
        ["kodak.jpg", "ricoh.jpg", "samsung.jpg", "synced.jpg"]
    ) | people
    assert cli("--stats", "--format", "json").json()["copyrights"]["counts"] == dict.fromkeys(people.values(), 1)
    assert names_listed(cli, "--text", "user") == [], "'User' was only in the cameras' notices"

    # As version 18 wrote them: the cameras' notices kept. Mended from the rows alone.
    written = {name: notice.strip() for name, (_, _, notice) in cameras.items()} | {
        "synced.jpg": "(C) by RDC-5300 User"
    }
    rows_rewritten(cli, lambda r: r | {"copyright": written[Path(r["path"]).name], "record_version": 18})
    assert names_listed(cli, "--text", "user") == ["ricoh.jpg", "synced.jpg"]
    decoded.clear()
    again = cli.index(root, extra=("--workers", "0"))
    assert again.summary()["updated"] == 6 and decoded == []
    assert {name: r["copyright"] for name, r in by_name(cli).items()} == dict.fromkeys(
        ["kodak.jpg", "ricoh.jpg", "samsung.jpg", "synced.jpg"]
    ) | people


@pytest.fixture
def notices(tmp_path: Path) -> Path:
    """A photo with a notice in each place photo software writes one, and one with none."""
    root = tmp_path / "notices"
    photo(root / "lightroom.jpg", 1, exif_notice="Camera Owner", xmp=rights("© 2024 Jane Doe"))
    photo(root / "wire.jpg", 2)
    with_iim(root / "wire.jpg", iim((2, 0, b"\x00\x04"), (2, 116, b"(c) Press Agency")))
    photo(root / "signed.jpg", 3, exif_notice="Photographer Name\x00Editor Name")
    photo(root / "raw_export.jpg", 4, exif_notice="Camera Owner")
    write_sidecar(root / "raw_export.xmp", rights("CC BY 4.0 Raw Shooter"))
    photo(root / "padded.jpg", 5, exif_notice="          ")
    return root


def test_indexing_records_whose_rights_each_photo_is(cli: Cli, notices: Path, decoded: list[str]) -> None:
    cli.index(notices)
    assert {name: r["copyright"] for name, r in by_name(cli).items()} == {
        "lightroom.jpg": "© 2024 Jane Doe",  # XMP wins over EXIF
        "wire.jpg": "(c) Press Agency",
        "signed.jpg": "Photographer Name; Editor Name",  # EXIF's two notices, NUL apart
        "raw_export.jpg": "CC BY 4.0 Raw Shooter",  # the sidecar's
        "padded.jpg": None,
    }
    assert names_listed(cli, "--where", "copyright IS NULL") == ["padded.jpg"]
    assert names_listed(cli, "--where", "copyright LIKE '%CC BY%'") == ["raw_export.jpg"]
    assert names_listed(cli, "--text", "press agency") == ["wire.jpg"]
    stats = cli("--stats", "--format", "json").json()["copyrights"]
    assert stats == {
        "counts": {"(c) Press Agency": 1, "CC BY 4.0 Raw Shooter": 1, "Photographer Name; Editor Name": 1,
                   "© 2024 Jane Doe": 1},
        "without": 1,
    }  # fmt: skip
    assert "copyrights\n" in cli("--stats").stdout and "  1  © 2024 Jane Doe" in cli("--stats").stdout
    page = notices.parent / "results.html"
    assert cli("--where", "copyright IS NOT NULL", "--html", page).code == 0
    cards = page.read_text(encoding="utf-8")
    assert "· © 2024 Jane Doe</div>" in cards and "(c) Press Agency" in cards, "a shared page says whose they are"
    rows = list(csv.DictReader(io.StringIO(cli("--where", "copyright IS NOT NULL", "--format", "csv").stdout)))
    assert {Path(row["path"]).name: row["copyright"] for row in rows}["signed.jpg"] == "Photographer Name; Editor Name"

    # The sidecar's notice is gone: EXIF's is the photo's.
    assert reindexed_after_emptying(cli, notices / "raw_export.xmp", decoded)["raw_export.jpg"]["copyright"] == (
        "Camera Owner"
    )


def test_an_index_from_version_6_reads_notices_from_headers_decoding_nothing(
    cli: Cli, notices: Path, decoded: list[str], model_loads: list[str]
) -> None:
    """Rows version 6 wrote have no copyright column: --repair, which reads no file, takes EXIF's
    notice from the tags the row keeps; the next --index reads headers and sidecars, no pixels."""
    repaired, after = brought_up_to_date(cli, notices, "copyright", 6, decoded, model_loads)
    assert (repaired["signed.jpg"]["copyright"], repaired["wire.jpg"]["copyright"]) == (
        "Photographer Name; Editor Name",
        None,
    )
    assert after["wire.jpg"]["copyright"] == "(c) Press Agency"
    assert cli("--text", "press", "--format", "paths").stdout.split() == [str(notices / "wire.jpg")]
