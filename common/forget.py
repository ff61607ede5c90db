"""``--forget DIR``: drop what the index holds of a folder that is gone for good, or not wanted.

Indexing never drops the rows of a folder it cannot see (an unplugged drive keeps its rows: see
``common.discovery.split_vanished``), and a folder that is not there cannot be named to
``--index`` at all, so a drive sold or a share retired would otherwise stay in the results for
good. Forgetting touches no file: it removes rows, their thumbnails and the failures listed
under the folders, whether the folders exist or not. Nor does it wait on one: the share most
often retired is one that stopped answering, and a look there (is a file still there?) waits
no longer than a decoder would (``--time-limit``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from common.discovery import is_under_root
from common.failures import FailureReport
from common.reading import any_within
from common.store import ImageStore
from common.thumbnails import remove_thumbnails

log = logging.getLogger(__name__)


class ForgetRefused(ValueError):
    """A --forget that cannot be what was meant; nothing was removed."""


class NothingToForget(ForgetRefused):
    """A folder under which the index holds nothing: a typo, most likely."""


class EverythingStillThere(ForgetRefused):
    """Forgetting would empty the index, and its files are still there: ``--forget ~`` typed for
    ``--forget ~/old``, which threw away what took hours to embed. Deleting the database is how
    to start over; an index of the folder again would read every file anew."""


class FolderLooks:
    """Whether folders' files are still there, asked of the disk (``still_there``); a drive that
    has not answered for ``patience`` seconds holds nothing that can be used: not there, said so
    once, and not asked again in this command (a --forget looks before it takes the lock, again
    under it, and at the end: each look would wait as long)."""

    def __init__(self, patience: float | None = None) -> None:
        self.patience = patience
        self.silent: set[str] = set()

    def still_there(self, folder: str, paths: Iterable[str]) -> bool:
        """Whether any of ``paths``, under ``folder``, is there (the first found will do)."""
        if folder in self.silent:
            return False
        found = any_within(os.path.lexists, paths, self.patience)
        if found is None:
            self.silent.add(folder)
            log.warning("%s did not answer in %g s (a drive not answering?): taken as not there", folder, self.patience)
        return bool(found)


def forget_folders(
    store: ImageStore,
    folders: Iterable[str],
    failures: FailureReport,
    thumbnail_dir: str | None,
    looks: FolderLooks | None = None,
) -> dict[str, int]:
    """Remove every row under each of ``folders`` (as the index names them: ``Cli.as_indexed``; a
    file's own path works too), with its thumbnail and listed failure; how many rows went, by
    folder. All folders are checked before anything is removed (``refuse_what_cannot_be_meant``,
    looking at the disk with ``looks``)."""
    folders = list(folders)
    signatures = store.get_signatures()
    doomed = refuse_what_cannot_be_meant(store, folders, failures, signatures, looks)
    paths = sorted({p for found in doomed.values() for p in found})
    if paths:
        store.delete_images(paths)
        store.commit()
        store.finish_indexing()
    if thumbnail_dir:
        remove_thumbnails(thumbnail_dir, [(p, *signatures[p][:2]) for p in paths])
    failures.begin(folders)  # rewrites the report without the failures under them
    return {folder: len(found) for folder, found in doomed.items()}


def refuse_what_cannot_be_meant(
    store: ImageStore,
    folders: Iterable[str],
    failures: FailureReport,
    signatures: Iterable[str] | None = None,
    looks: FolderLooks | None = None,
) -> dict[str, list[str]]:
    """Raise ``NothingToForget`` for the first folder with no row (``signatures``: the store's
    paths, when already read) and no failure under it, and ``EverythingStillThere`` where the
    folders hold every row and the files of one of them are still there; else the paths of the
    rows under each folder. Files whose drive does not answer are not there (``FolderLooks``)."""
    looks = looks or FolderLooks()
    indexed = list(store.get_signatures() if signatures is None else signatures)
    listed = [*indexed, *failures.earlier_paths()]
    folders = list(folders)
    for folder in folders:
        if not any(is_under_root(path, folder) for path in listed):
            raise NothingToForget(f"nothing is indexed under {folder}{_indexed_folder_spelt_nearly(folder, listed)}")
    under = {folder: [path for path in indexed if is_under_root(path, folder)] for folder in folders}
    if indexed and len(set().union(*under.values())) == len(indexed):
        for folder, paths in under.items():
            if looks.still_there(folder, paths):
                raise EverythingStillThere(
                    f"all {len(indexed)} images of the index are under {folder}, and its files are still there "
                    f"(a folder inside it meant?): to start over, delete {store.db_path}; to keep files out of "
                    "the index, --index with --exclude"
                )
    return under


def _indexed_folder_spelt_nearly(folder: str, paths: list[str]) -> str:
    """'; did you mean <a folder the index holds rows under, its last name spelt nearly as
    ``folder``'s>?', or '': a folder forgotten may be gone from the disk, so the index's names
    are what it is compared with (``common.near_paths``)."""
    from common.near_paths import name_spelt_nearly

    parent, name = os.path.split(os.path.normpath(folder))
    names = {os.path.relpath(path, parent).split(os.sep)[0] for path in paths if is_under_root(path, parent)}
    near = name_spelt_nearly(name, names - {os.curdir, os.pardir})
    return f"; did you mean {os.path.join(parent, near)}?" if near else ""
