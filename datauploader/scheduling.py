"""Which members the daily ``update_data`` run refreshes, and queuing them in batches.

One query classifies every Moves member in the database, so the work does not
grow in queries with the number of members; the stale ones are handed to the
broker a batch at a time (``queue_process_moves_batch``): the command sends one
message per 1,000 members instead of one per member, and a worker fans each batch
out into ``process_moves`` tasks.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.db.models import Case, CharField, Q, Value, When
from django.utils import timezone

from main.models import MovesMember

BATCH_SIZE = 1000
# Rows fetched from the database at a time; a server-side cursor on PostgreSQL.
CHUNK_SIZE = 5000

QUEUE = "queue"
NOT_CONNECTED = "no refresh token"
NEEDS_RECONNECT = "needs reconnect"
BACKFILL_SCHEDULED = "backfill already scheduled"
UP_TO_DATE = "updated recently"
SKIP_REASONS = (UP_TO_DATE, BACKFILL_SCHEDULED, NEEDS_RECONNECT, NOT_CONNECTED)


@dataclass
class Plan:
    """What one run queued (or, in a dry run, would queue) and whom it skipped, by reason."""

    stale_after: timedelta
    queued: int = 0
    batches: int = 0
    skipped: Counter = field(default_factory=Counter)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def classified_members(now: datetime, stale_after: timedelta) -> Iterator[tuple[str, str]]:
    """Every Moves member as ``(oh_id, QUEUE or a skip reason)``, from one streamed query.

    The first matching reason wins, so a member who must reconnect is reported
    as such whatever the age of their data.
    """
    reason = Case(
        When(refresh_token="", then=Value(NOT_CONNECTED)),
        When(status=MovesMember.Status.NEEDS_RECONNECT, then=Value(NEEDS_RECONNECT)),
        # A backfill paused by the rate limit re-queued its own next batch for
        # next_batch_at; a second task would only wait for the member's lock
        # or spend requests the queued one needs, so it is left to run.
        When(
            status=MovesMember.Status.BACKFILLING,
            next_batch_at__gt=now,
            then=Value(BACKFILL_SCHEDULED),
        ),
        When(Q(last_updated__isnull=True) | Q(last_updated__lt=now - stale_after), then=Value(QUEUE)),
        default=Value(UP_TO_DATE),
        output_field=CharField(),
    )
    rows = (
        MovesMember.objects.annotate(reason=reason)
        .order_by()
        .values_list("member__oh_id", "reason")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    yield from rows


def batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def plan_updates(
    send_batch: Callable[[list[str]], None] | None,
    on_member: Callable[[str, str], None] | None = None,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
) -> Plan:
    """Queue every stale, connected member through ``send_batch``, ``batch_size`` ids at a time.

    ``send_batch=None`` is a dry run: the plan is counted, nothing is sent.
    ``on_member(oh_id, QUEUE or a skip reason)`` hears about each member.
    """
    now = now or timezone.now()
    plan = Plan(stale_after=timedelta(days=settings.UPDATE_STALE_AFTER_DAYS))

    def stale_ids() -> Iterator[str]:
        for oh_id, reason in classified_members(now, plan.stale_after):
            if on_member is not None:
                on_member(oh_id, reason)
            if reason == QUEUE:
                yield oh_id
            else:
                plan.skipped[reason] += 1

    for batch in batched(stale_ids(), batch_size):
        if send_batch is not None:
            send_batch(batch)
        plan.queued += len(batch)
        plan.batches += 1
    return plan


def queue_stale_members(
    dry_run: bool = False,
    on_member: Callable[[str, str], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> tuple[Plan, float]:
    """Run ``plan_updates`` against the broker, all batches over one producer connection.

    Returns the plan and the seconds it took.
    """
    from datauploader.celery import app
    from datauploader.tasks import queue_process_moves_batch

    started = time.perf_counter()
    if dry_run:
        plan = plan_updates(None, on_member, batch_size)
    else:
        with app.producer_or_acquire() as producer:
            plan = plan_updates(
                lambda batch: queue_process_moves_batch.apply_async(args=[batch], producer=producer),
                on_member,
                batch_size,
            )
    return plan, time.perf_counter() - started


def describe(plan: Plan, elapsed: float, dry_run: bool = False) -> str:
    """The one-line summary of a run."""
    verb = "would queue" if dry_run else "queued"
    days = plan.stale_after.days
    labels = {UP_TO_DATE: f"updated in the last {days} days"}
    reasons = ", ".join(
        f"{plan.skipped[reason]} {labels.get(reason, reason)}"
        for reason in SKIP_REASONS
        if plan.skipped[reason]
    )
    batches = "batch" if plan.batches == 1 else "batches"
    members = "member" if plan.queued == 1 else "members"
    skipped = f"skipped {plan.skipped_total}" + (f" ({reasons})" if reasons else "")
    prefix = "dry run: " if dry_run else ""
    return f"{prefix}{verb} {plan.queued} {members} in {plan.batches} {batches}; {skipped}; {elapsed:.2f} s"
