"""``--duplicates``: exact copies (same bytes) and near duplicates (same picture, other file).

Exact duplicates share the sha256 recorded at indexing. Near duplicates are pairs whose vectors'
cosine similarity reaches a threshold — a re-save, a resize, a light edit — linked into groups
(if A≈B and B≈C, one group). A chain can join files that are further apart than the
threshold (a burst of shots drifting), so each group reports the lowest cosine between any two
of its files, not the weakest link that joined it. Files that are merely exact copies of each
other are not listed again as near duplicates, nor are a raw and the JPEG the camera wrote beside
it (``common.companions``). The comparison is every vector against every
other, a block at a time and each pair once (exact, and memory stays at ``BLOCK`` × rows
floats): a few seconds for tens of thousands of images, 26 s and 1.2 GB peak for 100,000 on 2
cores (60 s and 1.8 GB when each pair was computed twice, in blocks of 1,024, and every row
searched for its hits); nearly all of it is the product, at the machine's GEMM speed. The
store's ANN index would find the pairs with about a sixteenth of the work (the lists it looks
in), but could miss some.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from common.companions import companion_groups
from common.defaults import DEFAULT_DUPLICATE_THRESHOLD
from common.output import PATH_ENDS, QueryResults, json_for, say_which_paths_break_lines
from common.store import Hit, ImageStore
from common.visible import visible

# Rows compared at a time: 256 keeps each block's similarities (256 × rows floats) in 100 MB at
# 100k rows, and multiplied no slower than 1,024 (which wrote 400 MB a block).
BLOCK = 256
FILE_INDENT = "      "  # a group's files, under its heading


@dataclass
class NearGroup:
    paths: list[str]
    min_cosine: float  # the lowest cosine between any two of its files

    def to_dict(self) -> dict[str, Any]:
        """As the machine-readable formats give it: the cosine to 6 places (float noise beyond)."""
        return {"paths": self.paths, "min_cosine": round(self.min_cosine, 6)}


@dataclass
class Duplicates:
    threshold: float
    exact: list[list[str]] = field(default_factory=list)
    near: list[NearGroup] = field(default_factory=list)
    among: str | None = None  # the rows looked among (--where, --near), in words; None: all

    def to_json(self) -> dict:
        return {
            "threshold": self.threshold,
            "among": self.among,
            "exact": [{"paths": group} for group in self.exact],
            "near": [group.to_dict() for group in self.near],
        }

    def groups(self) -> Iterator[dict[str, Any]]:
        """Every group, exact ones first, each numbered within its kind as the table numbers it."""
        for number, paths in enumerate(self.exact, 1):
            yield {"kind": "exact", "group": number, "paths": paths}
        for number, near in enumerate(self.near, 1):
            yield {"kind": "near", "group": number} | near.to_dict()

    def write(self, fmt: str, out: TextIO, preview: Callable[[str, str], str] | None = None) -> None:
        """Print in any of the search results' formats (common.output.FORMATS): ``jsonl`` is a
        group a line, ``csv`` a file a row, ``paths`` each group's files with a blank line
        between groups (as fdupes prints them), for scripts that keep one file of each (``paths0``
        the same with NULs for newlines). The table draws each file's picture under it with
        ``preview`` (path, indent), given one (``--preview``): which copy to keep is easier to say
        seen."""
        if fmt == "json":
            out.write(json_for(out, self.to_json(), indent=2) + "\n")
        elif fmt == "jsonl":
            out.writelines(json_for(out, group) + "\n" for group in self.groups())
        elif fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["kind", "group", "path", "min_cosine"])
            for group in self.groups():
                writer.writerows(
                    [group["kind"], group["group"], p, group.get("min_cosine", "")] for p in group["paths"]
                )
        elif fmt in PATH_ENDS:  # a group's files, an empty entry between groups
            end = PATH_ENDS[fmt]
            out.write(end.join("".join(p + end for p in group["paths"]) for group in self.groups()))
            say_which_paths_break_lines(self.paths(), fmt)
        else:
            out.write("\n".join(self.lines(preview)) + "\n")

    def paths(self) -> list[str]:
        """Every file of every group, once."""
        return list(dict.fromkeys(path for group in self.groups() for path in group["paths"]))

    def as_sections(self, records: dict[str, dict[str, Any]]) -> list[QueryResults]:
        """The groups as sections of results, for the ``--html`` page: a group's files its hits,
        their records from ``records`` (by path), in the table's order."""

        def files(paths: list[str]) -> list[Hit]:
            return [Hit(records.get(path) or {"path": path}, math.nan) for path in paths]

        sections = [
            QueryResults(f"exact duplicates [{n}]", "same bytes", "same bytes", files(group))
            for n, group in enumerate(self.exact, 1)
        ]
        for n, near in enumerate(self.near, 1):
            how = f"any two at cosine >= {near.min_cosine:.3f}"  # kind and mode: the page says it once
            sections.append(QueryResults(f"near duplicates [{n}]", how, how, files(near.paths)))
        return sections

    def lines(self, preview: Callable[[str, str], str] | None = None) -> list[str]:
        def listed(paths: list[str]) -> list[str]:
            if preview is None:
                return [f"{FILE_INDENT}{visible(p)}" for p in paths]
            return [
                line for p in paths for line in (f"{FILE_INDENT}{visible(p)}", preview(p, FILE_INDENT).rstrip("\n"))
            ]

        out = [f"among the files matching: {visible(self.among)}"] if self.among else []
        out.append(f"exact duplicates (same bytes): {len(self.exact)} group(s)")
        for number, group in enumerate(self.exact, 1):
            out += [f"  [{number}] {len(group)} files", *listed(group)]
        out.append(f"near duplicates (cosine >= {self.threshold:g}): {len(self.near)} group(s)")
        for number, near in enumerate(self.near, 1):
            out += [f"  [{number}] {len(near.paths)} files, any two at cosine >= {near.min_cosine:.3f}"]
            out += listed(near.paths)
        return out


def find_duplicates(
    store: ImageStore,
    threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
    where: str | None = None,
    among: str | None = None,
) -> Duplicates:
    """The duplicate groups of the whole index or, with ``where``, of the rows it matches alone
    (one album, one year: ``among`` names them). Only paths and hashes are read for the exact
    groups, and the vectors for the near ones."""
    rows = store.get_columns(["path", "content_hash"], where).to_pydict()
    by_hash: dict[str, list[str]] = defaultdict(list)
    for path, digest in zip(rows["path"], rows["content_hash"], strict=True):
        if digest:
            by_hash[digest].append(path)
    exact = sorted(sorted(paths) for paths in by_hash.values() if len(paths) > 1)
    # Each exact group counts as one picture, and so do a raw and the JPEG beside it (companions),
    # and so does a group that shares a file with another: IMG_1.JPG, its copy and IMG_1.CR2.
    picture_of: dict[str, str] = {}

    def picture(path: str) -> str:
        while picture_of.get(path, path) != path:
            path = picture_of[path]
        return path

    for group in [*exact, *companion_groups(rows["path"])]:
        first = picture(group[0])
        for path in group[1:]:
            if picture(path) != first:
                picture_of[picture(path)] = first
    copy_of = {path: picture(path) for path in rows["path"]}

    if where is None:
        paths, vectors = store.get_all_vectors()
    else:
        stored = store.get_vectors(rows["path"])
        paths = [p for p in rows["path"] if p in stored]
        vectors = np.stack([stored[p] for p in paths]) if paths else np.zeros((0, store.info.dim), np.float32)
    parent = list(range(len(paths)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    for start in range(0, len(paths), BLOCK):
        # Each pair once: a block against itself and the rows after it (half the product).
        similarity = vectors[start : start + BLOCK] @ vectors[start:].T
        np.fill_diagonal(similarity, -1.0)  # each file with itself
        # Few rows have a near duplicate: only theirs are searched for where (searching every
        # row's cost a quarter as much as the product).
        near = np.flatnonzero((similarity >= threshold).any(axis=1))
        rows, cols = np.nonzero(similarity[near] >= threshold)
        for r, c in zip(near[rows].tolist(), (cols + start).tolist(), strict=True):
            i = start + r
            if c <= i or copy_of.get(paths[i], paths[i]) == copy_of.get(paths[c], paths[c]):
                continue
            parent[root(c)] = root(i)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(paths)):
        groups[root(i)].append(i)
    near = [
        NearGroup(sorted(paths[i] for i in members), lowest_cosine(vectors[members]))
        for members in groups.values()
        if len(members) > 1
    ]
    near.sort(key=lambda g: (-g.min_cosine, g.paths))
    return Duplicates(threshold, exact, near, among if where is not None else None)


def lowest_cosine(vectors: np.ndarray) -> float:
    """The lowest cosine between any two of ``vectors`` (unit length), a block at a time."""
    lowest = 1.0
    for start in range(0, len(vectors), BLOCK):
        lowest = min(lowest, float((vectors[start : start + BLOCK] @ vectors.T).min()))
    return lowest
