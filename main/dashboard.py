"""What the dashboard shows, computed from the database alone, and the actions it offers.

Rendering never calls Moves or Open Humans: progress, errors and the preview
all come from rows the worker keeps up to date. Only the actions a person
clicks (disconnect, download) talk to Open Humans.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.timesince import timeuntil

from apiclients.errors import InvalidGrant, UpstreamError
from apiclients.oauth import TokenGrant
from apiclients.openhumans import ExchangeMember, OpenHumansClient, RemoteFile
from datauploader.tasks import enqueue_discard_local_history
from main.models import MovesMember, RecentDay
from main.preview import as_number
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
WORKING_STATUSES = {MovesMember.Status.NEW, MovesMember.Status.BACKFILLING}


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
    if moves.status == MovesMember.Status.FAILING:
        reason = _clause(moves.last_error) or "an unknown error"
        return Problem(
            f"The last update did not finish: {reason}. The data already on Open Humans is safe, "
            "and we try again by ourselves.",
            "update",
        )
    return None


def _clause(error: str) -> str:
    """An error message made to fit inside a sentence: the worker writes them as whole sentences."""
    return error.strip().rstrip(".").strip()


def manual_update_allowed(moves: MovesMember | None) -> tuple[bool, datetime | None]:
    """Whether the update button works now, and if not because of the throttle, from when."""
    if moves is None or not moves.is_connected:
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
    }


# --- Actions ---------------------------------------------------------------


def claim_manual_update(moves: MovesMember) -> bool:
    """Record a manual update request if the member is allowed one now; True when recorded.

    The check and the write are one conditional UPDATE: two tabs, a double
    click or a scripted replay racing each other cannot both pass a
    read-then-write check, and only the request whose UPDATE changed the row
    may queue work.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.MANUAL_UPDATE_INTERVAL_SECONDS)
    claimed = (
        MovesMember.objects.filter(pk=moves.pk)
        .filter(Q(last_submitted__isnull=True) | Q(last_submitted__lt=cutoff))
        .update(last_submitted=now)
    )
    if claimed:
        moves.last_submitted = now
    return claimed == 1


def store_open_humans_member(grant: TokenGrant, remote: ExchangeMember) -> OpenHumansMember:
    """Create or update the user and member for a completed Open Humans sign-in."""
    with transaction.atomic():
        member = OpenHumansMember.objects.select_for_update().filter(oh_id=remote.project_member_id).first()
        if member is None:
            user, created = get_user_model().objects.get_or_create(username=f"oh-{remote.project_member_id}")
            if created:
                # Members sign in through Open Humans only.
                user.set_unusable_password()
                user.save(update_fields=["password"])
            member = OpenHumansMember(user=user, oh_id=remote.project_member_id)
        member.username = remote.username or ""
        member.message_permission = remote.message_permission
        member.store_tokens(grant.access_token, grant.refresh_token, grant.expires_in)
        member.save()
    return member


class DifferentMovesAccount(Exception):
    """The member approved a Moves account other than the one whose history they already hold."""

    def __init__(self, held_moves_id: int) -> None:
        self.held_moves_id = held_moves_id
        super().__init__(f"already holding the history of Moves user {held_moves_id}")


def store_moves_connection(oh_member: OpenHumansMember, grant: TokenGrant) -> MovesMember:
    """Keep the Moves tokens of a completed connection and start over from a clean status.

    Raises DifferentMovesAccount, storing nothing, when the approved account is
    not the one already connected: the sync merges new days into the existing
    file, and two people's days must never end up in one history.
    """
    with transaction.atomic():
        moves, _ = MovesMember.objects.select_for_update().get_or_create(member=oh_member)
        held = moves.moves_id
        if held is not None and grant.user_id is not None and held != grant.user_id:
            raise DifferentMovesAccount(held)
        moves.store_tokens(grant.access_token, grant.refresh_token, grant.expires_in)
        if grant.user_id is not None:
            moves.moves_id = grant.user_id
        moves.status = MovesMember.Status.NEW
        moves.last_error = ""
        moves.last_error_at = None
        moves.reconnect_notified = False
        moves.next_batch_at = None
        moves.save()
    return moves


def plain_reason(exc: UpstreamError) -> str:
    """An upstream failure in words for the person who clicked, with what to do next."""
    if isinstance(exc, InvalidGrant):
        return (
            "Open Humans no longer accepts our access to your account; sign in with Open Humans again first."
        )
    if exc.temporary:
        return "Open Humans is not answering right now; please try again in a few minutes."
    return f"Open Humans refused the request ({exc.message})."


@dataclass(frozen=True)
class DisconnectResult:
    removed_connection: bool
    deleted_file_ids: list[int]
    file_error: str = ""


def disconnect_moves(oh_member: OpenHumansMember) -> DisconnectResult:
    """Forget the Moves connection and delete the Moves file on Open Humans.

    Our copy of the tokens and preview goes first and always: a person who
    asks to disconnect must not stay connected because Open Humans was down.
    The row goes before the file so that a sync starting meanwhile finds
    nothing to do. If deleting the file fails, the result says why and the
    person can try again (this action works without a stored connection) or
    delete the file on Open Humans themselves.
    """
    removed, _ = MovesMember.objects.filter(member=oh_member).delete()
    enqueue_discard_local_history(oh_member.oh_id)
    try:
        token = oh_member.get_access_token()
        deleted = OpenHumansClient().delete_files_named(token, oh_member.oh_id, settings.MOVES_FILE_NAME)
    except UpstreamError as exc:
        logger.warning("Deleting the Moves file of member %s failed: %s", oh_member.oh_id, exc)
        return DisconnectResult(bool(removed), [], file_error=plain_reason(exc))
    return DisconnectResult(bool(removed), list(deleted))


def find_moves_file(files: list[RemoteFile], file_id: int | None) -> RemoteFile | None:
    """Our file among the member's files: the one the database knows, else the newest of our name."""
    ours = [remote for remote in files if remote.basename == settings.MOVES_FILE_NAME]
    for remote in ours:
        if file_id is not None and remote.id == file_id:
            return remote
    return max(ours, key=lambda remote: remote.id, default=None)


def fresh_download_url(oh_member: OpenHumansMember) -> str | None:
    """Ask Open Humans for a new signed link to the Moves file (links expire, so none is stored)."""
    moves = MovesMember.objects.filter(member=oh_member).first()
    remote = OpenHumansClient().exchange_member(oh_member.get_access_token())
    found = find_moves_file(remote.files, moves.file_id if moves else None)
    return found.download_url if found else None
