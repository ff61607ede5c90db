"""``--distinct``: each result a different picture, not ten frames of one burst.

A phone's burst, an exposure bracket, five takes of one pose: they embed within the near-duplicate
cosine of one another (``--duplicate-threshold``, 0.95 by default, what ``--duplicates`` groups),
rank together, and fill a search's first page with one scene. With ``--distinct``, a hit that
close to one ranked above it is folded into that one and named in its ``alike`` (JSON, CSV; a
count in the table's ``alike`` column), and the page goes on to the next scene. The same for a
listing (``--where``, ``--near``, ``--under``): one row a scene.

The store is asked for one hit more than is shown (as for companions, ``common.companions``), and
for twice as many while folding leaves the page short.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from common.store import Hit, best_kept

ALIKE = "alike"  # the key of a hit's ``extra`` naming the paths folded into it


def distinct_hits(
    search: Callable[[int], list[Hit]],
    limit: int,
    vectors_of: Callable[[list[str]], dict[str, np.ndarray]],
    threshold: float,
) -> list[Hit]:
    """The ``limit`` best of the hits ``search(n)`` gives (its ``n`` best, in rank order), no two
    within ``threshold`` cosine of each other (``vectors_of``: the stored vectors of paths)."""

    def folded(found: list[Hit]) -> list[Hit]:
        return folded_alike(found, vectors_of([hit.record["path"] for hit in found]), threshold)

    return best_kept(search, limit + 1, folded, limit + 1)[:limit]


def folded_alike(hits: list[Hit], vectors: dict[str, np.ndarray], threshold: float) -> list[Hit]:
    """``hits`` with each one whose vector is within ``threshold`` of a kept hit's folded into the
    closest of them (the hits ranked above it that are kept); a hit with no stored vector is kept."""
    kept: list[Hit] = []
    dim = next((len(v) for v in vectors.values()), 0)
    kept_vectors = np.empty((len(hits), dim), dtype=np.float32)  # filled a row a kept hit
    owners: list[Hit] = []  # the kept hit each row belongs to
    for hit in hits:
        vector = vectors.get(hit.record["path"])
        if vector is not None and owners:
            similarity = kept_vectors[: len(owners)] @ vector
            closest = int(np.argmax(similarity))
            if similarity[closest] >= threshold:
                owners[closest].extra.setdefault(ALIKE, []).append(hit.record["path"])
                continue
        kept.append(hit)
        if vector is not None:
            kept_vectors[len(owners)] = vector
            owners.append(hit)
    return kept
