"""The stand-in Moves server: OAuth pages and endpoints, profile and the daily resources."""

import calendar
import hashlib
import json
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox import limits, storyline, synthetic
from sandbox.accounts import moves_user_named
from sandbox.consent import AuthorizeRequest, ConsentPage, consent
from sandbox.faults import fault_point
from sandbox.forms import MovesConsentForm
from sandbox.models import MovesAuthCode, MovesToken, SandboxMovesUser
from sandbox.oauth import find_access_token, issue_code, token_endpoint
from sandbox.periods import (
    BadPeriod,
    Calendar,
    days_for_path,
    days_for_query,
    parse_track_points,
    parse_updated_since,
)
from sandbox.web import MOVES_JSON, bearer_token, json_reply

# The real reply said 15551998 seconds: 180 days less two seconds.
TOKEN_EXPIRES_IN = 15551998
CODE_LIFETIME = timedelta(minutes=10)
# The daily resources; only summaries take a month.
RESOURCES = ("storyline", "summary", "activities", "places")


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
        render=lambda data, status: json_reply(data, status),
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
    """Authenticate the token, count the request against the app's limits, label the reply.

    A request without a valid token names no app to count against: it gets
    a plain 401. Every other reply carries the four X-RateLimit headers and
    a Date of the second in which it was counted; a refused one is a 429
    without Retry-After (none is documented) and is not counted.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        token = _live_token(request)
        if token is None:
            return _unauthorized()
        verdict = limits.check(token.client_id, limits.is_new(token.created))
        if verdict.allowed:
            response = view(request, token.user, *args, **kwargs)
        else:
            response = json_reply({"error": "rate limit exceeded"}, status=429)
        return verdict.label(response)

    return wrapper


@require_GET
@fault_point("moves.profile")
@moves_api
def profile(request: HttpRequest, user: SandboxMovesUser) -> HttpResponse:
    city = synthetic.CITIES[user.city]
    details = {
        "currentTimeZone": {"id": user.time_zone, "offset": synthetic.current_offset(user.time_zone)},
        "localization": {
            "language": city.language,
            "locale": city.locale,
            "firstWeekDay": city.first_week_day,
            "metric": synthetic.persona(user.moves_id, user.city).metric,
        },
        "caloriesAvailable": False,
        "platform": "ios",
    }
    if user.first_date is not None:
        details = {"firstDate": user.first_date.strftime("%Y%m%d"), **details}
    return _conditional(request, {"userId": user.moves_id, "profile": details})


def _daily(resource: str) -> Callable[..., HttpResponse]:
    @require_GET
    @fault_point("moves.storyline" if resource == "storyline" else "moves.daily")
    @moves_api
    def view(request: HttpRequest, user: SandboxMovesUser, period: str | None = None) -> HttpResponse:
        calendar = Calendar(user.first_date, storyline.today_of(user))
        try:
            track_points = parse_track_points(request.GET) and resource in ("storyline", "activities")
            since = parse_updated_since(request.GET)
            if period is None:
                wanted = days_for_query(request.GET, track_points, calendar)
            else:
                wanted = days_for_path(period, request.GET, calendar, months=resource == "summary")
            zone = request.GET.get("timeZone")
            if zone is not None and not synthetic.is_zone(zone):
                raise BadPeriod(f"Unknown timeZone: {zone!r}")
        except BadPeriod as exc:
            return json_reply({"error": str(exc)}, status=400)
        data = storyline.days(user, wanted, track_points, zone=zone)
        if since:
            data = [day for day in data if day.get("lastUpdate", "") >= since]
        return _conditional(request, [_shaped(resource, day) for day in data])

    view.__name__ = f"{resource}_daily"
    return view


def _shaped(resource: str, day: dict) -> dict:
    """A storyline day as the other daily resources show it."""
    if resource == "storyline":
        return day
    shaped: dict = {"date": day["date"]}
    if resource == "summary":
        shaped["summary"] = day["summary"]
    elif resource == "activities":
        segments = day["segments"]
        if segments is not None:
            segments = [dict(s) for s in segments if s.get("activities")]
            for segment in segments:
                segment.pop("place", None)
        shaped["segments"] = segments
    else:
        segments = day["segments"]
        if segments is not None:
            segments = [
                {key: value for key, value in s.items() if key != "activities"}
                for s in segments
                if s["type"] == "place"
            ]
        shaped["segments"] = segments
    if "lastUpdate" in day:
        shaped["lastUpdate"] = day["lastUpdate"]
    return shaped


storyline_daily = _daily("storyline")
summary_daily = _daily("summary")
activities_daily = _daily("activities")
places_daily = _daily("places")


def _conditional(request: HttpRequest, data: object) -> HttpResponse:
    """The JSON reply with the weak ETag (and, for days, Last-Modified) Moves sent; 304 when unchanged."""
    body = json.dumps(data, separators=(",", ":")).encode()
    etag = 'W/"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
    updates = [day["lastUpdate"] for day in data if day.get("lastUpdate")] if isinstance(data, list) else []
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type=MOVES_JSON)
    response["ETag"] = etag
    if updates:
        response["Last-Modified"] = http_date(calendar.timegm(time.strptime(max(updates), "%Y%m%dT%H%M%SZ")))
    return response
