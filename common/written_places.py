"""Places as the photos' written locations name them: 'Genova, Italia' is found by Genoa and Italy.

A location people wrote (XMP's and IPTC's City and Country, ``location``) is in their language,
and a photo that has one often has no GPS position to name its place in English. A metadata
search for a place by the name the index gives places ('Genoa', 'Italy') adds the names the
index's locations call it by ('Genova', 'Italia'); the rows stay as written, as
``common.place_names`` leaves them.

A location's country is any of its parts that names one (in English, in its own languages, an
alias: ``Gazetteer.country_named``). Its other parts are looked for among that country's places
of ``OTHER_NAMES_POPULATION`` people or more, by their other names, the most populous first: a
place written by its own name, or a street or a landmark, adds nothing, and without a country
nothing is guessed ('Victoria' alone names places on four continents).

Reading a location's names costs ~0.7 s the first time (the gazetteer's countries and
GeoNames' other names); what each location names is kept beside the index in
``LOCATION_NAMES_FILE``, so a metadata search after that reads one small file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from typing import Any

from common.place_names import is_code, other_names_source, populous_places, remembered_beside_index, search_words
from common.places import folded, gazetteer
from common.xmp import LOCATION_SEPARATOR

LOCATION_NAMES_FILE = "location-names.json"  # each written location's names (written_names_remembered)
# Raised when what a location is found to name changes: the names remembered are worked out again.
LOCATION_RULES = 1


def written_names_of_index(locations: Iterable[str], folder: str) -> dict[str, list[str]]:
    """Each place the index's written ``locations`` name by another name, by its name as the
    index names places, as search words ('genoa'), with the names written for it ('Genova')
    (``written_names_remembered``)."""
    found: dict[str, list[str]] = {}
    for pairs in written_names_remembered(folder, locations).values():
        for name, written in pairs:
            if written not in found.setdefault(search_words(name), []):
                found[search_words(name)].append(written)
    return found


def written_names_remembered(folder: str, locations: Iterable[str]) -> dict[str, list[list[str]]]:
    """``names_written_in`` each of these locations, kept in ``LOCATION_NAMES_FILE`` in the
    index's ``folder`` (``remembered_beside_index``)."""
    path = os.path.join(folder, LOCATION_NAMES_FILE)
    source = f"{other_names_source()}, rules {LOCATION_RULES}"

    def work_out(missing: list[str]) -> dict[str, list[list[str]]]:
        return {location: [list(pair) for pair in names_written_in(location)] for location in missing}

    return remembered_beside_index(path, source, "locations", {location: location for location in locations}, work_out)


def names_written_in(location: str) -> list[tuple[str, str]]:
    """(the place's name as the index names places, the name written) for each part of
    ``location`` that names its country or one of the country's places by another name:
    [('Genoa', 'Genova'), ('Italy', 'Italia')] for 'Genova, Italia'; nothing for 'Genoa, Italy'."""
    parts = [part.strip() for part in location.split(LOCATION_SEPARATOR.strip()) if part.strip()]
    places = gazetteer()
    countries = [places.country_named(part) for part in parts]
    code = next((code for code in reversed(countries) if code), None)
    if code is None:
        return []
    found = []
    for part, country in zip(parts, countries, strict=True):
        if country == code:
            name = places.countries.get(code)
        else:
            record = _places_by_name_in(code).get(folded(part))
            name = record["name"] if record else None
        if name and folded(name) != folded(part):
            found.append((name, part))
    return found


@cache
def _places_by_name_in(code: str) -> dict[str, dict[str, Any]]:
    """The places of the country with ISO code ``code`` (of GeoNames' places of 15,000 people
    or more) by each of their folded names: a place's own name first ('Parma' is Parma, whatever
    larger place GeoNames calls so too), then the others, the most populous first; codes left out."""
    in_country = [record for record in populous_places() if record["countrycode"] == code]
    in_country.sort(key=lambda record: -record["population"])
    found: dict[str, dict[str, Any]] = {}
    for record in in_country:
        found.setdefault(folded(record["name"]), record)
    for record in in_country:
        for name in record["alternatenames"]:
            if not is_code(name):
                found.setdefault(folded(name), record)
    return found
