"""Indexed files decoded again at a thumbnail's size, by ``--repair``: their lost thumbnails
and colour signatures made again.

They are decoded in the decoding processes indexing uses (``common.workers``), not in threads of
this one: a repair runs after something went wrong, a disk among the likely things, and a file
that stalls its read (a failing sector, a network share gone quiet) or hangs or crashes its
decoder cost the repair itself. A thread blocked on it could not be stopped, so the repair never
ended, Ctrl-C included; in a worker, the file is given up on after ``--time-limit`` and its
worker killed and replaced, and a crash costs that file alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from common.preprocess import PixelRecipe
from common.thumbnails import STAND_IN_SIDE, save_thumbnail, small_picture_of, thumbnail_path
from common.workers import DecodePool, Reader, ReadResult, default_worker_count

# What a worker is asked for: at least a thumbnail's stand-in on the shortest side (the normalising
# half of a recipe is the model's, unused here).
SMALL_PICTURE = PixelRecipe(STAND_IN_SIDE, "bilinear", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def read_small_picture(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    """A worker's job: the file decoded at ``recipe.size`` px on its shortest side (reduced-size
    paths where the format has one), shrunk to a thumbnail's size, as RGB pixels (``crop``);
    nothing described, nothing written."""
    try:
        picture, why_not = small_picture_of(path, recipe.size)
    except Exception as error:  # never let one file stop the repair
        return ReadResult(path, reason=f"{type(error).__name__}: {error}", stage="decode")
    if picture is None:
        return ReadResult(path, reason=why_not, stage="decode")
    return ReadResult(path, crop=np.asarray(picture.convert("RGB")))


def small_pictures_of(
    records: list[dict], time_limit: float | None, reader: Reader = read_small_picture
) -> Iterator[tuple[dict, Any, str | None]]:
    """(record, its file's picture at a thumbnail's size or None, why not) for each of
    ``records``, as the files finish decoding (``reader``, a module's function the workers
    import), each given up on after ``time_limit`` seconds (0 or None: no limit). Workers that
    cannot start or stop answering leave the files not read yet without a picture, saying why:
    the thumbnails and colours of a repair are worth less than the rows it commits after them."""
    from PIL import Image

    if not records:
        return
    by_path = {record["path"]: record for record in records}
    try:
        pool = DecodePool(
            min(default_worker_count(), len(by_path)), SMALL_PICTURE, reader=reader, time_limit=time_limit
        )
    except (OSError, RuntimeError) as error:  # no /dev/shm, no room for a process: the repair goes on
        yield from ((record, None, f"the decoding workers could not start: {error}") for record in records)
        return
    answered: set[str] = set()
    try:
        for result in pool.read(by_path, window=2 * pool.workers):
            answered.add(result.path)
            record = by_path[result.path]
            if result.reason:
                yield record, None, f"the file cannot be read: {result.reason}"
            else:
                yield record, Image.fromarray(result.crop), None
    except RuntimeError as error:  # the pool's own failure ('decoding stopped: …'), not a file's
        yield from ((by_path[path], None, str(error)) for path in by_path if path not in answered)
    finally:
        pool.close()


def make_missing_thumbnails(
    thumbnail_dir: str, records: list[dict], time_limit: float | None, progress: bool | None = None
) -> tuple[int, list[tuple[str, str]]]:
    """Make the thumbnails of ``records``' files (``--repair``), each decoded at a thumbnail's
    size (``small_pictures_of``); how many were made, and (path, why) for each file that could
    not be read."""
    from tqdm import tqdm

    made, unread = 0, []
    pictures = small_pictures_of(records, time_limit)
    for record, picture, why_not in tqdm(
        pictures, total=len(records), unit="file", desc="thumbnails", leave=False,
        disable=None if progress is None else not progress,
    ):  # fmt: skip
        if picture is not None:
            try:
                save_thumbnail(picture, thumbnail_path(thumbnail_dir, record))
            except OSError as error:
                why_not = f"cannot write its thumbnail: {error.strerror or error}"
        if why_not is None:
            made += 1
        else:
            unread.append((record["path"], why_not))
    return made, sorted(unread)
