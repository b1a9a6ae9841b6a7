"""Moves' request limits, enforced by the stand-in Moves server.

Documented: "An unpublished app can make at most 2000 requests per hour and
60 requests per minute ... The quotas reset at the top of each hour and
minute", counted for the client app as a whole, and "Requests using newly
issued access tokens will have double the normal rate limit for an hour".

So a request belongs to the clock minute and hour of the server's own clock
in which it arrived (``apiclients.windows``: the same Lua script the app
uses, so the two cannot disagree on what a window is). Windows last 60 and
3600 seconds divided by RATE_LIMIT_TIME_SCALE. A request made with a token
issued less than one (scaled) hour ago is checked against doubled limits,
on the same shared counters. A refused request is not counted.
"""

import time
from dataclasses import dataclass
from datetime import datetime

import redis
from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import http_date

from apiclients.windows import Window, WindowCounter

KEY_PREFIX = "sandbox:moves"

_clients: dict[str, redis.Redis] = {}
_counters: dict[tuple[str, str], WindowCounter] = {}


def _redis() -> redis.Redis:
    url = settings.REDIS_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url)
    return _clients[url]


def _counter(client_id: str) -> WindowCounter:
    key = (settings.REDIS_URL, client_id)
    if key not in _counters:
        _counters[key] = WindowCounter(_redis(), f"{KEY_PREFIX}:{client_id}")
    return _counters[key]


def windows() -> tuple[Window, Window]:
    """The minute and the hour window, after time compression, with the normal limits."""
    scale = float(settings.RATE_LIMIT_TIME_SCALE)
    return (
        Window("minute", 60 / scale, int(settings.SANDBOX_MOVES_REQUESTS_PER_MINUTE)),
        Window("hour", 3600 / scale, int(settings.SANDBOX_MOVES_REQUESTS_PER_HOUR)),
    )


def is_new(issued: datetime) -> bool:
    """Whether a token issued at ``issued`` still gets double limits (issued less than an hour ago)."""
    hour = 3600 / float(settings.RATE_LIMIT_TIME_SCALE)
    return (timezone.now() - issued).total_seconds() < hour


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    # When the request was counted (epoch seconds); the reply's Date says the same second.
    moment: float
    minute_limit: int
    minute_remaining: int
    hour_limit: int
    hour_remaining: int

    def label(self, response: HttpResponse) -> HttpResponse:
        response["Date"] = http_date(self.moment)
        response["X-RateLimit-HourLimit"] = str(self.hour_limit)
        response["X-RateLimit-HourRemaining"] = str(self.hour_remaining)
        response["X-RateLimit-MinuteLimit"] = str(self.minute_limit)
        response["X-RateLimit-MinuteRemaining"] = str(self.minute_remaining)
        return response


def check(client_id: str, new_token: bool, moment: float | None = None) -> Verdict:
    """Count one request of ``client_id`` if both of its windows have room."""
    moment = time.time() if moment is None else moment
    minute, hour = windows()
    factor = 2 if new_token else 1
    limits = [minute.limit * factor, hour.limit * factor]
    taken = _counter(client_id).take([minute, hour], moment, limits=limits)
    return Verdict(
        allowed=taken.granted == 1,
        moment=moment,
        minute_limit=limits[0],
        minute_remaining=max(0, limits[0] - taken.counts[0]),
        hour_limit=limits[1],
        hour_remaining=max(0, limits[1] - taken.counts[1]),
    )


def used(client_id: str, moment: float | None = None) -> tuple[int, int]:
    """How many requests the current minute and hour of ``client_id`` hold."""
    moment = time.time() if moment is None else moment
    minute, hour = _counter(client_id).used(list(windows()), moment)
    return minute, hour


def reset() -> int:
    """Forget every count of the stand-in; returns how many keys were removed."""
    client = _redis()
    keys = list(client.scan_iter(match=KEY_PREFIX + ":*"))
    return client.delete(*keys) if keys else 0
