"""A reader that kills its worker process on files named 'crash*': a stand-in for a decoder
that segfaults, importable by the pool's spawned workers."""

from __future__ import annotations

import os
from pathlib import Path

from common.preprocess import PixelRecipe
from common.workers import ReadResult, read_file


def read_or_die(path: str, recipe: PixelRecipe) -> ReadResult:
    if Path(path).name.startswith("crash"):
        os._exit(139)
    return read_file(path, recipe)
