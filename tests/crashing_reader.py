"""Readers for tests, importable by the pool's workers: one kills its worker process on
files named 'crash*' (a stand-in for a decoder that segfaults), one never returns on files named
'hang*' (a decoder stuck in a loop), or on every file once a file 'gone' is beside their folder
(a drive that stopped answering), one takes seconds on files named 'slow*' (a large HEIC), one
answers with the priority its worker runs at, one with the heavy libraries it has loaded."""

from __future__ import annotations

import os
import time
from pathlib import Path

from common.preprocess import PixelRecipe
from common.workers import ReadResult, read_file


def read_or_die(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    if Path(path).name.startswith("crash"):
        os._exit(139)
    return read_file(path, recipe, thumbnail_dir)


def read_small_or_hang_or_die(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    """``--repair``'s reader (``common.small_pictures``), with the hang and the crash above."""
    from common.small_pictures import read_small_picture

    if Path(path).name.startswith("crash"):
        os._exit(139)
    if Path(path).name.startswith("hang"):
        while True:
            time.sleep(60)
    return read_small_picture(path, recipe, thumbnail_dir)


def read_or_hang(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    if Path(path).name.startswith("hang"):
        while True:
            time.sleep(60)
    return read_file(path, recipe, thumbnail_dir)


SLOW_SECONDS = 3.0


def read_slowly(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    if Path(path).name.startswith("slow"):
        time.sleep(SLOW_SECONDS)
    return read_file(path, recipe, thumbnail_dir)


def read_worker_niceness(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    """Reads nothing: the answer's reason is the worker's niceness (``os.nice(0)``)."""
    return ReadResult(path, reason=str(os.nice(0)))


BUSY_CPU_SECONDS = 0.1


def read_on_the_first_core(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    """Moves to the lowest-numbered core this process may use (where a test keeps a busy program)
    and, on files named 'busy*', computes for BUSY_CPU_SECONDS of CPU time before reading."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if Path(path).name.startswith("busy"):
        started = time.process_time()
        while time.process_time() - started < BUSY_CPU_SECONDS:
            pass
    return read_file(path, recipe, thumbnail_dir)


def read_heavy_libraries(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    """Reads the file, then answers with the heavy libraries its worker has loaded (comma-separated)."""
    import sys

    read_file(path, recipe, thumbnail_dir)
    heavy = ("torch", "open_clip", "pyarrow", "pandas", "lancedb", "faiss")
    return ReadResult(path, reason=",".join(name for name in heavy if name in sys.modules))


def read_what_came_from_the_server(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    """Reads nothing: answers with what its worker had before this file, loaded by another
    process (the server it was forked from): 'script' for the program's main script (which
    records the process that imported it as IMPORTED_IN), 'places' for the places, 'colour'
    for the sRGB -> Lab transform of colour signatures."""
    import sys

    from common.color import _srgb_to_lab
    from common.places import gazetteer

    main = sys.modules.get("__mp_main__")
    had = ["script"] if getattr(main, "IMPORTED_IN", os.getpid()) != os.getpid() else []
    had += ["places"] if gazetteer.cache_info().currsize else []
    had += ["colour"] if _srgb_to_lab.cache_info().currsize else []
    return ReadResult(path, reason=",".join(had))


def read_or_hang_once_gone(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    if (Path(path).parent.parent / "gone").exists():
        while True:
            time.sleep(60)
    return read_or_hang(path, recipe, thumbnail_dir)
