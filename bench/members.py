"""``update_data`` at scale: N stale members, timed against a seed-style loop.

Run as a child process (``python -m bench.members --members N``) with
DATABASE_URL pointing at a fresh, migrated database and REDIS_URL at a Redis
database of the benchmark's own: the tasks are really published to that
broker (and flushed afterwards), nobody consumes them. Prints one JSON line.

``update_data`` no longer sends a message per member (nor per batch of
members): it queues every stale member with one UPDATE and wakes the
dispatcher once. The work a message per member used to stand for is now
done a window at a time by the dispatcher, which reads the queue's head,
reserves the window's quota and queues a run per member that got a batch; so
one dispatch round over all N waiting members is timed too.
"""

import argparse
import json
import time
from datetime import timedelta

import django

BATCH = 5000
BROKER_QUEUE = "celery"


def create_members(count: int) -> None:
    """``count`` connected members whose data went stale ten days ago."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from core.models import MovesMember
    from open_humans.models import OpenHumansMember

    user_model = get_user_model()
    now = timezone.now()
    stale = now - timedelta(days=10)
    expires = now + timedelta(days=30)
    for start in range(0, count, BATCH):
        numbers = range(start, min(count, start + BATCH))
        with transaction.atomic():
            users = user_model.objects.bulk_create(
                [user_model(username=f"bench-{n}", password="!") for n in numbers]  # noqa: S106 - "!" is unusable
            )
            oh_members = OpenHumansMember.objects.bulk_create(
                [
                    OpenHumansMember(
                        user=user,
                        oh_id=f"{10_000_000 + n}",
                        username=f"bench-{n}",
                        access_token=f"oh-access-{n}",
                        refresh_token=f"oh-refresh-{n}",
                        token_expires=expires,
                    )
                    for n, user in zip(numbers, users, strict=True)
                ]
            )
            MovesMember.objects.bulk_create(
                [
                    MovesMember(
                        member=oh_member,
                        moves_id=20_000_000 + n,
                        access_token=f"moves-access-{n}",
                        refresh_token=f"moves-refresh-{n}",
                        token_expires=expires,
                        last_updated=stale,
                        status=MovesMember.Status.CURRENT,
                    )
                    for n, oh_member in zip(numbers, oh_members, strict=True)
                ]
            )


def seed_style_update() -> None:
    """The original command's shape: every member, one query for its owner, one ``delay`` each."""
    from django.conf import settings
    from django.utils import timezone

    from core.models import MovesMember
    from datauploader.tasks import process_moves

    cutoff = timezone.now() - timedelta(hours=settings.UPDATE_STALE_AFTER_HOURS)
    for moves_member in MovesMember.objects.all():
        if moves_member.last_updated is None or moves_member.last_updated < cutoff:
            process_moves.delay(moves_member.member.oh_id)


def update_data(broker) -> dict:
    """Time ``manage.py update_data``, then one dispatch round over the members it queued.

    The dispatch runs with the quota's counts known (as in any window but
    the first after a Redis restart, which hands out one probe request), so
    it hands out a whole window: 59 requests.
    """
    from django.core.management import call_command
    from django.utils.http import http_date

    from apiclients.quota import moves_quota
    from core.models import MovesMember
    from datauploader.dispatch import Dispatcher

    started = time.perf_counter()
    call_command("update_data", verbosity=0)
    command = time.perf_counter() - started
    queued = MovesMember.objects.filter(sync_wanted_since__isnull=False).count()
    wake_ups = queued_messages(broker)
    broker.delete(BROKER_QUEUE)
    quota = moves_quota(broker)
    # As after Moves' first answer of the day: it says how much of its windows is used (none).
    now = time.time()
    quota.observe(
        {
            "Date": http_date(now),
            "X-RateLimit-MinuteLimit": "60",
            "X-RateLimit-MinuteRemaining": "60",
            "X-RateLimit-HourLimit": "2000",
            "X-RateLimit-HourRemaining": "2000",
        },
        now,
        now,
    )
    # Away from a window's edge, where the dispatcher hands out nothing.
    while quota.certain_minute(time.time() + 0.5) is None or quota.certain_minute() is None:
        time.sleep(0.05)
    started = time.perf_counter()
    report = Dispatcher(quota=quota, client=broker).dispatch()
    dispatch = time.perf_counter() - started
    return {
        "command": command,
        "queued_members": queued,
        "wake_up_messages": wake_ups,
        "dispatch": dispatch,
        "dispatch_sent": len(report.sent),
        "dispatch_requests": report.requests,
        "dispatch_skipped": report.skipped,
    }


def queued_messages(client) -> int:
    return sum(int(client.llen(key)) for key in client.scan_iter(match="*") if client.type(key) == b"list")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, required=True)
    args = parser.parse_args()

    django.setup()
    import redis
    from django.conf import settings

    from core.models import MovesMember

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()
    started = time.perf_counter()
    create_members(args.members)
    created_in = time.perf_counter() - started
    # Warm the database's caches the same for both timings.
    MovesMember.objects.filter(last_updated__isnull=False).count()

    started = time.perf_counter()
    seed_style_update()
    seed_seconds = time.perf_counter() - started
    seed_queued = queued_messages(broker)
    broker.flushdb()

    ours: dict = {}
    try:
        ours = update_data(broker)
    except Exception as exc:
        # Reported, so the rest of the benchmark still prints.
        ours = {"error": f"update_data: {exc!r}"}
    broker.flushdb()
    print(json.dumps({"created_in": created_in, "seed": seed_seconds, "seed_queued": seed_queued, **ours}))


if __name__ == "__main__":
    main()
