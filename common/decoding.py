"""Open any supported image file as an upright 8-bit RGB picture ready for embedding.

Every format quirk lives here so the rest of the pipeline sees one thing: an RGB
``PIL.Image`` with EXIF orientation applied. Failures raise ``DecodeError`` with a short
reason that ends up in the log line and the failures report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pillow_jxl  # noqa: F401  (imported, it registers JPEG XL with Pillow: format "JXL")
from PIL import ExifTags, Image, ImageFile

from common.extensions import RAW_EXTENSIONS, VIDEO_EXTENSIONS
from common.iptc import iptc_columns
from common.jxl import JxlMetadata, is_jpeg_xl, jxl_metadata
from common.psd import NO_MERGED_PICTURE, lacks_its_merged_picture, psd_exif, unreadable_document_reason, with_its_xmp
from common.thumbnails import THUMBNAIL_SIZE
from common.windows_tags import windows_columns
from common.xmp import info_holding

log = logging.getLogger(__name__)

try:  # HEIC / HEIF / AVIF support; registered once per process.
    import pillow_heif

    pillow_heif.register_heif_opener()
    if hasattr(pillow_heif, "register_avif_opener"):
        pillow_heif.register_avif_opener()
except ImportError:  # pragma: no cover - pillow-heif is in requirements.txt
    pillow_heif = None

# A truncated file is a bad file, not a half-grey image in the index.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Bumped whenever decoding learns to read files it could not read before (or not within the time
# limit): a file that failed under another revision, or other decoder versions, is worth one more
# try (common.failures). 2: a HEIC's stored thumbnail (a 200 MP one that timed out now takes ms).
DECODING_REVISION = 2
# The largest picture decoded at all. Pillow's default (~89 MP, an error only above ~179 MP)
# refuses real photos from 100-200 MP cameras and phones; above this it is a decompression
# bomb (a tiny file claiming gigapixels), refused before any pixel is allocated. Large but
# real pictures are bounded by the per-file time limit instead (common.workers).
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


# Reduced-size decoding keeps the shortest side at least REDUCED_MARGIN × the model's input and
# at least REDUCED_FLOOR pixels, and the longest side at least the thumbnails' size (they are made
# from the same pixels). Measured worst cosine to open_clip's full-size route over every coco-mini
# and camera image: ViT-B-32 (224 px, random weights) 0.9951 at 1×, 0.9987 at 2×; the 32 px test
# model 0.9936 at 224 px, 0.94 at 128 px (small inputs are more sensitive to resampling; hence
# the floor). 1× lets a 640×480 photo, the commonest size there is, decode at half size: ~1.3 ms
# less worker CPU a photo (decode 2.1 → ~1 ms, the bicubic crop 2.0 → ~0.7 ms), about a tenth
# of all the reading CPU on coco-mini + camera.
REDUCED_MARGIN = 1
REDUCED_FLOOR = 224


def reduced_side(min_side: int) -> int:
    """The shortest side a reduced-size decode must keep for a model whose input is ``min_side``."""
    return max(REDUCED_MARGIN * min_side, REDUCED_FLOOR)


def reduced_size(size: tuple[int, int], min_side: int) -> tuple[int, int]:
    """The smallest (width, height) a reduced-size decode of a ``size`` picture may have: its
    shortest side at least ``reduced_side``, its longest at least the thumbnails' size."""
    short = reduced_side(min_side)
    long = max(short, THUMBNAIL_SIZE)
    return (long, short) if size[0] >= size[1] else (short, long)


def reduction_factor(size: tuple[int, int], min_side: int) -> int:
    """The whole factor a ``size`` picture can shrink by and still keep ``reduced_size``."""
    smallest = reduced_size(size, min_side)
    return max(1, min(size[0] // smallest[0], size[1] // smallest[1]))


# How to turn stored pixels upright for each EXIF orientation (as ImageOps.exif_transpose).
TRANSPOSE_FOR = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class DecodeError(Exception):
    """A file that cannot be turned into pixels; the message is the reason shown to the user.

    ``lasting`` says whether reading the same bytes again would fail the same way (a corrupt or
    unsupported file), so an indexing run can leave it alone until it changes; a file that
    vanished, was locked or ran out of memory is worth another try on the next run.
    """

    def __init__(self, reason: str, *, lasting: bool = True) -> None:
        super().__init__(reason)
        self.lasting = lasting


@contextlib.contextmanager
def reading_explained() -> Iterator[None]:
    """Turn the failures of reading a file (as opposed to its contents) into passing DecodeErrors."""
    try:
        yield
    except FileNotFoundError:
        raise DecodeError("file vanished before it could be read", lasting=False) from None
    except PermissionError:
        raise DecodeError("permission denied", lasting=False) from None
    except MemoryError:
        raise DecodeError("out of memory while decoding", lasting=False) from None
    except OSError as error:
        if error.errno is None:  # Pillow's complaints about the data itself are OSErrors without one
            raise
        # The system could not read it (an I/O error, a network share gone): maybe not next time.
        raise DecodeError(f"cannot read the file: {error.strerror or error}", lasting=False) from None


class ExifIfds(NamedTuple):
    """Pillow's EXIF directories: tag number → value."""

    image: Mapping[int, Any]
    exif: Mapping[int, Any]
    gps: Mapping[int, Any]


@dataclass
class DecodedImage:
    """Upright RGB pixels plus what the decoder learned about the file."""

    # None for a JPEG described from its header alone, its pixels decoded where the model runs
    # (common.device_decoding).
    image: Image.Image | None
    width: int
    height: int
    format: str
    mode: str
    info: dict
    video: dict | None = None  # for a video's frame: media_type, duration, fps, codec
    # Pillow's view of the file's EXIF, read while it was open (``exif_ifds``): metadata takes the
    # UserComment from it, and everything for files exifread cannot read, without opening the
    # file a second time (~0.4 ms a JPEG, ~7 ms a HEIC; a round trip on a network drive).
    exif: ExifIfds | None = None
    # What the file's IPTC-IIM block, else Windows' own tags, say (title, caption, keywords,
    # location: ``older_annotations``), read while it was open, for the same reason.
    older_annotations: dict[str, str] = field(default_factory=dict)


def decode_image(path: str, min_side: int | None = None) -> DecodedImage:
    """Decode ``path`` fully (so truncation is caught here, not later) into upright RGB.

    With ``min_side`` (the model's input size) a large picture is decoded at reduced size —
    JPEG's DCT scaling (``draft``), a HEIF's own stored thumbnail (pillow-heif's ``draft``: only
    one that is a scaled copy of the picture, same aspect ratio, crop, rotation and colour
    profile), or a box-filter ``reduce`` for other formats — but never below ``reduced_size``
    (the model's input on the shortest side, a thumbnail's on the longest), so the model sees
    the same picture (the fidelity test holds every coco-mini and camera image to cosine >=
    0.99). Width and height are always the full, displayed size.

    Decompression bombs are refused by Pillow's own pixel limit (set to ``MAX_PIXELS``), which is
    raised to an error rather than a warning so one hostile file cannot exhaust memory.
    """
    extension = os.path.splitext(path)[1].lower()
    if extension in VIDEO_EXTENSIONS:
        return decode_video(path, min_side)
    if extension in RAW_EXTENSIONS:
        return decode_raw(path, min_side)
    try:
        with reading_explained(), warnings.catch_warnings():
            # Pillow warns about every odd tag ("Corrupt EXIF data", "Tag data larger than
            # file"); the pixels are what matter. A bomb warning, though, is a refusal.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                source_format = opened.format or ""
                source_mode = opened.mode
                full_size = opened.size
                if min_side:  # JPEG scales its DCT; HEIF/AVIF use their own thumbnail; others: no-op
                    opened.draft(
                        opened.mode if opened.mode in ("RGB", "L") else None, reduced_size(full_size, min_side)
                    )
                if source_format == "PSD" and lacks_its_merged_picture(opened):
                    raise DecodeError(NO_MERGED_PICTURE)
                opened.load()
                info, older, exif = header_of_open(opened)
                orientation = exif_orientation(opened)
                upright = opened.transpose(TRANSPOSE_FOR[orientation]) if orientation in TRANSPOSE_FOR else opened
                rgb = to_rgb(upright)
                # After conversion: Image.reduce does not take every mode ('1', 'I;16').
                rgb = reduce_to(rgb, min_side) if min_side else rgb
    except DecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DecodeError(bomb_reason(error)) from None
    except Image.UnidentifiedImageError:
        raise DecodeError(_empty_or(path, unrecognised_reason(path))) from None
    except Exception as error:  # Pillow and its plugins raise a zoo of types for corrupt data.
        raise DecodeError(data_error_reason(error)) from None
    if rgb.width < 1 or rgb.height < 1:
        raise DecodeError("image has zero width or height")
    width, height = full_size[::-1] if orientation in (5, 6, 7, 8) else full_size
    return DecodedImage(rgb, width, height, source_format, source_mode, info, exif=exif, older_annotations=older)


def check_recognised(path: str) -> None:
    """Raise ``DecodeError`` if ``path`` is neither a video nor a picture in a format Pillow
    recognises, reading its header alone: a query file that is no picture is refused before a
    model is loaded for it (seconds), not after. Anything else wrong is ``decode_image``'s to say."""
    extension = os.path.splitext(path)[1].lower()
    if extension in VIDEO_EXTENSIONS | RAW_EXTENSIONS:
        return
    if extension == ".jxl":  # its plugin would decode the whole picture to open it
        with reading_explained():
            if not is_jpeg_xl(path):
                raise DecodeError(_empty_or(path, unrecognised_reason(path)))
        return
    try:
        with reading_explained(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path):
                pass
    except Image.UnidentifiedImageError:
        raise DecodeError(_empty_or(path, unrecognised_reason(path))) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DecodeError(bomb_reason(error)) from None
    except DecodeError:
        raise
    except Exception:  # the data's troubles: decoding names them, in its own words
        pass


# Pillow's words for the commonest troubles with a file's data, and the user's (what happened,
# and the likely cause); anything else is Pillow's own words after "corrupt or unsupported".
PILLOW_TROUBLES = (
    (re.compile(r"image file is truncated"), "truncated: the file ends before its picture does (an unfinished download or copy?)"),
    (re.compile(r"(?:decoder|decoding) error (-?\d+)|broken data stream"), "corrupt or unsupported image data: the decoder stopped{code}"),
    (re.compile(r"Decompressed data too large"), "decompression bomb refused: a compressed text chunk expands past Pillow's limit"),
    # pillow-jxl-plugin passes on libjxl's one word for any trouble, and advice for its developers.
    (re.compile(r"Generic Error\. Please build `libjxl`"), "corrupt or truncated JPEG XL data: libjxl could not decode it"),
)  # fmt: skip


def data_error_reason(error: Exception) -> str:
    """Why Pillow could not decode a file, in words for the failures report: "OSError: decoder
    error -2" tells a user nothing they can act on, "truncated: ... an unfinished download?" does."""
    words = str(error).strip() or type(error).__name__
    for pattern, reason in PILLOW_TROUBLES:
        found = pattern.search(words)
        if found:
            code = found.group(1) if found.groups() and found.group(1) else None
            return reason.format(code=f" (error {code})" if code else "")
    return f"corrupt or unsupported image data: {words}"


def unrecognised_reason(path: str) -> str:
    """Why Pillow recognised no picture in ``path``: what a Photoshop document's header says it
    cannot read (16 bits a channel), else that the format is unknown or the header corrupt."""
    return unreadable_document_reason(path) or "not a recognised image (unknown format or corrupt header)"


def _empty_or(path: str, reason: str) -> str:
    """``reason``, unless the file is empty: then that is the reason (a download or copy that
    never started; no format can be recognised in 0 bytes)."""
    with contextlib.suppress(OSError):
        if os.path.getsize(path) == 0:
            return "empty file (0 bytes)"
    return reason


def bomb_reason(error: Exception) -> str:
    """Why a decompression bomb was refused, against our limit: Pillow's own error quotes twice
    ``MAX_PIXELS`` (where its warning turns into an error), which is not the limit we apply."""
    claimed = re.search(r"\((\d+) pixels\)", str(error))
    if claimed is None:
        return f"decompression bomb refused: {error}"
    return f"decompression bomb refused: it claims {int(claimed[1]):,} pixels, over the limit of {MAX_PIXELS:,}"


def decode_video(path: str, min_side: int | None = None) -> DecodedImage:
    """A video's representative frame (see common.video) as a decoded image."""
    from common.video import read_video_frame

    try:
        with reading_explained():
            frame = read_video_frame(path, (lambda size: reduction_factor(size, min_side)) if min_side else None)
    except DecodeError:
        raise
    except Exception as error:  # PyAV raises its own zoo (InvalidDataError, ...)
        # FFmpeg's own words ("Invalid data found when processing input"), without the errno
        # number and the path PyAV wraps them in.
        words = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise DecodeError(_empty_or(path, f"cannot decode video: {words[:1].lower()}{words[1:]}")) from None
    width, height = frame.size
    return DecodedImage(frame.image, width, height, frame.format, "RGB", info_holding(frame.xmp), video=frame.facts)


def decode_raw(path: str, min_side: int | None = None) -> DecodedImage:
    """A camera raw file's picture (see common.raw), with what its header says: the XMP and
    IPTC-IIM that Pillow finds in a raw built on TIFF (DNG, CR2, NEF, ARW, PEF), as in a TIFF."""
    from common.raw import read_raw

    try:
        with reading_explained():
            read_first_byte(path)  # a file gone or forbidden says so in Python's words, not LibRaw's
            picture = read_raw(path, min_side)
    except DecodeError:
        raise
    except Exception as error:  # LibRaw's: "Unsupported file format or not RAW file", "Input/output error"
        said = error.args[0] if error.args else ""  # rawpy gives LibRaw's words as bytes
        words = (said.decode(errors="replace") if isinstance(said, bytes) else str(said)) or type(error).__name__
        raise DecodeError(_empty_or(path, f"cannot read raw photo: {words[:1].lower()}{words[1:]}")) from None
    header = header_of(path)
    info, older = (header.info, header.older_annotations) if header else ({}, {})
    image = reduce_to(picture.image, min_side) if min_side else picture.image
    return DecodedImage(
        image, picture.width, picture.height, picture.format, "RGB", info, exif=picture.exif, older_annotations=older
    )


class Header(NamedTuple):
    """What Pillow reads from a file's header without its pixels (``header_of``)."""

    info: dict[str, Any]  # its ``Image.info``: an XMP packet among it
    older_annotations: dict[str, str]  # ``older_annotations``
    exif: ExifIfds | None  # ``exif_ifds``, as ``DecodedImage.exif``


def header_of(path: str) -> Header | None:
    """What Pillow reads from a file's header without its pixels (``Header``); None when Pillow
    cannot open it (gone, unreadable now, or a format it does not know: a CR3). A JPEG XL's is
    read from its boxes: its plugin would decode the picture to open it."""
    if os.path.splitext(path)[1].lower() == ".jxl":
        return _jxl_header(path)
    try:
        with warnings.catch_warnings(), Image.open(path) as opened:
            warnings.simplefilter("ignore")
            return header_of_open(opened)
    except Exception as error:
        log.debug("no header Pillow reads in %s: %s", path, error)
        return None


def _jxl_header(path: str) -> Header | None:
    """``header_of`` a JPEG XL: its boxes' EXIF and XMP (it holds no IPTC-IIM)."""
    metadata = _jxl_boxes(path)
    if metadata is None:
        return None
    ifds = exif_ifds_of(lambda: exif_of_bytes(metadata.exif), path)
    return Header(info_holding(metadata.xmp), windows_columns(ifds.image if ifds else None), ifds)


def read_first_byte(path: str) -> None:
    """Read one byte of ``path``: raises the OSError that says why it cannot be read now."""
    with open(path, "rb") as handle:
        handle.read(1)


def reduce_to(image: Image.Image, min_side: int) -> Image.Image:
    """Shrink by a whole factor (fast box filter) while the picture keeps ``reduced_size``."""
    factor = reduction_factor(image.size, min_side)
    return image.reduce(factor) if factor >= 2 else image


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB the way a viewer would show it.

    High-bit-depth greyscale ('I;16', 'I', 'F') is rescaled rather than clipped (a plain
    ``convert`` turns most 16-bit photos white), and transparency is flattened onto white.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_rescale_to_uint8(np.asarray(image)), mode="L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _rescale_to_uint8(pixels: np.ndarray) -> np.ndarray:
    pixels = pixels.astype(np.float64)
    finite = pixels[np.isfinite(pixels)]
    if finite.size == 0:
        return np.zeros(pixels.shape, dtype=np.uint8)
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        return np.full(pixels.shape, 128 if high > 0 else 0, dtype=np.uint8)
    scaled = (np.nan_to_num(pixels, nan=low) - low) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def older_annotations(image: Image.Image, ifd0: Image.Exif | None) -> dict[str, str]:
    """What the older ways of writing about a photo say in an open image: IPTC-IIM's columns
    (``common.iptc``), and Windows' own tags (``common.windows_tags``, from its EXIF ``ifd0``)
    where IIM has none. XMP, where a file has it, comes before both (``common.describe``)."""
    found = iptc_columns(image)
    for column, value in windows_columns(ifd0).items():
        found.setdefault(column, value)
    return found


def header_of_open(image: Image.Image) -> Header:
    """What an open image says beside its pixels (``Header``): its ``info``, what IPTC-IIM or
    Windows' own tags say, and its EXIF; a Photoshop document's XMP and EXIF from its image
    resources (``common.psd``), a JPEG XL's from its boxes (``common.jxl``: read once, the
    plugin keeping its EXIF alone, and not from a compressed box)."""
    info = dict(image.info)
    if image.format == "PSD":
        info = with_its_xmp(image, info)
        exif = exif_ifds_of(lambda: exif_of_bytes(psd_exif(image)), image.filename)
    elif image.format == "JXL":
        boxes = _jxl_boxes(image.filename) or JxlMetadata()
        if boxes.xmp and "xmp" not in info:
            info["xmp"] = boxes.xmp
        exif = exif_ifds_of(lambda: exif_of_bytes(boxes.exif) if boxes.exif else image.getexif(), image.filename)
    else:
        exif = exif_ifds(image)
    return Header(info, older_annotations(image, exif.image if exif else None), exif)


def _jxl_boxes(path: str) -> JxlMetadata | None:
    """What a JPEG XL's boxes say (``common.jxl``); None when the file cannot be read (again)."""
    try:
        return jxl_metadata(path)
    except OSError as error:
        log.debug("cannot read the boxes of %s: %s", path, error)
        return None


def exif_of_bytes(tiff: bytes | None) -> Image.Exif:
    """Pillow's view of EXIF bytes (its TIFF structure); empty for None."""
    exif = Image.Exif()
    if tiff:
        exif.load(tiff if tiff.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + tiff)
    return exif


def exif_ifds(image: Image.Image) -> ExifIfds | None:
    """Pillow's view of an open image's EXIF: IFD0, the EXIF sub-IFD and GPS; None when it cannot
    read it. Read while the file is open: for a TIFF, Pillow reads the IFDs from the file itself."""
    return exif_ifds_of(image.getexif, getattr(image, "filename", "?"))


def exif_ifds_of(read: Callable[[], Image.Exif], name: str) -> ExifIfds | None:
    """The IFDs of the EXIF ``read`` gives (of the file ``name``); None when it cannot be read."""
    try:
        exif = read()
        return ExifIfds(exif, exif.get_ifd(ExifTags.IFD.Exif), exif.get_ifd(ExifTags.IFD.GPSInfo))
    except Exception as error:  # an EXIF we cannot read costs its fields, never the file
        log.debug("Pillow cannot read the EXIF of %s: %s", name, error)
        return None


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation tag (1 when absent or unreadable; pillow-heif has already applied it).

    A JPEG XL's own orientation, in its codestream, is the one that counts (browsers ignore the
    EXIF's, which may be stale), and libjxl has applied it: 1, unless the file is a JPEG
    recompressed without loss, which the plugin gives back as that JPEG, its EXIF's to apply."""
    if image.format == "JXL" and not getattr(image, "jpeg", False):
        return 1
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:
        return 1
    return value if value in range(1, 9) else 1
