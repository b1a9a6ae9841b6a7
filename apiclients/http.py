"""The one place where the upstream clients make HTTP requests.

Every request gets a timeout, every failure becomes an ``apiclients.errors``
type, and temporary failures (timeouts, connection errors, 5xx) are retried a
bounded number of times with capped exponential backoff. A 429 is never
retried here: the caller is told how long to wait instead.

Nothing here logs headers or URLs: a signed storage URL is itself a secret,
and tokens only ever travel in the ``Authorization`` header.
"""

import email.utils
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import requests
from django.conf import settings

from apiclients.errors import (
    MalformedResponse,
    PermanentUpstreamError,
    RateLimited,
    TemporaryUpstreamError,
    Unauthorized,
)

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 200


def send(
    method: str,
    url: str,
    *,
    service: str,
    expected: Iterable[int] = (200,),
    session: requests.Session | None = None,
    requester: Any = None,
    realms: list[str] | None = None,
    retry: bool = True,
    **requests_kwargs: Any,
) -> requests.Response:
    """Make one logical request and return its response, whose status is in ``expected``.

    With ``requester`` and ``realms`` every attempt first takes a slot in the
    realms; a full realm raises ``datauploader.ratelimit.RateLimitedError``
    unretried, since waiting is the caller's decision.
    """
    expected = tuple(expected)
    session = session or requests.Session()
    requests_kwargs.setdefault("timeout", (settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT))
    attempts = settings.HTTP_MAX_ATTEMPTS if retry else 1
    body = requests_kwargs.get("data")
    # A streamed file body is consumed by an attempt; rewind it before the next.
    start = body.tell() if hasattr(body, "seek") and hasattr(body, "tell") else None

    def attempt() -> requests.Response:
        # Exception texts hold the URL (a signed URL is a credential): keep only the kind.
        try:
            return session.request(method, url, **requests_kwargs)
        except requests.Timeout:
            raise TemporaryUpstreamError(service, "timed out", None) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TemporaryUpstreamError(service, f"connection failed ({type(exc).__name__})", None) from None
        except requests.RequestException as exc:
            raise PermanentUpstreamError(service, f"request failed ({type(exc).__name__})", None) from None

    for number in range(1, attempts + 1):
        if start is not None:
            body.seek(start)
        try:
            response = requester.request(attempt, realms=realms) if requester and realms else attempt()
            return check(service, response, expected)
        except RateLimited:
            raise
        except TemporaryUpstreamError as exc:
            if number == attempts:
                raise
            delay = backoff_seconds(number)
            logger.warning(
                "%s %s failed (attempt %d of %d), retrying in %.1fs: %s",
                service,
                method,
                number,
                attempts,
                delay,
                exc.message,
            )
            time.sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def backoff_seconds(attempt: int) -> float:
    """The delay after failed attempt number ``attempt`` (1-based), doubling up to the cap."""
    return min(settings.HTTP_BACKOFF_MAX_SECONDS, settings.HTTP_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))


def check(service: str, response: requests.Response, expected: tuple[int, ...]) -> requests.Response:
    """Return ``response`` if its status is expected, else raise the matching error."""
    status = response.status_code
    if status in expected:
        return response
    excerpt = body_excerpt(response)
    if status == 429:
        raise RateLimited(service, retry_after_seconds(response), status)
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
    if isinstance(chunk, bytes):
        chunk = chunk.decode("utf-8", errors="replace")
    text = " ".join(chunk.split())
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + "..."
    return text or "(empty body)"


def retry_after_seconds(response: requests.Response) -> float:
    """How long a 429 asks us to wait: Retry-After, else the exhausted Moves window, else a minute."""
    header = response.headers.get("Retry-After")
    if header:
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    if _exhausted(response, "X-RateLimit-HourRemaining"):
        return float(settings.MOVES_HOUR_WINDOW_SECONDS)
    return float(settings.MOVES_MINUTE_WINDOW_SECONDS)


def _exhausted(response: requests.Response, header: str) -> bool:
    value = response.headers.get(header)
    try:
        return value is not None and int(value) <= 0
    except ValueError:
        return False


def json_body(service: str, response: requests.Response) -> Any:
    """The decoded JSON of a success answer; a body that is not JSON is a MalformedResponse."""
    try:
        return response.json()
    except ValueError:
        raise MalformedResponse(
            service, f"answer is not JSON: {body_excerpt(response)}", response.status_code
        ) from None


def bearer(access_token: str) -> dict[str, str]:
    """Headers carrying ``access_token``; tokens never go in URLs, where they end up in logs."""
    return {"Authorization": f"Bearer {access_token}"}
