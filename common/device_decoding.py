"""Decode JPEGs where the model runs (nvJPEG on a CUDA GPU) instead of in the decoding workers.

With the model on a GPU, indexing runs only as fast as the host's cores read files: on the H100
host this project was lent, a coco photo cost a worker 12-14 ms of CPU (decode, crop, colours,
thumbnail), so 15 workers read ~700-1,000 images/s while the GPU was busy 11 % of the run
(README, "On a GPU"). On the H200 host, decoding JPEGs here took the workers' CPU from 11.4 to
0.7 ms an image at about the same speed (934 against 987 images/s): the main process is then the
limit, hence not the default. Here a worker reads a JPEG's header alone (its size and EXIF: the record)
and hands over the file's bytes (``describe_jpeg``); the main process decodes a batch of them in
one call (torchvision's nvJPEG binding) and makes on the device what a worker made from the
pixels (``DeviceJpegDecoder``):

- the model's crop: upright (EXIF orientation), shortest side resized to the model's input
  (antialiased bicubic, as torchvision resizes a tensor) and centre-cropped where
  ``PixelRecipe.crop`` crops; held to open_clip's reference transform by the fidelity tests;
- the thumbnail: ``THUMBNAIL_SIZE`` px on its longest side, encoded to JPEG on the device;
- the colour signature: counted on the thumbnail shrunk to ``SAMPLE_SIDE``, its pixels turned
  to Lab as LittleCMS turns them for the workers (``lab_of``), all the batch's in one pass.

A worker still decodes every other format, CMYK and progressive JPEGs (Pillow's decode, as
before), a JPEG whose data does not end with its end-of-image marker (truncated: the worker's
decode reports it as such), and any the device fails to decode (read again in this process, so
a bad file is reported as a worker reports it). nvJPEG's hardware decoder is the more lenient:
the H200's read a JPEG whose scan names a colour component its frame lacks, which libjpeg and
Pillow refuse, and such a file is indexed from what it made of it.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from common.color import A_BINS, AB_RANGE, B_BINS, COLOR_DIM, L_BINS, sample_size
from common.decoding import DecodedImage, exif_orientation, header_of_open
from common.extensions import RAW_EXTENSIONS, VIDEO_EXTENSIONS
from common.preprocess import PixelRecipe
from common.thumbnails import JPEG_QUALITY, save_encoded_thumbnail, thumbnail_path, thumbnail_size

log = logging.getLogger(__name__)

# What is handed to the device: Pillow's names for a JPEG (an MPO is a JPEG with more pictures
# after its first, the one decoded) and the modes nvJPEG turns into the RGB Pillow would.
DEVICE_FORMATS = {"JPEG", "MPO"}
DEVICE_MODES = {"RGB", "L"}
# Larger pictures go to a worker, whose reduced-size decode never holds the whole picture.
DEVICE_MAX_PIXELS = 64_000_000
END_OF_IMAGE = b"\xff\xd9"
THUMBNAIL_WRITERS = 4
# How many pixels are decoded at once (3 bytes each: 768 MB), and resized as one float stack
# (12 bytes each, and as much again for the resized copies: ~0.8 GB).
DECODE_PIXELS = 256_000_000
STACK_PIXELS = 32_000_000


@dataclass(frozen=True)
class EncodedJpeg:
    """A JPEG's bytes, to be decoded where the model runs, its EXIF orientation (1-8) and size."""

    data: bytes
    orientation: int
    pixels: int  # width x height: what decoding it takes, for ``DECODE_PIXELS``


def describe_jpeg(path: str) -> tuple[DecodedImage, EncodedJpeg] | None:
    """A JPEG the device can decode, described from its header (no pixels), and its bytes; None
    for any other file, or one this cannot read: a worker decodes it and says what is wrong."""
    if os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS | RAW_EXTENSIONS:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:  # the header alone: other formats are not read further
                if not _device_can_decode(opened):
                    return None
                info, older, exif = header_of_open(opened)
                orientation = exif_orientation(opened)
                width, height = opened.size
                source_format, mode = opened.format or "", opened.mode
        with open(path, "rb") as file:
            data = file.read()
    except Exception:  # the worker's own decode reports what is wrong
        return None
    if data.rstrip(b"\0")[-2:] != END_OF_IMAGE:
        return None
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    described = DecodedImage(None, width, height, source_format, mode, info, exif=exif, older_annotations=older)
    return described, EncodedJpeg(data, orientation if orientation in range(1, 9) else 1, width * height)


def _device_can_decode(opened: Image.Image) -> bool:
    return (
        opened.format in DEVICE_FORMATS
        and opened.mode in DEVICE_MODES
        and not opened.info.get("progressive")
        and 0 < opened.width * opened.height <= DEVICE_MAX_PIXELS
    )


@dataclass
class DeviceRead:
    """What the device made of one JPEG: the model's crop (H×W×3 uint8, on the device) and the
    colour signature."""

    crop: Any
    color: np.ndarray


class DeviceJpegDecoder:
    """Decodes batches of ``EncodedJpeg`` on ``device`` into crops, thumbnails and colours."""

    def __init__(self, recipe: PixelRecipe, device: str, thumbnail_dir: str | None) -> None:
        import torch

        self._torch = torch
        self.recipe = recipe
        self.device = torch.device(device)
        self.thumbnail_dir = thumbnail_dir
        # Writing a file lets go of the GIL: the next operations are issued meanwhile.
        self._writers = ThreadPoolExecutor(THUMBNAIL_WRITERS, thread_name_prefix="imagedb-thumbnails")
        self._said_out_of_memory = False

    @classmethod
    def try_on(cls, recipe: PixelRecipe, device: str, thumbnail_dir: str | None) -> DeviceJpegDecoder | None:
        """A decoder for ``device``, or None (said once) where torchvision cannot decode a JPEG there."""
        try:
            decoder = cls(recipe, device, thumbnail_dir)
            probe = io.BytesIO()
            Image.new("RGB", (16, 8), (200, 30, 60)).save(probe, "JPEG")
            decoder._decode([EncodedJpeg(probe.getvalue(), 1, 16 * 8)])
        except Exception as error:  # any failure: the workers decode, as without it
            log.info("JPEGs are decoded by the workers: torchvision cannot decode them on %s (%s)", device, error)
            return None
        return decoder

    def read(self, pictures: list[EncodedJpeg], records: list[dict[str, Any]]) -> list[DeviceRead | None]:
        """Each picture's crop and colours, its thumbnail written (with ``thumbnail_dir``); None for
        one the device could not decode, or had no memory for.

        The main process's one core issues every operation here while the workers keep it fed,
        so operations are few: pictures of one size after turning (a camera's, most of a phone's
        folder) are resized as one stack, the thumbnails cross to the host in one copy and are
        written by threads. On the H200 host, 128 coco photos took 0.08 ms an image to decode,
        0.2 ms for all but the thumbnails, 0.5 ms with them (``benchmarks.jpeg_decoding``'s
        README section has the rest). Memory is bounded whatever the batch: pictures are decoded
        ``DECODE_PIXELS`` at a time and resized ``STACK_PIXELS`` at a time (a batch of 128
        12-megapixel photos decoded at once would take 4.6 GB, its float stack four times that),
        and a part the GPU has no memory for is left to Pillow (None), said once.
        """
        torch = self._torch
        made: list[DeviceRead | None] = [None] * len(pictures)
        for part in parts_within([p.pixels for p in pictures], DECODE_PIXELS):
            try:
                with torch.inference_mode():
                    read = self._read_part([pictures[i] for i in part], [records[i] for i in part])
            except torch.cuda.OutOfMemoryError:
                if not self._said_out_of_memory:
                    log.warning("the GPU has no memory free for decoding JPEGs: %d read by Pillow instead", len(part))
                    self._said_out_of_memory = True
                torch.cuda.empty_cache()
                continue
            for i, one in zip(part, read, strict=True):
                made[i] = one
        return made

    def _read_part(self, pictures: list[EncodedJpeg], records: list[dict[str, Any]]) -> list[DeviceRead | None]:
        torch = self._torch
        decoded = self._decode(pictures)
        upright = [None if d is None else orient(d, p.orientation) for d, p in zip(decoded, pictures, strict=True)]
        by_size: dict[tuple[int, ...], list[int]] = {}
        for number, picture in enumerate(upright):
            if picture is not None:
                by_size.setdefault(tuple(picture.shape), []).append(number)
        numbers, crops, thumbnails, samples = [], [], [], []
        for shape, members in by_size.items():
            for stacked in parts_within([shape[1] * shape[2]] * len(members), STACK_PIXELS):
                group = [members[i] for i in stacked]
                stack = torch.stack([upright[n] for n in group]).float()
                crops += list(self._crops(stack))
                thumbnail = thumbnails_of(stack)
                width, height = sample_size((thumbnail.shape[3], thumbnail.shape[2]))
                sample = resized(thumbnail, (height, width), "area")
                thumbnails += list(as_pixels(thumbnail))
                samples += list(as_pixels(sample).flatten(2))
                numbers += group
        colors = self._signatures(samples)
        if self.thumbnail_dir:
            self._save_thumbnails(thumbnails, [records[n] for n in numbers])
        made: list[DeviceRead | None] = [None] * len(pictures)
        for number, crop, color in zip(numbers, crops, colors, strict=True):
            made[number] = DeviceRead(crop.permute(1, 2, 0), color)
        return made

    def close(self) -> None:
        """Let the thumbnail writers go (each ``read`` has waited for its own files)."""
        self._writers.shutdown()

    def _decode(self, pictures: list[EncodedJpeg]) -> list[Any]:
        """(3, H, W) uint8 tensors on the device; None for a picture that would not decode. The
        batch in one call; if any picture spoils it, each again alone."""
        from torchvision.io import ImageReadMode, decode_jpeg

        torch = self._torch
        with warnings.catch_warnings():
            # torchvision 0.29 deprecates its image codecs for TorchCodec's (warned at each call);
            # bytes objects are read-only buffers, which torch warns of though nothing writes them.
            warnings.simplefilter("ignore")
            data = [torch.frombuffer(p.data, dtype=torch.uint8) for p in pictures]
            try:
                return list(decode_jpeg(data, mode=ImageReadMode.RGB, device=self.device))
            except Exception:  # nvJPEG and libjpeg fail in their own ways
                if len(data) == 1:
                    return [None]
            return [self._decode_alone(one) for one in data]

    def _decode_alone(self, data: Any) -> Any:
        from torchvision.io import ImageReadMode, decode_jpeg

        try:
            return decode_jpeg(data, mode=ImageReadMode.RGB, device=self.device)
        except Exception:  # as in _decode
            return None

    def _crops(self, stack: Any) -> Any:
        """``PixelRecipe.crop`` of a (N, 3, H, W) float stack: shortest side to ``size``, centre
        crop; (N, 3, S, S) uint8."""
        size = self.recipe.size
        height, width = stack.shape[2:]
        new_width, new_height, left, top = self.recipe.crop_box(width, height)
        whole = resized(stack, (new_height, new_width), self.recipe.interpolation)
        return as_pixels(whole[:, :, top : top + size, left : left + size])

    def _signatures(self, samples: list[Any]) -> list[np.ndarray]:
        """``common.color.image_signature`` of each (3, P) uint8 sample, all in one pass."""
        torch = self._torch
        if not samples:
            return []
        lab = lab_of(torch.cat(samples, dim=1))
        owner = torch.repeat_interleave(
            torch.arange(len(samples), device=self.device),
            torch.tensor([s.shape[1] for s in samples], device=self.device),
        )
        return list(signatures_by_owner(lab, owner, len(samples)).cpu().numpy())

    def _save_thumbnails(self, thumbnails: list[Any], records: list[dict[str, Any]]) -> None:
        """Encode the thumbnails on the device, copy all the bytes over at once, write each file."""
        from torchvision.io import encode_jpeg

        torch = self._torch
        if not thumbnails:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecation, as in _decode
            encoded = encode_jpeg(thumbnails, quality=JPEG_QUALITY)
        lengths = [len(e) for e in encoded]
        everything = torch.cat(encoded).cpu().numpy().tobytes()
        ends = np.cumsum(lengths)
        files = [
            (everything[end - length : end], thumbnail_path(self.thumbnail_dir, record), record["path"])
            for length, end, record in zip(lengths, ends, records, strict=True)
        ]
        list(self._writers.map(lambda file: save_jpeg_bytes(*file), files))


def parts_within(sizes: list[int], budget: int) -> list[list[int]]:
    """The positions of ``sizes`` in order, cut into runs whose sizes add up to ``budget`` at most
    (a size over it alone in its run)."""
    parts: list[list[int]] = []
    total = budget + 1
    for position, size in enumerate(sizes):
        if total + size > budget:
            parts.append([])
            total = 0
        parts[-1].append(position)
        total += size
    return parts


def orient(image: Any, orientation: int) -> Any:
    """A (3, H, W) picture turned upright for its EXIF ``orientation`` (as ``TRANSPOSE_FOR``)."""
    if orientation == 2:
        return image.flip(2)
    if orientation == 3:
        return image.flip(1, 2)
    if orientation == 4:
        return image.flip(1)
    if orientation == 5:
        return image.transpose(1, 2)
    if orientation == 6:
        return image.transpose(1, 2).flip(2)
    if orientation == 7:
        return image.transpose(1, 2).flip(1, 2)
    if orientation == 8:
        return image.transpose(1, 2).flip(1)
    return image


def resized(stack: Any, size: tuple[int, int], mode: str) -> Any:
    """A (N, 3, H, W) float stack resized to ``size`` (height, width), antialiased as
    torchvision resizes a tensor (``area``: a box average); still float."""
    import torch.nn.functional as F

    if tuple(stack.shape[2:]) == size:
        return stack
    options = {} if mode == "area" else {"antialias": True, "align_corners": False}
    return F.interpolate(stack, size=size, mode=mode, **options)


def as_pixels(stack: Any) -> Any:
    """A float stack rounded back to contiguous uint8 pixels."""
    import torch

    return stack.round().clamp_(0, 255).to(torch.uint8).contiguous()


def thumbnails_of(stack: Any) -> Any:
    """``common.thumbnails.thumbnail_picture`` of a (N, 3, H, W) float stack: ``THUMBNAIL_SIZE`` px
    on its longest side, if larger (bilinear); still float."""
    height, width = stack.shape[2:]
    new_width, new_height = thumbnail_size(width, height)
    return resized(stack, (new_height, new_width), "bilinear")


# sRGB to CIE XYZ relative to D50 (Bradford-adapted, as ICC profiles and LittleCMS's sRGB have
# it), D50's white, and CIE's constants for Lab's cube root.
SRGB_TO_XYZ_D50 = (
    (0.4360747, 0.3850649, 0.1430804),
    (0.2225045, 0.7168786, 0.0606169),
    (0.0139322, 0.0971045, 0.7141733),
)
D50_WHITE = (0.9642, 1.0, 0.8249)
LAB_EPSILON, LAB_KAPPA = 216 / 24389, 24389 / 27


def lab_of(pixels: Any) -> Any:
    """(P, 3) Lab values of (3, P) uint8 sRGB pixels, as ``common.color.lab_pixels`` gives them:
    stored as Pillow's 8-bit Lab (L* in 255ths of 100, a* and b* whole), so that over every 8-bit
    colour all but ~2 % are LittleCMS's values exactly and those are one step away."""
    import torch

    linear = pixels.double().T / 255.0
    linear = torch.where(linear <= 0.04045, linear / 12.92, ((linear + 0.055) / 1.055) ** 2.4)
    matrix = torch.tensor(SRGB_TO_XYZ_D50, dtype=torch.float64, device=pixels.device)
    white = torch.tensor(D50_WHITE, dtype=torch.float64, device=pixels.device)
    ratio = (linear @ matrix.T) / white
    f = torch.where(ratio > LAB_EPSILON, ratio ** (1 / 3), (LAB_KAPPA * ratio + 16) / 116)
    lightness = torch.round((116 * f[:, 1] - 16) * 2.55).clamp(0, 255) / 2.55
    a = torch.round(500 * (f[:, 0] - f[:, 1])).clamp(-128, 127)
    b = torch.round(200 * (f[:, 1] - f[:, 2])).clamp(-128, 127)
    return torch.stack([lightness, a, b], dim=1).float()


def signatures_by_owner(lab: Any, owner: Any, count: int) -> Any:
    """``common.color.signature_from_lab`` of each owner's points (a tensor of Lab rows and one of
    their owners' numbers), all in one soft-binning pass: (count, COLOR_DIM) float32."""
    import torch

    positions = [
        _bin_position(lab[:, 0], 0.0, 100.0, L_BINS),
        _bin_position(lab[:, 1], *AB_RANGE, A_BINS),
        _bin_position(lab[:, 2], *AB_RANGE, B_BINS),
    ]
    histograms = torch.zeros(count * COLOR_DIM, dtype=torch.float64, device=lab.device)
    for corner in range(8):
        flat = owner.clone()
        share = torch.ones(len(lab), dtype=torch.float32, device=lab.device)
        for axis, (low, fraction, bins) in enumerate(positions):
            up = (corner >> axis) & 1
            flat = flat * bins + torch.clamp(low + up, max=bins - 1)
            share = share * (fraction if up else 1 - fraction)
        histograms.index_add_(0, flat, share.double())
    histograms = histograms.view(count, COLOR_DIM)
    totals = histograms.sum(dim=1, keepdim=True)
    signatures = torch.where(totals > 0, torch.sqrt(histograms / totals.clamp(min=1e-300)), 0.0)
    return signatures.float()


def _bin_position(values: Any, low: float, high: float, bins: int) -> tuple[Any, Any, int]:
    """``common.color._bin_position`` for a tensor."""
    import torch

    width = (high - low) / bins
    position = torch.clamp((values - low) / width - 0.5, 0, bins - 1)
    lower = torch.floor(position)
    return lower.long(), position - lower, bins


def save_jpeg_bytes(data: bytes, destination: str, path: str) -> None:
    """Write ``path``'s encoded thumbnail; a failure costs the thumbnail, never the row."""
    try:
        save_encoded_thumbnail(data, destination)
    except OSError as error:
        log.warning("no thumbnail for %s: %s", path, error.strerror or error)
