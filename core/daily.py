"""The daily safety net behind ``update_data``: who gets an update, and who is skipped and why.

Moves' notifications (``core.changes``) keep most members current within
minutes, but they are best effort, so once a day every member whose data
was not updated lately is queued for an update, and once a week
(``SWEEP_INTERVAL_DAYS``) for a sweep of older weeks. Queuing is one UPDATE
for all of them; the dispatcher then hands out the quota.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, Q, Value, When
from django.utils import timezone

from core import jobs
from core.models import MovesMember

QUEUE = "queue"
NOT_CONNECTED = "not connected"
NEEDS_RECONNECT = "needs reconnect"
BUSY = "already queued or running"
NOTIFIED = "kept current by Moves notifications"
UP_TO_DATE = "updated recently"
SKIP_REASONS = (UP_TO_DATE, NOTIFIED, BUSY, NEEDS_RECONNECT, NOT_CONNECTED)


@dataclass
class Plan:
    """Whom one run queued (or, in a dry run, would queue), and whom it skipped, by reason."""

    stale_after: timedelta
    queued: int = 0
    sweeps: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def classified(now: datetime, stale_after: timedelta) -> Iterator[tuple[int, str, str]]:
    """Every Moves member's ``(oh_id, QUEUE or a skip reason)``, from one streamed query.

    The first matching reason wins, so a member who must reconnect is
    reported as such whatever the age of their data.
    """
    syncable = MovesMember.objects.syncable()
    reason = Case(
        When(refresh_token="", then=Value(NOT_CONNECTED)),
        When(~Q(pk__in=syncable.values("pk")), then=Value(NEEDS_RECONNECT)),
        When(Q(sync_wanted_since__isnull=False) | Q(lease_until__gte=now), then=Value(BUSY)),
        When(last_notified_at__gte=now - stale_after, then=Value(NOTIFIED)),
        When(Q(last_updated__isnull=True) | Q(last_updated__lt=now - stale_after), then=Value(QUEUE)),
        default=Value(UP_TO_DATE),
        output_field=CharField(),
    )
    return (
        MovesMember.objects.annotate(reason=reason)
        .order_by()
        .values_list("pk", "member__oh_id", "reason")
        .iterator(chunk_size=5000)
    )


def plan_daily(
    dry_run: bool = False, on_member: Callable[[str, str], None] | None = None, now: datetime | None = None
) -> Plan:
    """Queue an update for every stale member; ``on_member(oh_id, reason)`` hears about each."""
    started = time.perf_counter()
    now = now or timezone.now()
    plan = Plan(stale_after=timedelta(hours=settings.UPDATE_STALE_AFTER_HOURS))
    due: list[int] = []
    for pk, oh_id, reason in classified(now, plan.stale_after):
        if on_member is not None:
            on_member(oh_id, reason)
        if reason == QUEUE:
            due.append(pk)
        else:
            plan.skipped[reason] += 1
    plan.queued = len(due)
    sweep_due = (
        MovesMember.objects.syncable()
        .filter(
            # A week after connecting, then every week.
            Q(last_sweep_at__isnull=True, created__lt=now - timedelta(days=settings.SWEEP_INTERVAL_DAYS))
            | Q(last_sweep_at__lt=now - timedelta(days=settings.SWEEP_INTERVAL_DAYS)),
            sync_wanted_since__isnull=True,
            status=MovesMember.Status.CURRENT,
        )
        .exclude(pk__in=due)
    )
    if dry_run:
        plan.sweeps = sweep_due.count()
    else:
        with transaction.atomic():
            for start in range(0, len(due), 5000):
                MovesMember.objects.filter(pk__in=due[start : start + 5000]).request_updates(now)
            plan.sweeps = sweep_due.filter(first_date__isnull=False, sweep_from__isnull=True).start_sweeps(
                now
            )
            if plan.queued or plan.sweeps:
                jobs.wake_dispatcher()
    plan.seconds = time.perf_counter() - started
    return plan


def describe(plan: Plan, dry_run: bool = False) -> str:
    """The one-line summary of a run."""
    verb = "would queue" if dry_run else "queued"
    reasons = ", ".join(f"{plan.skipped[reason]} {reason}" for reason in SKIP_REASONS if plan.skipped[reason])
    members = "member" if plan.queued == 1 else "members"
    skipped = f"skipped {plan.skipped_total}" + (f" ({reasons})" if reasons else "")
    prefix = "dry run: " if dry_run else ""
    sweeps = f"; {plan.sweeps} weekly sweeps" if plan.sweeps else ""
    return f"{prefix}{verb} updates of {plan.queued} {members}{sweeps}; {skipped}; {plan.seconds:.2f} s"
