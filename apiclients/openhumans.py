"""Client of the Open Humans API for OAuth2 projects.

Follows https://www.openhumans.org/direct-sharing/oauth2-setup/ (OAuth2),
https://www.openhumans.org/direct-sharing/oauth2-data-upload/ (direct upload,
delete) and https://www.openhumans.org/direct-sharing/oauth2-features/
(exchange-member, messages), checked against the server's own source
(``private_sharing/api_views.py``). The access token only goes to the Open
Humans host, in a Bearer header; signed storage URLs (upload PUT, downloads)
get no credentials at all.

exchange-member lists the files of every source the member shared with the
project as well as the project's own, and another project's file can carry
the same name as ours; only files whose ``source`` is the project's own
label are ever returned from here as the member's files.
"""

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings
from ohapi.api import oauth2_auth_url
from pydantic import BaseModel, ValidationError

from apiclients.errors import OPEN_HUMANS, MalformedResponse
from apiclients.http import bearer, json_body, send, spool
from apiclients.oauth import TokenGrant, parse_token_reply
from apiclients.schemas import (
    DeleteReply,
    ExchangeMemberPage,
    ProjectReply,
    RemoteFileReply,
    UploadCompleteReply,
    UploadTargetReply,
)

SERVICE = OPEN_HUMANS
ReplyModel = TypeVar("ReplyModel", bound=BaseModel)
# exchange-member pages hold up to 200 files; this bounds a server that loops.
MAX_PAGES = 1000
PAGE_SIZE = 200


@dataclass(frozen=True)
class RemoteFile:
    id: int
    basename: str
    download_url: str


@dataclass(frozen=True)
class ExchangeMember:
    project_member_id: str
    username: str
    # Only the project's own files (``source`` equal to its label), by id.
    files: list[RemoteFile]
    # Files of other sources the member shared with the project (counted, never touched).
    other_files: int = 0


@dataclass(frozen=True)
class UploadedFile:
    id: int
    size: int


@dataclass(frozen=True)
class Download:
    size: int
    sha256: str


class OpenHumansClient:
    def __init__(
        self,
        *,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = (base_url or settings.OH_BASE_URL).rstrip("/")
        self.client_id = client_id or settings.OH_CLIENT_ID
        self.client_secret = client_secret or settings.OH_CLIENT_SECRET
        self.redirect_uri = redirect_uri or settings.OH_REDIRECT_URI
        self.session = session or requests.Session()

    # --- OAuth -------------------------------------------------------------------

    def authorize_url(self, state: str) -> str:
        """Where to send the member to join the project and approve access."""
        url = oauth2_auth_url(self.redirect_uri, self.client_id, self.base_url)
        return f"{url}&{urlencode({'state': state})}"

    def exchange_code(self, code: str) -> TokenGrant:
        return self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        )

    def refresh(self, refresh_token: str) -> TokenGrant:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    # --- Project and member ----------------------------------------------------------

    def project_source(self, access_token: str) -> str:
        """The project's own source label (``direct-sharing-<id>``), as the server names it."""
        reply = self._validated(ProjectReply, self._send("GET", "/api/direct-sharing/project/", access_token))
        return reply.id_label

    def exchange_member(self, access_token: str, own_source: str) -> ExchangeMember:
        """The member's project id and username, and the project's own files of theirs."""
        url = self._url(f"/api/direct-sharing/project/exchange-member/?limit={PAGE_SIZE}")
        first: ExchangeMemberPage | None = None
        files: list[RemoteFile] = []
        others = 0
        for _ in range(MAX_PAGES):
            page = json_body(SERVICE, self._send("GET", url, access_token, absolute=True))
            parsed = self._validated(ExchangeMemberPage, page, items_raw=True)
            first = first or parsed
            items = page.get("data")
            if items is None:
                items = []
            if not isinstance(items, list):
                # Read as "no files", this would hide the member's own file.
                raise MalformedResponse(SERVICE, "exchange-member data is not a list", 200)
            for item in items:
                if isinstance(item, dict) and item.get("source") == own_source:
                    remote = self._validated(RemoteFileReply, item)
                    files.append(RemoteFile(remote.id, remote.basename, remote.download_url))
                else:
                    others += 1
            next_url = self._next_page(parsed.next)
            if next_url is None:
                break
            url = next_url
        else:
            raise MalformedResponse(SERVICE, f"exchange-member has more than {MAX_PAGES} pages", 200)
        assert first is not None
        if not first.project_member_id:
            raise MalformedResponse(SERVICE, "exchange-member lacks project_member_id", 200)
        return ExchangeMember(
            project_member_id=first.project_member_id,
            username=first.username or "",
            files=sorted(files, key=lambda remote: remote.id),
            other_files=others,
        )

    # --- Files -------------------------------------------------------------------------

    def download(self, url: str, dest: Path, limit: int) -> Download:
        """Stream the file at a signed ``url`` into ``dest``; returns its size and SHA-256.

        The status is checked before anything is written, and bytes go to a
        temporary file renamed into place only once complete, so an error body
        or a cut-off transfer never ends up as ``dest``.
        """
        response = send("GET", url, service=SERVICE, session=self.session, stream=True, quote_errors=False)
        partial = dest.with_name(dest.name + ".part")
        try:
            with open(partial, "wb") as out:
                hashing = _HashingWriter(out)
                size = spool(SERVICE, response, hashing, limit)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, dest)
        return Download(size=size, sha256=hashing.digest.hexdigest())

    def download_range(self, url: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (inclusive) of the file at a signed ``url``."""
        response = send(
            "GET",
            url,
            service=SERVICE,
            session=self.session,
            expected=(206,),
            quote_errors=False,
            headers={"Range": f"bytes={start}-{end}"},
        )
        content = response.content
        if len(content) != end - start + 1:
            raise MalformedResponse(SERVICE, "storage answered a different range than asked", 206)
        return content

    def upload(
        self,
        access_token: str,
        project_member_id: str,
        path: Path,
        filename: str,
        metadata: dict[str, Any],
        on_created: Callable[[int], None] | None = None,
    ) -> UploadedFile:
        """Upload ``path`` as ``filename`` in three steps: ask for a URL, PUT the bytes, complete.

        ``on_created(file_id)`` is called as soon as Open Humans has named the
        new file, before its bytes are sent, so that a run which dies half way
        leaves a record of the file to clean up.
        """
        target = self._validated(
            UploadTargetReply,
            self._send(
                "POST",
                "/api/direct-sharing/project/files/upload/direct/",
                access_token,
                expected=(201,),
                data={
                    "project_member_id": project_member_id,
                    "filename": filename,
                    "metadata": json.dumps(metadata),
                },
            ),
        )
        if on_created is not None:
            on_created(target.id)
        # data=<open file> streams it and sends Content-Length from its size,
        # so memory stays flat however large the file is.
        # Storage keeps the Content-Disposition sent with the bytes (it is not
        # signed), so a browser following a download saves the file rather
        # than showing 50 MB of JSON.
        disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
        with open(path, "rb") as body:
            send(
                "PUT",
                target.url,
                service=SERVICE,
                session=self.session,
                data=body,
                headers=disposition,
                quote_errors=False,
            )
        done = self._validated(
            UploadCompleteReply,
            self._send(
                "POST",
                "/api/direct-sharing/project/files/upload/complete/",
                access_token,
                data={"project_member_id": project_member_id, "file_id": target.id},
            ),
        )
        sent = path.stat().st_size
        if done.size != sent:
            # Open Humans holds something else than we sent; the file is left
            # for the next run to delete (it was reported through on_created).
            raise MalformedResponse(SERVICE, f"upload completed with {done.size} bytes of {sent}", 200)
        return UploadedFile(id=target.id, size=done.size)

    def delete_file(self, access_token: str, project_member_id: str, file_id: int) -> list[int]:
        """Delete one file of the project's by id; returns the ids deleted (none if it was gone)."""
        reply = self._validated(
            DeleteReply,
            self._send(
                "POST",
                "/api/direct-sharing/project/files/delete/",
                access_token,
                data={"project_member_id": project_member_id, "file_id": file_id},
            ),
        )
        return list(reply.ids)

    def send_message(self, access_token: str, subject: str, message: str) -> None:
        # Not retried: a lost answer may hide a delivered email, and members
        # should not get the same message twice. The server answers the JSON
        # string "success"; nothing else of the answer is used.
        self._send(
            "POST",
            "/api/direct-sharing/project/message/",
            access_token,
            data={"subject": subject, "message": message},
        )

    # --- Internals ---------------------------------------------------------------------

    def _token(self, fields: dict[str, str]) -> TokenGrant:
        # Not retried: codes are single-use and refresh tokens retire on use.
        response = send(
            "POST",
            self._url("/oauth2/token/"),
            service=SERVICE,
            expected=(200, 400, 401),
            session=self.session,
            quote_errors=False,
            auth=(self.client_id, self.client_secret),
            data=fields,
        )
        return parse_token_reply(SERVICE, response)

    def _send(
        self, method: str, path: str, access_token: str, absolute: bool = False, **kwargs: Any
    ) -> requests.Response:
        url = path if absolute else self._url(path)
        return send(
            method, url, service=SERVICE, session=self.session, headers=bearer(access_token), **kwargs
        )

    def _validated(self, model: type[ReplyModel], body: Any, items_raw: bool = False) -> ReplyModel:
        data = json_body(SERVICE, body) if isinstance(body, requests.Response) else body
        if items_raw and isinstance(data, dict):
            # Each file is checked on its own, and only when it is ours.
            data = {key: value for key, value in data.items() if key != "data"}
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "answer"
            raise MalformedResponse(SERVICE, f"{_name(model)} reply: {where}: {error['msg']}", 200) from None

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _next_page(self, next_url: str | None) -> str | None:
        if next_url is None:
            return None
        ours, theirs = urlsplit(self.base_url), urlsplit(next_url)
        # The token goes with the next page, so it must stay on our host.
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise MalformedResponse(SERVICE, "exchange-member next page is on another host", 200)
        return next_url


class _HashingWriter:
    """A file wrapper that hashes what passes through it."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.digest = hashlib.sha256()

    def write(self, chunk: bytes) -> int:
        self.digest.update(chunk)
        return self.out.write(chunk)


def _name(model: type[BaseModel]) -> str:
    return model.__name__.removesuffix("Reply").removesuffix("Page")
