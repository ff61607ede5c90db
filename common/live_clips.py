"""A Live Photo's clip takes its still's vector: one forward pass for the two files of one picture.

An iPhone copies each Live Photo off as ``IMG_0042.HEIC`` and the three seconds around it as
``IMG_0042.MOV``; a Pixel's motion photo comes out of Google Takeout as ``PXL_….MP.jpg`` and its
clip ``PXL_….MP``. The clip is read from its first frame (``common.video.has_its_still``), the
scene of its still, and the two are companions (``common.companions``): a search shows the first
it ranks and names the other. Embedding both doubled the model's work for such a library, and on
a CPU the model is what indexing waits for. A clip whose still is embedded in the same run now
takes the still's vector; its frame is read all the same (its thumbnail, colours, size and facts
are its own), the forward pass alone is saved.

The workers hand files over in the order they finish, and a clip's first frame is read long before
its HEIC still is, so a clip whose still is still to come is held (``hold``) until the still's
vector is made (``stills_embedded`` gives it back), or, where the still fails, to the end of the
run (``held``), when it is embedded itself as before. A clip whose still was indexed before and
has not changed (a ``--watch`` round that finds the clip after the still, a library whose clips
were copied in later) takes the stored vector; one without its still is embedded itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import numpy as np

from common.video import LIVE_CLIP_LONGEST, still_candidates


class LiveClips:
    """The Live Photo clips of a run and their stills, and the stills' vectors as they are made."""

    def __init__(
        self,
        paths: Iterable[str],
        indexed: Collection[str] = (),
        stored_vectors: Callable[[list[str]], Mapping[str, np.ndarray]] | None = None,
    ) -> None:
        """``paths``: the files a run reads for their vectors (not those whose stored vectors it
        keeps); ``indexed``: those whose stored vectors are current (unchanged files), which
        ``stored_vectors`` gives."""
        read = set(paths)
        self.still_of: dict[str, str] = {}  # a clip's path → its still's, read in this run or indexed
        stored: set[str] = set()
        for path in read:
            candidates = still_candidates(path)
            still = next((c for c in candidates if c in read), None)
            if still is None and stored_vectors is not None:
                still = next((c for c in candidates if c in indexed), None)
                if still is not None:
                    stored.add(still)
            if still is not None:
                self.still_of[path] = still
        self._stored, self._stored_vectors = stored, stored_vectors
        self._stored_found: Mapping[str, np.ndarray] | None = None  # read at the first clip that needs one
        # Stills embedded whose clip has not come yet, and clips whose still has not.
        self._vectors: dict[str, np.ndarray] = {}
        self._held: dict[str, list[Any]] = {}
        self.awaited = set(self.still_of.values()) - stored

    def still_of_clip(self, record: Mapping[str, Any]) -> str | None:
        """The still whose vector the file of ``record`` takes: a Live clip's (a video of at most
        ``LIVE_CLIP_LONGEST`` seconds, read from its first frame) whose still is read in this
        run, or indexed and unchanged; None for any other file. A longer video beside a still of
        its name is no Live clip: the still's vector is not kept for it."""
        still = self.still_of.get(record["path"])
        if still is None or record.get("media_type") != "video":
            return None
        if (record.get("duration") or LIVE_CLIP_LONGEST + 1) > LIVE_CLIP_LONGEST:
            self.awaited.discard(still)
            self._vectors.pop(still, None)
            return None
        return still

    def vector_of_still(self, still: str) -> np.ndarray | None:
        """The vector ``still`` was given in this run, once (its clip takes it), or its stored one;
        None before it is made (or where its row is gone). The stored stills' vectors are read in
        one look at the store, at the first clip that needs one: a library whose clips were
        copied in after their stills were indexed asked the store once a clip."""
        if still in self._stored and self._stored_vectors is not None:
            if self._stored_found is None:
                self._stored_found = self._stored_vectors(sorted(self._stored))
            return self._stored_found.get(still)
        return self._vectors.pop(still, None)

    def hold(self, still: str, clip: Any) -> None:
        """Keep ``clip`` (a read file) until ``still``'s vector is made."""
        self._held.setdefault(still, []).append(clip)

    def stills_embedded(self, vectors: Mapping[str, np.ndarray]) -> list[tuple[Any, np.ndarray]]:
        """Note the vectors just made of awaited stills; the clips held for them, each with its
        still's vector."""
        released = []
        for path, vector in vectors.items():
            if path not in self.awaited:
                continue
            self.awaited.discard(path)
            clips = self._held.pop(path, None)
            if clips is None:
                self._vectors[path] = vector
            else:
                released += [(clip, vector) for clip in clips]
        return released

    def held(self) -> list[Any]:
        """The clips still held (their stills failed, or were not read): to be embedded themselves."""
        clips = [clip for clips in self._held.values() for clip in clips]
        self._held.clear()
        return clips
