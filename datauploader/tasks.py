"""Celery tasks. Thin: the work lives in ``datauploader.sync``."""

import logging

from celery import shared_task
from django.db import transaction

from apiclients.errors import TemporaryUpstreamError
from datauploader.sync import member_lock, sync_member
from main.models import MovesMember

log = logging.getLogger(__name__)
MAX_TEMPORARY_RETRIES = 5
MAX_DEFERRALS = 10


def enqueue_process_moves(oh_id: str, countdown: float | None = None) -> None:
    """Queue an update for the member once the current transaction commits."""
    transaction.on_commit(lambda: process_moves.apply_async(args=[oh_id], countdown=countdown))


@shared_task(bind=True, name="datauploader.process_moves", max_retries=MAX_TEMPORARY_RETRIES)
def process_moves(self, oh_id: str, deferrals: int = 0) -> None:
    member = MovesMember.objects.select_related("member").filter(member__oh_id=oh_id).first()
    if member is None or not member.refresh_token or member.status == MovesMember.Status.NEEDS_RECONNECT:
        log.warning("process_moves %s: no connected Moves member; nothing to do", oh_id)
        return
    lock = member_lock(oh_id)
    if not lock.acquire():
        if deferrals >= MAX_DEFERRALS:
            log.warning("process_moves %s: gave up after %d deferrals", oh_id, deferrals)
            return
        log.info("process_moves for %s deferred: another run holds the lock", oh_id)
        process_moves.apply_async(args=[oh_id], kwargs={"deferrals": deferrals + 1}, countdown=30)
        return
    try:
        result = sync_member(member)
    except TemporaryUpstreamError as exc:
        log.warning("process_moves %s: temporary upstream failure: %s", oh_id, exc)
        if self.request.retries >= MAX_TEMPORARY_RETRIES:
            member.status = MovesMember.Status.FAILING
            member.last_error = "Moves or Open Humans is not answering; we will try again later."
            member.save()
            return
        raise self.retry(countdown=min(600, 30 * 2**self.request.retries)) from exc
    finally:
        lock.release()
    if result.retry_after is not None:
        process_moves.apply_async(args=[oh_id], countdown=result.retry_after)
