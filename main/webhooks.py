"""The Open Humans deauthorisation webhook: check its signature, then forget the member.

Open Humans calls it when a member leaves the project. By then their tokens
are already revoked, so nothing here can reach Open Humans on their behalf:
the file we uploaded stays in their account (they can delete it there, and
Open Humans erases it itself when they asked for erasure).
"""

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from datauploader.tasks import enqueue_discard_local_history
from main.models import MovesMember
from open_humans.models import OpenHumansMember

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_X_OPENHUMANS_WEBHOOKS_SIGNATURE"


@dataclass(frozen=True)
class Deauthorization:
    project_member_id: str
    erasure_requested: bool


def signature_is_valid(body: bytes, header: str | None, secret: str) -> bool:
    """Check ``sha1=<hex HMAC-SHA1 of body>`` against the shared secret, in constant time.

    Without a secret every request is refused: an unsigned webhook would let
    anyone on the internet delete members.
    """
    if not secret or not header or not header.startswith("sha1="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected.encode(), header.removeprefix("sha1=").strip().lower().encode())


def parse_payload(body: bytes) -> Deauthorization | None:
    """Read the webhook body, plain JSON or the double-encoded form Open Humans retries with."""
    try:
        payload = json.loads(body)
        if isinstance(payload, str):
            payload = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    member_id = payload.get("project_member_id")
    if not isinstance(member_id, str | int) or isinstance(member_id, bool) or not str(member_id).strip():
        return None
    return Deauthorization(str(member_id).strip(), payload.get("erasure_requested") is True)


def forget_member(event: Deauthorization) -> str:
    """Remove the member's stored tokens, and everything about them when erasure was asked for.

    Safe to replay: Open Humans sends again when a reply is not 2xx, and a
    second delivery finds the tokens already gone (or the member already
    deleted) and changes nothing. Returns a short word for the log.
    """
    with transaction.atomic():
        member = OpenHumansMember.objects.select_for_update().filter(oh_id=event.project_member_id).first()
        if member is None:
            return "unknown"
        enqueue_discard_local_history(event.project_member_id)
        if event.erasure_requested:
            # The user row owns the member, its Moves connection and preview
            # days (all cascade), and its sessions stop working with it.
            get_user_model().objects.filter(pk=member.user_id).delete()
            logger.info("Erased member %s after deauthorisation", event.project_member_id)
            return "erased"
        if not member.access_token and not member.refresh_token:
            return "already-forgotten"
        member.access_token = ""
        member.refresh_token = ""
        member.token_expires = timezone.now()
        member.needs_reconnect = True
        member.save(
            update_fields=["access_token", "refresh_token", "token_expires", "needs_reconnect", "updated"]
        )
        MovesMember.objects.filter(member=member).update(
            access_token="",
            refresh_token="",
            token_expires=None,
            status=MovesMember.Status.NEEDS_RECONNECT,
            last_error="You left the project on Open Humans.",
            last_error_at=timezone.now(),
            next_batch_at=None,
            # Their Open Humans token is revoked: there is no way left to message them.
            reconnect_notified=True,
            updated=timezone.now(),
        )
    logger.info("Removed tokens of member %s after deauthorisation", event.project_member_id)
    return "tokens-removed"
