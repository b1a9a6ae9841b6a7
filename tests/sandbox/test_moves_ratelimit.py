import time

import pytest

from sandbox import testing

PROFILE = "/sandbox/moves/api/1.1/user/profile"


def call(client, token: str):
    return client.get(PROFILE, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def small_limits(settings):
    settings.SANDBOX_MOVES_REQUESTS_PER_MINUTE = 3
    settings.SANDBOX_MOVES_REQUESTS_PER_HOUR = 100
    # 60 s become 0.5 s.
    settings.RATE_LIMIT_TIME_SCALE = 120
    return settings


@pytest.mark.django_db
def test_every_reply_carries_the_rate_limit_headers(client, moves_access):
    first = call(client, moves_access)
    second = call(client, moves_access)
    assert first["X-RateLimit-MinuteLimit"] == "60"
    assert first["X-RateLimit-HourLimit"] == "2000"
    assert first["X-RateLimit-MinuteRemaining"] == "59"
    assert second["X-RateLimit-MinuteRemaining"] == "58"
    assert second["X-RateLimit-HourRemaining"] == "1998"


@pytest.mark.django_db
def test_beyond_the_minute_limit_answers_429_with_retry_after(client, moves_access, small_limits):
    replies = [call(client, moves_access) for _ in range(4)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    refused = replies[-1]
    assert refused["Retry-After"] == "1"
    assert 0 < float(refused["X-RateLimit-Reset-After"]) <= 0.5
    assert refused["X-RateLimit-MinuteRemaining"] == "0"
    assert b"userId" not in refused.content


@pytest.mark.django_db
def test_the_compressed_minute_window_frees_up(client, moves_access, small_limits):
    for _ in range(3):
        call(client, moves_access)
    refused = call(client, moves_access)
    time.sleep(float(refused["X-RateLimit-Reset-After"]) + 0.05)
    assert call(client, moves_access).status_code == 200


@pytest.mark.django_db
def test_beyond_the_hour_limit_answers_429(client, moves_access, settings):
    settings.SANDBOX_MOVES_REQUESTS_PER_HOUR = 2
    statuses = [call(client, moves_access).status_code for _ in range(3)]
    refused = call(client, moves_access)
    assert statuses == [200, 200, 429]
    assert refused["X-RateLimit-HourRemaining"] == "0"
    assert refused["X-RateLimit-MinuteRemaining"] == "58"
    assert int(refused["Retry-After"]) > 3000


@pytest.mark.django_db
def test_the_limit_counts_the_app_not_the_user(client, moves_user, small_limits):
    other = testing.create_moves_user("bob")
    tokens = [testing.issue_moves_tokens(moves_user)[0], testing.issue_moves_tokens(other)[0]]
    statuses = [call(client, tokens[i % 2]).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]


@pytest.mark.django_db
def test_refused_requests_are_not_counted(client, moves_access, small_limits, redis_db):
    for _ in range(6):
        call(client, moves_access)
    minute_key = "sandbox:ratelimit:moves:test-moves-client:minute"
    assert redis_db.zcard(minute_key) == 3


@pytest.mark.django_db
def test_reset_rate_limits_forgets_the_counts(client, moves_access, small_limits, redis_db):
    for _ in range(4):
        call(client, moves_access)
    testing.reset_rate_limits()
    assert list(redis_db.scan_iter(match="sandbox:*")) == []
    assert call(client, moves_access).status_code == 200
