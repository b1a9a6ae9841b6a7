"""The map of any day of a member's history, however old.

Recent days are read from ``RecentDay`` rows. Older ones are read from the
member's own file on Open Humans, one day at a time: the calendar knows the
byte offset and length of every day in the file we uploaded, so the
server asks Open Humans for a fresh download link (one exchange-member call,
the link kept for ten minutes) and storage for just that byte range (about
30 KB for an ordinary day, instead of a 50 MB file). The result is cached
for a day, keyed by the file, so a new upload never serves a stale map.
"""

import json
from datetime import date
from typing import Any

from django.core.cache import cache

from apiclients.openhumans import OpenHumansClient
from core.accounts import download_url
from core.days import day_in_file, day_map
from core.models import MovesMember, RecentDay

LINK_SECONDS = 10 * 60
DAY_SECONDS = 24 * 3600


class DayNotHeld(Exception):
    """The member's file holds no such day (not fetched yet, or before their history)."""


def recent_detail(row: RecentDay) -> dict[str, Any]:
    """The same keys as ``day_map`` gives, from the database's copy of a recent day."""
    return {
        "recorded": row.recorded,
        "steps": row.steps,
        "distance_m": row.distance_m,
        "places": row.places,
        "tracks": row.tracks,
    }


def day_detail(moves: MovesMember, day: date) -> dict[str, Any]:
    """Steps, distance, places and tracks of ``day``; raises DayNotHeld, or an UpstreamError."""
    recent = RecentDay.objects.filter(moves_member=moves, date=day).first()
    if recent is not None:
        return recent_detail(recent)
    where = day_in_file(moves, day)
    if where is None or moves.file_id is None:
        raise DayNotHeld(day)
    key = f"day-map:{moves.pk}:{moves.file_id}:{day.isoformat()}"
    cached = cache.get(key)
    if cached is not None:
        return dict(cached)
    link_key = f"download-link:{moves.pk}:{moves.file_id}"
    link = cache.get(link_key)
    if link is None:
        link = download_url(moves.member)
        if link is None:
            raise DayNotHeld(day)
        cache.set(link_key, link, LINK_SECONDS)
    raw = OpenHumansClient().download_range(str(link), where.offset, where.offset + where.length - 1)
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        cache.delete(link_key)
        raise DayNotHeld(day) from None
    if not isinstance(parsed, dict):
        raise DayNotHeld(day)
    detail = day_map(parsed)
    cache.set(key, detail, DAY_SECONDS)
    return detail
