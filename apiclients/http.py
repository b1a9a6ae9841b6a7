"""The one place where the upstream clients make HTTP requests.

Every request gets a timeout and every failure becomes an ``apiclients.errors``
type. Nothing is retried here and nothing sleeps: whether and when to try
again is the retry policy's decision (``core.retry``), made once for the
whole run, so one call is never tried in several nested layers.

Nothing here logs headers or URLs: a signed storage URL is itself a secret,
and tokens only ever travel in the ``Authorization`` header.
"""

import email.utils
import math
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import requests
from django.conf import settings

from apiclients.errors import (
    MalformedResponse,
    PermanentUpstreamError,
    RateLimited,
    TemporaryUpstreamError,
    TooLarge,
    Unauthorized,
)

EXCERPT_CHARS = 200
CHUNK_BYTES = 64 * 1024

# Called with every response and the local times the request left and the
# answer arrived; the Moves client learns the server's clock from it.
ReplyObserver = Callable[[requests.Response, float, float], None]


def send(
    method: str,
    url: str,
    *,
    service: str,
    expected: Iterable[int] = (200,),
    session: requests.Session | None = None,
    quote_errors: bool = True,
    observe: ReplyObserver | None = None,
    **requests_kwargs: Any,
) -> requests.Response:
    """Make one request and return its response, whose status is in ``expected``.

    ``quote_errors=False`` keeps the error body out of the exception, for
    endpoints whose answers may hold credentials (token endpoints).
    """
    session = session or requests.Session()
    requests_kwargs.setdefault("timeout", (settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT))
    sent_at = time.time()
    # Exception texts hold the URL (a signed URL is a credential): keep only the kind.
    try:
        response = session.request(method, url, **requests_kwargs)
    except requests.Timeout:
        raise TemporaryUpstreamError(service, "timed out", None) from None
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise TemporaryUpstreamError(service, f"connection failed ({type(exc).__name__})", None) from None
    except requests.RequestException as exc:
        raise PermanentUpstreamError(service, f"request failed ({type(exc).__name__})", None) from None
    if observe is not None:
        observe(response, sent_at, time.time())
    return check(service, response, tuple(expected), quote_errors=quote_errors)


def check(
    service: str, response: requests.Response, expected: tuple[int, ...], *, quote_errors: bool = True
) -> requests.Response:
    """Return ``response`` if its status is expected, else raise the matching error."""
    status = response.status_code
    if status in expected:
        return response
    if quote_errors:
        excerpt = body_excerpt(response)
    else:
        excerpt = "(body not shown)"
        response.close()
    if status == 429:
        raise RateLimited(service, time.time() + retry_after_seconds(response.headers.get("Retry-After")))
    if status == 401:
        raise Unauthorized(service, f"unauthorized: {excerpt}", status)
    if status >= 500:
        raise TemporaryUpstreamError(service, f"server error: {excerpt}", status)
    raise PermanentUpstreamError(service, f"unexpected answer: {excerpt}", status)


def body_excerpt(response: requests.Response) -> str:
    """A short, single-line start of an error body, read without loading a streamed body whole."""
    try:
        chunk = next(response.iter_content(EXCERPT_CHARS * 2), b"")
    except (requests.RequestException, StopIteration, RuntimeError):
        chunk = b""
    finally:
        response.close()
    text = chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else str(chunk)
    text = " ".join(text.split())
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + "..."
    return text or "(empty body)"


def longest_wait_seconds() -> float:
    """The longest any upstream may make us wait: one (scaled) hour, Moves' longest window."""
    return 3600 / settings.RATE_LIMIT_TIME_SCALE


def retry_after_seconds(header: str | None) -> float:
    """A ``Retry-After`` value (seconds or an HTTP date) as seconds, clamped to [1 s, one hour].

    A missing or unreadable header, or one that is not a finite number,
    counts as one minute: a server that says nothing sensible is not trusted
    to say "wait a year" either.
    """
    default = 60 / settings.RATE_LIMIT_TIME_SCALE
    if not header:
        return clamp_wait(default)
    text = header.strip()[:64]
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until_http_date(text, default)
    if not math.isfinite(seconds):
        seconds = default
    return clamp_wait(seconds)


def clamp_wait(seconds: float) -> float:
    return min(max(seconds, 1.0), longest_wait_seconds())


def _seconds_until_http_date(text: str, default: float) -> float:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()


def json_body(service: str, response: requests.Response) -> Any:
    """The decoded JSON of a success answer; a body that is not JSON is a MalformedResponse."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        raise MalformedResponse(service, "answer is not JSON", response.status_code) from None


class BytesSink(Protocol):
    def write(self, chunk: bytes, /) -> int: ...


def spool(service: str, response: requests.Response, out: BytesSink, limit: int) -> int:
    """Copy a streamed body into ``out`` chunk by chunk; returns its size.

    Refuses (``TooLarge``) a body over ``limit`` bytes without reading the
    rest, so one enormous answer cannot exhaust the worker's memory or disk.
    """
    size = 0
    try:
        with response:
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(service, f"answer larger than {size_text(limit)}", None)
                out.write(chunk)
    except requests.RequestException:
        raise TemporaryUpstreamError(service, "transfer interrupted", None) from None
    return size


def bearer(access_token: str) -> dict[str, str]:
    """Headers carrying ``access_token``; tokens never go in URLs, where they end up in logs."""
    return {"Authorization": f"Bearer {access_token}"}


def size_text(count: int) -> str:
    """A byte count as people read it: "12 bytes", "64 KB", "1.5 MB" (powers of 1024)."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if count >= size:
            return f"{round(count / size, 1):g} {unit}"
    return f"{count} bytes"
