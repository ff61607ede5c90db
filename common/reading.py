"""Reading many files on a few threads, without waiting forever for a drive.

Hashing a file, sampling its bytes and reading its header are reading: threads overlap the
disk's latency (hashlib and file reads let go of the GIL), which a cold disk or a network share
makes the whole cost. And a read that never returns (a network or cloud drive that stopped
answering) must not hang the run: the decoders have a time limit (``--time-limit``), and so
does this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from queue import Empty, SimpleQueue
from typing import TypeVar

log = logging.getLogger(__name__)

S = TypeVar("S")
T = TypeVar("T")

READING_THREADS = 4


def read_each(
    read: Callable[[S], T | None], items: list[S], patience: float | None, *, doing: str, left: str
) -> list[T | None]:
    """``read`` of each of ``items`` (None where it cannot be read), on ``READING_THREADS``
    threads, in order.

    Once no read has finished for ``patience`` seconds, the items not read yet count as not
    readable now, and one warning says so: what the run was ``doing`` and what is ``left`` to
    happen to them. The threads are daemons, so one stuck in the kernel holds neither the run
    nor its exit.
    """
    if not items:
        return []
    tasks: SimpleQueue[tuple[int, S]] = SimpleQueue()
    for task in enumerate(items):
        tasks.put(task)
    finished: SimpleQueue[tuple[int, T | None]] = SimpleQueue()
    given_up = threading.Event()

    def work() -> None:
        while not given_up.is_set():
            try:
                number, item = tasks.get_nowait()
            except Empty:
                return
            finished.put((number, read(item)))

    for _ in range(min(READING_THREADS, len(items))):
        threading.Thread(target=work, name="imagedb-reading", daemon=True).start()
    results: list[T | None] = [None] * len(items)
    for received in range(len(items)):
        try:
            number, result = finished.get(timeout=patience)
        except Empty:
            given_up.set()
            log.warning(
                "no file read for %g s while %s (a drive not answering?): the %d file(s) not read yet are %s",
                patience, doing, len(items) - received, left,
            )  # fmt: skip
            break
        results[number] = result
    return results


def any_within(test: Callable[[S], bool], items: Iterable[S], patience: float | None) -> bool | None:
    """Whether ``test`` holds for any of ``items``, asked in order on a daemon thread until one
    does (``each_within``: an answer that it does not counts too, the drive is there); None once
    no answer has come for ``patience`` seconds (a drive not answering: the thread, stuck in the
    kernel, holds neither the run nor its exit)."""
    try:
        return any(each_within(map(test, items), patience))
    except NoAnswer:
        return None


class NoAnswer(Exception):
    """A drive that gave no answer in the time it was given (``each_within``), and the thread
    left waiting on it (``still_waiting``: alive until the drive answers again)."""

    def __init__(self, still_waiting: threading.Thread) -> None:
        super().__init__("no answer")
        self.still_waiting = still_waiting


def each_within(items: Iterable[T], patience: float | None) -> Iterator[T]:
    """``items``, drawn one after the other on a daemon thread; NoAnswer is raised once none has
    come for ``patience`` seconds (None: however long it takes): a walk of a drive that stopped
    answering, whose thread, stuck in the kernel, holds neither the run nor its exit. Whatever
    ``items`` raises is raised here; the thread stops drawing once this iterator is closed."""
    if patience is None:
        yield from items
        return
    end = object()
    drawn: SimpleQueue[tuple[object, BaseException | None]] = SimpleQueue()
    closed = threading.Event()

    def draw() -> None:
        try:
            for item in items:
                if closed.is_set():
                    return
                drawn.put((item, None))
            drawn.put((end, None))
        except BaseException as error:  # raised in the caller's thread
            drawn.put((end, error))

    drawing = threading.Thread(target=draw, name="imagedb-walking", daemon=True)
    drawing.start()
    try:
        while True:
            try:
                item, error = drawn.get(timeout=patience)
            except Empty:
                raise NoAnswer(drawing) from None
            if error is not None:
                raise error
            if item is end:
                return
            yield item  # type: ignore[misc]  # not ``end``: one of ``items``
    finally:
        closed.set()


def answer_within(call: Callable[[], T], patience: float | None) -> tuple[bool, T | None]:
    """``call()`` on a daemon thread: (True, what it returned) once it returns, (False, None)
    when it has not in ``patience`` seconds (None: however long it takes): a look at a drive that
    stopped answering, whose thread, stuck in the kernel, holds neither the run nor its exit.
    What it raises is raised here."""
    return answers_within([call], patience)[0]


def answers_within(calls: list[Callable[[], T]], patience: float | None) -> list[tuple[bool, T | None]]:
    """Each of ``calls`` as ``answer_within`` says, all asked at once: folders on one share that
    stopped answering cost ``patience`` seconds together, not each. What one raises is raised here."""
    answers: SimpleQueue[tuple[int, T | None, BaseException | None]] = SimpleQueue()

    def ask(number: int, call: Callable[[], T]) -> None:
        try:
            answers.put((number, call(), None))
        except BaseException as error:  # raised in the caller's thread
            answers.put((number, None, error))

    for number, call in enumerate(calls):
        threading.Thread(target=ask, args=(number, call), name="imagedb-looking", daemon=True).start()
    results: list[tuple[bool, T | None]] = [(False, None)] * len(calls)
    deadline = None if patience is None else time.monotonic() + patience
    for _ in calls:
        try:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            number, value, error = answers.get(timeout=wait)
        except Empty:
            break
        if error is not None:
            raise error
        results[number] = (True, value)
    return results
