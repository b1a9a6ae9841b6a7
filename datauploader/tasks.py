"""Celery tasks. Thin: the work lives in ``datauploader.sync``."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction

from apiclients.errors import PermanentUpstreamError, TemporaryUpstreamError
from datauploader.sync import SyncResult, mark_failing, member_lock, release_member_lock, sync_member
from datauploader.worklog import discard_log
from main.models import MovesMember

log = logging.getLogger(__name__)
MAX_TEMPORARY_RETRIES = 5
MAX_DEFERRALS = 10
RESUME_AFTER_TIME_LIMIT_SECONDS = 5


def enqueue_process_moves(oh_id: str, countdown: float | None = None) -> None:
    """Queue an update for the member once the current transaction commits."""
    transaction.on_commit(lambda: process_moves.apply_async(args=[oh_id], countdown=countdown))


def enqueue_discard_local_history(oh_id: str) -> None:
    """Have the worker delete its copy of the member's history once the current transaction commits."""
    transaction.on_commit(lambda: discard_local_history.apply_async(args=[oh_id]))


@shared_task(bind=True, name="datauploader.process_moves", max_retries=MAX_TEMPORARY_RETRIES)
def process_moves(self, oh_id: str, deferrals: int = 0) -> None:
    member = MovesMember.objects.select_related("member").filter(member__oh_id=oh_id).first()
    if member is None or not member.refresh_token:
        log.warning("process_moves %s: no connected Moves member; nothing to do", oh_id)
        # The local history of a disconnected member is location data we no
        # longer have a reason to keep.
        discard_log(oh_id)
        return
    if member.status == MovesMember.Status.NEEDS_RECONNECT or member.member.needs_reconnect:
        log.warning("process_moves %s: the member must reconnect first; nothing to do", oh_id)
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
    except SoftTimeLimitExceeded:
        # Progress is committed week by week, so the next run loses nothing.
        log.warning("process_moves %s: hit the soft time limit; continuing in a new run", oh_id)
        result = SyncResult(retry_after=RESUME_AFTER_TIME_LIMIT_SECONDS)
    except PermanentUpstreamError as exc:
        log.error("process_moves %s: upstream refused a request: %s", oh_id, exc)
        mark_failing(member, "Moves or Open Humans refused a request.")
        return
    except TemporaryUpstreamError as exc:
        log.warning("process_moves %s: temporary upstream failure: %s", oh_id, exc)
        if self.request.retries >= MAX_TEMPORARY_RETRIES:
            mark_failing(member, "Moves or Open Humans is not answering.")
            return
        raise self.retry(countdown=min(600, 30 * 2**self.request.retries)) from exc
    finally:
        release_member_lock(lock, oh_id)
    if result.retry_after is not None:
        process_moves.apply_async(args=[oh_id], countdown=result.retry_after)


@shared_task(name="datauploader.queue_process_moves_batch")
def queue_process_moves_batch(oh_ids: list[str]) -> int:
    """Queue ``process_moves`` for each member of a batch sent by ``update_data``.

    ``update_data`` sends one message per batch so that scheduling every member
    takes seconds; this spreads a batch into one task per member, over one
    producer connection. Safe to run twice: a second ``process_moves`` for a
    member waits for the first one's lock and finds little left to fetch.
    """
    with process_moves.app.producer_or_acquire() as producer:
        for oh_id in oh_ids:
            process_moves.apply_async(args=[oh_id], producer=producer)
    return len(oh_ids)


@shared_task(name="datauploader.discard_local_history")
def discard_local_history(oh_id: str) -> None:
    """Delete the worker's copy of a member's history after they disconnected Moves or left.

    It is a precise record of where someone goes; once they have left there is
    no reason to keep it. The web process cannot reach the worker's disk, so
    the worker does this. A member who connected again meanwhile keeps theirs.
    """
    if MovesMember.objects.filter(member__oh_id=oh_id).exclude(refresh_token="").exists():
        return
    lock = member_lock(oh_id)
    if not lock.acquire():
        # A run is still working for them; it stops on finding them gone.
        discard_local_history.apply_async(args=[oh_id], countdown=60)
        return
    try:
        discard_log(oh_id)
    finally:
        release_member_lock(lock, oh_id)
