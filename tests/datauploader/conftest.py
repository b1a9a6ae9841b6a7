"""Fixtures of the worker's tests: the quota as the server last described it, and the broker's queues."""

import base64
import json
import time
from collections.abc import Callable

import pytest
import redis
from django.utils.http import http_date

from apiclients.quota import MovesQuota, moves_quota
from datauploader.celery import app


def server_headers(minute_used: int = 0, hour_used: int = 0, at: float | None = None) -> dict[str, str]:
    """The headers of a Moves answer that say how much of its windows the server has counted."""
    return {
        "Date": http_date(at if at is not None else time.time()),
        "X-RateLimit-MinuteLimit": "60",
        "X-RateLimit-MinuteRemaining": str(60 - minute_used),
        "X-RateLimit-HourLimit": "2000",
        "X-RateLimit-HourRemaining": str(2000 - hour_used),
    }


@pytest.fixture
def quota(redis_db: redis.Redis) -> MovesQuota:
    """The app's quota, told by a Moves answer that nothing of this minute or hour is used yet."""
    quota = moves_quota(redis_db)
    now = time.time()
    quota.observe(server_headers(at=now), now, now)
    return quota


@pytest.fixture
def sent_tasks(redis_db: redis.Redis, monkeypatch) -> Callable[[], list[tuple[str, str, list]]]:
    """Tasks really sent to the broker (the suite's Redis database), as (queue, task name, args)."""
    monkeypatch.setitem(app.conf, "task_always_eager", False)

    def read() -> list[tuple[str, str, list]]:
        found = []
        for key in redis_db.keys("*"):
            name = key.decode()
            if redis_db.type(key) != b"list" or name.startswith("_kombu"):
                continue
            for raw in redis_db.lrange(key, 0, -1):
                message = json.loads(raw)
                body = json.loads(base64.b64decode(message["body"]))
                found.append((name, message["headers"]["task"], body[0]))
        return sorted(found)

    return read
