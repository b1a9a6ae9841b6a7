import io
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urlsplit

import pytest
import requests

from apiclients import http
from apiclients.errors import RateLimited, TemporaryUpstreamError
from apiclients.moves import MovesClient
from apiclients.openhumans import OpenHumansClient
from datauploader.ratelimit import RateLimitedError


def answer(status: int, body: bytes = b"{}", headers: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.raw = io.BytesIO(body)
    response.headers.update(headers or {})
    return response


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, str, dict]]:
    """Every call reaching requests' Session.request, answered with an empty success.

    Patched at the boundary because what is checked is how the clients call
    requests (timeouts, where tokens go), not what a server answers.
    """
    seen: list[tuple[str, str, dict]] = []

    def fake_request(self, method, url, **kwargs):
        seen.append((method, url, kwargs))
        if "storyline" in url:
            return answer(200, b"[]")
        if "profile" in url:
            return answer(200, b'{"userId": 1, "profile": {}}')
        if "upload/direct" in url:
            return answer(201, b'{"id": 1, "url": "https://storage.example.org/1?Signature=x"}')
        if "upload/complete" in url:
            return answer(200, b'{"status": "ok", "size": 2}')
        if "delete" in url:
            return answer(200, b'{"ids": []}')
        if "exchange-member" in url:
            return answer(200, b'{"project_member_id": "23456789", "message_permission": false, "data": []}')
        if "token" in url:
            return answer(200, b'{"access_token": "a", "refresh_token": "r", "expires_in": 10}')
        return answer(200, b"[]")

    monkeypatch.setattr(requests.Session, "request", fake_request)
    return seen


def call_every_client_function(tmp_path) -> None:
    moves = MovesClient()
    moves.exchange_code("code-1")
    moves.refresh("refresh-1")
    moves.profile("secret-access-token")
    moves.storyline_week("secret-access-token", 2016, 24)
    oh = OpenHumansClient()
    oh.exchange_code("code-2")
    oh.refresh("refresh-2")
    oh.exchange_member("secret-access-token")
    path = tmp_path / "upload.json"
    path.write_text("[]")
    oh.upload("secret-access-token", "23456789", path, "f.json", {"description": "d", "tags": []})
    oh.delete_file("secret-access-token", "23456789", 1)
    oh.delete_files_named("secret-access-token", "23456789", "f.json")
    oh.send_message("secret-access-token", "s", "m")
    oh.download("https://storage.example.org/1?Signature=x", tmp_path / "down.json")


def test_every_request_has_a_timeout(calls, tmp_path, settings):
    settings.HTTP_CONNECT_TIMEOUT = 3.5
    settings.HTTP_READ_TIMEOUT = 42.0

    call_every_client_function(tmp_path)

    assert len(calls) == 14
    assert [kwargs.get("timeout") for _, _, kwargs in calls] == [(3.5, 42.0)] * 14


def test_no_request_url_carries_a_token(calls, tmp_path):
    call_every_client_function(tmp_path)

    for _, url, kwargs in calls:
        # Moves' token endpoint is itself called /access_token; only the query may not name it.
        assert "access_token" not in urlsplit(url).query
        assert "secret-access-token" not in url
        assert "secret-access-token" not in str(kwargs.get("params"))
    bearers = [kwargs["headers"]["Authorization"] for _, _, kwargs in calls if "headers" in kwargs]
    assert bearers == ["Bearer secret-access-token"] * 8


def test_moves_data_calls_take_one_slot_of_both_realms(calls, settings):
    requester = settings.MOVES_REQUESTER
    client = MovesClient()

    client.profile("secret-access-token")
    client.storyline_week("secret-access-token", 2016, 24)
    client.refresh("refresh-1")

    assert settings.MOVES_REALMS == ["moves", "moves-hourly"]
    assert [requester.requests_in_window(realm) for realm in settings.MOVES_REALMS] == [2, 2]


def test_moves_full_realm_raises_before_any_request(calls, settings):
    settings.MOVES_REQUESTER.register_realm("moves", max_requests=2, timespan=60)
    try:
        client = MovesClient()
        client.profile("secret-access-token")
        with pytest.raises(RateLimitedError) as caught:
            client.profile("secret-access-token")
    finally:
        settings.MOVES_REQUESTER.register_realm(
            "moves",
            max_requests=settings.MOVES_REQUESTS_PER_MINUTE,
            timespan=settings.MOVES_MINUTE_WINDOW_SECONDS,
        )

    # The safety threshold of 1 leaves one slot of two.
    assert len(calls) == 1
    assert 0 < caught.value.retry_after <= 60


def test_retry_after_http_date_is_turned_into_seconds():
    when = datetime.now(UTC) + timedelta(seconds=120)

    with pytest.raises(RateLimited) as caught:
        http.check("Moves", answer(429, b"", {"Retry-After": format_datetime(when, usegmt=True)}), (200,))

    assert 115 <= caught.value.retry_after <= 120


def test_retry_after_without_headers_waits_a_minute_window(settings):
    settings.MOVES_MINUTE_WINDOW_SECONDS = 2.0

    with pytest.raises(RateLimited) as caught:
        http.check("Moves", answer(429, b"slow down"), (200,))

    assert caught.value.retry_after == 2.0


def test_backoff_doubles_up_to_the_cap(settings):
    settings.HTTP_BACKOFF_BASE_SECONDS = 1.0
    settings.HTTP_BACKOFF_MAX_SECONDS = 5.0

    assert [http.backoff_seconds(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_timeouts_are_retried_then_raised_without_the_url(monkeypatch, settings):
    settings.HTTP_MAX_ATTEMPTS = 3
    attempts: list[str] = []

    # The boundary again: a timeout can only be produced by the network layer.
    def time_out(self, method, url, **kwargs):
        attempts.append(url)
        raise requests.ReadTimeout(f"HTTPSConnectionPool: Read timed out. (url: {url})")

    monkeypatch.setattr(requests.Session, "request", time_out)

    with pytest.raises(TemporaryUpstreamError) as caught:
        http.send("GET", "https://api.moves-app.com/api/1.1/user/profile?x=secret", service="Moves")

    assert len(attempts) == 3
    assert "secret" not in str(caught.value)


def test_error_excerpt_is_short_and_single_line():
    with pytest.raises(TemporaryUpstreamError) as caught:
        http.check("Moves", answer(502, b"bad\n\ngateway " + b"x" * 5000), (200,))

    assert "\n" not in str(caught.value)
    assert len(str(caught.value)) < 260
