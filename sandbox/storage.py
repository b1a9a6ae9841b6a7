"""The stand-in for Open Humans' S3 bucket: file bytes on disk behind signed, expiring URLs.

Paths look like the real keys, ``/storage/member-files/<source>/<uuid>/<name>``,
so a browser following a download saves the file under its own name. Upload
URLs are signed like the real ones (boto's query-string signature version 2:
``Signature``, ``Expires``, ``AWSAccessKeyId``; valid for the six hours of
INCOMPLETE_FILE_EXPIRATION_HOURS); download URLs like the real redirect
targets (django-storages with boto3, signature version 4: ``X-Amz-*``;
valid ten minutes). Anyone holding a URL may use it until it expires.
Bytes are kept under SANDBOX_STORAGE_DIR by file id, never by the
client-chosen name.
"""

import base64
import calendar
import hashlib
import hmac
import os
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from django.conf import settings
from django.http import HttpRequest

from sandbox.models import SandboxFile

PUT_LIFETIME_SECONDS = 6 * 3600
GET_LIFETIME_SECONDS = 600
CHUNK_SIZE = 1024 * 1024
ACCESS_KEY_ID = "SANDBOXSTORAGEKEY"
PREFIX = "/storage/"


def _mac(*parts: str) -> bytes:
    key = hashlib.sha256(("sandbox.storage:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, "\n".join(parts).encode(), hashlib.sha256).digest()


def path_of(file: SandboxFile) -> str:
    return PREFIX + quote(file.key)


def upload_url(request: HttpRequest, file: SandboxFile) -> str:
    expires = str(int(time.time()) + PUT_LIFETIME_SECONDS)
    signature = base64.b64encode(_mac("PUT", file.key, expires)[:20]).decode()
    query = urlencode({"Signature": signature, "Expires": expires, "AWSAccessKeyId": ACCESS_KEY_ID})
    return request.build_absolute_uri(path_of(file) + "?" + query)


def download_url(request: HttpRequest, file: SandboxFile) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    expires = str(GET_LIFETIME_SECONDS)
    query = urlencode(
        {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{ACCESS_KEY_ID}/{stamp[:8]}/us-east-1/s3/aws4_request",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": expires,
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Signature": _mac("GET", file.key, stamp, expires).hex(),
        }
    )
    return request.build_absolute_uri(path_of(file) + "?" + query)


def check_upload(request: HttpRequest, key: str) -> tuple[str, str] | None:
    """None when the URL allows a PUT of ``key`` now, else the S3 error code and message."""
    expires = request.GET.get("Expires", "")
    given = request.GET.get("Signature", "")
    if not expires.isdigit() or request.GET.get("AWSAccessKeyId") != ACCESS_KEY_ID:
        return (
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId",
        )
    expected = base64.b64encode(_mac("PUT", key, expires)[:20]).decode()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if int(expires) < time.time():
        return "AccessDenied", "Request has expired"
    return None


def check_download(request: HttpRequest, key: str) -> tuple[str, str] | None:
    """None when the URL allows a GET of ``key`` now, else the S3 error code and message."""
    stamp = request.GET.get("X-Amz-Date", "")
    expires = request.GET.get("X-Amz-Expires", "")
    given = request.GET.get("X-Amz-Signature", "")
    if not (stamp and expires.isdigit() and given):
        return "AccessDenied", "Access Denied"
    expected = _mac("GET", key, stamp, expires).hex()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    try:
        signed = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return "AuthorizationQueryParametersError", "X-Amz-Date must be in the ISO8601 Long Format"
    if signed + int(expires) < time.time():
        return "AccessDenied", "Request has expired"
    return None


def path_for(file: SandboxFile) -> Path:
    return Path(settings.SANDBOX_STORAGE_DIR) / "objects" / str(file.pk)


def receive(file: SandboxFile, stream, length: int) -> int:
    """Write ``length`` bytes from ``stream`` to the file's place, chunk by chunk; returns bytes written.

    Also records what S3 would: the size received, the MD5 as the ETag.
    """
    target = path_for(file)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    written = 0
    digest = hashlib.md5(usedforsecurity=False)
    with partial.open("wb") as out:
        while written < length:
            chunk = stream.read(min(CHUNK_SIZE, length - written))
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    # Readers see either the old bytes or the new ones, never a half-written file.
    os.replace(partial, target)
    SandboxFile.objects.filter(pk=file.pk).update(received_size=written, etag=digest.hexdigest())
    file.received_size, file.etag = written, digest.hexdigest()
    return written


def store_bytes(file: SandboxFile, data: bytes) -> None:
    """Put ``data`` in place of the file's bytes (for files made by the stand-in itself)."""
    target = path_for(file)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
    SandboxFile.objects.filter(pk=file.pk).update(received_size=len(data), size=len(data), etag=etag)
    file.received_size, file.size, file.etag = len(data), len(data), etag


def remove(file: SandboxFile) -> None:
    path_for(file).unlink(missing_ok=True)
