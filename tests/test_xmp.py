"""XMP: keywords, title, caption, people and rating from photo software, in the file or a sidecar."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, PngImagePlugin

from common.records import RECORD_VERSION
from common.xmp import XMP_COLUMNS, fields_of, sidecar_of
from conftest import Cli, made_by_an_older_imagedb, names_listed, paint_photo, rows_rewritten, shared

RDF_OPEN = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/" '
    'xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
    'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
    'xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/" {attributes}>'
)
RDF_CLOSE = "</rdf:Description></rdf:RDF></x:xmpmeta>"


def packet(*, rating: int | None = None, keywords: tuple[str, ...] = (), title: str | None = None,
           caption: str | None = None, hierarchy: tuple[str, ...] = (), faces: tuple[str, ...] = (),
           location: tuple[str, str] | None = None) -> str:  # fmt: skip
    """An XMP packet as Lightroom writes one: the rating as an attribute, the rest as elements
    (``location``: a city and a country)."""
    body = []
    if location:
        body.append("<photoshop:City>{}</photoshop:City><photoshop:Country>{}</photoshop:Country>".format(*location))
    if keywords:
        body.append(
            "<dc:subject><rdf:Bag>" + "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords) + "</rdf:Bag></dc:subject>"
        )
    if title:
        body.append(f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>')
    if caption:
        body.append(
            f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{caption}</rdf:li></rdf:Alt></dc:description>'
        )
    if hierarchy:
        body.append(
            "<lr:hierarchicalSubject><rdf:Bag>"
            + "".join(f"<rdf:li>{h}</rdf:li>" for h in hierarchy)
            + "</rdf:Bag></lr:hierarchicalSubject>"
        )
    if faces:  # one region as a nested description, the others as parseType="Resource" items
        first, *others = faces
        items = [f'<rdf:li><rdf:Description mwg-rs:Name="{first}" mwg-rs:Type="Face"/></rdf:li>']
        items += [f'<rdf:li rdf:parseType="Resource"><mwg-rs:Name>{n}</mwg-rs:Name></rdf:li>' for n in others]
        body.append(
            '<mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag>'
            + "".join(items)
            + "</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>"
        )
    attributes = f'xmp:Rating="{rating}"' if rating is not None else ""
    return RDF_OPEN.format(attributes=attributes) + "".join(body) + RDF_CLOSE  # fmt: skip


def photo_with_packet(path: Path, seed: int, xmp: str) -> Path:
    """A generated photo carrying ``xmp`` inside it, where its format keeps one."""
    paint_photo(path, seed)
    with Image.open(path) as image:
        image.load()
        if path.suffix == ".png":
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", xmp)
            image.save(path, pnginfo=info)
        else:
            image.save(path, xmp=xmp.encode())
    return path


def write_sidecar(path: Path, xmp: str, later_by: float = 0.0) -> Path:
    path.write_text(xmp, encoding="utf-8")
    if later_by:  # an edit in photo software, seconds later (mtimes are what tell it)
        stat = path.stat()
        os.utime(path, (stat.st_atime, stat.st_mtime + later_by))
    return path


def reindexed_after_emptying(cli: Cli, sidecar: Path, decoded: list[str]) -> dict[str, dict]:
    """The records, by file name, once ``sidecar`` says nothing but a rating and its folder is
    indexed again: one row updated, nothing decoded (the sidecar is part of the file's signature)."""
    decoded.clear()
    write_sidecar(sidecar, RDF_OPEN.format(attributes='xmp:Rating="2"') + RDF_CLOSE, later_by=5)
    assert cli.index(sidecar.parent, extra=("--workers", "0")).summary()["updated"] == 1
    assert decoded == []
    return by_name(cli)


# --- reading packets ---------------------------------------------------------------------
def test_a_lightroom_packet_gives_keywords_title_caption_people_and_rating() -> None:
    found = fields_of(
        packet(
            rating=4, keywords=("beach", "Sunset"), title="Evening", caption="The pier at dusk",
            hierarchy=("Places|Italy|Viareggio", "sunset"), faces=("Alice Smith", "Bob", "alice smith"),
        )
    )  # fmt: skip
    assert found == {
        "rating": 4, "title": "Evening", "caption": "The pier at dusk",
        "keywords": "beach; Sunset; Viareggio", "people": "Alice Smith; Bob",
    }  # fmt: skip


def test_windows_ratings_digikam_tags_and_languages_are_read() -> None:
    windows = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:MicrosoftPhoto="http://ns.microsoft.com/photo/1.0" '
        'xmlns:digiKam="http://www.digikam.org/ns/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<MicrosoftPhoto:Rating>75</MicrosoftPhoto:Rating>"
        "<digiKam:TagsList><rdf:Seq><rdf:li>People/Family/Carla</rdf:li><rdf:li>Dogs</rdf:li></rdf:Seq></digiKam:TagsList>"
        '<dc:title><rdf:Alt><rdf:li xml:lang="it">Cani</rdf:li><rdf:li xml:lang="x-default">Dogs</rdf:li></rdf:Alt></dc:title>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    assert fields_of(windows) == {"rating": 4, "keywords": "Carla; Dogs", "title": "Dogs"}
    assert fields_of(windows.replace(">75<", ">1<"))["rating"] == 1
    assert fields_of(packet(rating=-1)) == {"rating": -1}, "rejected"
    assert fields_of("<x:xmpmeta><rdf:RDF") == {}, "not well-formed: ignored"
    assert fields_of(b"\xef\xbb\xbf  " + packet(rating=2).encode()) == {"rating": 2}, "a byte-order mark first"


def test_the_location_as_written_joins_its_parts_from_the_most_precise() -> None:
    """Lightroom's location fields (IPTC Core's sub-location, Photoshop's city, state, country),
    as attributes or elements, into one text; a part repeated is written once."""
    written = RDF_OPEN.format(
        attributes='photoshop:City="Genova" photoshop:State="Liguria" Iptc4xmpCore:Location="Porto Antico"'
    ) + "<photoshop:Country>Italia</photoshop:Country>" + RDF_CLOSE  # fmt: skip
    assert fields_of(written) == {"location": "Porto Antico, Genova, Liguria, Italia"}
    assert fields_of(packet(location=("Monaco", "Monaco"))) == {"location": "Monaco"}


def test_the_iptc_extension_locations_are_read_where_the_legacy_fields_are_empty() -> None:
    """Photo Mechanic's and newer panels' structures: where it was taken (the first of the
    list), else where what it shows is; the legacy fields win when both are written."""

    def structure(name: str, *locations: str) -> str:
        return (f'<Iptc4xmpExt:{name} xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
                f"<rdf:Bag>{''.join(locations)}</rdf:Bag></Iptc4xmpExt:{name}>")  # fmt: skip

    genova = (
        '<rdf:li rdf:parseType="Resource"><Iptc4xmpExt:LocationName><rdf:Alt><rdf:li xml:lang="x-default">'
        "Acquario di Genova</rdf:li></rdf:Alt></Iptc4xmpExt:LocationName>"
        "<Iptc4xmpExt:City>Genova</Iptc4xmpExt:City><Iptc4xmpExt:ProvinceState>Liguria</Iptc4xmpExt:ProvinceState>"
        "<Iptc4xmpExt:CountryName>Italia</Iptc4xmpExt:CountryName><Iptc4xmpExt:CountryCode>IT</Iptc4xmpExt:CountryCode>"
        "</rdf:li>"
    )
    rome = '<rdf:li><rdf:Description Iptc4xmpExt:City="Roma" Iptc4xmpExt:CountryName="Italia"/></rdf:li>'
    wrapped = RDF_OPEN.format(attributes="") + "{}" + RDF_CLOSE
    created = structure("LocationCreated", genova, rome)
    shown = structure("LocationShown", rome)
    assert fields_of(wrapped.format(created + shown)) == {"location": "Acquario di Genova, Genova, Liguria, Italia"}
    assert fields_of(wrapped.format(shown)) == {"location": "Roma, Italia"}
    legacy = "<photoshop:City>Genoa</photoshop:City>"
    assert fields_of(wrapped.format(legacy + created)) == {"location": "Genoa"}


def test_xmp_of_the_shared_camera_photos() -> None:
    """Real photos: Photoshop's keywords, title and caption; Windows' rating in a namespace
    written without its closing slash (Nikon photos of the shared set); a US Army photo's
    city, state and country."""
    with Image.open(shared("camera", "jpg", "xmp", "BlueSquare.jpg")) as image:
        blue = fields_of(image.info["xmp"])
    assert blue["keywords"] == "XMP; Blue Square; test file; Photoshop; .jpg"
    assert blue["title"] == "Blue Square Test File - .jpg" and blue["caption"].startswith("XMPFiles BlueSquare")
    with Image.open(shared("camera", "jpg", "gps", "DSCN0010.jpg")) as image:
        assert fields_of(image.info["xmp"]) == {"rating": 0}
    with Image.open(shared("camera", "jpg", "long_description.jpg")) as image:
        assert fields_of(image.info["xmp"])["location"] == "KANDAHAR ARMY AIRFIELD, DAYCHOPAN, Afghanistan"


def test_a_sidecar_is_found_by_either_name(tmp_path: Path) -> None:
    photo = paint_photo(tmp_path / "IMG_1.JPG", 1)
    assert sidecar_of(str(photo)) is None
    adobe = write_sidecar(tmp_path / "IMG_1.xmp", packet(rating=1))
    assert sidecar_of(str(photo)) == str(adobe)
    darktable = write_sidecar(tmp_path / "IMG_1.JPG.xmp", packet(rating=2))
    assert sidecar_of(str(photo)) == str(darktable), "<name>.xmp names this photo alone: it wins"
    assert sidecar_of(str(photo), {"IMG_1.JPG", "IMG_1.xmp"}) == str(adobe), "from a folder's listing"


# --- indexing and searching ---------------------------------------------------------------
@pytest.fixture
def album(tmp_path: Path) -> Path:
    """Photos as a photo library holds them: XMP inside (JPEG, PNG, WebP), in a sidecar, both, none."""
    root = tmp_path / "album"
    photo_with_packet(root / "pier.jpg", 1, packet(rating=5, keywords=("beach",), title="Evening at the pier"))
    photo_with_packet(root / "kids.png", 2, packet(faces=("Alice Smith", "Bob"), caption="Birthday cake"))
    photo_with_packet(root / "dog.webp", 3, packet(rating=2, keywords=("dog",)))
    write_sidecar(root / "dog.webp.xmp", packet(rating=4, hierarchy=("Animals|Pets|Rex",)))
    paint_photo(root / "raw_export.jpg", 4)
    write_sidecar(root / "raw_export.xmp", packet(rating=3, keywords=("mountain",), faces=("Carla",)))
    paint_photo(root / "plain.jpg", 5)
    return root


def by_name(cli: Cli) -> dict[str, dict]:
    return {Path(path).name: record for path, record in cli.records().items()}


def test_indexing_records_the_xmp_of_the_file_and_its_sidecar(cli: Cli, album: Path) -> None:
    cli.index(album)
    records = by_name(cli)
    assert {name: records[name]["rating"] for name in records} == {
        "pier.jpg": 5, "kids.png": None, "dog.webp": 4, "raw_export.jpg": 3, "plain.jpg": None,
    }, "the sidecar's rating wins over the file's"  # fmt: skip
    assert records["dog.webp"]["keywords"] == "Rex", "the sidecar holds keywords: the file's do not mix in"
    assert records["kids.png"]["people"] == "Alice Smith; Bob" and records["kids.png"]["caption"] == "Birthday cake"
    assert records["raw_export.jpg"]["sidecar_mtime"] == (album / "raw_export.xmp").stat().st_mtime
    assert records["pier.jpg"]["sidecar_mtime"] is None
    assert all(records["plain.jpg"][column] is None for column in XMP_COLUMNS)
    assert "xmpmeta" not in (records["kids.png"]["png_text"] or ""), "the PNG's packet is read, not kept as text"

    def names(*args: str) -> list[str]:
        return names_listed(cli, *args)

    assert names("--where", "rating >= 4") == ["dog.webp", "pier.jpg"]
    assert names("--text", "alice") == ["kids.png"]
    assert names("--text", "rex") == ["dog.webp"]
    assert names("--text", "carla mountain") == ["raw_export.jpg"]
    assert names("--text", "evening pier") == ["pier.jpg"]
    assert names("--where", "keywords LIKE '%beach%'") == ["pier.jpg"]
    assert cli.index(album).summary()["unchanged"] == 5


def test_a_sidecar_labelled_with_an_encoding_python_does_not_know_is_read_as_utf8(cli: Cli, tmp_path: Path) -> None:
    """A sidecar whose declaration names an encoding Python does not know made its photo fail to
    index ("LookupError: unknown encoding"), its pixels fine; XMP is UTF-8 whatever the label: the
    photo is indexed with the sidecar's stars and keywords. One that is no XML is left out, the
    photo indexed all the same."""
    album = tmp_path / "album"
    labelled, broken = paint_photo(album / "labelled.jpg", 1), paint_photo(album / "broken.jpg", 2)
    declaration = '<?xml version="1.0" encoding="x-mac-roman"?>\n'
    write_sidecar(album / "labelled.xmp", declaration + packet(rating=5, keywords=("Zürich",)))
    write_sidecar(album / "broken.xmp", declaration + packet(rating=4)[:-30])
    assert cli.index(album).summary()["failed"] == 0
    records = cli.records()
    assert (records[str(labelled)]["rating"], records[str(labelled)]["keywords"]) == (5, "Zürich")
    assert records[str(broken)]["rating"] is None


def with_description(path: Path, make: str, description: str) -> Path:
    """Give a generated JPEG the ImageDescription its camera writes."""
    with Image.open(path) as image:
        image.load()
        exif = image.getexif()
    exif[ExifTags.Base.Make] = make
    exif[ExifTags.Base.ImageDescription] = description
    image.save(path, exif=exif, quality=92)
    return path


def test_what_a_camera_writes_as_every_photos_description_is_no_description(
    cli: Cli, tmp_path: Path, decoded: list[str]
) -> None:
    """Compacts write 'OLYMPUS DIGITAL CAMERA', 'SONY DSC' or their model in angle brackets as
    every photo's ImageDescription, and software keeping EXIF and XMP in step copies it into the
    caption: it is no description, and `--text digital` does not list every such photo. Words a
    person wrote stay, the maker's name among them or not; rows an older imagedb wrote are mended
    at the next --index from what they hold, nothing decoded; the EXIF tag itself is kept."""
    folder = tmp_path / "compacts"
    with_description(paint_photo(folder / "olympus.jpg", 1), "OLYMPUS IMAGING CORP.", "OLYMPUS DIGITAL CAMERA")
    with_description(paint_photo(folder / "sony.jpg", 2), "SONY", "  SONY DSC  ")
    with_description(paint_photo(folder / "samsung.jpg", 3), "Samsung Techwin", "<Digimax i50 MP3, Samsung #1 MP3>")
    synced = with_description(paint_photo(folder / "synced.jpg", 4), "OLYMPUS IMAGING CORP.", "OLYMPUS DIGITAL CAMERA")
    write_sidecar(
        synced.with_suffix(".xmp"),
        packet(title="OLYMPUS DIGITAL CAMERA", caption="OLYMPUS DIGITAL CAMERA", keywords=("lake",)),
    )
    with_description(paint_photo(folder / "written.jpg", 5), "OLYMPUS IMAGING CORP.", "My new OLYMPUS DIGITAL CAMERA")
    captioned = paint_photo(folder / "captioned.jpg", 6)
    write_sidecar(captioned.with_suffix(".xmp"), packet(caption="Digital camera museum, Tokyo"))
    said = {
        "written.jpg": ("My new OLYMPUS DIGITAL CAMERA", None),
        "captioned.jpg": (None, "Digital camera museum, Tokyo"),
    }

    def words() -> dict[str, tuple[str | None, str | None]]:
        return {name: (r["description"], r["caption"]) for name, r in by_name(cli).items()}

    cli.index(folder)
    assert words() == dict.fromkeys(["olympus.jpg", "sony.jpg", "samsung.jpg", "synced.jpg"], (None, None)) | said
    assert names_listed(cli, "--text", "digital") == ["captioned.jpg", "written.jpg"]
    assert names_listed(cli, "--text", "lake") == ["synced.jpg"]
    assert "OLYMPUS DIGITAL CAMERA" in by_name(cli)["olympus.jpg"]["exif_json"]
    assert by_name(cli)["synced.jpg"]["title"] is None

    written = {"olympus.jpg": ("OLYMPUS DIGITAL CAMERA", None), "synced.jpg": ("OLYMPUS DIGITAL CAMERA",) * 2}
    rows_rewritten(
        cli,
        lambda r: (
            r
            | dict(
                zip(
                    ("description", "caption"),
                    written.get(Path(r["path"]).name, (r["description"], r["caption"])),
                    strict=True,
                )
            )
            | {"record_version": 17}
        ),
    )
    assert names_listed(cli, "--text", "digital") == ["captioned.jpg", "olympus.jpg", "synced.jpg", "written.jpg"]
    decoded.clear()
    again = cli.index(folder, extra=("--workers", "0"))
    assert again.summary()["updated"] == 6 and decoded == []
    assert words()["olympus.jpg"] == words()["synced.jpg"] == (None, None)
    assert names_listed(cli, "--text", "digital") == ["captioned.jpg", "written.jpg"]


def test_an_edited_sidecar_is_indexed_again_without_decoding_or_embedding(
    cli: Cli, album: Path, decoded: list[str], model_loads: list[str]
) -> None:
    cli.index(album)
    vectors = cli.vectors([str(album / "raw_export.jpg")])
    thumbnails = sorted(p.name for p in (cli.db / "thumbnails").rglob("*.*"))
    decoded.clear()
    model_loads.clear()

    write_sidecar(album / "raw_export.xmp", packet(rating=1, keywords=("glacier",)), later_by=5)
    result = cli.index(album, extra=("--workers", "0"))
    assert result.summary() == {"new": 0, "updated": 1, "removed": 0, "unchanged": 4, "failed": 0}
    assert decoded == [] and model_loads == [], "its bytes are those of its row: nothing decoded, no model"
    record = by_name(cli)["raw_export.jpg"]
    assert (record["rating"], record["keywords"], record["people"]) == (1, "glacier", None)
    np.testing.assert_array_equal(cli.vectors([str(album / "raw_export.jpg")]), vectors)
    assert sorted(p.name for p in (cli.db / "thumbnails").rglob("*.*")) == thumbnails, "its thumbnail stays"
    assert cli("--text", "glacier", "--format", "paths").stdout.split() == [str(album / "raw_export.jpg")]
    assert cli("--text", "mountain", "--format", "paths").stdout == ""

    (album / "dog.webp.xmp").unlink()  # the sidecar gone: what the file itself holds
    assert cli.index(album, extra=("--workers", "0")).summary()["updated"] == 1
    dog = by_name(cli)["dog.webp"]
    assert (dog["rating"], dog["keywords"], dog["sidecar_mtime"]) == (2, "dog", None)
    assert decoded == []


def test_a_copy_with_a_sidecar_of_its_own_takes_the_stored_vector_and_its_own_xmp(
    cli: Cli, album: Path, decoded: list[str]
) -> None:
    cli.index(album)
    copy = album / "copies" / "pier copy.jpg"
    copy.parent.mkdir()
    copy.write_bytes((album / "pier.jpg").read_bytes())
    write_sidecar(album / "copies" / "pier copy.jpg.xmp", packet(rating=1, title="The copy"))
    decoded.clear()
    result = cli.index(album, extra=("--workers", "0"))
    assert result.summary()["new"] == 1 and decoded == []
    records = by_name(cli)
    assert (records["pier copy.jpg"]["rating"], records["pier copy.jpg"]["title"]) == (1, "The copy")
    assert records["pier copy.jpg"]["keywords"] == "beach", "what its bytes hold, the sidecar lacking it"
    assert (records["pier.jpg"]["rating"], records["pier.jpg"]["title"]) == (5, "Evening at the pier")


def test_an_index_from_before_xmp_reads_it_from_headers_and_sidecars_decoding_nothing(
    cli: Cli, album: Path, decoded: list[str]
) -> None:
    """Rows version 3 wrote lack the XMP columns: the next --index reads the packets in the
    files' headers and their sidecars, no pixels, and keeps every vector."""
    cli.index(album)
    paths = sorted(cli.records())
    vectors = cli.vectors(paths)
    rows_rewritten(cli, lambda r: r | dict.fromkeys([*XMP_COLUMNS, "sidecar_mtime"]) | {"record_version": 3})
    made_by_an_older_imagedb(cli, [*XMP_COLUMNS, "sidecar_mtime"])
    assert cli("--text", "alice", "--format", "paths").stdout == ""

    decoded.clear()
    result = cli.index(album, extra=("--workers", "0"))
    assert result.summary() == {"new": 0, "updated": 5, "removed": 0, "unchanged": 0, "failed": 0}
    # The three without a sidecar are brought up to date; the two with one, unknown to the old
    # index, count as changed and take their stored vectors, their bytes being those of their rows.
    assert "3 brought up to date from their rows: nothing decoded or embedded" in result.stderr
    assert "2 had the bytes of indexed files: vectors reused" in result.stderr
    assert decoded == []
    np.testing.assert_array_equal(cli.vectors(list(paths)), vectors)
    records = by_name(cli)
    assert (records["dog.webp"]["rating"], records["kids.png"]["people"]) == (4, "Alice Smith; Bob")
    assert {r["record_version"] for r in records.values()} == {RECORD_VERSION}
    assert cli("--text", "alice", "--format", "paths").stdout.split() == [str(album / "kids.png")]
    assert cli.index(album).summary()["unchanged"] == 5


def test_stats_count_ratings_keywords_and_people(cli: Cli, album: Path) -> None:
    cli.index(album)
    (album / "more").mkdir()
    photo_with_packet(album / "more" / "pier2.jpg", 6, packet(rating=5, keywords=("beach", "Harbour")))
    cli.index(album)
    stats = cli("--stats", "--format", "json")
    assert stats.code == 0, stats.stderr
    counted = stats.json()
    assert counted["ratings"] == {"counts": {"★★★": 1, "★★★★": 1, "★★★★★": 2}, "without": 2}
    assert counted["keywords"] == {"counts": {"beach": 2, "Harbour": 1, "mountain": 1, "Rex": 1}, "without": 2}
    assert counted["people"] == {"counts": {"Alice Smith": 1, "Bob": 1, "Carla": 1}, "without": 4}
    table = cli("--stats", "--where", "rating >= 4").stdout
    assert "ratings\n  1  ★★★★\n  2  ★★★★★\n" in table and "people: none" in table
