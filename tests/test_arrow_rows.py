"""Rows taken chunk by chunk are the rows pyarrow's own take gives, in the order asked."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from common.arrow_rows import take_rows


def chunked_table(chunk_rows: list[int]) -> pa.Table:
    """A table of paths, numbers and missing values in chunks of these sizes (empty ones too)."""
    schema = pa.schema({"path": pa.string(), "width": pa.int32(), "city": pa.string()})
    batches, start = [], 0
    for rows in chunk_rows:
        numbers = list(range(start, start + rows))
        batches.append(
            pa.record_batch(
                {
                    "path": [f"/photos/{n:05d}.jpg" for n in numbers],
                    "width": pa.array([n * 3 for n in numbers], pa.int32()),
                    "city": [None if n % 7 == 0 else f"town {n % 11}" for n in numbers],
                },
                schema=schema,
            )
        )
        start += rows
    return pa.Table.from_batches(batches, schema=schema)


@pytest.mark.parametrize(
    "positions",
    [
        [17, 3, 1999, 250, 251, 0],  # hits in score order: every chunk, out of order
        [1500, 1500, 2],  # the same row twice
        list(range(600, 700)),  # a listing's page: in order, across a chunk boundary
        [1999],
    ],
)
def test_taken_rows_are_pyarrows_rows_in_the_order_asked(positions: list[int]) -> None:
    table = chunked_table([250, 0, 400, 1, 1349])
    assert table.num_rows == 2000 and table["path"].num_chunks == 5
    expected = table.combine_chunks().take(pa.array(positions))
    assert take_rows(table, positions).to_pylist() == expected.to_pylist()
    assert take_rows(table["path"], np.array(positions)).to_pylist() == expected["path"].to_pylist()
    assert take_rows(table["path"].combine_chunks(), positions).to_pylist() == expected["path"].to_pylist()


def test_many_rows_and_no_rows_are_taken_too() -> None:
    table = chunked_table([300, 300, 400])
    many = np.random.default_rng(0).permutation(1000)[:500]  # past JOINED_TAKE_SHARE: pyarrow's take
    assert take_rows(table, many).to_pylist() == table.combine_chunks().take(pa.array(many)).to_pylist()
    assert take_rows(table, []).num_rows == 0 and len(take_rows(table["path"], [])) == 0


@pytest.mark.parametrize("position", [-1, 1000])
def test_a_position_outside_the_rows_is_an_error_not_another_row(position: int) -> None:
    with pytest.raises(IndexError):
        take_rows(chunked_table([300, 300, 400]), [5, position])
