"""Celery tasks. Thin: the work lives in ``datauploader.sync`` and ``datauploader.dispatch``.

``process_moves(oh_id, batch)`` is queued only by the dispatcher, for a
member that holds a batch of Moves requests; the batch waits under a
ticket (``datauploader.tickets``) until the run is about to use it. Every
way a run can end is caught here and recorded on the member through
``core.models``: the member always ends in a state the dashboard can
explain, with the next try set by ``core.retry``.
"""

import logging
from typing import Any

import redis
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError

from apiclients.errors import (
    MOVES,
    OPEN_HUMANS,
    InvalidGrant,
    MalformedResponse,
    TooLarge,
    Unauthorized,
    UpstreamError,
)
from apiclients.quota import Batch, MovesQuota, moves_quota
from core.models import MovesMember
from datauploader import dispatch, handoff, machines, tickets
from datauploader.history import discard_history, local_members
from datauploader.sync import INFRASTRUCTURE, LeaseKeeper, PoisonFile, Sync, infrastructure_errors

log = logging.getLogger(__name__)


@shared_task(bind=True, name="datauploader.process_moves", max_retries=5)
def process_moves(self: Any, oh_id: str, batch: dict[str, Any] | None = None) -> str:
    quota = moves_quota()
    member = MovesMember.objects.select_related("member").filter(member__oh_id=oh_id).first()
    if member is None:
        discard_history(oh_id)
        return "not connected"
    given, ticket = _batch_of(quota, member.pk, batch)
    if not member.has_tokens:
        # The local history of a disconnected member is location data we no
        # longer have a reason to keep.
        discard_history(oh_id)
        _give_back(quota, ticket.give_up() if ticket else given)
        return "not connected"
    lease = member.claim_lease(settings.RUN_LEASE_SECONDS, machines.this_machine())
    if lease is None:
        log.info("process_moves %s: another run holds the member; batch given back", oh_id)
        _give_back(quota, ticket.give_up() if ticket else given)
        return "busy"
    if ticket is not None and not ticket.start():
        # Forgotten after its patience, or replaced: the member has a newer run.
        member.release_lease(lease)
        log.info("process_moves %s: its ticket is gone; ended before any request", oh_id)
        return "no batch"
    # Run inline (tests, eager mode), a waiting run would block the only
    # caller that could hand it a batch.
    waits = None if self.request.is_eager else (lambda: _next_batch(member.pk, quota))
    sync = Sync(member, lease, given, quota, claim_batch=ticket.claim if ticket else None, next_batch=waits)
    try:
        with LeaseKeeper(member, lease, settings.RUN_LEASE_SECONDS):
            outcome = _run(self, member, lease, sync)
    finally:
        # The ticket before the lease: a member without a lease whose run
        # started and still holds a ticket is taken for a run that died.
        _give_back(quota, ticket.release() if ticket else None)
        member.release_lease(lease)
        _give_back(quota, sync.batch)
    _more_now(member, quota)
    return outcome


def _batch_of(
    quota: MovesQuota, pk: int, batch: dict[str, Any] | None
) -> tuple[Batch | None, tickets.RunTicket | None]:
    """The run's batch as given (a run queued by hand), or the ticket that holds it until it is used."""
    if not batch:
        return None, None
    if "ticket" not in batch:
        return Batch.from_task_argument(batch), None
    return None, tickets.RunTicket(quota, pk, str(batch["ticket"]))


def _next_batch(pk: int, quota: MovesQuota) -> Batch | None:
    """The member's batch in the next window, handed to this run, if the dispatcher would give one."""
    dispatcher = dispatch.Dispatcher(quota=quota, client=quota.client)
    return handoff.wait_for_batch(pk, quota, lambda: dispatcher.serves_next(pk), dispatcher.dispatch)


def _more_now(member: MovesMember, quota: Any) -> None:
    """A run that stopped short while quota is still free asks for the next batch at once.

    The first batch after a restart is a single request, whose answer tells
    how much of the window is really free; this hands out the rest.
    """
    try:
        member.refresh_from_db(fields=["sync_wanted_since"])
        if member.sync_wanted_since is not None and quota.free() > 0:
            dispatch_task.apply_async()
    except (MovesMember.DoesNotExist, DatabaseError, redis.RedisError):
        return


def _run(task: Any, member: MovesMember, lease: str, sync: Sync) -> str:
    oh_id = member.member.oh_id
    try:
        report = sync.run()
    except SoftTimeLimitExceeded:
        # Progress is kept week by week: the member stays queued and loses nothing.
        log.warning("process_moves %s: hit the soft time limit; the next batch goes on", oh_id)
        return "time limit"
    except PoisonFile as exc:
        log.error("process_moves %s: %s", oh_id, exc)
        member.record_failure(lease, MOVES, str(exc), permanent=True)
        return "failing"
    except UpstreamError as exc:
        log.warning("process_moves %s: %s", oh_id, exc)
        if open_humans_refused_us(exc):
            member.member.refresh_refused()
            member.require_reconnect(
                OPEN_HUMANS, "Open Humans no longer accepts our access. Please sign in again.", lease
            )
            return "open humans refused us"
        service, words = failure_words(exc)
        # Every other refusal is tried again a bounded number of times (a 4xx
        # from Open Humans on an upload or delete is often passing); only an
        # answer too large to take would fail the same way every time.
        member.record_failure(lease, service, words, permanent=isinstance(exc, TooLarge))
        return "upstream failure"
    except infrastructure_errors() as exc:
        log.error("process_moves %s: %s (%s)", oh_id, type(exc).__name__, _first_line(exc))
        try:
            member.record_failure(lease, INFRASTRUCTURE, f"Our servers had a problem ({_what_failed(exc)}).")
        except DatabaseError:
            # Not even the failure can be written: the task comes back by itself.
            raise task.retry(countdown=30 / settings.RATE_LIMIT_TIME_SCALE, exc=exc) from None
        return "infrastructure failure"
    except (RecursionError, OverflowError, ValueError, KeyError, TypeError) as exc:
        # Input we could not handle; the retry policy bounds how often it is met again.
        log.exception("process_moves %s: unexpected %s", oh_id, type(exc).__name__)
        member.record_failure(lease, MOVES, "Moves sent data we could not handle.")
        return "failure"
    log.info(
        "process_moves %s: %s; %d requests in %d batches, %d weeks, %d days changed%s",
        oh_id,
        report.outcome,
        report.requests,
        report.batches,
        report.weeks,
        report.days_changed,
        ", uploaded" if report.uploaded else "",
    )
    return report.outcome


def open_humans_refused_us(exc: UpstreamError) -> bool:
    """Open Humans refused our token, or the member is not in the project any more."""
    if exc.service != OPEN_HUMANS:
        return False
    if isinstance(exc, Unauthorized | InvalidGrant):
        return True
    return exc.status == 400 and "project_member_id" in exc.message


def failure_words(exc: UpstreamError) -> tuple[str, str]:
    """The failed service, and what happened in words for the member."""
    service = exc.service if exc.service in (MOVES, OPEN_HUMANS) else INFRASTRUCTURE
    if isinstance(exc, TooLarge):
        what = "more data for one week" if service == MOVES else "a larger file"
        return service, f"{service} sent {what} than we can take ({exc.message})."
    if isinstance(exc, MalformedResponse):
        return service, f"{service} sent an answer we could not read."
    if exc.temporary:
        return service, f"{service} is not answering right now."
    # The body of the refusal is for the log: it is the service's words, not ours.
    status = f" (HTTP {exc.status})" if exc.status is not None else ""
    return service, f"{service} refused a request{status}."


def _what_failed(exc: BaseException) -> str:
    if isinstance(exc, DatabaseError):
        return "database unavailable"
    if isinstance(exc, redis.RedisError):
        return "queue unavailable"
    if isinstance(exc, OSError):
        return "disk unavailable or full"
    return type(exc).__name__


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else ""


def _give_back(quota: Any, batch: Batch | None) -> None:
    if batch is None:
        return
    try:
        returned = quota.give_back(batch)
    except redis.RedisError:
        return
    if returned:
        # Someone else may still use it in this window.
        dispatch_task.apply_async()


@shared_task(name="datauploader.dispatch", ignore_result=True)
def dispatch_task() -> int:
    """Hand out the quota now (a member asked for work, or a run gave capacity back)."""
    return dispatch.Dispatcher().dispatch().requests


@shared_task(name="datauploader.discard_history")
def discard_history_everywhere(oh_id: str) -> None:
    """Have every live machine delete its copy of a member's history (they disconnected or left)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    names = machines.alive(client) or [machines.this_machine()]
    for name in names:
        discard_history_here.apply_async(args=(oh_id,), queue=machines.queue_of(name))


@shared_task(name="datauploader.discard_history_here")
def discard_history_here(oh_id: str) -> None:
    """Delete this machine's copy of a member's history, unless they connected again meanwhile.

    It is a precise record of where someone goes; once they have left there
    is no reason to keep it.
    """
    member = MovesMember.objects.filter(member__oh_id=oh_id).exclude(refresh_token="").first()
    if member is not None and member.worker_home == machines.this_machine():
        return
    if oh_id in local_members():
        discard_history(oh_id)
        log.info("removed the local history of %s", oh_id)
