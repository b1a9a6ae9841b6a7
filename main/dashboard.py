"""What the dashboard shows, computed from the database alone.

Presentation only: rendering never calls Moves or Open Humans, and nothing
here changes state (the views call the core for that). Progress, errors
and the maps all come from rows the worker keeps up to date.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils.timesince import timeuntil

from core.days import as_number
from core.models import MovesMember, RecentDay
from open_humans.models import OpenHumansMember

logger = logging.getLogger(__name__)

# How many recent days the steps chart covers.
CHART_DAYS = 28
CHART_WIDTH = 640
CHART_HEIGHT = 220
CHART_MARGIN_LEFT = 48
CHART_MARGIN_BOTTOM = 24
CHART_MARGIN_TOP = 12

# Statuses during which the page refreshes its progress by itself.
WORKING_STATUSES = {MovesMember.Status.NEW, MovesMember.Status.BACKFILLING, MovesMember.Status.RETRYING}


@dataclass(frozen=True)
class Problem:
    """Something the person should know, in plain words, and what they can do about it."""

    message: str
    action: str  # "reconnect_moves", "reconnect_open_humans", "update" or ""


@dataclass(frozen=True)
class Bar:
    day: date
    steps: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class StepsChart:
    bars: list[Bar]
    max_steps: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    axis_x: int = CHART_MARGIN_LEFT
    axis_y: int = CHART_HEIGHT - CHART_MARGIN_BOTTOM
    top: int = CHART_MARGIN_TOP

    @property
    def summary(self) -> str:
        if not self.bars:
            return "No days yet."
        first, last = self.bars[0].day, self.bars[-1].day
        return (
            f"Steps per day from {first.day} {first:%B %Y} to {last.day} {last:%B %Y}; "
            f"the highest day had {self.max_steps:,} steps."
        )

    @property
    def max_label(self) -> str:
        return f"{self.max_steps:,}"


@dataclass
class Dashboard:
    oh_member: OpenHumansMember
    moves: MovesMember | None
    problem: Problem | None = None
    percent: int = 0
    update_allowed: bool = False
    next_update_at: datetime | None = None
    days: list[date] = field(default_factory=list)
    selected_day: date | None = None
    chart: StepsChart | None = None
    map_data: dict[str, Any] | None = None

    @property
    def working(self) -> bool:
        return self.moves is not None and self.moves.status in WORKING_STATUSES

    @property
    def wait_text(self) -> str:
        return timeuntil(self.next_update_at) if self.next_update_at else ""


def progress_percent(moves: MovesMember) -> int:
    if moves.weeks_total <= 0:
        return 100 if moves.status == MovesMember.Status.CURRENT else 0
    return min(100, round(100 * moves.weeks_done / moves.weeks_total))


def find_problem(oh_member: OpenHumansMember, moves: MovesMember | None) -> Problem | None:
    if oh_member.needs_reconnect:
        return Problem(
            "Open Humans no longer accepts our access to your account, so new data cannot be "
            "uploaded. Sign in with Open Humans again to give access back.",
            "reconnect_open_humans",
        )
    if moves is None:
        return None
    if moves.status == MovesMember.Status.NEEDS_RECONNECT:
        # The worker's own words (last_error) are for operators; this is the
        # one thing the member can do about it.
        return Problem(
            "Moves no longer accepts our access to your account. "
            "Reconnect Moves to continue the updates; the data already on Open Humans stays.",
            "reconnect_moves",
        )
    if moves.status in (MovesMember.Status.RETRYING, MovesMember.Status.FAILING):
        reason = _clause(moves.last_error) or "something went wrong"
        safe = " The data already on Open Humans is safe." if moves.file_id else ""
        when = moves.next_try_at()
        next_try = f" We try again at {when:%H:%M} UTC (in {_until(when)})." if when else ""
        lead = "The last update did not finish" if moves.status == MovesMember.Status.FAILING else "A problem"
        return Problem(f"{lead}: {reason}.{safe}{next_try}", "update")
    return None


def _until(moment: datetime) -> str:
    text = timeuntil(moment)
    return "less than a minute" if text.startswith("0\xa0minutes") else text


def _clause(error: str) -> str:
    """An error message made to fit inside a sentence: the worker writes them as whole sentences."""
    return error.strip().rstrip(".").strip()


def manual_update_allowed(moves: MovesMember | None) -> tuple[bool, datetime | None]:
    """Whether the update button works now, and if not because of the throttle, from when."""
    if moves is None or not moves.is_connected or moves.is_queued or moves.is_running:
        return False, None
    next_at = moves.next_manual_update_at()
    return next_at is None, next_at


def pick_day(days: list[date], requested: str | None) -> date | None:
    if not days:
        return None
    if requested:
        try:
            wanted = date.fromisoformat(requested)
        except ValueError:
            wanted = None
        if wanted in days:
            return wanted
    return days[-1]


def steps_chart(rows: list[RecentDay]) -> StepsChart:
    rows = rows[-CHART_DAYS:]
    max_steps = max((row.steps for row in rows), default=0)
    plot_height = CHART_HEIGHT - CHART_MARGIN_BOTTOM - CHART_MARGIN_TOP
    plot_width = CHART_WIDTH - CHART_MARGIN_LEFT - 8
    slot = plot_width / max(len(rows), 1)
    bars = []
    for index, row in enumerate(rows):
        height = plot_height * row.steps / max_steps if max_steps else 0
        bars.append(
            Bar(
                day=row.date,
                steps=row.steps,
                x=round(CHART_MARGIN_LEFT + index * slot + slot * 0.1, 1),
                y=round(CHART_HEIGHT - CHART_MARGIN_BOTTOM - height, 1),
                width=round(slot * 0.8, 1),
                height=round(height, 1),
            )
        )
    return StepsChart(bars=bars, max_steps=max_steps)


def day_map_data(day: RecentDay) -> dict[str, Any]:
    """The places and tracks of one day, reduced to well-formed numbers and strings for the map."""
    places = []
    for place in day.places or []:
        if not isinstance(place, dict):
            continue
        lat, lon = as_number(place.get("lat")), as_number(place.get("lon"))
        if lat is None or lon is None:
            continue
        places.append(
            {
                "name": str(place.get("name") or "Place"),
                "lat": lat,
                "lon": lon,
                "start": str(place.get("start") or ""),
                "end": str(place.get("end") or ""),
            }
        )
    tracks = []
    for track in day.tracks or []:
        if not isinstance(track, list):
            continue
        points = []
        for point in track:
            if isinstance(point, list | tuple) and len(point) >= 2:
                lat, lon = as_number(point[0]), as_number(point[1])
                if lat is not None and lon is not None:
                    points.append([lat, lon])
        if points:
            tracks.append(points)
    return {
        "date": day.date.isoformat(),
        "places": places,
        "tracks": tracks,
        "tileUrl": settings.MAP_TILE_URL,
        "attribution": settings.MAP_TILE_ATTRIBUTION,
    }


def build_dashboard(oh_member: OpenHumansMember, requested_day: str | None = None) -> Dashboard:
    moves = MovesMember.objects.filter(member=oh_member).first()
    board = Dashboard(oh_member=oh_member, moves=moves, problem=find_problem(oh_member, moves))
    if moves is None:
        return board
    board.percent = progress_percent(moves)
    board.update_allowed, board.next_update_at = manual_update_allowed(moves)
    rows = list(moves.recent_days.order_by("date"))
    board.days = [row.date for row in rows]
    board.selected_day = pick_day(board.days, requested_day)
    if rows:
        board.chart = steps_chart(rows)
        selected = next(row for row in rows if row.date == board.selected_day)
        board.map_data = day_map_data(selected)
    return board


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def status_payload(oh_member: OpenHumansMember) -> dict[str, Any]:
    """The progress the dashboard polls while a backfill runs."""
    moves = MovesMember.objects.filter(member=oh_member).first()
    if moves is None:
        return {"connected": False, "status": None, "working": False}
    return {
        "connected": True,
        "status": moves.status,
        "status_label": moves.get_status_display(),
        "working": moves.status in WORKING_STATUSES,
        "weeks_done": moves.weeks_done,
        "weeks_total": moves.weeks_total,
        "percent": progress_percent(moves),
        "next_batch_at": _iso(moves.next_batch_at),
        "last_updated": _iso(moves.last_updated),
        "days_held": moves.days_held,
        "next_try_at": _iso(moves.next_try_at()),
        "queued": moves.is_queued or moves.is_running,
    }


def day_payload(day: date, detail: dict[str, Any]) -> dict[str, Any]:
    """A day's map data for the page's script, with the map tiles' settings."""
    return {
        "date": day.isoformat(),
        "steps": int(detail.get("steps") or 0),
        "distance_m": float(detail.get("distance_m") or 0),
        "places": detail.get("places") or [],
        "tracks": detail.get("tracks") or [],
        "tileUrl": settings.MAP_TILE_URL,
        "attribution": settings.MAP_TILE_ATTRIBUTION,
    }
