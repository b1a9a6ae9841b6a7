"""The sandbox's own pages: an overview with fault switches, and a JSON fault endpoint."""

import json

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox import faults
from sandbox.accounts import create_moves_user, revoke_moves_access
from sandbox.forms import FaultForm, MovesUserForm
from sandbox.models import Fault, SandboxFile, SandboxMessage, SandboxMovesUser, SandboxOHMember
from sandbox.web import json_reply


@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action")
    form = FaultForm(request.POST if action == "add" else None)
    user_form = MovesUserForm(request.POST if action == "create_user" else None, prefix="user")
    if action == "clear":
        Fault.objects.all().delete()
        return HttpResponseRedirect(reverse("sandbox:index"))
    if action == "add" and form.is_valid():
        faults.add(**form.cleaned_data)
        return HttpResponseRedirect(reverse("sandbox:index"))
    if action == "revoke_moves":
        user = SandboxMovesUser.objects.filter(pk=request.POST.get("user")).first()
        if user is not None:
            revoke_moves_access(user)
        return HttpResponseRedirect(reverse("sandbox:index") + "#moves-users")
    if action == "create_user" and user_form.is_valid():
        data = user_form.cleaned_data
        create_moves_user(data["name"], data["first_date"], data["days"], data["time_zone"] or None)
        return HttpResponseRedirect(reverse("sandbox:index") + "#moves-users")
    context = {
        "form": form,
        "user_form": user_form,
        "faults": Fault.objects.filter(remaining__gt=0),
        "moves_users": SandboxMovesUser.objects.all(),
        "members": SandboxOHMember.objects.all(),
        "files": SandboxFile.objects.select_related("member").order_by("-id")[:200],
        "messages_sent": SandboxMessage.objects.select_related("member").order_by("-id")[:100],
    }
    return render(request, "sandbox/index.html", context)


def _fault_json(fault: Fault) -> dict:
    return {
        "id": fault.pk,
        "endpoint": fault.endpoint,
        "status": fault.status,
        "delay": fault.delay,
        "malformed": fault.malformed,
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
