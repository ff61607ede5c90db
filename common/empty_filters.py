"""Why a ``--where`` let no row through: the condition no row meets, and what the index holds
that it may have meant.

SQL compares text exactly. ``country = 'Italien'`` (the index writes Italy), ``make = 'canon'``
(Canon), ``make = 'Nikon'`` (NIKON CORPORATION), ``model LIKE 'eos%'`` (LIKE minds case) each
found nothing, and 'no matches' alone left the user to find out which condition, and how the
index writes what they meant (``--stats`` lists some of it). Each comparison of a text column
with text (``=``, ``IN``, ``LIKE``: ``RecordFilter.comparisons``) is tried alone; for one
that no row meets, the values the column holds that match the text with case, accents and
spaces aside, or that name the same country or city in another language, are offered, in the
condition as it would then be written; text that longer values hold as a word ('photoshop'
among a photo's keywords, 'Kandahar' in its location) is offered as the ``ILIKE`` pattern that
finds it in them (an ``IN`` list as those values); else the values spelt nearly so ('Canonn':
Canon); a ``LIKE`` that ``ILIKE`` meets, as that. A
column of more values than ``MOST_VALUES_SIFTED`` (paths, file names) is asked through the
store's engine instead, for the values it holds case aside.

A number or date compared with a constant (``iso > 100000``, ``date_taken > '2030'``, ``width
BETWEEN 5000 AND 6000``: ``RecordFilter.comparisons``) that no row meets is told the values
nearest to it: 'the highest iso is 25600'. Where each condition meets rows alone but the filter
none, the two conditions no row meets together are named, with the rows each meets: ``make =
'Canon' AND country = 'Italy'`` (no Canon photo was taken in Italy). Nothing of this runs unless
the filter found nothing.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable

from common.filters import DATES_AS_TEXT, RangeCondition, TextCondition, empty_record_filter, quoted, validate_where
from common.place_data import folded
from common.spelt_nearly import spelt_nearly
from common.store import FilterError, ImageStore

log = logging.getLogger(__name__)

MOST_OFFERED = 3  # values offered for one typed
SPELT_NEARLY = 0.8  # difflib's ratio of a value offered for one typed wrong: 'canonn' and 'canon' 0.91
# A column with more distinct values than this (paths, file names) is not sifted in Python
# (~5 us a value: seconds at a million paths); the engine is asked for what matches case aside.
MOST_VALUES_SIFTED = 20_000
_WORD = re.compile(r"\w+")
# The conditions of a --where tried in pairs for the two no row meets together (28 pairs at most).
MOST_CONJUNCTS_PAIRED = 8
MOST_LISTED_NEAREST = 5  # the values of an IN list ('iso IN (100, 200)') whose nearest are looked for


def what_no_row_meets(store: ImageStore, where: str) -> list[str]:
    """A line for each comparison in ``where`` (as the user typed it) that no row of ``store``
    meets alone: of text, what the index holds that it may have meant; of a number or date, the
    values nearest to it. Where each meets rows but the filter none, the conditions that no row
    meets together (``_no_row_meets_together``)."""
    records = empty_record_filter()
    lines, said = [], set()
    held: dict[str, list[str]] = {}
    for condition in records.comparisons(where):
        if _meets_some_row(store, condition.written):
            continue
        said.add(condition.written)
        line = f"--where: no row has {condition.written}"
        if isinstance(condition, RangeCondition):
            lines.append(f"{line}; {_values_nearest(store, condition)}")
        else:
            offered = _what_text_may_mean(store, condition, held)
            lines.append(f"{line}; did you mean {offered}?" if offered else line)
    return lines + _no_row_meets_together(store, where, records.conjuncts(where), said)


def _no_row_meets_together(store: ImageStore, where: str, conjuncts: list[str], said: set[str]) -> list[str]:
    """Where no row meets ``where``, the conditions it joins with AND (``conjuncts``) that no row
    meets: those alone but the ones ``said`` already, else the first two that no row meets
    together, with how many rows meet each ('make = 'Canon' AND model = 'NIKON D750''; one may
    hold a comparison said, as 'country = 'France'' in '(country = 'Italy' OR country =
    'France')'); else that it takes them all. 'No matches' left the user to try them in pairs."""
    if len(conjuncts) < 2 or _meets_some_row(store, where):
        return []
    alone = [conjunct for conjunct in conjuncts if not _meets_some_row(store, conjunct)]
    if alone:  # those no comparison said speaks for ('lower(make) = 'leica'')
        return [f"--where: no row has {conjunct}" for conjunct in alone if conjunct not in said]
    for first, second in itertools.combinations(conjuncts[:MOST_CONJUNCTS_PAIRED], 2):
        if not _meets_some_row(store, f"{first} AND {second}"):
            return [
                f"--where: no row has both {first} ({_rows_meeting(store, first)}) and {second} "
                f"({_rows_meeting(store, second)})"
            ]
    return [f"--where: no row has all {len(conjuncts)} conditions together (each two of them meet some rows)"]


def _rows_meeting(store: ImageStore, condition: str) -> str:
    """'12 rows' meet ``condition``."""
    count = store.count_matching(validate_where(condition))
    return f"{count:,} row{'' if count == 1 else 's'}"


def _values_nearest(store: ImageStore, condition: RangeCondition) -> str:
    """What the column holds nearest to the values a comparison no row meets lets through: 'the
    highest iso is 6400', 'the earliest date_taken is '1998-01-01T00:00:00'', 'the nearest width
    values are 480 and 1024'; 'no row has any rating' where none has one."""
    column, lowest, highest = condition.column, condition.lowest, condition.highest
    ends = ("earliest", "latest") if column in DATES_AS_TEXT else ("lowest", "highest")
    if condition.values or (lowest is not None and highest is not None):  # IN, '=', BETWEEN: on either side
        sides = [(value, value) for value in condition.values[:MOST_LISTED_NEAREST]] or [(lowest, highest)]
        nearest = [
            value
            for below, above in sides
            for value in (
                _extreme(store, column, f"{column} < {below}", "max"),
                _extreme(store, column, f"{column} > {above}", "min"),
            )
            if value is not None
        ]
        if condition.values:  # numbers, each once, in order
            nearest = sorted(set(nearest), key=float)
        if nearest:
            listed = f"{', '.join(nearest[:-1])} and {nearest[-1]}" if len(nearest) > 1 else nearest[0]
            return f"the nearest {column} {'values are' if len(nearest) > 1 else 'value is'} {listed}"
    elif lowest is not None or highest is not None:
        end, which = (ends[1], "max") if lowest is not None else (ends[0], "min")
        value = _extreme(store, column, f"{column} IS NOT NULL", which)
        if value is not None:
            return f"the {end} {column} is {value}"
    return f"no row has any {column}"


def _extreme(store: ImageStore, column: str, condition: str, which: str) -> str | None:
    """The ``which`` ('min', 'max') of ``column`` over the rows meeting ``condition``, as
    ``--where`` writes it; None where no row has one."""
    import pyarrow.compute as pc

    try:
        values = store.get_columns([column], validate_where(condition)).column(column)
    except FilterError:
        return None
    value = getattr(pc, which)(values).as_py()
    if value is None:
        return None
    if isinstance(value, str):
        return quoted(value)
    return repr(value) if isinstance(value, float) else str(value)  # repr: the float itself, to every digit


def _what_text_may_mean(store: ImageStore, condition: TextCondition, held: dict[str, list[str]]) -> str | None:
    """The condition the index's values make of a comparison of text no row meets, or None;
    ``held``: each column's values read so far (none where too many to sift), added to."""
    if condition.operator == "LIKE":  # the pattern case aside: no values to read
        return _unminded(store, condition)
    if condition.column not in held:
        held[condition.column] = store.get_distinct_values(condition.column, MOST_VALUES_SIFTED) or []
    if held[condition.column]:
        return _offered(store, condition, held[condition.column])
    return _offered_by_the_engine(store, condition)


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
        inside = f"{column} ILIKE {quoted('%' + _as_pattern(typed) + '%')}"
        if not values and _holds_as_word(typed, held) and _meets_some_row(store, inside):
            return inside  # a word of longer values ('photoshop' among a photo's keywords)
        values = values or _values_spelt_nearly(typed, held)
        if not values:
            return None
    else:
        meant = {
            typed: _values_named(column, typed, held)
            or _values_holding(typed, held)
            or _values_spelt_nearly(typed, held)
            for typed in condition.values
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


def _values_spelt_nearly(typed: str, held: list[str]) -> list[str]:
    """The values of ``held`` spelt nearly as ``typed``, case and accents aside ('Canonn':
    Canon; ``common.spelt_nearly``), the likest first, ``MOST_OFFERED`` at most."""
    return spelt_nearly(typed, held, most=MOST_OFFERED, likeness=SPELT_NEARLY, fold=folded)


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
    """The country (``country``, ``country_code``), region (``state``) or city (``city``) of
    ``held`` that ``typed`` names in another language ('Italien': Italy, 'Toscana': Tuscany,
    'Firenze': Florence)."""
    finders: dict[str, Callable[[], list[str]]] = {
        "country": lambda: _country_named(typed, by_code=False),
        "country_code": lambda: _country_named(typed, by_code=True),
        "state": lambda: _regions_named(typed),
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


def _regions_named(typed: str) -> list[str]:
    from common.places import gazetteer

    return list(dict.fromkeys(region for region, _ in gazetteer().regions_named(typed)))


def _cities_named(typed: str) -> list[str]:
    from common.place_names import places_called

    return list(dict.fromkeys(place.label.split(", ")[0] for place in places_called(typed)))
