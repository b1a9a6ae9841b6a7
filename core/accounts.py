"""Joining, connecting, leaving: the services behind sign-in, Connect Moves, Disconnect and the webhook.

Views, commands and the admin call these; they call the models' transitions
and the upstream clients, and queue work for the worker by name
(``core.jobs``).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from apiclients.errors import OPEN_HUMANS, UpstreamError
from apiclients.oauth import TokenGrant
from apiclients.openhumans import ExchangeMember, OpenHumansClient, RemoteFile
from core import jobs
from core.models import MovesMember
from core.source import own_source
from open_humans.models import OpenHumansMember

log = logging.getLogger(__name__)


def sign_in(grant: TokenGrant, remote: ExchangeMember) -> OpenHumansMember:
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
        member.signed_in(grant, remote.username)
        moves = MovesMember.objects.filter(member=member).first()
        if moves is not None and moves.is_queued:
            # Uploads were blocked while access was gone; pick them up now.
            jobs.wake_dispatcher()
    return member


def connect_moves(oh_member: OpenHumansMember, grant: TokenGrant) -> MovesMember:
    """Store a completed Moves connection and have the worker start on it.

    Raises ``core.models.DifferentMovesAccount`` (storing nothing) when the
    account is not the one whose history the member already holds.
    """
    with transaction.atomic():
        moves = MovesMember.connect(oh_member, grant)
        jobs.wake_dispatcher()
    return moves


@dataclass(frozen=True)
class DisconnectResult:
    removed_connection: bool
    deleted_file_ids: list[int] = field(default_factory=list)
    file_error: str = ""


def disconnect_moves(oh_member: OpenHumansMember) -> DisconnectResult:
    """Forget the Moves connection and delete the project's Moves file on Open Humans.

    Our copy of the tokens and the summaries goes first and always: a person
    who asks to disconnect must not stay connected because Open Humans was
    down. The row goes before the file so that a run starting meanwhile
    finds nothing to do (a run already uploading deletes its own new file
    when it finds the row gone). Only the project's own files are deleted,
    never another project's file of the same name. If deleting fails, the
    result says why and the person can try again.
    """
    with transaction.atomic():
        removed, _ = MovesMember.objects.filter(member=oh_member).delete()
        jobs.discard_local_history(oh_member.oh_id)
    try:
        token = oh_member.usable_access_token()
        client = OpenHumansClient()
        remote = client.exchange_member(token, own_source(token, client))
        deleted: list[int] = []
        for remote_file in our_files(remote):
            deleted += client.delete_file(token, oh_member.oh_id, remote_file.id)
    except UpstreamError as exc:
        log.warning("Deleting the Moves file of member %s failed: %s", oh_member.oh_id, exc)
        return DisconnectResult(bool(removed), file_error=plain_reason(exc))
    return DisconnectResult(bool(removed), deleted)


def our_files(remote: ExchangeMember) -> list[RemoteFile]:
    """The member's Moves files of this project (by name, among the project's own files)."""
    return [remote_file for remote_file in remote.files if remote_file.basename == settings.MOVES_FILE_NAME]


def current_file(remote: ExchangeMember, file_id: int | None) -> RemoteFile | None:
    """Our file among the member's: the one the database knows, else the newest of ours."""
    ours = our_files(remote)
    for remote_file in ours:
        if remote_file.id == file_id:
            return remote_file
    return max(ours, key=lambda remote_file: remote_file.id, default=None)


def download_url(oh_member: OpenHumansMember) -> str | None:
    """A new signed link to the member's Moves file (links expire, so none is stored)."""
    moves = MovesMember.objects.filter(member=oh_member).first()
    token = oh_member.usable_access_token()
    client = OpenHumansClient()
    found = current_file(
        client.exchange_member(token, own_source(token, client)), moves.file_id if moves else None
    )
    return found.download_url if found else None


@dataclass(frozen=True)
class Departure:
    project_member_id: str
    erasure_requested: bool
    sent_at: datetime | None


def member_left(event: Departure) -> str:
    """Open Humans says the member left the project: drop their tokens, and their data when asked.

    By then their tokens are revoked, so nothing here can reach Open Humans
    on their behalf: the uploaded file stays in their account (they can
    delete it there, and Open Humans erases it when asked to). A departure
    sent before the member's latest sign-in is stale (a replay, or a late
    delivery) and changes nothing. Returns a short word for the log.
    """
    with transaction.atomic():
        member = OpenHumansMember.objects.select_for_update().filter(oh_id=event.project_member_id).first()
        if member is None:
            return "unknown"
        if (
            event.sent_at is not None
            and member.signed_in_at is not None
            and event.sent_at < member.signed_in_at
        ):
            return "stale"
        jobs.discard_local_history(event.project_member_id)
        if event.erasure_requested:
            # The user row owns the member, its Moves connection and day
            # summaries (all cascade), and its sessions stop working with it.
            get_user_model().objects.filter(pk=member.user_id).delete()
            log.info("Erased member %s after deauthorisation", event.project_member_id)
            return "erased"
        if not member.has_tokens and member.needs_reconnect:
            return "already-forgotten"
        member.access_ended()
        moves = MovesMember.objects.filter(member=member).first()
        if moves is not None:
            moves.forget_tokens("You left the project on Open Humans.")
    log.info("Removed tokens of member %s after deauthorisation", event.project_member_id)
    return "tokens-removed"


def plain_reason(exc: UpstreamError) -> str:
    """An Open Humans failure in words for the person who clicked, with what to do next."""
    from apiclients.errors import InvalidGrant

    if isinstance(exc, InvalidGrant):
        return (
            "Open Humans no longer accepts our access to your account; sign in with Open Humans again first."
        )
    if exc.temporary:
        return f"{exc.service or OPEN_HUMANS} is not answering right now; please try again in a few minutes."
    return f"{exc.service or OPEN_HUMANS} refused the request ({exc.message})."
