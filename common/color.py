"""Colour signatures: what colours a picture is made of, comparable by a dot product.

A signature is a histogram of the picture's pixels in CIE Lab (perceptual: equal steps look
about equally different), with ``L_BINS`` × ``A_BINS`` × ``B_BINS`` bins and soft (trilinear)
binning so a colour on a bin edge counts in both neighbours. The normalised histogram goes
through the Hellinger transform (element-wise square root): the result is a unit vector, the
Euclidean distance between two of them is √2 × their Hellinger distance, and their dot product
(the score) is the Bhattacharyya coefficient — 1 for the same colours in the same proportions,
0 for nothing in common. A query of named colours is a signature too, so colour search is a
nearest-neighbour search like any other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

import numpy as np
from PIL import Image, ImageColor

L_BINS, A_BINS, B_BINS = 4, 8, 8
COLOR_DIM = L_BINS * A_BINS * B_BINS
AB_RANGE = (-100.0, 100.0)  # sRGB colours fall inside this in a* and b*
SAMPLE_SIDE = 64  # pictures are shrunk to this before counting: proportions, not detail


class ColorError(ValueError):
    """A colour the user typed that cannot be understood."""


@cache
def _srgb_to_lab():
    from PIL import ImageCms

    return ImageCms.buildTransformFromOpenProfiles(
        ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB"
    )


def lab_pixels(image: Image.Image) -> np.ndarray:
    """(N, 3) float Lab values (L* 0-100, a*, b* signed) of an RGB picture."""
    from PIL import ImageCms

    lab = ImageCms.applyTransform(image.convert("RGB"), _srgb_to_lab())
    raw = np.asarray(lab).reshape(-1, 3)
    out = np.empty(raw.shape, dtype=np.float32)
    out[:, 0] = raw[:, 0] * (100.0 / 255.0)
    out[:, 1:] = raw[:, 1:].view(np.int8)  # Pillow stores a* and b* as signed bytes
    return out


def signature_from_lab(lab: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The Hellinger-transformed soft Lab histogram of ``lab`` points (optionally weighted)."""
    weights = np.ones(len(lab), dtype=np.float32) if weights is None else weights.astype(np.float32)
    positions = [
        _bin_position(lab[:, 0], 0.0, 100.0, L_BINS),
        _bin_position(lab[:, 1], *AB_RANGE, A_BINS),
        _bin_position(lab[:, 2], *AB_RANGE, B_BINS),
    ]
    # Trilinear: each point spreads over the 8 surrounding bin centres, all 8 corners at once
    # (one array operation per axis, not 24 small ones: this runs for every file indexed).
    upper = (np.arange(8)[:, None] >> np.arange(3)) & 1  # (corner, axis): 0 lower bin, 1 upper
    flat = np.zeros((8, len(lab)), dtype=np.int64)
    share = np.broadcast_to(weights, flat.shape).copy()
    for axis, (low, frac, bins) in enumerate(positions):
        up = upper[:, axis, None]
        flat = flat * bins + np.minimum(low + up, bins - 1)  # low is already >= 0
        share *= np.where(up == 1, frac, 1 - frac)
    histogram = np.bincount(flat.ravel(), weights=share.ravel(), minlength=COLOR_DIM)
    total = histogram.sum()
    if total <= 0:
        return np.zeros(COLOR_DIM, dtype=np.float32)
    return np.sqrt(histogram / total).astype(np.float32)


def _bin_position(values: np.ndarray, low: float, high: float, bins: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Lower bin index and the fraction towards the next, measured between bin centres."""
    width = (high - low) / bins
    position = np.clip((values - low) / width - 0.5, 0, bins - 1)
    lower = np.floor(position).astype(np.int64)
    return lower, (position - lower).astype(np.float32), bins


def sample_size(size: tuple[int, int]) -> tuple[int, int]:
    """The (width, height) a ``size`` picture's colours are counted at: ``SAMPLE_SIDE`` px on its
    longest side, never enlarged."""
    scale = SAMPLE_SIDE / max(size)
    if scale >= 1:
        return size
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def image_signature(image: Image.Image) -> np.ndarray:
    size = sample_size(image.size)
    small = image.resize(size, Image.Resampling.BOX) if size != image.size else image
    return signature_from_lab(lab_pixels(small))


def parse_colors(specs: Sequence[str]) -> list[tuple[tuple[int, int, int], float]]:
    """'#1e90ff', 'dodgerblue', '#1e90ff:0.7' (a weight), several per word separated by commas."""
    colors = []
    for spec in (part.strip() for word in specs for part in word.split(",")):
        if not spec:
            continue
        name, _, weight_text = spec.partition(":")
        try:
            rgb = ImageColor.getrgb(name.strip())[:3]
        except ValueError:
            raise ColorError(f"not a colour: {name!r} (use #rrggbb or a CSS colour name)") from None
        try:
            weight = float(weight_text) if weight_text else 1.0
        except ValueError:
            raise ColorError(f"not a weight: {weight_text!r} in {spec!r}") from None
        if not 0 < weight < math.inf:
            raise ColorError(f"a colour's weight must be a number above 0: {spec!r}")
        colors.append((rgb, weight))
    if not colors:
        raise ColorError("no colour given")
    return colors


# A typed colour stands for its neighbourhood: "red" should find brick, crimson and a red
# tint, not only (255, 0, 0). Each query colour is spread as a Gaussian of this width in Lab.
QUERY_SPREAD = 12.0
_OFFSETS = np.array([(x, y, z) for x in (-2, -1, 0, 1, 2) for y in (-2, -1, 0, 1, 2) for z in (-2, -1, 0, 1, 2)])
_OFFSET_WEIGHTS = np.exp(-0.5 * (_OFFSETS**2).sum(axis=1))


def colors_signature(colors: Sequence[tuple[tuple[int, int, int], float]]) -> np.ndarray:
    """The signature of a query picture made of ``colors`` in the given proportions."""
    swatch = Image.new("RGB", (len(colors), 1))
    swatch.putdata([rgb for rgb, _ in colors])
    centres = lab_pixels(swatch)
    points = (centres[:, None, :] + QUERY_SPREAD * _OFFSETS[None, :, :]).reshape(-1, 3)
    # Only the proportions count: scaled to the largest in float64 first, so weights of any size
    # ('red:1e300', 'red:1e-50') neither overflow nor vanish in the float32 histogram.
    proportions = np.array([w for _, w in colors], dtype=np.float64)
    proportions /= proportions.max()
    weights = (proportions[:, None] * _OFFSET_WEIGHTS[None, :]).ravel()
    return signature_from_lab(points.astype(np.float32), weights)


# How many of a query's best matches are re-ranked by colour when the two are combined.
COMBINED_CANDIDATES = 100


def rerank_by_color(hits: list, signatures: dict[str, np.ndarray], signature: np.ndarray, limit: int) -> list:
    """Combine a text/image query's hits with colour: score = query score × (1 + colour score) / 2.

    Colour can at most halve a match's score, so what the query asked for leads and colour
    decides among comparable matches. Each hit keeps both scores in ``extra``, beside what was
    there (its companions, its ``--distinct`` alike).
    """
    from common.store import Hit, in_rank_order, rounded_score

    combined = []
    for hit in hits:
        stored = signatures.get(hit.record["path"])
        color = rounded_score(np.dot(signature, stored)) if stored is not None else 0.0
        score = rounded_score(hit.score * (1 + color) / 2)
        combined.append(Hit(hit.record, score, {**hit.extra, "query_score": hit.score, "color_score": color}))
    return in_rank_order(combined)[:limit]
