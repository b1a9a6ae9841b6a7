"""Client of the Open Humans API for OAuth2 projects.

Follows https://www.openhumans.org/direct-sharing/oauth2-setup/ (OAuth2),
https://www.openhumans.org/direct-sharing/oauth2-data-upload/ (direct upload,
delete) and https://www.openhumans.org/direct-sharing/oauth2-features/
(exchange-member, messages). The access token only goes to the Open Humans
host, in a Bearer header; signed storage URLs (upload PUT, downloads) are
other hosts and get no credentials at all.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings
from ohapi.api import oauth2_auth_url

from apiclients.errors import MalformedResponse, TemporaryUpstreamError
from apiclients.http import bearer, json_body, send
from apiclients.oauth import TokenGrant, parse_token_reply

SERVICE = "Open Humans"
CHUNK_BYTES = 64 * 1024
# exchange-member pages hold up to 200 files; this bounds a server that loops.
MAX_PAGES = 1000


@dataclass(frozen=True)
class RemoteFile:
    id: int
    basename: str
    download_url: str
    created: str
    source: str
    metadata: dict


@dataclass(frozen=True)
class ExchangeMember:
    project_member_id: str
    username: str
    message_permission: bool
    files: list[RemoteFile]


@dataclass(frozen=True)
class UploadedFile:
    id: int
    size: int


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

    def authorize_url(self, state: str) -> str:
        """Where to send the member to join the project and approve access."""
        built = urlsplit(oauth2_auth_url(self.redirect_uri, self.client_id, self.base_url))
        # ohapi joins an absolute path onto base_url, which drops any path the
        # base has (the sandbox lives under /sandbox/openhumans); keep ours.
        return f"{self.base_url}{built.path}?{built.query}&{urlencode({'state': state})}"

    def exchange_code(self, code: str) -> TokenGrant:
        return self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        )

    def refresh(self, refresh_token: str) -> TokenGrant:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def exchange_member(self, access_token: str) -> ExchangeMember:
        """The member's project id, username, message permission and every file the project sees."""
        url: str | None = self._url("/api/direct-sharing/project/exchange-member/")
        first: dict | None = None
        files: list[RemoteFile] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            page = json_body(SERVICE, self._send("GET", url, access_token))
            if not isinstance(page, dict) or not isinstance(page.get("data", []), list):
                raise MalformedResponse(
                    SERVICE, "exchange-member page is not an object with a data list", 200
                )
            first = first or page
            files += [_remote_file(item) for item in page.get("data", [])]
            url = self._next_page(page.get("next"))
        else:
            raise MalformedResponse(SERVICE, f"exchange-member has more than {MAX_PAGES} pages", 200)
        assert first is not None
        member_id = first.get("project_member_id")
        permission = first.get("message_permission")
        username = first.get("username", "")
        if not isinstance(member_id, str) or not member_id:
            raise MalformedResponse(SERVICE, "exchange-member lacks a project_member_id string", 200)
        if not isinstance(permission, bool):
            raise MalformedResponse(SERVICE, "exchange-member lacks a boolean message_permission", 200)
        if username is None:
            username = ""
        if not isinstance(username, str):
            raise MalformedResponse(SERVICE, "exchange-member username is not a string", 200)
        return ExchangeMember(
            project_member_id=member_id, username=username, message_permission=permission, files=files
        )

    def download(self, url: str, dest: Path) -> int:
        """Stream the file at a signed ``url`` into ``dest``; returns the bytes written.

        The status is checked before anything is written, and bytes go to a
        temporary file renamed into place only once complete, so an error body
        or a cut-off transfer never ends up as ``dest``.
        """
        response = send("GET", url, service=SERVICE, session=self.session, stream=True)
        partial = dest.with_name(dest.name + ".part")
        written = 0
        try:
            with response, open(partial, "wb") as out:
                for chunk in response.iter_content(CHUNK_BYTES):
                    out.write(chunk)
                    written += len(chunk)
        except requests.RequestException:
            partial.unlink(missing_ok=True)
            raise TemporaryUpstreamError(SERVICE, "download interrupted", None) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, dest)
        return written

    def upload(
        self, access_token: str, project_member_id: str, path: Path, filename: str, metadata: dict
    ) -> UploadedFile:
        """Upload ``path`` as ``filename`` in three steps: ask for a URL, PUT the bytes, complete."""
        reply = json_body(
            SERVICE,
            self._send(
                "POST",
                self._url("/api/direct-sharing/project/files/upload/direct/"),
                access_token,
                expected=(201,),
                data={
                    "project_member_id": project_member_id,
                    "filename": filename,
                    "metadata": json.dumps(metadata),
                },
            ),
        )
        if (
            not isinstance(reply, dict)
            or not _is_int(reply.get("id"))
            or not isinstance(reply.get("url"), str)
        ):
            raise MalformedResponse(SERVICE, "upload/direct reply lacks an integer id and a url", 201)
        # data=<open file> streams it and sends Content-Length from its size,
        # so memory stays flat however large the file is.
        with open(path, "rb") as body:
            send("PUT", reply["url"], service=SERVICE, session=self.session, data=body)
        done = json_body(
            SERVICE,
            self._send(
                "POST",
                self._url("/api/direct-sharing/project/files/upload/complete/"),
                access_token,
                data={"project_member_id": project_member_id, "file_id": reply["id"]},
            ),
        )
        if not isinstance(done, dict) or done.get("status") != "ok" or not _is_int(done.get("size")):
            raise MalformedResponse(SERVICE, "upload/complete reply lacks status ok and an integer size", 200)
        return UploadedFile(id=reply["id"], size=done["size"])

    def delete_file(self, access_token: str, project_member_id: str, file_id: int) -> list[int]:
        return self._delete(access_token, {"project_member_id": project_member_id, "file_id": file_id})

    def delete_files_named(self, access_token: str, project_member_id: str, basename: str) -> list[int]:
        """Delete every file of the member's called ``basename``; returns the deleted ids."""
        return self._delete(access_token, {"project_member_id": project_member_id, "file_basename": basename})

    def send_message(self, access_token: str, subject: str, message: str) -> None:
        # Not retried: a lost answer may hide a delivered email, and members
        # should not get the same message twice.
        self._send(
            "POST",
            self._url("/api/direct-sharing/project/message/"),
            access_token,
            retry=False,
            data={"subject": subject, "message": message},
        )

    def _delete(self, access_token: str, fields: dict[str, Any]) -> list[int]:
        reply = json_body(
            SERVICE,
            self._send(
                "POST", self._url("/api/direct-sharing/project/files/delete/"), access_token, data=fields
            ),
        )
        ids = reply.get("ids") if isinstance(reply, dict) else None
        if not isinstance(ids, list) or not all(_is_int(i) for i in ids):
            raise MalformedResponse(SERVICE, "delete reply lacks a list of integer ids", 200)
        return ids

    def _token(self, fields: dict[str, str]) -> TokenGrant:
        # Not retried: codes are single-use and refresh tokens retire on use.
        response = send(
            "POST",
            self._url("/oauth2/token/"),
            service=SERVICE,
            expected=(200, 400, 401),
            session=self.session,
            retry=False,
            auth=(self.client_id, self.client_secret),
            data=fields,
        )
        return parse_token_reply(SERVICE, response)

    def _send(self, method: str, url: str, access_token: str, **kwargs: Any) -> requests.Response:
        return send(
            method, url, service=SERVICE, session=self.session, headers=bearer(access_token), **kwargs
        )

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _next_page(self, next_url: object) -> str | None:
        if next_url is None:
            return None
        if not isinstance(next_url, str):
            raise MalformedResponse(SERVICE, "exchange-member next is not a URL", 200)
        ours, theirs = urlsplit(self.base_url), urlsplit(next_url)
        # The token goes with the next page, so it must stay on our host.
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise MalformedResponse(SERVICE, "exchange-member next page is on another host", 200)
        return next_url


def _remote_file(item: object) -> RemoteFile:
    if not isinstance(item, dict):
        raise MalformedResponse(SERVICE, "exchange-member file is not an object", 200)
    metadata = item.get("metadata", {})
    if not _is_int(item.get("id")) or not isinstance(metadata, dict):
        raise MalformedResponse(SERVICE, "exchange-member file lacks an integer id or metadata object", 200)
    for key in ("basename", "download_url", "created", "source"):
        if not isinstance(item.get(key), str):
            raise MalformedResponse(SERVICE, f"exchange-member file lacks a string {key}", 200)
    return RemoteFile(
        id=item["id"],
        basename=item["basename"],
        download_url=item["download_url"],
        created=item["created"],
        source=item["source"],
        metadata=metadata,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
