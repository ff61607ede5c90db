"""Decode images in worker processes while the main process runs the model.

Decoding, reading EXIF and cropping are CPU work that would otherwise stall the forward pass;
in separate processes they overlap with it, and a decoder that crashes or hangs takes down a
worker, not the run. Workers have Pillow and friends loaded but never torch (``START_METHOD``).

Results come back as files finish, with at most ``window`` files in flight: memory stays
bounded however slow the model is, and one slow file does not hold back the rest. Two things
can go wrong in a worker:

- it dies (segfault, out-of-memory kill): the files in flight that had not finished are
  retried one at a time on a fresh pool; the one that breaks it again is reported as having
  crashed its decoder, and the rest are indexed normally;
- it takes longer than ``time_limit`` on one file (a 200-megapixel picture, a decoder stuck in a
  loop): that file is reported as timed out, the workers are killed and restarted, and the
  other unfinished files in flight are read again.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any, NamedTuple

import numpy as np

from common.color import image_signature
from common.decoding import DecodeError, decode_image
from common.defaults import DEFAULT_TIME_LIMIT
from common.describe import build_record, with_place
from common.device_decoding import describe_jpeg
from common.discovery import has_storable_name
from common.preprocess import PixelRecipe
from common.thumbnails import save_thumbnail, thumbnail_path, thumbnail_picture

log = logging.getLogger(__name__)

# Why a file whose name is not valid UTF-8 (common.discovery.has_storable_name) is skipped.
UNSTORABLE_NAME = "the file name is not valid UTF-8 (another encoding?): rename the file to index it"
# A wait for a file shorter than this counts in full against the time limit (_OldestFileClock).
QUICK_WAIT = 0.01
# Workers are forked from a server process (multiprocessing's forkserver, Python 3.14's default
# on POSIX but macOS) that imported this module and the program's main script, and loaded the
# places, once (``start_decoding_server``). A fresh interpreter per worker spent 0.15-0.3 s and
# 0.25-0.4 s of CPU importing Pillow, numpy and the front script (its store's pandas or pyarrow)
# before it read a file, at every start and every restart after a crash or a timeout; a fork
# from the server reads its first file within ~20 ms.
# The server is itself a fresh interpreter, never a fork of this process, whose torch threads a
# fork would copy in a broken state. Windows and macOS spawn, as Python does there by default.
START_METHOD = (
    "forkserver" if sys.platform != "darwin" and "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
)
# The folder holding the ``common`` package, and what of this process's start-up data the
# decoding server takes (multiprocessing.spawn's names): its module path and its main script,
# by path or module name. Handed over in SERVER_SETUP_VARIABLE (common.decoding_server).
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_SETUP = ("sys_path", "init_main_from_path", "init_main_from_name")
SERVER_SETUP_VARIABLE = "IMAGEDB_DECODING_SERVER_SETUP"
# The server's socket, as multiprocessing names it in the temporary folder; the longest path a
# Unix socket may have (Linux: 108 bytes with the closing NUL; macOS, which spawns, 104); where
# it goes when the temporary folder is too long a path for it (``_socket_folder_short_enough``).
SOCKET_IN_TEMPORARY_FOLDER = os.path.join("pymp-XXXXXXXX", "listener-XXXXXXXX")
SOCKET_PATH_MAX = 107
SHORT_TEMPORARY_FOLDER = "/tmp"
# How far decoding workers lower their priority when the model shares the CPU with them
# (``DecodePool(yield_to_model=True)``): the most ``nice`` allows, so the scheduler hands a core
# back to a model thread the moment it wakes.
DECODER_NICENESS = 19


@dataclass
class ReadResult:
    """One file's outcome: its record and model-ready crop, or why it was skipped."""

    path: str
    record: dict[str, Any] | None = None
    crop: np.ndarray | None = None
    color: np.ndarray | None = None  # the colour signature (common.color)
    reason: str | None = None
    stage: str | None = None
    # Whether reading this version of the file again would fail the same way (common.failures).
    lasting: bool = False
    timed_out_after: float | None = None  # the time limit it ran past, for a timeout
    cpu_seconds: float = 0.0  # CPU time reading it took (in a worker: CPU the model did not get)


def read_prepared(
    path: str, min_side: int | None, prepare: Callable[[Any], Any], thumbnail_dir: str | None = None
) -> ReadResult:
    """Decode, describe (the place of its GPS position too) and ``prepare`` one file for the model
    (and thumbnail it); never raises."""
    started = time.process_time()
    result = _read_prepared(path, min_side, prepare, thumbnail_dir)
    result.cpu_seconds = time.process_time() - started
    return result


def _read_prepared(
    path: str, min_side: int | None, prepare: Callable[[Any], Any], thumbnail_dir: str | None
) -> ReadResult:
    if not has_storable_name(path):
        return ReadResult(path, reason=UNSTORABLE_NAME, stage="read", lasting=True)
    try:
        decoded = decode_image(path, min_side)
        record = with_place(build_record(path, decoded))
        prepared = prepare(decoded.image)
        # Colours are counted on the thumbnail's pixels: shrinking the full picture once, not twice.
        small = thumbnail_picture(decoded.image)
        color = image_signature(small)
        if thumbnail_dir:
            _thumbnail(small, thumbnail_dir, record)
    except DecodeError as error:
        return ReadResult(path, reason=str(error), stage="decode", lasting=error.lasting)
    except OSError as error:  # vanished or became unreadable after the scan
        return ReadResult(path, reason=error.strerror or str(error), stage="read")
    except Exception as error:  # never let one file stop the run; a bug here is retried after a fix
        return ReadResult(path, reason=f"{type(error).__name__}: {error}", stage="describe")
    return ReadResult(path, record, prepared, color)


def _thumbnail(image: Any, thumbnail_dir: str, record: dict[str, Any]) -> None:
    try:
        save_thumbnail(image, thumbnail_path(thumbnail_dir, record))
    except OSError as error:  # a missing thumbnail costs a gallery picture, never the file's row
        log.warning("no thumbnail for %s: %s", record["path"], error.strerror or error)


def read_file(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    """The worker's job: read one file into a record and a uint8 crop (and its thumbnail)."""
    return read_prepared(path, recipe.size, recipe.crop, thumbnail_dir)


def read_for_model_device(path: str, recipe: PixelRecipe, thumbnail_dir: str | None = None) -> ReadResult:
    """The worker's job when JPEGs are decoded where the model runs (``common.device_decoding``):
    such a JPEG is described from its header and handed over as its bytes (``ReadResult.crop`` an
    ``EncodedJpeg``, no colours: the device makes both, and the thumbnail); any other file is read
    as ``read_file`` reads it."""
    started = time.process_time()
    described = describe_jpeg(path) if has_storable_name(path) else None
    if described is None:
        return read_file(path, recipe, thumbnail_dir)
    decoded, encoded = described
    try:
        record = with_place(build_record(path, decoded))
    except Exception:  # read as a worker reads it, which says what is wrong
        return read_file(path, recipe, thumbnail_dir)
    return ReadResult(path, record, encoded, cpu_seconds=time.process_time() - started)


def default_worker_count(device: str = "cpu") -> int:
    """How many decoding processes to run beside a model on ``device``.

    On the CPU, one per core (up to 8): the model and the workers share the cores. Measured on 2
    cores: two workers index faster than one with the 32 px model (73 vs 47 images/s, decoding
    is the limit) and with ViT-B-32 too (12.2 vs 10.9): a worker only uses a core while it has a
    file, and the bounded window stops it getting ahead of the model, so it does not starve torch.
    With the model on a GPU the cores have nothing else to do, and a file costs a worker ~10-50 ms
    of CPU against well under 1 ms of GPU, so decoding gets every core but the main process's
    (up to 32)."""
    cores = os.cpu_count() or 1
    if device == "cpu":
        return max(1, min(8, cores))
    return max(1, min(32, cores - 1))


def start_decoding_server() -> None:
    """Start the process decoding workers are forked from, if it is not running yet.

    Indexing calls this before it loads the model, so the server's own start-up (a Python
    process importing the main script and the decoders, loading the places and making the
    colour transform: ~1 s of CPU) runs on another core while this process imports torch.

    The server first imports ``common.decoding_server``, which gives it this process's module
    path and main script (``SERVER_SETUP``): Python before 3.13 passes the server neither (the
    keys it hands over are not the ones the server reads), so outside the project's folder it
    preloaded nothing, and every worker imported the script itself at its first file (its
    store's pandas or pyarrow, ~0.3 s of CPU and ~100 MB each) and would have loaded the places
    (~0.6 s, ~80 MB each), again after every restart.
    """
    if START_METHOD != "forkserver":
        return
    import json
    from multiprocessing import forkserver, spawn

    forkserver.set_forkserver_preload(
        ["common.decoding_server", __name__, "common.places_loaded", "common.color_loaded"]
    )
    setup = {k: v for k, v in spawn.get_preparation_data("ignore").items() if k in SERVER_SETUP}
    server_environment = {
        # Where ``common`` is: the server imports it before it knows this process's module path.
        "PYTHONPATH": os.pathsep.join(filter(None, [PROJECT_ROOT, os.environ.get("PYTHONPATH")])),
        SERVER_SETUP_VARIABLE: json.dumps(setup),
    }
    # The server is started inside; it alone sees the variables.
    with _environment(server_environment), _socket_folder_short_enough():
        forkserver.ensure_running()


@contextlib.contextmanager
def _socket_folder_short_enough() -> Iterator[None]:
    """Temporary files under ``/tmp`` while multiprocessing makes the server's socket, if the
    temporary folder (``$TMPDIR``) is too long a path for one.

    The socket is ``<temporary folder>/pymp-XXXXXXXX/listener-XXXXXXXX``, and a Unix socket's
    path holds at most 107 bytes: a temporary folder longer than 75 (a cluster job's scratch
    folder, a build sandbox's) made every ``--index`` fail with "AF_UNIX path too long" before
    Python 3.14, which falls back to ``/tmp`` likewise (CPython issue 132124). The folder
    multiprocessing makes there is kept for the process's later sockets and removed at its exit.
    """
    import tempfile

    folder = tempfile.gettempdir()
    if len(os.fsencode(os.path.join(folder, SOCKET_IN_TEMPORARY_FOLDER))) <= SOCKET_PATH_MAX or not os.access(
        SHORT_TEMPORARY_FOLDER, os.W_OK | os.X_OK
    ):
        yield
        return
    log.debug("temporary folder %s is too long a path for a socket: the decoding server's goes in %s",
              folder, SHORT_TEMPORARY_FOLDER)  # fmt: skip
    before, tempfile.tempdir = tempfile.tempdir, SHORT_TEMPORARY_FOLDER
    try:
        yield
    finally:
        tempfile.tempdir = before


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``variables`` set, as it was again afterwards."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _worker_setup(decoder_messages: bool, niceness: int) -> None:
    # Ctrl-C is the main process's to handle: it stops after the current batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if niceness and hasattr(os, "nice"):  # POSIX; elsewhere the workers keep the parent's priority
        os.nice(niceness)
    logging.getLogger().setLevel(logging.ERROR)
    if not decoder_messages:
        # C decoders (libtiff above all) write their complaints about odd files straight to the
        # process's stderr, hundreds of lines for a folder of scans; the run's one line per
        # skipped file says what matters. Like other libraries' chatter, --verbose shows them.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    # A parent killed with -9 cannot shut its workers down; they notice and leave by themselves.
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    """Leave the moment the process that started the pool is gone. Its end of a pipe to this
    worker closes when it dies, whatever kills it; this worker's parent is the server, not it."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
        os._exit(0)


class DecodePool:
    """A pool of decoding processes that hands results back as files finish."""

    def __init__(
        self,
        workers: int,
        recipe: PixelRecipe,
        reader: Callable[[str, PixelRecipe, str | None], ReadResult] = read_file,
        time_limit: float | None = DEFAULT_TIME_LIMIT,
        thumbnail_dir: str | None = None,
        yield_to_model: bool = False,
    ) -> None:
        """``yield_to_model``: the model runs on the CPU beside the workers, so they decode at
        low priority. A forward pass splits each operation across torch's threads and waits for
        the slowest part, so a decoder that keeps one thread off its core for a scheduler tick
        stalls the whole operation. At low priority decoders run in the moments the model leaves
        a core idle (between operations, while it waits for a file) and give it back the moment a
        model thread wakes; the bounded window keeps them ahead all the same. Measured on 2 cores
        with ViT-B-32, with common.embedding's sleeping OpenMP threads: ~5-10 % more images/s in
        paired runs (noisy). While the model waits for a file, as when the time limit is running,
        nothing of this run competes with the workers, so the limit still measures decoding; a
        busy program at normal priority in the same scheduling group does outrank them, and the
        time they wait for a core is not counted against the limit (``_OldestFileClock``).
        """
        self.workers = workers
        self.recipe = recipe
        self.thumbnail_dir = thumbnail_dir
        self.reader = reader  # a module-level function, so workers can import it
        self.time_limit = time_limit or None  # 0 or None: no limit
        self.niceness = DECODER_NICENESS if yield_to_model else 0
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        start_decoding_server()
        decoder_messages = logging.getLogger().isEnabledFor(logging.DEBUG)  # --verbose
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context(START_METHOD),
            initializer=_worker_setup,
            initargs=(decoder_messages, self.niceness),
        )

    def _restart(self) -> None:
        self._stop()
        self.executor = self._start()

    def _stop(self) -> None:
        """Stop the workers now, whatever they are doing (a hung decoder never returns)."""
        processes = list(self._processes().values())
        self.executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=0.5)  # idle workers leave on the shutdown signal
            if process.is_alive():
                process.kill()
                process.join()

    def close(self) -> None:
        self._stop()

    def _processes(self) -> dict[int, Any]:
        """The executor's worker processes by pid (its private table: it offers no public one)."""
        return getattr(self.executor, "_processes", None) or {}

    def _scheduler_readings(self) -> dict[int, SchedulerReading]:
        return scheduler_readings(list(self._processes()))

    def read(self, paths: Iterable[str], window: int) -> Iterator[ReadResult]:
        """A result for each of ``paths``, in the order they finish, with at most ``window`` in flight.

        Finishing order, not the order given: a file that takes long (a 12-megapixel HEIC with no
        stored thumbnail costs ~0.4 s of CPU, a worker at low priority beside the model gets the CPU
        in moments) does not hold back the files behind it, so the model never waits for one file
        while others are ready. The time limit is on the oldest file in flight, which has been
        decoding longest: it is given up on once the caller has waited ``time_limit`` seconds in
        all, while it was the oldest, with nothing else finished, less any time the workers were
        kept off the cores. Waiting (not time since submission) is what counts, because while the
        caller waits the model is idle and the workers have the machine, unless another program
        takes it.
        """
        source = iter(paths)
        retry: deque[str] = deque()  # files to submit again, before the rest of ``source``
        pending: dict[Future, str] = {}  # in flight, oldest first
        finished: SimpleQueue[Future] = SimpleQueue()  # filled by the futures as they finish
        clock = _OldestFileClock(self.time_limit, self._scheduler_readings)
        suspects = 0  # files after a crash, retried one at a time to find the culprit
        while True:
            try:
                while len(pending) < (1 if suspects else window):
                    path = retry.popleft() if retry else next(source, None)
                    if path is None:
                        break
                    try:
                        future = self.executor.submit(self.reader, path, self.recipe, self.thumbnail_dir)
                    except BrokenProcessPool:  # it broke on an earlier file: this one goes again
                        retry.appendleft(path)
                        raise
                    pending[future] = path
                    future.add_done_callback(finished.put)
                if not pending:
                    return
                future = clock.next_finished(finished, pending)
                result = future.result()
            except BrokenProcessPool:  # a worker died: on submit, or while we waited
                self._restart()  # a broken pool has failed every unfinished future already
                if suspects and len(pending) == 1:  # this file, alone in the pool, broke it
                    suspects -= 1
                    yield ReadResult(
                        pending.popitem()[1], reason="the decoder crashed on this file", stage="decode", lasting=True
                    )
                    continue
                # Files that finished before the crash keep their results; the culprit is among the rest.
                done, unfinished = _split_finished(pending)
                pending.clear()
                yield from done
                if unfinished and not suspects:
                    log.warning("a decoder crashed; retrying the %d files in flight one at a time", len(unfinished))
                suspects = max(suspects, len(unfinished))
                retry.extendleft(reversed(unfinished))
                continue
            except FutureTimeout:  # the oldest file is still decoding after the time limit
                path = pending.pop(next(iter(pending)))
                done, unfinished = _split_finished(pending)
                pending.clear()
                self._restart()
                suspects = max(0, suspects - 1)
                yield ReadResult(
                    path, reason=f"timed out: still decoding after {self.time_limit:g} s", stage="decode",
                    lasting=True, timed_out_after=self.time_limit,
                )  # fmt: skip
                yield from done
                retry.extendleft(reversed(unfinished))  # innocent: read them again
                continue
            del pending[future]
            suspects = max(0, suspects - 1)
            yield result


class _OldestFileClock:
    """How long the caller has waited, with nothing finished, while the oldest file in flight was
    the one it is now; ``next_finished`` raises ``TimeoutError`` when that reaches the limit.

    Time a worker spent runnable but without a core is not counted (``read_schedulers``): the
    limit is on how long decoding takes, not on how busy the machine is. Beside a busy program
    at normal priority, low-priority workers get a few percent of a core; counting that wait
    would report good photos as timed out, and as lasting failures, never read again.
    """

    def __init__(self, limit: float | None, read_schedulers: Callable[[], dict[int, SchedulerReading]]) -> None:
        self.limit = limit
        self.read_schedulers = read_schedulers
        self.oldest: Future | None = None
        self.waited = 0.0

    def next_finished(self, finished: SimpleQueue[Future], pending: dict[Future, str]) -> Future:
        """The next finished future of ``pending`` (skipping any left over from a stopped pool)."""
        while True:
            oldest = next(iter(pending))
            if oldest is not self.oldest:
                self.oldest, self.waited = oldest, 0.0
            if self.limit is None:
                future = finished.get()
            elif self.waited >= self.limit:
                if oldest.done():  # it finished just as the limit ran out
                    return oldest
                raise FutureTimeout
            else:
                future = self._wait(finished, self.limit - self.waited)
            if future in pending:
                return future

    def _wait(self, finished: SimpleQueue[Future], remaining: float) -> Future | None:
        """The next finished future, or None after ``remaining`` seconds; adds to ``waited``.

        A wait shorter than ``QUICK_WAIT`` is counted in full without asking the system how
        long the workers waited for a core: most waits are that short (with the model on a GPU,
        one per file), and asking costs microseconds per worker.
        """
        started, queued, queued_at = time.monotonic(), None, 0.0
        try:
            try:
                return finished.get(timeout=min(remaining, QUICK_WAIT))
            except Empty:
                if remaining <= QUICK_WAIT:
                    return None
            queued, queued_at = self.read_schedulers(), time.monotonic()
            try:
                return finished.get(timeout=remaining - QUICK_WAIT)
            except Empty:
                return None  # the caller checks the limit again, less any time the workers had no core
        finally:
            took = time.monotonic() - started
            if queued is not None:
                took -= _longest_wait(queued, self.read_schedulers(), time.monotonic() - queued_at)
            # Not clamped at each wait: a wait Linux reported late (``_longest_wait``) may
            # exceed the one it is discounted from, and the rest comes off what was counted.
            self.waited = max(0.0, self.waited + took)


class SchedulerReading(NamedTuple):
    """What Linux says of one worker at one moment (``/proc/<pid>/schedstat`` and ``stat``)."""

    on_cpu: float  # seconds it has run, in all
    waited: float  # seconds it has been runnable without a core, in all (the waits that ended)
    runnable: bool  # running or waiting for a core now (not sleeping, not blocked on a read)


def _longest_wait(before: dict[int, SchedulerReading], after: dict[int, SchedulerReading], took: float) -> float:
    """The most time any one worker spent waiting for a core in the ``took`` seconds between two
    readings.

    Linux adds a wait to ``waited`` when it ends, so a worker still waiting at a reading shows
    only part of its waiting: beside busy programs a worker at the lowest priority waits
    hundreds of milliseconds at a time, and enough of that went uncounted to time out a good
    photo. A worker runnable at both readings (a decoder is, but for short reads from disk) was
    running or waiting in between, so all it did not run was waiting. For one that slept or was
    blocked in between (a drive not answering), the waits that ended are what is known: one that
    began before the first reading is reported whole, and may exceed ``took`` (the clock takes
    the rest off the waits that follow).

    The pool does not say which worker holds the oldest file; its workers share one priority,
    so they are kept off the cores alike, and the longest wait is the one to discount.
    """
    waits = [0.0]
    for pid in after.keys() & before.keys():
        start, end = before[pid], after[pid]
        if start.runnable and end.runnable:
            waits.append(took - (end.on_cpu - start.on_cpu))
        else:
            waits.append(end.waited - start.waited)
    return max(waits)


def scheduler_readings(pids: Iterable[int]) -> dict[int, SchedulerReading]:
    """Each process's ``SchedulerReading`` (Linux's schedstat and state); empty where the system
    does not say, so a time limit is plain waiting time there."""
    readings = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/schedstat", "rb") as stats:
                on_cpu, waited = stats.read().split()[:2]  # on CPU, waiting, timeslices (ns)
            with open(f"/proc/{pid}/stat", "rb") as stat:
                state = stat.read().rpartition(b")")[2].split()[0]  # after "pid (name)"
        except (OSError, IndexError, ValueError):  # not Linux, no schedstats, the worker just left
            continue
        readings[pid] = SchedulerReading(int(on_cpu) / 1e9, int(waited) / 1e9, state == b"R")
    return readings


def _split_finished(pending: dict[Future, str]) -> tuple[list[ReadResult], list[str]]:
    """The results of the files in flight that finished, and the paths of those that did not."""
    done, unfinished = [], []
    for future, path in pending.items():
        if future.done() and not future.cancelled() and future.exception() is None:
            done.append(future.result())
        else:
            unfinished.append(path)
    return done, unfinished
