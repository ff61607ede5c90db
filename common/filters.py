"""``--where`` conditions: SQL over the record columns, with one meaning on both backends.

Each condition is checked against the record schema with DuckDB before any search runs, so an
unknown column or a syntax error is a usage error (exit 2) on either backend, and the FAISS
backend evaluates the same SQL over its pandas frame with the same engine.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd

from common.records import RECORD_COLUMNS, record_schema
from common.store import FilterError


@functools.cache
def empty_record_filter() -> RecordFilter:
    """Conditions checked against a zero-row frame holding every record column at its real type."""
    return RecordFilter(record_schema().empty_table().to_pandas())


def validate_where(where: str) -> None:
    """Raise ``FilterError`` with DuckDB's reason when ``where`` is not valid over the records."""
    if not where.strip():
        raise FilterError("--where is empty")
    empty_record_filter().mask(where)


class RecordFilter:
    """SQL conditions over one records frame.

    Opening a DuckDB connection and registering the frame costs ~20 ms, twenty times the query
    itself, so a store keeps one ``RecordFilter`` per version of its frame.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        import duckdb

        self._duckdb_error = duckdb.Error
        self.connection = duckdb.connect()
        self.connection.register("records", frame)

    def mask(self, where: str) -> np.ndarray:
        """True for the rows where the SQL condition ``where`` holds (NULL counts as false, as in SQL)."""
        try:
            result = self.connection.execute(f"SELECT COALESCE(({where}), FALSE) AS keep FROM records").fetchnumpy()
        except self._duckdb_error as error:
            raise FilterError(_explain(self._syntax_error_in_its_own_words(where) or str(error))) from None
        return result["keep"].astype(bool)

    def _syntax_error_in_its_own_words(self, where: str) -> str | None:
        """DuckDB's complaint about ``where`` parsed alone (parsed, never run): a syntax error in
        the wrapped query points at the wrapping ("near ')'" for ``width >``), not at the text."""
        try:
            self.connection.extract_statements(f"SELECT {where}")
        except self._duckdb_error as error:
            return str(error)
        return None

    def close(self) -> None:
        self.connection.close()


def _explain(text: str) -> str:
    unknown = re.search(r'Referenced column "([^"]+)" not found', text)
    if unknown:
        return f"unknown column {unknown.group(1)!r} (columns: {', '.join(RECORD_COLUMNS)})"
    return text.strip().splitlines()[0] if text.strip() else "invalid condition"
