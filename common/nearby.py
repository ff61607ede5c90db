"""``--near PLACE``: the photos taken within ``--radius`` km of a place, a position or a photo.

PLACE is a place GeoNames knows by name ("Florence", "Firenze", or "Florence, Alabama", "Paris,
FR", "Cambridge, UK": the most populous of the places of that own name, or of a place fifty times
larger called so in another language, narrowed by a county, region, country, country code or
another name of the country after a comma; see ``common.place_names``), a position
("43.7696,11.2558", "43°46′11″N 11°15′21″E": ``common.positions``), or a photo file (where it was taken, from its EXIF: "the photos taken near
this one"). It becomes one more SQL condition on the GPS columns, joined to ``--where`` with
AND, so it narrows every search kind, a listing and ``--stats`` alike, through each backend's
own filter engine.

The condition keeps haversine's 'a' term (sines, cosines and products of the row's columns) at
or below its value at the radius: no inverse trigonometric function on the row side, whose
argument a rounding error could push out of its domain, and the same answer on both engines.
A latitude/longitude box around the circle comes first, so most rows are ruled out by two
comparisons.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from common.discovery import path_as_named_on_disk
from common.place_names import NamedPlace, places_called, runner_up
from common.places import COUNTRY_ALIAS_NAMES, EARTH_RADIUS_KM, folded, gazetteer, is_position
from common.positions import NotAPosition, position_in
from common.store import where_and

if TYPE_CHECKING:
    from common.store import ImageStore

KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180.0
# A region's name is taken for the town that bears it when the town is this large (Washington,
# Valencia, Salzburg); a smaller one (California, Maryland) is not what ``--near California`` means.
REGION_NAMESAKE_POPULATION = 50_000
# A name no place bears is offered the towns spelt nearly so: difflib's ratio ('arezo' and
# 'arezzo' 0.91; 'muenchen' and 'mulchen' 0.8, no town meant), and how many.
SPELT_NEARLY = 0.85
MOST_SPELT_NEARLY = 2


class NearError(Exception):
    """A --near that names no place imagedb can find: one line for the user."""


@dataclass(frozen=True)
class Centre:
    """Where distances are measured from, and what to call it."""

    latitude: float
    longitude: float
    label: str  # "Florence, Tuscany, Italy", "43.7696,11.2558", "IMG_0042.jpg"
    # The next place of the name, and the --near that picks it: 'Florence, Alabama, United
    # States (--near "Florence, Alabama")'; None for a position, a photo, a name of one place.
    next_of_name: str | None = None


def centre_of(near: str) -> Centre:
    """The position ``near`` stands for: a position, a photo file, or a place name."""
    try:
        position = position_in(near)
    except NotAPosition as why:
        raise NearError(f"--near {near}: not a position ({why})") from None
    if position is not None:
        latitude, longitude = position
        if not is_position(latitude, longitude):
            raise NearError(f"--near {near}: not a position (latitude -90 to 90, longitude -180 to 180)")
        return Centre(latitude, longitude, f"{latitude:g},{longitude:g}")
    path = path_as_named_on_disk(near)
    if os.path.isfile(path):
        return _where_taken(path)
    name, _, within = near.partition(",")
    found = places_called(name, within.strip() or None) if name.strip() else []
    if not within.strip():
        found = _unless_a_country(near, found)
        _unless_a_region(near, found)
    if not found:
        nearly = " or ".join(
            f'--near "{place.near_argument}"' for place in places_spelt_nearly(name, within.strip() or None)
        )
        raise NearError(
            f"--near {near}: no place of that name (GeoNames' places of 1,000 people or more by their English "
            "names, of 15,000 or more by their other names too; add the region or country after a comma, "
            f"or give a position as LAT,LON){f'; did you mean {nearly}?' if nearly else ''}"
        )
    return Centre(found[0].latitude, found[0].longitude, found[0].label, runner_up(found))


def places_spelt_nearly(name: str, within: str | None) -> list[NamedPlace]:
    """The towns of ``OTHER_NAMES_POPULATION`` people or more (in ``within``, where given) whose
    English name is spelt nearly as ``name`` ('Arezo': Arezzo, 'Florance': Florence), the likest
    first, each its most populous place of that name (``MOST_SPELT_NEARLY`` at most): a typo said
    'no place of that name' and no more. ~20 ms, on the refusal's path only. Where none is, the
    smaller towns whose name starts with the same letter ('Zermat': Zermatt, 'Positanno':
    Positano; places people travel to are often small): comparing all 136,000 names would
    take ~0.5 s, those of one letter 1-60 ms, and a typo seldom changes the first letter."""
    from common.spelt_nearly import spelt_nearly

    places, typed = gazetteer(), folded(name)
    for towns in (places.towns_by_name, places.names_starting_with(typed[:1])):
        found = []
        for spelt in spelt_nearly(typed, towns, most=MOST_SPELT_NEARLY, likeness=SPELT_NEARLY):
            found += places_called(spelt, within)[:1]
        if found:
            return found
    return []


def _unless_a_country(near: str, found: list[NamedPlace]) -> list[NamedPlace]:
    """``found``, when ``near`` is no country's name. ``--near Italy`` means the country, which a
    centre and a radius do not describe: it would have found Italy, Texas (and ``--near USA``
    Concord, whose airport's code it is), so it is refused with the filter that does mean it.
    A country whose city bears its name (Singapore, Luxembourg, San Marino; Luxemburg, Città del
    Vaticano by their other names) is that city, even where a namesake elsewhere is larger (San
    Marino, California); an alias (USA, UK) is never a city's."""
    places = gazetteer()
    code = places.country_named(near)
    if code is None:
        return found
    at_home = [place for place in _namesakes(found) if place.country_code == code]
    if not at_home and folded(near) not in {folded(alias) for alias in COUNTRY_ALIAS_NAMES.get(code, ())}:
        # ... or a city of the country that other names call by it: Luxemburg, Città del Vaticano.
        at_home = [place for place in found if place.country_code == code]
    if at_home:
        return at_home
    raise _no_centre(near, found, f"{places.countries.get(code, code)} is a country", f"country_code = '{code}'")


def _unless_a_region(near: str, found: list[NamedPlace]) -> None:
    """``--near Tuscany`` means the region, which a centre and a radius do not describe either:
    it would have found a district of Calgary named after it. A region's name is refused, with
    the filter that means it, unless a town of ``REGION_NAMESAKE_POPULATION`` people or more
    bears it (Washington, New York City, Valencia, Salzburg: the city is what people mean), or
    the town of that name is in that region (San Marino). A region is named by its English name,
    by its own language's ('Bayern', 'Toscana') or by another's ('Toskana': ``common.region_names``);
    that last yields to any place called so ('Tirolo', by Merano), as it did before it was known.
    A smaller namesake is still picked by a comma ('Tuscany, Canada')."""
    from common.region_names import region_names

    if found and found[0].population >= REGION_NAMESAKE_POPULATION:
        return
    places = gazetteer()
    regions = places.regions_named(near)
    if not regions:
        return
    if found and found[0].region and folded(found[0].region) == folded(near):
        return  # the region's own town of that name: San Marino in San Marino
    region, code = regions[0]
    own_names = {folded(region), *region_names().names_of(code, region, as_folded=True, own_language=True)}
    if folded(near) not in own_names and found:
        return  # another language's name of it ('Tirolo', Italian for Tyrol) is a town's (Tirolo, by Merano)
    raise _no_centre(near, found, f"{region} is a region of {places.countries.get(code, code)}", f"state = '{region}'")


def _namesakes(found: list[NamedPlace]) -> list[NamedPlace]:
    """The places of ``found`` by their own name; not those GeoNames lists it among the other
    names of (an airport's code: USA for Concord; Mexico for Mexico City)."""
    return [place for place in found if place.by_own_name]


def _no_centre(near: str, found: list[NamedPlace], what: str, condition: str) -> NearError:
    """The refusal of a country's or a region's name (``what`` it is): the ``--where``
    ``condition`` that means it, and the ``--near`` that picks a place of that name, if any."""
    namesakes = _namesakes(found)
    namesake = f' (the place of that name: --near "{namesakes[0].near_argument}")' if namesakes else ""
    return NearError(
        f'--near {near}: {what}, and --near takes a place and a radius; its photos: --where "{condition}"{namesake}'
    )


def _where_taken(path: str) -> Centre:
    """Where the photo or video in ``path`` was taken, as indexing records it
    (``common.describe.taken_as_indexing_says``: its EXIF or tags, its XMP sidecar's edit, its
    Google Takeout JSON)."""
    from common.describe import taken_as_indexing_says

    taken = taken_as_indexing_says(path)
    if taken is None:
        raise NearError(f"--near {path}: cannot read it as a photo or a video")
    latitude, longitude = taken.get("gps_latitude"), taken.get("gps_longitude")
    if not is_position(latitude, longitude):
        raise NearError(f"--near {path}: the file records no GPS position")
    return Centre(float(latitude), float(longitude), os.path.basename(path))


def distance_km(centre: Centre, latitudes: Any, longitudes: Any) -> np.ndarray:
    """Great-circle distances, in km, from ``centre`` to these positions (NaN where there is none)."""
    latitudes = np.radians(np.asarray(latitudes, dtype=np.float64))
    longitudes = np.radians(np.asarray(longitudes, dtype=np.float64))
    here = math.radians(centre.latitude)
    a = (
        np.sin((latitudes - here) / 2) ** 2
        + math.cos(here) * np.cos(latitudes) * np.sin((longitudes - math.radians(centre.longitude)) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def nearest_records(store: ImageStore, where: str, centre: Centre, limit: int) -> list[dict[str, Any]]:
    """The records of the ``limit`` rows matching ``where`` nearest ``centre`` (ties by path):
    what a ``--near`` listing shows first. Only the matching rows' positions are read to rank
    them, and only the shown rows' records."""
    columns = store.get_columns(["path", "gps_latitude", "gps_longitude"], where)
    paths = columns.column("path").to_pylist()
    km = distance_km(
        centre,
        columns.column("gps_latitude").to_numpy(zero_copy_only=False),
        columns.column("gps_longitude").to_numpy(zero_copy_only=False),
    )
    shown = sorted(range(len(paths)), key=lambda i: (km[i], paths[i]))[:limit]
    found = store.get_records_by_path([paths[i] for i in shown])
    return [found[paths[i]] for i in shown if paths[i] in found]


def how_near_the_nearest_is(store: ImageStore, where: str | None, centre: Centre, km: float, among: str) -> str | None:
    """Why ``--near`` found nothing, where the other filters (``where``; ``among`` says which, '
    --where lets through') let photos through: how far away the nearest of them was taken, where,
    and the ``--radius`` that takes it in; or that none records a position. None where no photo
    is let through at all, or the nearest is within ``km`` (something else, a ``--min-score``,
    left it out). 'No matches' alone left the user to guess the radius."""
    from common.output import distance as shown_km
    from common.output import place_name

    positioned = where_and(where, "gps_latitude IS NOT NULL AND gps_longitude IS NOT NULL")
    nearest = nearest_records(store, positioned, centre, 1)
    if not nearest:
        count = store.count_matching(where) if where else store.count()
        if not count:
            return None
        photos = f"the photo{among} records" if count == 1 else f"the {count:,} photos{among} record"
        return f"--near: none of {photos} a GPS position"
    (record,) = nearest
    (distance,) = distance_km(centre, [record["gps_latitude"]], [record["gps_longitude"]]).tolist()
    if distance <= km:
        return None
    place = place_name(record)
    return (
        f"--near: no photo{among} was taken within {round(km, 3):g} km of {centre.label}; the nearest was taken "
        f"{shown_km(distance)} km away{f', in {place}' if place else ''}: --radius {_radius_taking_in(distance):g} takes it in"
    )


def _radius_taking_in(km: float) -> float:
    """A round radius beyond ``km``, of two figures: 312.4 km: 320; 10,763: 11,000; 3.94: 4.0; 320: 330."""
    step = 10.0 ** (math.floor(math.log10(km)) - 1)
    radius = round(math.ceil(km / step) * step, 6)
    return radius if radius > km else round(radius + step, 6)


def within_condition(centre: Centre, km: float) -> str:
    """SQL that holds for rows whose GPS position is within ``km`` of ``centre`` (great-circle)."""
    latitude, longitude = centre.latitude, centre.longitude
    degrees = km / KM_PER_DEGREE
    conditions = [f"gps_latitude BETWEEN {latitude - degrees:.6f} AND {latitude + degrees:.6f}"]
    # East-west, a degree is shortest at the box's edge nearest a pole: the box is as wide as it is there.
    widest = min(90.0, abs(latitude) + degrees)
    if widest < 89.0:
        spread = degrees / math.cos(math.radians(widest))
        west, east = longitude - spread, longitude + spread
        if spread >= 180.0:
            pass  # the circle goes all the way round: no box in longitude
        elif west < -180.0:
            conditions.append(f"(gps_longitude >= {west + 360:.6f} OR gps_longitude <= {east:.6f})")
        elif east > 180.0:
            conditions.append(f"(gps_longitude >= {west:.6f} OR gps_longitude <= {east - 360:.6f})")
        else:
            conditions.append(f"gps_longitude BETWEEN {west:.6f} AND {east:.6f}")
    # Plain decimals (no exponent, which not every SQL dialect reads): 1e-20 is a hair's breadth.
    limit = math.sin(km / EARTH_RADIUS_KM / 2.0) ** 2
    haversine = (
        f"power(sin(radians(gps_latitude - {latitude:.8f}) / 2), 2) + {math.cos(math.radians(latitude)):.12f}"
        f" * cos(radians(gps_latitude)) * power(sin(radians(gps_longitude - {longitude:.8f}) / 2), 2)"
    )
    conditions.append(f"{haversine} <= {limit:.20f}")
    return " AND ".join(conditions)


def with_near(where: str | None, centre: Centre, km: float) -> str:
    """``where`` (if any) and the circle, as one condition."""
    return where_and(where, within_condition(centre, km))


def near_label(label: str | None, centre: Centre, km: float) -> str:
    """How results and counts name the filter: 'within 10 km of Florence, Tuscany, Italy'."""
    circle = f"within {round(km, 3):g} km of {centre.label}"  # '3mi': 4.828 km
    return f"{label} AND {circle}" if label else circle
