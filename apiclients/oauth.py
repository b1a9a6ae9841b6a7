"""OAuth 2.0 token replies, shared by the Moves and Open Humans clients.

Both services answer the token endpoint with the RFC 6749 shape
(https://datatracker.ietf.org/doc/html/rfc6749#section-5.1); the reply is
validated before anything of it is used.
"""

from dataclasses import dataclass

import requests

from apiclients.errors import InvalidGrant, MalformedResponse, PermanentUpstreamError
from apiclients.http import body_excerpt, json_body


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str
    expires_in: int
    user_id: int | None = None
    scope: str = ""


def parse_token_reply(service: str, response: requests.Response) -> TokenGrant:
    """Turn a token endpoint's answer into a ``TokenGrant``, or raise.

    400/401 with an OAuth ``error`` is ``InvalidGrant`` (a used, expired or
    revoked code or refresh token, or refused client credentials); a 200 whose
    body is not the documented shape is ``MalformedResponse``.
    """
    status = response.status_code
    if status in (400, 401):
        error = _oauth_error(response)
        if error:
            raise InvalidGrant(service, f"token refused: {error}", status)
        raise PermanentUpstreamError(service, f"token request refused: {body_excerpt(response)}", status)
    if status != 200:
        raise PermanentUpstreamError(service, f"unexpected answer: {body_excerpt(response)}", status)
    data = json_body(service, response)
    if not isinstance(data, dict):
        raise MalformedResponse(service, "token reply is not an object", status)
    for key in ("access_token", "refresh_token"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise MalformedResponse(service, f"token reply lacks a string {key}", status)
    expires_in = data.get("expires_in")
    if not _is_int(expires_in) or expires_in <= 0:
        raise MalformedResponse(service, "token reply lacks a positive integer expires_in", status)
    user_id = data.get("user_id")
    if user_id is not None and not _is_int(user_id):
        raise MalformedResponse(service, "token reply has a user_id that is not an integer", status)
    scope = data.get("scope", "")
    if not isinstance(scope, str):
        raise MalformedResponse(service, "token reply has a scope that is not a string", status)
    return TokenGrant(
        access_token=data["access_token"],
        refresh_token=data["refresh_token"],
        expires_in=expires_in,
        user_id=user_id,
        scope=scope,
    )


def _oauth_error(response: requests.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    # Only the short code is kept: error_description may echo what was sent.
    return error[:64] if isinstance(error, str) and error else None


def _is_int(value: object) -> bool:
    # bool is an int subclass; true is not a number of seconds.
    return isinstance(value, int) and not isinstance(value, bool)
