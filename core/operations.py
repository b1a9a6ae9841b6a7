"""What operators see of the shared quota and the queue, for the admin."""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Sum
from redis.exceptions import RedisError

from apiclients.quota import Usage, moves_quota
from core.models import MovesMember


@dataclass(frozen=True)
class QueueOverview:
    usage: Usage | None
    waiting: int
    running: int
    requests_wanted: int
    backfills_done_in: timedelta | None
    status_counts: list[tuple[str, int]]


def queue_overview() -> QueueOverview:
    try:
        quota = moves_quota()
        usage: Usage | None = quota.usage()
    except RedisError:
        usage = None
    queued = MovesMember.objects.syncable().filter(sync_wanted_since__isnull=False)
    wanted = queued.aggregate(total=Sum("requests_wanted"))["total"] or 0
    counts = dict(MovesMember.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return QueueOverview(
        usage=usage,
        waiting=queued.count(),
        running=MovesMember.objects.running().count(),
        requests_wanted=wanted,
        backfills_done_in=time_for(wanted, usage) if usage else None,
        status_counts=[(label, counts.get(value, 0)) for value, label in MovesMember.Status.choices],
    )


def time_for(requests: int, usage: Usage) -> timedelta:
    """How long ``requests`` take at the quota's pace, counting what this hour has left."""
    if requests <= 0:
        return timedelta(0)
    quota = moves_quota()
    minute, hour = quota.minute.length, quota.hour.length
    left_this_hour = max(0, usage.hour_limit - usage.hour_used)
    if requests <= left_this_hour:
        return timedelta(seconds=math.ceil(requests / usage.minute_limit) * minute)
    rest = requests - left_this_hour
    hours = rest / usage.hour_limit
    return timedelta(
        seconds=hour * (1 + math.floor(hours))
        + math.ceil((rest % usage.hour_limit) / usage.minute_limit) * minute
    )
