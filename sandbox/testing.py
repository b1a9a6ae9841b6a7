"""Helpers for tests (anywhere in the project) that talk to the sandbox.

    from sandbox import testing
    testing.point_app_at_sandbox(settings, sandbox_server.url)
    user = testing.create_moves_user("alice", first_date=date(2020, 1, 6), days=30)
    access, refresh = testing.issue_moves_tokens(user)
    member = testing.create_oh_member("alice")
    oh_access, oh_refresh = testing.issue_oh_tokens(member)
    testing.add_fault("moves.storyline", status=503, count=2)
    testing.rename_place(user, testing.places(user)[0].id, "Lore")
    sent = testing.flush_notifications()

Changes of a storyline (``change_time_zone``, ``go_offline``/``sync_phone``,
``add_day``, ``edit_day``, ``rename_place``) queue notifications for the
app; ``flush_notifications`` sends whatever waits, at once, and returns the
deliveries. ``capture_deliveries`` stands in for the app's receiver.
"""

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings

from sandbox import accounts, faults, limits, outbox, storage, storyline, synthetic
from sandbox.accounts import create_moves_user
from sandbox.models import (
    Delivery,
    Fault,
    MovesToken,
    OHToken,
    SandboxFile,
    SandboxMessage,
    SandboxMovesUser,
    SandboxOHMember,
)
from sandbox.moves_views import TOKEN_EXPIRES_IN as MOVES_EXPIRES_IN
from sandbox.oauth import issue_token
from sandbox.openhumans_views import SCOPE as OH_SCOPE
from sandbox.openhumans_views import TOKEN_EXPIRES_IN as OH_EXPIRES_IN

__all__ = [
    "add_day",
    "add_fault",
    "capture_deliveries",
    "change_time_zone",
    "clear_faults",
    "create_moves_user",
    "create_oh_member",
    "deliveries",
    "drop_notifications",
    "edit_day",
    "flush_notifications",
    "go_offline",
    "issue_moves_tokens",
    "issue_oh_tokens",
    "member_leaves",
    "messages_for",
    "places",
    "point_app_at_sandbox",
    "read_file_bytes",
    "rename_place",
    "replace_file_bytes",
    "reset_rate_limits",
    "revoke_moves_tokens",
    "share_other_source",
    "stored_files",
    "storyline_days",
    "sync_phone",
]


def point_app_at_sandbox(settings_obj, base_url: str) -> None:
    """Send the app's Moves and Open Humans calls to the sandbox served at the root of ``base_url``.

    ``settings_obj`` is pytest-django's ``settings`` fixture (or anything that
    takes attribute assignment the same way). Only the three base URLs differ
    from production.
    """
    base = base_url.rstrip("/")
    settings_obj.MOVES_API_BASE_URL = base + "/api/1.1"
    settings_obj.MOVES_OAUTH_BASE_URL = base + "/oauth/v1"
    settings_obj.OH_BASE_URL = base


# --- Moves ----------------------------------------------------------------------------------


def issue_moves_tokens(
    user: SandboxMovesUser, expires_in: int = MOVES_EXPIRES_IN, client_id: str | None = None, age: float = 0
) -> tuple[str, str]:
    """A fresh (access, refresh) pair for ``user``, as if it had gone through OAuth.

    A negative ``expires_in`` gives an already expired access token; ``age``
    (seconds) backdates the issue, e.g. past the hour of doubled rate limits.
    """
    pair = issue_token(
        MovesToken,
        timedelta(seconds=expires_in),
        user=user,
        client_id=client_id or settings.MOVES_CLIENT_ID,
        scope="activity location",
    )
    if age:
        MovesToken.objects.filter(pk=pair.pk).update(created=pair.created - timedelta(seconds=age))
    return pair.access_token, pair.refresh_token


def revoke_moves_tokens(user: SandboxMovesUser) -> int:
    """The user disconnects the app in Moves: every token pair of theirs stops working."""
    return accounts.revoke_moves_access(user)


def storyline_days(
    user: SandboxMovesUser, first: date, last: date, track_points: bool = True, today: date | None = None
) -> list[dict]:
    """Exactly the day objects the storyline endpoint answers for ``first``..``last`` (up to ``today``)."""
    user.refresh_from_db()
    today = today or storyline.today_of(user)
    wanted = [day for day in synthetic.date_range(first, last) if user.first_date <= day <= today]
    return storyline.days(user, wanted, track_points)


def change_time_zone(user: SandboxMovesUser, zone: str) -> None:
    """The person travels: their profile's currentTimeZone is ``zone`` and every day is cut by it."""
    storyline.change_time_zone(user, zone)


def go_offline(user: SandboxMovesUser, days: int):
    """The phone uploaded nothing for ``days`` days: they answer without data until ``sync_phone``."""
    since = storyline.go_offline(user, days)
    user.refresh_from_db()
    return since


def sync_phone(user: SandboxMovesUser) -> dict | None:
    """The phone uploads what it recorded offline; returns the queued notification update."""
    change = storyline.sync(user)
    user.refresh_from_db()
    return change.update


def add_day(user: SandboxMovesUser) -> dict | None:
    """One more day of a finished history, uploaded now; returns the queued notification update."""
    change = storyline.add_day(user)
    user.refresh_from_db()
    return change.update


def edit_day(user: SandboxMovesUser, day: date) -> dict | None:
    """The person corrects an activity of ``day``; returns the queued notification update."""
    return storyline.edit_day(user, day).update


def places(user: SandboxMovesUser) -> list[synthetic.Place]:
    """The places of the user's life (home first, then work, ...)."""
    return list(synthetic.persona(user.moves_id, user.city).places)


def rename_place(user: SandboxMovesUser, place_id: int, name: str) -> dict | None:
    """The person (re)names a place; returns the queued notification update."""
    return storyline.rename_place(user, place_id, name).update


# --- Notifications and webhooks ------------------------------------------------------------


def flush_notifications() -> list[Delivery]:
    """Send every waiting notification and webhook now, whatever the batch period; returns the deliveries."""
    return outbox.send_due(everything=True)


def drop_notifications(count: int) -> None:
    """Lose the next ``count`` notification POSTs."""
    outbox.drop_next(count)


def deliveries(kind: str | None = None) -> list[Delivery]:
    found = Delivery.objects.order_by("id")
    return list(found.filter(kind=kind) if kind else found)


@dataclass
class Captured:
    """What ``capture_deliveries`` saw: (url, body, headers) of every POST, in order."""

    posts: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)


@contextlib.contextmanager
def capture_deliveries(answer: int | Callable[[str, bytes, dict], int] = 200) -> Iterator[Captured]:
    """Answer the stand-ins' POSTs to the app here instead of over HTTP.

    ``answer`` is the status to reply, or a function of (url, body, headers) returning it.
    """
    captured = Captured()
    previous = outbox.transport

    def receive(url: str, body: bytes, headers: dict[str, str], timeout: float, follow: bool):
        captured.posts.append((url, body, dict(headers)))
        return (answer(url, body, headers) if callable(answer) else answer), ""

    outbox.transport = receive
    try:
        yield captured
    finally:
        outbox.transport = previous


# --- Open Humans ------------------------------------------------------------------------------


def create_oh_member(username: str, share_username: bool = True) -> SandboxOHMember:
    """The sandbox member called ``username``, created if needed, in the project."""
    return accounts.oh_member_named(username, share_username=share_username)


def issue_oh_tokens(
    member: SandboxOHMember, expires_in: int = OH_EXPIRES_IN, client_id: str | None = None
) -> tuple[str, str]:
    """A fresh (access, refresh) pair for ``member``; negative ``expires_in`` means expired."""
    pair = issue_token(
        OHToken,
        timedelta(seconds=expires_in),
        member=member,
        client_id=client_id or settings.OH_CLIENT_ID,
        scope=OH_SCOPE,
    )
    return pair.access_token, pair.refresh_token


def member_leaves(
    member: SandboxOHMember, erasure_requested: bool = False, remove_files: bool = False
) -> int:
    """The member leaves the project: tokens revoked, deauthorisation webhook queued."""
    return accounts.leave_project(member, erasure_requested, remove_files)


def share_other_source(member: SandboxOHMember, on: bool = True) -> SandboxFile | None:
    """The member shares project 128's data (a file also called moves-storyline-data.json) with ours."""
    return accounts.share_other_source(member, on)


def stored_files(member: SandboxOHMember, include_incomplete: bool = False) -> list[SandboxFile]:
    """The member's files of this project, oldest first; only completed ones unless asked otherwise."""
    files = SandboxFile.objects.filter(member=member, source=accounts.SOURCE)
    if not include_incomplete:
        files = files.filter(completed_at__isnull=False)
    return list(files.order_by("id"))


def read_file_bytes(file: SandboxFile) -> bytes:
    return storage.path_for(file).read_bytes()


def replace_file_bytes(file: SandboxFile, data: bytes) -> None:
    """Change a stored file's bytes behind the API's back (a damaged or foreign file)."""
    storage.store_bytes(file, data)


def messages_for(member: SandboxOHMember) -> list[SandboxMessage]:
    return list(SandboxMessage.objects.filter(member=member).order_by("id"))


# --- Faults and limits -------------------------------------------------------------------------


def add_fault(
    endpoint: str,
    status: int | None = None,
    count: int = 1,
    delay: float = 0,
    malformed: bool = False,
    nested: bool = False,
    oversized: int | None = None,
    retry_after: str = "",
) -> Fault:
    """Make the next ``count`` calls of ``endpoint`` (e.g. "moves.storyline") misbehave.

    ``nested`` and ``oversized`` (bytes) replace the body of the real answer,
    whose status and headers stay; ``retry_after`` adds that header as given.
    """
    return faults.add(
        endpoint,
        status=status,
        count=count,
        delay=delay,
        malformed=malformed,
        nested=nested,
        oversized=oversized,
        retry_after=retry_after,
    )


def clear_faults() -> None:
    Fault.objects.all().delete()


def reset_rate_limits() -> None:
    limits.reset()
