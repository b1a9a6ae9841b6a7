import json
from urllib.parse import parse_qs, urlsplit

import pytest

from apiclients.errors import InvalidGrant, MalformedResponse, PermanentUpstreamError, Unauthorized
from apiclients.oauth import TokenGrant
from apiclients.openhumans import ExchangeMember, RemoteFile, UploadedFile


def test_authorize_url_adds_state_to_the_ohapi_url(oh):
    url = urlsplit(oh.authorize_url("state-456"))

    assert (url.netloc, url.path) == ("www.openhumans.org", "/direct-sharing/projects/oauth2/authorize/")
    assert parse_qs(url.query) == {
        "client_id": ["test-oh-client"],
        "response_type": ["code"],
        "redirect_uri": ["https://uploader.example.org/complete/"],
        "state": ["state-456"],
    }


def test_authorize_url_keeps_a_base_path(settings):
    from apiclients.openhumans import OpenHumansClient

    client = OpenHumansClient(base_url="http://127.0.0.1:8000/sandbox/openhumans")

    assert client.authorize_url("s").startswith(
        "http://127.0.0.1:8000/sandbox/openhumans/direct-sharing/projects/oauth2/authorize/?"
    )


def test_exchange_code_uses_basic_auth(oh, cassette, sent):
    with cassette("oh_token"):
        grant = oh.exchange_code("the-code")

    assert grant == TokenGrant(
        "oh-access-fake", "oh-refresh-fake", 36000, scope="write read direct-sharing-128"
    )
    assert sent[0].headers["Authorization"] == "Basic dGVzdC1vaC1jbGllbnQ6dGVzdC1vaC1zZWNyZXQ="
    assert parse_qs(sent[0].body) == {
        "grant_type": ["authorization_code"],
        "code": ["the-code"],
        "redirect_uri": ["https://uploader.example.org/complete/"],
    }


def test_refresh_invalid_grant_raises(oh, cassette):
    with cassette("oh_token_invalid_grant") as tape, pytest.raises(InvalidGrant):
        oh.refresh("retired-refresh")

    assert tape.play_count == 1


def test_exchange_member_follows_next_pages(oh, cassette, sent):
    with cassette("oh_exchange_member_pages") as tape:
        member = oh.exchange_member("oh-access-fake")

    assert member == ExchangeMember(
        project_member_id="23456789",
        username="alice",
        message_permission=True,
        files=[
            RemoteFile(
                id=40330,
                basename="moves-storyline-data.json",
                download_url="https://storage.example.org/member-files/40330/moves-storyline-data.json?Signature=fake",
                created="2018-04-25T20:34:38Z",
                source="direct-sharing-138",
                metadata={"description": "Moves GPS history", "tags": ["GPS", "Moves", "steps"]},
            ),
            RemoteFile(
                id=40331,
                basename="notes.txt",
                download_url="https://storage.example.org/member-files/40331/notes.txt?Signature=fake",
                created="2018-04-26T10:00:00Z",
                source="direct-sharing-128",
                metadata={"description": "Notes", "tags": ["text"]},
            ),
        ],
    )
    assert tape.play_count == 2
    assert [r.headers["Authorization"] for r in sent] == ["Bearer oh-access-fake"] * 2


def test_exchange_member_refuses_a_next_page_on_another_host(oh, cassette):
    with cassette("oh_exchange_member_foreign_next") as tape, pytest.raises(MalformedResponse):
        oh.exchange_member("oh-access-fake")

    assert tape.play_count == 1


def test_exchange_member_expired_token_raises_unauthorized(oh, cassette):
    with cassette("oh_expired_token"), pytest.raises(Unauthorized) as caught:
        oh.exchange_member("oh-access-fake")

    assert "Expired token." in str(caught.value)
    assert "oh-access-fake" not in str(caught.value)


def test_upload_streams_the_file_without_credentials_to_storage(oh, cassette, sent, tmp_path):
    path = tmp_path / "data.json"
    path.write_bytes(b"[" + b'{"date":"20160616","summary":null,"segments":null},' * 1 + b"{}]" + b" " * 40)
    metadata = {"description": "Moves", "tags": ["GPS"], "start_date": "2016-06-16"}

    with cassette("oh_upload") as tape:
        uploaded = oh.upload("oh-access-fake", "23456789", path, "moves-storyline-data.json", metadata)

    assert uploaded == UploadedFile(id=40332, size=96)
    assert tape.play_count == 3
    direct, put, complete = sent
    assert parse_qs(direct.body) == {
        "project_member_id": ["23456789"],
        "filename": ["moves-storyline-data.json"],
        "metadata": [json.dumps(metadata)],
    }
    assert put.method == "PUT"
    # The open file itself went to requests, which streams it in blocks.
    assert put.body.name == str(path)
    assert "Authorization" not in put.headers
    assert put.headers["Content-Length"] == str(path.stat().st_size)
    assert parse_qs(complete.body) == {"project_member_id": ["23456789"], "file_id": ["40332"]}
    assert complete.headers["Authorization"] == "Bearer oh-access-fake"


def test_upload_for_a_member_who_left_raises_permanent(oh, cassette, tmp_path):
    path = tmp_path / "data.json"
    path.write_text("[]")

    with cassette("oh_upload_member_left") as tape, pytest.raises(PermanentUpstreamError) as caught:
        oh.upload(
            "oh-access-fake", "23456789", path, "moves-storyline-data.json", {"description": "d", "tags": []}
        )

    assert caught.value.status == 400
    assert "project_member_id is invalid" in str(caught.value)
    assert tape.play_count == 1


def test_download_writes_the_bytes_and_counts_them(oh, cassette, sent, tmp_path):
    dest = tmp_path / "file.json"
    url = "https://storage.example.org/member-files/40330/moves-storyline-data.json?Signature=fake"

    with cassette("oh_download"):
        written = oh.download(url, dest)

    assert json.loads(dest.read_bytes()) == [
        {"date": "20160616", "summary": None, "segments": None},
        {"date": "20160617", "summary": None, "segments": None},
    ]
    assert written == dest.stat().st_size
    assert "Authorization" not in sent[0].headers


def test_download_error_body_never_becomes_the_file(oh, cassette, tmp_path):
    dest = tmp_path / "file.json"
    url = "https://storage.example.org/member-files/40330/moves-storyline-data.json?Signature=fake"

    with cassette("oh_download_expired"), pytest.raises(PermanentUpstreamError) as caught:
        oh.download(url, dest)

    assert caught.value.status == 403
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []
    assert "Signature" not in str(caught.value)


def test_delete_file_and_delete_files_named_return_the_ids(oh, cassette, sent):
    with cassette("oh_delete"):
        by_id = oh.delete_file("oh-access-fake", "23456789", 40330)
        by_name = oh.delete_files_named("oh-access-fake", "23456789", "moves-storyline-data.json")

    assert (by_id, by_name) == ([40330], [40331, 40332])
    assert parse_qs(sent[0].body) == {"project_member_id": ["23456789"], "file_id": ["40330"]}
    assert parse_qs(sent[1].body) == {
        "project_member_id": ["23456789"],
        "file_basename": ["moves-storyline-data.json"],
    }


def test_send_message_posts_subject_and_message(oh, cassette, sent):
    with cassette("oh_message") as tape:
        oh.send_message("oh-access-fake", "Moves needs you", "Please reconnect.")

    assert tape.play_count == 1
    assert parse_qs(sent[0].body) == {"subject": ["Moves needs you"], "message": ["Please reconnect."]}
    assert sent[0].headers["Authorization"] == "Bearer oh-access-fake"
