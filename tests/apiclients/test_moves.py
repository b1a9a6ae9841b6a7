import json
import math
import time
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from apiclients.errors import (
    InvalidGrant,
    MalformedResponse,
    PermanentUpstreamError,
    RateLimited,
    TemporaryUpstreamError,
    TooLarge,
    Unauthorized,
)
from apiclients.moves import MovesClient, MovesProfile, QuotaSpent
from apiclients.oauth import TokenGrant
from apiclients.quota import Batch, Usage
from tests.apiclients.conftest import Answer, cassette_bodies

TOKEN = "moves-access-fake"
# The minute of the recorded Date headers: 2018-04-25 20:33 UTC.
RECORDED_MINUTE = 25_411_473


@pytest.fixture
def canned_moves(quota, canned_session) -> MovesClient:
    return MovesClient(quota=quota, session=canned_session)


def moves_answer(server_clock, status: int = 200, body: str = "[]", **headers: str):
    """A Moves answer dated by the stand-in server's clock at the moment it is sent."""
    return lambda request: Answer(status, body, {**server_clock.headers(), **headers})


# --- OAuth ---------------------------------------------------------------------------


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

    assert grant == TokenGrant(TOKEN, "moves-refresh-fake", 15551998, user_id=12345678)
    assert sent[0].method == "POST"
    assert parse_qs(sent[0].body) == {
        "grant_type": ["authorization_code"],
        "code": ["the-code"],
        "redirect_uri": ["https://uploader.example.org/moves_complete/"],
        "client_id": ["test-moves-client"],
        "client_secret": ["test-moves-secret"],
    }
    assert urlsplit(sent[0].url).query == ""


def test_refresh_sends_the_refresh_token(moves, cassette, sent):
    with cassette("moves_token"):
        grant = moves.refresh("old-refresh")

    assert grant.refresh_token == "moves-refresh-fake"
    assert parse_qs(sent[0].body) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["old-refresh"],
        "client_id": ["test-moves-client"],
        "client_secret": ["test-moves-secret"],
    }


def test_token_calls_spend_no_quota(moves, cassette, quota):
    with cassette("moves_token"):
        moves.exchange_code("the-code")
    with cassette("moves_token"):
        moves.refresh("old-refresh")

    assert quota.usage() == Usage(0, 59, 0, 1999)


def test_token_calls_need_no_quota(cassette, session):
    with cassette("moves_token"):
        grant = MovesClient(session=session).refresh("old-refresh")

    assert grant.access_token == TOKEN


def test_refresh_invalid_grant_raises_and_is_not_retried(moves, cassette):
    with cassette("moves_token_invalid_grant") as tape, pytest.raises(InvalidGrant) as caught:
        moves.refresh("retired-refresh")

    assert str(caught.value) == "Moves (HTTP 400): token refused: invalid_grant"
    assert tape.play_count == 1


def test_token_server_error_is_not_retried_and_not_quoted(moves, cassette):
    with cassette("moves_token_unavailable") as tape, pytest.raises(TemporaryUpstreamError) as caught:
        moves.exchange_code("the-code")

    assert tape.play_count == 1
    assert str(caught.value) == "Moves (HTTP 502): server error: (body not shown)"


def test_exchange_code_malformed_reply_names_the_key_not_the_tokens(moves, cassette):
    with cassette("moves_token_malformed"), pytest.raises(MalformedResponse) as caught:
        moves.exchange_code("the-code")

    assert str(caught.value) == "Moves (HTTP 200): token reply lacks a valid expires_in"


def test_token_and_data_calls_have_timeouts(canned_moves, canned, settings, server_clock, batch):
    settings.HTTP_CONNECT_TIMEOUT = 2.0
    settings.HTTP_READ_TIMEOUT = 30.0
    canned.answers += [
        Answer(200, '{"access_token":"a","refresh_token":"r","expires_in":10}'),
        moves_answer(server_clock, body='{"userId":1,"profile":{}}'),
        moves_answer(server_clock),
    ]

    canned_moves.refresh("old-refresh")
    canned_moves.profile(TOKEN, batch)
    canned_moves.storyline_week(TOKEN, date(2016, 6, 13), batch).close()

    assert [call.timeout for call in canned.sent] == [(2.0, 30.0)] * 3


# --- Spending the batch ---------------------------------------------------------------


def test_every_data_call_spends_exactly_one_request_then_quota_spent(
    canned_moves, canned, server_clock, batch
):
    canned.answers += [
        moves_answer(server_clock, body='{"userId":12345678,"profile":{}}'),
        moves_answer(server_clock),
        moves_answer(server_clock),
    ]

    canned_moves.profile(TOKEN, batch)
    assert (batch.used, len(canned.sent)) == (1, 1)
    canned_moves.storyline_week(TOKEN, date(2016, 6, 13), batch).close()
    assert (batch.used, len(canned.sent)) == (2, 2)
    canned_moves.storyline_changes(
        TOKEN, date(2016, 6, 1), date(2016, 6, 30), "20170201T000000Z", batch
    ).close()
    assert (batch.used, len(canned.sent)) == (3, 3)

    with pytest.raises(QuotaSpent):
        canned_moves.profile(TOKEN, batch)
    with pytest.raises(QuotaSpent):
        canned_moves.storyline_week(TOKEN, date(2016, 6, 13), batch)
    assert (batch.used, len(canned.sent)) == (3, 3)


def test_data_call_with_a_batch_of_a_past_minute_sends_nothing(canned_moves, canned, server_clock, batch):
    old = Batch(minute=batch.minute - 1, size=5)

    with pytest.raises(QuotaSpent):
        canned_moves.profile(TOKEN, old)
    with pytest.raises(QuotaSpent):
        canned_moves.storyline_changes(TOKEN, date(2016, 6, 1), date(2016, 6, 30), "20170201T000000Z", old)

    assert (old.used, canned.sent) == (0, [])


def test_data_call_without_a_quota_is_refused_before_sending(canned, canned_session, batch):
    client = MovesClient(session=canned_session)

    with pytest.raises(PermanentUpstreamError) as caught:
        client.profile(TOKEN, batch)

    assert str(caught.value) == "Moves: no quota to spend: data calls need a MovesQuota"
    assert canned.sent == []


def test_data_calls_carry_the_token_in_a_bearer_header_only(canned_moves, canned, server_clock, batch):
    canned.answers += [
        moves_answer(server_clock, body='{"userId":1,"profile":{}}'),
        moves_answer(server_clock),
    ]

    canned_moves.profile(TOKEN, batch)
    canned_moves.storyline_week(TOKEN, date(2016, 6, 13), batch, updated_since="20170201T000000Z").close()

    for call in canned.sent:
        assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in call.request.url
        assert "access_token" not in urlsplit(call.request.url).query


# --- Profile -------------------------------------------------------------------------------


def test_profile_reads_the_real_shape(moves, cassette, sent, batch):
    with cassette("moves_profile") as tape:
        profile = moves.profile(TOKEN, batch)

    assert profile == MovesProfile(
        user_id=12345678, first_date=date(2016, 6, 16), time_zone="America/Los_Angeles"
    )
    assert tape.play_count == 1
    assert batch.used == 1
    assert sent[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_profile_teaches_the_quota_the_servers_clock_and_counts(moves, cassette, quota, batch):
    with cassette("moves_profile"):
        moves.profile(TOKEN, batch)

    # The Date says 20:33:39, and the server has counted 1 of 120 this minute
    # and 2 of 4,000 this hour (limits doubled for a new token).
    assert quota.certain_minute() == RECORDED_MINUTE
    assert quota.usage() == Usage(1, 59, 2, 1999)


def test_profile_without_first_date_or_time_zone(moves, cassette, batch):
    with cassette("moves_profile_no_first_date"):
        profile = moves.profile(TOKEN, batch)

    assert profile == MovesProfile(user_id=12345678, first_date=None, time_zone=None)


def test_profile_time_zone_without_an_id(canned_moves, canned, server_clock, batch):
    body = '{"userId":12345678,"profile":{"firstDate":"20160616","currentTimeZone":{"offset":-25200}}}'
    canned.answers.append(moves_answer(server_clock, body=body))

    profile = canned_moves.profile(TOKEN, batch)

    assert profile == MovesProfile(user_id=12345678, first_date=date(2016, 6, 16), time_zone=None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"userId":"12345678","profile":{}}', "profile: userId: Input should be a valid integer"),
        ('{"userId":12345678}', "profile: profile: Field required"),
        ('{"userId":12345678,"profile":{"firstDate":"2016-06-16"}}', "profile: profile.firstDate: "),
        ("[]", "profile: answer: Input should be a valid dictionary or instance of MovesProfileReply"),
        ("<html>", "answer is not JSON"),
    ],
)
def test_profile_wrong_shape_is_malformed(canned_moves, canned, server_clock, batch, body, message):
    canned.answers.append(moves_answer(server_clock, body=body))

    with pytest.raises(MalformedResponse) as caught:
        canned_moves.profile(TOKEN, batch)

    assert caught.value.message.startswith(message)
    assert caught.value.status == 200


def test_profile_expired_token_is_unauthorized(moves, cassette, batch):
    with cassette("moves_profile_expired_token") as tape, pytest.raises(Unauthorized) as caught:
        moves.profile(TOKEN, batch)

    assert caught.value.status == 401
    assert TOKEN not in str(caught.value)
    assert tape.play_count == 1
    assert batch.used == 1


def test_profile_server_error_is_temporary_and_not_retried(moves, cassette, batch):
    with cassette("moves_server_error_then_profile") as tape, pytest.raises(TemporaryUpstreamError) as caught:
        moves.profile(TOKEN, batch)

    assert caught.value.status == 500
    assert tape.play_count == 1
    assert batch.used == 1


# --- Rate limited ----------------------------------------------------------------------------


def test_rate_limited_minute_resets_at_the_servers_next_minute(moves, cassette, batch):
    before = time.time()
    with cassette("moves_rate_limited_minute") as tape, pytest.raises(RateLimited) as caught:
        moves.profile(TOKEN, batch)
    after = time.time()

    # Date 20:33:39, so 20:34:00 is 21 s after the answer arrived, plus the
    # quota's 0.25 s margin; the Retry-After of 3,000 s is not Moves' and is ignored.
    assert before + 21.25 <= caught.value.resets_at <= after + 21.25 + 1e-3
    assert (caught.value.status, caught.value.service, caught.value.temporary) == (429, "Moves", True)
    assert tape.play_count == 1


def test_rate_limited_minute_leaves_no_room_in_that_minute(moves, cassette, quota, batch):
    with cassette("moves_rate_limited_minute"), pytest.raises(RateLimited):
        moves.profile(TOKEN, batch)

    assert quota.usage() == Usage(60, 59, 500, 1999)
    assert quota.free() == 0
    # The batch's two unsent requests belong to the minute Moves refused: none goes back.
    assert batch.left == 0
    assert quota.give_back(batch) == 0
    assert quota.usage() == Usage(60, 59, 500, 1999)


def test_rate_limited_hour_resets_at_the_servers_next_hour(moves, cassette, quota, batch):
    before = time.time()
    with cassette("moves_rate_limited_hour"), pytest.raises(RateLimited) as caught:
        moves.profile(TOKEN, batch)
    after = time.time()

    # 21:00:00 is 1,581 s after the Date of 20:33:39.
    assert before + 1581.25 <= caught.value.resets_at <= after + 1581.25 + 1e-3
    assert quota.usage().hour_used == 2000


def test_rate_limited_without_a_date_uses_the_clock_already_learnt(canned_moves, canned, server_clock, batch):
    canned.answers.append(Answer(429, "Too Many Requests", {"X-RateLimit-HourRemaining": "10"}))

    with pytest.raises(RateLimited) as caught:
        canned_moves.profile(TOKEN, batch)

    # The server was at :30.5 (give or take half a second) when its clock was learnt.
    next_minute = (math.floor(server_clock.now() / 60) + 1) * 60
    assert caught.value.resets_at == pytest.approx(next_minute - server_clock.offset + 0.75, abs=1e-3)


# --- Storyline ---------------------------------------------------------------------------------


def test_storyline_week_keeps_the_days_exactly_as_sent(moves, cassette, sent, batch):
    (body,) = cassette_bodies("moves_storyline_week")

    with cassette("moves_storyline_week"), moves.storyline_week(TOKEN, date(2016, 6, 13), batch) as answer:
        days = list(answer.days())

    # Same values of the same types in the same order: 1830.0 stays a float, 2215 an int.
    assert json.dumps(days) == json.dumps(json.loads(body))
    assert [day["date"] for day in days] == ["20160616", "20160617", "20160618"]
    assert [day.get("lastUpdate") for day in days] == [None, "20160618T104512Z", None]
    assert days[1]["segments"][1]["activities"][0]["trackPoints"][1] == {
        "lat": 50.1208,
        "lon": 8.6611504,
        "time": "20160617T081544-0700",
    }
    assert answer.size == len(body.encode())
    assert answer.out_of_range is False
    assert batch.used == 1
    url = urlsplit(sent[0].url)
    assert url.path == "/api/1.1/user/storyline/daily/2016-W24"
    assert parse_qs(url.query) == {"trackPoints": ["true"]}


def test_storyline_week_asks_for_changes_since(canned_moves, canned, server_clock, batch):
    canned.answers.append(moves_answer(server_clock))

    canned_moves.storyline_week(TOKEN, date(2015, 12, 28), batch, updated_since="20170201T000000Z").close()

    url = urlsplit(canned.sent[0].request.url)
    assert url.path == "/api/1.1/user/storyline/daily/2015-W53"
    assert parse_qs(url.query) == {"trackPoints": ["true"], "updatedSince": ["20170201T000000Z"]}
    assert canned.sent[0].stream is True


def test_storyline_changes_asks_for_a_range_without_track_points(moves, cassette, sent, batch):
    with cassette("moves_storyline_changes") as tape:
        answer = moves.storyline_changes(
            TOKEN, date(2016, 6, 1), date(2016, 6, 30), "20170201T000000Z", batch
        )
        days = list(answer.days())
        answer.close()

    assert tape.play_count == 1
    assert [(day["date"], day["lastUpdate"]) for day in days] == [("20160617", "20170520T081500Z")]
    url = urlsplit(sent[0].url)
    assert url.path == "/api/1.1/user/storyline/daily"
    assert parse_qs(url.query) == {
        "from": ["20160601"],
        "to": ["20160630"],
        "updatedSince": ["20170201T000000Z"],
    }


def test_storyline_days_are_read_one_at_a_time(canned_moves, canned, server_clock, batch):
    body = '[{"date":"20160616","summary":null,"segments":null},{"date":"16 June"}]'
    canned.answers.append(moves_answer(server_clock, body=body))

    with canned_moves.storyline_week(TOKEN, date(2016, 6, 13), batch) as answer:
        days = answer.days()
        first = next(days)
        with pytest.raises(MalformedResponse):
            next(days)

    assert first == {"date": "20160616", "summary": None, "segments": None}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("moves_storyline_bad_date", "storyline day: date: Value error, not a yyyyMMdd date: '2016-06-17'"),
        ("moves_storyline_bad_segments", "storyline day: segments: Input should be a valid list"),
        ("moves_storyline_not_a_list", "storyline: the document is not a JSON list"),
        ("moves_storyline_not_json", "storyline: not complete JSON (IncompleteJSONError)"),
        ("moves_storyline_truncated", "storyline: not complete JSON (IncompleteJSONError)"),
    ],
)
def test_storyline_malformed_answer_is_malformed(moves, cassette, batch, name, message):
    with cassette(name), moves.storyline_week(TOKEN, date(2016, 6, 13), batch) as answer:
        with pytest.raises(MalformedResponse) as caught:
            list(answer.days())

    assert caught.value.message == message
    assert (caught.value.status, caught.value.temporary) == (200, True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[{"date":"20160616"}, 5]', "storyline holds a day that is not an object"),
        ('[{"date":"20160616"}, null]', "storyline holds a day that is not an object"),
        ('"[]"', "storyline: the document is not a JSON list"),
        ("", "storyline: not complete JSON (IncompleteJSONError)"),
        ('[{"date":"20160616"}] trailing', "storyline: not complete JSON (IncompleteJSONError)"),
        ('[{"date":"20160616"}][]', "storyline: not complete JSON (IncompleteJSONError)"),
        ("[" + '{"a":[' * 40 + "1" + "]}" * 40 + "]", "storyline: nested deeper than 64 levels"),
        ("[" * 200_000, "storyline: nested deeper than 64 levels"),
        ('[{"date":"20160616","name":"\udcff"}]'.encode("utf-8", "surrogatepass"), "storyline: "),
    ],
    ids=["number", "null", "string", "empty", "trailing", "two-lists", "deep-day", "deep", "bad-utf8"],
)
def test_storyline_odd_answer_is_malformed(canned_moves, canned, server_clock, batch, body, message):
    canned.answers.append(moves_answer(server_clock, body=body))

    with canned_moves.storyline_week(TOKEN, date(2016, 6, 13), batch) as answer:
        with pytest.raises(MalformedResponse) as caught:
            list(answer.days())

    assert caught.value.message.startswith(message)


def test_storyline_empty_list_has_no_days(canned_moves, canned, server_clock, batch):
    canned.answers.append(moves_answer(server_clock, body=" [ ] \n"))

    with canned_moves.storyline_week(TOKEN, date(2016, 6, 13), batch) as answer:
        assert list(answer.days()) == []


def test_storyline_out_of_range_is_not_an_error(moves, cassette, quota, batch):
    with cassette("moves_storyline_out_of_range"):
        with moves.storyline_week(TOKEN, date(2016, 6, 13), batch) as answer:
            days = list(answer.days())

    assert (answer.out_of_range, days, answer.size) == (True, [], 0)
    assert batch.used == 1
    # The 400 carried the server's counts like any answer.
    assert quota.usage() == Usage(3, 59, 10, 1999)


def test_storyline_unauthorized(canned_moves, canned, server_clock, batch):
    canned.answers.append(moves_answer(server_clock, status=401, body='{"error":"expired_token"}'))

    with pytest.raises(Unauthorized) as caught:
        canned_moves.storyline_week(TOKEN, date(2016, 6, 13), batch)

    assert str(caught.value) == 'Moves (HTTP 401): unauthorized: {"error":"expired_token"}'


@pytest.mark.parametrize("status", [404, 403])
def test_storyline_other_client_error_is_permanent(canned_moves, canned, server_clock, batch, status):
    canned.answers.append(moves_answer(server_clock, status=status, body="nope"))

    with pytest.raises(PermanentUpstreamError) as caught:
        canned_moves.storyline_week(TOKEN, date(2016, 6, 13), batch)

    assert type(caught.value) is PermanentUpstreamError
    assert caught.value.status == status


def test_storyline_over_the_size_limit_is_too_large(moves, cassette, settings, batch):
    settings.MOVES_MAX_ANSWER_BYTES = 1024

    with cassette("moves_storyline_week"), pytest.raises(TooLarge) as caught:
        moves.storyline_week(TOKEN, date(2016, 6, 13), batch)

    assert caught.value.temporary is False


def test_storyline_answer_closed_has_no_days(moves, cassette, batch):
    with cassette("moves_storyline_week"):
        answer = moves.storyline_week(TOKEN, date(2016, 6, 13), batch)

    answer.close()
    answer.close()

    assert list(answer.days()) == []
