"""download_url: an Open Humans address that redirects to signed storage, which honours byte ranges."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from sandbox import testing
from sandbox.models import DownloadKey, SandboxFile
from tests.sandbox.test_oh_api import EXCHANGE, auth, path_of, upload

CONTENT = b"0123456789abcdefghij"


@pytest.fixture
def stored(client, oh_member, oh_access) -> int:
    return upload(client, oh_member, oh_access, CONTENT, filename="moves-storyline-data.json")


def download_url(client, token: str) -> str:
    [listed] = client.get(EXCHANGE, **auth(token)).json()["data"]
    return listed["download_url"]


def storage_url(client, token: str) -> str:
    """Where the Open Humans address sends the browser."""
    response = client.get(path_of(download_url(client, token)))
    assert response.status_code == 302
    return response["Location"]


@pytest.mark.django_db
def test_download_url_redirects_to_storage_named_after_the_file(client, oh_access, stored):
    address = download_url(client, oh_access)
    key = address.rsplit("key=", 1)[1]
    redirect = client.get(path_of(address))
    location = urlsplit(redirect["Location"])
    assert redirect.status_code == 302
    assert address.startswith(f"http://testserver/data-management/datafile-download/{stored}/?key=")
    assert re.fullmatch(
        r"/storage/member-files/direct-sharing-138/[0-9a-f-]{36}/moves-storyline-data.json", location.path
    )
    assert location.path.endswith("/moves-storyline-data.json")
    assert location.query.startswith("X-Amz-Algorithm=AWS4-HMAC-SHA256&")
    assert location.query.endswith(f"&x-oh-key={key}")


@pytest.mark.django_db
def test_following_the_redirect_gives_the_bytes(client, oh_access, stored):
    response = client.get(path_of(storage_url(client, oh_access)))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == CONTENT
    assert (response["Content-Length"], response["Accept-Ranges"]) == (str(len(CONTENT)), "bytes")
    assert response["Content-Type"] == "application/octet-stream"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "status", "content_range", "body"),
    [
        ("bytes=0-9", 206, "bytes 0-9/20", b"0123456789"),
        ("bytes=10-", 206, "bytes 10-19/20", b"abcdefghij"),
        ("bytes=-3", 206, "bytes 17-19/20", b"hij"),
        ("bytes=15-100", 206, "bytes 15-19/20", b"fghij"),
        ("bytes=0-1,5-6", 200, None, CONTENT),
        ("bytes=9-2", 200, None, CONTENT),
    ],
)
def test_storage_honours_a_byte_range(client, oh_access, stored, header, status, content_range, body):
    response = client.get(path_of(storage_url(client, oh_access)), HTTP_RANGE=header)
    assert response.status_code == status
    assert response.get("Content-Range") == content_range
    assert response["Content-Length"] == str(len(body))
    assert b"".join(response.streaming_content) == body


@pytest.mark.django_db
def test_storage_range_beyond_the_end_is_416(client, oh_access, stored):
    response = client.get(path_of(storage_url(client, oh_access)), HTTP_RANGE="bytes=20-30")
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */20"
    assert b"<Code>InvalidRange</Code>" in response.content


@pytest.mark.django_db
def test_storage_head_answers_headers_only(client, oh_access, stored):
    response = client.head(path_of(storage_url(client, oh_access)))
    assert (response.status_code, response["Content-Length"]) == (200, "20")
    assert b"".join(response.streaming_content) == b""


@pytest.mark.django_db
def test_download_with_a_wrong_key_is_403(client, oh_access, stored):
    address = download_url(client, oh_access)
    response = client.get(path_of(address.replace("key=", "key=0")))
    assert (response.status_code, response.content) == (
        403,
        b"<h1>You are not authorized to view this file.</h1>",
    )


@pytest.mark.django_db
def test_download_key_expires_after_an_hour(client, oh_access, stored):
    address = download_url(client, oh_access)
    DownloadKey.objects.update(created=timezone.now() - timedelta(hours=1, seconds=1))
    assert client.get(path_of(address)).status_code == 403


@pytest.mark.django_db
def test_download_of_an_incomplete_file_is_unavailable(client, oh_access, stored):
    address = download_url(client, oh_access)
    SandboxFile.objects.update(completed_at=None)
    response = client.get(path_of(address))
    assert (response.status_code, response.content) == (403, b"<h1>This file is unavailable.</h1>")


@pytest.mark.django_db
def test_storage_url_expires_after_ten_minutes(client, oh_access, stored, monkeypatch):
    location = storage_url(client, oh_access)
    real_time = __import__("time").time
    # The clock is the boundary here: jump eleven minutes ahead instead of waiting.
    monkeypatch.setattr("sandbox.storage.time.time", lambda: real_time() + 11 * 60)
    response = client.get(path_of(location))
    assert response.status_code == 403
    assert b"<Message>Request has expired</Message>" in response.content


@pytest.mark.django_db
def test_storage_without_a_signature_is_403(client, oh_access, stored):
    assert client.get(urlsplit(storage_url(client, oh_access)).path).status_code == 403


@pytest.mark.django_db
def test_another_sources_file_downloads_under_its_name(client, oh_member, oh_access):
    testing.share_other_source(oh_member)
    [listed] = client.get(EXCHANGE, **auth(oh_access)).json()["data"]
    location = client.get(path_of(listed["download_url"]))["Location"]
    assert urlsplit(location).path.startswith("/storage/member-files/direct-sharing-128/")
    assert urlsplit(location).path.endswith("/moves-storyline-data.json")
    assert b"another project" in b"".join(client.get(path_of(location)).streaming_content)
