"""File bytes of the stand-in Open Humans, on disk, behind signed expiring URLs.

Like the S3 URLs of the real service, a storage URL carries its operation
(``put`` or ``get``), an expiry time and an HMAC over both and the file id;
anyone holding the URL may use it until it expires.
"""

import os
import time
from pathlib import Path

from django.conf import settings
from django.core.signing import Signer
from django.http import HttpRequest
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from sandbox.models import SandboxFile

PUT_LIFETIME_SECONDS = 6 * 3600
GET_LIFETIME_SECONDS = 3600
CHUNK_SIZE = 1024 * 1024

_signer = Signer(salt="sandbox.storage")


def _signature(op: str, file_id: int, expires: int) -> str:
    return _signer.signature(f"{op}:{file_id}:{expires}")


def signed_url(request: HttpRequest, file: SandboxFile, op: str) -> str:
    lifetime = PUT_LIFETIME_SECONDS if op == "put" else GET_LIFETIME_SECONDS
    expires = int(time.time()) + lifetime
    path = reverse("sandbox:oh-storage", args=[file.pk, file.basename])
    query = f"?op={op}&expires={expires}&signature={_signature(op, file.pk, expires)}"
    return request.build_absolute_uri(path + query)


def check_signature(request: HttpRequest, file_id: int, op: str) -> str | None:
    """None when the URL is valid for ``op``, otherwise why not."""
    expires = request.GET.get("expires", "")
    if request.GET.get("op") != op or not expires.isdigit():
        return "SignatureDoesNotMatch"
    if not constant_time_compare(request.GET.get("signature", ""), _signature(op, file_id, int(expires))):
        return "SignatureDoesNotMatch"
    if int(expires) < time.time():
        return "Request has expired"
    return None


def path_for(file: SandboxFile) -> Path:
    return Path(settings.SANDBOX_STORAGE_DIR) / file.member.project_member_id / str(file.pk)


def receive(file: SandboxFile, stream, length: int) -> int:
    """Write ``length`` bytes from ``stream`` to the file's place, chunk by chunk; returns bytes written."""
    target = path_for(file)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    written = 0
    with partial.open("wb") as out:
        while written < length:
            chunk = stream.read(min(CHUNK_SIZE, length - written))
            if not chunk:
                break
            out.write(chunk)
            written += len(chunk)
    # Readers see either the old bytes or the new ones, never a half-written file.
    os.replace(partial, target)
    return written


def remove(file: SandboxFile) -> None:
    path_for(file).unlink(missing_ok=True)
