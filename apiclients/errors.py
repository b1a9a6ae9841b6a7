"""Typed errors raised by the upstream clients.

Every failure of an upstream call is one of these, so callers decide by type:
temporary ones (timeouts, 5xx, 429) are worth retrying later, permanent ones
are not. Messages never contain tokens, codes or secrets.
"""


class UpstreamError(Exception):
    """A call to Moves or Open Humans failed."""

    temporary = False

    def __init__(self, service: str, message: str, status: int | None = None) -> None:
        self.service = service
        self.status = status
        self.message = message
        status_part = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{service}{status_part}: {message}")


class TemporaryUpstreamError(UpstreamError):
    """Timeouts, connection failures and 5xx answers: try again later."""

    temporary = True


class PermanentUpstreamError(UpstreamError):
    """A 4xx answer that repeating the same call will not fix."""


class InvalidGrant(PermanentUpstreamError):
    """The token endpoint refused the code or refresh token (revoked, used or expired)."""


class Unauthorized(PermanentUpstreamError):
    """An API call was refused for its access token (HTTP 401)."""


class MalformedResponse(TemporaryUpstreamError):
    """The answer had a success status but a body that is not the documented shape."""


class RateLimited(TemporaryUpstreamError):
    """The server answered 429; ``retry_after`` says how long to wait, in seconds."""

    def __init__(self, service: str, retry_after: float, status: int | None = 429) -> None:
        self.retry_after = retry_after
        super().__init__(service, f"rate limited, retry after {retry_after:.1f}s", status)
