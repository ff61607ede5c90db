"""Decode images in worker processes while the main process runs the model.

Decoding, reading EXIF and cropping are CPU work that would otherwise stall the forward pass;
in separate processes they overlap with it, and a decoder that crashes takes down a worker,
not the run. Workers import Pillow and friends but never torch.

Results come back in submission order with at most ``window`` files in flight, so memory stays
bounded however slow the model is. If a worker dies (segfault, out-of-memory kill), the files
that were in flight are retried one at a time on a fresh pool: the one that breaks it again is
reported as having crashed its decoder, and the rest are indexed normally.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.decoding import DecodeError, decode_image
from common.preprocess import PixelRecipe
from common.records import build_record

log = logging.getLogger(__name__)


@dataclass
class ReadResult:
    """One file's outcome: its record and model-ready crop, or why it was skipped."""

    path: str
    record: dict[str, Any] | None = None
    crop: np.ndarray | None = None
    reason: str | None = None
    stage: str | None = None


def read_prepared(path: str, min_side: int | None, prepare: Callable[[Any], Any]) -> ReadResult:
    """Decode, describe and ``prepare`` one file for the model; never raises."""
    try:
        decoded = decode_image(path, min_side)
        record = build_record(path, decoded)
        prepared = prepare(decoded.image)
    except DecodeError as error:
        return ReadResult(path, reason=str(error), stage="decode")
    except OSError as error:  # vanished or became unreadable after the scan
        return ReadResult(path, reason=error.strerror or str(error), stage="read")
    except Exception as error:  # never let one file stop the run
        return ReadResult(path, reason=f"{type(error).__name__}: {error}", stage="describe")
    return ReadResult(path, record, prepared)


def read_file(path: str, recipe: PixelRecipe) -> ReadResult:
    """The worker's job: read one file into a record and a uint8 crop."""
    return read_prepared(path, recipe.size, recipe.crop)


def default_worker_count() -> int:
    """One core stays with the model; the rest decode (at least one worker)."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def _worker_setup() -> None:
    # Ctrl-C is the main process's to handle: it stops after the current batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger().setLevel(logging.ERROR)


class DecodePool:
    """A pool of decoding processes that hands results back in order."""

    def __init__(
        self, workers: int, recipe: PixelRecipe, reader: Callable[[str, PixelRecipe], ReadResult] = read_file
    ) -> None:
        self.workers = workers
        self.recipe = recipe
        self.reader = reader  # a module-level function, so spawned workers can import it
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn: a clean interpreter (fork after torch has started threads can deadlock).
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.workers, mp_context=context, initializer=_worker_setup)

    def _restart(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._start()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

    def read(self, paths: Iterable[str], window: int) -> Iterator[ReadResult]:
        """Results for ``paths`` in order, with at most ``window`` submitted ahead."""
        pending: deque[tuple[str, Future | None]] = deque()
        source = iter(paths)
        while True:
            try:
                while len(pending) < window:
                    path = next(source, None)
                    if path is None:
                        break
                    pending.append((path, None))  # listed before submit, so a crash there counts it
                    pending[-1] = (path, self.executor.submit(self.reader, path, self.recipe))
                if not pending:
                    return
                result = pending[0][1].result()
            except BrokenProcessPool:  # a worker died: on submit, or while we waited
                suspects = [p for p, _ in pending]
                pending.clear()
                log.warning("a decoder crashed; retrying the %d files in flight one at a time", len(suspects))
                self._restart()
                yield from self._isolate(suspects)
                continue
            pending.popleft()
            yield result

    def _isolate(self, suspects: list[str]) -> Iterator[ReadResult]:
        for path in suspects:
            try:
                yield self.executor.submit(self.reader, path, self.recipe).result()
            except BrokenProcessPool:
                self._restart()
                yield ReadResult(path, reason="the decoder crashed on this file", stage="decode")
