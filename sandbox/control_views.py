"""The sandbox's own pages: the control page (state and switches) and a JSON fault endpoint.

Every action of the control page posts back to it and is answered with a
redirect and a message saying what happened; anything sent to the app
(notifications, webhooks) is only queued here and goes out from the sender
thread, so the page answers at once.
"""

import json
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox import accounts, faults, limits, outbox, storyline
from sandbox.forms import (
    DayForm,
    DropForm,
    FaultForm,
    LeaveForm,
    MovesUserForm,
    OfflineForm,
    RenameForm,
    ZoneForm,
)
from sandbox.models import (
    Delivery,
    Fault,
    MovesToken,
    SandboxFile,
    SandboxMessage,
    SandboxMovesUser,
    SandboxOHMember,
    Switches,
)
from sandbox.web import json_reply


def _user(request: HttpRequest) -> SandboxMovesUser | None:
    return SandboxMovesUser.objects.filter(pk=request.POST.get("user") or 0).first()


def _member(request: HttpRequest) -> SandboxOHMember | None:
    return SandboxOHMember.objects.filter(pk=request.POST.get("member") or 0).first()


def _first_error(form) -> str:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        return f"{label}: {errors[0]}" if label else errors[0]
    return "invalid input"


def _revoke(request: HttpRequest, user: SandboxMovesUser) -> str:
    count = accounts.revoke_moves_access(user)
    return f"Revoked access of {user.name} ({count} token{'s' if count != 1 else ''})"


def _zone(request: HttpRequest, user: SandboxMovesUser) -> str:
    form = ZoneForm(request.POST)
    if not form.is_valid():
        raise storyline.CannotChange(_first_error(form))
    storyline.change_time_zone(user, form.cleaned_data["time_zone"])
    return f"{user.name} is now in {user.time_zone}; every day is cut by that zone"


def _offline(request: HttpRequest, user: SandboxMovesUser) -> str:
    form = OfflineForm(request.POST)
    if not form.is_valid():
        raise storyline.CannotChange(_first_error(form))
    since = storyline.go_offline(user, form.cleaned_data["days"])
    return (
        f"{user.name}'s phone is offline since {since:%Y-%m-%d %H:%M} UTC; no data from then until it syncs"
    )


def _sync(request: HttpRequest, user: SandboxMovesUser) -> str:
    return storyline.sync(user).description


def _add_day(request: HttpRequest, user: SandboxMovesUser) -> str:
    return storyline.add_day(user).description


def _edit(request: HttpRequest, user: SandboxMovesUser) -> str:
    form = DayForm(request.POST)
    if not form.is_valid():
        raise storyline.CannotChange(_first_error(form))
    return storyline.edit_day(user, form.cleaned_data["day"]).description


def _rename(request: HttpRequest, user: SandboxMovesUser) -> str:
    form = RenameForm(request.POST, places=_place_choices(user))
    if not form.is_valid():
        raise storyline.CannotChange(_first_error(form))
    return storyline.rename_place(user, form.cleaned_data["place"], form.cleaned_data["name"]).description


USER_ACTIONS: dict[str, Callable[[HttpRequest, SandboxMovesUser], str]] = {
    "revoke_moves": _revoke,
    "change_zone": _zone,
    "go_offline": _offline,
    "sync_phone": _sync,
    "add_day": _add_day,
    "edit_day": _edit,
    "rename_place": _rename,
}


def _leave(request: HttpRequest, member: SandboxOHMember) -> str:
    form = LeaveForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    count = accounts.leave_project(
        member, data.get("erasure_requested", False), data.get("remove_files", False)
    )
    erasure = " asking for erasure" if data.get("erasure_requested") else ""
    return (
        f"{member.username} left the project{erasure}: revoked {count} token{'s' if count != 1 else ''}, "
        "deauthorisation webhook queued"
    )


def _other_source(request: HttpRequest, member: SandboxOHMember) -> str:
    on = request.POST.get("on") == "1"
    accounts.share_other_source(member, on)
    if on:
        return f"{member.username} now shares direct-sharing-128 (and its moves-storyline-data.json)"
    return f"{member.username} no longer shares direct-sharing-128"


MEMBER_ACTIONS: dict[str, Callable[[HttpRequest, SandboxOHMember], str]] = {
    "leave_project": _leave,
    "share_other_source": _other_source,
}


def _act(request: HttpRequest, action: str) -> tuple[str, bool] | None:
    """Do ``action``; returns (feedback, success), or None when the action is not one of these."""
    if action in USER_ACTIONS:
        user = _user(request)
        if user is None:
            return "No such Moves user.", False
        try:
            return USER_ACTIONS[action](request, user), True
        except storyline.CannotChange as exc:
            return str(exc), False
    if action in MEMBER_ACTIONS:
        member = _member(request)
        if member is None:
            return "No such Open Humans member.", False
        return MEMBER_ACTIONS[action](request, member), True
    if action == "drop_notifications":
        form = DropForm(request.POST)
        if not form.is_valid():
            return _first_error(form), False
        outbox.drop_next(form.cleaned_data["count"])
        return f"The next {form.cleaned_data['count']} notifications will be dropped", True
    if action == "send_notifications":
        sent = outbox.send_due(everything=True)
        return f"Sent what was pending: {len(sent)} deliveries", True
    if action == "reset_rate_limits":
        removed = limits.reset()
        return f"Forgot the Moves request counts ({removed} counters)", True
    if action == "clear_faults":
        count, _ = Fault.objects.all().delete()
        return f"Cleared {count} faults", True
    return None


@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    fault_form = FaultForm(request.POST if action == "add_fault" else None)
    user_form = MovesUserForm(request.POST if action == "create_user" else None, prefix="user")
    if request.method == "POST":
        done = _act(request, action)
        if done is not None:
            feedback, success = done
            (messages.success if success else messages.error)(request, feedback)
            return HttpResponseRedirect(reverse("sandbox:index"))
        if action == "add_fault" and fault_form.is_valid():
            fault = faults.add(**fault_form.cleaned_data)
            messages.success(
                request, f"Added a fault on {fault.endpoint}: {fault.describe()} x{fault.remaining}"
            )
            return HttpResponseRedirect(reverse("sandbox:index") + "#faults")
        if action == "create_user" and user_form.is_valid():
            data = user_form.cleaned_data
            user = accounts.create_moves_user(
                data["name"],
                data["first_date"],
                data["days"],
                data["time_zone"] or None,
                data["city"] or None,
            )
            messages.success(request, f"Created the Moves user {user.name} ({user.moves_id})")
            return HttpResponseRedirect(reverse("sandbox:index") + "#moves-users")
        if action not in ("add_fault", "create_user"):
            messages.error(request, f"Unknown action {action!r}")
    minute, hour = limits.used(settings.MOVES_CLIENT_ID)
    pending_updates, pending_webhooks = outbox.pending_counts()
    users = list(SandboxMovesUser.objects.all())
    live = set(MovesToken.objects.filter(revoked_at__isnull=True).values_list("user_id", flat=True))
    context = {
        "form": fault_form,
        "user_form": user_form,
        "faults": Fault.objects.filter(remaining__gt=0),
        "moves_users": [(user, user.pk in live, _place_choices(user)) for user in users],
        "zones": ZoneForm().fields["time_zone"].choices,
        "members": SandboxOHMember.objects.all(),
        "files": SandboxFile.objects.select_related("member").order_by("-id")[:200],
        "messages_sent": SandboxMessage.objects.select_related("member").order_by("-id")[:100],
        "deliveries": Delivery.objects.order_by("-id")[:50],
        "pending_updates": pending_updates,
        "pending_webhooks": pending_webhooks,
        "drop_notifications": Switches.get().drop_notifications,
        "minute_used": minute,
        "hour_used": hour,
        "notification_url": settings.SANDBOX_MOVES_NOTIFICATION_URL,
        "webhook_url": settings.SANDBOX_OH_WEBHOOK_URL,
    }
    return render(request, "sandbox/index.html", context)


def _place_choices(user: SandboxMovesUser) -> list[tuple[int, str]]:
    return [(place.id, f"{name} ({place.type})") for place, name in storyline.places_of(user)]


def _fault_json(fault: Fault) -> dict:
    return {
        "id": fault.pk,
        "endpoint": fault.endpoint,
        "status": fault.status,
        "delay": fault.delay,
        "malformed": fault.malformed,
        "nested": fault.nested,
        "oversized": fault.oversized,
        "retry_after": fault.retry_after,
        "remaining": fault.remaining,
    }


@csrf_exempt
@require_http_methods(["GET", "POST", "DELETE"])
def fault_api(request: HttpRequest) -> HttpResponse:
    """GET lists active faults, POST adds one (a JSON object like FaultForm's fields), DELETE clears all."""
    if request.method == "GET":
        return json_reply({"faults": [_fault_json(f) for f in Fault.objects.filter(remaining__gt=0)]})
    if request.method == "DELETE":
        deleted, _ = Fault.objects.all().delete()
        return json_reply({"deleted": deleted})
    try:
        payload = json.loads(request.body or b"null")
    except ValueError:
        return json_reply({"error": "The body must be a JSON object."}, status=400)
    if not isinstance(payload, dict):
        return json_reply({"error": "The body must be a JSON object."}, status=400)
    payload.setdefault("count", 1)
    form = FaultForm(payload)
    if not form.is_valid():
        return json_reply(form.errors, status=400)
    return json_reply(_fault_json(faults.add(**form.cleaned_data)), status=201)
