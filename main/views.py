"""Pages and callbacks of the participant's side, and the two webhooks.

Views check who is asking and what they sent, call the core (``core.*``)
for anything that changes state, and render what ``main.dashboard``
presents. They never call Moves: the worker does.
"""

import functools
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.views import redirect_to_login
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.timesince import timeuntil
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from apiclients.errors import UpstreamError
from apiclients.moves import MovesClient
from apiclients.openhumans import OpenHumansClient
from core import accounts, deliveries
from core.changes import record_changes
from core.daydetail import DayNotHeld, day_detail
from core.models import DifferentMovesAccount, MovesMember
from core.source import own_source
from core.updates import Asked, ask_for_update
from main import dashboard, history, oauth_state, webhooks
from open_humans.models import OpenHumansMember

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def member_required(view: View) -> View:
    """Signed in, and signed in through Open Humans (staff accounts have no member row)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        member = (
            OpenHumansMember.objects.filter(user=request.user).first()
            if request.user.is_authenticated
            else None
        )
        if member is None:
            if request.method == "GET" and request.path == "/dashboard/":
                messages.info(request, "Please sign in with Open Humans to see your dashboard.")
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return view(request, member, *args, **kwargs)

    return wrapper


def _message_page(request: HttpRequest, title: str, message: str, status: int = 200) -> HttpResponse:
    return render(request, "main/message.html", {"title": title, "message": message}, status=status)


def _state_mismatch(request: HttpRequest, service: str) -> HttpResponse:
    return _message_page(
        request,
        "This link is not valid any more",
        f"This answer from {service} does not belong to a request started in this browser (or it was "
        "already used), so it was ignored and nothing was saved. Please start again.",
        status=403,
    )


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    # Looked up per request: with DEBUG off the static files' manifest exists
    # only after collectstatic, which checks such as makemigrations never run.
    return HttpResponsePermanentRedirect(static("main/favicon.svg"))


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and OpenHumansMember.objects.filter(user=request.user).exists():
        return redirect("dashboard")
    return render(request, "main/index.html", {"activity_page": settings.OH_ACTIVITY_PAGE})


@require_GET
@never_cache
def start_open_humans(request: HttpRequest) -> HttpResponse:
    state = oauth_state.create_state(request.session, oauth_state.OPEN_HUMANS)
    return HttpResponseRedirect(OpenHumansClient().authorize_url(state))


@require_GET
@never_cache
def complete_open_humans(request: HttpRequest) -> HttpResponse:
    if not oauth_state.check_state(request.session, oauth_state.OPEN_HUMANS, request.GET.get("state")):
        return _state_mismatch(request, "Open Humans")
    error = request.GET.get("error")
    if error == "access_denied":
        return _message_page(
            request,
            "You did not give access",
            "You chose not to join the project on Open Humans, so nothing was saved. "
            "You can sign in again whenever you like.",
        )
    if error:
        return _message_page(
            request, "Open Humans refused the sign-in", f"Open Humans answered: {error[:100]}.", 400
        )
    code = request.GET.get("code")
    if not code:
        return _message_page(
            request,
            "The sign-in did not finish",
            "Open Humans sent you back without an authorisation code. Please start again.",
            400,
        )
    client = OpenHumansClient()
    try:
        grant = client.exchange_code(code)
        remote = client.exchange_member(grant.access_token, own_source(grant.access_token, client))
    except UpstreamError as exc:
        logger.warning("Open Humans sign-in failed: %s", exc)
        return _message_page(
            request,
            "The sign-in did not finish",
            "Open Humans did not confirm the sign-in (the code may have expired or already been used, "
            "or Open Humans is unavailable). Nothing was saved; please start again.",
            502,
        )
    member = accounts.sign_in(grant, remote)
    login(request, member.user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("dashboard")


@require_http_methods(["GET", "POST"])
@never_cache
@member_required
def connect_moves(request: HttpRequest, member: OpenHumansMember) -> HttpResponse:
    # GET is allowed so "Connect Moves" can be a plain link: starting a
    # handshake stores nothing but a fresh state, and the callback checks it.
    state = oauth_state.create_state(request.session, oauth_state.MOVES)
    return HttpResponseRedirect(MovesClient().authorize_url(state))


@require_GET
@never_cache
@member_required
def complete_moves(request: HttpRequest, member: OpenHumansMember) -> HttpResponse:
    if not oauth_state.check_state(request.session, oauth_state.MOVES, request.GET.get("state")):
        return _state_mismatch(request, "Moves")
    error = request.GET.get("error")
    if error == "access_denied":
        messages.info(request, "You chose not to give access to Moves; nothing changed.")
        return redirect("dashboard")
    if error:
        messages.error(request, f"Moves refused the connection ({error[:100]}). Please try again.")
        return redirect("dashboard")
    code = request.GET.get("code")
    if not code:
        messages.error(request, "Moves sent you back without an authorisation code. Please try again.")
        return redirect("dashboard")
    try:
        grant = MovesClient().exchange_code(code)
    except UpstreamError as exc:
        logger.warning("Moves connection of member %s failed: %s", member.oh_id, exc)
        messages.error(
            request,
            "Moves did not confirm the connection (the code may have expired or already been used, "
            "or Moves is unavailable). Nothing was saved; please try again.",
        )
        return redirect("dashboard")
    try:
        accounts.connect_moves(member, grant)
    except DifferentMovesAccount as exc:
        messages.error(
            request,
            f"That is a different Moves account from the one connected before (Moves user "
            f"{exc.held_moves_id}), so nothing changed. To switch accounts, disconnect Moves first "
            "(this deletes the current file on Open Humans), then connect the other account.",
        )
        return redirect("dashboard")
    messages.success(request, "Moves is connected. Your history is on its way to Open Humans.")
    return redirect("dashboard")


# The session remembers that this browser disconnected Moves, so the
# dashboard can say "Disconnected" rather than "Not connected yet".
DISCONNECTED_KEY = "moves_disconnected"


def _cards_context(request: HttpRequest, board: dashboard.Dashboard) -> dict[str, Any]:
    return {"board": board, "moves": board.moves, "file_name": settings.MOVES_FILE_NAME}


@require_safe
@never_cache
@member_required
def dashboard_page(request: HttpRequest, member: OpenHumansMember) -> HttpResponse:
    disconnected = bool(request.session.get(DISCONNECTED_KEY))
    board = dashboard.build_dashboard(member, request.GET.get("day"), disconnected)
    if board.moves is not None and disconnected:
        del request.session[DISCONNECTED_KEY]
    payload = dashboard.status_payload(board)
    return render(
        request,
        "main/dashboard.html",
        {
            **_cards_context(request, board),
            "activity_page": settings.OH_ACTIVITY_PAGE,
            "tile_url": settings.MAP_TILE_URL,
            "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
            "history_version": payload["history_version"],
            "poll_seconds": payload["poll_seconds"],
        },
    )


@require_GET
@never_cache
@member_required
def dashboard_status(request: HttpRequest, member: OpenHumansMember) -> JsonResponse:
    """What the page polls for: the facts, and the live cards rendered by the page's own templates."""
    board = dashboard.light_dashboard(member, bool(request.session.get(DISCONNECTED_KEY)))
    context = _cards_context(request, board)
    payload = dashboard.status_payload(board)
    payload["cards"] = {
        "now": render_to_string("main/parts/now.html", context, request),
        "connections": render_to_string("main/parts/connections.html", context, request),
        "file": render_to_string("main/parts/file.html", context, request) if board.file else "",
    }
    return JsonResponse(payload)


@require_GET
@never_cache
@member_required
def dashboard_history(request: HttpRequest, member: OpenHumansMember) -> JsonResponse:
    """The calendar and the chart again, for a page whose history grew while it was open."""
    selected = request.GET.get("day")
    board = dashboard.build_dashboard(member, selected)
    context = {**_cards_context(request, board), "selected": board.day.selected if board.day else None}
    return JsonResponse(
        {
            "history_version": dashboard.history_version(board.moves),
            "has_day": board.day is not None,
            "calendar": render_to_string("main/parts/calendar.html", context, request),
            "chart": render_to_string("main/parts/chart.html", context, request) if board.chart else "",
        }
    )


@require_GET
@never_cache
@member_required
def dashboard_day(request: HttpRequest, member: OpenHumansMember, day: str) -> JsonResponse:
    """One day's places, trips and timeline, for the map; any day of the history.

    A recent day comes from the database; an older one is read from the
    member's file on Open Humans by byte range (``core.daydetail``).
    """
    moves = MovesMember.objects.filter(member=member).first()
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        return JsonResponse({"error": "That is not a date."}, status=400)
    if moves is None:
        return JsonResponse({"error": "Moves is not connected."}, status=404)
    try:
        detail = day_detail(moves, wanted)
    except DayNotHeld:
        return JsonResponse({"error": "This day is not in your file (yet)."}, status=404)
    except UpstreamError as exc:
        logger.warning("Day %s of member %s could not be read: %s", wanted, member.oh_id, exc)
        return JsonResponse({"error": accounts.plain_reason(exc)}, status=502)
    payload = history.day_payload(wanted, detail)
    payload["summary_html"] = render_to_string("main/parts/day_summary.html", {"day": payload}, request)
    return JsonResponse(payload)


@require_POST
@member_required
def update_data(request: HttpRequest, member: OpenHumansMember) -> HttpResponse:
    moves = MovesMember.objects.filter(member=member).first()
    asked = ask_for_update(moves)
    if asked is Asked.NOT_CONNECTED:
        messages.error(request, "Connect Moves first; there is nothing to update yet.")
    elif asked is Asked.SIGN_IN_AGAIN:
        messages.error(
            request, "Open Humans no longer accepts our access: sign in with Open Humans again first."
        )
    elif asked is Asked.ALREADY_UNDER_WAY:
        messages.info(
            request, "Already updating: nothing more was asked for, and your hourly update was not used."
        )
    elif asked is Asked.RETRYING_NOW:
        messages.success(request, "We try again now. New data appears here when it is done.")
    elif asked is Asked.UPDATE_QUEUED:
        messages.success(request, "Update requested. New data appears here when it is done.")
    else:
        assert moves is not None
        messages.warning(request, _throttle_message(moves))
    return redirect("dashboard")


def _throttle_message(moves: MovesMember) -> str:
    next_at = moves.next_manual_update_at()
    wait = f" You can ask again in {timeuntil(next_at)}." if next_at else ""
    return f"An update was asked for recently.{wait}"


@require_http_methods(["GET", "POST"])
@member_required
def remove_moves(request: HttpRequest, member: OpenHumansMember) -> HttpResponse:
    if request.method == "GET":
        moves = MovesMember.objects.filter(member=member).first()
        return render(
            request, "main/remove_moves.html", {"moves": moves, "file_name": settings.MOVES_FILE_NAME}
        )
    result = accounts.disconnect_moves(member)
    request.session[DISCONNECTED_KEY] = True
    if result.file_error:
        return render(
            request,
            "main/remove_failed.html",
            {
                "result": result,
                "file_name": settings.MOVES_FILE_NAME,
                "activity_page": settings.OH_ACTIVITY_PAGE,
            },
            status=502,
        )
    messages.success(
        request, f"Moves is disconnected and {settings.MOVES_FILE_NAME} was deleted from Open Humans."
    )
    return redirect("dashboard")


@require_GET
@member_required
def download(request: HttpRequest, member: OpenHumansMember) -> HttpResponse:
    try:
        url = accounts.download_url(member)
    except UpstreamError as exc:
        logger.warning("Download link for member %s failed: %s", member.oh_id, exc)
        messages.error(request, f"The download link could not be fetched. {accounts.plain_reason(exc)}")
        return redirect("dashboard")
    if url is None:
        messages.info(request, f"Open Humans holds no {settings.MOVES_FILE_NAME} for you yet.")
        return redirect("dashboard")
    return HttpResponseRedirect(url)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("logged_out")


@require_safe
def logged_out(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "main/logged_out.html")


@csrf_exempt
@require_POST
def deauthorize_webhook(request: HttpRequest) -> HttpResponse:
    # Open Humans cannot send a CSRF token; the HMAC signature authenticates it instead.
    header = request.META.get(webhooks.OH_SIGNATURE_HEADER)
    if not webhooks.oh_signature_is_valid(request.body, header, settings.OH_WEBHOOK_SECRET):
        logger.warning("Open Humans webhook refused: bad or missing signature")
        return _text("invalid signature", 403)
    try:
        event = webhooks.parse_departure(request.body)
    except webhooks.BadDelivery as exc:
        logger.warning("Open Humans webhook refused: %s", exc)
        return _text(str(exc), exc.status)
    if not deliveries.first_delivery("openhumans", deliveries.digest(*webhooks.departure_digest(event))):
        logger.info("Open Humans webhook for %s already handled; ignored", event.project_member_id)
        return _text("already handled")
    outcome = accounts.member_left(event)
    logger.info("Open Humans webhook for %s: %s", event.project_member_id, outcome)
    return _text(outcome)


@csrf_exempt
@require_POST
def moves_notification(request: HttpRequest) -> HttpResponse:
    """Moves says a user's storyline changed: verify, record the weeks, answer at once (Moves waits 3 s)."""
    if int(request.META.get("CONTENT_LENGTH") or 0) > webhooks.MAX_BODY_BYTES:
        logger.warning("Moves notification refused: body too large")
        return _text("body too large", 413)
    body = request.read(webhooks.MAX_BODY_BYTES + 1)
    if len(body) > webhooks.MAX_BODY_BYTES:
        logger.warning("Moves notification refused: body too large")
        return _text("body too large", 413)
    try:
        signature, timestamp, nonce = webhooks.check_moves_headers(
            request.META, settings.WEBHOOK_MAX_AGE_SECONDS
        )
        if not webhooks.moves_signature_is_valid(
            body, timestamp, nonce, signature, settings.MOVES_CLIENT_SECRET
        ):
            raise webhooks.BadDelivery(403, "invalid signature")
        notification = webhooks.parse_notification(body)
    except webhooks.BadDelivery as exc:
        logger.warning("Moves notification refused: %s", exc)
        return _text(str(exc), exc.status)
    if not deliveries.first_delivery("moves", deliveries.digest(nonce)):
        logger.info("Moves notification with a nonce seen before; ignored")
        return _text("already handled")
    weeks = record_changes(notification.user_id, notification.spans)
    if weeks is None:
        logger.info("Moves notification for a user we do not hold; ignored")
        return _text("unknown user, ignored")
    logger.info("Moves notification (%s): %d weeks to fetch again", ", ".join(notification.reasons), weeks)
    return _text("ok")


def _text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
