"""Deterministic, realistic Moves storyline days for sandbox users.

Every day is generated on request from a seed made of the user's Moves id
and the date, so the same request always answers the same bytes and nothing
needs storing. A "persona" (home, work, favourite places, how the person
commutes) is derived from the user's id alone; each day then follows a
weekday or weekend routine with some randomness, and moves carry track points
along a bent path between places, interpolated with a little GPS jitter.
Sizes follow the 2018 recording: about 2,400 track points and 200 KB of JSON
per week.
"""

import calendar
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DAY_END = 24 * 3600 - 1
METERS_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class City:
    lat: float
    lon: float
    language: str
    locale: str
    first_week_day: int
    metric: bool


CITIES: dict[str, City] = {
    "America/Los_Angeles": City(37.7749, -122.4194, "en-US", "en_US", 1, False),
    "Europe/Berlin": City(50.1109, 8.6821, "en-DE", "en_DE", 2, True),
    "Europe/London": City(51.5072, -0.1276, "en-GB", "en_GB", 2, True),
    "America/New_York": City(40.7306, -73.9352, "en-US", "en_US", 1, False),
    "Australia/Sydney": City(-33.8688, 151.2093, "en-AU", "en_AU", 2, True),
    "Asia/Tokyo": City(35.6762, 139.6503, "ja-JP", "ja_JP", 1, True),
}
DEFAULT_TIME_ZONE = "America/Los_Angeles"

# Real Foursquare category ids, so consumers that know them see familiar values.
CATEGORY_COFFEE = "4bf58dd8d48988d1e0931735"
CATEGORY_GYM = "4bf58dd8d48988d175941735"
CATEGORY_SUPERMARKET = "52f2ab2ebcbc57f1066b8b46"

# (metres per second range, seconds between track points range, GPS jitter in degrees)
MODES: dict[str, tuple[tuple[float, float], tuple[int, int], float]] = {
    "walking": ((1.2, 1.5), (7, 12), 0.00003),
    "running": ((2.6, 3.3), (6, 9), 0.00003),
    "cycling": ((4.0, 5.5), (8, 12), 0.00004),
    "transport": ((7.0, 11.0), (10, 18), 0.00008),
    "car": ((8.0, 13.0), (10, 18), 0.00008),
}
GROUPS = {
    "walking": "walking",
    "running": "running",
    "cycling": "cycling",
    "transport": "transport",
    "car": "transport",
}
# Moves recognised the first four itself; anything else was entered by hand.
MANUAL = {"car"}


@dataclass(frozen=True)
class Place:
    id: int
    type: str
    lat: float
    lon: float
    name: str | None = None
    foursquare_id: str | None = None
    category: str | None = None

    def as_json(self) -> dict:
        data: dict = {"id": self.id}
        if self.name:
            data["name"] = self.name
        data["type"] = self.type
        if self.foursquare_id:
            data["foursquareId"] = self.foursquare_id
            data["foursquareCategoryIds"] = [self.category]
        data["location"] = {"lat": self.lat, "lon": self.lon}
        return data


@dataclass(frozen=True)
class Persona:
    moves_id: int
    zone: ZoneInfo
    home: Place
    work: Place
    cafe: Place
    gym: Place
    supermarket: Place
    park: Place
    friend: Place
    commute: str
    runner: bool


def city_for(time_zone: str) -> City:
    return CITIES.get(time_zone, CITIES[DEFAULT_TIME_ZONE])


def default_time_zone(moves_id: int) -> str:
    return sorted(CITIES)[moves_id % len(CITIES)]


def _offset(lat: float, lon: float, rng: random.Random, min_m: float, max_m: float) -> tuple[float, float]:
    distance = rng.uniform(min_m, max_m)
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / METERS_PER_DEGREE
    dlon = distance * math.sin(bearing) / (METERS_PER_DEGREE * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def _place(
    rng: random.Random, near: tuple[float, float], min_m: float, max_m: float, kind: str, **kw
) -> Place:
    lat, lon = _offset(near[0], near[1], rng, min_m, max_m)
    return Place(id=rng.randint(100_000_000, 999_999_999), type=kind, lat=lat, lon=lon, **kw)


def _foursquare(
    rng: random.Random, near: tuple[float, float], min_m: float, max_m: float, name: str, cat: str
):
    fsq = f"{rng.getrandbits(96):024x}"
    return _place(rng, near, min_m, max_m, "foursquare", name=name, foursquare_id=fsq, category=cat)


@lru_cache(maxsize=512)
def persona(moves_id: int, time_zone: str) -> Persona:
    """The stable facts of one sandbox user's life, derived from the id alone."""
    rng = random.Random(f"persona:{moves_id}")
    city = city_for(time_zone)
    home = _place(rng, (city.lat, city.lon), 1500, 6000, "home", name="Home")
    work = _place(rng, (home.lat, home.lon), 1800, 11000, "work", name="Work")
    home_at = (home.lat, home.lon)
    work_dist = _distance((home.lat, home.lon), (work.lat, work.lon))
    commute = "walking" if work_dist < 2500 else rng.choice(["transport", "transport", "cycling"])
    return Persona(
        moves_id=moves_id,
        zone=ZoneInfo(time_zone),
        home=home,
        work=work,
        cafe=_foursquare(rng, (work.lat, work.lon), 250, 700, "Corner Coffee", CATEGORY_COFFEE),
        gym=_foursquare(rng, home_at, 800, 2000, "City Gym", CATEGORY_GYM),
        supermarket=_foursquare(rng, home_at, 400, 1500, "Fresh Market", CATEGORY_SUPERMARKET),
        park=_place(rng, home_at, 1500, 4000, "unknown"),
        friend=_place(rng, home_at, 3000, 9000, "unknown"),
        commute=commute,
        runner=rng.random() < 0.5,
    )


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    # Equirectangular is exact enough at city scale and much cheaper than haversine.
    x = (b[1] - a[1]) * math.cos(math.radians((a[0] + b[0]) / 2))
    y = b[0] - a[0]
    return math.hypot(x, y) * METERS_PER_DEGREE


class _DayBuilder:
    """Accumulates the segments of one day while the routine walks through it."""

    def __init__(self, who: Persona, day: date, rng: random.Random) -> None:
        self.who = who
        self.rng = rng
        self.prefix = day.strftime("%Y%m%d") + "T"
        # Daylight saving switches at night, when everybody is at home, so the
        # offset of 00:00 serves until 04:00 and the one of noon after that.
        night = who.zone.utcoffset(datetime(day.year, day.month, day.day, 0, 0))
        noon = who.zone.utcoffset(datetime(day.year, day.month, day.day, 12, 0))
        self.night_suffix = _format_offset(int(night.total_seconds()))
        self.day_suffix = _format_offset(int(noon.total_seconds()))
        self.midnight_utc = calendar.timegm(day.timetuple()) - int(night.total_seconds())
        self.segments: list[dict] = []
        self.summary: dict[str, dict] = {}
        self.place = who.home
        self.since = 0

    def stamp(self, seconds: int) -> str:
        h, rest = divmod(seconds, 3600)
        m, s = divmod(rest, 60)
        suffix = self.night_suffix if seconds < 4 * 3600 else self.day_suffix
        return f"{self.prefix}{h:02d}{m:02d}{s:02d}{suffix}"

    def updated(self, seconds: int) -> str:
        lag = self.rng.randint(120, 5400)
        return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.midnight_utc + seconds + lag))

    def _count(self, activity: str, duration: float, distance: float, steps: int | None) -> None:
        entry = self.summary.get(activity)
        if entry is None:
            entry = {"activity": activity, "group": GROUPS[activity], "duration": 0.0, "distance": 0.0}
            if steps is not None:
                entry["steps"] = 0
            self.summary[activity] = entry
        entry["duration"] += duration
        entry["distance"] += distance
        if steps is not None:
            entry["steps"] = entry.get("steps", 0) + steps

    def _activity(self, kind: str, start: int, end: int, distance: float, points: list | None) -> dict:
        duration = float(end - start)
        distance = float(round(distance))
        steps = None
        if kind == "walking":
            steps = int(distance / self.rng.uniform(0.66, 0.78))
        elif kind == "running":
            steps = int(distance / self.rng.uniform(1.05, 1.3))
        self._count(kind, duration, distance, steps)
        data = {
            "activity": kind,
            "group": GROUPS[kind],
            "manual": kind in MANUAL,
            "startTime": self.stamp(start),
            "endTime": self.stamp(end),
            "duration": duration,
            "distance": distance,
        }
        if steps is not None:
            data["steps"] = steps
        data["trackPoints"] = points if points is not None else []
        return data

    def stay_until(self, end: int) -> None:
        """Close the stay at the current place at ``end``, with a few short walks inside it."""
        start = self.since
        end = min(end, DAY_END)
        activities = []
        if end - start > 2 * 3600:
            walks = self.rng.randint(0, 2)
            slots = sorted(self.rng.randint(start + 600, end - 900) for _ in range(walks))
            last_end = start
            for begin in slots:
                if begin <= last_end + 60:
                    continue
                length = self.rng.randint(40, 420)
                activities.append(self._activity("walking", begin, begin + length, length * 0.9, None))
                last_end = begin + length
        segment = {
            "type": "place",
            "startTime": self.stamp(start),
            "endTime": self.stamp(end),
            "place": self.place.as_json(),
        }
        if activities:
            segment["activities"] = activities
        segment["lastUpdate"] = self.updated(end)
        self.segments.append(segment)
        self.since = end

    def go(self, dest: Place, mode: str, depart: int) -> int:
        """Leave the current place at ``depart`` for ``dest``; returns the arrival time."""
        self.stay_until(depart)
        start = (self.place.lat, self.place.lon)
        end = (dest.lat, dest.lon)
        if mode in ("transport", "car") and _distance(start, end) > 1500:
            # Public transport and parking: walk to the stop, ride, walk from the stop.
            first = _toward(start, end, self.rng.uniform(0.04, 0.1))
            last = _toward(end, start, self.rng.uniform(0.03, 0.08))
            legs = [("walking", [start, first]), (mode, self._bent(first, last)), ("walking", [last, end])]
        else:
            legs = [(mode, self._bent(start, end))]
        self._move(legs, depart)
        self.place = dest
        return self.since

    def loop(self, mode: str, depart: int, length_m: float) -> int:
        """A round trip (a run) from the current place back to it."""
        self.stay_until(depart)
        origin = (self.place.lat, self.place.lon)
        radius = length_m / (2 * math.pi)
        phase = self.rng.uniform(0, 2 * math.pi)
        center = _shift(origin, radius, phase)
        path = [origin]
        for i in range(1, 8):
            angle = phase + math.pi + i * 2 * math.pi / 8
            path.append(_shift(center, radius * self.rng.uniform(0.85, 1.15), angle))
        path.append(origin)
        self._move([(mode, path)], depart)
        return self.since

    def finish(self) -> None:
        self.stay_until(DAY_END)

    def _bent(self, a: tuple[float, float], b: tuple[float, float]) -> list[tuple[float, float]]:
        # Streets are not straight lines: go through a point pushed sideways.
        bend = self.rng.uniform(-0.2, 0.2)
        mid = ((a[0] + b[0]) / 2 - (b[1] - a[1]) * bend, (a[1] + b[1]) / 2 + (b[0] - a[0]) * bend)
        return [a, mid, b]

    def _move(self, legs: list[tuple[str, list[tuple[float, float]]]], depart: int) -> None:
        t = depart
        activities = []
        for mode, path in legs:
            speeds, gaps, jitter = MODES[mode]
            lengths = [_distance(path[i], path[i + 1]) for i in range(len(path) - 1)]
            total = sum(lengths)
            duration = max(60, int(total / self.rng.uniform(*speeds)))
            points = self._points(path, lengths, total, t, duration, self.rng.randint(*gaps), jitter)
            activities.append(self._activity(mode, t, t + duration, total, points))
            t += duration
        t = min(t, DAY_END - 60)
        self.segments.append(
            {
                "type": "move",
                "startTime": self.stamp(depart),
                "endTime": self.stamp(t),
                "activities": activities,
                "lastUpdate": self.updated(t),
            }
        )
        self.since = t

    def _points(self, path, lengths, total, start, duration, gap, jitter) -> list[dict]:
        count = min(duration + 1, max(2, duration // gap + 1))
        uniform = self.rng.uniform
        out = []
        leg = 0
        walked = 0.0
        for i in range(count):
            along = total * i / (count - 1)
            while leg < len(lengths) - 1 and walked + lengths[leg] < along:
                walked += lengths[leg]
                leg += 1
            frac = (along - walked) / lengths[leg] if lengths[leg] else 0.0
            a, b = path[leg], path[leg + 1]
            lat = a[0] + (b[0] - a[0]) * frac
            lon = a[1] + (b[1] - a[1]) * frac
            if 0 < i < count - 1:
                lat += uniform(-jitter, jitter)
                lon += uniform(-jitter, jitter)
            out.append(
                {
                    "lat": round(lat, 6),
                    "lon": round(lon, 6),
                    "time": self.stamp(start + duration * i // (count - 1)),
                }
            )
        return out

    def as_json(self, date_text: str, track_points: bool) -> dict:
        if not track_points:
            for segment in self.segments:
                for activity in segment.get("activities", ()):
                    del activity["trackPoints"]
        summary = list(self.summary.values())
        for entry in summary:
            entry["distance"] = float(round(entry["distance"]))
        return {
            "date": date_text,
            "summary": summary,
            "segments": self.segments,
            "caloriesIdle": self.rng.randint(1650, 1900),
            "lastUpdate": max(s["lastUpdate"] for s in self.segments),
        }


def _format_offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    h, m = divmod(abs(seconds) // 60, 60)
    return f"{sign}{h:02d}{m:02d}"


def _toward(a: tuple[float, float], b: tuple[float, float], fraction: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * fraction, a[1] + (b[1] - a[1]) * fraction


def _shift(origin: tuple[float, float], meters: float, bearing: float) -> tuple[float, float]:
    dlat = meters * math.cos(bearing) / METERS_PER_DEGREE
    dlon = meters * math.sin(bearing) / (METERS_PER_DEGREE * math.cos(math.radians(origin[0])))
    return origin[0] + dlat, origin[1] + dlon


def _weekday(b: _DayBuilder, who: Persona, rng: random.Random) -> None:
    t = b.go(who.work, who.commute, 7 * 3600 + rng.randint(0, 5400))
    if rng.random() < 0.5:
        lunch = max(t + 1800, 12 * 3600 + rng.randint(-1800, 1800))
        t = b.go(who.cafe, "walking", lunch)
        t = b.go(who.work, "walking", t + rng.randint(1200, 2700))
    leave = max(t + 1800, 17 * 3600 + rng.randint(-1800, 5400))
    if rng.random() < 0.4:
        errand = who.gym if rng.random() < 0.5 else who.supermarket
        mode = "cycling" if who.commute == "cycling" else "transport"
        t = b.go(errand, mode, leave)
        b.go(who.home, "walking" if errand is who.supermarket else mode, t + rng.randint(1200, 3600))
    else:
        b.go(who.home, who.commute, leave)


def _weekend(b: _DayBuilder, who: Persona, rng: random.Random) -> None:
    t = 9 * 3600 + rng.randint(0, 7200)
    if who.runner and rng.random() < 0.6:
        t = b.loop("running", t, rng.uniform(4000, 10000)) + rng.randint(3600, 7200)
    if rng.random() < 0.75:
        dest = who.park if rng.random() < 0.5 else who.friend
        mode = rng.choice(["cycling", "transport", "car", "walking"])
        if mode == "walking" and _distance((who.home.lat, who.home.lon), (dest.lat, dest.lon)) > 3000:
            mode = "cycling"
        t = b.go(dest, mode, t)
        b.go(who.home, mode, t + rng.randint(3600, 3 * 3600))


def generate_day(moves_id: int, time_zone: str, day: date, track_points: bool) -> dict:
    """One storyline day, always the same for the same user and date."""
    rng = random.Random(f"day:{moves_id}:{day.isoformat()}")
    date_text = day.strftime("%Y%m%d")
    roll = rng.random()
    if roll < 0.03:
        return empty_day(day)
    who = persona(moves_id, time_zone)
    builder = _DayBuilder(who, day, rng)
    if roll < 0.07:
        pass  # a day at home, with only the short walks of the stay
    elif day.weekday() < 5:
        _weekday(builder, who, rng)
    else:
        _weekend(builder, who, rng)
    builder.finish()
    return builder.as_json(date_text, track_points)


def empty_day(day: date) -> dict:
    return {"date": day.strftime("%Y%m%d"), "summary": None, "segments": None}


def local_today(time_zone: str) -> date:
    return datetime.now(ZoneInfo(time_zone)).date()


def storyline(user, days: Iterable[date], track_points: bool, today: date | None = None) -> list[dict]:
    """The days a Moves user would see for ``days``: none before firstDate or after today.

    ``user`` is a ``SandboxMovesUser``; days after its ``last_date`` exist but hold no data.
    """
    today = today or local_today(user.time_zone)
    result: list[dict] = []
    if user.first_date is None:
        return result
    for day in days:
        if day < user.first_date or day > today:
            continue
        if user.has_data_on(day):
            result.append(generate_day(user.moves_id, user.time_zone, day, track_points))
        else:
            result.append(empty_day(day))
    return result


def date_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
