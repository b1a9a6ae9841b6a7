"""Small request and reply helpers shared by the stand-in endpoints."""

import base64
import binascii
import hmac
import json
from collections.abc import Callable
from functools import wraps
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse
from django.utils.http import http_date

from sandbox import counting

# Moves answered JSON with a charset, Open Humans (Django REST framework) without.
MOVES_JSON = "application/json; charset=utf-8"
OH_JSON = "application/json"
# Kept for callers of the earlier name.
JSON_TYPE = MOVES_JSON


def json_reply(data: object, status: int = 200, content_type: str = MOVES_JSON) -> HttpResponse:
    """Compact JSON, as both services sent it from their APIs."""
    body = json.dumps(data, separators=(",", ":"))
    return HttpResponse(body, status=status, content_type=content_type)


def served(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Give every reply a Date header (as any HTTP server does) and count it (see sandbox.counting)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if not response.has_header("Date"):
            response["Date"] = http_date()
        counting.count(request, response)
        return response

    return wrapper


def params(request: HttpRequest) -> dict[str, str]:
    """Query string and form body together; the body wins on a clash."""
    merged = dict(request.GET.items())
    if request.method == "POST":
        merged.update(request.POST.items())
    return merged


def bearer_token(request: HttpRequest) -> str | None:
    """The access token from ``Authorization: Bearer`` or, failing that, ``?access_token=``."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.GET.get("access_token") or None


def client_credentials(request: HttpRequest, values: dict[str, str]) -> tuple[str, str]:
    """Client id and secret from HTTP basic auth, else from the parameters."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return values.get("client_id", ""), values.get("client_secret", "")


def same_secret(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def with_query(url: str, extra: dict[str, str | None]) -> str:
    """``url`` with ``extra`` added to its query string (``None`` values left out)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, value) for key, value in extra.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
