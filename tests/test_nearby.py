"""--near PLACE [--radius KM]: photos taken within a distance of a named place, a position or a
photo, as one more filter on both backends."""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

import numpy as np
import pytest
from test_places import AREZZO, EIFFEL_TOWER, photo_taken_at

from common.nearby import Centre, NearError, centre_of, within_condition
from common.places import EARTH_RADIUS_KM, gazetteer
from conftest import Cli, paint_photo


def great_circle_km(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Haversine distance, the textbook way (the reference the SQL is held to)."""
    p1, p2 = math.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


@pytest.mark.parametrize(
    ("latitude", "longitude", "km"),
    [
        (43.4682, 11.8802, 10.0),  # Arezzo
        (-16.5, 179.9, 300.0),  # Fiji: the circle crosses the antimeridian
        (65.0, -179.5, 500.0),  # the Bering Strait: across it, and far north
        (89.5, 0.0, 200.0),  # round the North Pole: no box in longitude
        (0.0, 0.0, 0.05),  # a 50 m circle
        (-33.9, 18.4, 9000.0),  # most of a hemisphere
    ],
)
def test_the_condition_holds_for_exactly_the_positions_within_the_radius(latitude, longitude, km, tmp_path) -> None:
    """The SQL, run by each backend's engine (DuckDB for FAISS, LanceDB's own) over random
    positions, keeps those within ``km`` great-circle and no other (bar a metre's worth of
    rounding at the edge)."""
    import duckdb
    import lancedb
    import pyarrow as pa

    rng = np.random.default_rng(int(abs(latitude * 1000 + longitude)))
    spread = min(90.0, 3 * km / 111.0)
    lats = np.clip(latitude + rng.uniform(-spread, spread, 20_000), -90, 90)
    lons = (longitude + rng.uniform(-3 * spread, 3 * spread, 20_000) + 180) % 360 - 180
    positions = pa.table({"gps_latitude": lats, "gps_longitude": lons, "n": np.arange(len(lats))})
    condition = within_condition(Centre(latitude, longitude, "here"), km)
    connection = duckdb.connect()
    connection.register("positions", positions)
    by_duckdb = connection.execute(f"SELECT n FROM positions WHERE {condition}").fetchnumpy()["n"]
    table = lancedb.connect(str(tmp_path)).create_table("positions", positions)
    by_lancedb = table.search().where(condition).select(["n"]).limit(None).to_arrow().column("n").to_numpy()
    distance = great_circle_km(latitude, longitude, lats, lons)
    clear = np.abs(distance - km) > 1e-3
    within = set(np.flatnonzero((distance <= km) & clear))
    assert len(within) > 10, "the sample must hold positions inside the circle"
    for engine, kept in (("duckdb", by_duckdb), ("lancedb", by_lancedb)):
        assert set(kept[clear[kept]]) == within, engine


def test_places_are_found_by_name_the_most_populous_first() -> None:
    places = gazetteer()
    assert places.describe(places.places_named("Florence")[0]) == "Florence, Tuscany, Italy"
    assert places.describe(places.places_named("florence", "Alabama")[0]) == "Florence, Alabama, United States"
    assert places.describe(places.places_named("Paris", "US")[0]).endswith("United States")
    assert places.describe(places.places_named("Cambridge", "UK")[0]).endswith("United Kingdom")
    assert places.describe(places.places_named("zurich")[0]).startswith("Zürich")  # accents aside
    assert places.places_named("Arezzo", "France") == []
    assert places.describe(places.places_named("Portland", "OR")[0]) == "Portland, Oregon, United States"
    assert places.describe(places.places_named("Portland", "ME")[0]) == "Portland, Maine, United States"
    assert places.describe(places.places_named("London", "ON")[0]) == "London, Ontario, Canada"
    assert places.describe(places.places_named("Newcastle", "NSW")[0]).endswith("New South Wales, Australia")

    paris = centre_of("Paris, France")
    assert (
        great_circle_km(paris.latitude, paris.longitude, np.array([EIFFEL_TOWER[0]]), np.array([EIFFEL_TOWER[1]]))[0]
        < 6
    )
    assert centre_of(" 43.4682 , 11.8802 ") == Centre(43.4682, 11.8802, "43.4682,11.8802")


def test_places_are_found_by_their_other_names() -> None:
    """A name in another language or an old one finds the place its English name does, ranked
    among its English namesakes by population; a place only the other names know is centred
    where GeoNames puts it."""
    for name in ("Firenze", "FIRENZE", "Firenze, Italy", "firenze, tuscany", "Firenze, Italia"):
        assert centre_of(name).label == "Florence, Tuscany, Italy", name
    for name in ("München", "Munchen", "muenchen", "München, Deutschland"):
        assert centre_of(name).label == "Munich, Bavaria, Germany", name
    assert centre_of("Москва").label == "Moscow, Russia"
    assert centre_of("Bombay").label.startswith("Mumbai, ")
    # An English name a small town has does not hide the city others call by it.
    assert gazetteer().places_named("Roma"), "the gazetteer has towns named Roma in English"
    assert centre_of("Roma").label == "Rome, Lazio, Italy"
    assert centre_of("Roma, AU").label == "Roma, Queensland, Australia"
    # A district the gazetteer lacks.
    assert gazetteer().places_named("Pudong") == []
    pudong = centre_of("Pudong, CN")
    assert pudong.label == "Pudong, China"
    assert centre_of("Pudong, 中国") == pudong  # the country as its own people write it
    shanghai = centre_of("Shanghai")
    across_the_river = great_circle_km(
        shanghai.latitude, shanghai.longitude, np.array([pudong.latitude]), pudong.longitude
    )
    assert across_the_river[0] < 15
    for refused in ("Firenze, US", "Pudong, FR"):
        with pytest.raises(NearError, match="no place of that name"):
            centre_of(refused)


def test_a_towns_own_name_comes_before_another_citys_other_name() -> None:
    """GeoNames lists old and foreign names by the thousand, many of them some other town's
    own: ranked by population alone, --near Parma had centred on Perm, Islamabad on Chattogram,
    Zaragoza on Tijuana. A place's own name now outweighs fifty times the people; a foreign name
    still finds the world city when the town of that name is small, and either way the next
    place of the name is given with the --near that picks it."""
    for name, place in {
        "Parma": "Parma, Emilia-Romagna, Italy",
        "Islamabad": "Islamabad, Pakistan",
        "Zaragoza": "Zaragoza, Aragon, Spain",
        "Olbia": "Olbia, Sardinia, Italy",
        "Waterloo": "Waterloo, Ontario, Canada",
        "Salisbury": "Salisbury, England, United Kingdom",
        "Marsella": "Marseille, Provence-Alpes-Côte d'Azur, France",
        "Calcutta": "Kolkata, West Bengal, India",
        "Pekin": "Beijing, China",
    }.items():
        assert centre_of(name).label == place, name
    # Each other reading is one --near away, and that --near finds it.
    zaragoza = centre_of("Zaragoza")
    assert zaragoza.next_of_name == 'Zaragoza, Central Luzon, Philippines (--near "Zaragoza, Central Luzon")'
    assert centre_of("Zaragoza, Central Luzon").label == "Zaragoza, Central Luzon, Philippines"
    pekin = centre_of("Pekin").next_of_name
    assert pekin == 'Pekin, Illinois, United States (--near "Pekin, Illinois")'
    assert centre_of("Pekin, Illinois").label == "Pekin, Illinois, United States"
    assert centre_of("Firenze").next_of_name is None, "one place of that name"
    assert centre_of("43.77,11.25").next_of_name is None


def test_a_place_name_spelt_wrong_is_offered_the_towns_spelt_nearly_so() -> None:
    """'Arezo' said 'no place of that name' and no more: the towns of 15,000 people or more spelt
    nearly so are offered (within the country after a comma, where given), each a --near that
    finds it, else the smaller towns of the name's first letter (Zermatt, 5,700 people); a name
    like no town's is offered none."""
    for typed, offered in {
        "Arezo": "Arezzo, Tuscany, Italy",
        "Florance": "Florence, Tuscany, Italy",
        "Zermat": "Zermatt, Valais, Switzerland",
        "Positanno": "Positano, Campania, Italy",
    }.items():
        near = ", ".join(offered.split(", ")[:2])
        with pytest.raises(NearError, match=re.escape(f'; did you mean --near "{near}"?')):
            centre_of(typed)
        assert centre_of(near).label == offered
    with pytest.raises(NearError) as refused:
        centre_of("Arezo, France")
    assert "did you mean" not in str(refused.value)
    with pytest.raises(NearError) as refused:
        centre_of("Xyzzyville")
    assert str(refused.value).endswith("give a position as LAT,LON)")


def test_a_country_or_a_region_is_refused_with_the_filter_that_means_it() -> None:
    """--near Italy would have centred on Italy, Texas, --near USA on Concord (its airport's
    code) and --near Tuscany on a district of Calgary: a country or a region is no centre and
    radius, so it is refused, pointing at the filter and at the namesake, which a comma still
    picks. A city-state's city is the place of its name, and so is a city named as its region."""
    refusals = {
        "Italy": "Italy is a country, and --near takes a place and a radius; its photos: --where "
        '"country_code = \'IT\'" (the place of that name: --near "Italy, Texas")',
        "Italia": "Italy is a country",
        "Deutschland": "--where \"country_code = 'DE'\"",
        "USA": "United States is a country",
    }
    for name, said in refusals.items():
        with pytest.raises(NearError, match=re.escape(said)):
            centre_of(name)
    assert centre_of("Italy, Texas").label == "Italy, Texas, United States"
    assert centre_of("Singapore").label == "Singapore"
    assert centre_of("Luxemburg").label == centre_of("Luxembourg").label == "Luxembourg"  # its German name
    # A region likewise, unless a town of 50,000 or more bears its name.
    with pytest.raises(NearError, match=re.escape(
        "Tuscany is a region of Italy, and --near takes a place and a radius; its photos: --where "
        "\"state = 'Tuscany'\" (the place of that name: --near \"Tuscany, Canada\")"
    )):  # fmt: skip
        centre_of("Tuscany")
    with pytest.raises(NearError, match="California is a region of United States"):
        centre_of("California")  # not California, Maryland (11,000 people)
    assert centre_of("Tuscany, Canada").label == "Tuscany, Canada"
    assert centre_of("Washington").label == "Washington, District of Columbia, United States"
    assert centre_of("Salzburg").label == "Salzburg, Austria"
    # The city of San Marino, not the larger San Marino in California.
    assert centre_of("San Marino").label.endswith("San Marino") and "California" not in centre_of("San Marino").label


def test_a_country_is_known_by_the_names_other_languages_give_it() -> None:
    """A German writes Italy 'Italien', a Pole 'Włochy'... CLDR's names, in the language each
    country's people speak first (and in the other scripts of those listed after it: India's
    Hindi and Telugu): --near refuses each as the country it is, with the filter that
    means it, and takes it after a comma ('Florenz, Italien'; 'Paris, Frankreich' is not Paris,
    Texas). A name that could be taken for something else names no country: a city's of 15,000
    people or more abroad (Spanish calls Grenada 'Granada'), one that two countries share
    ('Kongo'), a Latin word of under four letters (Vietnamese 'Áo' for Austria)."""
    for name, code in {
        "Italien": "IT",
        "イタリア": "IT",
        "Allemagne": "DE",
        "Frankreich": "FR",
        "Ισπανία": "ES",
        "भारत": "IN",  # Hindi: India lists English first, Hindi second
        "ఇటలీ": "IT",  # Telugu, listed eighth
    }.items():
        with pytest.raises(NearError, match=re.escape(f"is a country, and --near takes a place and a radius; its photos: "
                                                      f"--where \"country_code = '{code}'\"")):  # fmt: skip
            centre_of(name)
    assert centre_of("Florenz, Italien").label == "Florence, Tuscany, Italy"
    assert centre_of("Paris, Frankreich").label == "Paris, Île-de-France, France"
    assert centre_of("Paris, Texas").label == "Paris, Texas, United States"
    with pytest.raises(NearError, match="no place of that name"):
        centre_of("Florenz, Frankreich")
    assert centre_of("Granada").label == "Granada, Andalusia, Spain"
    assert centre_of("Salvador").label == "Salvador, Bahia, Brazil"
    places = gazetteer()
    assert places.country_named("Granada") is None and places.country_named("Grenada") == "GD"
    assert places.country_named("Kongo") is None
    assert places.country_named("Áo") is None and places.country_named("Österreich") == "AT"


def test_a_region_is_known_by_the_names_its_own_and_other_languages_give_it() -> None:
    """GeoNames names a region in English alone: --near Bayern found nothing, --near Toscana
    nothing, 'Florenz, Toskana' nothing. ISO 3166-2's names (the region's own language) and
    their translations name it now: refused as the region it is, with the filter that means it,
    and taken after a comma. Another language's name yields to a place called so, as before it
    was known (Italian 'Tirolo' for Tyrol is also a village by Merano)."""
    for name, region in {
        "Bayern": "Bavaria is a region of Germany",
        "Toscana": "Tuscany is a region of Italy",  # its own language
        "Toskana": "Tuscany is a region of Italy",  # German
        "トスカーナ": "Tuscany is a region of Italy",  # Japanese
        "Niedersachsen": "Lower Saxony is a region of Germany",  # not Saxony
        "Kalifornien": "California is a region of United States",
    }.items():
        with pytest.raises(NearError, match=re.escape(f"{region}, and --near takes a place and a radius")):
            centre_of(name)
    with pytest.raises(NearError, match=re.escape(
        "--where \"state = 'Lombardy'\" (the place of that name: --near \"Lombardía, Michoacán\")"
    )):  # fmt: skip
        centre_of("Lombardia")  # Italy's own name for it: found a Mexican town of 12,600 before
    assert centre_of("Florenz, Toskana").label == centre_of("Florence, Toscana").label == "Florence, Tuscany, Italy"
    assert centre_of("Augsburg, Bayern").label == "Augsburg, Bavaria, Germany"
    with pytest.raises(NearError, match="no place of that name"):
        centre_of("Florenz, Bayern")
    assert centre_of("Tirolo").label == "Tirolo, Trentino-Alto Adige, Italy"
    assert centre_of("Andora").label == "Andorra la Vella, Andorra"  # a name of the country, as before


@pytest.fixture
def tuscany(tmp_path: Path) -> Path:
    """Two photos in Arezzo (one 3 km out of town), one in Florence (60 km away), one at the
    Eiffel Tower and a scan without a position."""
    root = tmp_path / "tuscany"
    photo_taken_at(root / "arezzo-duomo.jpg", 1, *AREZZO)
    photo_taken_at(root / "arezzo-hills.jpg", 2, AREZZO[0] + 0.027, AREZZO[1])  # 3.0 km north
    photo_taken_at(root / "florence.jpg", 3, 43.7731, 11.2560)
    photo_taken_at(root / "tower.jpg", 4, *EIFFEL_TOWER)
    paint_photo(root / "scan.jpg", 5)
    return root


def names(result) -> list[str]:
    assert result.code == 0, result.stderr
    return sorted(Path(p).name for p in result.stdout.split())


def test_near_lists_narrows_and_counts_on_both_backends(cli: Cli, tuscany: Path) -> None:
    cli.index(tuscany)

    assert names(cli("--near", "Arezzo", "--format", "paths")) == ["arezzo-duomo.jpg", "arezzo-hills.jpg"]
    assert names(cli("--near", "Arezzo", "--radius", "2", "--format", "paths")) == ["arezzo-duomo.jpg"]
    assert names(cli("--near", "Arezzo, Tuscany", "--radius", "70", "--format", "paths")) == [
        "arezzo-duomo.jpg", "arezzo-hills.jpg", "florence.jpg",
    ]  # fmt: skip
    assert names(cli("--near", str(tuscany / "florence.jpg"), "--format", "paths")) == ["florence.jpg"]
    assert names(cli("--near", "Firenze", "--format", "paths")) == ["florence.jpg"]  # its Italian name
    assert names(cli("--near", f"{AREZZO[0]},{AREZZO[1]}", "--radius", "1", "--format", "paths")) == [
        "arezzo-duomo.jpg"
    ]
    # With --where (both must hold) and with a search, which it narrows as --where does.
    assert names(cli("--near", "Arezzo", "--where", "filename LIKE '%hills%'", "--format", "paths")) == [
        "arezzo-hills.jpg"
    ]
    (dog,) = cli.search("--search", "a photo of a dog", "--near", "Paris")
    assert [Path(h["path"]).name for h in dog["results"]] == ["tower.jpg"]

    table = cli("--near", "Arezzo")
    assert table.stdout.startswith("within 10 km of Arezzo, Tuscany, Italy  (filter, 2 results)")
    assert "near Arezzo, Tuscany, Italy (43.46" in table.stderr
    assert table.stdout.splitlines()[1].rstrip().endswith("km")
    said = cli("--near", "Florence", "--format", "paths").stderr  # and the next place of the name
    assert (
        "near Florence, Tuscany, Italy (43.77925, 11.24626): within 10 km; "
        'Florence is also Florence, Alabama, United States (--near "Florence, Alabama")'
    ) in said

    # A listing shows the nearest first, each hit with its distance; a search keeps its ranking.
    (listed,) = cli.search("--near", "Florence", "--radius", "100", "--limit", "2")
    assert [Path(h["path"]).name for h in listed["results"]] == ["florence.jpg", "arezzo-hills.jpg"]
    florence = centre_of("Florence")
    for hit in listed["results"]:
        expected = great_circle_km(
            florence.latitude, florence.longitude, np.array([hit["gps_latitude"]]), np.array([hit["gps_longitude"]])
        )
        assert hit["distance_km"] == pytest.approx(expected[0], abs=1e-3)
    as_csv = cli("--near", "Florence", "--radius", "100", "--limit", "2", "--format", "csv").stdout
    assert [float(row["distance_km"]) for row in csv.DictReader(io.StringIO(as_csv))] == pytest.approx(
        [hit["distance_km"] for hit in listed["results"]], abs=1e-6
    )
    (found,) = cli.search("--search", "a photo of a dog", "--near", "Florence", "--radius", "100")
    assert sorted(h["distance_km"] for h in found["results"]) == sorted(
        h["distance_km"] for h in cli.search("--near", "Florence", "--radius", "100")[0]["results"]
    )
    assert [h["score"] for h in found["results"]] == sorted((h["score"] for h in found["results"]), reverse=True)

    stats = cli("--stats", "--near", "Florence", "--radius", "80", "--format", "json").json()
    assert (stats["files"], stats["where"]) == (3, "within 80 km of Florence, Tuscany, Italy")


def test_near_that_finds_nothing_says_how_far_the_nearest_photo_is(cli: Cli, tuscany: Path) -> None:
    """'No matches' left the user to guess the radius: a --near that finds nothing says how far
    away the nearest photo (of those --where and --under let through) was taken, where, and a
    --radius that takes it in, which then finds it; or that none of them records a position.
    Nothing where no photo is let through at all (--where says why), or the nearest is within
    the radius and something else left it out (--min-score)."""
    cli.index(tuscany)
    tower = centre_of(str(tuscany / "tower.jpg"))
    for asked in ((), ("--stats",), ("--search", "a photo of a dog")):
        result = cli("--near", "London", *asked, "--format", "json")
        (line,) = [line for line in result.stderr_lines() if "--near:" in line]
        said = re.search(
            r"--near: no photo was taken within 10 km of London, (.+); the nearest was taken ([\d,]+) km away, "
            r"in Paris, France: --radius (\d+) takes it in$",
            line,
        )
        assert said, (asked, line)
    london = centre_of("London")
    km = great_circle_km(london.latitude, london.longitude, np.array([tower.latitude]), np.array([tower.longitude]))[0]
    assert int(said.group(2).replace(",", "")) == round(km) and km < int(said.group(3)) < km * 1.05
    assert names(cli("--near", "London", "--radius", said.group(3), "--format", "paths")) == ["tower.jpg"]

    narrowed = cli("--near", "London", "--where", "filename LIKE 'arezzo%'", "--under", str(tuscany))
    assert re.search(
        r"--near: no photo --where and --under let through was taken within 10 km of London, .+; the nearest "
        r"was taken [\d,]+ km away, in .+, Italy: --radius \d+ takes it in$",
        narrowed.stderr_lines()[-1],
    ), narrowed.stderr
    unplaced = cli("--near", "Arezzo", "--where", "filename = 'scan.jpg'")
    assert unplaced.stderr_lines()[-1].endswith("--near: none of the photo --where lets through records a GPS position")
    nothing = cli("--near", "Arezzo", "--where", "filename = 'none.jpg'")
    assert nothing.stderr_lines()[-1].endswith("--where: no row has filename = 'none.jpg'"), nothing.stderr
    left_out = cli("--near", "Arezzo", "--search", "a photo of a dog", "--min-score", "0.99")
    assert not [line for line in left_out.stderr_lines() if "--near:" in line], left_out.stderr
    # A position's --where told its nearest value to every digit: written as a condition, it finds the photo.
    (north,) = cli("--where", "gps_latitude > 89").stderr_lines()
    highest = re.fullmatch(r".*--where: no row has gps_latitude > 89; the highest gps_latitude is ([\d.]+)", north)
    assert highest and names(cli("--where", f"gps_latitude = {highest.group(1)}", "--format", "paths")) == ["tower.jpg"]


def test_a_radius_is_read_in_km_or_in_the_unit_written_after_it(cli: Cli, tuscany: Path) -> None:
    """``--radius 3mi``, ``500m``, ``2 miles`` were 'not a number'; arezzo-hills.jpg is 3.0 km out."""
    cli.index(tuscany)
    arezzo = f"{AREZZO[0]},{AREZZO[1]}"
    for radius, found in [
        ("2.9km", ["arezzo-duomo.jpg"]), ("3100m", ["arezzo-duomo.jpg", "arezzo-hills.jpg"]),
        ("1.8mi", ["arezzo-duomo.jpg"]), ("1.9 miles", ["arezzo-duomo.jpg", "arezzo-hills.jpg"]),
    ]:  # fmt: skip
        assert names(cli("--near", arezzo, "--radius", radius, "--format", "paths")) == found, radius
    assert cli("--near", arezzo, "--radius", "1.9mi").stdout.startswith(f"within 3.058 km of {arezzo}")
    refused = cli("--near", arezzo, "--radius", "3 yards")
    assert (
        refused.code == 2 and "--radius: not a distance: '3 yards' (km, or a number with km, m or mi" in refused.stderr
    )


def test_a_position_south_or_west_is_taken_as_typed(cli: Cli, tmp_path: Path) -> None:
    """``--near -33.86,151.21`` (Sydney): argparse took the word for an option and said "--near:
    expected one argument"; half the world's positions start with a minus."""
    photo_taken_at(tmp_path / "south" / "opera-house.jpg", 1, -33.8568, 151.2153)
    photo_taken_at(tmp_path / "south" / "copacabana.jpg", 2, -22.9711, -43.1822)
    cli.index(tmp_path / "south")
    assert names(cli("--near", "-33.86,151.21", "--radius", "5", "--format", "paths")) == ["opera-house.jpg"]
    assert names(cli("--near", "-22.97,-43.18", "--radius", "5", "--format", "paths")) == ["copacabana.jpg"]
    too_far = cli("--near", "-95,10")
    assert too_far.code == 2 and "--near -95,10: not a position" in too_far.stderr


@pytest.mark.parametrize(
    "written, position",
    [
        ("43°28′5.5″N 11°52′48.7″E", (43.46819, 11.88019)),  # Wikipedia
        ("43°28'5.5\"N 11°52'48.7\"E", (43.46819, 11.88019)),  # the same, typed
        ("43º28'5.5''N 11º52'48.7''E", (43.46819, 11.88019)),  # ordinal degree sign, two apostrophes
        ("43.4682° N, 11.8802° E", (43.4682, 11.8802)),  # Apple's and Google's apps
        ("N 43° 28.092', E 11° 52.812'", (43.4682, 11.8802)),  # a GPS unit: degrees and minutes
        ("43.4682N 11.8802E", (43.4682, 11.8802)),
        ("N43.4682 E11.8802", (43.4682, 11.8802)),
        ("11.8802E 43.4682N", (43.4682, 11.8802)),  # longitude first, said by its letter
        ("S 33° 51' 24.5\", E 151° 12' 55.1\"", (-33.85681, 151.21531)),  # south and east
        ("22°58′16″s 43°10′56″w", (-22.97111, -43.18222)),  # south and west, lower case
    ],
)
def test_a_position_written_in_degrees_minutes_and_seconds_is_read(written: str, position: tuple) -> None:
    """Positions as Wikipedia, photo apps and GPS units write them were "no place of that name"."""
    centre = centre_of(written)
    assert (centre.latitude, centre.longitude) == pytest.approx(position, abs=1e-5)


@pytest.mark.parametrize(
    "written, why",
    [
        ("43°N 11°N", "one coordinate north or south (N, S) and one east or west (E, W)"),
        ("43°61′N 11°E", "61 is not below 60"),
        ("43.5°28′N 11°E", "43.5 has a fraction and more after it"),
        ("43°28″N 11°E", "28″ has no minutes before it"),
        ("95°N 10°E", "latitude -90 to 90, longitude -180 to 180"),
    ],
)
def test_a_position_off_the_earth_is_refused_saying_why(written: str, why: str) -> None:
    with pytest.raises(NearError, match=re.escape(f"--near {written}: not a position (")) as refused:
        centre_of(written)
    assert why in str(refused.value)


@pytest.mark.parametrize(
    "link, position",
    [
        ("geo:43.46819,11.88019", (43.46819, 11.88019)),  # RFC 5870: Android's share sheet
        ("geo:43.46819,11.88019,296;u=20?z=17", (43.46819, 11.88019)),  # an altitude, its certainty, a zoom
        ("geo:0,0?q=43.46819,11.88019(Duomo di Arezzo)", (43.46819, 11.88019)),  # a labelled pin
        ("https://www.google.com/maps/@43.46819,11.88019,17z", (43.46819, 11.88019)),  # the map's middle
        # A place: the map's middle after '@', the place's own pin in its data ('!3d…!4d…').
        (
            "https://www.google.com/maps/place/Cattedrale+di+Arezzo/@43.4690,11.8790,17z/data=!3m1!4b1!4m6!3m5"
            "!1s0x132bf2:0x5!8m2!3d43.46819!4d11.88019!16s%2Fm%2F0abc",
            (43.46819, 11.88019),
        ),
        ("https://maps.google.com/?q=43.46819,11.88019", (43.46819, 11.88019)),
        ("https://www.google.com/maps/search/?api=1&query=43.46819%2C11.88019", (43.46819, 11.88019)),
        ("https://www.openstreetmap.org/#map=17/43.46819/11.88019", (43.46819, 11.88019)),
        ("https://www.openstreetmap.org/?mlat=43.46819&mlon=11.88019#map=15/43.5/11.9", (43.46819, 11.88019)),
        ("https://maps.apple.com/?ll=43.46819,11.88019&q=Duomo", (43.46819, 11.88019)),
        ("https://maps.apple.com/place?coordinate=43.46819,11.88019&name=Duomo", (43.46819, 11.88019)),
        ("https://www.bing.com/maps?cp=43.46819~11.88019&lvl=17", (43.46819, 11.88019)),
        ("https://www.google.com/maps/@-33.85681,151.21531,15z", (-33.85681, 151.21531)),
    ],
)
def test_a_position_is_read_from_the_link_a_map_shares(link: str, position: tuple) -> None:
    """A phone's share sheet gives a geo: link, a browser a map's address: both were "no place
    of that name"."""
    centre = centre_of(link)
    assert (centre.latitude, centre.longitude) == pytest.approx(position, abs=1e-6)
    assert centre.label == f"{position[0]:g},{position[1]:g}"


@pytest.mark.parametrize(
    "link, why",
    [
        ("https://maps.app.goo.gl/x7Yq2", "no position in this web address; a shortened link? open it"),
        ("https://www.google.com/maps?q=Arezzo", "no position in this web address"),
        ("geo:Arezzo", "a geo: link is geo:LATITUDE,LONGITUDE"),
        ("geo:95,10", "latitude -90 to 90, longitude -180 to 180"),
    ],
)
def test_a_link_that_holds_no_position_is_refused_saying_what_to_give(link: str, why: str) -> None:
    with pytest.raises(NearError, match=re.escape(f"--near {link}: not a position (")) as refused:
        centre_of(link)
    assert why in str(refused.value)


def test_a_position_in_degrees_finds_the_photos_taken_there(cli: Cli, tuscany: Path) -> None:
    cli.index(tuscany)
    near = cli("--near", "43°28′5.5″N 11°52′48.7″E", "--radius", "1", "--format", "paths")
    assert names(near) == ["arezzo-duomo.jpg"]
    for link in ("https://www.openstreetmap.org/#map=17/43.46819/11.88019", "geo:43.46819,11.88019"):
        assert names(cli("--near", link, "--radius", "1", "--format", "paths")) == ["arezzo-duomo.jpg"]


def test_near_refuses_what_it_cannot_place(cli: Cli, tuscany: Path) -> None:
    cli.index(tuscany)
    for args, says in [
        (("--near", "Nowhereville"), "--near Nowhereville: no place of that name"),
        (("--near", "Arezzo, Peru"), "--near Arezzo, Peru: no place of that name"),
        (("--near", "95,10"), "--near 95,10: not a position"),
        (("--near", str(tuscany / "scan.jpg")), "the file records no GPS position"),
        (("--where", "width > 0", "--radius", "5"), "--radius says how far from a --near place"),
        (("--near", "Arezzo", "--radius", "30000"), "--radius 30000: at most 20,000 km"),
        (("--near", "Arezzo", "--radius", "0"), "--radius"),
    ]:
        result = cli(*args)
        assert result.code == 2, args
        assert says in result.stderr, (args, result.stderr)
        assert result.stdout == ""
