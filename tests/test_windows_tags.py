"""Windows' own EXIF tags: the title, comments, tags and authors Explorer's Details tab keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from common.windows_tags import windows_columns
from conftest import Cli, brought_up_to_date, names_listed, paint_tagged_photo, shared

XP_TITLE, XP_COMMENT, XP_AUTHOR, XP_KEYWORDS = 0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E
ARTIST, IMAGE_DESCRIPTION = 0x013B, 0x010E


def utf16(text: str) -> bytes:
    """Text as Windows writes it in its tags: UTF-16, little-endian, NUL-ended."""
    return text.encode("utf-16-le") + b"\x00\x00"


def keywords_packet(*keywords: str) -> str:
    items = "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords)
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"
    )


@pytest.fixture
def tagged_on_windows(tmp_path: Path) -> Path:
    root = tmp_path / "windows"
    paint_tagged_photo(
        root / "bondi.jpg",
        1,
        {
            XP_TITLE: utf16("Sunset at Bondi"),
            XP_COMMENT: utf16("Grandma's 90th — all of us"),
            XP_AUTHOR: utf16("Jane Doe; John Roe"),
            XP_KEYWORDS: utf16("beach;Sydney;family;beach"),
            ARTIST: "Camera Owner",
        },
    )
    # Lightroom's keywords in XMP come first; Windows' fill what XMP leaves empty.
    paint_tagged_photo(
        root / "both.jpg", 2, {XP_KEYWORDS: utf16("windows-tag"), XP_TITLE: utf16("Windows title")},
        xmp=keywords_packet("lightroom-tag"),
    )  # fmt: skip
    paint_tagged_photo(root / "odd.jpg", 3, {XP_KEYWORDS: b"\xff\x00\x41", XP_TITLE: utf16("")})  # not UTF-16
    paint_tagged_photo(root / "plain.jpg", 4, {ARTIST: "Camera Owner"})
    return root


def test_windows_tags_fill_what_xmp_and_iim_leave_empty(cli: Cli, tagged_on_windows: Path) -> None:
    cli.index(tagged_on_windows)
    records = {Path(p).name: r for p, r in cli.records().items()}
    bondi = records["bondi.jpg"]
    assert (bondi["title"], bondi["caption"], bondi["keywords"], bondi["creator"]) == (
        "Sunset at Bondi",
        "Grandma's 90th — all of us",
        "beach; Sydney; family",  # each once, joined as XMP's are
        "Jane Doe; John Roe",  # what Windows' Authors say, before the camera's Artist
    )
    assert (records["both.jpg"]["keywords"], records["both.jpg"]["title"]) == ("lightroom-tag", "Windows title")
    assert [records["odd.jpg"][c] for c in ("keywords", "title")] == [None, None], "bytes that are no text: none"
    assert records["plain.jpg"]["creator"] == "Camera Owner"
    assert json.loads(bondi["exif_json"])["Image XPKeywords"] == "beach;Sydney;family;beach", "text, not byte values"
    assert names_listed(cli, "--text", "sydney") == ["bondi.jpg"]
    assert names_listed(cli, "--where", "keywords LIKE '%family%'") == ["bondi.jpg"]
    assert names_listed(cli, "--text", '"all of us"') == ["bondi.jpg"]


def test_an_index_from_version_7_reads_windows_tags_from_headers_decoding_nothing(
    cli: Cli, tagged_on_windows: Path, decoded: list[str], model_loads: list[str]
) -> None:
    """Rows version 7 wrote never read Windows' tags: the next --index reads them from the files'
    headers, no pixels decoded and no model loaded."""
    _, after = brought_up_to_date(cli, tagged_on_windows, "keywords", 7, decoded, model_loads)
    assert after["bondi.jpg"]["keywords"] == "beach; Sydney; family"
    assert names_listed(cli, "--text", "sydney") == ["bondi.jpg"]


def test_windows_authors_of_a_real_photo_come_after_its_xmp_creator(cli: Cli, tmp_path: Path) -> None:
    """The shared Pentax photo names its author in Windows' tag (the web address) and in XMP (the
    name): the XMP's is the creator."""
    pentax = shared("camera", "jpg", "Pentax_K10D.jpg")
    with Image.open(pentax) as image:
        assert windows_columns(image.getexif()) == {"creator": "www.laitche.com"}
    folder = tmp_path / "pentax"
    folder.mkdir()
    (folder / pentax.name).symlink_to(pentax)
    cli.index(folder)
    (record,) = cli.records().values()
    assert record["creator"] == "Laitche"
