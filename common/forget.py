"""``--forget DIR``: drop what the index holds of a folder that is gone for good, or not wanted.

Indexing never drops the rows of a folder it cannot see (an unplugged drive keeps its rows: see
``common.discovery.split_vanished``), and a folder that is not there cannot be named to
``--index`` at all, so a drive sold or a share retired would otherwise stay in the results for
good. Forgetting touches no file: it removes rows, their thumbnails and the failures listed
under the folders, whether the folders exist or not.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from common.discovery import is_under_root, normalise_root
from common.failures import FailureReport
from common.store import ImageStore
from common.thumbnails import remove_thumbnails


class ForgetRefused(ValueError):
    """A --forget that cannot be what was meant; nothing was removed."""


class NothingToForget(ForgetRefused):
    """A folder under which the index holds nothing: a typo, most likely."""


class EverythingStillThere(ForgetRefused):
    """Forgetting would empty the index, and its files are still there: ``--forget ~`` typed for
    ``--forget ~/old``, which threw away what took hours to embed. Deleting the database is how
    to start over; an index of the folder again would read every file anew."""


def forget_folders(
    store: ImageStore, folders: Iterable[str], failures: FailureReport, thumbnail_dir: str | None
) -> dict[str, int]:
    """Remove every row under each of ``folders`` (a file's own path works too), with its
    thumbnail and listed failure; how many rows went, by folder. All folders are checked before
    anything is removed."""
    folders = [normalise_root(folder) for folder in folders]
    signatures = store.get_signatures()
    doomed = refuse_what_cannot_be_meant(store, folders, failures, signatures)
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
    store: ImageStore, folders: Iterable[str], failures: FailureReport, signatures: Iterable[str] | None = None
) -> dict[str, list[str]]:
    """Raise ``NothingToForget`` for the first folder with no row (``signatures``: the store's
    paths, when already read) and no failure under it, and ``EverythingStillThere`` where the
    folders hold every row and the files of one of them are still there; else the paths of the
    rows under each folder."""
    indexed = list(store.get_signatures() if signatures is None else signatures)
    listed = [*indexed, *failures.earlier_paths()]
    folders = [normalise_root(folder) for folder in folders]
    for folder in folders:
        if not any(is_under_root(path, folder) for path in listed):
            raise NothingToForget(f"nothing is indexed under {folder}")
    under = {folder: [path for path in indexed if is_under_root(path, folder)] for folder in folders}
    if indexed and len(set().union(*under.values())) == len(indexed):
        for folder, paths in under.items():
            if any(map(os.path.lexists, paths)):  # the first file found there will do
                raise EverythingStillThere(
                    f"all {len(indexed)} images of the index are under {folder}, and its files are still there "
                    f"(a folder inside it meant?): to start over, delete {store.db_path}; to keep files out of "
                    "the index, --index with --exclude"
                )
    return under
