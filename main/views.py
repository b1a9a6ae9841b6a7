"""Pages and callbacks of the participant's side; the work happens in main.dashboard and the worker."""

import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.timesince import timeuntil
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from apiclients.errors import UpstreamError
from apiclients.moves import MovesClient
from apiclients.openhumans import OpenHumansClient
from datauploader.tasks import enqueue_process_moves
from main import dashboard, oauth_state, webhooks
from main.models import MovesMember
from open_humans.models import OpenHumansMember

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def member_required(view: View) -> View:
    """Signed in, and signed in through Open Humans (staff accounts have no member row)."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        member = OpenHumansMember.objects.filter(user=request.user).first()
        if member is None:
            return redirect("index")
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
        remote = client.exchange_member(grant.access_token)
    except UpstreamError as exc:
        logger.warning("Open Humans sign-in failed: %s", exc)
        return _message_page(
            request,
            "The sign-in did not finish",
            "Open Humans did not confirm the sign-in (the code may have expired or already been used, "
            "or Open Humans is unavailable). Nothing was saved; please start again.",
            502,
        )
    member = dashboard.store_open_humans_member(grant, remote)
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
        dashboard.store_moves_connection(member, grant)
    except dashboard.DifferentMovesAccount as exc:
        messages.error(
            request,
            f"That is a different Moves account from the one connected before (Moves user "
            f"{exc.held_moves_id}), so nothing changed. To switch accounts, disconnect Moves first "
            "(this deletes the current file on Open Humans), then connect the other account.",
        )
        return redirect("dashboard")
    enqueue_process_moves(member.oh_id)
    messages.success(request, "Moves is connected. Your history is on its way to Open Humans.")
    return redirect("dashboard")


@require_safe
@never_cache
@member_required
def dashboard_page(request: HttpRequest, member: OpenHumansMember) -> HttpResponse:
    board = dashboard.build_dashboard(member, request.GET.get("day"))
    return render(
        request,
        "main/dashboard.html",
        {
            "board": board,
            "moves": board.moves,
            "file_name": settings.MOVES_FILE_NAME,
            "activity_page": settings.OH_ACTIVITY_PAGE,
        },
    )


@require_GET
@never_cache
@member_required
def dashboard_status(request: HttpRequest, member: OpenHumansMember) -> JsonResponse:
    return JsonResponse(dashboard.status_payload(member))


@require_POST
@member_required
def update_data(request: HttpRequest, member: OpenHumansMember) -> HttpResponse:
    moves = MovesMember.objects.filter(member=member).first()
    if moves is None or not moves.is_connected:
        messages.error(request, "Connect Moves first; there is nothing to update yet.")
    elif dashboard.claim_manual_update(moves):
        enqueue_process_moves(member.oh_id)
        messages.success(request, "Update requested. New data appears here when it is done.")
    else:
        _, next_at = dashboard.manual_update_allowed(moves)
        wait = f" You can ask again in {timeuntil(next_at)}." if next_at else ""
        messages.warning(request, f"An update was asked for recently.{wait}")
    return redirect("dashboard")


@require_http_methods(["GET", "POST"])
@member_required
def remove_moves(request: HttpRequest, member: OpenHumansMember) -> HttpResponse:
    if request.method == "GET":
        moves = MovesMember.objects.filter(member=member).first()
        return render(
            request, "main/remove_moves.html", {"moves": moves, "file_name": settings.MOVES_FILE_NAME}
        )
    result = dashboard.disconnect_moves(member)
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
        url = dashboard.fresh_download_url(member)
    except UpstreamError as exc:
        logger.warning("Download link for member %s failed: %s", member.oh_id, exc)
        messages.error(request, f"The download link could not be fetched. {dashboard.plain_reason(exc)}")
        return redirect("dashboard")
    if url is None:
        messages.info(request, f"Open Humans holds no {settings.MOVES_FILE_NAME} for you yet.")
        return redirect("dashboard")
    return HttpResponseRedirect(url)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("index")


@csrf_exempt
@require_POST
def deauthorize_webhook(request: HttpRequest) -> HttpResponse:
    # Open Humans cannot send a CSRF token; the HMAC signature authenticates it instead.
    header = request.META.get(webhooks.SIGNATURE_HEADER)
    if not webhooks.signature_is_valid(request.body, header, settings.OH_WEBHOOK_SECRET):
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    event = webhooks.parse_payload(request.body)
    if event is None:
        return HttpResponse("malformed body", status=400, content_type="text/plain")
    outcome = webhooks.forget_member(event)
    return HttpResponse(outcome, content_type="text/plain")
