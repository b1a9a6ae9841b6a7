"""``update_data`` at scale: N stale members, timed against a seed-style loop.

Run as a child process (``python -m bench.members --members N``) with
DATABASE_URL pointing at a fresh, migrated database and REDIS_URL at a Redis
database of the benchmark's own: the tasks are really published to that
broker (and flushed afterwards), nobody consumes them. Prints one JSON line.
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

    from main.models import MovesMember
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

    from main.models import MovesMember

    process_moves = _process_moves_task()
    cutoff = timezone.now() - timedelta(days=settings.UPDATE_STALE_AFTER_DAYS)
    for moves_member in MovesMember.objects.all():
        if moves_member.last_updated is None or moves_member.last_updated < cutoff:
            process_moves.delay(moves_member.member.oh_id)


def _process_moves_task():
    try:
        from datauploader.tasks import process_moves
    except ImportError:
        from datauploader.celery import app

        return app.signature("datauploader.process_moves")
    return process_moves


def queued(client) -> int:
    return int(client.llen(BROKER_QUEUE))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, required=True)
    args = parser.parse_args()

    django.setup()
    import redis
    from django.conf import settings

    from main.models import MovesMember

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
    seed_queued = queued(broker)
    broker.flushdb()

    ours: dict = {"ours": None, "ours_queued": None, "fan_out": None}
    try:
        from bench.ours import update_data

        ours = update_data(broker)
    except Exception as exc:  # reported, so the rest of the benchmark still prints
        print(json.dumps({"error": f"update_data: {exc!r}"}))
    broker.flushdb()
    print(json.dumps({"created_in": created_in, "seed": seed_seconds, "seed_queued": seed_queued, **ours}))


if __name__ == "__main__":
    main()
