"""Reading and verifying the two webhooks we receive: Open Humans' deauthorisation, Moves' notifications.

Only the checks that belong to HTTP live here (signatures, timestamps,
body shapes); what a delivery changes is the core's (``core.accounts``,
``core.changes``). Both are safe to replay: a delivery already acted on is
recognised by its digest (``core.deliveries``) and answered 200 without
acting again, and a deauthorisation sent before the member's latest sign-in
changes nothing.
"""

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from apiclients.dates import parse_time
from core.accounts import Departure
from core.changes import Span

log = logging.getLogger(__name__)

OH_SIGNATURE_HEADER = "HTTP_X_OPENHUMANS_WEBHOOKS_SIGNATURE"
MOVES_SIGNATURE_HEADER = "HTTP_X_MOVES_SIGNATURE"
MOVES_TIMESTAMP_HEADER = "HTTP_X_MOVES_TIMESTAMP"
MOVES_NONCE_HEADER = "HTTP_X_MOVES_NONCE"
# A notification names a user and a few spans; nothing legitimate comes near this.
MAX_BODY_BYTES = 64 * 1024
MAX_SPANS = 1000


class BadDelivery(Exception):
    """A delivery we refuse; ``status`` is the HTTP answer and the message its plain reason."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        super().__init__(reason)


# --- Open Humans: a member left the project -----------------------------------------


def oh_signature_is_valid(body: bytes, header: str | None, secret: str) -> bool:
    """Check ``sha1=<hex HMAC-SHA1 of body>`` against the shared secret, in constant time.

    Without a secret every request is refused: an unsigned webhook would let
    anyone on the internet delete members. (Open Humans' unsigned,
    double-encoded second attempt is therefore refused too; its signed first
    attempt is answered 2xx whenever it is well formed.)
    """
    if not secret or not header or not header.startswith("sha1="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected.encode(), header.removeprefix("sha1=").strip().lower().encode())


def parse_departure(body: bytes) -> Departure:
    """Read the deauthorisation body, plain JSON or the double-encoded form."""
    try:
        payload = json.loads(body)
        if isinstance(payload, str):
            payload = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadDelivery(400, "body is not JSON") from None
    if not isinstance(payload, dict):
        raise BadDelivery(400, "body is not an object")
    member_id = payload.get("project_member_id")
    if (
        not isinstance(member_id, str | int)
        or isinstance(member_id, bool)
        or not str(member_id).strip().isdigit()
    ):
        raise BadDelivery(400, "project_member_id is missing or not a member id")
    return Departure(
        project_member_id=str(member_id).strip(),
        erasure_requested=payload.get("erasure_requested") is True,
        sent_at=_iso_time(payload.get("timestamp")),
    )


def departure_digest(event: Departure) -> tuple[str, ...]:
    sent = event.sent_at.isoformat() if event.sent_at else ""
    return (event.project_member_id, str(event.erasure_requested), sent)


def _iso_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


# --- Moves: a user's storyline changed -----------------------------------------------


@dataclass(frozen=True)
class Notification:
    user_id: int
    spans: list[Span]
    reasons: list[str]


def moves_signature_is_valid(body: bytes, timestamp: str, nonce: str, signature: str, secret: str) -> bool:
    """Base64 of HMAC-SHA1 (keyed with the client secret) over body + timestamp + nonce, in constant time."""
    if not secret or not signature:
        return False
    expected = hmac.new(secret.encode(), body + timestamp.encode() + nonce.encode(), hashlib.sha1).digest()
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(expected, given)


def check_moves_headers(
    meta: dict[str, str], max_age: float, now: float | None = None
) -> tuple[str, str, str]:
    """The signature, timestamp and nonce headers, or BadDelivery when missing or stale."""
    signature = meta.get(MOVES_SIGNATURE_HEADER, "")
    timestamp = meta.get(MOVES_TIMESTAMP_HEADER, "")
    nonce = meta.get(MOVES_NONCE_HEADER, "")
    if not signature or not timestamp or not nonce or len(nonce) > 200:
        raise BadDelivery(403, "signature, timestamp or nonce header missing")
    try:
        sent = int(timestamp)
    except ValueError:
        raise BadDelivery(403, "timestamp is not a number") from None
    if abs((now if now is not None else time.time()) - sent) > max_age:
        raise BadDelivery(403, "timestamp too old or in the future")
    return signature, timestamp, nonce


def parse_notification(body: bytes) -> Notification:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadDelivery(400, "body is not JSON") from None
    if not isinstance(payload, dict):
        raise BadDelivery(400, "body is not an object")
    user_id = payload.get("userId")
    updates = payload.get("storylineUpdates")
    if isinstance(user_id, bool) or not isinstance(user_id, int) or not 0 < user_id < 2**63:
        raise BadDelivery(400, "userId is missing or not a 64-bit number")
    if not isinstance(updates, list) or not updates or len(updates) > MAX_SPANS:
        raise BadDelivery(400, "storylineUpdates is missing, empty or too long")
    spans, reasons = [], []
    for update in updates:
        if not isinstance(update, dict):
            raise BadDelivery(400, "a storyline update is not an object")
        try:
            spans.append(Span(parse_time(update.get("startTime")), parse_time(update.get("endTime"))))
        except ValueError:
            raise BadDelivery(400, "a storyline update lacks a valid startTime or endTime") from None
        reasons.append(str(update.get("reason", ""))[:40])
    return Notification(user_id=user_id, spans=spans, reasons=reasons)
