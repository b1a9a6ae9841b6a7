"""Before a worker stops: upload what it fetched and has not uploaded yet.

During a backfill the file on Open Humans is replaced at most every
``UPLOAD_INTERVAL_SECONDS``, so a worker holds fetched weeks that Open Humans
has not seen yet. On Heroku a worker's disk is emptied on every restart
(daily, and on every deploy), so those weeks would have to be fetched
again, spending quota. Once the pool has finished its last runs, the worker
uploads each member's unsent history it can take the lease of, within a
time budget (Heroku kills a stopping dyno after 30 seconds).
"""

import logging
import time
from typing import Any

import redis
from celery.signals import worker_shutdown, worker_shutting_down
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from redis.exceptions import RedisError

from apiclients.errors import UpstreamError
from apiclients.quota import moves_quota
from core.models import MovesMember
from datauploader import handoff, machines
from datauploader.history import CorruptHistory, LocalHistory, local_members
from datauploader.sync import Sync

log = logging.getLogger(__name__)

FLUSH_SECONDS = 20.0


def flush_local_histories(seconds: float = FLUSH_SECONDS) -> int:
    """Upload every unsent local history this machine can take; returns how many were uploaded."""
    deadline = time.monotonic() + seconds
    flushed = 0
    for oh_id in local_members():
        if time.monotonic() >= deadline:
            log.warning("worker stopping: no time left to upload the remaining local histories")
            break
        try:
            if not LocalHistory.for_member(oh_id).state.dirty:
                continue
        except CorruptHistory:
            continue
        member = (
            MovesMember.objects.select_related("member")
            .filter(member__oh_id=oh_id)
            .exclude(refresh_token="")
            .first()
        )
        if member is None:
            continue
        lease = member.claim_lease(settings.RUN_LEASE_SECONDS, machines.this_machine())
        if lease is None:
            continue
        try:
            report = Sync(member, lease, None, moves_quota()).flush()
            flushed += report.outcome == "flushed"
            log.info("worker stopping: %s for %s", report.outcome, oh_id)
        except (UpstreamError, DatabaseError, RedisError, OSError) as exc:
            log.warning("worker stopping: could not upload for %s (%s)", oh_id, type(exc).__name__)
        finally:
            member.release_lease(lease)
    return flushed


@worker_shutting_down.connect
def stop_waiting_for_batches(**kwargs: Any) -> None:
    """Runs waiting for their member's next batch end now, so the pool finishes in time."""
    try:
        handoff.mark_stopping(redis.Redis.from_url(settings.REDIS_URL))
    except RedisError as exc:
        log.warning("worker stopping: could not tell waiting runs (%s)", type(exc).__name__)


@worker_shutdown.connect
def upload_before_stopping(**kwargs: Any) -> None:
    try:
        flush_local_histories()
    except (DatabaseError, RedisError) as exc:
        log.warning("worker stopping: could not check the local histories (%s)", type(exc).__name__)
    finally:
        close_old_connections()
