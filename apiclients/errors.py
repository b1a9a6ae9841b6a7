"""Typed errors raised by the upstream clients.

Every failure of an upstream call is one of these, so callers decide by type:
temporary ones (timeouts, connection failures, 5xx, a malformed answer) are
worth trying again later, permanent ones are not, and a refused token means
the member must reconnect. Messages never quote tokens, codes, secrets or the
bodies of token endpoints, and name the service in plain words so that a
member can be told which one failed.
"""

MOVES = "Moves"
OPEN_HUMANS = "Open Humans"


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
    """The answer had a success status but a body that is not the documented shape.

    Temporary, because a cut-off or garbled answer usually comes right the next
    time; the retry policy bounds how often, so a reply that is always wrong
    does not loop.
    """


class TooLarge(PermanentUpstreamError):
    """An answer larger than we are willing to hold (``MOVES_MAX_ANSWER_BYTES``, ``OH_MAX_FILE_BYTES``)."""


class RateLimited(TemporaryUpstreamError):
    """The server answered 429; ``resets_at`` is when (our clock, epoch seconds) its quota reopens."""

    def __init__(self, service: str, resets_at: float, status: int | None = 429) -> None:
        self.resets_at = resets_at
        super().__init__(service, "rate limited until the quota resets", status)
