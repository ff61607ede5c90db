"""Decode images in worker processes while the main process runs the model.

Decoding, reading EXIF and cropping are CPU work that would otherwise stall the forward pass;
in separate processes they overlap with it, and a decoder that crashes or hangs takes down a
worker, not the run. Workers have Pillow and friends loaded but never torch (``START_METHOD``).

Results come back as files finish, with at most ``window`` files in flight: memory stays
bounded however slow the model is, and one slow file does not hold back the rest. Two things
can go wrong in a worker:

- it dies (segfault, out-of-memory kill) on a file: the worker is replaced and the file read
  once more, by another; if that one dies on it too, the file is reported as having crashed its
  decoder, and the rest are indexed normally;
- it takes longer than ``time_limit`` on one file (a 200-megapixel picture, a decoder stuck in a
  loop): that file is reported as timed out and its worker killed and replaced; the others go
  on with their files.
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
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any, NamedTuple

import numpy as np

from common.color import image_signature
from common.decoding import DecodeError, decode_image
from common.defaults import DEFAULT_TIME_LIMIT
from common.describe import build_record, with_place
from common.device_decoding import describe_jpeg
from common.discovery import has_storable_name, is_under_root
from common.native_messages import descriptor_2_shown, send_to_null_device
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
    # The server is started inside; it alone sees the variables, and the terminal's stderr.
    with _environment(server_environment), _socket_folder_short_enough(), descriptor_2_shown():
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
        send_to_null_device(2)
    # A parent killed with -9 cannot shut its workers down; they notice and leave by themselves.
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    """Leave the moment the process that started the pool is gone. Its end of a pipe to this
    worker closes when it dies, whatever kills it; this worker's parent is the server, not it."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
        os._exit(0)


class _TimeRanOut(Exception):
    """The oldest file in flight ran past the time limit."""


@dataclass(eq=False)
class _Worker:
    """One decoding process, its end of the pipe to it, and the file it is reading (None: idle)."""

    process: Any
    connection: Any
    path: str | None = None
    sent_at: float = 0.0
    stopped: bool = False  # killed by the pool (a time limit): its death is no crash, its answer none
    gone: bool = False  # its pipe closed: it died, or is dying


class _Died(NamedTuple):
    """What the dispatcher says of a worker that died reading ``path``."""

    path: str


class _DispatchFailed(NamedTuple):
    """What the dispatcher says as it fails (a bug, or the system refusing a new process)."""

    error: Exception


Reader = Callable[[str, PixelRecipe, str | None], ReadResult]


def _serve(
    connection: Any,
    readers: tuple[Reader, Reader],
    recipe: PixelRecipe,
    thumbnail_dir: str | None,
    decoder_messages: bool,
    niceness: int,
) -> None:
    """A worker's life: read each path the pool sends with the reader it names (0: the pool's
    reader, 1: its lighter one), answer with its result, until the pool's end of the pipe closes."""
    _worker_setup(decoder_messages, niceness)
    while True:
        try:
            path, which = connection.recv()
        except (EOFError, OSError):
            return
        connection.send(readers[which](path, recipe, thumbnail_dir))


class DecodePool:
    """A pool of decoding processes that hands results back as files finish.

    Each worker has a pipe of its own and one file at a time; a dispatcher thread sends a worker
    its next file the moment it answers, and puts the answers in a queue the caller takes from,
    so decoding goes on while the caller runs the model. ``concurrent.futures``' process pool
    did this with a manager thread, a feeder thread, a future and callbacks for every file:
    0.29-0.46 ms of the main process's CPU a file here (2 workers, coco photos: JPEG headers
    and bytes, or crops) against 0.19-0.28 now. That bounds how many files a second a GPU
    host's one main process can take; on this 2-core machine, where decoding itself costs ~9 ms
    a file, indexing speed did not change measurably. Knowing each worker's file also means a
    crash names its file, and a time limit stops one worker, not all of them.
    """

    def __init__(
        self,
        workers: int,
        recipe: PixelRecipe,
        reader: Reader = read_file,
        time_limit: float | None = DEFAULT_TIME_LIMIT,
        thumbnail_dir: str | None = None,
        yield_to_model: bool = False,
        lighter_reader: Reader | None = None,
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

        ``lighter_reader``: one that leaves part of a file's work to the caller (JPEGs handed over
        as bytes for the model's device to decode, ``read_for_model_device``). A file goes to it
        while the caller keeps up, fewer than half of a read's window waiting for it to take them:
        the workers are then the limit, and do less. When more wait, the caller is the limit, and
        the file is read in full (``reader``). Each side takes as much of the work as it has room
        for, whichever is faster on a given machine.
        """
        self.workers = workers
        self.recipe = recipe
        self.thumbnail_dir = thumbnail_dir
        self.reader = reader  # module-level functions, so workers can import them
        self.lighter_reader = lighter_reader
        self.time_limit = time_limit or None  # 0 or None: no limit
        self.niceness = DECODER_NICENESS if yield_to_model else 0
        self._lock = threading.Lock()
        self._dispatch: _Dispatch | None = None  # the read in progress
        start_decoding_server()
        self._pool: list[_Worker] = [self._start_worker() for _ in range(workers)]

    def _start_worker(self) -> _Worker:
        context = multiprocessing.get_context(START_METHOD)
        ours, theirs = context.Pipe()
        decoder_messages = logging.getLogger().isEnabledFor(logging.DEBUG)  # --verbose
        process = context.Process(
            target=_serve,
            args=(
                theirs,
                (self.reader, self.lighter_reader or self.reader),
                self.recipe,
                self.thumbnail_dir,
                decoder_messages,
                self.niceness,
            ),
            name="imagedb-decoder",
            daemon=True,
        )
        process.start()
        theirs.close()
        return _Worker(process, ours)

    def close(self) -> None:
        """Stop the workers now, whatever they are doing (a hung decoder never returns), and the
        dispatcher of a ``read`` left unfinished (an exception in the caller), which would
        otherwise replace the workers as they go."""
        if self._dispatch is not None:
            self._dispatch.stop(replace_busy=False)
        for worker in self._pool:
            worker.connection.close()  # an idle worker leaves at once
        for worker in self._pool:
            worker.process.join(timeout=0.5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        self._pool = []

    def leave_out_under(self, folder: str) -> list[str]:
        """Take the files under ``folder`` that no worker has been sent yet out of the ``read``
        in progress, and return them: a drive that stopped answering, where each would wait out
        the time limit in turn (the files in flight there still do, one a worker at most)."""
        dispatch = self._dispatch
        if dispatch is None:
            return []
        with self._lock:
            left = [path for path in dispatch.todo if is_under_root(path, folder)]
            kept = [path for path in dispatch.todo if not is_under_root(path, folder)]
            dispatch.todo.clear()
            dispatch.todo.extend(kept)
        return left

    def _processes(self) -> dict[int, Any]:
        return {worker.process.pid: worker.process for worker in self._pool}

    def _scheduler_readings(self) -> dict[int, SchedulerReading]:
        return scheduler_readings(list(self._processes()))

    def read(self, paths: Iterable[str], window: int) -> Iterator[ReadResult]:
        """A result for each of ``paths``, in the order they finish, with at most ``window`` in
        flight or finished and not taken yet.

        Finishing order, not the order given: a file that takes long (a 12-megapixel HEIC with no
        stored thumbnail costs ~0.4 s of CPU, a worker at low priority beside the model gets the CPU
        in moments) does not hold back the files behind it, so the model never waits for one file
        while others are ready. The time limit is on the oldest file in flight, which has been
        decoding longest: it is given up on once the caller has waited ``time_limit`` seconds in
        all, while it was the oldest, with nothing else finished, less any time the workers were
        kept off the cores. Waiting (not time since submission) is what counts, because while the
        caller waits the model is idle and the workers have the machine, unless another program
        takes it. A worker that dies is replaced and its file read once more, by another; if that
        one dies on it too, the file is reported as having crashed its decoder.
        """
        dispatch = self._dispatch = _Dispatch(self, deque(paths), max(1, window))
        clock = _OldestFileClock(self.time_limit, self._scheduler_readings)
        crashed_once: set[str] = set()
        dispatch.start()
        try:
            while not dispatch.done():
                try:
                    item = clock.next_item(dispatch.finished, dispatch.oldest)
                except _TimeRanOut:
                    stopped = dispatch.stop_oldest(clock.oldest)
                    if stopped is not None:
                        yield ReadResult(
                            stopped, reason=f"timed out: still decoding after {self.time_limit:g} s", stage="decode",
                            lasting=True, timed_out_after=self.time_limit,
                        )  # fmt: skip
                    continue
                if isinstance(item, _DispatchFailed):
                    raise RuntimeError(f"decoding stopped: {item.error}") from item.error
                dispatch.taken()
                if isinstance(item, _Died):
                    if item.path in crashed_once:
                        yield ReadResult(
                            item.path, reason="the decoder crashed on this file", stage="decode", lasting=True
                        )
                    else:
                        log.warning("a decoder crashed on %s; reading it once more", item.path)
                        crashed_once.add(item.path)
                        dispatch.again(item.path)
                    continue
                yield item
        finally:
            dispatch.stop()


class _Dispatch:
    """One ``DecodePool.read``: the thread that sends each worker its next file and receives its
    answers, and what it shares with the caller (under the pool's lock)."""

    def __init__(self, pool: DecodePool, todo: deque[str], window: int) -> None:
        self.pool = pool
        self.todo = todo
        self.window = window
        self.outstanding = 0  # sent and not answered, or answered and not taken
        self.finished: SimpleQueue[ReadResult | _Died | _DispatchFailed] = SimpleQueue()
        self._wake_reader, self._wake_writer = multiprocessing.Pipe(duplex=False)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="imagedb-dispatch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def done(self) -> bool:
        with self.pool._lock:
            return not self.todo and self.outstanding == 0

    def taken(self) -> None:
        """The caller took one answer: room for one more file (the dispatcher is woken only if it
        was waiting for that room: a pipe write a file cost more than the rest of the taking)."""
        with self.pool._lock:
            was_full = self.outstanding >= self.window
            self.outstanding -= 1
        if was_full:
            self._wake()

    def again(self, path: str) -> None:
        """Read ``path`` once more, before the rest."""
        with self.pool._lock:
            self.todo.appendleft(path)
        self._wake()

    def oldest(self) -> tuple[_Worker, float] | None:
        """The worker with the file in flight longest, and when it was sent; None if none is."""
        with self.pool._lock:
            busy = [w for w in self.pool._pool if w.path is not None and not w.stopped]
            if not busy:
                return None
            worker = min(busy, key=lambda w: w.sent_at)
            return worker, worker.sent_at

    def stop_oldest(self, oldest: tuple[_Worker, float] | None) -> str | None:
        """Kill the worker still reading the file ``oldest`` names, and return that file (None if
        it answered meanwhile); the dispatcher replaces the worker."""
        if oldest is None:
            return None
        worker, sent_at = oldest
        with self.pool._lock:
            if worker.path is None or worker.sent_at != sent_at or worker.stopped:
                return None
            path, worker.path, worker.stopped = worker.path, None, True
            self.outstanding -= 1
        worker.process.kill()
        self._wake()
        return path

    def stop(self, replace_busy: bool = True) -> None:
        """End the dispatcher (once); with ``replace_busy``, a worker still reading a file of this
        call is replaced, so the next call gets no answer of this one, and so is one that died
        or was stopped (where a new one cannot be started now, the next call's dispatcher tries
        again, and says so if it cannot either)."""
        if self._stopping:
            return
        self._stopping = True
        self._wake()
        self._thread.join()
        self.pool._dispatch = None
        self._wake_reader.close()
        self._wake_writer.close()
        if not replace_busy:
            return
        for number, worker in enumerate(self.pool._pool):
            if worker.path is None and not (worker.stopped or worker.gone) and worker.process.is_alive():
                continue
            worker.connection.close()
            worker.process.kill()
            worker.process.join()
            try:
                self.pool._pool[number] = self.pool._start_worker()
            except OSError as error:
                log.debug("no new decoding worker now: %s", error)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_writer.send_bytes(b"")

    def _run(self) -> None:
        try:
            self._dispatch_files()
        except Exception as error:  # never leave the caller waiting for answers that cannot come
            log.debug("decoding dispatcher failed", exc_info=True)
            self.finished.put(_DispatchFailed(error))

    def _dispatch_files(self) -> None:
        from multiprocessing.connection import wait

        while not self._stopping:
            self._send_files()
            waiting = [self._wake_reader]
            for worker in self.pool._pool:
                waiting.append(worker.process.sentinel)
                if worker.path is not None and not worker.gone:
                    waiting.append(worker.connection)
            for ready in wait(waiting):
                if ready is self._wake_reader:
                    while self._wake_reader.poll():
                        self._wake_reader.recv_bytes()
                    continue
                for number, worker in enumerate(self.pool._pool):
                    if ready is worker.connection:
                        self._receive(worker)
                    elif ready == worker.process.sentinel:
                        self._replace(number, worker)

    def _send_files(self) -> None:
        """Each idle worker its next file, while the window has room (the sending itself outside
        the lock, which the caller takes at every answer)."""
        while True:
            with self.pool._lock:
                if not self.todo or self.outstanding >= self.window:
                    return
                idle = next((w for w in self.pool._pool if w.path is None and not (w.stopped or w.gone)), None)
                if idle is None:
                    return
                path = self.todo.popleft()
                idle.path, idle.sent_at = path, time.monotonic()
                self.outstanding += 1
            try:
                idle.connection.send((path, self._reader_for_next()))
            except OSError:  # it died: the sentinel says so next; the file goes to another
                with self.pool._lock:
                    idle.path, idle.gone = None, True
                    self.outstanding -= 1
                    self.todo.appendleft(path)

    def _reader_for_next(self) -> int:
        """Which reader reads the next file (``DecodePool``'s ``lighter_reader``): 1, the lighter,
        while fewer than half the window's files wait for the caller to take them."""
        if self.pool.lighter_reader is None:
            return 0
        return 1 if self.finished.qsize() < self.window / 2 else 0

    def _receive(self, worker: _Worker) -> None:
        try:
            result = worker.connection.recv()
        except (EOFError, OSError):  # it died: the sentinel says so
            worker.gone = True
            return
        with self.pool._lock:
            if worker.stopped:  # it answered as its time ran out: the time limit was reported
                return
            worker.path = None
        self.finished.put(result)

    def _replace(self, number: int, worker: _Worker) -> None:
        """A worker died: its file, unless the pool stopped it, is reported to the caller."""
        with self.pool._lock:
            path, worker.path = worker.path, None
            if path is not None and not worker.stopped:
                self.finished.put(_Died(path))
        worker.connection.close()
        worker.process.join()
        if self._stopping:  # the pool is closing: no new worker
            return
        replacement = self.pool._start_worker()
        with self.pool._lock:
            self.pool._pool[number] = replacement


class _OldestFileClock:
    """How long the caller has waited, with nothing finished, while the oldest file in flight was
    the one it is now; ``next_item`` raises ``_TimeRanOut`` when that reaches the limit.

    Time a worker spent runnable but without a core is not counted (``read_schedulers``): the
    limit is on how long decoding takes, not on how busy the machine is. Beside a busy program
    at normal priority, low-priority workers get a few percent of a core; counting that wait
    would report good photos as timed out, and as lasting failures, never read again.
    """

    def __init__(self, limit: float | None, read_schedulers: Callable[[], dict[int, SchedulerReading]]) -> None:
        self.limit = limit
        self.read_schedulers = read_schedulers
        self.oldest: Any = None
        self.waited = 0.0

    def next_item(self, finished: SimpleQueue, oldest: Callable[[], Any]) -> Any:
        """The next answer in ``finished``; ``oldest()`` names the file in flight longest."""
        while True:
            current = oldest()
            if current != self.oldest:
                self.oldest, self.waited = current, 0.0
            if self.limit is None or current is None:
                try:
                    return finished.get(timeout=QUICK_WAIT if current is None else None)
                except Empty:  # nothing in flight yet (the dispatcher is sending): look again
                    continue
            if self.waited >= self.limit:
                raise _TimeRanOut
            item = self._wait(finished, self.limit - self.waited)
            if item is not None:
                return item

    def _wait(self, finished: SimpleQueue, remaining: float) -> Any:
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
