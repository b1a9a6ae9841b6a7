"""Authorization codes, token pairs and the token endpoint, shared by both stand-in servers.

Codes are single use: redeeming one is a conditional UPDATE, so two
concurrent exchanges of the same code cannot both succeed. Refreshing works
the same way and retires the whole old pair (access and refresh token).
"""

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from sandbox.models import AuthCode, Token
from sandbox.web import client_credentials, params, same_secret


class InvalidGrant(Exception):
    """The code or refresh token is unknown, used, expired or not this client's."""


def issue_code(model: type[AuthCode], lifetime: timedelta, **fields) -> AuthCode:
    return model.objects.create(expires_at=timezone.now() + lifetime, **fields)


def issue_token(model: type[Token], lifetime: timedelta, **fields) -> Token:
    return model.objects.create(expires_at=timezone.now() + lifetime, **fields)


def redeem_code(model: type[AuthCode], code: str, client_id: str, redirect_uri: str | None) -> AuthCode:
    """Use up ``code`` and return it, or raise ``InvalidGrant``."""
    now = timezone.now()
    with transaction.atomic():
        claimed = model.objects.filter(
            code=code, client_id=client_id, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if not claimed:
            raise InvalidGrant
        row = model.objects.get(code=code)
        # OAuth 2.0 section 4.1.3: a redirect_uri given at authorization must be repeated unchanged.
        if row.redirect_uri and redirect_uri is not None and redirect_uri != row.redirect_uri:
            raise InvalidGrant
    return row


def retire_refresh_token(model: type[Token], refresh_token: str, client_id: str) -> Token:
    """Revoke the pair holding ``refresh_token`` and return it, or raise ``InvalidGrant``."""
    now = timezone.now()
    live = Q(refresh_expires_at__isnull=True) | Q(refresh_expires_at__gt=now)
    claimed = model.objects.filter(
        live, refresh_token=refresh_token, client_id=client_id, revoked_at__isnull=True
    ).update(revoked_at=now)
    if not claimed:
        raise InvalidGrant
    return model.objects.get(refresh_token=refresh_token)


def find_access_token(model: type[Token], access_token: str | None) -> Token | None:
    """The live (not revoked) pair for ``access_token``; it may still be expired."""
    if not access_token:
        return None
    return model.objects.filter(access_token=access_token, revoked_at__isnull=True).first()


def token_endpoint(
    request: HttpRequest,
    *,
    client_id: str,
    client_secret: str,
    code_model: type[AuthCode],
    token_model: type[Token],
    owner_field: str,
    lifetime: timedelta,
    reply: Callable[[Token], dict],
    render: Callable[[dict, int], HttpResponse],
    owner_allowed: Callable[[object], bool] = lambda owner: True,
) -> HttpResponse:
    """Answer a token request: ``reply(new pair)`` for the owner of the code or refresh token.

    The client authenticates with HTTP basic auth or with ``client_id`` and
    ``client_secret`` parameters (RFC 6749 section 2.3.1); the parameters may
    come in the query string or the form body. Refusals are the OAuth errors
    both services answer: ``invalid_client`` (401), ``unsupported_grant_type``
    and ``invalid_grant`` (400). ``render`` writes the JSON each service's way.
    """
    values = params(request)
    given_id, given_secret = client_credentials(request, values)
    if not (same_secret(given_id, client_id) and same_secret(given_secret, client_secret)):
        return _no_store(render({"error": "invalid_client"}, 401))
    grant_type = values.get("grant_type")
    try:
        if grant_type == "authorization_code":
            used = redeem_code(code_model, values.get("code", ""), given_id, values.get("redirect_uri"))
        elif grant_type == "refresh_token":
            used = retire_refresh_token(token_model, values.get("refresh_token", ""), given_id)
        else:
            return _no_store(render({"error": "unsupported_grant_type"}, 400))
    except InvalidGrant:
        return _no_store(render({"error": "invalid_grant"}, 400))
    owner = getattr(used, owner_field)
    if not owner_allowed(owner):
        return _no_store(render({"error": "invalid_grant"}, 400))
    pair = issue_token(token_model, lifetime, client_id=given_id, scope=used.scope, **{owner_field: owner})
    return _no_store(render(reply(pair), 200))


def _no_store(response: HttpResponse) -> HttpResponse:
    # Both token endpoints said so in 2018 (RFC 6749 section 5.1).
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response
