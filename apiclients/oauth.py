"""OAuth 2.0 token replies, shared by the Moves and Open Humans clients.

Both services answer the token endpoint with the RFC 6749 shape
(https://datatracker.ietf.org/doc/html/rfc6749#section-5.1); the reply is
validated against ``schemas.TokenReply`` before anything of it is used. The
bodies of token answers are never quoted in errors or logs: a reply cut
short can still hold a live token.
"""

from dataclasses import dataclass

import requests
from pydantic import ValidationError

from apiclients.errors import InvalidGrant, MalformedResponse, PermanentUpstreamError
from apiclients.http import json_body
from apiclients.schemas import OAuthErrorReply, TokenReply

# The error codes of a token endpoint (RFC 6749 section 5.2).
OAUTH_ERROR_CODES = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    }
)


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str
    expires_in: int
    user_id: int | None = None


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
        raise PermanentUpstreamError(service, "token request refused", status)
    if status != 200:
        raise PermanentUpstreamError(service, "unexpected answer from the token endpoint", status)
    try:
        reply = TokenReply.model_validate(json_body(service, response))
    except ValidationError as exc:
        fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
        raise MalformedResponse(
            service, f"token reply lacks a valid {', '.join(fields) or 'body'}", status
        ) from None
    return TokenGrant(
        access_token=reply.access_token,
        refresh_token=reply.refresh_token,
        expires_in=reply.expires_in,
        user_id=reply.user_id,
    )


def _oauth_error(response: requests.Response) -> str | None:
    try:
        reply = OAuthErrorReply.model_validate(response.json())
    except (ValueError, RecursionError, ValidationError):
        return None
    # Only a registered code is named: error_description, or an unknown code,
    # may echo what was sent (a code or a refresh token).
    return reply.error if reply.error in OAUTH_ERROR_CODES else "unrecognised error code"
