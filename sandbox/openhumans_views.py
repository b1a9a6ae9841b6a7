"""The stand-in Open Humans: OAuth2, the project API, file downloads and the storage behind them.

Modelled on Open Humans' source (``private_sharing/api_views.py``,
``private_sharing/forms.py``, ``private_sharing/api_authentication.py``,
``data_import/views.py``): Django REST framework views behind
django-oauth-toolkit, so the same status codes, error bodies and headers.
"""

import json
import os
import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import wraps
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseRedirect,
    HttpResponseServerError,
    QueryDict,
    StreamingHttpResponse,
)
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from sandbox import storage
from sandbox.accounts import OTHER_SOURCE, PROJECT_ID, SOURCE, oh_member_named
from sandbox.consent import AuthorizeRequest, ConsentPage, consent
from sandbox.faults import fault_point
from sandbox.forms import (
    DeleteDataFileForm,
    DirectUploadDataFileCompletionForm,
    DirectUploadDataFileForm,
    MessageProjectMembersForm,
    OHConsentForm,
    UploadDataFileForm,
)
from sandbox.models import DownloadKey, OHAuthCode, OHToken, SandboxFile, SandboxMessage, SandboxOHMember
from sandbox.oauth import issue_code, token_endpoint
from sandbox.web import OH_JSON, json_reply

__all__ = ["PROJECT_ID", "SOURCE"]

TOKEN_EXPIRES_IN = 36000
CODE_LIFETIME = timedelta(minutes=30)
# The project may read the data of project 128 when a member shares it.
SCOPE = f"write read {OTHER_SOURCE}"
DEFAULT_LIMIT = 100
MAX_LIMIT = 200
# DataFileKey.expired: "Expiration set at one hour".
DOWNLOAD_KEY_LIFETIME = timedelta(hours=1)
INVALID_MEMBER = {"project_member_id": "project_member_id is invalid"}
ONE_OF = "one of file_id, file_basename, or all_files is required"


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
    member = oh_member_named(data["username"], share_username=data["share_username"])
    code = issue_code(
        OHAuthCode,
        CODE_LIFETIME,
        member=member,
        client_id=auth.client_id,
        redirect_uri=auth.given_redirect_uri,
        scope=SCOPE,
    )
    return code.code


def _oauth_json(data: dict, status: int) -> HttpResponse:
    # django-oauth-toolkit writes json.dumps' default (", ", ": ") form, as the recording shows.
    return HttpResponse(json.dumps(data), status=status, content_type=OH_JSON)


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
        render=_oauth_json,
    )


def _token_reply(pair: OHToken) -> dict:
    return {
        "access_token": pair.access_token,
        "expires_in": TOKEN_EXPIRES_IN,
        "token_type": "Bearer",
        "refresh_token": pair.refresh_token,
        "scope": pair.scope,
    }


# --- The project API ---------------------------------------------------------------------


def api_reply(data: object, status: int = 200) -> HttpResponse:
    return json_reply(data, status=status, content_type=OH_JSON)


def _not_authenticated(detail: str, error: str = "") -> HttpResponse:
    reply = api_reply({"detail": detail}, status=401)
    challenge = 'Bearer realm="api"'
    if error:
        challenge += f',error="invalid_token",error_description="{error}"'
    reply["WWW-Authenticate"] = challenge
    return reply


def authenticate(request: HttpRequest) -> SandboxOHMember | HttpResponse:
    """The member of the request's OAuth2 token, or the 401 Open Humans answers.

    In order, as the real authentication classes run: Open Humans' own
    check of an expired token in the Authorization header; then
    django-oauth-toolkit, which takes the header's Bearer token, or without
    an Authorization header the ``access_token`` parameter; then the master
    token check, which refuses any other Bearer header outright ("Invalid
    token."). Without credentials DRF says they were not provided; the
    challenge names the toolkit's error when it saw a bad token.
    """
    header = request.headers.get("Authorization")
    parts = header.split() if header else []
    bearer = bool(parts) and parts[0].lower() == "bearer"
    if bearer and len(parts) == 2:
        pair = OHToken.objects.filter(access_token=parts[1], revoked_at__isnull=True).first()
        if pair is not None and pair.is_expired():
            return _not_authenticated("Expired token.")
    if header is None:
        given = request.GET.get("access_token") or request.POST.get("access_token")
    else:
        given = parts[1] if bearer and len(parts) == 2 else None
    error = ""
    if given:
        pair = (
            OHToken.objects.filter(access_token=given, revoked_at__isnull=True)
            .select_related("member")
            .first()
        )
        if pair is not None and not pair.is_expired():
            return pair.member
        error = "The access token has expired." if pair is not None else "The access token is invalid."
    if bearer:
        if len(parts) == 1:
            return _not_authenticated("Invalid token header. No credentials provided.", error)
        if len(parts) > 2:
            return _not_authenticated("Invalid token header. Token string should not contain spaces.", error)
        return _not_authenticated("Invalid token.", error)
    return _not_authenticated("Authentication credentials were not provided.", error)


def oh_api(*methods: str, fault: str) -> Callable:
    """A project API view: authentication first, then the method, with DRF's headers."""
    allowed = [*methods, "HEAD"] if "GET" in methods else list(methods)

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @fault_point(fault)
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            found = authenticate(request)
            if isinstance(found, HttpResponse):
                reply = found
            elif request.method == "OPTIONS":
                reply = api_reply({"name": view.__name__.replace("_", " ").title(), "description": ""})
            elif request.method not in allowed:
                reply = api_reply({"detail": f'Method "{request.method}" not allowed.'}, status=405)
            else:
                reply = view(request, found, *args, **kwargs)
            reply["Allow"] = ", ".join([*allowed, "OPTIONS"])
            reply["Vary"] = "Accept"
            add_never_cache_headers(reply)
            return reply

        return wrapper

    return decorate


def _timestamp(moment: datetime) -> str:
    """A datetime the way Django REST framework writes one (microseconds kept, UTC as Z)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _positive(raw: str | None, strict: bool = False, cutoff: int | None = None) -> int:
    value = int(raw)  # ValueError and TypeError are the caller's to catch.
    if value < 0 or (strict and value == 0):
        raise ValueError(raw)
    return min(value, cutoff) if cutoff else value


def _page_numbers(request: HttpRequest) -> tuple[int, int]:
    """limit and offset as Django REST framework's LimitOffsetPagination reads them."""
    try:
        limit = _positive(request.GET.get("limit"), strict=True, cutoff=MAX_LIMIT)
    except (TypeError, ValueError):
        limit = DEFAULT_LIMIT
    try:
        offset = _positive(request.GET.get("offset"))
    except (TypeError, ValueError):
        offset = 0
    return limit, offset


def _with_param(url: str, key: str, value: str | None) -> str:
    """DRF's replace_query_param / remove_query_param: the query sorted by key."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if value is None:
        query.pop(key, None)
    else:
        query[key] = value
    return urlunsplit(parts._replace(query=urlencode(sorted(query.items()))))


def _origin(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _download_url(request: HttpRequest, file: SandboxFile) -> str:
    """An Open Humans address that redirects to the storage for an hour (DataFile.download_url)."""
    key = DownloadKey.objects.create(file=file)
    path = reverse("sandbox:oh-datafile-download", args=[file.pk])
    return f"{_origin(request)}{path}?key={key.key}"


def _file_json(request: HttpRequest, file: SandboxFile) -> dict:
    project = file.source.removeprefix("direct-sharing-")
    return {
        "id": file.pk,
        "basename": file.basename,
        "created": _timestamp(file.created),
        "datatypes": [],
        "download_url": _download_url(request, file),
        "metadata": file.metadata,
        "source": file.source,
        "source_project": f"{_origin(request)}/api/public/project/{project}/",
    }


@oh_api("GET", fault="oh.project")
def project(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    """The project the token belongs to (ProjectDataView), with the fields its serializer names."""
    return api_reply(
        {
            "active": True,
            "approved": True,
            "authorized_members": SandboxOHMember.objects.filter(active=True).count(),
            "badge_image": None,
            "contact_email": "moves-uploader@example.org",
            "id": PROJECT_ID,
            "id_label": SOURCE,
            "info_url": "",
            "is_academic_or_nonprofit": True,
            "is_study": False,
            "leader": "Sandbox",
            "long_description": "Copies your Moves history into your Open Humans account.",
            "name": "Moves uploader (sandbox)",
            "organization": "",
            "registered_datatypes": [],
            "requested_sources": {},
            "request_sources_access": [],
            "request_username_access": True,
            "returned_data_description": "Moves storyline data",
            "short_description": "Moves history in Open Humans",
            "slug": "moves-uploader-sandbox",
            "type": "oauth2",
        }
    )


@oh_api("GET", fault="oh.exchange_member")
def exchange_member(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    limit, offset = _page_numbers(request)
    DownloadKey.objects.filter(created__lt=timezone.now() - DOWNLOAD_KEY_LIFETIME).delete()
    shared = [OTHER_SOURCE] if member.shares_other_source else []
    files = SandboxFile.objects.filter(
        member=member, completed_at__isnull=False, source__in=[SOURCE, *shared]
    ).order_by("source", "id")
    count = files.count()
    page = [] if count == 0 or offset > count else list(files[offset : offset + limit])
    url = request.build_absolute_uri()
    following = None
    if offset + limit < count:
        following = _with_param(_with_param(url, "limit", str(limit)), "offset", str(offset + limit))
    previous = None
    if offset > 0:
        previous = _with_param(url, "limit", str(limit))
        previous = _with_param(previous, "offset", None if offset - limit <= 0 else str(offset - limit))
    reply: dict = {
        "count": count,
        "next": following,
        "previous": previous,
        "created": _timestamp(member.created),
        "project_member_id": member.project_member_id,
        "sources_shared": shared,
    }
    if member.share_username:
        reply["username"] = member.username
    # Open Humans removed message_permission in January 2019: there is no such key any more.
    reply["data"] = [_file_json(request, file) for file in page]
    return api_reply(reply)


def _data(request: HttpRequest) -> QueryDict | dict | HttpResponse:
    """The request's fields (form or JSON), mutable, as DRF's request.data.copy()."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError as exc:
            return api_reply({"detail": f"JSON parse error - {exc}"}, status=400)
        return data if isinstance(data, dict) else {}
    return request.POST.copy()


def _errors(form) -> dict[str, list[str]]:
    """The form's errors as DRF renders ``ValidationError(form.errors)``."""
    return {
        field: [error["message"] for error in found] for field, found in form.errors.get_json_data().items()
    }


def _member_form(request: HttpRequest, member: SandboxOHMember, form_class, files=None):
    """Open Humans' ProjectFormBaseView: the token's member replaces any project_member_id sent."""
    data = _data(request)
    if isinstance(data, HttpResponse):
        return data
    # "we don't want one user's OAuth2 token to allow a write to a different user's account."
    data["project_member_id"] = member.project_member_id
    form = form_class(data, files) if files is not None else form_class(data)
    if not form.is_valid():
        return api_reply(_errors(form), 400)
    if not member.active:
        return api_reply(INVALID_MEMBER, 400)
    return form


@oh_api("POST", fault="oh.upload_direct")
def upload_direct(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    form = _member_form(request, member, DirectUploadDataFileForm)
    if isinstance(form, HttpResponse):
        return form
    filename = form.cleaned_data["filename"]
    file = SandboxFile.objects.create(
        member=member,
        basename=os.path.basename(filename),
        key=f"member-files/{SOURCE}/{uuid.uuid1()}/{filename}",
        metadata=form.cleaned_data["metadata"],
        datatypes=form.cleaned_data["datatypes"],
        source=SOURCE,
        upload_expires=timezone.now() + timedelta(seconds=storage.PUT_LIFETIME_SECONDS),
    )
    return api_reply({"id": file.pk, "url": storage.upload_url(request, file)}, status=201)


@oh_api("POST", fault="oh.upload_complete")
def upload_complete(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    form = _member_form(request, member, DirectUploadDataFileCompletionForm)
    if isinstance(form, HttpResponse):
        return form
    file_id = form.cleaned_data.get("file_id")
    if not file_id:
        return api_reply({"detail": "file does not exist"}, 400)
    with transaction.atomic():
        # As the real view, any file id is completed, whoever's it is; an unknown one is a crash (500).
        file = SandboxFile.objects.select_for_update().filter(pk=file_id).first()
        if file is None:
            return HttpResponseServerError("<h1>Server Error (500)</h1>", content_type="text/html")
        path = storage.path_for(file)
        if file.received_size is None or not path.exists():
            file.completed_at = None
            file.save(update_fields=["completed_at"])
            return api_reply({"detail": "file not present"}, 400)
        file.size = path.stat().st_size
        file.completed_at = file.completed_at or timezone.now()
        file.save(update_fields=["size", "completed_at"])
    return api_reply({"status": "ok", "size": file.size})


@oh_api("POST", fault="oh.upload_direct")
def upload(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    """The older one-step upload: the file in a multipart form."""
    form = _member_form(request, member, UploadDataFileForm, files=request.FILES)
    if isinstance(form, HttpResponse):
        return form
    uploaded = form.cleaned_data["data_file"]
    now = timezone.now()
    file = SandboxFile.objects.create(
        member=member,
        basename=os.path.basename(uploaded.name),
        key=f"member-files/{SOURCE}/{uuid.uuid1()}/{uploaded.name}",
        metadata=form.cleaned_data["metadata"],
        datatypes=form.cleaned_data["datatypes"],
        source=SOURCE,
        upload_expires=now,
        completed_at=now,
    )
    storage.receive(file, uploaded, uploaded.size)
    SandboxFile.objects.filter(pk=file.pk).update(size=uploaded.size)
    return api_reply({"id": file.pk}, status=201)


@oh_api("POST", fault="oh.delete")
def delete(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    form = _member_form(request, member, DeleteDataFileForm)
    if isinstance(form, HttpResponse):
        return form
    file_id = form.cleaned_data["file_id"]
    basename = form.cleaned_data["file_basename"]
    all_files = form.cleaned_data["all_files"]
    chosen = [value for value in (file_id, basename, all_files) if value]
    if not chosen:
        return api_reply({"missing_field": ONE_OF}, 400)
    if len(chosen) > 1:
        return api_reply({"too_many": ONE_OF}, 400)
    # This project's files, completed or not (ProjectFileDeleteView filters by
    # project and member only): another source's file id deletes nothing.
    files = SandboxFile.objects.filter(member=member, source=SOURCE)
    if file_id:
        files = files.filter(pk=file_id)
    elif basename:
        files = files.filter(basename=basename)
    doomed = list(files.order_by("id"))
    SandboxFile.objects.filter(pk__in=[f.pk for f in doomed]).delete()
    for file in doomed:
        storage.remove(file)
    return api_reply({"ids": [file.pk for file in doomed]})


@oh_api("POST", fault="oh.message")
def message(request: HttpRequest, member: SandboxOHMember) -> HttpResponse:
    data = _data(request)
    if isinstance(data, HttpResponse):
        return data
    # With a member's token Open Humans itself picks the recipient: that member, never all.
    data["all_members"] = False
    data["project_member_ids"] = [member.project_member_id]
    form = MessageProjectMembersForm(data)
    if not form.is_valid():
        return api_reply({"errors": _errors(form)}, 400)
    for recipient in form.cleaned_data["project_member_ids"]:
        SandboxMessage.objects.create(
            member=recipient, subject=form.cleaned_data["subject"], message=form.cleaned_data["message"]
        )
    return api_reply("success")


# --- Downloads: an Open Humans address that redirects to the storage ------------------------


@require_http_methods(["GET", "HEAD"])
@fault_point("oh.datafile_download")
def datafile_download(request: HttpRequest, pk: str) -> HttpResponse:
    """Open Humans' DataFileDownloadView: check the one-hour key, redirect to a signed storage URL."""
    file = SandboxFile.objects.filter(pk=int(pk)).first()
    if file is None or file.completed_at is None:
        return HttpResponseForbidden("<h1>This file is unavailable.</h1>")
    key = request.GET.get("key", "")
    try:
        valid = DownloadKey.objects.filter(
            file=file, key=key, created__gt=timezone.now() - DOWNLOAD_KEY_LIFETIME
        ).exists()
    except (ValidationError, ValueError):
        valid = False
    if not valid:
        return HttpResponseForbidden("<h1>You are not authorized to view this file.</h1>")
    return HttpResponseRedirect(f"{storage.download_url(request, file)}&x-oh-key={key}")


# --- The storage (S3) ---------------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _s3_error(code: str, message: str, status: int, key: str = "") -> HttpResponse:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        + (f"<Key>{key}</Key>" if key else "")
        + f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    )
    return HttpResponse(body, status=status, content_type="application/xml")


@fault_point("oh.storage_put")
def _storage_put(request: HttpRequest, key: str) -> HttpResponse:
    problem = storage.check_upload(request, key)
    if problem:
        return _s3_error(*problem, status=403)
    file = SandboxFile.objects.filter(key=key).first()
    if file is None:
        return _s3_error("AccessDenied", "Access Denied", 403)
    raw_length = request.META.get("CONTENT_LENGTH", "")
    if not raw_length.isdigit():
        # S3 refuses uploads without a length (no chunked transfer encoding).
        return _s3_error("MissingContentLength", "You must provide the Content-Length HTTP header.", 411)
    storage.receive(file, request, int(raw_length))
    content_type = request.META.get("CONTENT_TYPE") or "binary/octet-stream"
    # S3 keeps the object's Content-Disposition as sent with the PUT (it is
    # not part of the signature) and serves it with every GET.
    disposition = request.META.get("HTTP_CONTENT_DISPOSITION", "")[:500]
    SandboxFile.objects.filter(pk=file.pk).update(content_type=content_type, content_disposition=disposition)
    response = HttpResponse(status=200)
    response["ETag"] = f'"{file.etag}"'
    response["x-amz-request-id"] = secrets.token_hex(8).upper()
    return response


@fault_point("oh.download")
def _storage_get(request: HttpRequest, key: str) -> HttpResponse:
    problem = storage.check_download(request, key)
    if problem:
        return _s3_error(*problem, status=403)
    file = SandboxFile.objects.filter(key=key).first()
    path = storage.path_for(file) if file else None
    if path is None or not path.exists():
        return _s3_error("NoSuchKey", "The specified key does not exist.", 404, key)
    size = path.stat().st_size
    start, end = 0, size - 1
    status = 200
    wanted = _RANGE.match(request.headers.get("Range", "").strip())
    if wanted and (wanted.group(1) or wanted.group(2)):
        first, last = wanted.group(1), wanted.group(2)
        if not first:
            start = max(0, size - int(last))
            if int(last) == 0:
                start = size
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        if start >= size:
            reply = _s3_error("InvalidRange", "The requested range is not satisfiable", 416)
            reply["Content-Range"] = f"bytes */{size}"
            return reply
        if end >= start:
            status = 206
        else:
            # A range that ends before it starts is ignored, as HTTP says.
            start, end = 0, size - 1
    length = end - start + 1
    body = [] if request.method == "HEAD" else _read(path, start, length)
    response = StreamingHttpResponse(body, status=status, content_type=file.content_type)
    response["Content-Length"] = str(length)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    if file.content_disposition:
        response["Content-Disposition"] = file.content_disposition
    response["ETag"] = f'"{file.etag}"'
    response["Last-Modified"] = http_date(path.stat().st_mtime)
    return response


def _read(path, start: int, length: int) -> Iterator[bytes]:
    # Streamed in blocks, so big files never sit in memory.
    with path.open("rb") as source:
        source.seek(start)
        left = length
        while left > 0:
            chunk = source.read(min(storage.CHUNK_SIZE, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


@csrf_exempt
def storage_object(request: HttpRequest, key: str) -> HttpResponse:
    if request.method == "PUT":
        return _storage_put(request, key)
    if request.method in ("GET", "HEAD"):
        return _storage_get(request, key)
    return _s3_error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
