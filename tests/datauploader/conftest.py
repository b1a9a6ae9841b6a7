"""Fixtures of the worker's tests: the quota as the server last described it, at a quiet moment."""

import time
from datetime import timedelta

import pytest
import redis
import time_machine
from django.utils import timezone
from django.utils.http import http_date

from apiclients.quota import MovesQuota, moves_quota
from core.models import MovesMember, Priority


def server_headers(minute_used: int = 0, hour_used: int = 0, at: float | None = None) -> dict[str, str]:
    """The headers of a Moves answer that say how much of its windows the server has counted."""
    return {
        "Date": http_date(at if at is not None else time.time()),
        "X-RateLimit-MinuteLimit": "60",
        "X-RateLimit-MinuteRemaining": str(60 - minute_used),
        "X-RateLimit-HourLimit": "2000",
        "X-RateLimit-HourRemaining": str(2000 - hour_used),
    }


def into_this_minute(second: float, tick: bool):
    """Travel to ``second`` seconds into the current clock minute; the clock stands still unless ``tick``."""
    now = time.time()
    return time_machine.travel(now - now % 60 + second, tick=tick)


def backfilling(make_member, minutes_ago: int = 5, wanted: int = 40, **fields) -> MovesMember:
    """A member whose backfill has waited ``minutes_ago`` minutes for ``wanted`` more requests."""
    return make_member(
        sync_wanted_since=timezone.now() - timedelta(minutes=minutes_ago),
        sync_priority=Priority.BACKFILL,
        requests_wanted=wanted,
        **fields,
    )


def told_quota(client: redis.Redis) -> MovesQuota:
    """The app's quota, told by a Moves answer that nothing of this minute or hour is used yet."""
    quota = moves_quota(client)
    now = time.time()
    quota.observe(server_headers(at=now), now, now)
    return quota


@pytest.fixture
def mid_minute():
    """Time stands still in the middle of a clock minute, far from the edges where no quota goes out."""
    with into_this_minute(30, tick=False):
        yield


@pytest.fixture
def quota(redis_db: redis.Redis, mid_minute) -> MovesQuota:
    return told_quota(redis_db)
