"""Switches that make the next calls of an endpoint fail, stall or answer garbage.

A fault row says: for the next ``remaining`` calls of ``endpoint``, wait
``delay`` seconds, then answer ``status`` (with a small error body), or give
the real answer a spoiled body: truncated so it is no longer valid JSON
(``malformed``), JSON nested deeper than any parser goes (``nested``), or a
valid JSON list of ``oversized`` bytes. ``retry_after`` adds that
``Retry-After`` header, exactly as given. Concurrent requests each consume
one call through a conditional UPDATE, so a fault set for N calls hits
exactly N requests even under parallel load.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from functools import wraps

from django.db.models import F
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from sandbox.models import Fault
from sandbox.web import JSON_TYPE, json_reply

ENDPOINTS = [value for value, _ in Fault.Endpoint.choices]
# A list of 100,000 opening brackets took gigabytes in a parser that tracks paths.
NESTED_DEPTH = 100_000
CHUNK_BYTES = 64 * 1024
_OVERSIZED_HEAD = b'[{"date":"20000101","padding":"'
_OVERSIZED_TAIL = b'"}]'


def add(
    endpoint: str,
    status: int | None = None,
    count: int = 1,
    delay: float = 0,
    malformed: bool = False,
    nested: bool = False,
    oversized: int | None = None,
    retry_after: str = "",
):
    if endpoint not in ENDPOINTS:
        raise ValueError(f"Unknown endpoint {endpoint!r}; known: {', '.join(ENDPOINTS)}")
    if status is not None and not 100 <= status <= 599:
        raise ValueError("status must be an HTTP status code")
    if count < 1 or delay < 0:
        raise ValueError("count must be at least 1 and delay not negative")
    if oversized is not None and oversized < len(_OVERSIZED_HEAD + _OVERSIZED_TAIL):
        raise ValueError(f"oversized must be at least {len(_OVERSIZED_HEAD + _OVERSIZED_TAIL)} bytes")
    if sum((malformed, nested, bool(oversized))) > 1:
        raise ValueError("choose one way to spoil the answer: malformed, nested or oversized")
    return Fault.objects.create(
        endpoint=endpoint,
        status=status,
        remaining=count,
        delay=delay,
        malformed=malformed,
        nested=nested,
        oversized=oversized or None,
        retry_after=retry_after,
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


def with_body(
    response: HttpResponse, body: bytes | Iterable[bytes], status: int | None
) -> HttpResponse | StreamingHttpResponse:
    """``response`` with another body (and status, if given), keeping its other headers."""
    status = status or response.status_code
    if isinstance(body, bytes):
        replaced: HttpResponse | StreamingHttpResponse = HttpResponse(
            body, status=status, content_type=JSON_TYPE
        )
    else:
        replaced = StreamingHttpResponse(body, status=status, content_type=JSON_TYPE)
    for header, value in response.items():
        if header.lower() not in ("content-type", "content-length", "etag", "last-modified"):
            replaced[header] = value
    return replaced


def garble(response: HttpResponse, status: int | None) -> HttpResponse:
    """Cut a reply short so it no longer parses as JSON."""
    if response.streaming:
        body = b'{"error": "connection reset while sen'
    else:
        content = response.content
        body = content[: max(1, len(content) // 2)] + b'\x00{"'
    return with_body(response, body, status)


def nested_body(depth: int = NESTED_DEPTH) -> bytes:
    """A complete JSON document of lists nested ``depth`` deep."""
    return b"[" * depth + b"]" * depth


def oversized_body(size: int) -> Iterator[bytes]:
    """A valid JSON list of exactly ``size`` bytes (one day with a long padding string), in chunks."""
    yield _OVERSIZED_HEAD
    left = size - len(_OVERSIZED_HEAD) - len(_OVERSIZED_TAIL)
    while left > 0:
        chunk = min(left, CHUNK_BYTES)
        yield b"x" * chunk
        left -= chunk
    yield _OVERSIZED_TAIL


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
            spoiled = fault.malformed or fault.nested or fault.oversized
            if fault.status and not spoiled:
                # No Retry-After unless asked for, even on a 429: neither service documents one.
                response = json_reply({"error": "sandbox fault", "status": fault.status}, status=fault.status)
            else:
                response = view(request, *args, **kwargs)
                if fault.malformed:
                    response = garble(response, fault.status)
                elif fault.nested:
                    response = with_body(response, nested_body(), fault.status)
                elif fault.oversized:
                    response = with_body(response, oversized_body(fault.oversized), fault.status)
            if fault.retry_after:
                response["Retry-After"] = fault.retry_after
            return response

        return wrapper

    return decorate
