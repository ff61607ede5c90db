"""Places as the photos' written locations name them: 'Genova, Italia' is found by Genoa and
Italy, and 'Genoa, Italy' by Genova and Italia.

A location people wrote (XMP's and IPTC's City and Country, ``location``) is in their language,
and a photo that has one often has no GPS position to name its place in English. The places a
location names join the index's places (``IndexPlaces``) under the names the index gives
places, so a metadata search takes them as it takes a GPS position's: a place's other names
('Genova', 'Monaco di Baviera') add its English name, and a place's English name adds the names
the index's locations write it by ('Genova', 'München'). The rows stay as written, as
``common.place_names`` leaves them.

A location's country is any of its parts that names one (in English, in its own languages, in
another, an alias: ``Gazetteer.country_named``): 'Florenz, Italien' as 'Firenze, Italia'. Its
other parts are looked for among that country's places of ``OTHER_NAMES_POPULATION`` people or
more, by their own names, then by their other names, the most populous first, then among its
regions ('Toscana': Tuscany, found by ``--text Tuscany`` and ``Toskana``): a street or a
landmark names nothing, and without a country nothing is guessed ('Victoria' alone names places
on four continents).

Reading a location's places costs ~0.15 s the first time (the gazetteer's countries and
GeoNames' other names, compiled: ``common.place_data``); what each location names is kept beside the index in
``LOCATION_NAMES_FILE``, so a metadata search after that reads one small file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from typing import Any

from common.country_names import country_names_source
from common.place_data import other_named_places
from common.place_names import is_code, other_names_source, remembered_beside_index
from common.places import folded, gazetteer
from common.xmp import LOCATION_SEPARATOR

LOCATION_NAMES_FILE = "location-names.json"  # each written location's places (written_places_remembered)
# Raised when what a location is found to name changes: the places remembered are worked out again.
# 3: a country named in any language CLDR has (common.country_names); 4: in more scripts; 5: regions
LOCATION_RULES = 5


def written_places_of_index(locations: Iterable[str], folder: str) -> list[tuple[str, str, str, str]]:
    """The places the index's written ``locations`` name (``places_written_in``), each once,
    as ``written_places_remembered`` keeps them."""
    remembered = written_places_remembered(folder, locations)
    return list(dict.fromkeys(tuple(place) for places in remembered.values() for place in places))


def written_places_remembered(folder: str, locations: Iterable[str]) -> dict[str, list[list[str]]]:
    """``places_written_in`` each of these locations, kept in ``LOCATION_NAMES_FILE`` in the
    index's ``folder`` (``remembered_beside_index``)."""
    path = os.path.join(folder, LOCATION_NAMES_FILE)
    source = f"{other_names_source()}, {country_names_source()}, rules {LOCATION_RULES}"

    def work_out(missing: list[str]) -> dict[str, list[list[str]]]:
        return {location: [list(place) for place in places_written_in(location)] for location in missing}

    return remembered_beside_index(path, source, "locations", {location: location for location in locations}, work_out)


def places_written_in(location: str) -> list[tuple[str, str, str, str]]:
    """(the place's name as the index names places, as written, its country's name as the index
    names countries, the country's ISO code) for each part of ``location`` that names its
    country, one of the country's places or one of its regions (in any of their names:
    ``common.region_names``): [('Genoa', 'Genova', 'Italy', 'IT'), ('Italy', 'Italia', 'Italy',
    'IT')] for 'Genova, Italia'; nothing without a country."""
    parts = [part.strip() for part in location.split(LOCATION_SEPARATOR.strip()) if part.strip()]
    places = gazetteer()
    countries = [places.country_named(part) for part in parts]
    code = next((code for code in reversed(countries) if code), None)
    if code is None:
        return []
    country_name = places.countries.get(code) or code
    found = []
    for part, country in zip(parts, countries, strict=True):
        if country == code:
            found.append((country_name, part, country_name, code))
        elif record := _places_by_name_in(code).get(folded(part)):
            found.append((record["name"], part, country_name, code))
        elif region := next((region for region, of in places.regions_named(part) if of == code), None):
            found.append((region, part, country_name, code))  # 'Toscana': Tuscany (common.region_names)
    return found


@cache
def _places_by_name_in(code: str) -> dict[str, dict[str, Any]]:
    """The places of the country with ISO code ``code`` (of GeoNames' places of 15,000 people
    or more) by each of their folded names: a place's own name first ('Parma' is Parma, whatever
    larger place GeoNames calls so too), then the others, the most populous first; codes left out."""
    places = other_named_places()
    in_country = [places.record(i) for i, country in enumerate(places.country_code) if country == code]
    in_country.sort(key=lambda record: -record["population"])
    found: dict[str, dict[str, Any]] = {}
    for record in in_country:
        found.setdefault(folded(record["name"]), record)
    for record in in_country:
        for name in record["alternatenames"]:
            if not is_code(name):
                found.setdefault(folded(name), record)
    return found
