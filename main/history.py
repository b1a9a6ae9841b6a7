"""The whole history on one page: a calendar of every day held, and the day chosen from it.

The calendar is read from the packed per-year summaries (``core.days``),
never from the file. A day's map comes from ``core.daydetail`` through the
day view (``dashboard/day/<date>.json``); the page itself carries only the
map of a recent day, which the database holds.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings

from core.calendar import member_today
from core.daydetail import recent_detail
from core.days import HAS_DATA, NO_DATA, NOT_FETCHED, DayFacts, as_number, calendar
from core.models import MovesMember, RecentDay

# Steps per day from which a day takes the next colour (levels 1 to 4).
STEP_LEVELS = (1, 2_000, 5_000, 10_000)
LEVEL_WORDS = ("no steps", "under 2,000 steps", "2,000 to 4,999", "5,000 to 9,999", "10,000 and more")
MONTH_SLOTS = 31


def steps_level(steps: int) -> int:
    """0 for no steps, then 1 to 4 by ``STEP_LEVELS``."""
    return sum(1 for floor in STEP_LEVELS if steps >= floor)


def long_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_date(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


@dataclass(frozen=True)
class CalendarDay:
    day: date
    # "data", "empty" (fetched, nothing recorded), "waiting" (not fetched yet)
    # or "outside" (before the history began, or after today).
    kind: str
    steps: int = 0

    @property
    def level(self) -> int:
        return steps_level(self.steps) if self.kind == "data" else 0

    @property
    def held(self) -> bool:
        return self.kind in ("data", "empty")

    @property
    def label(self) -> str:
        if self.kind == "data":
            return f"{short_date(self.day)}: {self.steps:,} steps"
        if self.kind == "empty":
            return f"{short_date(self.day)}: no data"
        if self.kind == "waiting":
            return f"{short_date(self.day)}: not fetched yet"
        return short_date(self.day)


@dataclass(frozen=True)
class CalendarMonth:
    name: str
    short: str
    # MONTH_SLOTS slots; None past the month's last day.
    days: list[CalendarDay | None]


@dataclass(frozen=True)
class CalendarYear:
    year: int
    months: list[CalendarMonth]
    days_with_data: int
    days_without: int
    days_waiting: int

    @property
    def summary(self) -> str:
        parts = [f"{self.days_with_data} days with data", f"{self.days_without} without"]
        if self.days_waiting:
            parts.append(f"{self.days_waiting} not fetched yet")
        return ", ".join(parts)


@dataclass(frozen=True)
class HistoryCalendar:
    years: list[CalendarYear]
    # Every day held in the file (with or without data), in order.
    held: list[date]
    last_with_data: date | None = None

    @property
    def first(self) -> date | None:
        return self.held[0] if self.held else None

    @property
    def last(self) -> date | None:
        return self.held[-1] if self.held else None

    @property
    def day_numbers(self) -> list[tuple[int, bool]]:
        """The columns' day numbers, and whether each is printed (a few, so a phone can read them)."""
        return [(number, number == 1 or number % 5 == 0) for number in range(1, MONTH_SLOTS + 1)]

    def neighbours(self, day: date) -> tuple[date | None, date | None]:
        """The held days just before and just after ``day``."""
        before = bisect_left(self.held, day)
        after = bisect_right(self.held, day)
        return (
            self.held[before - 1] if before > 0 else None,
            self.held[after] if after < len(self.held) else None,
        )

    def is_held(self, day: date) -> bool:
        found = bisect_left(self.held, day)
        return found < len(self.held) and self.held[found] == day


def _kind(fact: DayFacts | None, day: date, first: date, today: date) -> str:
    if fact is not None and fact.state == HAS_DATA:
        return "data"
    if fact is not None and fact.state == NO_DATA:
        return "empty"
    return "waiting" if first <= day <= today else "outside"


def history_calendar(moves: MovesMember) -> HistoryCalendar | None:
    """Every year of the member's history, month by month; None before anything is known."""
    facts_by_year = calendar(moves)
    facts = {
        fact.day: fact
        for year_facts in facts_by_year.values()
        for fact in year_facts
        if fact.state != NOT_FETCHED
    }
    today = member_today(moves.time_zone)
    starts = [day for day in (moves.first_date, min(facts, default=None)) if day is not None]
    if not starts:
        return None
    first = min(starts)
    last_year = max(today.year, max(facts).year if facts else today.year)
    years = []
    for year in range(first.year, last_year + 1):
        months = []
        counts = {"data": 0, "empty": 0, "waiting": 0, "outside": 0}
        for month in range(1, 13):
            start = date(year, month, 1)
            slots: list[CalendarDay | None] = []
            for number in range(MONTH_SLOTS):
                day = start + timedelta(days=number)
                if day.month != month:
                    slots.append(None)
                    continue
                fact = facts.get(day)
                kind = _kind(fact, day, first, today)
                counts[kind] += 1
                slots.append(CalendarDay(day, kind, fact.steps if fact else 0))
            months.append(CalendarMonth(f"{start:%B}", f"{start:%b}", slots))
        years.append(CalendarYear(year, months, counts["data"], counts["empty"], counts["waiting"]))
    with_data = [day for day, fact in facts.items() if fact.state == HAS_DATA]
    return HistoryCalendar(years=years, held=sorted(facts), last_with_data=max(with_data, default=None))


# --- One day ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayView:
    """The day the page opens on, its neighbours, and its map when the database holds it."""

    selected: date | None
    first: date | None
    last: date | None
    previous: date | None = None
    next: date | None = None
    payload: dict[str, Any] | None = None


def pick_day(held: HistoryCalendar | None, recent: list[RecentDay], requested: str | None) -> date | None:
    """The requested day when it is held; else the latest recent day; else the last day held."""
    if requested:
        try:
            wanted = date.fromisoformat(requested)
        except ValueError:
            wanted = None
        if wanted is not None and (
            (held is not None and held.is_held(wanted)) or any(row.date == wanted for row in recent)
        ):
            return wanted
    if recent:
        return recent[-1].date
    if held is None:
        return None
    return held.last_with_data or held.last


def day_view(
    moves: MovesMember, held: HistoryCalendar | None, recent: list[RecentDay], requested: str | None
) -> DayView | None:
    selected = pick_day(held, recent, requested)
    if selected is None:
        return None
    previous, following = held.neighbours(selected) if held is not None else (None, None)
    row = next((row for row in recent if row.date == selected), None)
    payload = day_payload(selected, recent_detail(row)) if row is not None else None
    return DayView(
        selected=selected,
        first=held.first if held is not None else recent[0].date,
        last=held.last if held is not None else recent[-1].date,
        previous=previous,
        next=following,
        payload=payload,
    )


def _clean_places(raw: Any) -> list[dict[str, Any]]:
    places = []
    for place in raw if isinstance(raw, list) else []:
        if not isinstance(place, dict):
            continue
        lat, lon = as_number(place.get("lat")), as_number(place.get("lon"))
        if lat is None or lon is None:
            continue
        places.append(
            {
                "name": str(place.get("name") or "Unnamed place")[:100],
                "lat": lat,
                "lon": lon,
                "start": str(place.get("start") or "")[:5],
                "end": str(place.get("end") or "")[:5],
            }
        )
    return places


def _clean_tracks(raw: Any) -> list[list[list[float]]]:
    tracks = []
    for track in raw if isinstance(raw, list) else []:
        if not isinstance(track, list):
            continue
        points = []
        for point in track:
            if isinstance(point, list | tuple) and len(point) >= 2:
                lat, lon = as_number(point[0]), as_number(point[1])
                if lat is not None and lon is not None:
                    points.append([lat, lon])
        if len(points) >= 2:
            tracks.append(points)
    return tracks


def day_payload(day: date, detail: dict[str, Any]) -> dict[str, Any]:
    """One day for the page's map and timeline: well-formed numbers and strings only.

    Place names are the member's own words: the page sets them as text,
    never as HTML.
    """
    places = _clean_places(detail.get("places"))
    tracks = _clean_tracks(detail.get("tracks"))
    steps = int(as_number(detail.get("steps")) or 0)
    distance_m = float(as_number(detail.get("distance_m")) or 0)
    return {
        "date": day.isoformat(),
        "title": long_date(day),
        # A map cached before days said whether they were recorded held data.
        "recorded": detail.get("recorded", True) is not False,
        "steps": steps,
        "distance_km": round(distance_m / 1000, 1),
        "places": places,
        "tracks": tracks,
        "start": tracks[0][0] if tracks else None,
        "end": tracks[-1][-1] if tracks else None,
        "tileUrl": settings.MAP_TILE_URL,
        "attribution": settings.MAP_TILE_ATTRIBUTION,
    }
