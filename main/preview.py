"""The dashboard's preview: a compact copy of a member's most recent days with data.

The full history lives on Open Humans and in the worker's local log; the
dashboard reads these rows so that rendering never waits on an upstream.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

from django.db import transaction

from main.models import MovesMember, RecentDay

PREVIEW_DAYS = 28
# How far back to look for the last day with data: Moves answers days after
# a member stopped recording as empty days up to today.
LOOKBACK_DAYS = 400
# A day's map needs its shape, not every fix: longer tracks are thinned.
MAX_TRACK_POINTS = 2000


def has_data(day: dict) -> bool:
    return bool(day.get("segments")) or bool(day.get("summary"))


def recent_positions(count: int, day_at: Callable[[int], dict]) -> range:
    """Positions of the ``PREVIEW_DAYS`` days ending at the last day with data.

    ``day_at(position)`` parses one day of a history of ``count`` days; only
    the days looked at are parsed.
    """
    last = count - 1
    for position in range(count - 1, max(count - 1 - LOOKBACK_DAYS, -1), -1):
        if has_data(day_at(position)):
            last = position
            break
    return range(max(last - PREVIEW_DAYS + 1, 0), last + 1)


def as_number(value: Any) -> float | None:
    """``value`` as a float when it is a JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _number(value: Any) -> float:
    return as_number(value) or 0.0


def _clock(moment: Any) -> str:
    # Moves times are local with an offset: yyyyMMdd'T'HHmmssZ.
    if isinstance(moment, str) and len(moment) >= 13 and moment[8] == "T":
        return f"{moment[9:11]}:{moment[11:13]}"
    return ""


def _point(point: Any) -> list[float] | None:
    if not isinstance(point, dict):
        return None
    lat, lon = as_number(point.get("lat")), as_number(point.get("lon"))
    if lat is None or lon is None:
        return None
    return [lat, lon]


def _thin(tracks: list[list[list[float]]]) -> list[list[list[float]]]:
    total = sum(len(track) for track in tracks)
    if total <= MAX_TRACK_POINTS:
        return tracks
    step = -(-total // MAX_TRACK_POINTS)
    # Keep each track's last point so that tracks still meet the places.
    return [track[::step] + ([track[-1]] if (len(track) - 1) % step else []) for track in tracks]


def day_summary(day: dict) -> dict[str, Any]:
    """Steps, distance, places and tracks of one storyline day, tolerant of missing parts."""
    summary = day.get("summary") if isinstance(day.get("summary"), list) else []
    segments = day.get("segments") if isinstance(day.get("segments"), list) else []
    steps = sum(_number(entry.get("steps")) for entry in summary if isinstance(entry, dict))
    distance = sum(_number(entry.get("distance")) for entry in summary if isinstance(entry, dict))
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
                        "name": str(place.get("name") or place.get("type") or "Place")[:100],
                        "lat": location[0],
                        "lon": location[1],
                        "start": _clock(segment.get("startTime")),
                        "end": _clock(segment.get("endTime")),
                    }
                )
        activities = segment.get("activities") if isinstance(segment.get("activities"), list) else []
        for activity in activities:
            if not isinstance(activity, dict) or not isinstance(activity.get("trackPoints"), list):
                continue
            points = [p for p in map(_point, activity["trackPoints"]) if p is not None]
            if len(points) >= 2:
                tracks.append(points)
    return {"steps": int(steps), "distance_m": round(distance, 1), "places": places, "tracks": _thin(tracks)}


def store_recent_days(member: MovesMember, days: list[tuple[date, dict]]) -> None:
    """Replace the member's preview with ``days`` (date, storyline day) in one transaction."""
    rows = [RecentDay(moves_member=member, date=when, **day_summary(day)) for when, day in days]
    with transaction.atomic():
        RecentDay.objects.filter(moves_member=member).delete()
        RecentDay.objects.bulk_create(rows)
