"""Small summaries of storyline days: the calendar of a whole history, and the map of a recent day.

The full history lives on Open Humans. The database keeps only what the
pages need without waiting on an upstream:

- ``DayYear`` rows: 13 bytes per day (``DAY_RECORD``): whether it was
  fetched and holds data, its steps, and its byte offset and length in the
  uploaded file. For 1,000 members with five years each that is
  1,000 x 1,826 x 13 bytes, about 24 MB, in 5,000 rows.
- ``RecentDay`` rows: places and thinned tracks of the days shown first.
"""

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import transaction

from apiclients.dates import parse_day
from core.models import DayYear, MovesMember, RecentDay

# state, steps, offset in the file, length in the file
DAY_RECORD = struct.Struct("<BIII")
NOT_FETCHED, NO_DATA, HAS_DATA = 0, 1, 2
STATE_NAMES = {NOT_FETCHED: "not fetched", NO_DATA: "no data", HAS_DATA: "data"}

# How many recent days with data keep their map in the database.
PREVIEW_DAYS = 28
# A day's map needs its shape, not every fix: longer tracks are thinned.
MAX_TRACK_POINTS = 2000
MAX_STEPS = 2**32 - 1


@dataclass(frozen=True)
class DayFacts:
    """What the calendar knows of one day."""

    day: date
    state: int
    steps: int = 0
    offset: int = 0
    length: int = 0

    @property
    def has_data(self) -> bool:
        return self.state == HAS_DATA


def as_number(value: Any) -> float | None:
    """``value`` as a float when it is a JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def has_data(day: dict[str, Any]) -> bool:
    return bool(day.get("segments")) or bool(day.get("summary"))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _total(entries: list[Any], key: str) -> float:
    return sum((as_number(entry.get(key)) or 0.0 for entry in entries if isinstance(entry, dict)), 0.0)


def steps_of(day: dict[str, Any]) -> int:
    return min(MAX_STEPS, max(0, int(_total(_list(day.get("summary")), "steps"))))


def facts_of(day: dict[str, Any], offset: int = 0, length: int = 0) -> DayFacts:
    return DayFacts(
        day=parse_day(day.get("date")),
        state=HAS_DATA if has_data(day) else NO_DATA,
        steps=steps_of(day),
        offset=offset,
        length=length,
    )


# --- The calendar -------------------------------------------------------------------


def pack_year(year: int, facts: Iterable[DayFacts]) -> bytes:
    first = date(year, 1, 1)
    size = (date(year + 1, 1, 1) - first).days
    records = [DAY_RECORD.pack(NOT_FETCHED, 0, 0, 0)] * size
    for fact in facts:
        records[(fact.day - first).days] = DAY_RECORD.pack(fact.state, fact.steps, fact.offset, fact.length)
    return b"".join(records)


def unpack_year(year: int, data: bytes) -> list[DayFacts]:
    first = date(year, 1, 1)
    return [
        DayFacts(first + timedelta(days=number), *DAY_RECORD.unpack_from(data, number * DAY_RECORD.size))
        for number in range(len(data) // DAY_RECORD.size)
    ]


def store_calendar(member: MovesMember, facts: Iterable[DayFacts]) -> None:
    """Replace the member's calendar with ``facts`` (every day held, in any order)."""
    by_year: dict[int, list[DayFacts]] = {}
    for fact in facts:
        by_year.setdefault(fact.day.year, []).append(fact)
    rows = [
        DayYear(moves_member=member, year=year, days=pack_year(year, days)) for year, days in by_year.items()
    ]
    with transaction.atomic():
        DayYear.objects.filter(moves_member=member).delete()
        DayYear.objects.bulk_create(rows)


def calendar(member: MovesMember) -> dict[int, list[DayFacts]]:
    return {row.year: unpack_year(row.year, bytes(row.days)) for row in member.day_years.order_by("year")}


def day_in_file(member: MovesMember, day: date) -> DayFacts | None:
    """Where ``day`` sits in the member's uploaded file, if it was uploaded."""
    row = DayYear.objects.filter(moves_member=member, year=day.year).first()
    if row is None:
        return None
    number = (day - date(day.year, 1, 1)).days
    data = bytes(row.days)
    if (number + 1) * DAY_RECORD.size > len(data):
        return None
    fact = DayFacts(day, *DAY_RECORD.unpack_from(data, number * DAY_RECORD.size))
    return fact if fact.state != NOT_FETCHED and fact.length else None


# --- The map of one day -------------------------------------------------------------


def _clock(moment: Any) -> str:
    # Moves times are local with an offset: yyyyMMdd'T'HHmmssZ.
    if isinstance(moment, str) and len(moment) >= 13 and moment[8] == "T":
        return f"{moment[9:11]}:{moment[11:13]}"
    return ""


def _point(point: Any) -> list[float] | None:
    if not isinstance(point, dict):
        return None
    lat, lon = as_number(point.get("lat")), as_number(point.get("lon"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return [lat, lon]


def _thin(tracks: list[list[list[float]]]) -> list[list[list[float]]]:
    total = sum(len(track) for track in tracks)
    if total <= MAX_TRACK_POINTS:
        return tracks
    step = -(-total // MAX_TRACK_POINTS)
    # Keep each track's last point so that tracks still meet the places.
    return [track[::step] + ([track[-1]] if (len(track) - 1) % step else []) for track in tracks]


def day_map(day: dict[str, Any]) -> dict[str, Any]:
    """Steps, distance, places and tracks of one storyline day, tolerant of missing parts."""
    segments = _list(day.get("segments"))
    distance = _total(_list(day.get("summary")), "distance")
    places: list[dict[str, Any]] = []
    tracks: list[list[list[float]]] = []
    for segment in segments:
        if not isinstance(segment, dict):
            continue
        place = segment.get("place")
        if segment.get("type") == "place" and isinstance(place, dict):
            location = _point(place.get("location"))
            if location is not None:
                places.append(
                    {
                        "name": str(place.get("name") or _place_kind(place))[:100],
                        "lat": location[0],
                        "lon": location[1],
                        "start": _clock(segment.get("startTime")),
                        "end": _clock(segment.get("endTime")),
                    }
                )
        for activity in _list(segment.get("activities")):
            if not isinstance(activity, dict) or not isinstance(activity.get("trackPoints"), list):
                continue
            points = [p for p in map(_point, activity["trackPoints"]) if p is not None]
            if len(points) >= 2:
                tracks.append(points)
    return {
        "recorded": has_data(day),
        "steps": steps_of(day),
        "distance_m": round(distance, 1),
        "places": places,
        "tracks": _thin(tracks),
    }


def _place_kind(place: dict[str, Any]) -> str:
    kind = place.get("type")
    return {"home": "Home", "work": "Work", "school": "School"}.get(str(kind), "Unnamed place")


def store_recent_days(member: MovesMember, days: list[dict[str, Any]]) -> None:
    """Replace the member's recent-day maps with those of ``days`` (storyline days) in one transaction."""
    rows = [RecentDay(moves_member=member, date=parse_day(day.get("date")), **day_map(day)) for day in days]
    with transaction.atomic():
        RecentDay.objects.filter(moves_member=member).delete()
        RecentDay.objects.bulk_create(rows)
