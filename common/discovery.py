"""Find the image files under the folders a user asks to index.

Discovery is deliberately cheap: it yields each file with the (size, mtime) signature that the
pipeline compares against the store, so an unchanged tree is diffed from ``stat`` alone and
nothing is opened or decoded. The signature also holds the mtime of the file's XMP sidecar, if it
has one (``common.xmp``): found in the folder's listing, so only a sidecar is ``stat``-ed, and an
edit in photo software that changes the sidecar alone is a change to index.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import re
import stat
import threading
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from common.clip_xml import CLIP_XML_SUFFIXES, clip_xml_of
from common.extensions import INDEXED_EXTENSIONS, MOTION_CLIP_EXTENSIONS, VIDEO_EXTENSIONS
from common.reading import NoAnswer, answers_within, each_within
from common.takeout import forget_listings, is_json_name, takeout_json_of
from common.warning_lines import LINES_AT_MOST, WarningLines
from common.xmp import SIDECAR_SUFFIXES, newest_sidecar_mtime, sidecar_of

log = logging.getLogger(__name__)

# Which folder a path is on disk (``folder_key``): its device and inode, or its real path.
FolderKey = tuple[int, int] | str

# Files that operating systems and sync tools scatter through photo folders.
CLUTTER_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
# Folders that systems and NAS boxes fill with files of their own, never with the user's photos:
# a Synology's @eaDir holds five thumbnails of every picture, which would come back as copies of
# it; recycle bins and snapshots hold what the user deleted, or an old state of the library.
SYSTEM_FOLDERS = (
    "@eaDir", "#recycle", "#snapshot", "@Recycle", "@Recently-Snapshot",  # Synology, QNAP
    "$RECYCLE.BIN", "System Volume Information", "lost+found", "node_modules",
)  # fmt: skip
_SYSTEM_FOLDER_NAMES = {name.lower(): name for name in SYSTEM_FOLDERS}


@dataclass(frozen=True)
class FoundFile:
    """One candidate image: its absolute path and the signature used to detect changes."""

    path: str
    size: int
    mtime: float
    sidecar_mtime: float | None = None  # the newest of its XMP sidecar's, Takeout JSON's, clip XML's; None without

    @property
    def signature(self) -> tuple[int, float, float | None]:
        """What must be unchanged for its row to stand (``ImageStore.get_signatures``)."""
        return (self.size, self.mtime, self.sidecar_mtime)


def is_hidden_or_clutter(name: str) -> bool:
    """Hidden names (``.x``, which covers macOS ``._x`` resource forks) and OS clutter files."""
    return name.startswith(".") or name.lower() in CLUTTER_NAMES


class Exclusions:
    """What a walk leaves out beside hidden names: the system folders above, and the user's
    ``--exclude`` patterns; with a count of what each left out, for the run's report.

    A pattern without a slash (a trailing one aside) is a glob on a folder's or a file's name
    (``Screenshots``, ``*_thumb.jpg``); one with a slash, on the whole path (``~/Pictures/tmp``,
    ``*/exports``); a folder left out takes everything under it along. Case is ignored, as macOS
    and Windows ignore it. The folders given to --index are never left out themselves: naming
    one is how to index an @eaDir on purpose.
    """

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.rules = [_rule(p) for p in patterns]  # (as written, on the name?, glob)
        self._by_name = _one_regex([glob for _, on_name, glob in self.rules if on_name])
        self._by_path = _one_regex([glob for _, on_name, glob in self.rules if not on_name])
        self.left_out: Counter[tuple[str, str]] = Counter()  # (rule, "folder" or "file") -> how many

    def leaves_out_folder(self, path: str) -> bool:
        return self._count(self._folder_rule(path), "folder")

    def leaves_out_file(self, path: str) -> bool:
        return self._count(self._rule_for(path, os.path.basename(path)) if self.rules else None, "file")

    def excludes(self, path: str, roots: Iterable[str]) -> bool:
        """Whether the walk leaves out ``path``: it, or a folder between it and its root, is
        excluded (not counted in ``left_out``: no walk passed it)."""
        root = max((r for r in roots if is_under_root(path, r)), key=len, default=None)
        if root is None or path == root:
            return False
        names = os.path.relpath(path, root).split(os.sep)
        folder = root
        for name in names[:-1]:
            folder = os.path.join(folder, name)
            if self._folder_rule(folder):
                return True
        return self._rule_for(path, names[-1]) is not None

    def _folder_rule(self, path: str) -> str | None:
        """The system folder name or user pattern that leaves the folder ``path`` out, if any."""
        name = os.path.basename(path)
        return _SYSTEM_FOLDER_NAMES.get(name.lower()) or self._rule_for(path, name)

    def _count(self, rule: str | None, kind: str) -> bool:
        if rule:
            self.left_out[rule, kind] += 1
        return rule is not None

    def _rule_for(self, path: str, name: str) -> str | None:
        """The user's pattern that matches ``path``, as they wrote it; None when none does. Names
        and patterns are compared in one Unicode form (NFC): 'Été' typed leaves out the folder a
        Mac named with a combining accent (``as_named_on_disk``)."""
        if not self.rules:
            return None
        path, name = unicodedata.normalize("NFC", path), unicodedata.normalize("NFC", name)
        if not any(regex and regex.match(text) for regex, text in ((self._by_name, name), (self._by_path, path))):
            return None  # the usual case, one regex match each: the pattern is looked for only on a hit
        return next(shown for shown, on_name, glob in self.rules if _one_regex([glob]).match(name if on_name else path))

    def report(self) -> str:
        """What was left out, for one log line: ``@eaDir (12 folders), *_thumb.jpg (3 files, --exclude)``."""
        parts = []
        for (rule, kind), count in sorted(self.left_out.items(), key=lambda item: -item[1]):
            why = "" if rule in SYSTEM_FOLDERS else ", --exclude"
            parts.append(f"{rule} ({count} {kind}{'s' if count != 1 else ''}{why})")
        return ", ".join(parts)


def _rule(pattern: str) -> tuple[str, bool, str]:
    """A pattern as (written, whether it is on names, its glob). A path pattern is made to read as
    the walk's absolute paths do: ``~`` expanded, a relative one (``photos/tmp``) made absolute,
    one that starts with a wildcard (``*/exports``) left to match anywhere."""
    trimmed = unicodedata.normalize("NFC", pattern.rstrip("/" + os.sep) or pattern)
    if "/" not in trimmed and os.sep not in trimmed:
        return pattern, True, trimmed
    expanded = os.path.expanduser(trimmed)
    return pattern, False, expanded if expanded.startswith(("*", "?", "[")) else os.path.abspath(expanded)


def patterns_renamed(patterns: Iterable[str], renamed: dict[str, str]) -> list[str]:
    """``patterns``, and each path pattern under a folder of ``renamed`` (as given -> as indexed:
    ``common.folder_names``) once more under its new name: ``--index ~/photos --exclude
    ~/photos/tmp``, with ~/photos indexed as /mnt/disk2/photos, still leaves out its tmp."""
    patterns = list(patterns)
    extra = []
    for pattern in patterns:
        _, on_name, glob = _rule(pattern)
        for old, new in renamed.items():
            if not on_name and is_under_root(glob, old):
                extra.append(new + glob[len(old) :])
    return patterns + extra


def _one_regex(globs: list[str]) -> re.Pattern[str] | None:
    """One case-blind regex for many globs: a walk of 100k files tests each name once, not once a pattern."""
    if not globs:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(glob)})" for glob in globs), re.IGNORECASE)


def has_image_extension(name: str) -> bool:
    """Whether ``name`` is a file imagedb indexes: a picture, or a video (one frame of it)."""
    return os.path.splitext(name)[1].lower() in INDEXED_EXTENSIONS


def files_in_words(paths: Iterable[str]) -> str:
    """'3 images and 1 video', '1 image', '0 images': found files as the run's lines say them
    (a raw file is an image)."""
    count = videos = 0
    for path in paths:
        count += 1
        videos += path[path.rfind(".") :].lower() in VIDEO_EXTENSIONS
    return counted_in_words(count, videos)


def counted_in_words(count: int, videos: int) -> str:
    """'3 images and 1 video', '1 image': ``count`` files, ``videos`` of them videos."""
    return images_said(count - videos) + (f" and {videos} video{'' if videos == 1 else 's'}" if videos else "")


def roots_in_words(roots: Iterable[str], named_files: Collection[str]) -> str:
    """'under /photos, /scans', 'named /inbox/a.jpg', 'under /photos and named /a.jpg': where a
    run looked, as its lines say it. A file given to --index (one of ``named_files``, as the walk
    found them: its drive is not asked again) is not something found "under"."""
    roots = list(roots)
    folders = [root for root in roots if root not in named_files]
    files = [root for root in roots if root in named_files]
    said = [f"under {', '.join(folders)}"] if folders else []
    return " and ".join(said + ([f"named {', '.join(files)}"] if files else []))


def images_said(count: int) -> str:
    """'1 image', '342 images': how many rows or files, as the run's lines say them."""
    return f"{count} image{'' if count == 1 else 's'}"


def has_storable_name(path: str) -> bool:
    """Whether ``path`` is valid text, as every store keeps paths (UTF-8).

    On Linux a file name is any bytes; one written in another encoding (Latin-1 from an old
    archive, say) reaches Python with stand-ins for the odd bytes, which no store, JSON file
    or UTF-8 terminal can hold. Such a file is reported, not indexed under a changed name that
    would no longer open it.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def normalise_root(root: str | os.PathLike[str]) -> str:
    """The absolute form of a root as records store it (no symlink resolution: paths stay the
    user's), its names as the disk writes them (``as_named_on_disk``)."""
    return as_named_on_disk(absolute(root))


def absolute(root: str | os.PathLike[str]) -> str:
    """``root`` absolute, ``~`` expanded, as typed: ``normalise_root`` without a look at the disk
    (for a drive that does not answer it)."""
    return os.path.abspath(os.path.expanduser(os.fspath(root)))


def path_as_named_on_disk(given: str) -> str:
    """``given`` (``~`` expanded) as the disk names it (``as_named_on_disk``), where it reads as a
    path (an image's extension, or a folder separator) and is not there as typed: a prompt or a
    place in words ('café au lait', 'Zürich') lists no folder."""
    path = os.path.expanduser(given)
    reads_as_a_path = has_image_extension(given) or os.sep in given or "/" in given
    return as_named_on_disk(path) if reads_as_a_path else path


def as_named_on_disk(path: str) -> str:
    """``path`` with each name the disk holds in another Unicode form written as the disk does.

    An accent has two forms: 'é' as one character (NFC, what keyboards type) or as 'e' and a
    combining mark (NFD, what a Mac wrote on the drives and shares it copied to). Linux takes a
    name as its bytes, so a folder a Mac named ``Café`` was 'not found' typed on Linux, though
    ``ls`` shows the same letters. Only a path that is not there as given, and not ASCII, is
    looked for (a folder listing per name that is not there); a name two entries match alike, or
    none, leaves the path as it was given.
    """
    if path.isascii() or os.path.lexists(path):
        return path
    here = os.sep if os.path.isabs(path) else ""
    for name in path.split(os.sep):
        candidate = os.path.join(here, name)
        if name and not os.path.lexists(candidate):
            wanted = unicodedata.normalize("NFC", name)
            try:
                alike = [
                    entry for entry in os.listdir(here or os.curdir) if unicodedata.normalize("NFC", entry) == wanted
                ]
            except OSError:
                return path
            if len(alike) != 1:
                return path
            candidate = os.path.join(here, alike[0])
        here = candidate
    return here


def is_under_root(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


# How many files a walk's thread hands over at a time (``_files_under``).
FILES_AT_A_TIME = 256
# The roots whose walk is still waiting on their drive, from an earlier look of this process (a
# --watch), with why it was left: not walked again (nor waited on) until that wait is over, or
# FINISHING_SECONDS after it is.
_STILL_WAITING: dict[str, tuple[threading.Thread, str]] = {}
FINISHING_SECONDS = 2.0


class Walk:
    """One look at the image files under ``roots`` (``files``), which keeps the roots it could not
    look at to the end (``silent``).

    A walk of a network share that stopped answering (a NAS switched off, a VPN down, a hard NFS
    mount whose server is gone) never returned: ``stat`` and a folder's listing wait in the kernel,
    and the run waited with them, however many other folders it had to index. With ``patience``,
    each root is walked on a thread of its own, and one that gives no answer for ``patience``
    seconds (no folder read, no file ``stat``-ed) is left where it got to: what was found before
    is yielded, and the root is kept in ``silent`` with why, in words, so that the rows of its
    files not seen are kept as they are (``common.pipeline``), not taken for files deleted.
    A root already in ``silent`` (found so by an earlier look in the same command) is not walked,
    nor one whose walk in an earlier look of this process is still waiting on its drive.
    """

    def __init__(
        self,
        roots: Iterable[str],
        skip: Iterable[str] = (),
        exclude: Exclusions | None = None,
        patience: float | None = None,
        silent: dict[str, str] | None = None,
    ) -> None:
        self.roots = list(roots)
        self.skip = list(skip)
        self.exclude = exclude or Exclusions()
        self.patience = patience
        self.silent: dict[str, str] = dict(silent or {})
        self.named_files: set[str] = set()  # the roots that are files, not folders

    def files(self) -> Iterator[FoundFile]:
        """Yield every image file under the roots, recursively, each path once.

        Symlinked folders are followed (photo libraries often link albums together), but every
        folder is visited at most once by its (device, inode), so a symlink loop cannot hang the
        walk. Unreadable folders are logged and skipped rather than aborting the scan. The folders
        in ``skip`` are never entered, by whatever path: the database's own folder, whose
        thumbnails are JPEGs too, when it lives inside a folder being indexed (``--index .``).
        What ``exclude`` names is left out (system folders by default).
        """
        forget_listings()  # a new look at the folders: a Takeout JSON added since is seen
        skipped = WarningLines(
            log, f"skipping more files and folders that cannot be read: those after the first {LINES_AT_MOST} are "
            "not named (-v names each)",
        )  # fmt: skip
        visited_dirs: set[FolderKey] = {key for key in map(folder_key, self.skip) if key is not None}
        seen_paths: set[str] = set()
        for root in self.roots:
            why = None if root in self.silent else _still_waiting_on(root)
            if why is not None:  # a watch's every look would leave one more thread waiting
                self.silent[root] = why
            if root in self.silent:
                continue
            last_folder = None
            try:
                files = _files_under(root, visited_dirs, skipped, self.exclude, self.named_files)
                for folder, found in each_within(files, self.patience):
                    last_folder = folder
                    for file in found:
                        if file.path not in seen_paths:
                            seen_paths.add(file.path)
                            yield file
            except NoAnswer as silence:
                self.silent[root] = (
                    f"no answer came for {self.patience:g} s after {last_folder} was read "
                    "(a drive not answering, or a link to one?)"
                    if last_folder
                    else no_answer_in(self.patience)
                )
                _STILL_WAITING[root] = silence.still_waiting, self.silent[root]


def _still_waiting_on(root: str) -> str | None:
    """Why ``root`` was left by an earlier look whose walk still waits on its drive, if it does
    (given ``FINISHING_SECONDS`` to end: a drive back a moment ago)."""
    waiting, why = _STILL_WAITING.get(root, (None, ""))
    if waiting is None:
        return None
    waiting.join(timeout=FINISHING_SECONDS)
    if waiting.is_alive():
        return why
    del _STILL_WAITING[root]
    return None


def no_answer_in(patience: float | None) -> str:
    """Why a folder was not looked at, when it did not answer at all."""
    return f"it did not answer in {patience:g} s (a drive not answering?)"


def find_image_files(
    roots: Iterable[str], skip: Iterable[str] = (), exclude: Exclusions | None = None
) -> Iterator[FoundFile]:
    """Every image file under ``roots`` (``Walk.files``), waiting on each drive however long."""
    return Walk(roots, skip, exclude).files()


def _files_under(
    root: str, visited_dirs: set[FolderKey], skipped: WarningLines, exclude: Exclusions, named_files: set[str]
) -> Iterator[tuple[str, list[FoundFile]]]:
    """The image files under ``root`` (``Walk.files``), by folder: each folder read yields, with
    its files found (``FILES_AT_A_TIME`` at most: a folder of 10k files on a slow share yields as
    it goes), so that a walk through folders of other files, which finds no image for a while,
    is answered all the same, and the walk's thread hands over a few batches, not each file. A
    root that is a file is added to ``named_files``, as named."""
    named, root = root, normalise_root(root)
    if os.path.isfile(root):
        named_files.add(named)
        found = _stat_file(root, skipped, sidecar_of(root), takeout_json_of(root), clip_xml_of(root))
        yield os.path.dirname(root), [found] if found else []
        return
    for dirpath, dirnames, filenames in os.walk(
        root, followlinks=True, onerror=functools.partial(_log_walk_error, skipped)
    ):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = _identity(dirpath, st)
        if key in visited_dirs:
            dirnames[:] = []
            continue
        visited_dirs.add(key)
        dirnames[:] = sorted(
            d for d in dirnames if not is_hidden_or_clutter(d) and not exclude.leaves_out_folder(os.path.join(dirpath, d))
        )  # fmt: skip
        # The folder's sidecars (common.xmp), Takeout JSONs (common.takeout) and clip XMLs
        # (common.clip_xml), if any: most folders have none, and their files then cost no lookup.
        sidecars = {n for n in filenames if n.endswith(SIDECAR_SUFFIXES)}
        jsons = frozenset(n for n in filenames if is_json_name(n))
        clip_xmls = {n for n in filenames if n.endswith(CLIP_XML_SUFFIXES)}
        found_here: list[FoundFile] = []
        for name in sorted(filenames):
            if is_hidden_or_clutter(name) or not has_image_extension(name):
                continue
            path = os.path.join(dirpath, name)
            if exclude.leaves_out_file(path) or not _is_what_its_name_says(path):
                continue
            found = _stat_file(
                path, skipped, sidecar_of(path, sidecars) if sidecars else None,
                takeout_json_of(path, jsons) if jsons else None, clip_xml_of(path, clip_xmls) if clip_xmls else None,
            )  # fmt: skip
            if found:
                found_here.append(found)
            if len(found_here) == FILES_AT_A_TIME:
                yield dirpath, found_here
                found_here = []
        yield dirpath, found_here


# The boxes an MP4 (ISO base media file) opens with: 'ftyp' as a Pixel writes one; the others as
# older QuickTime writers began theirs.
_MP4_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"})


def _is_what_its_name_says(path: str) -> bool:
    """False for a file named like a Pixel's motion clip ('.mp', '.mv') that is no MP4: '.mp' is
    also MetaPost's drawings, which a TeX user's folders hold, and each was reported as a video
    that failed to decode, listed again at every run. Only such names are opened (their first 8
    bytes: ~7 µs a file here, as much again as its ``stat``); a file that cannot be read is left
    to the decoder, which says why."""
    if path[path.rfind(".") :].lower() not in MOTION_CLIP_EXTENSIONS:
        return True
    try:
        with open(path, "rb") as file:
            first = file.read(8)
    except OSError:
        return True
    if len(first) == 8 and first[4:] in _MP4_FIRST_BOXES:
        return True
    log.debug("leaving out %s: named like a motion clip, but no MP4", path)
    return False


def folder_key(path: str) -> FolderKey | None:
    """Which folder (or file) ``path`` is on disk, by whatever name: its device and inode."""
    try:
        st = os.stat(path)
    except OSError:  # not there (yet, or any more)
        return None
    return _identity(path, st)


def _identity(path: str, st: os.stat_result) -> FolderKey:
    """``path``'s device and inode; its real path (symlinks resolved) where the file system
    numbers no inodes (``st_ino`` 0, as some network file systems report: pytest-dev/pytest#14864).
    There every folder would be every other: the walk, which enters a folder once, entered none
    (the database's own folder, which it skips, came first: nothing was indexed)."""
    return (st.st_dev, st.st_ino) if st.st_ino else os.path.realpath(path)


def _stat_file(
    path: str,
    skipped: WarningLines,
    sidecar: str | None = None,
    takeout: str | None = None,
    clip_xml: str | None = None,
) -> FoundFile | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        try:
            target = os.readlink(path)
        except OSError:  # listed a moment ago, deleted or renamed since: nothing to index
            log.debug("%s went while its folder was read", path)
            return None
        skipped.say("skipping %s: it links to %s, which is not there", path, target)
        return None
    except OSError as error:  # permission denied, a link loop, an I/O error
        skipped.say("skipping %s: %s", path, error.strerror or error)
        return None
    if not stat.S_ISREG(st.st_mode):  # find -type f's choice: a pipe named x.jpg would block a read
        log.debug("leaving out %s: not a file but %s", path, kind_of_file(path, st))
        return None
    newest = newest_sidecar_mtime(sidecar, takeout, clip_xml)
    return FoundFile(path=path, size=st.st_size, mtime=st.st_mtime, sidecar_mtime=newest)


def kind_of_file(path: str, st: os.stat_result | None = None) -> str:
    """What ``path`` (whose ``stat`` is ``st``, if taken) is, in words, where it is no regular file."""
    mode = (st or os.stat(path)).st_mode
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def _log_walk_error(skipped: WarningLines, error: OSError) -> None:
    skipped.say("cannot read folder %s: %s", error.filename, error.strerror or error)


# Why a folder's files may exist though they cannot be seen (``why_out_of_reach``; NOT_ANSWERING:
# a root whose walk got no answer, ``Walk.silent``).
EMPTY, UNREADABLE, BROKEN_LINK, GONE = "empty", "unreadable", "broken link", "gone"
NOT_ANSWERING = "not answering"


@dataclass
class OutOfReach:
    """Indexed files not found any more under a folder that may only be out of reach for now."""

    folder: str
    why: str  # EMPTY, UNREADABLE, BROKEN_LINK, GONE or NOT_ANSWERING
    detail: str  # the system's error, the link's target; why in words, NOT_ANSWERING
    paths: list[str]

    def reason(self) -> str:
        if self.why == NOT_ANSWERING:
            return self.detail
        return {
            EMPTY: "the folder is empty (a drive not mounted?)",
            UNREADABLE: f"the folder cannot be read ({self.detail})",
            BROKEN_LINK: f"it links to {self.detail}, which is not there (a drive not mounted?)",
            GONE: "the folder is not there (a drive not mounted?)",
        }[self.why]


def split_vanished(paths: Iterable[str], roots: Iterable[str]) -> tuple[list[str], list[OutOfReach]]:
    """Indexed files that are no longer there, split into the deleted and the out of reach.

    A file is out of reach, not deleted, when the nearest folder above it that still exists
    (up to its root) is empty, cannot be read, or is a symlink to a place that is gone: what an
    unmounted drive, a network share that is down or changed permissions look like. Removing
    those rows would throw away every embedding of a drive because it was not plugged in, and
    re-embedding it all when it is. A file whose nearest existing folder can be read and holds
    anything at all was deleted. Each folder is looked at once, however many files it held.
    """
    roots = [normalise_root(root) for root in roots]
    verdict_on = functools.cache(why_out_of_reach)
    deleted: list[str] = []
    held: dict[str, OutOfReach] = {}
    for path in paths:
        root = max((r for r in roots if is_under_root(path, r)), key=len, default=None)
        folder = os.path.dirname(path)
        verdict = verdict_on(folder)
        while verdict and verdict[0] == GONE:
            above = os.path.dirname(folder)
            if root:  # the folder went too: the one above, up to the root, says why
                if folder == root or not is_under_root(folder, root):
                    break
                folder, verdict = above, verdict_on(above)
            elif above != folder and (verdict_on(above) or ("",))[0] == GONE:
                # No root to judge by (--repair): the file is held all the same, and named by
                # the outermost folder that went, one line for a whole drive, not one per album.
                folder = above
            else:
                break
        if verdict is None:
            deleted.append(path)
        else:
            held.setdefault(folder, OutOfReach(folder, *verdict, [])).paths.append(path)
    return deleted, _outermost(held)


def _outermost(held: dict[str, OutOfReach]) -> list[OutOfReach]:
    """One entry per folder out of reach: a missing folder inside an empty one is the same drive."""
    merged: dict[str, OutOfReach] = {}
    for folder in sorted(held, key=len):
        outer, above = None, folder
        while outer is None and os.path.dirname(above) != above:
            above = os.path.dirname(above)
            outer = merged.get(above)
        if outer is None:
            merged[folder] = held[folder]
        else:
            outer.paths += held[folder].paths
    return list(merged.values())


def why_out_of_reach(folder: str) -> tuple[str, str] | None:
    """Why files under ``folder`` may exist though they cannot be seen, as (why, detail) (see
    ``split_vanished``); None when it can be read and is not empty. GONE: the folder is not
    there, or is behind one that cannot be searched (the caller looks at the folder above)."""
    try:
        is_link = stat.S_ISLNK(os.lstat(folder).st_mode)
    except OSError:  # not there, or a folder above it cannot be searched: the one above says why
        return GONE, ""
    if is_link and not os.path.exists(folder):
        return BROKEN_LINK, os.readlink(folder)
    try:
        with os.scandir(folder) as entries:
            if next(entries, None) is None:
                return EMPTY, ""
    except (FileNotFoundError, NotADirectoryError):
        return GONE, ""
    except OSError as error:
        return UNREADABLE, error.strerror or str(error)
    return None


def missing_roots(roots: Iterable[str], patience: float | None = None) -> tuple[list[str], list[str]]:
    """The roots that are neither a folder nor a file, a usage error the CLI reports before work;
    and those that gave no answer in ``patience`` seconds (a drive not answering), which cannot
    be told."""
    roots = list(roots)
    answers = answers_within([functools.partial(_is_there, root) for root in roots], patience)
    missing = [root for root, (answered, there) in zip(roots, answers, strict=True) if answered and not there]
    return missing, [root for root, (answered, _) in zip(roots, answers, strict=True) if not answered]


def _is_there(root: str) -> bool:
    return Path(normalise_root(root)).exists()
