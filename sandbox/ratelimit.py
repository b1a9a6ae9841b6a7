"""Moves' per-app request limits, enforced by the stand-in server.

One Lua script checks and counts a request in both windows (minute and
hour) at once, so concurrent requests can never slip past a full window.
Windows are sliding logs keyed by client id under ``sandbox:``; their
lengths are 60 and 3600 seconds divided by ``RATE_LIMIT_TIME_SCALE``, read
at request time so tests can compress time. Refused requests are not counted.
"""

import math
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.http import HttpResponse

KEY_PREFIX = "sandbox:ratelimit:"

# KEYS: minute log, hour log. ARGV: minute limit, minute window ms, hour limit,
# hour window ms, request id. Returns {allowed, minute count, hour count, wait ms}.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local counts = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  counts[i] = count
  if count >= limit then
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local free = tonumber(oldest[2]) + window - now
    if free < 1 then free = 1 end
    if free > wait then wait = free end
  end
end
if wait > 0 then return {0, counts[1], counts[2], wait} end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[5])
  redis.call('PEXPIRE', key, ARGV[2 * i])
  counts[i] = counts[i] + 1
end
return {1, counts[1], counts[2], 0}
"""

_clients: dict[str, tuple[redis.Redis, Any]] = {}


def _connection() -> tuple[redis.Redis, Any]:
    url = settings.REDIS_URL
    if url not in _clients:
        client = redis.Redis.from_url(url)
        _clients[url] = (client, client.register_script(_HIT))
    return _clients[url]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    minute_limit: int
    minute_remaining: int
    hour_limit: int
    hour_remaining: int
    retry_after: float

    def apply(self, response: HttpResponse) -> HttpResponse:
        response["X-RateLimit-MinuteLimit"] = str(self.minute_limit)
        response["X-RateLimit-MinuteRemaining"] = str(self.minute_remaining)
        response["X-RateLimit-HourLimit"] = str(self.hour_limit)
        response["X-RateLimit-HourRemaining"] = str(self.hour_remaining)
        if not self.allowed:
            # Retry-After takes whole seconds; the precise wait matters with compressed windows.
            response["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
            response["X-RateLimit-Reset-After"] = f"{self.retry_after:.3f}"
        return response


def windows() -> tuple[float, float]:
    """Minute and hour window lengths in seconds, after time compression."""
    scale = float(settings.RATE_LIMIT_TIME_SCALE)
    return 60 / scale, 3600 / scale


def hit(client_id: str) -> Decision:
    """Count one request of ``client_id`` if both windows have room."""
    minute_limit = int(settings.SANDBOX_MOVES_REQUESTS_PER_MINUTE)
    hour_limit = int(settings.SANDBOX_MOVES_REQUESTS_PER_HOUR)
    minute_window, hour_window = windows()
    client, script = _connection()
    keys = [f"{KEY_PREFIX}moves:{client_id}:minute", f"{KEY_PREFIX}moves:{client_id}:hour"]
    args = [
        minute_limit,
        max(1, int(minute_window * 1000)),
        hour_limit,
        max(1, int(hour_window * 1000)),
        uuid.uuid4().hex,
    ]
    allowed, minute_count, hour_count, wait_ms = script(keys=keys, args=args, client=client)
    return Decision(
        allowed=bool(allowed),
        minute_limit=minute_limit,
        minute_remaining=max(0, minute_limit - int(minute_count)),
        hour_limit=hour_limit,
        hour_remaining=max(0, hour_limit - int(hour_count)),
        retry_after=int(wait_ms) / 1000,
    )


def reset() -> int:
    """Forget every sandbox request count; returns how many keys were removed."""
    client, _ = _connection()
    keys = list(client.scan_iter(match=KEY_PREFIX + "*"))
    return client.delete(*keys) if keys else 0
