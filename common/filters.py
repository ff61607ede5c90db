"""``--where`` conditions: SQL over the record columns, with one meaning on both backends.

Each condition is checked against the record schema with DuckDB before any search runs, so an
unknown column or a syntax error is a usage error (exit 2) on either backend, and the FAISS
backend evaluates the same SQL over its pandas frame with the same engine.
"""

from __future__ import annotations

import functools
import re

import pandas as pd

from common.records import RECORD_SCHEMA
from common.store import FilterError


@functools.cache
def empty_record_frame() -> pd.DataFrame:
    """A zero-row frame with every record column at its real type, for checking conditions."""
    return RECORD_SCHEMA.empty_table().to_pandas()


def validate_where(where: str) -> None:
    """Raise ``FilterError`` with DuckDB's reason when ``where`` is not valid over the records."""
    if not where.strip():
        raise FilterError("--where is empty")
    matching_rows(empty_record_frame(), where)


def matching_rows(frame: pd.DataFrame, where: str) -> pd.Series:
    """A boolean mask of the rows of ``frame`` for which the SQL condition ``where`` is true."""
    import duckdb

    connection = duckdb.connect()
    try:
        connection.register("records", frame)
        # A NULL result (e.g. make = 'Canon' on a row with no make) counts as false, as in SQL.
        result = connection.execute(f"SELECT COALESCE(({where}), FALSE) AS keep FROM records").fetchnumpy()
    except duckdb.Error as error:
        raise FilterError(_explain(str(error))) from None
    finally:
        connection.close()
    return pd.Series(result["keep"].astype(bool), index=frame.index)


def _explain(text: str) -> str:
    unknown = re.search(r'Referenced column "([^"]+)" not found', text)
    if unknown:
        return f"unknown column {unknown.group(1)!r} (columns: {', '.join(RECORD_SCHEMA.names)})"
    return text.strip().splitlines()[0] if text.strip() else "invalid condition"
