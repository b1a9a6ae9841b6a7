"""What the stand-ins send to the app: Moves storyline notifications, Open Humans' deauthorisation webhook.

Both are queued in the database by whatever caused them (a control-page
action, a testing helper) and sent off the request thread: by a daemon
thread of ``run_sandbox`` (``start_sender``), or synchronously by
``send_due(everything=True)`` in tests. Every attempt is recorded as a
``Delivery``.

Moves notifications follow its documentation: one POST per user batching
the updates queued within SANDBOX_NOTIFICATION_BATCH_SECONDS (scaled by
RATE_LIMIT_TIME_SCALE), only for users with a live authorisation of the
app's client (a token not revoked; an expired one still counts), signed
with X-Moves-Signature = Base64(HMAC-SHA1(client secret, body + timestamp +
nonce)); 3 seconds to answer 200, redirects not followed, failures
discarded (logged, never retried).

The deauthorisation webhook follows Open Humans' source
(``DataRequestProjectMember.deauth_webhook``): ``json.dumps`` of the
payload, ``X-OpenHumans-Webhooks-Signature: sha1=<hex HMAC>`` when a secret
is set, and if the reply is not 2xx one more POST of the same JSON encoded a
second time, unsigned.
"""

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

import requests
from django.conf import settings
from django.db import close_old_connections
from django.db.models import F, Min
from django.utils import timezone

from sandbox.models import Deauthorization, Delivery, MovesToken, SandboxMovesUser, StorylineUpdate, Switches

log = logging.getLogger("sandbox.outbox")

NOTIFICATION_TIMEOUT_SECONDS = 3.0
# Open Humans sets no timeout at all; the stand-in will not hang for ever.
WEBHOOK_TIMEOUT_SECONDS = 10.0

# (url, body, headers, timeout, follow redirects) -> (status or None, what went wrong)
Transport = Callable[[str, bytes, dict[str, str], float, bool], tuple[int | None, str]]


def http_post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, follow_redirects: bool
) -> tuple[int | None, str]:
    try:
        reply = requests.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=follow_redirects
        )
    except requests.Timeout:
        return None, "timeout"
    except requests.RequestException as exc:
        return None, f"failed: {exc.__class__.__name__}"
    return reply.status_code, ""


# Replaced by sandbox.testing.capture_deliveries() in tests without a receiver.
transport: Transport = http_post


def queue_storyline_update(user: SandboxMovesUser, update: dict) -> StorylineUpdate:
    return StorylineUpdate.objects.create(user=user, payload=update)


def queue_deauthorization(member, erasure_requested: bool, left_at: datetime) -> Deauthorization:
    return Deauthorization.objects.create(member=member, erasure_requested=erasure_requested, left_at=left_at)


def batch_seconds() -> float:
    return float(settings.SANDBOX_NOTIFICATION_BATCH_SECONDS) / float(settings.RATE_LIMIT_TIME_SCALE)


def drop_next(count: int) -> None:
    """Lose the next ``count`` notification POSTs (as if the network ate them)."""
    Switches.get()
    Switches.objects.filter(pk=1).update(drop_notifications=count)


def pending_counts() -> tuple[int, int]:
    return (
        StorylineUpdate.objects.filter(handled_at__isnull=True).count(),
        Deauthorization.objects.filter(handled_at__isnull=True).count(),
    )


def send_due(everything: bool = False) -> list[Delivery]:
    """Send what is due (or ``everything`` pending, at once); returns the deliveries made."""
    deliveries = []
    for pending in Deauthorization.objects.filter(handled_at__isnull=True).order_by("id"):
        # The conditional UPDATE is a claim: two senders never send the same webhook.
        if Deauthorization.objects.filter(pk=pending.pk, handled_at__isnull=True).update(
            handled_at=timezone.now()
        ):
            deliveries += _deauthorize(pending)
    cutoff = timezone.now().timestamp() - batch_seconds()
    waiting = (
        StorylineUpdate.objects.filter(handled_at__isnull=True)
        .values("user")
        .annotate(oldest=Min("created"))
        .order_by("oldest")
    )
    for row in waiting:
        if everything or row["oldest"].timestamp() <= cutoff:
            delivery = _notify(row["user"])
            if delivery is not None:
                deliveries.append(delivery)
    return deliveries


def _notify(user_id: int) -> Delivery | None:
    batch = uuid.uuid4().hex
    claimed = StorylineUpdate.objects.filter(user_id=user_id, handled_at__isnull=True).update(
        handled_at=timezone.now(), batch=batch
    )
    if not claimed:
        return None
    updates = list(StorylineUpdate.objects.filter(batch=batch).select_related("user").order_by("id"))
    user = updates[0].user
    body = json.dumps(
        {"userId": user.moves_id, "storylineUpdates": [u.payload for u in updates]}, separators=(",", ":")
    ).encode()
    url = settings.SANDBOX_MOVES_NOTIFICATION_URL
    kind = Delivery.Kind.MOVES_NOTIFICATION
    if not url:
        return _record(kind, "", {}, body, None, "no callback URL configured")
    live = MovesToken.objects.filter(user=user, client_id=settings.MOVES_CLIENT_ID, revoked_at__isnull=True)
    if not live.exists():
        return _record(kind, url, {}, body, None, "no live authorization")
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(8)
    headers = {
        "Content-Type": "application/json",
        "X-Moves-Signature": moves_signature(body, timestamp, nonce),
        "X-Moves-Timestamp": timestamp,
        "X-Moves-Nonce": nonce,
    }
    if Switches.objects.filter(pk=1, drop_notifications__gt=0).update(
        drop_notifications=F("drop_notifications") - 1
    ):
        return _record(kind, url, headers, body, None, "dropped")
    status, problem = transport(url, body, headers, NOTIFICATION_TIMEOUT_SECONDS, False)
    if status != 200:
        # Moves discards what it could not deliver.
        log.warning("Moves notification for user %s to %s failed: %s", user.moves_id, url, status or problem)
        problem = problem or f"answered {status}, discarded"
    return _record(kind, url, headers, body, status, problem)


def moves_signature(body: bytes, timestamp: str, nonce: str, secret: str | None = None) -> str:
    key = (settings.MOVES_CLIENT_SECRET if secret is None else secret).encode()
    digest = hmac.new(key, body + timestamp.encode() + nonce.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def webhook_signature(body: bytes, secret: str | None = None) -> str:
    key = (settings.OH_WEBHOOK_SECRET if secret is None else secret).encode()
    return "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()


def _deauthorize(pending: Deauthorization) -> list[Delivery]:
    url = settings.SANDBOX_OH_WEBHOOK_URL
    kind = Delivery.Kind.OH_DEAUTHORIZATION
    payload = {
        "project_member_id": pending.member.project_member_id,
        "erasure_requested": pending.erasure_requested,
        "timestamp": pending.left_at.isoformat(),
    }
    body = json.dumps(payload).encode("utf-8")
    if not url:
        return [_record(kind, "", {}, body, None, "no webhook URL configured")]
    headers = {"Content-Type": "application/json"}
    if settings.OH_WEBHOOK_SECRET:
        headers["X-OpenHumans-Webhooks-Signature"] = webhook_signature(body)
    # requests.post follows redirects by default; Open Humans does not change that.
    status, problem = transport(url, body, headers, WEBHOOK_TIMEOUT_SECONDS, True)
    first = _record(kind, url, headers, body, status, problem)
    if status is None or 200 <= status <= 299:
        # A connection error raises in Open Humans' code: there is no second attempt then.
        if status is None:
            log.warning("Deauthorisation webhook to %s failed: %s", url, problem)
        return [first]
    # "202007 legacy support: previously, JSON was accidentally double-encoded."
    again = json.dumps(body.decode("utf-8")).encode("utf-8")
    status, problem = transport(
        url, again, {"Content-Type": "application/json"}, WEBHOOK_TIMEOUT_SECONDS, True
    )
    if status is None or not 200 <= status <= 299:
        log.warning("Deauthorisation webhook to %s failed twice: %s", url, status or problem)
    return [first, _record(kind, url, {"Content-Type": "application/json"}, again, status, problem)]


def _record(kind: str, url: str, headers: dict, body: bytes, status: int | None, outcome: str) -> Delivery:
    return Delivery.objects.create(
        kind=kind, url=url, headers=headers, body=body.decode("utf-8"), status=status, outcome=outcome
    )


class Sender(threading.Thread):
    """Sends due notifications and webhooks every ``interval`` seconds until stopped."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="sandbox-outbox", daemon=True)
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                send_due()
            except Exception:
                log.exception("Sending notifications failed; trying again shortly")
            finally:
                close_old_connections()
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def start_sender(interval: float | None = None) -> Sender:
    """Start sending from a daemon thread (by default four times per batch period, at most every second)."""
    sender = Sender(interval or max(0.05, min(1.0, batch_seconds() / 4)))
    sender.start()
    return sender
