"""open_clip's evaluation preprocessing split in two, so decoding can run in worker processes.

open_clip prepares an image with torchvision: resize the shortest side (bicubic), centre-crop,
convert to a tensor, normalise. The first two steps are plain Pillow operations; ``PixelRecipe``
performs them as torchvision does, without importing torch, so worker processes can
decode and crop while the main process runs the model. ``to_model_input`` does the last two
steps on a whole batch at once. The result equals open_clip's own transform but for a few
pixels a level or two apart (``PixelRecipe.crop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

_PIL_FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
# How far each filter reaches, in source pixels at scale 1 (Pillow's ``support``).
_FILTER_REACH = {"bicubic": 2.0, "bilinear": 1.0}


@dataclass(frozen=True)
class PixelRecipe:
    """The Pillow half of a square 'shortest'-mode open_clip transform: resize, then centre-crop."""

    size: int
    interpolation: str
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def from_preprocess_cfg(cls, cfg: dict[str, Any]) -> PixelRecipe | None:
        """The recipe for a model's preprocess config, or None when it is not the common case
        (non-square input, 'longest'/'squash' resize, other filters): those keep open_clip's
        transform, run in the main process."""
        size = cfg.get("size", 224)
        if isinstance(size, tuple | list):
            if len(size) != 2 or size[0] != size[1]:
                return None
            size = size[0]
        interpolation = cfg.get("interpolation", "bicubic")
        if cfg.get("resize_mode", "shortest") != "shortest" or interpolation not in _PIL_FILTERS:
            return None
        return cls(int(size), interpolation, tuple(cfg["mean"]), tuple(cfg["std"]))

    def crop_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Where a ``width`` x ``height`` picture is cropped, as torchvision resizes and
        centre-crops it: the size it is resized to (shortest side ``size``), and the crop's left
        and top edges in that (the workers' Pillow and the GPU's resize alike)."""
        if width <= height:
            new_width, new_height = self.size, int(self.size * height / width)
        else:
            new_width, new_height = int(self.size * width / height), self.size
        top = round((new_height - self.size) / 2.0)  # as torchvision: Python round()
        left = round((new_width - self.size) / 2.0)
        return new_width, new_height, left, top

    def crop(self, image: Image.Image) -> np.ndarray:
        """Resize the shortest side to ``size`` and centre-crop, as torchvision does; uint8 HxWx3.

        Only the pixels the crop keeps are computed: resizing the whole picture, then throwing a
        third of it away (a 3:2 photo), cost a decoding worker ~1.4 ms of its ~10 an image here,
        this ~1.05. Pillow resizes in two passes, across the rows, then down the columns (Pillow
        13 goes down first when the height shrinks much more than the width); ``resize`` given
        the crop's box picks the cheaper order for the crop, which moved pixels by up to 15
        levels on coco-mini + camera. So the passes are made here one at a time, across first,
        each over the crop's span of its axis, the rows the second needs cut first (whole
        pixels: exact). What is left: Pillow takes a box's edges as 32-bit floats, which tips
        the rounding of a few pixels lying next to half a level (at most 0.2 % of a 224 px crop
        on coco-mini + camera, by one or two levels), and where Pillow 13 would go down first,
        the other order rounds some pixels a level apart.
        """
        width, height = image.size
        new_width, new_height, left, top = self.crop_box(width, height)
        if (new_width, new_height) == (width, height):
            cropped = image.crop((left, top, left + self.size, top + self.size))
            return np.asarray(cropped.convert("RGB"), dtype=np.uint8)
        resample = _PIL_FILTERS[self.interpolation]
        x_scale, y_scale = width / new_width, height / new_height
        upper, lower = top * y_scale, (top + self.size) * y_scale  # the crop's rows in the picture
        reach = _FILTER_REACH[self.interpolation] * max(y_scale, 1.0) + 1  # + 1: rounding, to spare
        first, last = max(0, math.floor(upper - reach)), min(height, math.ceil(lower + reach))
        rows = image if (first, last) == (0, height) else image.crop((0, first, width, last))
        across = rows.resize(
            (self.size, last - first), resample, box=(left * x_scale, 0, (left + self.size) * x_scale, last - first)
        )
        down = across.resize((self.size, self.size), resample, box=(0, upper - first, self.size, lower - first))
        return np.asarray(down.convert("RGB"), dtype=np.uint8)


def to_model_input(recipe: PixelRecipe, crops: list[Any], device: str = "cpu") -> Any:
    """Stack uint8 crops (H×W×3 arrays, or tensors already on ``device``) into the normalised
    float (N, 3, H, W) tensor the model takes, on ``device``.

    On a GPU the uint8 batch crosses the bus from pinned memory (a quarter of the float bytes,
    copied without blocking) and is normalised there, so the main process's one core is not
    spent on per-pixel float arithmetic while the GPU waits.
    """
    import torch

    on_host = [i for i, crop in enumerate(crops) if isinstance(crop, np.ndarray)]
    if len(on_host) == len(crops):
        batch = _to_device(torch.from_numpy(np.stack(crops)), device)  # (N, H, W, 3), contiguous
    else:  # some made where the model runs already (common.device_decoding): the rest join them
        placed = list(crops)
        if on_host:
            uploaded = _to_device(torch.from_numpy(np.stack([crops[i] for i in on_host])), device)
            for i, crop in zip(on_host, uploaded, strict=True):
                placed[i] = crop
        batch = torch.stack(placed)
    batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(recipe.mean, dtype=torch.float32, device=batch.device).view(1, 3, 1, 1)
    std = torch.tensor(recipe.std, dtype=torch.float32, device=batch.device).view(1, 3, 1, 1)
    return batch.sub_(mean).div_(std)


def _to_device(batch: Any, device: str) -> Any:
    if device == "cuda":
        return batch.pin_memory().to(device, non_blocking=True)
    return batch if device == "cpu" else batch.to(device)
