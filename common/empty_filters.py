"""Why a ``--where`` let no row through: the condition no row meets, and what the index holds
that it may have meant.

SQL compares text exactly. ``country = 'Italien'`` (the index writes Italy), ``make = 'canon'``
(Canon), ``make = 'Nikon'`` (NIKON CORPORATION), ``model LIKE 'eos%'`` (LIKE minds case) each
found nothing, and 'no matches' alone left the user to find out which condition, and how the
index writes what they meant (``--stats`` lists some of it). Each comparison of a text column
with text (``=``, ``IN``, ``LIKE``: ``RecordFilter.text_conditions``) is tried alone; for one
that no row meets, the values the column holds that match the text with case, accents and
spaces aside, that name the same country or city in another language, or that hold the text as
a word are offered, in the condition as it would then be written; a ``LIKE`` that ``ILIKE``
meets is offered as that.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from common.filters import TextCondition, empty_record_filter, validate_where
from common.place_data import folded
from common.store import FilterError, ImageStore

log = logging.getLogger(__name__)

MOST_OFFERED = 3  # values offered for one typed
_WORD = re.compile(r"\w+")


def what_no_row_meets(store: ImageStore, where: str) -> list[str]:
    """A line for each comparison of text in ``where`` (as the user typed it) that no row of
    ``store`` meets alone: what it is, and what the index holds that it may have meant."""
    lines = []
    held: dict[str, list[str]] = {}
    for condition in empty_record_filter().text_conditions(where):
        if _meets_some_row(store, condition.written):
            continue
        line = f"--where: no row has {condition.written}"
        if condition.column not in held:
            values = store.get_columns([condition.column]).column(condition.column).unique().to_pylist()
            held[condition.column] = sorted(value for value in values if value)
        offered = _offered(store, condition, held[condition.column])
        lines.append(f"{line}; did you mean {offered}?" if offered else line)
    return lines


def _meets_some_row(store: ImageStore, condition: str) -> bool:
    try:
        return bool(store.get_records(validate_where(condition), 1))
    except FilterError as error:  # as typed inside a larger condition, it ran: nothing to say of it
        log.debug("could not try %s alone: %s", condition, error)
        return True


def _offered(store: ImageStore, condition: TextCondition, held: list[str]) -> str | None:
    """The condition written with the values ``held`` that its typed ones may mean, or None."""
    column = condition.column
    if condition.operator == "LIKE":
        (pattern,) = condition.values
        unminded = f"{column} ILIKE {_quoted(pattern)}"
        return unminded if _meets_some_row(store, unminded) else None
    meant = {value: _values_meant(column, value, held) for value in condition.values}
    if not any(meant.values()):
        return None
    values = list(dict.fromkeys(v for typed in condition.values for v in (meant[typed] or [typed])))
    if len(values) == 1:
        return f"{column} = {_quoted(values[0])}"
    return f"{column} IN ({', '.join(map(_quoted, values))})"


def _values_meant(column: str, typed: str, held: list[str]) -> list[str]:
    """What of ``held`` (the column's values) ``typed`` may mean: the values equal to it case,
    accents and spaces aside; else the country or city it names in another language; else the
    values holding it as a word (``MOST_OFFERED`` at most)."""
    wanted = folded(typed)
    for found in (
        lambda: [value for value in held if folded(value) == wanted],
        lambda: _place_named(column, typed, held),
        lambda: [value for value in held if wanted in _WORD.findall(folded(value))],
    ):
        values = found()
        if values:
            return values[:MOST_OFFERED]
    return []


def _place_named(column: str, typed: str, held: list[str]) -> list[str]:
    """The country (``country``, ``country_code``) or city (``city``) of ``held`` that ``typed``
    names in another language ('Italien': Italy, 'Firenze': Florence)."""
    finders: dict[str, Callable[[], list[str]]] = {
        "country": lambda: _country_named(typed, by_code=False),
        "country_code": lambda: _country_named(typed, by_code=True),
        "city": lambda: _cities_named(typed),
    }
    find = finders.get(column)
    if find is None or not typed.strip():
        return []
    return [name for name in find() if name in held]


def _country_named(typed: str, *, by_code: bool) -> list[str]:
    from common.places import gazetteer

    places = gazetteer()
    code = places.country_named(typed)
    if code is None:
        return []
    return [code] if by_code else [places.countries.get(code) or code]


def _cities_named(typed: str) -> list[str]:
    from common.place_names import places_called

    return list(dict.fromkeys(place.label.split(", ")[0] for place in places_called(typed)))


def _quoted(text: str) -> str:
    """``text`` as an SQL string constant."""
    return "'" + text.replace("'", "''") + "'"
