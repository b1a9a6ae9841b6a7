"""Counts of what reached the stand-ins, kept in a Redis hash when SANDBOX_REQUEST_COUNTS_KEY is set.

Taken where the traffic arrives, not where a client thinks it sent it (the
benchmark reads them): Moves API requests and their 429 answers, Open Humans
API calls by endpoint, and the bytes of storage PUTs (uploads) and GETs
(downloads, 200 or 206). Every server thread and process adds to one total.
"""

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from sandbox.storage import PREFIX as STORAGE_PREFIX

MOVES_API_PREFIX = "/api/1.1/"
OH_API_PREFIX = "/api/direct-sharing/project/"

_clients: dict[str, redis.Redis] = {}


def increments(request: HttpRequest, response: HttpResponse) -> dict[str, int]:
    """The counters one request adds to."""
    path, status = request.path, response.status_code
    found: dict[str, int] = {}
    if path.startswith(MOVES_API_PREFIX):
        found["moves_requests"] = 1
        if status == 429:
            found["moves_429"] = 1
    elif path.startswith(OH_API_PREFIX):
        name = path[len(OH_API_PREFIX) :].strip("/").replace("/", "_").replace("-", "_")
        found[f"oh_calls:{name}"] = 1
    elif path == "/oauth2/token/":
        found["oh_calls:token"] = 1
    elif path.startswith("/data-management/datafile-download/"):
        found["oh_calls:datafile_download"] = 1
    elif path.startswith(STORAGE_PREFIX):
        if request.method == "PUT" and status == 200:
            found["oh_puts"] = 1
            found["oh_put_bytes"] = int(request.META.get("CONTENT_LENGTH") or 0)
        elif request.method == "GET" and status in (200, 206) and response.has_header("Content-Length"):
            found["oh_gets"] = 1
            found["oh_get_bytes"] = int(response["Content-Length"])
    return found


def count(request: HttpRequest, response: HttpResponse) -> None:
    key = settings.SANDBOX_REQUEST_COUNTS_KEY
    if not key:
        return
    found = increments(request, response)
    if not found:
        return
    url = settings.REDIS_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url)
    pipe = _clients[url].pipeline()
    for field, amount in found.items():
        pipe.hincrby(key, field, amount)
    pipe.execute()
