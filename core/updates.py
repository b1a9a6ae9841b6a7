"""A member pressing *Update now* (or *Try again now*): what happens, in one place.

A press while an update is queued or running asks for nothing and spends
nothing; a failing or retrying member is tried again at once; otherwise the
hourly allowance is claimed and the recent weeks are fetched again, ahead
of any backfill. Claims are conditional UPDATEs (``core.models``), so two
tabs pressing at once cannot both pass.
"""

from enum import Enum

from core import jobs
from core.models import MovesMember


class Asked(Enum):
    NOT_CONNECTED = "not connected"
    SIGN_IN_AGAIN = "open humans access ended"
    ALREADY_UNDER_WAY = "already under way"
    RETRYING_NOW = "retrying now"
    UPDATE_QUEUED = "update queued"
    TOO_SOON = "too soon"


def ask_for_update(moves: MovesMember | None) -> Asked:
    if moves is None or not moves.is_connected:
        return Asked.NOT_CONNECTED
    if moves.member.needs_reconnect:
        # Nothing could be uploaded: asking would spend the allowance for nothing.
        return Asked.SIGN_IN_AGAIN
    if moves.status in (MovesMember.Status.RETRYING, MovesMember.Status.FAILING):
        if moves.retry_now():
            jobs.wake_dispatcher()
            return Asked.RETRYING_NOW
        return Asked.TOO_SOON
    if moves.is_queued or moves.is_running:
        return Asked.ALREADY_UNDER_WAY
    if moves.claim_manual_update():
        jobs.wake_dispatcher()
        return Asked.UPDATE_QUEUED
    moves.refresh_from_db()
    return Asked.ALREADY_UNDER_WAY if moves.is_queued or moves.is_running else Asked.TOO_SOON
