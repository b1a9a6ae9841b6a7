"""Deterministic Moves storylines for sandbox users, shaped like the 2018 recording.

A user's life is generated day by day in the local time of the city they live
in (``City``): a "persona" derived from the Moves id alone fixes home, work
and favourite places and how the person gets around; each city-local day
then follows a routine drawn from a seed made of the id and the date. The
result is one continuous timeline of place and move segments in absolute
time. Nothing is stored: the same inputs always give the same bytes.

The API answer for a day is that timeline cut by the user's *current* time
zone, which may differ from the city's (the recording had zone -0700 with
Frankfurt coordinates). So, as in the recording:

- a stay that runs over midnight appears, unchanged, in both days; only its
  activities are cut at the day's edges;
- segments follow each other with gaps of a few seconds, and two moves can
  follow each other;
- ``lastUpdate`` is when the phone uploaded a segment (the next of the
  persona's sync times after it ended), or later: a place that was named
  months after the first visits carries that date everywhere it appears,
  and edits, renames and late uploads (``History``) move it forward.

A segment becomes visible once its ``lastUpdate`` has passed, so the history
of an open-ended user grows with the clock. Sizes follow the recording:
about 2,400 track points and 200 KB of JSON per week.
"""

import bisect
import calendar
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

DAY = 24 * 3600
METERS_PER_DEGREE = 111_320.0
# The phone uploads every couple of hours ("usually every couple of hours and
# when the user opens the app"); each persona has its own phase.
SYNC_SECONDS = 2 * 3600
# 1970-01-01 as a date ordinal.
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class City:
    key: str
    name: str
    zone: str
    lat: float
    lon: float
    language: str
    locale: str
    first_week_day: int


CITIES: dict[str, City] = {
    city.key: city
    for city in [
        City("frankfurt", "Frankfurt", "Europe/Berlin", 50.1109, 8.6821, "en-DE", "en_DE", 2),
        City(
            "san-francisco", "San Francisco", "America/Los_Angeles", 37.7749, -122.4194, "en-US", "en_US", 1
        ),
        City("london", "London", "Europe/London", 51.5072, -0.1276, "en-GB", "en_GB", 2),
        City("new-york", "New York", "America/New_York", 40.7306, -73.9352, "en-US", "en_US", 1),
        City("sydney", "Sydney", "Australia/Sydney", -33.8688, 151.2093, "en-AU", "en_AU", 2),
        City("tokyo", "Tokyo", "Asia/Tokyo", 35.6762, 139.6503, "ja-JP", "ja_JP", 1),
    ]
}
# Zones offered on the control page; any IANA zone is accepted by the helpers.
COMMON_ZONES = sorted(
    {city.zone for city in CITIES.values()}
    | {"UTC", "America/Sao_Paulo", "America/Denver", "Asia/Kolkata", "Pacific/Auckland", "Africa/Nairobi"}
)


def is_zone(name: str) -> bool:
    return name in _zone_names()


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def city_for_zone(zone: str) -> City | None:
    return next((city for city in CITIES.values() if city.zone == zone), None)


def default_city(moves_id: int) -> City:
    return CITIES[sorted(CITIES)[moves_id % len(CITIES)]]


@dataclass(frozen=True)
class Kind:
    """How one kind of activity moves: its group, whether Moves recognised it itself, speeds, GPS."""

    group: str | None
    manual: bool
    speed: tuple[float, float]
    gap: tuple[int, int]
    jitter: float
    stride: tuple[float, float] | None = None


KINDS: dict[str, Kind] = {
    # Recognised by Moves itself.
    "walking": Kind("walking", False, (1.2, 1.5), (7, 12), 0.00003, (0.66, 0.78)),
    "running": Kind("running", False, (2.6, 3.3), (6, 9), 0.00003, (1.05, 1.3)),
    "cycling": Kind("cycling", False, (4.0, 5.5), (8, 12), 0.00004),
    "transport": Kind("transport", False, (7.0, 11.0), (10, 18), 0.00008),
    # Entered by hand.
    "car": Kind("transport", True, (8.0, 13.0), (10, 18), 0.00008),
    "bus": Kind("transport", True, (5.0, 8.0), (12, 20), 0.00008),
    "tram": Kind("transport", True, (4.5, 7.5), (12, 20), 0.00008),
    "underground": Kind("transport", True, (8.0, 12.0), (25, 45), 0.0002),
    "train": Kind("transport", True, (22.0, 38.0), (30, 60), 0.0002),
    "airplane": Kind("transport", True, (160.0, 220.0), (90, 150), 0.001),
    "boat": Kind("transport", True, (4.0, 8.0), (20, 40), 0.0001),
    "motorcycle": Kind("transport", True, (9.0, 15.0), (10, 18), 0.00008),
}
# Sports entered by hand while staying somewhere: no group, no track points.
SPORTS: dict[str, float] = {"gym_training": 0.0, "yoga": 0.0, "tennis": 0.9, "swimming": 0.4, "soccer": 1.1}
# What an edit turns an activity into.
EDITED_TO = {
    "walking": "running",
    "running": "walking",
    "cycling": "motorcycle",
    "transport": "bus",
    "car": "bus",
    "bus": "tram",
    "tram": "bus",
    "underground": "train",
    "train": "underground",
    "airplane": "train",
    "boat": "bus",
    "motorcycle": "car",
    "gym_training": "yoga",
    "yoga": "gym_training",
    "tennis": "soccer",
    "swimming": "yoga",
    "soccer": "tennis",
}

# Real Foursquare category ids, so consumers that know them see familiar values.
CATEGORY_COFFEE = "4bf58dd8d48988d1e0931735"
CATEGORY_GYM = "4bf58dd8d48988d175941735"
CATEGORY_SUPERMARKET = "52f2ab2ebcbc57f1066b8b46"


@dataclass(frozen=True)
class Place:
    id: int
    type: str
    lat: float
    lon: float
    name: str | None = None
    foursquare_id: str | None = None
    category_ids: tuple[str, ...] = ()
    facebook_id: str | None = None

    @property
    def at(self) -> tuple[float, float]:
        return self.lat, self.lon

    def as_json(self, name: str | None = None) -> dict:
        """The place as the API shows it; ``name`` is the person's own name for it, if they gave one."""
        data: dict = {"id": self.id}
        kind = self.type
        if name is not None:
            data["name"] = name
            # Naming a place Moves knew nothing about makes it the person's own.
            if kind == "unknown":
                kind = "user"
        elif self.name:
            data["name"] = self.name
        data["type"] = kind
        if self.facebook_id:
            data["facebookPlaceId"] = self.facebook_id
        if self.foursquare_id:
            data["foursquareId"] = self.foursquare_id
            data["foursquareCategoryIds"] = list(self.category_ids)
        data["location"] = {"lat": self.lat, "lon": self.lon}
        return data


@dataclass(frozen=True)
class Persona:
    moves_id: int
    city: City
    zone: ZoneInfo
    home: Place
    work: Place
    school: Place
    cafe: Place
    gym: Place
    supermarket: Place
    restaurant: Place
    museum: Place
    airport: Place
    dentist: Place
    family: Place
    park: Place
    friend: Place
    lake_island: Place
    far_city: Place
    distant_city: Place
    commute: str
    errand_mode: str
    runner: bool
    sport: str
    class_day: int
    metric: bool
    sync_phase: int
    # Seconds after midnight of the day after firstDate at which recording started.
    start_delay: int
    # Places the person named later: (place id, days after the start, or at the latest this
    # fraction of the history up to the account's creation).
    named_later: tuple[tuple[int, int, float], ...]

    @property
    def places(self) -> tuple[Place, ...]:
        return (
            self.home,
            self.work,
            self.school,
            self.cafe,
            self.gym,
            self.supermarket,
            self.restaurant,
            self.museum,
            self.airport,
            self.dentist,
            self.family,
            self.park,
            self.friend,
            self.lake_island,
            self.far_city,
            self.distant_city,
        )


def _shift(origin: tuple[float, float], meters: float, bearing: float) -> tuple[float, float]:
    dlat = meters * math.cos(bearing) / METERS_PER_DEGREE
    dlon = meters * math.sin(bearing) / (METERS_PER_DEGREE * math.cos(math.radians(origin[0])))
    return origin[0] + dlat, origin[1] + dlon


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    # Equirectangular is exact enough at these scales and much cheaper than haversine.
    x = (b[1] - a[1]) * math.cos(math.radians((a[0] + b[0]) / 2))
    y = b[0] - a[0]
    return math.hypot(x, y) * METERS_PER_DEGREE


def _near(rng: random.Random, origin: tuple[float, float], low: float, high: float) -> tuple[float, float]:
    return _shift(origin, rng.uniform(low, high), rng.uniform(0, 2 * math.pi))


@lru_cache(maxsize=512)
def persona(moves_id: int, city_key: str) -> Persona:
    """The stable facts of one sandbox user's life, derived from the id and the city alone."""
    rng = random.Random(f"persona:{moves_id}:{city_key}")
    city = CITIES[city_key]
    ids = iter(sorted(rng.sample(range(290_000_000, 310_000_000), 16)))

    def own(kind: str, at: tuple[float, float], name: str | None) -> Place:
        # The person's own places keep full precision, as in the recording (50.06094381015026).
        return Place(next(ids), kind, at[0], at[1], name=name)

    def unknown(at: tuple[float, float]) -> Place:
        return Place(next(ids), "unknown", round(at[0], 7), round(at[1], 7))

    def facebook(at: tuple[float, float], name: str) -> Place:
        digits = rng.choice([5, 6, 7])
        fb_id = str(rng.randint(100_000_000_000_000, 1_999_999_999_999_999))
        return Place(
            next(ids), "facebook", round(at[0], digits), round(at[1], digits), name, facebook_id=fb_id
        )

    def foursquare(at: tuple[float, float], name: str, category: str) -> Place:
        fsq = f"{rng.getrandbits(96):024x}"
        return Place(next(ids), "foursquare", round(at[0], 6), round(at[1], 6), name, fsq, (category,))

    home_at = _near(rng, (city.lat, city.lon), 1500, 6000)
    work_at = _near(rng, home_at, 1800, 14000)
    work_distance = _distance(home_at, work_at)
    if work_distance < 2500:
        commute = "walking"
    elif work_distance > 9000:
        commute = rng.choice(["car", "train", "transport", "underground"])
    else:
        commute = rng.choice(["transport", "cycling", "tram", "bus", "car", "underground"])
    home = own("home", home_at, rng.choice(["Home", "Home", "Zuhause", "Lore"]))
    work = own("work", work_at, "Work")
    places = {
        "school": own("school", _near(rng, home_at, 1200, 5000), "School"),
        "cafe": foursquare(_near(rng, work_at, 250, 700), "Corner Coffee", CATEGORY_COFFEE),
        "gym": foursquare(_near(rng, home_at, 800, 2000), "City Gym", CATEGORY_GYM),
        "supermarket": foursquare(_near(rng, home_at, 400, 1500), "Fresh Market", CATEGORY_SUPERMARKET),
        "restaurant": facebook(_near(rng, home_at, 1500, 5000), "Pizzeria am Markt"),
        "museum": facebook(_near(rng, (city.lat, city.lon), 300, 2500), "City Museum"),
        "airport": facebook(_near(rng, (city.lat, city.lon), 9000, 20000), "Airport"),
        "dentist": own("user", _near(rng, home_at, 600, 3000), "Dentist"),
        "family": own("user", _near(rng, home_at, 4000, 15000), "Mum and Dad"),
        "park": unknown(_near(rng, home_at, 1500, 4000)),
        "friend": unknown(_near(rng, home_at, 3000, 9000)),
        "lake_island": facebook(_near(rng, home_at, 8000, 20000), "Island Landing"),
        "far_city": facebook(_near(rng, home_at, 60_000, 250_000), "Old Town"),
        "distant_city": facebook(_near(rng, home_at, 350_000, 700_000), "Harbour Front"),
    }
    named = [home.id, work.id, places["dentist"].id, places["family"].id, places["school"].id]
    return Persona(
        moves_id=moves_id,
        city=city,
        zone=ZoneInfo(city.zone),
        home=home,
        work=work,
        commute=commute,
        errand_mode=rng.choice(["car", "bus", "cycling", "motorcycle", "tram"]),
        runner=rng.random() < 0.6,
        sport=rng.choice(["gym_training", "yoga", "swimming", "tennis"]),
        class_day=rng.randrange(5),
        metric=rng.random() < 0.5,
        sync_phase=rng.randrange(SYNC_SECONDS),
        start_delay=rng.randint(3600, 4 * 3600),
        named_later=tuple(
            (place_id, rng.randint(120, 330), rng.uniform(0.3, 0.9)) for place_id in rng.sample(named, 3)
        ),
        **places,
    )


# --- Plans: where the person is when, in city-local seconds ------------------------


@dataclass(frozen=True, slots=True)
class Leg:
    mode: str
    path: tuple[tuple[float, float], ...]
    start: int
    end: int
    length: float


@dataclass(frozen=True, slots=True)
class Stay:
    place: Place
    start: int
    end: int
    sport: str | None = None


@dataclass(frozen=True, slots=True)
class Trip:
    legs: tuple[Leg, ...]


class _Planner:
    """Walks through one city-local day, recording stays and trips."""

    def __init__(self, who: Persona, rng: random.Random, since: int = 0) -> None:
        self.who = who
        self.rng = rng
        self.steps: list[Stay | Trip] = []
        self.place = who.home
        self.since = since
        self.sport: str | None = None

    def stay_until(self, end: int) -> None:
        end = min(end, DAY)
        if end > self.since:
            self.steps.append(Stay(self.place, self.since, end, self.sport))
        self.since = end
        self.sport = None

    def go(self, dest: Place, mode: str, depart: int, sport: str | None = None) -> int:
        """Leave for ``dest`` at ``depart`` (at least ten minutes into the stay); returns the arrival.

        Too late in the evening the person stays where they are.
        """
        depart = max(depart, self.since + 600)
        if dest is self.place or depart > DAY - 5400:
            return self.since
        self.stay_until(depart)
        start, end = self.place.at, dest.at
        rng = self.rng
        if mode in ("transport", "bus", "tram", "underground", "train") and _distance(start, end) > 1500:
            # To the stop, the ride, from the stop.
            first = _toward(start, end, rng.uniform(0.03, 0.08))
            last = _toward(end, start, rng.uniform(0.03, 0.08))
            parts = [("walking", (start, first)), (mode, self._bent(first, last)), ("walking", (last, end))]
        elif mode == "airplane":
            parts = [(mode, (start, end))]
        elif mode in ("car", "motorcycle") and rng.random() < 0.5:
            # Parking round the corner.
            park = _toward(end, start, rng.uniform(0.01, 0.04))
            parts = [(mode, self._bent(start, park)), ("walking", (park, end))]
        else:
            parts = [(mode, self._bent(start, end))]
        legs = []
        t = depart
        for leg_mode, path in parts:
            lengths = [_distance(path[i], path[i + 1]) for i in range(len(path) - 1)]
            length = sum(lengths)
            duration = max(60, int(length / rng.uniform(*KINDS[leg_mode].speed)))
            legs.append(Leg(leg_mode, path, t, t + duration, length))
            # The next activity starts in the same second or the one after.
            t += duration + rng.randint(0, 1)
        latest = DAY - 600
        if legs[-1].end > latest:
            # Squeeze a trip that would run past midnight into the evening.
            scale = (latest - depart) / max(1, legs[-1].end - depart)
            legs = [
                replace(
                    leg,
                    start=depart + int((leg.start - depart) * scale),
                    end=depart + int((leg.end - depart) * scale),
                )
                for leg in legs
            ]
        if len(legs) >= 2 and rng.random() < 0.2:
            # Moves sometimes splits one journey into two moves, one right after the other.
            cut = rng.randint(1, len(legs) - 1)
            self.steps.append(Trip(tuple(legs[:cut])))
            self.steps.append(Trip(tuple(legs[cut:])))
        else:
            self.steps.append(Trip(tuple(legs)))
        self.place = dest
        self.sport = sport
        # The next place starts at once or a few seconds later.
        self.since = legs[-1].end + rng.choice([0, 0, 0, 1, 1, 2, 20, 31])
        return self.since

    def loop(self, mode: str, depart: int, length_m: float) -> int:
        """A round trip (a run) from the current place back to it."""
        depart = max(depart, self.since + 600)
        self.stay_until(depart)
        origin = self.place.at
        radius = length_m / (2 * math.pi)
        phase = self.rng.uniform(0, 2 * math.pi)
        center = _shift(origin, radius, phase)
        path = [origin]
        for i in range(1, 8):
            angle = phase + math.pi + i * 2 * math.pi / 8
            path.append(_shift(center, radius * self.rng.uniform(0.85, 1.15), angle))
        path.append(origin)
        length = sum(_distance(path[i], path[i + 1]) for i in range(len(path) - 1))
        duration = int(length / self.rng.uniform(*KINDS[mode].speed))
        self.steps.append(Trip((Leg(mode, tuple(path), depart, depart + duration, length),)))
        self.since = depart + duration + self.rng.randint(0, 2)
        return self.since

    def finish(self) -> list[Stay | Trip]:
        self.stay_until(DAY)
        return self.steps

    def _bent(self, a: tuple[float, float], b: tuple[float, float]) -> tuple[tuple[float, float], ...]:
        # Streets are not straight lines: go through a point pushed sideways.
        bend = self.rng.uniform(-0.2, 0.2)
        mid = ((a[0] + b[0]) / 2 - (b[1] - a[1]) * bend, (a[1] + b[1]) / 2 + (b[0] - a[0]) * bend)
        return (a, mid, b)


def _toward(a: tuple[float, float], b: tuple[float, float], fraction: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * fraction, a[1] + (b[1] - a[1]) * fraction


def _weekday(p: _Planner, who: Persona, day: date) -> None:
    rng = p.rng
    t = p.go(who.work, who.commute, 7 * 3600 + rng.randint(0, 5400))
    if rng.random() < 0.5:
        lunch = max(t + 1800, 12 * 3600 + rng.randint(-1800, 1800))
        t = p.go(who.cafe, "walking", lunch)
        t = p.go(who.work, "walking", t + rng.randint(1200, 2700))
    leave = max(t + 1800, 17 * 3600 + rng.randint(-1800, 3600))
    roll = rng.random()
    if day.weekday() == who.class_day:
        t = p.go(who.school, who.commute, leave)
        p.go(who.home, who.commute, t + rng.randint(5400, 7200))
    elif roll < 0.25:
        t = p.go(who.gym, who.errand_mode, leave, sport=who.sport)
        p.go(who.home, who.errand_mode, t + rng.randint(2700, 5400))
    elif roll < 0.45:
        t = p.go(who.supermarket, who.errand_mode, leave)
        p.go(who.home, "walking", t + rng.randint(900, 2400))
    elif roll < 0.55:
        t = p.go(who.restaurant, who.errand_mode, leave + rng.randint(0, 3600))
        p.go(who.home, who.errand_mode, t + rng.randint(3600, 7200))
    elif roll < 0.6:
        t = p.go(who.dentist, "walking", leave)
        p.go(who.home, "walking", t + rng.randint(1800, 3600))
    else:
        p.go(who.home, who.commute, leave)


def _weekend(p: _Planner, who: Persona, day: date) -> None:
    rng = p.rng
    t = 9 * 3600 + rng.randint(0, 7200)
    if rng.random() < 1 / 12:
        _excursion(p, who, t)
        return
    if who.runner and rng.random() < 0.6:
        t = p.loop("running", t, rng.uniform(4000, 10000)) + rng.randint(3600, 7200)
    roll = rng.random()
    if roll < 0.75:
        dest = [who.park, who.friend, who.museum, who.family][int(rng.random() * 4)]
        mode = rng.choice(["cycling", "transport", "car", "bus", who.errand_mode, "walking"])
        if mode == "walking" and _distance(who.home.at, dest.at) > 3000:
            mode = "cycling"
        sport = rng.choice(["soccer", "yoga"]) if dest is who.park and rng.random() < 0.4 else None
        t = p.go(dest, mode, t, sport=sport)
        p.go(who.home, mode, t + rng.randint(3600, 3 * 3600))


def _excursion(p: _Planner, who: Persona, t: int) -> None:
    rng = p.rng
    kind = rng.choice(["train", "airplane", "boat", "motorcycle"])
    if kind == "airplane":
        t = p.go(who.airport, "underground", 6 * 3600 + rng.randint(0, 3600))
        t = p.go(who.distant_city, "airplane", t + rng.randint(3600, 5400))
        t = p.go(who.airport, "airplane", t + rng.randint(4 * 3600, 6 * 3600))
        p.go(who.home, "underground", t + rng.randint(1200, 2400))
    elif kind == "boat":
        t = p.go(who.lake_island, "boat", t)
        p.go(who.home, "boat", t + rng.randint(2 * 3600, 4 * 3600))
    else:
        t = p.go(who.far_city, kind, t)
        p.go(who.home, kind, t + rng.randint(2 * 3600, 4 * 3600))


@lru_cache(maxsize=4096)
def plan(moves_id: int, city_key: str, ordinal: int) -> tuple[Stay | Trip, ...]:
    """Where the person is on one city-local day, in seconds since its midnight."""
    who = persona(moves_id, city_key)
    day = date.fromordinal(ordinal)
    rng = random.Random(f"plan:{moves_id}:{city_key}:{ordinal}")
    roll = rng.random()
    if roll < 0.01:
        return ()  # The phone recorded nothing that day.
    if roll < 0.03:
        # The phone was off until the afternoon; the stay at home before is cut at midnight.
        p = _Planner(who, rng, since=rng.randint(9, 16) * 3600)
    else:
        p = _Planner(who, rng)
    if 0.03 <= roll < 0.07:
        pass  # A day at home.
    elif day.weekday() < 5:
        _weekday(p, who, day)
    else:
        _weekend(p, who, day)
    return tuple(p.finish())


# --- Raw segments: a city-local day in absolute time, with activities ---------------


@dataclass(frozen=True, slots=True)
class Activity:
    kind: str
    start: int
    end: int
    distance: float
    steps: int | None
    # (epoch seconds, lat, lon)
    points: tuple[tuple[int, float, float], ...]
    # (city-local day ordinal, segment index, activity index): what an edit names.
    key: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Segment:
    type: str
    start: int
    end: int
    place: Place | None
    activities: tuple[Activity, ...]
    # (city-local day ordinal, segment index) of its first part.
    key: tuple[int, int]
    # Seconds between the upload slot after it ended and its lastUpdate.
    lag: int


def local_epoch(zone: ZoneInfo, day: date, seconds: int) -> int:
    """Epoch seconds of ``seconds`` after midnight, local time of ``zone`` on ``day``."""
    naive = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
    return calendar.timegm(naive.timetuple()) - int(zone.utcoffset(naive).total_seconds())


@lru_cache(maxsize=600)
def city_day(moves_id: int, city_key: str, ordinal: int) -> tuple[Segment, ...]:
    """The segments of one city-local day, with activities and track points."""
    who = persona(moves_id, city_key)
    day = date.fromordinal(ordinal)
    rng = random.Random(f"detail:{moves_id}:{city_key}:{ordinal}")
    zone = who.zone
    decimals = (_decimals(who.city.lat), _decimals(who.city.lon))
    segments = []
    for index, step in enumerate(plan(moves_id, city_key, ordinal)):
        if isinstance(step, Stay):
            start = local_epoch(zone, day, step.start)
            end = local_epoch(zone, day, step.end)
            activities = _stay_activities(rng, zone, day, step, (ordinal, index))
            segments.append(
                Segment("place", start, end, step.place, activities, (ordinal, index), rng.randint(0, 240))
            )
        else:
            activities = tuple(
                _moving(rng, zone, day, leg, (ordinal, index, n), decimals) for n, leg in enumerate(step.legs)
            )
            segments.append(
                Segment(
                    "move",
                    activities[0].start,
                    activities[-1].end,
                    None,
                    activities,
                    (ordinal, index),
                    rng.randint(0, 240),
                )
            )
    return tuple(segments)


def _decimals(value: float) -> int:
    # Track points carry about eight significant digits (50.172459, 8.6273515).
    return max(0, 7 - math.floor(math.log10(max(abs(value), 1.0))))


def _stay_activities(
    rng: random.Random, zone: ZoneInfo, day: date, stay: Stay, key: tuple[int, int]
) -> tuple:
    found: list[tuple[str, int, int, float]] = []
    awake_from, awake_to = max(stay.start, 7 * 3600), min(stay.end, 23 * 3600)
    if stay.sport:
        length = int((stay.end - stay.start) * rng.uniform(0.6, 0.85))
        begin = stay.start + rng.randint(60, max(61, stay.end - stay.start - length - 60))
        found.append((stay.sport, begin, begin + length, SPORTS[stay.sport] * length))
    elif awake_to - awake_from > 1800:
        # A few short walks inside the place, as Moves saw them (no track points).
        for _ in range(rng.randint(0, 3)):
            length = rng.randint(20, 420)
            begin = rng.randint(awake_from, max(awake_from, awake_to - length))
            found.append(("walking", begin, begin + length, length * rng.uniform(0.5, 1.1)))
    found.sort(key=lambda item: item[1])
    activities = []
    last_end = -1
    for kind, begin, end, distance in found:
        if begin <= last_end:
            continue
        start_e, end_e = local_epoch(zone, day, begin), local_epoch(zone, day, end)
        distance = float(round(distance))
        steps = int(distance / rng.uniform(*KINDS[kind].stride)) if kind == "walking" else None
        activities.append(Activity(kind, start_e, end_e, distance, steps, (), (*key, len(activities))))
        last_end = end
    return tuple(activities)


def _moving(
    rng: random.Random,
    zone: ZoneInfo,
    day: date,
    leg: Leg,
    key: tuple[int, int, int],
    decimals: tuple[int, int],
) -> Activity:
    start = local_epoch(zone, day, leg.start)
    end = local_epoch(zone, day, leg.end)
    kind = KINDS[leg.mode]
    duration = end - start
    path = leg.path
    lengths = [_distance(path[i], path[i + 1]) for i in range(len(path) - 1)]
    total = sum(lengths) or 1.0
    count = min(duration + 1, max(2, duration // rng.randint(*kind.gap) + 1))
    uniform = rng.uniform
    jitter = kind.jitter
    lat_digits, lon_digits = decimals
    points = []
    seg = 0
    walked = 0.0
    last_index = count - 1
    for i in range(count):
        along = total * i / last_index
        while seg < len(lengths) - 1 and walked + lengths[seg] < along:
            walked += lengths[seg]
            seg += 1
        frac = (along - walked) / lengths[seg] if lengths[seg] else 0.0
        a, b = path[seg], path[seg + 1]
        lat = a[0] + (b[0] - a[0]) * frac
        lon = a[1] + (b[1] - a[1]) * frac
        if 0 < i < last_index:
            lat += uniform(-jitter, jitter)
            lon += uniform(-jitter, jitter)
        points.append((start + duration * i // last_index, round(lat, lat_digits), round(lon, lon_digits)))
    distance = float(round(leg.length))
    steps = None
    if kind.stride:
        steps = int(distance / rng.uniform(*kind.stride))
    return Activity(leg.mode, start, end, distance, steps, tuple(points), key)


# --- Histories: the persona's timeline as the API shows it now ----------------------


@dataclass(frozen=True)
class History:
    """Everything that decides what the API answers for one user (see ``sandbox.storyline``)."""

    moves_id: int
    city: str
    zone: str
    first_date: date | None
    last_date: date | None
    created: float
    offline_since: float | None = None
    # (since, uploaded_at): what the phone recorded since ``since`` was uploaded at ``uploaded_at``.
    uploads: tuple[tuple[float, float], ...] = ()
    # (place id, name, renamed_at), oldest first.
    renames: tuple[tuple[int, str, float], ...] = ()
    # (day ordinal, segment, activity, new kind, edited_at), oldest first.
    edits: tuple[tuple[int, int, int, str, float], ...] = ()


@dataclass
class Shown:
    """A segment as shown: cut to what was recorded, with its lastUpdate."""

    segment: Segment
    start: int
    end: int
    activities: tuple[Activity, ...]
    # When the phone's upload of it happened (before edits and renames).
    uploaded: int
    last_update: int = 0
    renamed: str | None = None
    edited: dict = field(default_factory=dict)


class _Context:
    def __init__(self, history: History) -> None:
        self.history = history
        self.who = persona(history.moves_id, history.city)
        self.zone = ZoneInfo(history.zone)
        first = history.first_date
        # Recording starts some hours into the day after firstDate, so that day has no data.
        self.start = (
            None if first is None else _midnight(self.zone, first + timedelta(days=1)) + self.who.start_delay
        )
        last = history.last_date
        self.end = None if last is None else _midnight(self.zone, last + timedelta(days=1))
        self.renames = {place_id: (name, at) for place_id, name, at in history.renames}
        self.edits = {(o, s, i): (kind, at) for o, s, i, kind, at in history.edits}
        self.edited_segments: dict[tuple[int, int], float] = {}
        for o, s, _i, _kind, at in history.edits:
            self.edited_segments[(o, s)] = max(at, self.edited_segments.get((o, s), 0))
        self.named: dict[int, float] = {}
        if self.start is not None and history.created > self.start:
            span = history.created - self.start
            for place_id, days, fraction in self.who.named_later:
                self.named[place_id] = self.start + min(days * DAY, fraction * span)

    def uploaded(self, end: int, lag: int) -> int:
        phase = self.who.sync_phase
        slot = phase + math.ceil((end + 300 - phase) / SYNC_SECONDS) * SYNC_SECONDS
        moment = slot + lag
        for since, at in self.history.uploads:
            if since <= moment < at:
                moment = int(at)
        return moment

    def city_ordinal(self, moment: float) -> int:
        return datetime.fromtimestamp(moment, self.who.zone).date().toordinal()


def _midnight(zone: ZoneInfo, day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def _timeline(ctx: _Context, first: int, last: int) -> list[Segment]:
    """The segments of city-local days ``first``..``last``, stays over midnight joined into one."""
    who = ctx.who
    moves_id, city_key = who.moves_id, who.city.key
    # A stay over midnight may have begun days before (a day at home) or end days after;
    # the plans (cheap, no track points) tell where it does.
    while _plans_join(moves_id, city_key, first - 1):
        first -= 1
    while _plans_join(moves_id, city_key, last):
        last += 1
    joined: list[Segment] = []
    for ordinal in range(first, last + 1):
        for segment in city_day(moves_id, city_key, ordinal):
            if joined and _joins(joined[-1], segment):
                previous = joined[-1]
                joined[-1] = replace(
                    previous,
                    end=segment.end,
                    activities=previous.activities + segment.activities,
                    lag=max(previous.lag, segment.lag),
                )
            else:
                joined.append(segment)
    return joined


def _plans_join(moves_id: int, city_key: str, ordinal: int) -> bool:
    """Whether the last stay of day ``ordinal`` goes on into the next day."""
    today, tomorrow = plan(moves_id, city_key, ordinal), plan(moves_id, city_key, ordinal + 1)
    if not (today and tomorrow):
        return False
    last, first = today[-1], tomorrow[0]
    return (
        isinstance(last, Stay)
        and isinstance(first, Stay)
        and last.end == DAY
        and first.start == 0
        and last.place.id == first.place.id
    )


def _joins(before: Segment, after: Segment) -> bool:
    return (
        before.type == "place"
        and after.type == "place"
        and before.end == after.start
        and before.place.id == after.place.id
    )


def _clip(activities: Iterable[Activity], low: int, high: int) -> tuple[Activity, ...]:
    """The activities within ``low``..``high`` (inclusive), cut at the edges."""
    kept = []
    for activity in activities:
        if activity.end <= low or activity.start > high:
            continue
        if activity.start >= low and activity.end <= high:
            kept.append(activity)
            continue
        start, end = max(activity.start, low), min(activity.end, high)
        if end <= start:
            continue
        share = (end - start) / (activity.end - activity.start)
        kept.append(
            replace(
                activity,
                start=start,
                end=end,
                distance=float(round(activity.distance * share)),
                steps=None if activity.steps is None else int(activity.steps * share),
                points=tuple(p for p in activity.points if start <= p[0] <= end),
            )
        )
    return tuple(kept)


def _shown(ctx: _Context, first: int, last: int, now: float) -> list[Shown]:
    """Visible segments of city-local days ``first``..``last``, in order."""
    if ctx.start is None:
        return []
    shown = []
    offline = ctx.history.offline_since
    for segment in _timeline(ctx, first, last):
        start, end, activities = segment.start, segment.end, segment.activities
        if end <= ctx.start or (ctx.end is not None and start >= ctx.end):
            continue
        if start < ctx.start:
            start = ctx.start
            activities = _clip(activities, start, end)
        if ctx.end is not None and end > ctx.end:
            end = ctx.end
            activities = _clip(activities, start, end)
        uploaded = ctx.uploaded(end, segment.lag)
        if uploaded > now or (offline is not None and uploaded >= offline):
            continue
        item = Shown(segment, start, end, activities, uploaded)
        last_update = uploaded
        if segment.place is not None:
            last_update = max(last_update, int(ctx.named.get(segment.place.id, 0)))
            renamed = ctx.renames.get(segment.place.id)
            if renamed:
                item.renamed = renamed[0]
                last_update = max(last_update, int(renamed[1]))
        for activity in activities:
            edit = ctx.edits.get(activity.key)
            if edit:
                item.edited[activity.key] = edit[0]
                last_update = max(last_update, int(edit[1]))
        item.last_update = last_update
        shown.append(item)
    return shown


def _window(ctx: _Context, low: float, high: float) -> tuple[int, int]:
    """City-local days covering ``low``..``high`` (epoch seconds), within the recorded range."""
    # Only stays cross a city-local midnight (trips end before it), and _timeline follows them.
    first = ctx.city_ordinal(low)
    last = ctx.city_ordinal(high - 1)
    if ctx.start is not None:
        first = max(first, ctx.city_ordinal(ctx.start))
    if ctx.end is not None:
        last = min(last, ctx.city_ordinal(ctx.end))
    return first, last


# --- Rendering ----------------------------------------------------------------------


@lru_cache(maxsize=1)
def _clock_faces() -> tuple[str, ...]:
    """``THHMMSS`` for every second of a day: formatting is most of the cost of a track point."""
    return tuple(f"T{h:02d}{m:02d}{s:02d}" for h in range(24) for m in range(60) for s in range(60))


class _Clock:
    """Formats epoch seconds as the user's local time with its offset, fast."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.faces = _clock_faces()
        # Per half hour (offsets change on the hour or half hour): offset, date part, suffix.
        self.buckets: dict[int, tuple[int, str]] = {}
        self.dates: dict[int, str] = {}

    def stamp(self, moment: int) -> str:
        bucket = moment // 1800
        known = self.buckets.get(bucket)
        if known is None:
            offset = int(datetime.fromtimestamp(moment, self.zone).utcoffset().total_seconds())
            sign = "-" if offset < 0 else "+"
            h, m = divmod(abs(offset) // 60, 60)
            known = self.buckets[bucket] = (offset, f"{sign}{h:02d}{m:02d}")
        days, seconds = divmod(moment + known[0], DAY)
        text = self.dates.get(days)
        if text is None:
            text = self.dates[days] = date.fromordinal(EPOCH_ORDINAL + days).strftime("%Y%m%d")
        return text + self.faces[seconds] + known[1]


def utc_stamp(moment: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(moment))


def _activity_json(activity: Activity, kind: str, manual: bool, clock: _Clock, track_points: bool) -> dict:
    known = KINDS.get(kind)
    data: dict = {"activity": kind}
    if known is not None and known.group:
        data["group"] = known.group
    data["manual"] = manual
    data["startTime"] = clock.stamp(activity.start)
    data["endTime"] = clock.stamp(activity.end)
    data["duration"] = float(activity.end - activity.start)
    data["distance"] = activity.distance
    steps = activity.steps
    if known is not None and known.stride:
        if steps is None:
            steps = int(activity.distance / sum(known.stride) * 2)
        data["steps"] = steps
    if track_points:
        stamp = clock.stamp
        data["trackPoints"] = [{"lat": lat, "lon": lon, "time": stamp(t)} for t, lat, lon in activity.points]
    return data


def _day_json(
    day: date, items: Sequence[Shown], low: int, high: int, clock: _Clock, track_points: bool
) -> dict:
    """One storyline day: ``items`` overlap ``low``..``high`` (the day's first and last second)."""
    if not items:
        return empty_day(day)
    segments = []
    summary: dict[str, dict] = {}
    for item in items:
        data: dict = {
            "type": item.segment.type,
            "startTime": clock.stamp(item.start),
            "endTime": clock.stamp(item.end),
        }
        if item.segment.place is not None:
            data["place"] = item.segment.place.as_json(item.renamed)
        activities = []
        for activity in _clip(item.activities, low, high):
            kind = item.edited.get(activity.key, activity.kind)
            manual = activity.key in item.edited or (kind in KINDS and KINDS[kind].manual) or kind in SPORTS
            shown = _activity_json(activity, kind, manual, clock, track_points)
            activities.append(shown)
            entry = summary.get(kind)
            if entry is None:
                entry = summary[kind] = {"activity": kind}
                if "group" in shown:
                    entry["group"] = shown["group"]
                entry["duration"] = 0.0
                entry["distance"] = 0.0
                if "steps" in shown:
                    entry["steps"] = 0
            entry["duration"] += shown["duration"]
            entry["distance"] += shown["distance"]
            if "steps" in entry:
                entry["steps"] += shown.get("steps", 0)
        if activities or item.segment.type == "move":
            data["activities"] = activities
        data["lastUpdate"] = utc_stamp(item.last_update)
        segments.append(data)
    return {
        "date": day.strftime("%Y%m%d"),
        "summary": list(summary.values()) or None,
        "segments": segments,
        "lastUpdate": utc_stamp(max(item.last_update for item in items)),
    }


def empty_day(day: date) -> dict:
    return {"date": day.strftime("%Y%m%d"), "summary": None, "segments": None}


def storyline(
    history: History, days: Sequence[date], track_points: bool, now: float | None = None
) -> list[dict]:
    """The day objects of ``days`` (ascending) as the API answers them at ``now``."""
    if not days:
        return []
    now = time.time() if now is None else now
    ctx = _Context(history)
    zone = ctx.zone
    bounds = [(_midnight(zone, day), _midnight(zone, day + timedelta(days=1))) for day in days]
    first, last = _window(ctx, bounds[0][0], bounds[-1][1])
    items = _shown(ctx, first, last, now)
    ends = [item.end for item in items]
    clock = _Clock(zone)
    result = []
    for day, (low, high) in zip(days, bounds, strict=True):
        # Segments are in order and do not overlap: the first one ending after low, onwards.
        index = bisect.bisect_right(ends, low)
        overlapping = []
        while index < len(items) and items[index].start < high:
            overlapping.append(items[index])
            index += 1
        result.append(_day_json(day, overlapping, low, high - 1, clock, track_points))
    return result


# --- What changed: spans for notifications, targets for edits ------------------------


@dataclass(frozen=True)
class Span:
    """A stretch of the storyline that changed, as a notification describes it."""

    start: int
    end: int
    last_type: str
    last_start: int

    def as_update(self, reason: str) -> dict:
        return {
            "reason": reason,
            "startTime": utc_stamp(self.start),
            "endTime": utc_stamp(self.end),
            "lastSegmentType": self.last_type,
            "lastSegmentStartTime": utc_stamp(self.last_start),
        }


def uploaded_between(history: History, since: float, until: float, now: float | None = None) -> Span | None:
    """The visible segments whose upload fell in ``since``..``until`` (a sync, an added day)."""
    now = time.time() if now is None else now
    ctx = _Context(history)
    first, last = _window(ctx, since - 2 * DAY, min(until, now))
    changed = [item for item in _shown(ctx, first, last, now) if since <= item.uploaded <= until]
    if not changed:
        return None
    return Span(changed[0].start, changed[-1].end, changed[-1].segment.type, changed[-1].start)


def recorded_end(history: History, now: float | None = None) -> float:
    """When the last visible segment ends (or ``now`` when nothing is visible yet)."""
    now = time.time() if now is None else now
    ctx = _Context(history)
    high = min(now, ctx.end) if ctx.end is not None else now
    first, last = _window(ctx, high - 3 * DAY, high)
    shown = _shown(ctx, first, last, now)
    return shown[-1].end if shown else high


@dataclass(frozen=True)
class EditTarget:
    key: tuple[int, int, int]
    old: str
    new: str
    span: Span


def edit_target(history: History, day: date, now: float | None = None) -> EditTarget | None:
    """The activity an edit of ``day`` changes: the longest in the day's first move (else any)."""
    now = time.time() if now is None else now
    ctx = _Context(history)
    low, high = _midnight(ctx.zone, day), _midnight(ctx.zone, day + timedelta(days=1))
    first, last = _window(ctx, low, high)
    items = [item for item in _shown(ctx, first, last, now) if item.start < high and item.end > low]
    moves = [item for item in items if item.segment.type == "move"]
    for item in moves + [item for item in items if item.segment.type == "place"]:
        inside = _clip(item.activities, low, high - 1)
        if not inside:
            continue
        chosen = max(inside, key=lambda a: a.end - a.start)
        old = item.edited.get(chosen.key, chosen.kind)
        span = Span(item.start, item.end, item.segment.type, item.start)
        return EditTarget(chosen.key, old, EDITED_TO.get(old, "walking"), span)
    return None


def place_span(history: History, place_id: int, now: float | None = None) -> Span | None:
    """From the first to the last visit of a place, over the whole recorded history (from plans)."""
    now = time.time() if now is None else now
    ctx = _Context(history)
    if ctx.start is None:
        return None
    high = min(now, ctx.end) if ctx.end is not None else now
    who = ctx.who
    first_visit = last_visit = None
    for ordinal in range(ctx.city_ordinal(ctx.start), ctx.city_ordinal(high) + 1):
        day = date.fromordinal(ordinal)
        for step in plan(who.moves_id, who.city.key, ordinal):
            if isinstance(step, Stay) and step.place.id == place_id:
                start = local_epoch(who.zone, day, step.start)
                end = local_epoch(who.zone, day, step.end)
                if end <= ctx.start or start >= high:
                    continue
                if first_visit is None:
                    first_visit = max(start, ctx.start)
                last_visit = (start, min(end, high))
    if first_visit is None:
        return None
    return Span(first_visit, last_visit[1], "place", max(last_visit[0], ctx.start))


def local_today(time_zone: str) -> date:
    return datetime.now(ZoneInfo(time_zone)).date()


def current_offset(time_zone: str, now: float | None = None) -> int:
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return int(moment.astimezone(ZoneInfo(time_zone)).utcoffset().total_seconds())


def date_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
