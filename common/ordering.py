"""``--order-by``: the order results are listed in, by record columns ("date_taken DESC").

A ``--where`` listing is in path order unless told otherwise; with ``--order-by`` it is the
first ``--limit`` rows in that order (the newest photos from Italy: ``--where "country =
'Italy'" --order-by "date_taken DESC"``). A search keeps its best ``--limit`` by score and lists
those in that order. Either way a missing value (a scan without a date) comes last, and rows
that tie list in path order, so an answer is the same on both backends and after a re-index.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from common.records import RECORD_COLUMNS, columns_hint

if TYPE_CHECKING:
    import pyarrow as pa

    from common.store import Hit

# (column, "ascending" | "descending"), as pyarrow's sort keys are written.
Order = list[tuple[str, str]]
TERM = re.compile(r"^\s*(\w+)(?:\s+(asc|desc))?\s*$", re.IGNORECASE)


class OrderError(ValueError):
    """An ``--order-by`` that names no record column or an unknown direction."""


# Columns of the output that are no record's: the order each stands for is the one results
# come in without --order-by.
_ORDERS_OF_THEIR_OWN = {
    "score": "without --order-by, results come best first",
    "rank": "without --order-by, results come best first",
    "distance_km": "without --order-by, --near lists the nearest first",
}


def parse_order(spec: str) -> Order:
    """``"date_taken DESC, size_bytes"`` as sort keys; an OrderError says what is wrong."""
    order: Order = []
    for term in spec.split(","):
        match = TERM.match(term)
        if not match:
            raise OrderError(f"{term.strip()!r} is not COLUMN, COLUMN ASC or COLUMN DESC")
        column, direction = match.group(1).lower(), (match.group(2) or "asc").lower()
        if column in _ORDERS_OF_THEIR_OWN:
            raise OrderError(f"{column} is the results' own column, not a record's: {_ORDERS_OF_THEIR_OWN[column]}")
        if column not in RECORD_COLUMNS:
            raise OrderError(f"no column {column!r} ({columns_hint(column)})")
        order.append((column, "descending" if direction == "desc" else "ascending"))
    return order


def order_columns(order: Order) -> list[str]:
    """The columns a store must read to put rows in ``order`` (path breaks ties)."""
    return list(dict.fromkeys([column for column, _ in order] + ["path"]))


def sort_indices(rows: pa.Table, order: Order) -> pa.Array:
    """The positions of ``rows`` (holding ``order_columns``) in ``order``: missing values last,
    ties by path."""
    import pyarrow.compute as pc

    keys = order + ([] if any(c == "path" for c, _ in order) else [("path", "ascending")])
    return pc.sort_indices(rows, sort_keys=[(column, direction, "at_end") for column, direction in keys])


def hits_in_order(hits: Sequence[Hit], order: Order) -> list[Hit]:
    """Search results listed in ``order`` instead of by score: missing values last, ties by path."""
    ordered = sorted(hits, key=lambda hit: hit.record["path"])
    for column, direction in reversed(order):  # a stable sort per key, the last key first
        present = [h for h in ordered if _value(h.record.get(column)) is not None]
        present.sort(key=lambda hit: hit.record[column], reverse=direction == "descending")
        ordered = present + [h for h in ordered if _value(h.record.get(column)) is None]
    return ordered


def _value(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value
