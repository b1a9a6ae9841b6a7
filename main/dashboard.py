"""What the dashboard says, computed from the database alone.

Presentation only: rendering never calls Moves or Open Humans, and nothing
here changes state (the views call the core for that). Every card is built
from the same ``MovesMember`` row, read once, so no two cards can disagree:
a card that speaks of the file on Open Humans says "kept" only when there
is a file, and the *Now* card names the service that failed from the first
failed attempt on.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.models import MovesMember
from main import history, steps_chart
from main.templatetags.moments import until_words
from open_humans.models import OpenHumansMember

Status = MovesMember.Status

# Statuses in which the member's history is still arriving.
WORKING_STATUSES = {Status.NEW, Status.BACKFILLING}
TROUBLE_STATUSES = {Status.RETRYING, Status.FAILING}
# How often the page asks for news: often while something is happening.
POLL_SECONDS_BUSY = 3
POLL_SECONDS_IDLE = 30


@dataclass(frozen=True)
class Progress:
    weeks_done: int
    weeks_total: int

    @property
    def percent(self) -> int:
        if self.weeks_total <= 0:
            return 0
        return min(100, round(100 * self.weeks_done / self.weeks_total))


@dataclass(frozen=True)
class UpdateButton:
    """*Update now* (or *Try again now*), and why it cannot be pressed when it cannot."""

    label: str
    enabled: bool
    reason: str = ""
    # With a throttle: when it can be pressed again.
    again_at: datetime | None = None


@dataclass(frozen=True)
class NowCard:
    """What is happening now, in one headline and a few plain sentences."""

    tone: str  # "ok", "working", "problem" or "idle"
    headline: str
    lines: tuple[str, ...] = ()
    # A time that matters next ("Next try", "Next batch") and what it is.
    when_label: str = ""
    when: datetime | None = None
    # For a failing member: how often we keep trying by ourselves.
    then_every: str = ""
    progress: Progress | None = None
    last_updated: datetime | None = None
    action: str = ""  # "connect_moves", "reconnect_moves", "reconnect_open_humans" or ""
    action_label: str = ""
    button: UpdateButton | None = None

    @property
    def when_passed(self) -> bool:
        return self.when is not None and self.when <= timezone.now()


@dataclass(frozen=True)
class FileCard:
    present: bool
    days: int = 0
    first_day: date | None = None
    last_day: date | None = None
    size: int | None = None
    uploaded_at: datetime | None = None
    note: str = ""


@dataclass
class Dashboard:
    oh_member: OpenHumansMember
    moves: MovesMember | None
    now: NowCard
    moves_connection: str
    file: FileCard | None = None
    calendar: history.HistoryCalendar | None = None
    chart: steps_chart.StepsChart | None = None
    day: history.DayView | None = None

    @property
    def status(self) -> str | None:
        return self.moves.status if self.moves else None


# --- Words ---------------------------------------------------------------------------------


def trouble_with(service: str) -> str:
    if service == "our servers":
        return "A problem on our servers"
    return f"A problem with {service}" if service else "A problem"


def duration_words(seconds: float) -> str:
    """A duration as people say it: "6 hours", "15 minutes", "less than a minute"."""
    now = timezone.now()
    return until_words(now + timedelta(seconds=seconds), now)


def file_note(moves: MovesMember) -> str:
    """What the file on Open Humans holds while something is wrong; never claims a file that is not there."""
    if moves.file_id and moves.days_held:
        return f"Your file on Open Humans is unchanged and keeps its {moves.days_held:,} days."
    if moves.file_id:
        return "Your file on Open Humans is unchanged."
    return "Nothing has reached Open Humans yet."


def moves_connection_words(moves: MovesMember | None, disconnected: bool) -> str:
    if moves is None:
        return "Disconnected" if disconnected else "Not connected yet"
    if moves.status == Status.NEEDS_RECONNECT or not moves.has_tokens:
        return "Needs reconnecting"
    return f"Connected (Moves user {moves.moves_id})" if moves.moves_id else "Connected"


# --- The cards -----------------------------------------------------------------------------


def update_button(moves: MovesMember) -> UpdateButton | None:
    """The state of *Update now*; None when an update cannot help (reconnect first).

    Mirrors ``core.updates.ask_for_update``: a press it would refuse is
    shown disabled, with the reason, so that it is never spent for nothing.
    """
    if not moves.is_connected or moves.member.needs_reconnect:
        return None
    trouble = moves.status in TROUBLE_STATUSES
    label = "Try again now" if trouble else "Update now"
    if moves.is_running:
        return UpdateButton(label, False, "Already updating: a batch is running now.")
    if not trouble and moves.is_queued:
        if moves.status in WORKING_STATUSES:
            reason = "Already updating: your history is still arriving."
        else:
            reason = "Already updating: your update starts as soon as it is our turn with Moves."
        return UpdateButton(label, False, reason)
    again_at = moves.next_manual_update_at()
    if again_at is not None:
        return UpdateButton(label, False, "You asked for an update recently.", again_at=again_at)
    return UpdateButton(label, True)


def now_card(oh_member: OpenHumansMember, moves: MovesMember | None, disconnected: bool = False) -> NowCard:
    if oh_member.needs_reconnect:
        return NowCard(
            "problem",
            "Sign in with Open Humans again",
            (
                "Open Humans no longer accepts our access to your account, so nothing new can be uploaded.",
                *((file_note(moves),) if moves else ()),
            ),
            action="reconnect_open_humans",
            action_label="Sign in with Open Humans again",
        )
    if moves is None:
        if disconnected:
            return NowCard(
                "idle",
                "Moves is disconnected",
                (
                    "We deleted your file from Open Humans and keep nothing of your Moves account.",
                    "You can connect Moves again at any time; your history is then fetched anew.",
                ),
                action="connect_moves",
                action_label="Connect Moves again",
            )
        return NowCard(
            "idle",
            "Connect your Moves account",
            (
                "Connect Moves and we copy your whole history into your Open Humans account, "
                "then keep it current.",
            ),
            action="connect_moves",
            action_label="Connect Moves",
        )
    status = moves.status
    button = update_button(moves)
    progress = Progress(moves.weeks_done, moves.weeks_total) if moves.weeks_total else None
    if status == Status.NEEDS_RECONNECT or not moves.has_tokens:
        return NowCard(
            "problem",
            "Reconnect Moves to continue",
            (
                "Moves no longer accepts our access to your account, so updates have stopped.",
                file_note(moves),
            ),
            action="reconnect_moves",
            action_label="Reconnect Moves",
        )
    if status == Status.RETRYING:
        return NowCard(
            "problem",
            f"{trouble_with(moves.error_service)}; trying again soon",
            (moves.last_error or "The last attempt failed.", file_note(moves)),
            when_label="Next try",
            when=moves.next_try_at(),
            progress=progress if moves.weeks_done < moves.weeks_total else None,
            button=button,
        )
    if status == Status.FAILING:
        failures = moves.failures
        tried = f"{failures} attempts in a row failed" if failures > 1 else "The attempt failed"
        every = settings.FAILING_RETRY_SECONDS / settings.RATE_LIMIT_TIME_SCALE
        return NowCard(
            "problem",
            f"{trouble_with(moves.error_service)}; updates are failing",
            (
                moves.last_error or "The last attempt failed.",
                f"{tried}, so we now try less often.",
                file_note(moves),
            ),
            when_label="Next automatic try",
            when=moves.next_try_at(),
            then_every=duration_words(every),
            progress=progress if moves.weeks_done < moves.weeks_total else None,
            button=button,
        )
    next_batch = moves.next_batch_at if moves.next_batch_at and moves.next_batch_at > timezone.now() else None
    if status == Status.NEW:
        return NowCard(
            "working",
            "Getting started",
            ("Moves is connected. We fetch your latest weeks first, then the rest of your history.",),
            when_label="First batch" if next_batch else "",
            when=next_batch,
            progress=progress,
            button=button,
        )
    if status == Status.BACKFILLING:
        return NowCard(
            "working",
            "Fetching your history",
            (
                "Moves allows only so many requests a minute, so your history arrives in batches; "
                "your file on Open Humans grows after each.",
            ),
            when_label="Next batch" if next_batch else "",
            when=next_batch,
            progress=progress,
            button=button,
        )
    if moves.is_queued or moves.is_running:
        return NowCard(
            "working",
            "Updating",
            ("Fetching your latest days from Moves.",),
            when_label="Next batch" if next_batch else "",
            when=next_batch,
            last_updated=moves.last_updated,
            button=button,
        )
    held = moves.last_day_held
    lines = (f"Your file holds every day up to {held:%A} {held.day} {held:%B %Y}.",) if held else ()
    return NowCard("ok", "Up to date", lines, last_updated=moves.last_updated, button=button)


def file_card(moves: MovesMember) -> FileCard:
    if moves.file_id:
        return FileCard(
            present=True,
            days=moves.days_held,
            first_day=moves.first_day_held,
            last_day=moves.last_day_held,
            size=moves.file_size,
            uploaded_at=moves.uploaded_at,
        )
    if moves.status in TROUBLE_STATUSES:
        note = "No file yet: it appears once the first weeks have been fetched, after the problem above."
    elif moves.status == Status.NEEDS_RECONNECT:
        note = "No file yet: it appears once Moves is reconnected and the first weeks are fetched."
    else:
        note = "No file yet: it appears after the first batch of weeks has been fetched."
    return FileCard(present=False, note=note)


def build_dashboard(
    oh_member: OpenHumansMember, requested_day: str | None = None, disconnected: bool = False
) -> Dashboard:
    moves = MovesMember.objects.select_related("member").filter(member=oh_member).first()
    board = Dashboard(
        oh_member=oh_member,
        moves=moves,
        now=now_card(oh_member, moves, disconnected),
        moves_connection=moves_connection_words(moves, disconnected),
    )
    if moves is None:
        return board
    board.file = file_card(moves)
    board.calendar = history.history_calendar(moves)
    recent = list(moves.recent_days.order_by("date"))
    if recent:
        board.chart = steps_chart.steps_chart(recent)
    board.day = history.day_view(moves, board.calendar, recent, requested_day)
    return board


def light_dashboard(oh_member: OpenHumansMember, disconnected: bool = False) -> Dashboard:
    """The cards the page polls for, without the calendar, chart and map (one small query)."""
    moves = MovesMember.objects.select_related("member").filter(member=oh_member).first()
    board = Dashboard(
        oh_member=oh_member,
        moves=moves,
        now=now_card(oh_member, moves, disconnected),
        moves_connection=moves_connection_words(moves, disconnected),
    )
    if moves is not None:
        board.file = file_card(moves)
    return board


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def history_version(moves: MovesMember | None) -> str:
    """Changes whenever the calendar or the chart may have changed, so the page knows to fetch them."""
    if moves is None:
        return ""
    return f"{moves.days_held}:{moves.weeks_done}:{_iso(moves.uploaded_at) or ''}:{moves.file_id or ''}"


def status_payload(board: Dashboard) -> dict[str, Any]:
    """The facts the page polls for (the view adds the cards, rendered by the same templates)."""
    moves = board.moves
    busy = moves is not None and (
        moves.status in WORKING_STATUSES | TROUBLE_STATUSES or moves.is_queued or moves.is_running
    )
    payload: dict[str, Any] = {
        "connected": moves is not None,
        "status": moves.status if moves else None,
        "headline": board.now.headline,
        "tone": board.now.tone,
        "history_version": history_version(moves),
        "poll_seconds": POLL_SECONDS_BUSY if busy else POLL_SECONDS_IDLE,
    }
    if moves is not None:
        payload.update(
            {
                "status_label": moves.get_status_display(),
                "weeks_done": moves.weeks_done,
                "weeks_total": moves.weeks_total,
                "days_held": moves.days_held,
                "next_batch_at": _iso(moves.next_batch_at),
                "next_try_at": _iso(moves.next_try_at()),
                "last_updated": _iso(moves.last_updated),
                "queued": moves.is_queued or moves.is_running,
                "update_allowed": bool(board.now.button and board.now.button.enabled),
            }
        )
    return payload
