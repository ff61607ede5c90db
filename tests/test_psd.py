"""Photoshop documents (.psd): indexed by the picture of their layers merged that Photoshop
saves in them, described by the XMP and EXIF it keeps among their image resources."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image
from test_xmp import packet

from common.decoding import header_of
from conftest import Cli, paint_photo

XMP_RESOURCE, EXIF_RESOURCE, VERSION_INFO = 1060, 1058, 1057
COLOR_MODES = {"L": 1, "RGB": 3, "CMYK": 4}


def write_psd(path: Path, picture: Image.Image, *, depth: int = 8, resources: dict[int, bytes] | None = None) -> Path:
    """A one-layer document as Photoshop saves one (the format's own layout, no library writes
    it): its header, its image resources (``resources``: id -> data) and its merged picture,
    each channel's rows uncompressed; ``depth`` 16 scales each value to 16 bits."""
    pixels = np.asarray(picture)
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
    height, width, channels = pixels.shape
    blocks = b""
    for resource, data in (resources or {}).items():
        blocks += b"8BIM" + struct.pack(">H", resource) + b"\x00\x00"  # an empty name, padded to even
        blocks += struct.pack(">I", len(data)) + data + b"\x00" * (len(data) % 2)
    planes = pixels.transpose(2, 0, 1)
    planes = 255 - planes if picture.mode == "CMYK" else planes  # Photoshop keeps ink as 255 - amount
    planes = planes.astype(">u2") * 257 if depth == 16 else planes
    path.write_bytes(
        b"8BPS"
        + struct.pack(">H6xHIIHH", 1, channels, height, width, depth, COLOR_MODES[picture.mode])
        + struct.pack(">I", 0)  # no colour mode data
        + struct.pack(">I", len(blocks))
        + blocks
        + struct.pack(">I", 0)  # no layer and mask section: the merged picture is the layer
        + struct.pack(">H", 0)  # raw, uncompressed
        + np.ascontiguousarray(planes).tobytes()
    )
    return path


def exif_block(**tags: object) -> bytes:
    """EXIF as Photoshop keeps it in a document: the TIFF structure, no 'Exif' prefix."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = tags["make"], tags["model"]
    exif.get_ifd(0x8769)[0x9003] = tags["taken"]  # DateTimeOriginal
    data = exif.tobytes()
    return data[6:] if data.startswith(b"Exif\x00\x00") else data


def version_info(merged_picture_saved: bool) -> bytes:
    """The 'version info' resource: whether the merged picture is real ('Maximize Compatibility'
    on) or left blank."""
    writer = "Adobe Photoshop".encode("utf-16-be")
    return (
        struct.pack(">IB", 1, merged_picture_saved)
        + struct.pack(">I", len(writer) // 2)
        + writer
        + struct.pack(">I", 0)
        + struct.pack(">I", 1)
    )


def test_a_photoshop_document_is_indexed_by_its_picture_and_described_by_its_xmp_and_exif(
    cli: Cli, tmp_path: Path
) -> None:
    """Photoshop documents were not looked at: a retoucher's edits were missing from the index,
    said nowhere. One Pillow cannot read (16 bits a channel), or one saved without its merged
    picture, is reported saying why and what to do."""
    folder = tmp_path / "edits"
    folder.mkdir()
    scenes = [paint_photo(tmp_path / "scenes" / f"{seed}.png", seed, size=(320, 240)) for seed in (1, 2)]
    retouched, cmyk = (Image.open(scene).convert("RGB") for scene in scenes)
    xmp = packet(rating=4, keywords=("wedding", "retouched"), title="First dance").encode()
    exif = exif_block(make="Canon", model="Canon EOS R5", taken="2021:06:12 18:30:00")
    write_psd(
        folder / "IMG_0042.psd",
        retouched,
        resources={VERSION_INFO: version_info(True), XMP_RESOURCE: xmp, EXIF_RESOURCE: exif},
    )
    write_psd(folder / "poster.psd", cmyk.convert("CMYK"))
    write_psd(folder / "deep.psd", retouched, depth=16)
    write_psd(
        folder / "layers-only.psd", Image.new("RGB", (320, 240), "white"), resources={VERSION_INFO: version_info(False)}
    )

    run = cli.index(folder)
    assert run.summary() == {"new": 2, "updated": 0, "removed": 0, "unchanged": 0, "failed": 2}
    rows = {Path(path).name: row for path, row in cli.records().items()}
    psd = rows["IMG_0042.psd"]
    assert (psd["format"], psd["width"], psd["height"], psd["media_type"]) == ("PSD", 320, 240, "image")
    assert (psd["make"], psd["model"], psd["date_taken"]) == ("Canon", "Canon EOS R5", "2021-06-12T18:30:00")
    assert (psd["rating"], psd["title"], psd["keywords"]) == (4, "First dance", "wedding; retouched")
    for scene, name in zip(scenes, ("IMG_0042.psd", "poster.psd"), strict=True):
        (found,) = cli.search("--search", str(scene), "--limit", "1")
        assert Path(found["results"][0]["path"]).name == name and found["results"][0]["score"] > 0.95
    (listed,) = cli.search("--text", "wedding")
    assert [Path(hit["path"]).name for hit in listed["results"]] == ["IMG_0042.psd"]

    # A sidecar edited later is read with the document's header alone: the same XMP and EXIF.
    header = header_of(str(folder / "IMG_0042.psd"))
    assert header and b"First dance" in header.info["xmp"] and header.exif.exif[0x9003] == "2021:06:12 18:30:00"

    failures = cli.failures_by_name()
    assert set(failures) == {"deep.psd", "layers-only.psd"}
    assert "16 bits a channel" in failures["deep.psd"]["reason"]
    assert "Maximize Compatibility" in failures["layers-only.psd"]["reason"]
