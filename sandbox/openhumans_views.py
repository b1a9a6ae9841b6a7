"""The stand-in Open Humans: OAuth2, exchange-member, direct upload, delete, message, storage."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox import storage
from sandbox.accounts import oh_member_named
from sandbox.consent import AuthorizeRequest, ConsentPage, consent
from sandbox.faults import fault_point
from sandbox.forms import CompleteForm, DeleteForm, DirectUploadForm, MessageForm, OHConsentForm
from sandbox.models import OHAuthCode, OHToken, SandboxFile, SandboxMessage, SandboxOHMember
from sandbox.oauth import find_access_token, issue_code, token_endpoint
from sandbox.web import bearer_token, json_reply, params

TOKEN_EXPIRES_IN = 36000
CODE_LIFETIME = timedelta(minutes=30)
PROJECT_ID = 138
SOURCE = f"direct-sharing-{PROJECT_ID}"
SCOPE = f"read write {SOURCE}"
DEFAULT_LIMIT = 100
MAX_LIMIT = 200


CONSENT = ConsentPage(
    service="Open Humans",
    title="Join the project?",
    heading="Join the project and share data with it?",
    client_kind="project",
    asks="asks to read and write the data it stores in your Open Humans account.",
    account_noun="members",
    form_class=OHConsentForm,
)


@require_http_methods(["GET", "POST"])
@fault_point("oh.authorize")
def authorize(request: HttpRequest) -> HttpResponse:
    """Open Humans' consent page: a form that posts to itself (with CSRF protection)."""
    return consent(
        request,
        CONSENT,
        client_id=settings.OH_CLIENT_ID,
        default_redirect_uri=settings.OH_REDIRECT_URI,
        existing=SandboxOHMember.objects.values_list("username", flat=True),
        grant=_grant_code,
    )


def _grant_code(auth: AuthorizeRequest, data: dict) -> str:
    """A code for the account the consent form names (created if new)."""
    member = oh_member_named(
        data["username"],
        message_permission=data["message_permission"],
        share_username=data["share_username"],
    )
    code = issue_code(
        OHAuthCode,
        CODE_LIFETIME,
        member=member,
        client_id=auth.client_id,
        redirect_uri=auth.given_redirect_uri,
        scope=SCOPE,
    )
    return code.code


@csrf_exempt
@require_POST
@fault_point("oh.token")
def token(request: HttpRequest) -> HttpResponse:
    return token_endpoint(
        request,
        client_id=settings.OH_CLIENT_ID,
        client_secret=settings.OH_CLIENT_SECRET,
        code_model=OHAuthCode,
        token_model=OHToken,
        owner_field="member",
        lifetime=timedelta(seconds=TOKEN_EXPIRES_IN),
        # A member who left the project cannot be given new tokens.
        owner_allowed=lambda member: member.active,
        reply=_token_reply,
    )


def _token_reply(pair: OHToken) -> dict:
    return {
        "access_token": pair.access_token,
        "expires_in": TOKEN_EXPIRES_IN,
        "token_type": "Bearer",
        "refresh_token": pair.refresh_token,
        "scope": pair.scope,
    }


def _not_authenticated(detail: str) -> HttpResponse:
    reply = json_reply({"detail": detail}, status=401)
    reply["WWW-Authenticate"] = 'Bearer realm="api"'
    return reply


def oh_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Pass the token's member to ``view``, or answer 401 the way Open Humans does."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        pair = find_access_token(OHToken, bearer_token(request))
        if pair is None:
            return _not_authenticated("Authentication credentials were not provided.")
        if pair.is_expired():
            return _not_authenticated("Expired token.")
        return view(request, pair.member, *args, **kwargs)

    return wrapper


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _page_numbers(request: HttpRequest) -> tuple[int, int]:
    """limit and offset as Django REST framework's LimitOffsetPagination reads them."""
    raw_limit = request.GET.get("limit", "")
    limit = int(raw_limit) if raw_limit.isdigit() and int(raw_limit) > 0 else DEFAULT_LIMIT
    raw_offset = request.GET.get("offset", "")
    offset = int(raw_offset) if raw_offset.isdigit() else 0
    return min(limit, MAX_LIMIT), offset


def _page_url(request: HttpRequest, limit: int, offset: int) -> str:
    query = request.GET.copy()
    query["limit"] = str(limit)
    if offset > 0:
        query["offset"] = str(offset)
    else:
        query.pop("offset", None)
    return request.build_absolute_uri(request.path + "?" + query.urlencode())


@require_GET
@fault_point("oh.exchange_member")
@oh_api
def exchange_member(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    limit, offset = _page_numbers(request)
    files = SandboxFile.objects.filter(member=member, completed_at__isnull=False).order_by("source", "id")
    count = files.count()
    data = [
        {
            "id": file.pk,
            "basename": file.basename,
            "created": _timestamp(file.created),
            "download_url": storage.signed_url(request, file, "get"),
            "metadata": file.metadata,
            "source": file.source,
        }
        for file in files[offset : offset + limit]
    ]
    reply = {
        "created": _timestamp(member.created),
        "project_member_id": member.project_member_id,
        "message_permission": member.message_permission,
    }
    if member.share_username:
        reply["username"] = member.username
    reply["sources_shared"] = [SOURCE]
    reply["count"] = count
    reply["next"] = _page_url(request, limit, offset + limit) if offset + limit < count else None
    reply["previous"] = _page_url(request, limit, max(0, offset - limit)) if offset > 0 else None
    reply["data"] = data
    return json_reply(reply)


@csrf_exempt
@require_POST
@fault_point("oh.upload_direct")
@oh_api
def upload_direct(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    form = DirectUploadForm(request.POST, member=member)
    if not form.is_valid():
        return json_reply(form.errors, status=400)
    file = SandboxFile.objects.create(
        member=member,
        basename=form.cleaned_data["filename"],
        metadata=form.cleaned_data["metadata"],
        datatypes=form.cleaned_data["datatypes"],
        source=SOURCE,
        upload_expires=timezone.now() + timedelta(seconds=storage.PUT_LIFETIME_SECONDS),
    )
    return json_reply({"id": file.pk, "url": storage.signed_url(request, file, "put")}, status=201)


@csrf_exempt
@require_POST
@fault_point("oh.upload_complete")
@oh_api
def upload_complete(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    form = CompleteForm(request.POST, member=member)
    if not form.is_valid():
        return json_reply(form.errors, status=400)
    with transaction.atomic():
        file = (
            SandboxFile.objects.select_for_update()
            .filter(pk=form.cleaned_data["file_id"], member=member)
            .first()
        )
        if file is None:
            return json_reply({"file_id": ["file_id is invalid"]}, status=400)
        if file.received_size is None or not storage.path_for(file).exists():
            return json_reply({"detail": "file not present"}, status=400)
        file.size = storage.path_for(file).stat().st_size
        file.completed_at = file.completed_at or timezone.now()
        file.save(update_fields=["size", "completed_at"])
    return json_reply({"status": "ok", "size": file.size})


@csrf_exempt
@require_POST
@fault_point("oh.delete")
@oh_api
def delete(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    form = DeleteForm(request.POST, member=member)
    if not form.is_valid():
        return json_reply(form.errors, status=400)
    files = SandboxFile.objects.filter(member=member)
    if form.cleaned_data.get("file_id") is not None:
        files = files.filter(pk=form.cleaned_data["file_id"])
    elif form.cleaned_data.get("file_basename"):
        files = files.filter(basename=form.cleaned_data["file_basename"])
    doomed = list(files.order_by("id"))
    SandboxFile.objects.filter(pk__in=[f.pk for f in doomed]).delete()
    for file in doomed:
        storage.remove(file)
    return json_reply({"ids": [file.pk for file in doomed]})


@csrf_exempt
@require_POST
@fault_point("oh.message")
@oh_api
def message(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    values = params(request)
    if "project_member_ids" in values or "all_members" in values:
        # Choosing recipients needs the project's master token, which the sandbox does not hand out.
        return json_reply({"detail": "project_member_ids and all_members need a master access token."}, 400)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return json_reply(form.errors, status=400)
    SandboxMessage.objects.create(
        member=member,
        subject=form.cleaned_data["subject"],
        message=form.cleaned_data["message"],
        delivered=member.message_permission,
    )
    return json_reply({"status": "ok"})


def _storage_error(reason: str, status: int = 403) -> HttpResponse:
    return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")


@fault_point("oh.storage_put")
def _storage_put(request: HttpRequest, file_id: int) -> HttpResponse:
    problem = storage.check_signature(request, file_id, "put")
    if problem:
        return _storage_error(problem)
    file = SandboxFile.objects.select_related("member").filter(pk=file_id).first()
    if file is None:
        return _storage_error("NoSuchKey", status=404)
    raw_length = request.META.get("CONTENT_LENGTH", "")
    if not raw_length.isdigit():
        # S3 too refuses uploads without a length (no chunked transfer encoding).
        return _storage_error("MissingContentLength", status=411)
    written = storage.receive(file, request, int(raw_length))
    SandboxFile.objects.filter(pk=file.pk).update(received_size=written)
    return HttpResponse(status=200)


@fault_point("oh.download")
def _storage_get(request: HttpRequest, file_id: int) -> HttpResponse:
    problem = storage.check_signature(request, file_id, "get")
    if problem:
        return _storage_error(problem)
    file = SandboxFile.objects.select_related("member").filter(pk=file_id, completed_at__isnull=False).first()
    if file is None or not storage.path_for(file).exists():
        return _storage_error("NoSuchKey", status=404)
    # FileResponse streams the file in blocks, so big files never sit in memory.
    return FileResponse(storage.path_for(file).open("rb"), content_type="application/octet-stream")


@csrf_exempt
@require_http_methods(["GET", "HEAD", "PUT"])
def storage_object(request: HttpRequest, file_id: int, basename: str) -> HttpResponse:
    if request.method == "PUT":
        return _storage_put(request, file_id)
    return _storage_get(request, file_id)
