from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from apiclients.errors import (
    InvalidGrant,
    MalformedResponse,
    RateLimited,
    TemporaryUpstreamError,
    Unauthorized,
)
from apiclients.moves import MovesProfile
from apiclients.oauth import TokenGrant


def test_authorize_url_carries_scope_redirect_and_state(moves):
    url = urlsplit(moves.authorize_url("state-123"))

    assert (url.scheme, url.netloc, url.path) == ("https", "api.moves-app.com", "/oauth/v1/authorize")
    assert parse_qs(url.query) == {
        "response_type": ["code"],
        "client_id": ["test-moves-client"],
        "scope": ["activity location"],
        "redirect_uri": ["https://uploader.example.org/moves_complete/"],
        "state": ["state-123"],
    }


def test_exchange_code_returns_the_grant(moves, cassette, sent):
    with cassette("moves_token"):
        grant = moves.exchange_code("the-code")

    assert grant == TokenGrant("moves-access-fake", "moves-refresh-fake", 15551998, user_id=12345678)
    assert parse_qs(sent[0].body) == {
        "grant_type": ["authorization_code"],
        "code": ["the-code"],
        "redirect_uri": ["https://uploader.example.org/moves_complete/"],
        "client_id": ["test-moves-client"],
        "client_secret": ["test-moves-secret"],
    }


def test_refresh_sends_the_refresh_token(moves, cassette, sent):
    with cassette("moves_token"):
        grant = moves.refresh("old-refresh")

    assert grant.refresh_token == "moves-refresh-fake"
    assert parse_qs(sent[0].body)["grant_type"] == ["refresh_token"]
    assert parse_qs(sent[0].body)["refresh_token"] == ["old-refresh"]


def test_refresh_invalid_grant_raises_and_is_not_retried(moves, cassette):
    with cassette("moves_token_invalid_grant") as tape, pytest.raises(InvalidGrant) as caught:
        moves.refresh("retired-refresh")

    assert caught.value.status == 400
    assert "invalid_grant" in str(caught.value)
    assert "retired-refresh" not in str(caught.value)
    assert tape.play_count == 1


def test_exchange_code_malformed_reply_raises(moves, cassette):
    with cassette("moves_token_malformed"), pytest.raises(MalformedResponse):
        moves.exchange_code("the-code")


def test_profile_parses_the_real_shape(moves, cassette, sent):
    with cassette("moves_profile"):
        profile = moves.profile("moves-access-fake")

    assert profile == MovesProfile(
        user_id=12345678, first_date=date(2016, 6, 16), time_zone="America/Los_Angeles"
    )
    assert sent[0].headers["Authorization"] == "Bearer moves-access-fake"


def test_profile_without_first_date_leaves_it_none(moves, cassette):
    with cassette("moves_profile_no_first_date"):
        profile = moves.profile("moves-access-fake")

    assert profile == MovesProfile(user_id=12345678, first_date=None, time_zone=None)


def test_profile_expired_token_raises_unauthorized(moves, cassette):
    with cassette("moves_profile_expired_token") as tape, pytest.raises(Unauthorized) as caught:
        moves.profile("moves-access-fake")

    assert caught.value.status == 401
    assert "moves-access-fake" not in str(caught.value)
    assert tape.play_count == 1


def test_storyline_week_sorts_and_keeps_the_last_copy_of_a_day(moves, cassette, sent):
    with cassette("moves_storyline"):
        days = moves.storyline_week("moves-access-fake", 2016, 24)

    assert [day["date"] for day in days] == ["20160616", "20160617"]
    assert days[1]["caloriesIdle"] == 1785
    assert days[1]["segments"][1]["activities"][0]["trackPoints"][1]["lon"] == 8.6299249
    assert days[0]["segments"] is None
    assert urlsplit(sent[0].url).path == "/api/1.1/user/storyline/daily/2016-W24"


@pytest.mark.parametrize("shape", ["bad_date", "bad_segments", "not_a_list", "not_json"])
def test_storyline_week_malformed_answer_raises(moves, cassette, shape):
    with cassette(f"moves_storyline_{shape}"), pytest.raises(MalformedResponse) as caught:
        moves.storyline_week("moves-access-fake", 2016, 24)

    assert caught.value.temporary is True


def test_profile_rate_limited_uses_retry_after(moves, cassette):
    with cassette("moves_rate_limited_retry_after") as tape, pytest.raises(RateLimited) as caught:
        moves.profile("moves-access-fake")

    assert caught.value.retry_after == 17
    assert tape.play_count == 1


def test_profile_rate_limited_hourly_waits_for_the_hour_window(moves, cassette, settings):
    with cassette("moves_rate_limited_hour"), pytest.raises(RateLimited) as caught:
        moves.profile("moves-access-fake")

    assert caught.value.retry_after == settings.MOVES_HOUR_WINDOW_SECONDS


def test_profile_rate_limited_per_minute_waits_for_the_minute_window(moves, cassette, settings):
    with cassette("moves_rate_limited_minute"), pytest.raises(RateLimited) as caught:
        moves.profile("moves-access-fake")

    assert caught.value.retry_after == settings.MOVES_MINUTE_WINDOW_SECONDS


def test_profile_server_error_is_retried(moves, cassette):
    with cassette("moves_server_error_then_profile") as tape:
        profile = moves.profile("moves-access-fake")

    assert profile.time_zone == "Europe/Berlin"
    assert tape.play_count == 2


def test_profile_server_down_gives_up_after_max_attempts(moves, cassette, settings):
    settings.HTTP_MAX_ATTEMPTS = 3
    with cassette("moves_server_errors") as tape, pytest.raises(TemporaryUpstreamError) as caught:
        moves.profile("moves-access-fake")

    assert tape.play_count == 3
    assert caught.value.status == 503
    assert "upstream unavailable" in str(caught.value)
