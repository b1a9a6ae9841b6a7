"""Moves' documented limits: fixed clock windows per app, doubled for new tokens, 429 without Retry-After."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils.http import http_date

from sandbox import testing

PROFILE = "/api/1.1/user/profile"
# A moment two seconds before the top of a minute (and 58 minutes into an hour).
BEFORE_TOP = datetime(2030, 1, 7, 12, 58, 58, tzinfo=UTC)


def call(client, token: str):
    return client.get(PROFILE, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def clock():
    # The clock is the boundary of a rate limiter: stop it instead of waiting for windows.
    with time_machine.travel(BEFORE_TOP, tick=False) as traveller:
        yield traveller


@pytest.fixture
def old_token(moves_user, clock) -> str:
    """A token issued two hours ago: normal limits."""
    return testing.issue_moves_tokens(moves_user, age=7200)[0]


@pytest.fixture
def small_limits(settings):
    settings.SANDBOX_MOVES_REQUESTS_PER_MINUTE = 3
    settings.SANDBOX_MOVES_REQUESTS_PER_HOUR = 100
    return settings


@pytest.mark.django_db
def test_every_reply_carries_the_rate_limit_headers_and_the_date(client, old_token, clock):
    first = call(client, old_token)
    second = call(client, old_token)
    assert (first["X-RateLimit-MinuteLimit"], first["X-RateLimit-HourLimit"]) == ("60", "2000")
    assert (first["X-RateLimit-MinuteRemaining"], first["X-RateLimit-HourRemaining"]) == ("59", "1999")
    assert (second["X-RateLimit-MinuteRemaining"], second["X-RateLimit-HourRemaining"]) == ("58", "1998")
    assert first["Date"] == http_date(BEFORE_TOP.timestamp()) == "Mon, 07 Jan 2030 12:58:58 GMT"


@pytest.mark.django_db
def test_beyond_the_minute_limit_answers_429_without_retry_after(client, old_token, small_limits, clock):
    replies = [call(client, old_token) for _ in range(4)]
    refused = replies[-1]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    assert not refused.has_header("Retry-After")
    assert (refused["X-RateLimit-MinuteRemaining"], refused["X-RateLimit-HourRemaining"]) == ("0", "97")
    assert refused.json() == {"error": "rate limit exceeded"}


@pytest.mark.django_db
def test_the_minute_window_resets_at_the_top_of_the_minute(client, old_token, small_limits, clock):
    for _ in range(3):
        call(client, old_token)
    clock.shift(timedelta(seconds=1.5))  # 12:58:59.5, still the same minute
    assert call(client, old_token).status_code == 429
    clock.shift(timedelta(seconds=0.5))  # 12:59:00.0
    fresh = call(client, old_token)
    assert fresh.status_code == 200
    assert fresh["X-RateLimit-MinuteRemaining"] == "2"
    assert fresh["Date"] == "Mon, 07 Jan 2030 12:59:00 GMT"


@pytest.mark.django_db
def test_the_windows_are_fixed_not_sliding(client, old_token, small_limits, clock):
    clock.move_to(datetime(2030, 1, 7, 12, 58, 0, tzinfo=UTC))
    for _ in range(3):
        call(client, old_token)
    clock.move_to(datetime(2030, 1, 7, 12, 59, 0, 500_000, tzinfo=UTC))
    # A sliding minute would still hold the three requests from 60.5 s ago... and more below.
    assert [call(client, old_token).status_code for _ in range(4)] == [200, 200, 200, 429]


@pytest.mark.django_db
def test_beyond_the_hour_limit_answers_429_until_the_top_of_the_hour(client, old_token, settings, clock):
    settings.SANDBOX_MOVES_REQUESTS_PER_HOUR = 2
    statuses = [call(client, old_token).status_code for _ in range(3)]
    clock.move_to(datetime(2030, 1, 7, 12, 59, 59, tzinfo=UTC))
    late = call(client, old_token)
    clock.move_to(datetime(2030, 1, 7, 13, 0, 0, tzinfo=UTC))
    next_hour = call(client, old_token)
    assert statuses == [200, 200, 429]
    assert (late.status_code, late["X-RateLimit-HourRemaining"]) == (429, "0")
    assert (next_hour.status_code, next_hour["X-RateLimit-HourRemaining"]) == (200, "1")


@pytest.mark.django_db
def test_windows_scale_with_the_time_scale(client, old_token, small_limits, clock):
    small_limits.RATE_LIMIT_TIME_SCALE = 30  # minutes of 2 s, hours of 2 minutes
    clock.move_to(datetime(2030, 1, 7, 12, 0, 0, tzinfo=UTC))
    for _ in range(3):
        call(client, old_token)
    clock.shift(timedelta(seconds=1.9))
    assert call(client, old_token).status_code == 429
    clock.shift(timedelta(seconds=0.1))
    assert call(client, old_token).status_code == 200


@pytest.mark.django_db
def test_a_new_token_gets_double_limits_for_an_hour(client, moves_user, clock):
    new, _ = testing.issue_moves_tokens(moves_user)
    fresh = call(client, new)
    clock.shift(timedelta(minutes=59, seconds=59))
    still_new = call(client, new)
    clock.shift(timedelta(seconds=1))
    normal = call(client, new)
    assert (fresh["X-RateLimit-MinuteLimit"], fresh["X-RateLimit-HourLimit"]) == ("120", "4000")
    assert fresh["X-RateLimit-MinuteRemaining"] == "119"
    assert still_new["X-RateLimit-MinuteLimit"] == "120"
    assert (normal["X-RateLimit-MinuteLimit"], normal["X-RateLimit-HourLimit"]) == ("60", "2000")


@pytest.mark.django_db
def test_a_new_token_counts_against_the_same_windows_with_the_doubled_limit(
    client, moves_user, old_token, small_limits, clock
):
    new, _ = testing.issue_moves_tokens(moves_user)
    old_statuses = [call(client, old_token).status_code for _ in range(4)]
    new_replies = [call(client, new) for _ in range(3)]
    assert old_statuses == [200, 200, 200, 429]
    assert [r.status_code for r in new_replies] == [200, 200, 200]
    assert [r["X-RateLimit-MinuteRemaining"] for r in new_replies] == ["2", "1", "0"]
    assert call(client, new).status_code == 429
    assert call(client, old_token).status_code == 429


@pytest.mark.django_db
def test_the_limit_counts_the_app_not_the_user(client, moves_user, small_limits, clock):
    other = testing.create_moves_user("bob")
    tokens = [
        testing.issue_moves_tokens(moves_user, age=7200)[0],
        testing.issue_moves_tokens(other, age=7200)[0],
    ]
    assert [call(client, tokens[i % 2]).status_code for i in range(4)] == [200, 200, 200, 429]


@pytest.mark.django_db
def test_refused_requests_are_not_counted(client, old_token, small_limits, clock, redis_db):
    for _ in range(6):
        call(client, old_token)
    minute = int(BEFORE_TOP.timestamp() // 60)
    assert redis_db.get(f"sandbox:moves:test-moves-client:minute:{minute}") == b"3"


@pytest.mark.django_db
def test_token_requests_are_not_counted(client, moves_user, old_token, clock):
    _, refresh = testing.issue_moves_tokens(moves_user)
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh,
        "client_id": "test-moves-client",
        "client_secret": "test-moves-secret",
    }
    assert client.post("/oauth/v1/access_token", data).status_code == 200
    assert call(client, old_token)["X-RateLimit-MinuteRemaining"] == "59"


@pytest.mark.django_db
def test_reset_rate_limits_forgets_the_counts(client, old_token, small_limits, clock, redis_db):
    for _ in range(4):
        call(client, old_token)
    testing.reset_rate_limits()
    assert list(redis_db.scan_iter(match="sandbox:*")) == []
    assert call(client, old_token).status_code == 200
