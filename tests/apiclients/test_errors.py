import pytest

from apiclients.errors import (
    MOVES,
    OPEN_HUMANS,
    InvalidGrant,
    MalformedResponse,
    PermanentUpstreamError,
    RateLimited,
    TemporaryUpstreamError,
    TooLarge,
    Unauthorized,
    UpstreamError,
)


def test_upstream_error_names_the_service_and_the_status():
    error = PermanentUpstreamError(MOVES, "unexpected answer: nope", 404)

    assert str(error) == "Moves (HTTP 404): unexpected answer: nope"
    assert (error.service, error.status, error.message) == ("Moves", 404, "unexpected answer: nope")


def test_upstream_error_without_a_status_leaves_it_out():
    error = TemporaryUpstreamError(OPEN_HUMANS, "timed out", None)

    assert str(error) == "Open Humans: timed out"
    assert error.status is None


@pytest.mark.parametrize(
    ("kind", "temporary", "base"),
    [
        (TemporaryUpstreamError, True, TemporaryUpstreamError),
        (MalformedResponse, True, TemporaryUpstreamError),
        (PermanentUpstreamError, False, PermanentUpstreamError),
        (InvalidGrant, False, PermanentUpstreamError),
        (Unauthorized, False, PermanentUpstreamError),
        (TooLarge, False, PermanentUpstreamError),
    ],
)
def test_each_error_is_temporary_or_permanent(kind, temporary, base):
    error = kind(MOVES, "x", 400)

    assert error.temporary is temporary
    assert isinstance(error, base)
    assert isinstance(error, UpstreamError)


def test_rate_limited_is_temporary_and_says_when_the_quota_reopens():
    error = RateLimited(MOVES, 1_524_688_440.25)

    assert (error.resets_at, error.status, error.temporary) == (1_524_688_440.25, 429, True)
    assert str(error) == "Moves (HTTP 429): rate limited until the quota resets"
    assert isinstance(error, TemporaryUpstreamError)
