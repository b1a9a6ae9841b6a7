"""The stand-in Moves server: OAuth pages and endpoints, profile and storyline."""

import calendar
import hashlib
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox import ratelimit, synthetic
from sandbox.accounts import moves_user_named
from sandbox.consent import AuthorizeRequest, ConsentPage, consent
from sandbox.faults import fault_point
from sandbox.forms import MovesConsentForm
from sandbox.models import MovesAuthCode, MovesToken, SandboxMovesUser
from sandbox.oauth import find_access_token, issue_code, token_endpoint
from sandbox.periods import BadPeriod, days_for_path, days_for_query, parse_track_points, parse_updated_since
from sandbox.web import JSON_TYPE, bearer_token, json_reply

# The real reply said 15551998 seconds: 180 days less two seconds.
TOKEN_EXPIRES_IN = 15551998
CODE_LIFETIME = timedelta(minutes=10)


CONSENT = ConsentPage(
    service="Moves",
    title="Allow access to your Moves data?",
    heading="Allow access to your Moves data?",
    client_kind="application",
    asks="asks to read your Moves data:",
    account_noun="users",
    form_class=MovesConsentForm,
    scopes={"activity": "steps, distances and activities", "location": "places and routes"},
)


@require_http_methods(["GET", "POST"])
@fault_point("moves.authorize")
def authorize(request: HttpRequest) -> HttpResponse:
    """Moves' consent page: a form that posts to itself (with CSRF protection)."""
    return consent(
        request,
        CONSENT,
        client_id=settings.MOVES_CLIENT_ID,
        default_redirect_uri=settings.MOVES_REDIRECT_URI,
        existing=SandboxMovesUser.objects.values_list("name", flat=True),
        grant=_grant_code,
    )


def _grant_code(auth: AuthorizeRequest, data: dict) -> str:
    """A code for the account the consent form names (created if new)."""
    user = moves_user_named(data["name"], data["history_days"])
    code = issue_code(
        MovesAuthCode,
        CODE_LIFETIME,
        user=user,
        client_id=auth.client_id,
        redirect_uri=auth.given_redirect_uri,
        scope=auth.scope,
    )
    return code.code


@csrf_exempt
@require_POST
@fault_point("moves.token")
def access_token(request: HttpRequest) -> HttpResponse:
    return token_endpoint(
        request,
        client_id=settings.MOVES_CLIENT_ID,
        client_secret=settings.MOVES_CLIENT_SECRET,
        code_model=MovesAuthCode,
        token_model=MovesToken,
        owner_field="user",
        lifetime=timedelta(seconds=TOKEN_EXPIRES_IN),
        reply=_token_reply,
    )


def _token_reply(token: MovesToken) -> dict:
    return {
        "access_token": token.access_token,
        "token_type": "bearer",
        "expires_in": TOKEN_EXPIRES_IN,
        "refresh_token": token.refresh_token,
        "user_id": token.user.moves_id,
    }


def _live_token(request: HttpRequest) -> MovesToken | None:
    token = find_access_token(MovesToken, bearer_token(request))
    if token is None or token.is_expired():
        return None
    return token


def _unauthorized() -> HttpResponse:
    reply = json_reply({"error": "invalid_token"}, status=401)
    reply["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return reply


@require_GET
@fault_point("moves.tokeninfo")
def tokeninfo(request: HttpRequest) -> HttpResponse:
    token = _live_token(request)
    if token is None:
        return _unauthorized()
    return json_reply(
        {
            "client_id": token.client_id,
            "user_id": token.user.moves_id,
            "scope": token.scope,
            "expires_in": token.seconds_left(),
        }
    )


def moves_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Authenticate the token, count the request against the app's limits, label the reply."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        token = _live_token(request)
        if token is None:
            return _unauthorized()
        decision = ratelimit.hit(token.client_id)
        if decision.allowed:
            response = view(request, token.user, *args, **kwargs)
        else:
            response = HttpResponse(
                "Rate limit exceeded", status=429, content_type="text/plain; charset=utf-8"
            )
        return decision.apply(response)

    return wrapper


@require_GET
@fault_point("moves.profile")
@moves_api
def profile(request: HttpRequest, user: SandboxMovesUser) -> HttpResponse:
    city = synthetic.city_for(user.time_zone)
    offset = datetime.now(ZoneInfo(user.time_zone)).utcoffset()
    details = {
        "currentTimeZone": {"id": user.time_zone, "offset": int(offset.total_seconds())},
        "localization": {
            "language": city.language,
            "locale": city.locale,
            "firstWeekDay": city.first_week_day,
            "metric": city.metric,
        },
        "caloriesAvailable": False,
        "platform": "ios",
    }
    if user.first_date is not None:
        details = {"firstDate": user.first_date.strftime("%Y%m%d"), **details}
    return json_reply({"userId": user.moves_id, "profile": details})


@require_GET
@fault_point("moves.storyline")
@moves_api
def storyline(request: HttpRequest, user: SandboxMovesUser, period: str | None = None) -> HttpResponse:
    try:
        track_points = parse_track_points(request.GET)
        since = parse_updated_since(request.GET)
        today = synthetic.local_today(user.time_zone)
        if period is None:
            days = days_for_query(request.GET, track_points, today)
        else:
            days = days_for_path(period, request.GET)
    except BadPeriod as exc:
        return json_reply({"error": str(exc)}, status=400)
    data = synthetic.storyline(user, days, track_points, today)
    if since:
        data = [day for day in data if day.get("lastUpdate", "") >= since]
    return _conditional(request, data)


def _conditional(request: HttpRequest, data: list[dict]) -> HttpResponse:
    body = json.dumps(data, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    updates = [day["lastUpdate"] for day in data if day.get("lastUpdate")]
    last_modified = (
        http_date(calendar.timegm(time.strptime(max(updates), "%Y%m%dT%H%M%SZ"))) if updates else None
    )
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type=JSON_TYPE)
    response["ETag"] = etag
    if last_modified:
        response["Last-Modified"] = last_modified
    return response
