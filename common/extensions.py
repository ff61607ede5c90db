"""Which files are indexed, and as what, by their extension (lower case): a listing of 100,000
files is sorted without opening one. Its own module so that whatever reads a file (decoding,
its sidecars, its Takeout JSON) can ask without importing the walk."""

from __future__ import annotations

import os

# Pictures Pillow (with pillow-heif) reads: JPEGs by other names too, as Windows saves one from
# the web ('.jfif'), and a 3D camera's two views in one file ('.mpo': Fujifilm's W3, a 3DS);
# JPEG XL (pillow-jxl-plugin); Photoshop documents by their merged picture (common.psd).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic", ".heif",
     ".hif", ".avif", ".jxl", ".psd"}
)  # fmt: skip
# A Pixel's motion photo, in a Google Takeout: the still, 'PXL_20230521_101010123.MP.jpg' (its
# clip inside), and the clip again as an MP4 named for the still without '.jpg' ('….MP', '….MV';
# '….MP~2' beside an edited copy 'PXL_….MP~2.jpg'). The clip is the still's companion.
MOTION_CLIP_EXTENSIONS = frozenset(
    f".{kind}{copy}" for kind in ("mp", "mv") for copy in ("", *(f"~{n}" for n in range(2, 10)))
)
# Videos are indexed by one representative frame (common.video): a phone's, a camcorder's AVCHD
# (.mts, .m2ts), a DVD-era .mpg, an older phone's .3gp, Windows' .wmv.
VIDEO_EXTENSIONS = (
    frozenset({".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v", ".mts", ".m2ts", ".mpg", ".mpeg", ".3gp", ".wmv"})
    | MOTION_CLIP_EXTENSIONS
)
# Camera raw files, by the preview the camera embedded (common.raw): Adobe's DNG, Canon, Nikon,
# Sony, Fujifilm, Olympus/OM, Panasonic, Pentax, Samsung, Leica, Hasselblad, Phase One.
RAW_EXTENSIONS = frozenset(
    {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2", ".pef",
     ".srw", ".rwl", ".3fr", ".iiq"}
)  # fmt: skip
INDEXED_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS | RAW_EXTENSIONS
# A Live Photo's still, beside the clip of the seconds around it: an iPhone's, a Samsung's, and an
# iPhone's ProRAW one (its DNG, indexed by the preview inside it).
STILL_EXTENSIONS = (".heic", ".jpg", ".jpeg", ".dng")


def still_names_of(name: str) -> list[str]:
    """The names of the still a video named ``name`` may be the moving part of: a Live Photo's,
    'IMG_0042.HEIC' (or '.jpg') for 'IMG_0042.MOV' or '.MP4', and a Pixel's motion photo's,
    'PXL_….MP.jpg' for its clip 'PXL_….MP'; each in lower case (the still's may be either). None
    for a picture."""
    stem, extension = os.path.splitext(name)
    extension = extension.lower()
    if extension in MOTION_CLIP_EXTENSIONS:
        return [name + ".jpg"]
    if extension in VIDEO_EXTENSIONS and stem:
        return [stem + still for still in STILL_EXTENSIONS]
    return []
