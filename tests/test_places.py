"""Places: a GPS position becomes the city, region and country it is in, searchable and filterable."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from common.describe import current_search_text
from common.place_names import OTHER_NAMES_FILE, REGION_NAMES_FILE, IndexPlaces, other_names_of, recorded_names_in
from common.places import PLACE_COLUMNS, gazetteer
from common.records import RECORD_VERSION
from common.written_places import LOCATION_NAMES_FILE, places_written_in
from conftest import Cli, made_by_an_older_imagedb, paint_photo, paint_tagged_photo

EIFFEL_TOWER = (48.8584, 2.2945)
AREZZO = (43.4682, 11.8802)
MID_ATLANTIC = (37.0, -20.0)


def degrees_minutes_seconds(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    degrees, minutes = int(value), int(value * 60) % 60
    return Fraction(degrees), Fraction(minutes), Fraction(round((value * 3600) % 60, 4)).limit_denominator(10_000)


def photo_taken_at(path: Path, seed: int, latitude: float, longitude: float) -> Path:
    """A generated JPEG whose EXIF holds a GPS position, as a phone writes it (Pillow's EXIF writer)."""
    paint_photo(path, seed)
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N" if latitude >= 0 else "S",
        ExifTags.GPS.GPSLatitude: degrees_minutes_seconds(latitude),
        ExifTags.GPS.GPSLongitudeRef: "E" if longitude >= 0 else "W",
        ExifTags.GPS.GPSLongitude: degrees_minutes_seconds(longitude),
    }
    with Image.open(path) as image:
        image.load()
        image.save(path, exif=exif, quality=92)
    return path


@pytest.fixture
def trip(tmp_path: Path) -> Path:
    """Photos taken at the Eiffel Tower, in Arezzo and mid-ocean, and one without a position."""
    root = tmp_path / "trip"
    photo_taken_at(root / "tower.jpg", 1, *EIFFEL_TOWER)
    photo_taken_at(root / "arezzo.jpg", 2, *AREZZO)
    photo_taken_at(root / "ocean.jpg", 3, *MID_ATLANTIC)
    paint_photo(root / "scan.jpg", 4)
    return root


@pytest.mark.parametrize(
    ("position", "city", "country"),
    [
        (EIFFEL_TOWER, "Paris", "France"),  # nearest centre: Neuilly-sur-Seine, 3.4 km (Paris: 4.0)
        ((48.8225, 2.2890), "Vanves", "France"),  # a town inside Paris's reach: the town
        ((51.2724, 0.1917), "Sevenoaks", "United Kingdom"),  # 26 km from London: not London
        ((40.6892, -74.0445), "New York City", "United States"),  # Liberty Island
        ((40.44697, -3.72475), "Madrid", "Spain"),  # a district's centre is nearer
        ((60.1467, 24.9068), "Helsinki", "Finland"),  # 60° N: degrees would mislead
        ((78.2232, 15.6267), "Longyearbyen", "Svalbard and Jan Mayen"),
        ((55.7539, 37.6208), "Moscow", "Russia"),  # the package lists "Russian Federation"
        ((37.5796, 126.9770), "Seoul", "South Korea"),  # ... and "Korea, Republic of"
        ((32.8872, 13.1913), "Tripoli", "Libya"),  # ... and "Libyan Arab Jamahiriya"
        ((50.0865, 14.4114), "Prague", "Czechia"),
        ((60.0, -150.0), None, "United States"),  # Alaskan wilds: no city within 25 km, the region still
        (MID_ATLANTIC, None, None),
        ((0.0, 0.0), None, None),  # what a camera without a fix writes
    ],
)
def test_a_position_is_named_by_the_place_it_is_in(position: tuple[float, float], city, country) -> None:
    place = gazetteer().place_of(*position)
    assert (place["city"], place["country"]) == (city, country)
    assert set(place) == set(PLACE_COLUMNS)


def test_photos_are_found_by_where_they_were_taken(cli: Cli, trip: Path) -> None:
    """The place is in the record, in the metadata search, in --where and in every output."""
    cli.index(trip)
    records = {Path(p).name: r for p, r in cli.records().items()}
    assert {name: (r["city"], r["state"], r["country"], r["country_code"]) for name, r in records.items()} == {
        "tower.jpg": ("Paris", "Île-de-France", "France", "FR"),
        "arezzo.jpg": ("Arezzo", "Tuscany", "Italy", "IT"),
        "ocean.jpg": (None, None, None, None),
        "scan.jpg": (None, None, None, None),
    }
    (paris, tuscany) = cli.search("--text", "paris", "tuscany")
    assert [Path(h["path"]).name for h in paris["results"]] == ["tower.jpg"]
    assert [Path(h["path"]).name for h in tuscany["results"]] == ["arezzo.jpg"]
    listed = cli("--where", "country_code IN ('FR', 'IT') AND city <> 'Paris'", "--format", "paths")
    assert listed.code == 0 and [Path(p).name for p in listed.stdout.split()] == ["arezzo.jpg"]
    table = cli("--where", "city IS NOT NULL")
    assert "Paris, France" in table.stdout and "Arezzo, Italy" in table.stdout and "  place" in table.stdout
    assert "place" not in cli("--where", "city IS NULL").stdout, "no column when no result has a place"
    csv = cli("--where", "city = 'Paris'", "--format", "csv").stdout.splitlines()
    assert "city,state,country" in csv[0] and ",Paris,Île-de-France,France," in csv[1]
    assert cli("--check").code == 0


def test_countries_are_found_by_the_other_names_people_call_them(cli: Cli, tmp_path: Path) -> None:
    """The search text holds a country's other names: "usa" and "america" find New York, "uk"
    and "britain" London, "russia" (recorded) and "russian federation" (an alias) Moscow."""
    root = tmp_path / "travels"
    photo_taken_at(root / "liberty.jpg", 1, 40.6892, -74.0445)
    photo_taken_at(root / "big-ben.jpg", 2, 51.5007, -0.1246)
    photo_taken_at(root / "kremlin.jpg", 3, 55.7520, 37.6175)
    photo_taken_at(root / "arezzo.jpg", 4, *AREZZO)
    cli.index(root)

    def found(words: str) -> list[str]:
        return [Path(p).name for p in cli("--text", words, "--format", "paths").stdout.split()]

    assert found("usa") == found("america") == ["liberty.jpg"]
    assert found("uk") == found("britain") == ["big-ben.jpg"]
    assert found("russia") == ["kremlin.jpg"]
    assert found("federation") == ["kremlin.jpg"]
    assert found("italy") == ["arezzo.jpg"]
    listed = cli("--where", "country = 'Russia'", "--format", "paths").stdout.split()
    assert [Path(p).name for p in listed] == ["kremlin.jpg"]


def test_places_are_found_by_the_names_their_own_people_call_them(cli: Cli, tmp_path: Path) -> None:
    """A metadata search for 'München', 'Monaco di Baviera' or 'Italia' finds the photos whose
    position the index names Munich or Italy, in the text, fts and hybrid searches alike, and
    says which name it added. Airport codes and clipped forms GeoNames lists as other names
    ('SEA' for Seattle) do not turn a word into a place, and a place the index has no photo of
    adds nothing."""
    root = tmp_path / "travels"
    photo_taken_at(root / "marienplatz.jpg", 1, 48.1374, 11.5755)
    photo_taken_at(root / "duomo.jpg", 2, 43.7731, 11.2560)
    photo_taken_at(root / "pike-place.jpg", 3, 47.6097, -122.3422)
    paint_photo(root / "sea" / "waves.jpg", 4)  # "sea" is in its path: the word itself still finds it
    photo_taken_at(root / "liberty.jpg", 6, 40.6892, -74.0445)
    photo_taken_at(root / "zocalo.jpg", 7, 19.4326, -99.1332)
    cli.index(root)
    assert {Path(p).name: r["city"] for p, r in cli.records().items() if r["city"]} == {
        "marienplatz.jpg": "Munich",
        "duomo.jpg": "Florence",
        "pike-place.jpg": "Seattle",
        "liberty.jpg": "New York City",
        "zocalo.jpg": "Mexico City",
    }

    def found(*args: str) -> list[str]:
        return [Path(p).name for p in cli(*args, "--format", "paths").stdout.split()]

    for name in ("München", "munchen", "Monaco di Baviera", "Мюнхен"):
        assert found("--text", name) == ["marienplatz.jpg"], name
    assert found("--text", "Firenze") == ["duomo.jpg"]
    assert found("--text", "Italia") == ["duomo.jpg"]
    assert found("--text", "Deutschland") == ["marienplatz.jpg"]
    assert found("--text", "sea") == ["waves.jpg"], "'SEA' is Seattle's airport, not a name for it"
    assert found("--text", "Wien") == [], "no photo of Vienna yet: nothing to add"
    assert set(found("--text", "München Firenze")) == {"marienplatz.jpg", "duomo.jpg"}
    # A name of several words is added as a phrase: Mexico City's "city" is not New York's.
    assert found("--text", "Nueva York") == ["liberty.jpg"]
    assert set(found("--text", '"Nueva York" Firenze')) == {"liberty.jpg", "duomo.jpg"}
    assert found("--search", "München", "--mode", "fts") == ["marienplatz.jpg"]
    assert found("--search", "München", "--mode", "hybrid", "--limit", "1") == ["marienplatz.jpg"]
    said = cli("--text", "Monaco di Baviera", "--format", "paths").stderr
    assert "Monaco di Baviera: also matching Munich, as the index names it" in said
    assert "also matching" not in cli("--text", "Munich", "--format", "paths").stderr
    # A place left out is left out by the index's names for it too.
    everywhere = {"marienplatz.jpg", "duomo.jpg", "pike-place.jpg", "waves.jpg", "liberty.jpg", "zocalo.jpg"}
    assert set(found("--text", "travels", "--limit", "20")) == everywhere
    assert set(found("--text", 'travels -München -"Nueva York"', "--limit", "20")) == everywhere - {
        "marienplatz.jpg", "liberty.jpg",
    }  # fmt: skip
    said = cli("--text", "travels -Firenze", "--format", "paths").stderr
    assert "travels -Firenze: also leaving out Florence, as the index names it" in said
    # A place required is met by a row holding any name the index gives it.
    assert found("--text", "travels +Firenze", "--limit", "20") == ["duomo.jpg"]
    assert set(found("--text", '+München|"Nueva York"', "--limit", "20")) == {"marienplatz.jpg", "liberty.jpg"}
    assert found("--text", "+Italia +Firenze|Wien", "--limit", "20") == ["duomo.jpg"]
    assert found("--search", "travels +Firenze", "--mode", "hybrid", "--limit", "20") == ["duomo.jpg"]
    said = cli("--text", "travels +Firenze", "--format", "paths").stderr
    assert "travels +Firenze: +firenze also met by Florence, as the index names it" in said

    # The cities' other names are kept beside the index; a city photographed since is added to
    # them, and a file that cannot be read is made again.
    remembered = json.loads((cli.db / OTHER_NAMES_FILE).read_text(encoding="utf-8"))["cities"]
    assert set(remembered) == {"Munich|DE", "Florence|IT", "Seattle|US", "New York City|US", "Mexico City|MX"}
    assert "firenze" in remembered["Florence|IT"]
    photo_taken_at(root / "stephansdom.jpg", 5, 48.2085, 16.3731)
    cli.index(root)
    assert found("--text", "Wien") == ["stephansdom.jpg"]
    (cli.db / OTHER_NAMES_FILE).write_text("{not json", encoding="utf-8")
    assert found("--text", "München") == ["marienplatz.jpg"]
    assert "Vienna|AT" in json.loads((cli.db / OTHER_NAMES_FILE).read_text(encoding="utf-8"))["cities"]


def test_a_citys_own_name_is_not_taken_for_another_citys_other_name() -> None:
    """GeoNames lists 'Parma' among Perm's other names: a metadata search for Parma in an index
    holding photos of both must not add Perm's, while 'München' still adds Munich."""
    present = [("Parma", "Italy", "IT"), ("Perm", "Russia", "RU"), ("Munich", "Germany", "DE")]
    other_names = other_names_of({(city, code) for city, _, code in present})
    assert "parma" in other_names["Perm|RU"], "the premise: GeoNames calls Perm Parma too"
    assert recorded_names_in("Parma", IndexPlaces(present, other_names)) == []
    assert recorded_names_in("München", IndexPlaces(present, other_names)) == ["Munich"]
    # Without photos of Parma, the name is Perm's other name as GeoNames has it.
    assert recorded_names_in("Parma", IndexPlaces(present[1:], other_names)) == ["Perm"]


def located(path: Path, seed: int, city: str, country: str | None = None, state: str | None = None) -> Path:
    """A generated JPEG with no GPS position whose XMP says where it was taken, as Lightroom's
    City, State and Country fields write it."""
    country_field = f' photoshop:Country="{country}"' if country else ""
    country_field += f' photoshop:State="{state}"' if state else ""
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
        f'photoshop:City="{city}"{country_field}/></rdf:RDF></x:xmpmeta>'
    )
    return paint_tagged_photo(path, seed, {}, xmp)


def test_a_written_location_is_found_by_the_names_the_index_gives_places(cli: Cli, tmp_path: Path) -> None:
    """A photo without a position whose location was written in Italian ('Genova, Italia') is
    found by the names the index gives places, Genoa and Italy, as a photo with a position
    there would be, and one written in English ('Genoa, Italy') by Genova and Italia; the row
    keeps what was written. A city written without its country is not guessed at."""
    root = tmp_path / "archive"
    located(root / "genova.jpg", 1, "Genova", "Italia")
    located(root / "muenchen.jpg", 2, "München", "Deutschland")
    located(root / "parma.jpg", 3, "Parma", "Italia")
    located(root / "genoa.jpg", 4, "Genoa", "Italy")
    located(root / "roma.jpg", 5, "Roma")
    photo_taken_at(root / "duomo.jpg", 6, 43.7731, 11.2560)
    cli.index(root)
    assert cli.records()[str(root / "genova.jpg")]["location"] == "Genova, Italia"

    def found(*args: str) -> set[str]:
        return {Path(p).name for p in cli(*args, "--format", "paths").stdout.split()}

    assert found("--text", "Genoa") == found("--text", "Genova") == {"genova.jpg", "genoa.jpg"}
    everything_italian = {"genova.jpg", "parma.jpg", "genoa.jpg", "duomo.jpg"}
    assert found("--text", "Italy") == found("--text", "Italia") == everything_italian
    assert found("--text", "Munich") == found("--text", "Germany") == {"muenchen.jpg"}
    assert found("--text", "Monaco di Baviera") == {"muenchen.jpg"}, "Munich's Italian name, written in German"
    assert found("--text", "Rome") == set(), "'Roma' without a country is left as written"
    assert found("--search", "Genoa", "--mode", "fts") == {"genova.jpg", "genoa.jpg"}
    said = cli("--text", "Genoa", "--format", "paths").stderr
    assert "Genoa: also matching Genova, as the index names it" in said
    remembered = json.loads((cli.db / LOCATION_NAMES_FILE).read_text(encoding="utf-8"))["locations"]
    assert remembered["Genova, Italia"] == [["Genoa", "Genova", "Italy", "IT"], ["Italy", "Italia", "Italy", "IT"]]
    assert remembered["Roma"] == []


def test_countries_are_found_by_the_names_other_languages_give_them(cli: Cli, tmp_path: Path) -> None:
    """A German searching 'Italien', a Frenchman 'Allemagne', a Japanese 'イタリア', an Indian
    'இத்தாலி' (Tamil, a language India lists after English) finds the
    photos the index places in Italy or Germany (and 'ミュンヘン' those in Munich), and a
    location written in German ('Florenz, Italien') is found by the names the index gives
    places: Florence and Italy."""
    root = tmp_path / "reisen"
    photo_taken_at(root / "duomo.jpg", 1, 43.7731, 11.2560)
    photo_taken_at(root / "marienplatz.jpg", 2, 48.1374, 11.5755)
    located(root / "uffizien.jpg", 3, "Florenz", "Italien")
    cli.index(root)

    def found(*args: str) -> set[str]:
        return {Path(p).name for p in cli(*args, "--format", "paths").stdout.split()}

    assert found("--text", "Italien") == found("--text", "イタリア") == {"duomo.jpg", "uffizien.jpg"}
    assert found("--text", "Allemagne") == found("--text", "Niemcy") == {"marienplatz.jpg"}
    assert found("--text", "Florence") == found("--text", "Italy") == {"duomo.jpg", "uffizien.jpg"}
    assert found("--text", "Frankreich") == set(), "no photo of France"
    assert found("--text", "இத்தாலி") == found("--text", "ઇટાલી") == {"duomo.jpg", "uffizien.jpg"}  # Tamil, Gujarati
    # A Japanese or Chinese name of three characters or more is searched as the phrase of its
    # pairs of characters: the names are compared so.
    assert found("--text", "ミュンヘン") == found("--text", "慕尼黑") == {"marienplatz.jpg"}
    assert found("--text", "+イタリア") == {"duomo.jpg", "uffizien.jpg"}
    said = cli("--text", "Allemagne", "--format", "paths").stderr
    assert "Allemagne: also matching Germany, as the index names it" in said
    assert places_written_in("Florenz, Italien") == [
        ("Florence", "Florenz", "Italy", "IT"), ("Italy", "Italien", "Italy", "IT")
    ]  # fmt: skip


def test_regions_are_found_by_the_names_their_own_and_other_languages_give_them(cli: Cli, tmp_path: Path) -> None:
    """An Italian searching 'Toscana', a German 'Toskana' or 'Bayern', a Japanese 'トスカーナ'
    finds the photos the index places in Tuscany or Bavaria (the index names regions in English,
    as GeoNames does), and a filter naming the region so is offered the index's name."""
    root = tmp_path / "reisen"
    photo_taken_at(root / "duomo.jpg", 1, 43.7731, 11.2560)
    photo_taken_at(root / "marienplatz.jpg", 2, 48.1374, 11.5755)
    photo_taken_at(root / "dresden.jpg", 3, 51.0504, 13.7373)
    cli.index(root)

    def found(*args: str) -> set[str]:
        result = cli(*args, "--format", "paths")
        assert result.code == 0, result.stderr
        return {Path(p).name for p in result.stdout.split()}

    assert found("--text", "Toscana") == found("--text", "Toskana") == found("--text", "トスカーナ") == {"duomo.jpg"}
    assert found("--text", "Bayern") == found("--text", "Baviera") == {"marienplatz.jpg"}
    assert found("--text", "Sachsen") == {"dresden.jpg"}
    assert found("--text", "Niedersachsen") == set(), "Lower Saxony is not Saxony"
    assert "Toskana: also matching Tuscany, as the index names it" in cli("--text", "Toskana").stderr
    # Kept beside the index, as the cities' names are: a search reads them, not all regions' names.
    remembered = json.loads((cli.db / REGION_NAMES_FILE).read_text(encoding="utf-8"))["regions"]
    assert "toskana" in remembered["Tuscany|IT"] and "bayern" in remembered["Bavaria|DE"]
    offered = cli("--where", "state = 'Toscana'")
    assert offered.code == 0 and "no row has state = 'Toscana'; did you mean state = 'Tuscany'?" in offered.stderr


def test_a_region_written_in_a_location_is_found_by_its_names(cli: Cli, tmp_path: Path) -> None:
    """Lightroom's State field, 'Toscana' on a scan with no position: found by the index's name
    of the region (Tuscany) and by its other names (Toskana), as a position there would be."""
    root = tmp_path / "archivio"
    located(root / "uffizi.jpg", 1, "Firenze", "Italia", state="Toscana")
    located(root / "brera.jpg", 2, "Milano", "Italia", state="Lombardia")
    cli.index(root)

    def found(*args: str) -> set[str]:
        return {Path(p).name for p in cli(*args, "--format", "paths").stdout.split()}

    assert cli.records()[str(root / "uffizi.jpg")]["location"] == "Firenze, Toscana, Italia"
    assert found("--text", "Tuscany") == found("--text", "Toskana") == found("--text", "Toscana") == {"uffizi.jpg"}
    assert found("--text", "Lombardy") == {"brera.jpg"}


def test_a_locations_parts_are_read_in_the_country_it_names() -> None:
    """The country any part names (in its own language, or an alias) is where the other parts
    are looked for, by the places' own names and then their other names, then among its
    regions, by any of their names; streets name nothing, and without a country nothing is named."""
    italy = ("Italy", "IT")
    assert places_written_in("Piazza Navona, Roma, Lazio, Italia") == [
        ("Rome", "Roma", *italy),
        ("Lazio", "Lazio", *italy),
        ("Italy", "Italia", *italy),
    ]
    assert places_written_in("München, Bayern, Deutschland") == [
        ("Munich", "München", "Germany", "DE"), ("Bavaria", "Bayern", "Germany", "DE"),
        ("Germany", "Deutschland", "Germany", "DE"),
    ]  # fmt: skip
    assert places_written_in("Bayern, Italia") == [("Italy", "Italia", *italy)], "a region of another country"
    assert places_written_in("Parma, Italia") == [("Parma", "Parma", *italy), ("Italy", "Italia", *italy)]
    assert places_written_in("Wien, Österreich") == [
        ("Vienna", "Wien", "Austria", "AT"), ("Austria", "Österreich", "Austria", "AT")
    ]  # fmt: skip
    assert places_written_in("Nueva York, USA") == [
        ("New York City", "Nueva York", "United States", "US"), ("United States", "USA", "United States", "US")
    ]  # fmt: skip
    assert places_written_in("Victoria") == places_written_in("Roma") == []


def test_rows_of_version_2_get_todays_country_names_from_their_rows(
    cli: Cli, tmp_path: Path, decoded: list[str]
) -> None:
    """A row version 2 wrote says "Russian Federation", as the package's list does: the next
    --index renames it from its own GPS columns, decoding nothing."""
    root = tmp_path / "trip"
    photo_taken_at(root / "kremlin.jpg", 3, 55.7520, 37.6175)
    cli.index(root)
    store = cli.store()
    try:
        (record,) = store.get_records()
        old = record | {"country": "Russian Federation", "record_version": 2}
        old["search_text"] = current_search_text(old | {"country_code": None})  # no aliases then
        path = record["path"]
        store.upsert_images(
            [old], np.stack([store.get_vectors([path])[path]]), np.stack([store.get_colors([path])[path]])
        )
        store.commit()
        store.finish_indexing()
    finally:
        store.close()
    assert cli("--text", "russia", "--format", "paths").stdout == ""

    decoded.clear()
    result = cli.index(root, extra=("--workers", "0"))
    assert "1 brought up to date from their rows: nothing decoded or embedded" in result.stderr
    assert decoded == []
    (after,) = cli.records().values()
    assert (after["country"], after["record_version"]) == ("Russia", RECORD_VERSION)
    assert cli("--text", "russia", "--format", "paths").stdout.split() == [path]


def test_an_index_from_before_places_gets_them_from_its_rows_reading_nothing(
    cli: Cli, trip: Path, decoded: list[str]
) -> None:
    """Rows version 1 wrote (no place columns) are searched as they are; the next --index gives
    them their places from their own GPS columns: no file decoded, no vector changed. --check
    lists them until then, and the run after finds them unchanged."""
    cli.index(trip)
    store = cli.store()
    try:  # every row as version 1 wrote it: no place, no place names in its text
        paths, vectors = store.get_all_vectors()
        records = [r | dict.fromkeys(PLACE_COLUMNS) | {"record_version": 1} for r in store.get_records()]
        records = [r | {"search_text": current_search_text(r)} for r in records]
        kept, colors = store.get_vectors(list(paths)), store.get_colors(list(paths))
        store.upsert_images(
            records, np.stack([kept[r["path"]] for r in records]), np.stack([colors[r["path"]] for r in records])
        )
        store.commit()
        store.finish_indexing()
    finally:
        store.close()
    made_by_an_older_imagedb(cli, list(PLACE_COLUMNS))
    assert cli("--text", "paris", "--format", "paths").stdout == ""
    check = cli("--check")
    assert check.code == 1 and "2 row(s) lacking what this version records" in check.stdout

    decoded.clear()
    result = cli.index(trip, extra=("--workers", "0"))
    assert result.summary() == {"new": 0, "updated": 4, "removed": 0, "unchanged": 0, "failed": 0}
    assert "4 brought up to date from their rows: nothing decoded or embedded" in result.stderr
    assert decoded == []
    np.testing.assert_array_equal(cli.vectors(paths), vectors)
    after = {Path(p).name: r for p, r in cli.records().items()}
    assert (after["tower.jpg"]["city"], after["arezzo.jpg"]["country"]) == ("Paris", "Italy")
    assert {r["record_version"] for r in after.values()} == {RECORD_VERSION}
    assert [Path(p).name for p in cli("--text", "paris", "--format", "paths").stdout.split()] == ["tower.jpg"]
    assert cli("--check").code == 0
    assert cli.index(trip).summary()["unchanged"] == 4
