"""Small request and reply helpers shared by the stand-in endpoints."""

import base64
import binascii
import hmac
import json
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse

JSON_TYPE = "application/json; charset=utf-8"


def json_reply(data: object, status: int = 200) -> HttpResponse:
    body = json.dumps(data, separators=(",", ":"))
    return HttpResponse(body, status=status, content_type=JSON_TYPE)


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
