"""Helpers for tests elsewhere in the project that talk to the sandbox.

from sandbox import testing
user = testing.create_moves_user("alice", first_date=date(2020, 1, 6), days=30)
access, refresh = testing.issue_moves_tokens(user)
member = testing.create_oh_member("alice")
oh_access, oh_refresh = testing.issue_oh_tokens(member)
testing.add_fault("moves.storyline", status=503, count=2)
"""

from datetime import date, timedelta

from django.conf import settings

from sandbox import faults, ratelimit, storage, synthetic
from sandbox.accounts import create_moves_user, leave_project, oh_member_named, revoke_moves_access
from sandbox.models import (
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
    "add_fault",
    "clear_faults",
    "create_moves_user",
    "create_oh_member",
    "issue_moves_tokens",
    "issue_oh_tokens",
    "member_leaves",
    "messages_for",
    "point_app_at_sandbox",
    "read_file_bytes",
    "replace_file_bytes",
    "reset_rate_limits",
    "revoke_moves_tokens",
    "stored_files",
    "storyline_days",
]


def point_app_at_sandbox(settings_obj, base_url: str) -> None:
    """Send the app's Moves and Open Humans calls to the sandbox served at ``base_url``.

    ``settings_obj`` is pytest-django's ``settings`` fixture (or anything that
    takes attribute assignment the same way).
    """
    base = base_url.rstrip("/") + "/sandbox"
    settings_obj.MOVES_API_BASE_URL = base + "/moves/api/1.1"
    settings_obj.MOVES_OAUTH_BASE_URL = base + "/moves/oauth/v1"
    settings_obj.OH_BASE_URL = base + "/openhumans"


def issue_moves_tokens(
    user: SandboxMovesUser, expires_in: int = MOVES_EXPIRES_IN, client_id: str | None = None
) -> tuple[str, str]:
    """A fresh (access, refresh) pair for ``user``, as if it had gone through OAuth.

    A negative ``expires_in`` gives an already expired access token.
    """
    pair = issue_token(
        MovesToken,
        timedelta(seconds=expires_in),
        user=user,
        client_id=client_id or settings.MOVES_CLIENT_ID,
        scope="activity location",
    )
    return pair.access_token, pair.refresh_token


def revoke_moves_tokens(user: SandboxMovesUser) -> None:
    """The user disconnects the app in Moves: every token pair of theirs stops working."""
    revoke_moves_access(user)


def create_oh_member(
    username: str, message_permission: bool = True, share_username: bool = True
) -> SandboxOHMember:
    """The sandbox member called ``username``, created if needed, in the project."""
    return oh_member_named(username, message_permission=message_permission, share_username=share_username)


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


def member_leaves(member: SandboxOHMember) -> None:
    """The member leaves the project; their tokens stop working."""
    leave_project(member)


def stored_files(member: SandboxOHMember, include_incomplete: bool = False) -> list[SandboxFile]:
    """The member's files, oldest first; only completed ones unless asked otherwise."""
    files = SandboxFile.objects.filter(member=member)
    if not include_incomplete:
        files = files.filter(completed_at__isnull=False)
    return list(files.order_by("id"))


def read_file_bytes(file: SandboxFile) -> bytes:
    return storage.path_for(file).read_bytes()


def replace_file_bytes(file: SandboxFile, data: bytes) -> None:
    """Change a stored file's bytes behind the API's back (a damaged or foreign file)."""
    storage.path_for(file).write_bytes(data)


def messages_for(member: SandboxOHMember) -> list[SandboxMessage]:
    return list(SandboxMessage.objects.filter(member=member).order_by("id"))


def storyline_days(
    user: SandboxMovesUser, first: date, last: date, track_points: bool = True, today: date | None = None
) -> list[dict]:
    """Exactly the day objects the storyline endpoint answers for ``first``..``last``."""
    return synthetic.storyline(user, synthetic.date_range(first, last), track_points, today)


def add_fault(
    endpoint: str, status: int | None = None, count: int = 1, delay: float = 0, malformed: bool = False
) -> Fault:
    """Make the next ``count`` calls of ``endpoint`` (e.g. "moves.storyline") misbehave."""
    return faults.add(endpoint, status=status, count=count, delay=delay, malformed=malformed)


def clear_faults() -> None:
    Fault.objects.all().delete()


def reset_rate_limits() -> None:
    ratelimit.reset()
