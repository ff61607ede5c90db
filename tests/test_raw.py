"""Camera raw files: indexed by the preview the camera embedded, turned upright; developed when
the preview is too small; a raw LibRaw cannot read is reported and never stops the run."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image
from test_xmp import packet, write_sidecar

from common.decoding import DecodeError, decode_image
from conftest import Cli, paint_photo

# EXIF orientation → how the camera stored the picture: turned the other way from upright.
STORED_FOR = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def raw_photo(
    path: Path, upright: Image.Image, *, orientation: int = 1, preview: str = "jpeg", tags: tuple = ()
) -> Path:
    """A DNG as a camera or Adobe's converter writes one: the sensor's data, a Bayer mosaic
    (RGGB, 16 bits a site) of ``upright`` at twice its size, in a sub-IFD; in IFD0 a preview of
    it, a JPEG ("jpeg"), uncompressed RGB ("bitmap") or a 64-pixel JPEG ("small"); both stored
    as the sensor lay, turned from upright by ``orientation``. ``tags``: more of IFD0's, as
    tifffile's ``extratags`` (a camera's DateTime)."""
    stored = upright.transpose(STORED_FOR[orientation]) if STORED_FOR[orientation] is not None else upright
    sensor = np.asarray(stored.resize((stored.width * 2, stored.height * 2)), dtype=np.uint16) * 256
    mosaic = np.empty(sensor.shape[:2], dtype=np.uint16)
    mosaic[0::2, 0::2], mosaic[1::2, 1::2] = sensor[0::2, 0::2, 0], sensor[1::2, 1::2, 2]
    mosaic[0::2, 1::2], mosaic[1::2, 0::2] = sensor[0::2, 1::2, 1], sensor[1::2, 0::2, 1]
    shown = stored.copy()
    if preview == "small":
        shown.thumbnail((64, 64))
    camera = [(50706, "B", 4, (1, 4, 0, 0), True), (50708, "s", 0, "Testmaker RAW-1", True),
              (271, "s", 0, "Testmaker", True), (272, "s", 0, "RAW-1", True), (274, "H", 1, orientation, True),
              *tags]  # fmt: skip
    if preview == "bitmap":
        first = np.asarray(shown)
    else:  # written as bytes, then described as the JPEG they are (tifffile encodes no JPEG itself)
        encoded = io.BytesIO()
        shown.save(encoded, "JPEG", quality=95)
        first = np.frombuffer(encoded.getvalue(), dtype=np.uint8).reshape(1, -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(path) as tiff:
        tiff.write(first, subfiletype=1, extratags=camera, subifds=1, metadata=None,
                   photometric="rgb" if preview == "bitmap" else "minisblack")  # fmt: skip
        cfa = [(33421, "H", 2, (2, 2), True), (33422, "B", 4, (0, 1, 1, 2), True)]
        tiff.write(mosaic, photometric=32803, subfiletype=0, extratags=cfa, metadata=None)
    if preview != "bitmap":
        with tifffile.TiffFile(path, mode="r+b") as tiff:
            tags = tiff.pages[0].tags
            for name, value in (("ImageWidth", shown.width), ("ImageLength", shown.height),
                                ("RowsPerStrip", shown.height), ("Compression", 7),
                                ("PhotometricInterpretation", 6), ("SamplesPerPixel", 3),
                                ("BitsPerSample", (8, 8, 8))):  # fmt: skip
                tags[name].overwrite(value)
    return path


def halves(width: int = 320, height: int = 240) -> Image.Image:
    """Red above, blue below: which way is up shows at a glance."""
    picture = Image.new("RGB", (width, height), (40, 40, 200))
    picture.paste((200, 40, 40), (0, 0, width, height // 2))
    return picture


def top_and_bottom(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.asarray(image, dtype=np.float64)
    rows = pixels.shape[0]
    return pixels[: rows // 3].mean(axis=(0, 1)), pixels[-rows // 3 :].mean(axis=(0, 1))


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("preview", ["jpeg", "bitmap"])
def test_a_raw_file_gives_its_preview_upright(tmp_path: Path, preview: str, orientation: int) -> None:
    upright = halves()
    decoded = decode_image(str(raw_photo(tmp_path / "IMG_0001.dng", upright, orientation=orientation, preview=preview)))
    assert (decoded.width, decoded.height, decoded.format) == (640, 480, "DNG"), "the raw's size, upright"
    assert decoded.image.size == upright.size
    difference = np.abs(np.asarray(decoded.image, dtype=np.int16) - np.asarray(upright, dtype=np.int16))
    assert difference.mean() < 3, "the preview, turned upright"


def test_a_preview_smaller_than_the_model_sees_is_replaced_by_the_raw_developed(tmp_path: Path) -> None:
    path = raw_photo(tmp_path / "old_camera.dng", halves(), orientation=6, preview="small")
    decoded = decode_image(str(path), 224)
    assert (decoded.width, decoded.height) == (640, 480)
    assert decoded.image.size == (320, 240), "developed at half size, upright, no smaller than the model's input"
    top, bottom = top_and_bottom(decoded.image)
    assert top[0] > top[2] and bottom[2] > bottom[0], "red above, blue below"
    assert decode_image(str(path)).image.size == (64, 48), "with no model to feed, the preview serves"


def test_a_file_that_is_no_raw_is_refused_in_words(tmp_path: Path) -> None:
    fake = tmp_path / "DSC_0001.NEF"
    fake.write_bytes(b"not a raw file" * 100)
    with pytest.raises(DecodeError, match="cannot read raw photo: unsupported file format or not RAW file"):
        decode_image(str(fake))
    (tmp_path / "empty.cr2").write_bytes(b"")
    with pytest.raises(DecodeError, match="empty file"):
        decode_image(str(tmp_path / "empty.cr2"))


def test_raw_files_are_indexed_searched_and_annotated(cli: Cli, tmp_path: Path) -> None:
    """A shoot of raws among JPEGs: each raw indexed by its upright preview, with its camera's
    EXIF and its Adobe-style sidecar (IMG_0002.xmp beside IMG_0002.dng); a photo of the same
    scene finds it first; a damaged raw is reported and the rest indexed."""
    shoot = tmp_path / "shoot"
    scenes = {}
    for seed in range(1, 5):
        paint_photo(tmp_path / "scenes" / f"{seed}.png", seed, size=(320, 240))
        scenes[seed] = Image.open(tmp_path / "scenes" / f"{seed}.png").convert("RGB")
    raw_photo(shoot / "IMG_0001.dng", scenes[1], orientation=6)
    raw_photo(shoot / "IMG_0002.dng", scenes[2], preview="bitmap")
    write_sidecar(shoot / "IMG_0002.xmp", packet(rating=5, keywords=("harbour",)))
    scenes[3].save(shoot / "IMG_0003.jpg", quality=92)
    scenes[4].save(shoot / "IMG_0004.jpg", quality=92)
    (shoot / "IMG_0005.CR2").write_bytes(b"II*\x00" + b"\x00" * 500)  # a copy cut short

    result = cli.index(shoot)
    assert result.summary() == {"new": 4, "updated": 0, "removed": 0, "unchanged": 0, "failed": 1}, result.stderr
    assert "cannot read raw photo" in cli.failures_by_name()["IMG_0005.CR2"]["reason"]
    records = {Path(p).name: r for p, r in cli.records().items()}
    first = records["IMG_0001.dng"]
    assert (first["format"], first["width"], first["height"]) == ("DNG", 640, 480)
    assert (first["make"], first["model"], first["orientation"]) == ("Testmaker", "RAW-1", 6)
    assert (records["IMG_0002.dng"]["rating"], records["IMG_0002.dng"]["keywords"]) == (5, "harbour")
    assert len(list((cli.db / "thumbnails").rglob("*.jpg"))) == 4

    for seed in (1, 2):
        (found,) = cli.search("--search", str(tmp_path / "scenes" / f"{seed}.png"), "--limit", "1")
        assert Path(found["results"][0]["path"]).name == f"IMG_000{seed}.dng"
        assert found["results"][0]["score"] > 0.95
    (by_raw,) = cli.search("--search", str(shoot / "IMG_0002.dng"), "--limit", "1")
    assert Path(by_raw["results"][0]["path"]).name == "IMG_0002.dng"
    assert cli("--where", "format = 'DNG'", "--format", "paths").stdout.split() == [
        str(shoot / "IMG_0001.dng"), str(shoot / "IMG_0002.dng"),
    ]  # fmt: skip

    # A copy with a sidecar of its own takes the stored vector, its own XMP read beside it.
    (shoot / "picks").mkdir()
    (shoot / "picks" / "IMG_0002.dng").write_bytes((shoot / "IMG_0002.dng").read_bytes())
    write_sidecar(shoot / "picks" / "IMG_0002.xmp", packet(rating=1))
    copied = cli.index(shoot)
    assert "1 had the bytes of indexed files: vectors reused" in copied.stderr, copied.stderr
    assert {Path(p).parent.name: r["rating"] for p, r in cli.records().items() if p.endswith("IMG_0002.dng")} == {
        "shoot": 5, "picks": 1,
    }  # fmt: skip


@pytest.mark.parametrize("preview", ["jpeg", "small"])
def test_a_raw_exifread_cannot_read_takes_the_exif_libraw_parsed(tmp_path: Path, monkeypatch, preview: str) -> None:
    """exifread reads the raws built on TIFF, not a CR3 or a RAF: for those, the EXIF block LibRaw
    writes into the preview from what it parsed stands in, without its blanks (0 for an exposure
    it did not find, a 1970 date, its own signature as the software); an older camera's preview
    too small to index from (the raw is developed instead) gives its EXIF all the same."""
    from common import metadata

    path = raw_photo(tmp_path / "IMG_0001.dng", halves(), orientation=6, preview=preview)
    decoded = decode_image(str(path), 224)
    assert decoded.image.size == (320, 240)
    monkeypatch.setattr(metadata, "_exifread_tags", lambda path: {})  # as for a CR3
    columns, _ = metadata.read_exif(str(tmp_path / "IMG_0001.dng"), decoded.exif)
    assert (columns["make"], columns["model"], columns["orientation"]) == ("Testmaker", "RAW-1", 6)
    assert [columns[c] for c in ("exposure_time", "f_number", "focal_length", "date_taken", "software")] == [None] * 5


@pytest.mark.parametrize("preview", ["jpeg", "small", "bitmap"])
def test_a_raw_s_exif_read_without_its_pixels_is_the_exif_indexing_read(tmp_path: Path, preview: str) -> None:
    """A sidecar edited or deleted, a copy, ``--near IMG_0042.CR3``: the raw's tags are read again
    without its pixels (``exif_of_raw``), and must be those its row was made from, or a date set
    in Lightroom stays when its sidecar goes (``common.describe.refreshed_record``)."""
    from common.raw import exif_of_raw, read_raw

    path = str(raw_photo(tmp_path / "IMG_0001.dng", halves(), orientation=6, preview=preview,
                         tags=((306, "s", 0, "2019:07:03 14:33:00", True),)))  # fmt: skip
    indexed = read_raw(path, 224).exif
    again = exif_of_raw(path)
    if preview == "bitmap":  # no EXIF block in an uncompressed preview
        assert indexed is None and again is None
        return
    assert again is not None and indexed is not None
    assert [dict(ifd) for ifd in again] == [dict(ifd) for ifd in indexed]
    assert str(again.image.get(306, "")).startswith("2019:07:03"), "the camera's date, as LibRaw parsed it"
