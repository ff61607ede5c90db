"""Why a ``--where`` let no row through: the condition no row meets, and what the index holds
that it may have meant.

SQL compares text exactly. ``country = 'Italien'`` (the index writes Italy), ``make = 'canon'``
(Canon), ``make = 'Nikon'`` (NIKON CORPORATION), ``model LIKE 'eos%'`` (LIKE minds case) each
found nothing, and 'no matches' alone left the user to find out which condition, and how the
index writes what they meant (``--stats`` lists some of it). Each comparison of a text column
with text (``=``, ``IN``, ``LIKE``: ``RecordFilter.text_conditions``) is tried alone; for one
that no row meets, the values the column holds that match the text with case, accents and
spaces aside, or that name the same country or city in another language, are offered, in the
condition as it would then be written; text that longer values hold as a word ('photoshop'
among a photo's keywords, 'Kandahar' in its location) is offered as the ``ILIKE`` pattern that
finds it in them (an ``IN`` list as those values); a ``LIKE`` that ``ILIKE`` meets, as that. A
column of more values than ``MOST_VALUES_SIFTED`` (paths, file names) is asked through the
store's engine instead, for the values it holds case aside. Nothing of this runs unless the
filter found nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from common.filters import TextCondition, empty_record_filter, quoted, validate_where
from common.place_data import folded
from common.store import FilterError, ImageStore

log = logging.getLogger(__name__)

MOST_OFFERED = 3  # values offered for one typed
# A column with more distinct values than this (paths, file names) is not sifted in Python
# (~5 us a value: seconds at a million paths); the engine is asked for what matches case aside.
MOST_VALUES_SIFTED = 20_000
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
        if condition.operator == "LIKE":  # the pattern case aside: no values to read
            offered = _unminded(store, condition)
        else:
            if condition.column not in held:
                values = store.get_columns([condition.column]).column(condition.column).unique()
                held[condition.column] = (
                    sorted(v for v in values.to_pylist() if v) if len(values) <= MOST_VALUES_SIFTED else []
                )
            if held[condition.column]:
                offered = _offered(store, condition, held[condition.column])
            else:
                offered = _offered_by_the_engine(store, condition)
        lines.append(f"{line}; did you mean {offered}?" if offered else line)
    return lines


def _unminded(store: ImageStore, condition: TextCondition) -> str | None:
    """A ``LIKE`` that no row meets as ``ILIKE``, where some row meets that."""
    (pattern,) = condition.values
    unminded = f"{condition.column} ILIKE {quoted(pattern)}"
    return unminded if _meets_some_row(store, unminded) else None


def _offered_by_the_engine(store: ImageStore, condition: TextCondition) -> str | None:
    """What ``_offered`` gives where the column's values are too many to sift: each typed value
    as the rows hold it case aside (``ILIKE`` without a wildcard), else, for ``=``, the pattern
    that finds it inside longer values."""
    column, values = condition.column, []
    for typed in condition.values:
        try:
            found = store.get_columns([column], validate_where(f"{column} ILIKE {quoted(_as_pattern(typed))}"))
        except FilterError:
            return None
        values += sorted({value for value in found.column(column).to_pylist() if value})[:MOST_OFFERED] or [typed]
    if values != list(condition.values):
        return _compared_with(column, list(dict.fromkeys(values)))
    if condition.operator == "=":
        inside = f"{column} ILIKE {quoted('%' + _as_pattern(condition.values[0]) + '%')}"
        return inside if _meets_some_row(store, inside) else None
    return None


def _as_pattern(text: str) -> str:
    """``text`` as a LIKE pattern that matches it alone: its wildcards and backslashes escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _meets_some_row(store: ImageStore, condition: str) -> bool:
    try:
        return bool(store.get_records(validate_where(condition), 1))
    except FilterError as error:  # as typed inside a larger condition, it ran: nothing to say of it
        log.debug("could not try %s alone: %s", condition, error)
        return True


def _offered(store: ImageStore, condition: TextCondition, held: list[str]) -> str | None:
    """The condition written with the values ``held`` that its typed ones may mean, or None."""
    column = condition.column
    if condition.operator == "=":
        (typed,) = condition.values
        values = _values_named(column, typed, held)
        if not values:  # a word of longer values ('photoshop' among a photo's keywords)
            inside = f"{column} ILIKE {quoted('%' + _as_pattern(typed) + '%')}"
            return inside if _holds_as_word(typed, held) and _meets_some_row(store, inside) else None
    else:
        meant = {
            typed: _values_named(column, typed, held) or _values_holding(typed, held) for typed in condition.values
        }
        if not any(meant.values()):
            return None
        values = list(dict.fromkeys(value for typed in condition.values for value in (meant[typed] or [typed])))
    return _compared_with(column, values)


def _compared_with(column: str, values: list[str]) -> str:
    """``column = 'value'``, or ``column IN (…)`` for several."""
    if len(values) == 1:
        return f"{column} = {quoted(values[0])}"
    return f"{column} IN ({', '.join(map(quoted, values))})"


def _values_named(column: str, typed: str, held: list[str]) -> list[str]:
    """The values of ``held`` (the column's) equal to ``typed`` case, accents and spaces aside,
    else those of the country or city it names in another language (``MOST_OFFERED`` at most)."""
    wanted = folded(typed)
    same = [value for value in held if folded(value) == wanted]
    return (same or _place_named(column, typed, held))[:MOST_OFFERED]


def _values_holding(typed: str, held: list[str]) -> list[str]:
    """The values of ``held`` that hold ``typed`` as a word or words ('Nikon': NIKON
    CORPORATION), ``MOST_OFFERED`` at most."""
    return [value for value in held if _holds_as_word(typed, [value])][:MOST_OFFERED]


def _holds_as_word(typed: str, held: list[str]) -> bool:
    """Whether one of ``held`` holds ``typed`` as a run of whole words, case and accents aside."""
    words = _WORD.findall(folded(typed))
    if not words:
        return False
    wanted = f" {' '.join(words)} "
    return any(wanted in f" {' '.join(_WORD.findall(folded(value)))} " for value in held)


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
