"""Switches that make the next calls of an endpoint fail, stall or answer garbage.

A fault row says: for the next ``remaining`` calls of ``endpoint``, wait
``delay`` seconds, then answer ``status`` (with a small error body) and/or
truncate the real reply so it is no longer valid JSON. Concurrent requests
each consume one call through a conditional UPDATE, so a fault set for N
calls hits exactly N requests even under parallel load.
"""

import time
from collections.abc import Callable
from functools import wraps

from django.db.models import F
from django.http import HttpRequest, HttpResponse

from sandbox.models import Fault
from sandbox.web import JSON_TYPE, json_reply

ENDPOINTS = [value for value, _ in Fault.Endpoint.choices]


def add(endpoint: str, status: int | None = None, count: int = 1, delay: float = 0, malformed: bool = False):
    if endpoint not in ENDPOINTS:
        raise ValueError(f"Unknown endpoint {endpoint!r}; known: {', '.join(ENDPOINTS)}")
    if status is not None and not 100 <= status <= 599:
        raise ValueError("status must be an HTTP status code")
    if count < 1 or delay < 0:
        raise ValueError("count must be at least 1 and delay not negative")
    return Fault.objects.create(
        endpoint=endpoint, status=status, remaining=count, delay=delay, malformed=malformed
    )


def take(endpoint: str) -> Fault | None:
    """Consume one call of the oldest active fault of ``endpoint``, if any."""
    for fault in Fault.objects.filter(endpoint=endpoint, remaining__gt=0).order_by("id"):
        # The condition in the UPDATE makes this a claim: of two requests racing
        # for the last call, only one sees a changed row.
        claimed = Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(remaining=F("remaining") - 1)
        if claimed:
            return fault
    return None


def garble(response: HttpResponse, status: int | None) -> HttpResponse:
    """Cut a reply short so it no longer parses as JSON."""
    if response.streaming:
        body = b'{"error": "connection reset while sen'
    else:
        content = response.content
        body = content[: max(1, len(content) // 2)] + b'\x00{"'
    broken = HttpResponse(body, status=status or response.status_code, content_type=JSON_TYPE)
    for header, value in response.items():
        if header.lower() not in ("content-type", "content-length", "etag", "last-modified"):
            broken[header] = value
    return broken


def fault_point(endpoint: str) -> Callable:
    """Let faults registered for ``endpoint`` act on the decorated view."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            fault = take(endpoint)
            if fault is None:
                return view(request, *args, **kwargs)
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status and not fault.malformed:
                # No Retry-After, even on a 429: neither service documents one.
                return json_reply({"error": "sandbox fault", "status": fault.status}, status=fault.status)
            response = view(request, *args, **kwargs)
            return garble(response, fault.status) if fault.malformed else response

        return wrapper

    return decorate
