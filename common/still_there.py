"""Which indexed files are still there, asked of drives that may not answer.

``--check`` and ``--repair`` look for every indexed file. On a network share that stopped
answering (a NAS switched off, a VPN down, a hard NFS mount whose server is gone) the first look
at one of its files never returned, and neither did the command. Here the looks run on a thread
of their own (``common.reading.each_within``); once none has answered for ``patience`` seconds,
the outermost folder above the file waited on that does not answer either (the share's mount,
mostly: asked from the top down) is taken as silent. Its files are not looked for, and the looks
go on with the rest: one wait a silent drive, however many files it holds.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable, Iterator

from common.discovery import NOT_ANSWERING, OutOfReach, is_under_root, no_answer_in
from common.reading import NoAnswer, answer_within, each_within

# How often the looks say they are going (a heartbeat, not a look each): a gap longer than the
# patience then means one look that did not return, at a queue's cost per tenth of a second.
HEARTBEAT_SECONDS = 0.1


def look_for_files(paths: Iterable[str], patience: float | None) -> tuple[list[str], list[OutOfReach]]:
    """Of ``paths``, those that are not there (sorted); and those not looked for, by the folder
    whose drive did not answer in ``patience`` seconds (None: however long it takes)."""
    pending = list(dict.fromkeys(paths))
    gone: list[str] = []
    silent: list[OutOfReach] = []
    while pending:
        there: list[bool] = []
        looks = each_within(_looks_going(pending, there), patience)
        waited_on = None
        try:
            for _ in looks:
                pass
        except NoAnswer:
            waited_on = len(there)  # the look that did not return
        finally:
            looks.close()
        looked = there[: len(pending) if waited_on is None else waited_on]
        gone += [path for path, is_there in zip(pending, looked, strict=False) if not is_there]
        if waited_on is None or waited_on >= len(pending):
            break
        folder = silent_folder_above(pending[waited_on], patience)
        rest = pending[waited_on:]
        silent.append(
            OutOfReach(folder, NOT_ANSWERING, no_answer_in(patience), [p for p in rest if is_under_root(p, folder)])
        )
        pending = [path for path in rest if not is_under_root(path, folder)]
    return sorted(gone), silent


def _looks_going(paths: list[str], there: list[bool]) -> Iterator[None]:
    """Whether each of ``paths`` is there, appended to ``there`` in order; a heartbeat yielded
    at most every ``HEARTBEAT_SECONDS``, and at the end."""
    beat = time.monotonic()
    for path in paths:
        there.append(os.path.lexists(path))
        if time.monotonic() - beat > HEARTBEAT_SECONDS:
            beat = time.monotonic()
            yield None
    yield None


def silent_folder_above(path: str, patience: float | None) -> str:
    """The outermost folder above ``path`` whose look gives no answer in ``patience`` seconds,
    asked from the top down (``/mnt`` answers; ``/mnt/nas``, the share, does not); ``path``
    itself when each of them answers (a look that was slow once)."""
    above = []
    folder = os.path.dirname(path)
    while os.path.dirname(folder) != folder:
        above.append(folder)
        folder = os.path.dirname(folder)
    for folder in reversed(above):
        answered, _ = answer_within(functools.partial(os.path.lexists, folder), patience)
        if not answered:
            return folder
    return path


class SilentDrives:
    """The folders found not answering in one run (``silent_folder_above``), each asked once:
    a file under one is taken as on a drive not answering without a look that would wait."""

    def __init__(self, patience: float | None) -> None:
        self.patience = patience
        self.folders: list[str] = []

    def folder_not_answering(self, path: str) -> str | None:
        """The folder above ``path`` whose drive does not answer, if any: one found before, or
        found now when whether ``path`` is there gets no answer in ``patience`` seconds."""
        known = next((folder for folder in self.folders if is_under_root(path, folder)), None)
        if known is not None:
            return known
        answered, _ = answer_within(functools.partial(os.path.lexists, path), self.patience)
        if answered:
            return None
        self.folders.append(silent_folder_above(path, self.patience))
        return self.folders[-1]
