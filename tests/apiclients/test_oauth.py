import io
import json

import pytest
import requests

from apiclients.errors import InvalidGrant, MalformedResponse, PermanentUpstreamError, UpstreamError
from apiclients.oauth import TokenGrant, parse_token_reply

# What a live token could look like; it must never reach an error message.
LIVE = "Qx7_f3b9a8c7e1d2b4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6"


def reply(status: int, body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.raw = io.BytesIO(raw)
    return response


def test_parse_token_reply_moves_shape():
    body = {
        "access_token": "moves-access-fake",
        "token_type": "bearer",
        "expires_in": 15551998,
        "refresh_token": "moves-refresh-fake",
        "user_id": 12345678,
    }

    grant = parse_token_reply("Moves", reply(200, body))

    assert grant == TokenGrant("moves-access-fake", "moves-refresh-fake", 15551998, user_id=12345678)


def test_parse_token_reply_open_humans_shape():
    body = {
        "access_token": "oh-access-fake",
        "expires_in": 36000,
        "token_type": "Bearer",
        "refresh_token": "oh-refresh-fake",
        "scope": "write read direct-sharing-128",
    }

    grant = parse_token_reply("Open Humans", reply(200, body))

    assert grant == TokenGrant("oh-access-fake", "oh-refresh-fake", 36000, user_id=None)


@pytest.mark.parametrize("status", [400, 401])
@pytest.mark.parametrize(
    "code",
    ["invalid_grant", "invalid_client", "invalid_request", "unauthorized_client", "unsupported_grant_type"],
)
def test_parse_token_reply_oauth_error_is_invalid_grant_naming_the_code(status, code):
    with pytest.raises(InvalidGrant) as caught:
        parse_token_reply("Moves", reply(status, {"error": code}))

    assert str(caught.value) == f"Moves (HTTP {status}): token refused: {code}"
    assert caught.value.status == status
    assert caught.value.temporary is False


@pytest.mark.parametrize(
    "body",
    [b"", b"Bad Request", b"[]", b'{"detail": "nope"}', b'{"error": 400}', b"[" * 100_000],
    ids=["empty", "text", "list", "no-error", "error-not-a-string", "deeply-nested"],
)
def test_parse_token_reply_refusal_without_an_oauth_error_is_permanent(body):
    with pytest.raises(PermanentUpstreamError) as caught:
        parse_token_reply("Open Humans", reply(400, body))

    assert type(caught.value) is PermanentUpstreamError
    assert str(caught.value) == "Open Humans (HTTP 400): token request refused"


def test_parse_token_reply_other_status_is_permanent():
    with pytest.raises(PermanentUpstreamError) as caught:
        parse_token_reply("Moves", reply(302, b""))

    assert type(caught.value) is PermanentUpstreamError
    assert str(caught.value) == "Moves (HTTP 302): unexpected answer from the token endpoint"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"access_token": "a", "refresh_token": "r"}, "expires_in"),
        ({"access_token": "a", "refresh_token": "r", "expires_in": True}, "expires_in"),
        ({"access_token": "a", "refresh_token": "r", "expires_in": "36000"}, "expires_in"),
        ({"access_token": "a", "refresh_token": "r", "expires_in": 10, "user_id": False}, "user_id"),
        ({"access_token": "", "refresh_token": 5, "expires_in": 10}, "access_token, refresh_token"),
        ({"token_type": "bearer"}, "access_token, expires_in, refresh_token"),
        ([], "body"),
    ],
)
def test_parse_token_reply_wrong_shape_is_malformed_naming_the_keys(body, fields):
    with pytest.raises(MalformedResponse) as caught:
        parse_token_reply("Moves", reply(200, body))

    assert str(caught.value) == f"Moves (HTTP 200): token reply lacks a valid {fields}"
    assert caught.value.temporary is True


def test_parse_token_reply_not_json_is_malformed():
    with pytest.raises(MalformedResponse) as caught:
        parse_token_reply("Moves", reply(200, b"<html>maintenance</html>"))

    assert str(caught.value) == "Moves (HTTP 200): answer is not JSON"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "invalid_grant", "error_description": f"refresh token {LIVE} was revoked"}),
        (400, {"error": LIVE}),
        (400, {"error": f"invalid_grant {LIVE}"}),
        (401, {"error": "invalid_client", "refresh_token": LIVE}),
        (401, f"token {LIVE} expired".encode()),
        (400, {"detail": LIVE}),
        (200, {"access_token": LIVE, "refresh_token": LIVE, "expires_in": "soon"}),
        (200, {"access_token": LIVE, "refresh_token": "", "expires_in": 10}),
        (200, {"access_token": LIVE, "expires_in": True}),
        (200, f'{{"access_token": "{LIVE}", "refresh_'.encode()),
    ],
)
def test_parse_token_reply_never_quotes_a_token_from_the_body(status, body):
    with pytest.raises(UpstreamError) as caught:
        parse_token_reply("Moves", reply(status, body))

    text = f"{caught.value} {caught.value!r} {caught.value.message}"
    assert LIVE not in text
    assert LIVE[:12] not in text


def test_parse_token_reply_unregistered_error_code_is_not_quoted():
    with pytest.raises(InvalidGrant) as caught:
        parse_token_reply("Moves", reply(400, {"error": "expired_refresh_token"}))

    assert str(caught.value) == "Moves (HTTP 400): token refused: unrecognised error code"
