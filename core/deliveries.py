"""Webhook deliveries remembered long enough that a replay is recognised and ignored.

A delivery is named by a digest of what makes it unique (Moves: its nonce;
Open Humans: member, erasure and timestamp). Senders are refused when their
timestamp is older than ``WEBHOOK_MAX_AGE_SECONDS``, and digests are kept
twice that long, so an old delivery is either too old or already known.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.models import WebhookDelivery


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def first_delivery(kind: str, delivery_digest: str) -> bool:
    """Record the delivery; False when it was recorded before (a replay)."""
    try:
        with transaction.atomic():
            WebhookDelivery.objects.create(kind=kind, digest=delivery_digest)
    except IntegrityError:
        return False
    return True


def forget_old_deliveries() -> int:
    cutoff = timezone.now() - timedelta(seconds=2 * settings.WEBHOOK_MAX_AGE_SECONDS)
    deleted, _ = WebhookDelivery.objects.filter(received__lt=cutoff).delete()
    return deleted
