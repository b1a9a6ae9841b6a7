"""The sandbox's WSGI application with a counter in front, served by ``bench.server``.

Counts are taken where the traffic arrives, not where the client thinks it
sent it: Moves API requests and their 429 answers, and the bytes of file
uploads (storage PUTs) and downloads (storage GETs) of the stand-in Open
Humans. They live in a Redis hash so every server worker adds to one total.
"""

import os
from collections.abc import Callable, Iterable

import redis

from demotemplate.wsgi import application as django_application

COUNTS_KEY = "bench:counts"
MOVES_API_PREFIX = "/sandbox/moves/api/"
STORAGE_PREFIX = "/sandbox/openhumans/storage/"

_redis = redis.Redis.from_url(os.environ["REDIS_URL"])


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "")
    seen: dict[str, object] = {}

    def recording_start_response(status: str, headers: list[tuple[str, str]], *args):
        seen["status"] = int(status.split(" ", 1)[0])
        seen["length"] = _header(headers, "content-length")
        return start_response(status, headers, *args)

    body = django_application(environ, recording_start_response)
    status = seen.get("status", 0)
    increments: dict[str, int] = {}
    if path.startswith(MOVES_API_PREFIX):
        increments["moves_requests"] = 1
        if status == 429:
            increments["moves_429"] = 1
    elif path.startswith(STORAGE_PREFIX) and status == 200:
        if method == "PUT":
            increments["oh_put_bytes"] = int(environ.get("CONTENT_LENGTH") or 0)
            increments["oh_puts"] = 1
        elif method == "GET" and seen.get("length"):
            increments["oh_get_bytes"] = int(str(seen["length"]))
            increments["oh_gets"] = 1
    if increments:
        pipe = _redis.pipeline()
        for field, amount in increments.items():
            pipe.hincrby(COUNTS_KEY, field, amount)
        pipe.execute()
    return body


def read_counts(client: redis.Redis) -> dict[str, int]:
    raw = client.hgetall(COUNTS_KEY)
    return {key.decode(): int(value) for key, value in raw.items()}


def reset_counts(client: redis.Redis) -> None:
    client.delete(COUNTS_KEY)
