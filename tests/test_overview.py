"""--stats: what an index holds (files, years, cameras, lenses, places, formats, folders, failures), and
with --where what the matching rows hold, counted from the stored records on both backends."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational
from test_places import AREZZO, EIFFEL_TOWER, photo_taken_at

from common.overview import TABLE_TOP, Tally, tally_lines
from conftest import Cli, made_by_an_older_imagedb, names_listed, paint_photo, rows_rewritten


def with_camera(path: Path, make: str, model: str, taken: str, lens: str | None = None) -> Path:
    """Give a generated JPEG the camera, the time taken and the lens a camera writes into its EXIF (kept: a GPS block)."""
    with Image.open(path) as image:
        image.load()
        exif = image.getexif()
    exif[ExifTags.Base.Make] = make
    exif[ExifTags.Base.Model] = model
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    if lens:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.LensModel] = lens
    image.save(path, exif=exif, quality=92)
    return path


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """Two albums and a scans folder: three Canon photos (two with positions; two by one lens,
    one by another), an iPhone photo, two PNG scans without EXIF, and one truncated JPEG."""
    root = tmp_path / "library"
    zoom, prime = "RF24-105mm F4 L IS USM", "RF50mm F1.8 STM"
    tower = photo_taken_at(root / "paris" / "tower.jpg", 1, *EIFFEL_TOWER)
    with_camera(tower, "Canon", "Canon EOS R6", "2019:07:14 10:00:00", zoom)
    arezzo = photo_taken_at(root / "tuscany" / "arezzo.jpg", 2, *AREZZO)
    with_camera(arezzo, "Canon", "Canon EOS R6", "2021:05:02 17:30:00", zoom)
    with_camera(paint_photo(root / "tuscany" / "dinner.jpg", 3), "Canon", "Canon EOS R6", "2021:05:02 21:10:00", prime)
    with_camera(paint_photo(root / "tuscany" / "phone.jpg", 4), "Apple", "iPhone 13", "2021:05:03 09:00:00")
    paint_photo(root / "scans" / "grandma.png", 5)
    paint_photo(root / "scans" / "grandpa.png", 6)
    (root / "scans" / "broken.jpg").write_bytes((root / "tuscany" / "dinner.jpg").read_bytes()[:600])
    return root


def test_a_camera_is_named_by_its_brand_and_model_once(cli: Cli, tmp_path: Path) -> None:
    """EXIF's make is the company as registered and the model often repeats the brand: make and
    model side by side named cameras 'CASIO COMPUTER CO.,LTD EX-Z750' and 'Hewlett-Packard HP
    PhotoSmart C945', and --stats counted one camera twice where two firmwares spelt the make
    apart. The listing and --stats name each by brand and model; the columns keep what the camera
    wrote, so a --where or metadata search on the make is unchanged."""
    cameras = {
        "casio-1.jpg": ("CASIO COMPUTER CO.,LTD", "EX-Z750", "CASIO EX-Z750"),
        "casio-2.jpg": ("CASIO COMPUTER CO.,LTD.", "EX-Z750", "CASIO EX-Z750"),
        "olympus.jpg": ("OLYMPUS IMAGING CORP.", "E-P3", "OLYMPUS E-P3"),
        "sanyo.jpg": ("SANYO Electric Co.,Ltd.", "SX113", "SANYO SX113"),
        "leica.jpg": ("Leica Camera AG", "M8 Digital Camera", "Leica M8 Digital Camera"),
        "hp.jpg": ("Hewlett-Packard", "HP PhotoSmart C945", "HP PhotoSmart C945"),
        "kodak-1.jpg": ("EASTMAN KODAK COMPANY", "KODAK DC240 ZOOM DIGITAL CAMERA", "KODAK DC240 ZOOM DIGITAL CAMERA"),
        "kodak-2.jpg": ("Eastman Kodak Company", "DC210 Zoom (V05.00)", "Eastman Kodak DC210 Zoom (V05.00)"),
        "minolta.jpg": ("KONICA MINOLTA", "DiMAGE Z3", "KONICA MINOLTA DiMAGE Z3"),
        "nikon.jpg": ("NIKON CORPORATION", "NIKON D70", "NIKON D70"),
    }
    root = tmp_path / "cameras"
    for seed, (name, (make, model, _)) in enumerate(cameras.items()):
        with_camera(paint_photo(root / name, seed), make, model, "2010:01:01 12:00:00")
    cli.index(root)
    named = Counter(shown for _, _, shown in cameras.values())
    assert cli("--stats", "--format", "json").json()["cameras"] == {"counts": dict(named), "without": 0}
    for name, (make, _, shown) in cameras.items():
        listed = cli("--where", f"filename = '{name}'").stdout
        assert f"  {shown}\n" in listed and (shown.startswith(make) or make not in listed), (name, listed)
    assert names_listed(cli, "--where", "make = 'CASIO COMPUTER CO.,LTD.'") == ["casio-2.jpg"]
    assert names_listed(cli, "--text", "electric") == ["sanyo.jpg"]


def test_stats_count_what_the_index_holds(cli: Cli, library: Path) -> None:
    cli.index(library)

    result = cli("--stats", "--format", "json")
    assert result.code == 0, result.stderr
    stats = result.json()
    assert (stats["files"], stats["total"], stats["images"], stats["videos"]) == (6, 6, 6, 0)
    assert stats["backend"] == cli.backend
    assert stats["size_bytes"] == sum(
        p.stat().st_size for p in library.rglob("*") if p.name != "broken.jpg" and p.is_file()
    )
    assert stats["years"] == {"counts": {"2019": 1, "2021": 3}, "without": 2}
    assert stats["cameras"] == {"counts": {"Canon EOS R6": 3, "Apple iPhone 13": 1}, "without": 2}
    assert stats["lenses"] == {"counts": {"RF24-105mm F4 L IS USM": 2, "RF50mm F1.8 STM": 1}, "without": 3}
    assert stats["countries"] == {"counts": {"France": 1, "Italy": 1}, "without": 4}
    assert stats["cities"]["counts"] == {"Arezzo, Italy": 1, "Paris, France": 1}
    assert stats["regions"] == {"counts": {"Tuscany, Italy": 1, "Île-de-France, France": 1}, "without": 4}
    assert stats["formats"] == {"counts": {"JPEG": 4, "PNG": 2}, "without": 0}
    assert stats["folders"]["counts"] == {
        str(library / "tuscany"): 3,
        str(library / "scans"): 2,
        str(library / "paris"): 1,
    }
    assert (stats["first_taken"][:10], stats["last_taken"][:10]) == ("2019-07-14", "2021-05-03")
    assert stats["with_position"] == 2
    assert stats["failed"] == 1  # the truncated JPEG, from the failures report
    assert stats["older_rows"] == 0
    assert stats["dated_in_future"] == 0
    assert stats["index_bytes"] > 0 and stats["thumbnail_bytes"] > 0

    table = cli("--stats")
    assert table.code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith(f"{cli.db} ({cli.backend}): 6 files, ")
    assert "  taken         2019-07-14 to 2021-05-03" in lines
    assert any(line.startswith("  failed        1 file(s) could not be read") for line in lines)
    cameras = lines.index("cameras")
    assert lines[cameras + 1 : cameras + 4] == [
        "  3  Canon EOS R6",
        "  1  Apple iPhone 13",
        "  2  (no camera recorded)",
    ]


def with_lens_specification(path: Path, specification: tuple[tuple[int, int], ...]) -> Path:
    """Give a generated JPEG a lens as a camera that writes no LensModel describes it: its
    LensSpecification alone (the shortest and longest focal length, the widest aperture at each)."""
    with Image.open(path) as image:
        image.load()
        exif = image.getexif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.LensSpecification] = tuple(IFDRational(*r) for r in specification)
    image.save(path, exif=exif, quality=92)
    return path


def test_a_lens_named_by_its_specification_alone_reads_as_a_photographer_writes_it(
    cli: Cli, tmp_path: Path, decoded: list[str]
) -> None:
    """Older DSLRs and some phones write no LensModel, only the LensSpecification: such a lens
    was '[18, 70, 7/2, 9/2]' in --stats, the table and the search text. It reads as ExifTool
    writes it, a part the camera does not know (0/0) left out; rows an older imagedb wrote are
    mended at the next --index from what they hold, no file decoded; whichever EXIF reader read
    the photo, the name is the same."""
    from common.decoding import ExifIfds
    from common.metadata import read_exif

    folder = tmp_path / "photos"
    with_lens_specification(paint_photo(folder / "zoom.jpg", 1), ((18, 1), (70, 1), (7, 2), (9, 2)))
    with_lens_specification(paint_photo(folder / "phone.jpg", 2), ((83, 20), (83, 20), (11, 5), (11, 5)))
    with_lens_specification(paint_photo(folder / "unknown-aperture.jpg", 3), ((24, 1), (70, 1), (0, 0), (0, 0)))
    with_lens_specification(paint_photo(folder / "unknown.jpg", 4), ((0, 0), (0, 0), (0, 0), (0, 0)))
    named = with_camera(paint_photo(folder / "named.jpg", 5), "Canon", "Canon EOS R6", "2021:05:02 17:30:00", "RF50mm")
    with_lens_specification(named, ((50, 1), (50, 1), (9, 5), (9, 5)))  # its LensModel comes first
    lenses = {
        "zoom.jpg": "18-70mm f/3.5-4.5", "phone.jpg": "4.15mm f/2.2", "unknown-aperture.jpg": "24-70mm",
        "unknown.jpg": None, "named.jpg": "RF50mm",
    }  # fmt: skip

    def lens_by_name() -> dict[str, str | None]:
        return {Path(path).name: record["lens"] for path, record in cli.records().items()}

    cli.index(folder)
    assert lens_by_name() == lenses
    stats = cli("--stats", "--format", "json").json()
    assert stats["lenses"]["counts"] == dict.fromkeys(["18-70mm f/3.5-4.5", "24-70mm", "4.15mm f/2.2", "RF50mm"], 1)
    assert names_listed(cli, "--text", '"18-70mm f/3.5-4.5"') == ["zoom.jpg"]

    printed = {"zoom.jpg": "[18, 70, 7/2, 9/2]", "phone.jpg": "[83/20, 83/20, 11/5, 11/5]",
               "unknown-aperture.jpg": "[24, 70, 0/0, 0/0]", "unknown.jpg": "[0/0, 0/0, 0/0, 0/0]"}  # fmt: skip
    rows_rewritten(cli, lambda r: r | {"lens": printed.get(Path(r["path"]).name, r["lens"]), "record_version": 17})
    assert lens_by_name() == lenses | printed
    decoded.clear()
    again = cli.index(folder, extra=("--workers", "0"))
    assert again.summary()["updated"] == 5 and decoded == []
    assert lens_by_name() == lenses
    assert names_listed(cli, "--text", '"18-70mm f/3.5-4.5"') == ["zoom.jpg"]

    specification = {
        ExifTags.Base.LensSpecification: tuple(IFDRational(*r) for r in ((18, 1), (70, 1), (7, 2), (9, 2)))
    }
    exifread_cannot = paint_photo(tmp_path / "no-exif.png", 6)  # Pillow's EXIF is read where exifread finds none
    columns, _ = read_exif(str(exifread_cannot), ExifIfds(image={}, exif=specification, gps={}))
    assert columns["lens"] == "18-70mm f/3.5-4.5"


def test_stats_point_at_photos_dated_in_the_future(cli: Cli, library: Path) -> None:
    """A camera whose clock was set wrong dates its photos decades ahead: they head every newest-
    first listing, and --stats says how many there are and how to list them."""
    with_camera(paint_photo(library / "old-camera" / "DSC_0001.jpg", 7), "Kodak", "DC240", "2099:09:29 10:10:10")
    tomorrow = (date.today() + timedelta(days=1)).strftime("%Y:%m:%d 08:00:00")  # a time zone ahead: not counted
    with_camera(paint_photo(library / "old-camera" / "DSC_0002.jpg", 8), "Kodak", "DC240", tomorrow)
    cli.index(library)
    assert cli("--stats", "--format", "json").json()["dated_in_future"] == 1
    (line,) = [line for line in cli("--stats").stdout.splitlines() if line.startswith("  future dates")]
    listing = line.split("--where ")[1].removesuffix(" lists them").strip('"')
    assert names_listed(cli, "--where", listing) == ["DSC_0001.jpg"]
    assert line.startswith("  future dates  1 (a camera clock set wrong?)")


def test_stats_with_where_count_only_the_matching_rows_and_list_none(cli: Cli, library: Path) -> None:
    cli.index(library)

    result = cli("--stats", "--where", "make = 'Canon'", "--format", "json")
    assert result.code == 0, result.stderr
    stats = result.json()  # one object: --where narrows the counts, it lists no rows beside them
    assert (stats["files"], stats["total"], stats["where"]) == (3, 6, "make = 'Canon'")
    assert stats["years"]["counts"] == {"2019": 1, "2021": 2}
    assert stats["countries"] == {"counts": {"France": 1, "Italy": 1}, "without": 1}
    assert stats["failed"] is None  # a file that could not be read has no make to match

    table = cli("--stats", "--where", "country = 'Italy'").stdout.splitlines()
    assert table[0].startswith(f"{cli.db} ({cli.backend}): 1 of 6 files match country = 'Italy', ")
    assert not any(line.startswith("  failed") for line in table)


def test_stats_csv_and_jsonl_give_one_count_a_line(cli: Cli, library: Path) -> None:
    cli.index(library)

    rows = list(csv.DictReader(io.StringIO(cli("--stats", "--format", "csv").stdout)))
    files_by_kind = Counter()
    for row in rows:
        files_by_kind[row["kind"]] += int(row["files"])
    assert files_by_kind["files"] == 6
    for kind in ("years", "cameras", "lenses", "countries", "regions", "cities", "formats", "folders", "ratings"):
        assert files_by_kind[kind] == 6, f"{kind}: every file counts once, those without a value under ''"
    assert {"kind": "cameras", "value": "Canon EOS R6", "files": "3"} in rows

    lines = [line for line in cli("--stats", "--format", "jsonl").stdout.splitlines() if line]
    assert len(lines) == len(rows)


def test_stats_of_an_index_an_older_imagedb_made(cli: Cli, library: Path) -> None:
    """An index from before places: no place columns yet. Its rows count as they are (no place),
    and the overview says the next --index brings them up to date."""
    cli.index(library)
    made_by_an_older_imagedb(cli, ["city", "county", "state", "country", "country_code", "record_version"])

    result = cli("--stats", "--format", "json")
    assert result.code == 0, result.stderr
    stats = result.json()
    assert stats["files"] == 6
    assert stats["countries"] == {"counts": {}, "without": 6}
    assert stats["older_rows"] == 6
    assert stats["cameras"]["counts"] == {"Canon EOS R6": 3, "Apple iPhone 13": 1}


def test_stats_refuse_paths_and_need_an_index(cli: Cli, tmp_path: Path) -> None:
    refused = cli("--stats", "--format", "paths")
    assert refused.code == 2
    assert "--stats counts files rather than listing them" in refused.stderr

    missing = cli("--stats")
    assert missing.code == 2
    assert f"no index at {cli.db}" in missing.stderr
    assert not cli.db.exists()

    nothing = cli()
    assert "--stats" in nothing.stderr


def test_a_long_tally_lists_the_commonest_and_sums_the_rest() -> None:
    cameras = [(f"camera {n:02d}", 100 - n) for n in range(TABLE_TOP + 5)]
    lines = tally_lines(Tally("cameras", cameras, 7, "no camera recorded"))
    assert lines[0] == "cameras"
    assert lines[1] == "  100  camera 00"
    assert len(lines) == 1 + TABLE_TOP + 2
    rest = sum(files for _, files in cameras[TABLE_TOP:])
    assert lines[-2] == f"  {rest:>3}  … 5 more cameras"
    assert lines[-1] == "    7  (no camera recorded)"

    assert tally_lines(Tally("cameras", [], 7, "no camera recorded")) == ["cameras: none"]
    years = [(str(year), 1) for year in range(2000, 2000 + TABLE_TOP + 5)]
    assert len(tally_lines(Tally("years", years, 0, "undated", chronological=True))) == 1 + len(years)


def test_stats_of_an_empty_index(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "nothing-yet").mkdir()
    cli.index(tmp_path / "nothing-yet")

    stats = cli("--stats", "--format", "json").json()
    assert (stats["files"], stats["size_bytes"], stats["first_taken"], stats["last_indexed"]) == (0, 0, None, None)
    table = cli("--stats").stdout.splitlines()
    assert table[0] == f"{cli.db} ({cli.backend}): 0 files, 0 B"
    kinds = ("years", "cameras", "lenses", "countries", "regions", "cities", "formats", "folders", "ratings",
             "keywords", "people", "locations", "creators", "copyrights")  # fmt: skip
    assert table[-len(kinds) :] == [f"{kind}: none" for kind in kinds]
