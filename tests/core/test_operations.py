"""What operators see of the queue and the shared quota."""

from datetime import timedelta

from django.utils import timezone

from apiclients.quota import Usage
from core.models import MovesMember
from core.operations import queue_overview, time_for
from tests.connected import unreachable_url

Status = MovesMember.Status


def test_queue_overview_counts_the_queue_and_every_status(make_member):
    now = timezone.now()
    make_member("10000001", status=Status.BACKFILLING, sync_wanted_since=now, requests_wanted=40)
    make_member("10000002", status=Status.NEW, sync_wanted_since=now, requests_wanted=3)
    make_member("10000003", status=Status.NEEDS_RECONNECT, sync_wanted_since=now, requests_wanted=99)
    make_member("10000004", status=Status.CURRENT, lease_until=now + timedelta(seconds=30))

    overview = queue_overview()

    assert (overview.waiting, overview.running, overview.requests_wanted) == (2, 1, 43)
    assert overview.status_counts == [
        ("Waiting for the first batch", 1),
        ("Fetching your history", 1),
        ("Up to date", 1),
        ("Trying again soon", 0),
        ("Failing", 0),
        ("Needs to reconnect", 1),
    ]
    assert overview.usage is not None


def test_queue_overview_without_redis_still_counts(make_member, settings):
    settings.REDIS_URL = unreachable_url().replace("http://", "redis://") + "/0"
    make_member("10000001", sync_wanted_since=timezone.now(), requests_wanted=5)

    overview = queue_overview()

    assert (overview.usage, overview.backfills_done_in, overview.waiting, overview.requests_wanted) == (
        None,
        None,
        1,
        5,
    )


def usage(minute_used: int = 0, hour_used: int = 0) -> Usage:
    return Usage(minute_used=minute_used, minute_limit=59, hour_used=hour_used, hour_limit=1999)


def test_time_for_nothing_is_nothing(db):
    assert time_for(0, usage()) == timedelta(0)


def test_time_for_what_this_hour_still_allows_goes_at_the_minutes_pace(db):
    assert [time_for(n, usage()) for n in (1, 59, 60, 118, 119)] == [
        timedelta(minutes=1),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=2),
        timedelta(minutes=3),
    ]


def test_time_for_more_than_this_hour_allows_waits_for_the_next_hour(db):
    assert time_for(100, usage(hour_used=1999)) == timedelta(hours=1, minutes=2)
    assert time_for(1999 + 59, usage(hour_used=1999)) > timedelta(hours=2)


def test_time_for_follows_the_compressed_windows(db, settings):
    settings.RATE_LIMIT_TIME_SCALE = 30

    assert time_for(60, usage()) == timedelta(seconds=4)
