"""Exact, shared rate-limit realms on top of requests-respectful.

requests-respectful 0.2.0 counts a realm's requests and records a new one in
two separate Redis round trips, so racing workers can all pass the check
before any of them records (measured: 8 processes on a 60-per-minute realm let
62 and 64 through). Here one Lua script checks every realm of a request and
records it in all of them, atomically, using Redis' own clock; no window of a
realm ever holds more than ``max_requests - safety_threshold`` requests.

The public API stays the library's: ``rr.register_realm(...)``,
``rr.get(url, realms=[...], ...)``, ``rr.request(func, realms=[...])``, and
``RequestsRespectfulRateLimitedError`` when a realm is full, which here also
carries ``retry_after``: the seconds until the fullest realm frees a slot.
"""

import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
import requests
from requests_respectful import (
    RequestsRespectfulError,
    RequestsRespectfulRateLimitedError,
    RespectfulRequester,
)

# KEYS: one sorted set per realm. ARGV: member id, then (limit, window us)
# per realm. Each set holds the realm's requests scored by their time in
# microseconds: with whole milliseconds a slot freed up to 1 ms early, and a
# race test caught a window holding one request too many.
# Returns 0 when recorded, otherwise the us until the fullest realm frees up.
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local free_at = tonumber(oldest[2]) + window
    if free_at - now > wait then wait = free_at - now end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
end
return 0
"""


class RateLimitedError(RequestsRespectfulRateLimitedError):
    """Every slot of a realm is taken; ``retry_after`` seconds until one frees."""

    def __init__(self, realms: list[str], retry_after: float) -> None:
        self.realms = realms
        self.retry_after = retry_after
        super().__init__(
            f"Currently rate-limited on Realm(s): {', '.join(realms)} (retry in {retry_after:.2f}s)"
        )


class AtomicRespectfulRequester(RespectfulRequester):
    """A ``RespectfulRequester`` whose check-and-record is one atomic Redis step.

    Realm numbers given to ``register_realm`` always take effect (the library
    keeps the first registration forever), timespans may be fractional
    seconds, and nothing touches Redis until the first request, so importing
    settings works without a Redis server.
    """

    def __init__(self, redis_url: str, safety_threshold: int = 1) -> None:
        # The parent's __init__ pings its own module-level client; skip it.
        self.redis_url = redis_url
        self.safety_threshold = safety_threshold
        self._realms: dict[str, tuple[int, float]] = {}
        self._redis: redis.Redis | None = None
        self._script: Any = None

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.redis_url)
            self._script = self._redis.register_script(_ACQUIRE)
        return self._redis

    @property
    def redis_prefix(self) -> str:
        return "RespectfulRequester:atomic"

    def register_realm(self, realm: str, max_requests: int, timespan: float) -> bool:
        if max_requests < 1 or timespan <= 0:
            raise RequestsRespectfulError(f"Realm '{realm}' needs max_requests >= 1 and timespan > 0")
        self._realms[realm] = (int(max_requests), float(timespan))
        return True

    def update_realm(self, realm: str, **kwargs: Any) -> bool:
        max_requests, timespan = self._realms[realm]
        self.register_realm(realm, kwargs.get("max_requests", max_requests), kwargs.get("timespan", timespan))
        return True

    def unregister_realm(self, realm: str) -> bool:
        self._realms.pop(realm, None)
        self.redis.delete(self._realm_key(realm))
        return True

    def fetch_registered_realms(self) -> list[str]:
        return list(self._realms)

    def realm_max_requests(self, realm: str) -> int:
        return self._realms[realm][0]

    def realm_timespan(self, realm: str) -> float:
        return self._realms[realm][1]

    def effective_limit(self, realm: str) -> int:
        """How many requests a window of ``realm`` may hold, after the safety threshold."""
        return max(1, self.realm_max_requests(realm) - self.safety_threshold)

    def requests_in_window(self, realm: str) -> int:
        key = self._realm_key(realm)
        now_us = time.time() * 1_000_000
        window_us = self.realm_timespan(realm) * 1_000_000
        return int(self.redis.zcount(key, f"({now_us - window_us}", "+inf"))

    def acquire(self, realms: list[str]) -> None:
        """Take one slot in every realm, or raise ``RateLimitedError`` and take none."""
        for realm in realms:
            if realm not in self._realms:
                raise RequestsRespectfulError(f"Realm '{realm}' hasn't been registered")
        self.redis  # noqa: B018 - connects and loads the script
        args: list[Any] = [uuid.uuid4().hex]
        for realm in realms:
            args += [self.effective_limit(realm), round(self.realm_timespan(realm) * 1_000_000)]
        wait_us = int(self._script(keys=[self._realm_key(r) for r in realms], args=args))
        if wait_us > 0:
            raise RateLimitedError(list(realms), wait_us / 1_000_000)

    def request(
        self,
        request_func: Callable[[], requests.Response],
        realm: str | None = None,
        realms: list[str] | None = None,
        wait: bool = False,
    ) -> requests.Response:
        realms = list(realms or []) + ([realm] if realm else [])
        if not realms:
            raise RequestsRespectfulError("'realms' is a required kwarg")
        while True:
            try:
                self.acquire(realms)
                return request_func()
            except RateLimitedError as exc:
                if not wait:
                    raise
                time.sleep(exc.retry_after)

    def _requests_proxy(self, method: str, *args: Any, **kwargs: Any) -> requests.Response:
        realm = kwargs.pop("realm", None)
        realms = kwargs.pop("realms", None)
        wait = kwargs.pop("wait", False)
        session = kwargs.pop("session", None) or requests
        return self.request(
            lambda: getattr(session, method)(*args, **kwargs), realm=realm, realms=realms, wait=wait
        )

    def _realm_key(self, realm: str) -> str:
        return f"{self.redis_prefix}:{realm}"
