import io
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from apiclients import http
from apiclients.errors import (
    MalformedResponse,
    PermanentUpstreamError,
    RateLimited,
    TemporaryUpstreamError,
    TooLarge,
    Unauthorized,
)
from tests.apiclients.conftest import Answer

URL = "https://api.moves-app.com/api/1.1/user/profile"
SIGNED = "https://storage.example.org/member-files/1/f.json?Signature=s3cr3t-signature"


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.raw = io.BytesIO(body)
    response.headers.update(headers or {})
    return response


# --- send: one attempt, with timeouts -----------------------------------------------


def test_send_returns_an_expected_answer(canned, canned_session):
    canned.answers.append(Answer(201, b'{"id": 1}'))

    response = http.send("POST", URL, service="Moves", session=canned_session, expected=(201,))

    assert (response.status_code, response.json()) == (201, {"id": 1})


def test_send_sets_both_timeouts_on_every_call(canned, canned_session, settings):
    settings.HTTP_CONNECT_TIMEOUT = 3.5
    settings.HTTP_READ_TIMEOUT = 42.0
    canned.answers += [Answer(200), Answer(200, b"x"), Answer(503)]

    http.send("GET", URL, service="Moves", session=canned_session)
    http.send("PUT", SIGNED, service="Open Humans", session=canned_session, stream=True, data=b"x")
    with pytest.raises(TemporaryUpstreamError):
        http.send("GET", URL, service="Moves", session=canned_session)

    assert [call.timeout for call in canned.sent] == [(3.5, 42.0)] * 3


def test_send_keeps_a_timeout_the_caller_chose(canned, canned_session):
    canned.answers.append(Answer(200))

    http.send("GET", URL, service="Moves", session=canned_session, timeout=(1.0, 2.0))

    assert canned.sent[0].timeout == (1.0, 2.0)


def test_send_error_makes_one_attempt_and_does_not_sleep(canned, canned_session):
    # A repeat would succeed: the transport must not try it, nor wait for Retry-After.
    canned.answers += [Answer(429, b"slow down", {"Retry-After": "30"}), Answer(503, b"busy"), Answer(200)]
    started = time.monotonic()

    with pytest.raises(RateLimited):
        http.send("GET", URL, service="Moves", session=canned_session)
    with pytest.raises(TemporaryUpstreamError):
        http.send("GET", URL, service="Moves", session=canned_session)

    assert len(canned.sent) == 2
    assert time.monotonic() - started < 1.0


def test_send_calls_observe_with_every_answer_before_checking_it(canned, canned_session):
    canned.answers.append(Answer(503, b"busy", {"Date": "Wed, 25 Apr 2018 20:33:39 GMT"}))
    seen: list[tuple[int, str, float, float]] = []
    before = time.time()

    with pytest.raises(TemporaryUpstreamError):
        http.send(
            "GET",
            URL,
            service="Moves",
            session=canned_session,
            observe=lambda response, sent_at, received_at: seen.append(
                (response.status_code, response.headers["Date"], sent_at, received_at)
            ),
        )

    after = time.time()
    assert [(status, date) for status, date, _, _ in seen] == [(503, "Wed, 25 Apr 2018 20:33:39 GMT")]
    _, _, sent_at, received_at = seen[0]
    assert before <= sent_at <= received_at <= after


@pytest.mark.parametrize(
    ("failure", "error", "message"),
    [
        (requests.ReadTimeout(f"Read timed out. (url: {SIGNED})"), TemporaryUpstreamError, "timed out"),
        (requests.ConnectTimeout(f"timed out: {SIGNED}"), TemporaryUpstreamError, "timed out"),
        (
            requests.ConnectionError(f"Max retries exceeded with url: {SIGNED}"),
            TemporaryUpstreamError,
            "connection failed (ConnectionError)",
        ),
        (
            requests.exceptions.ChunkedEncodingError(f"broken: {SIGNED}"),
            TemporaryUpstreamError,
            "connection failed (ChunkedEncodingError)",
        ),
        (
            requests.TooManyRedirects(f"Exceeded 30 redirects: {SIGNED}"),
            PermanentUpstreamError,
            "request failed (TooManyRedirects)",
        ),
    ],
)
def test_send_network_failure_names_its_kind_without_the_url(canned, canned_session, failure, error, message):
    canned.answers.append(failure)

    with pytest.raises(error) as caught:
        http.send("GET", SIGNED, service="Open Humans", session=canned_session)

    assert type(caught.value) is error
    assert str(caught.value) == f"Open Humans: {message}"
    assert caught.value.status is None
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


def test_send_body_cut_off_while_read_is_temporary(canned, canned_session):
    canned.answers.append(Answer(200, b"[" + b"1," * 1000, break_after=100))

    with pytest.raises(TemporaryUpstreamError) as caught:
        http.send("GET", URL, service="Moves", session=canned_session)

    assert str(caught.value) == "Moves: connection failed (ChunkedEncodingError)"


# --- check: one error type per status ---------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (400, PermanentUpstreamError, "unexpected answer"),
        (403, PermanentUpstreamError, "unexpected answer"),
        (404, PermanentUpstreamError, "unexpected answer"),
        (409, PermanentUpstreamError, "unexpected answer"),
        (401, Unauthorized, "unauthorized"),
        (500, TemporaryUpstreamError, "server error"),
        (502, TemporaryUpstreamError, "server error"),
        (503, TemporaryUpstreamError, "server error"),
        (504, TemporaryUpstreamError, "server error"),
    ],
)
def test_check_status_raises_its_error_type(status, error, words):
    with pytest.raises(error) as caught:
        http.check("Moves", answer(status, b'{"detail": "nope"}'), (200,))

    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.service == "Moves"
    assert str(caught.value) == f'Moves (HTTP {status}): {words}: {{"detail": "nope"}}'
    assert caught.value.temporary is (status >= 500)


def test_check_expected_status_passes_whatever_it_is():
    response = answer(400, b"x")

    assert http.check("Moves", response, (200, 400)) is response


def test_check_429_is_rate_limited_until_retry_after():
    before = time.time()

    with pytest.raises(RateLimited) as caught:
        http.check("Moves", answer(429, b"", {"Retry-After": "17"}), (200,))

    assert before + 17 <= caught.value.resets_at <= time.time() + 17
    assert caught.value.status == 429
    assert caught.value.temporary is True


@pytest.mark.parametrize(("header", "wait"), [("1e9", 3600.0), ("-30", 1.0), ("inf", 60.0), (None, 60.0)])
def test_check_429_wait_is_clamped(header, wait):
    headers = {"Retry-After": header} if header is not None else {}
    before = time.time()

    with pytest.raises(RateLimited) as caught:
        http.check("Moves", answer(429, b"", headers), (200,))

    assert before + wait <= caught.value.resets_at <= time.time() + wait


def test_check_quote_errors_false_keeps_the_body_out():
    refused = answer(400, b'{"error": "invalid_grant", "refresh_token": "moves-refresh-L1ve70k3n"}')

    with pytest.raises(PermanentUpstreamError) as caught:
        http.check("Moves", refused, (200,), quote_errors=False)

    assert str(caught.value) == "Moves (HTTP 400): unexpected answer: (body not shown)"
    assert "L1ve70k3n" not in caught.value.message


def test_check_quote_errors_false_keeps_an_unauthorized_body_out():
    with pytest.raises(Unauthorized) as caught:
        http.check("Moves", answer(401, b"token moves-access-L1ve70k3n expired"), (200,), quote_errors=False)

    assert str(caught.value) == "Moves (HTTP 401): unauthorized: (body not shown)"


def test_check_error_excerpt_is_one_short_line():
    body = b"bad\n\n  gateway\t" + b"x" * 5000

    with pytest.raises(TemporaryUpstreamError) as caught:
        http.check("Moves", answer(502, body), (200,))

    excerpt = "bad gateway " + "x" * 188 + "..."
    assert caught.value.message == f"server error: {excerpt}"


def test_check_empty_error_body_says_so():
    with pytest.raises(PermanentUpstreamError) as caught:
        http.check("Open Humans", answer(404), (200,))

    assert str(caught.value) == "Open Humans (HTTP 404): unexpected answer: (empty body)"


def test_check_streamed_error_body_is_read_no_further_than_the_excerpt(canned, canned_session):
    canned.answers.append(Answer(500, b"e" * 1_000_000))

    with pytest.raises(TemporaryUpstreamError):
        http.send("GET", URL, service="Moves", session=canned_session, stream=True)

    assert canned.bodies[0].position == 2 * http.EXCERPT_CHARS


# --- retry_after_seconds --------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("17", 17.0),
        ("  17  ", 17.0),
        ("2.5", 2.5),
        ("0", 1.0),
        ("0.2", 1.0),
        ("-5", 1.0),
        ("-0", 1.0),
        ("3600", 3600.0),
        ("3601", 3600.0),
        ("1e9", 3600.0),
        ("9" * 400, 3600.0),
        ("inf", 60.0),
        ("-inf", 60.0),
        ("Infinity", 60.0),
        ("nan", 60.0),
        ("1e999", 60.0),
        ("soon", 60.0),
        ("", 60.0),
        (None, 60.0),
        ("\x00", 60.0),
        ("Mon, 99 Foo 2018 99:99:99 GMT", 60.0),
        ("Wed, 25 Apr 99999 20:33:39 GMT", 60.0),
        ("Wed, 25 Apr 2018 20:33:39 +9999", 60.0),
        ("Wed, 25 Apr 2018 20:33:39 GMT", 1.0),
        ("Mon, 01 Jan 0001 00:00:00 GMT", 1.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 3600.0),
    ],
)
def test_retry_after_seconds_is_within_one_second_and_one_hour(header, seconds):
    assert http.retry_after_seconds(header) == seconds


def test_retry_after_seconds_reads_an_http_date():
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=120)

    wait = http.retry_after_seconds(format_datetime(when, usegmt=True))

    assert 119.0 < wait <= 120.0


def test_retry_after_seconds_reads_an_http_date_without_a_zone_as_utc():
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=300)

    wait = http.retry_after_seconds(when.strftime("%a, %d %b %Y %H:%M:%S"))

    assert 299.0 < wait <= 300.0


@pytest.mark.parametrize(
    ("header", "seconds"), [("1e9", 60.0), ("30", 30.0), ("nonsense", 1.0), (None, 1.0), ("0", 1.0)]
)
def test_retry_after_seconds_scales_with_the_windows(settings, header, seconds):
    settings.RATE_LIMIT_TIME_SCALE = 60.0

    assert http.longest_wait_seconds() == 60.0
    assert http.retry_after_seconds(header) == seconds


# --- spool and json_body ---------------------------------------------------------------


def test_spool_copies_a_streamed_body_and_counts_it(canned, canned_session):
    data = bytes(range(256)) * 1000
    canned.answers.append(Answer(200, data))
    response = http.send("GET", SIGNED, service="Open Humans", session=canned_session, stream=True)
    out = io.BytesIO()

    size = http.spool("Open Humans", response, out, limit=len(data))

    assert (size, out.getvalue()) == (len(data), data)


def test_spool_over_the_limit_raises_too_large_without_reading_the_rest(canned, canned_session):
    canned.answers.append(Answer(200, b"x" * (50 * http.CHUNK_BYTES)))
    response = http.send("GET", SIGNED, service="Open Humans", session=canned_session, stream=True)
    out = io.BytesIO()

    with pytest.raises(TooLarge) as caught:
        http.spool("Open Humans", response, out, limit=http.CHUNK_BYTES + 1)

    # The second chunk crossed the limit: nothing after it was read, and it was not written.
    assert canned.bodies[0].position == 2 * http.CHUNK_BYTES
    assert out.getvalue() == b"x" * http.CHUNK_BYTES
    assert caught.value.temporary is False
    assert caught.value.service == "Open Humans"
    assert caught.value.message == f"answer larger than {http.size_text(http.CHUNK_BYTES + 1)}"


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 bytes"), (1023, "1023 bytes"), (1024, "1 KB"), (65_537, "64 KB"), (1536 * 1024, "1.5 MB")],
)
def test_sizes_are_written_as_people_read_them(count, text):
    assert http.size_text(count) == text


def test_spool_exactly_the_limit_is_accepted(canned, canned_session):
    canned.answers.append(Answer(200, b"y" * 1000))
    response = http.send("GET", SIGNED, service="Moves", session=canned_session, stream=True)

    assert http.spool("Moves", response, io.BytesIO(), limit=1000) == 1000


def test_spool_transfer_cut_off_is_temporary(canned, canned_session):
    canned.answers.append(Answer(200, b"z" * (3 * http.CHUNK_BYTES), break_after=http.CHUNK_BYTES))
    response = http.send("GET", SIGNED, service="Moves", session=canned_session, stream=True)

    with pytest.raises(TemporaryUpstreamError) as caught:
        http.spool("Moves", response, io.BytesIO(), limit=10 * http.CHUNK_BYTES)

    assert str(caught.value) == "Moves: transfer interrupted"


def test_json_body_decodes_json():
    assert http.json_body("Moves", answer(200, b'{"userId": 1}')) == {"userId": 1}


@pytest.mark.parametrize(
    "body",
    [b"<html>Service Unavailable</html>", b"", b'{"userId": 1', b"\xff\xfe\x00", b"[" * 100_000],
    ids=["html", "empty", "truncated", "not-utf8", "deeply-nested"],
)
def test_json_body_not_json_is_malformed(body):
    with pytest.raises(MalformedResponse) as caught:
        http.json_body("Moves", answer(200, body))

    assert str(caught.value) == "Moves (HTTP 200): answer is not JSON"
    assert caught.value.temporary is True


def test_json_body_nested_deeper_than_python_recurses_is_malformed():
    nested = "[" * 100_000 + "]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(nested)

    with pytest.raises(MalformedResponse):
        http.json_body("Moves", answer(200, nested.encode()))


def test_bearer_puts_the_token_in_the_authorization_header():
    assert http.bearer("moves-access-fake") == {"Authorization": "Bearer moves-access-fake"}
