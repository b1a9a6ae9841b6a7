import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox import testing
from sandbox.models import SandboxFile, SandboxMessage
from sandbox.storage import path_for

BASE = "/sandbox/openhumans/api/direct-sharing/project/"
EXCHANGE = BASE + "exchange-member/"
DIRECT = BASE + "files/upload/direct/"
COMPLETE = BASE + "files/upload/complete/"
DELETE = BASE + "files/delete/"
MESSAGE = BASE + "message/"
METADATA = {
    "description": "Moves data",
    "tags": ["GPS", "Moves"],
    "start_date": "2020-01-01",
    "end_date": "2020-02-01",
}


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + "?" + parts.query


def start_upload(client, member, token: str, filename: str = "a.json", metadata: dict = METADATA):
    """Step 1 of a direct upload: ask for a storage URL."""
    form = {
        "project_member_id": member.project_member_id,
        "filename": filename,
        "metadata": json.dumps(metadata),
    }
    return client.post(DIRECT, form, **auth(token))


def upload(client, member, token: str, content: bytes = b"[1, 2, 3]", filename: str = "data.json") -> int:
    """All three steps of a direct upload; returns the file id."""
    started = start_upload(client, member, token, filename=filename)
    assert started.status_code == 201
    put = client.put(path_of(started.json()["url"]), content, content_type="application/octet-stream")
    assert put.status_code == 200
    file_id = started.json()["id"]
    done = client.post(
        COMPLETE, {"project_member_id": member.project_member_id, "file_id": file_id}, **auth(token)
    )
    assert done.json() == {"status": "ok", "size": len(content)}
    return file_id


@pytest.mark.django_db
def test_exchange_member_answers_the_real_shape(client, oh_member, oh_access):
    body = client.get(EXCHANGE, **auth(oh_access)).json()
    assert body["project_member_id"] == oh_member.project_member_id
    assert body["username"] == "olivia"
    assert body["message_permission"] is True
    assert body["created"].endswith("Z")
    assert body["sources_shared"] == ["direct-sharing-138"]
    assert (body["count"], body["next"], body["previous"], body["data"]) == (0, None, None, [])


@pytest.mark.django_db
def test_exchange_member_leaves_out_an_unshared_username(client):
    member = testing.create_oh_member("private", share_username=False)
    body = client.get(EXCHANGE, **auth(testing.issue_oh_tokens(member)[0])).json()
    assert "username" not in body


@pytest.mark.django_db
def test_exchange_member_accepts_the_token_in_the_query_string(client, oh_access):
    assert client.get(EXCHANGE, {"access_token": oh_access}).status_code == 200


@pytest.mark.django_db
def test_exchange_member_without_token_is_401_with_www_authenticate(client):
    response = client.get(EXCHANGE)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db
def test_exchange_member_unknown_token_is_401(client):
    response = client.get(EXCHANGE, **auth("unknown"))
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.django_db
def test_exchange_member_expired_token_is_401_expired(client, oh_member):
    expired, _ = testing.issue_oh_tokens(oh_member, expires_in=-5)
    response = client.get(EXCHANGE, **auth(expired))
    assert response.status_code == 401
    assert response.json() == {"detail": "Expired token."}


@pytest.mark.django_db
def test_upload_in_three_steps_stores_the_bytes_and_lists_the_file(client, oh_member, oh_access):
    content = b'[{"date": "20200101"}]' * 1000
    file_id = upload(client, oh_member, oh_access, content, filename="moves-storyline-data.json")
    [stored] = testing.stored_files(oh_member)
    assert stored.pk == file_id
    assert testing.read_file_bytes(stored) == content
    assert stored.metadata == METADATA
    [listed] = client.get(EXCHANGE, **auth(oh_access)).json()["data"]
    assert listed["id"] == file_id
    assert listed["basename"] == "moves-storyline-data.json"
    assert listed["metadata"] == METADATA
    assert listed["source"] == "direct-sharing-138"
    downloaded = client.get(path_of(listed["download_url"]))
    assert downloaded.status_code == 200
    assert b"".join(downloaded.streaming_content) == content


@pytest.mark.django_db
def test_upload_direct_answers_201_with_a_signed_storage_url(client, oh_member, oh_access):
    response = start_upload(client, oh_member, oh_access)
    url = response.json()["url"]
    assert response.status_code == 201
    assert url.startswith("http://testserver/sandbox/openhumans/storage/")
    assert sorted(parse_qs(urlsplit(url).query)) == ["expires", "op", "signature"]
    assert testing.stored_files(oh_member) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"description": "x"}, '"tags" is a required field of the metadata'),
        ({"tags": []}, '"description" is a required field of the metadata'),
        ({"description": 5, "tags": []}, '"description" must be a string'),
        ({"description": "x", "tags": "GPS"}, '"tags" must be an array of strings'),
        ({"description": "x", "tags": [], "start_date": "last week"}, '"start_date" must be an ISO 8601'),
        ({"description": "x", "tags": [], "md5": "abc"}, '"md5" must be 32 hexadecimal digits'),
    ],
)
def test_upload_direct_invalid_metadata_is_400_with_form_errors(
    client, oh_member, oh_access, metadata, message
):
    response = start_upload(client, oh_member, oh_access, metadata=metadata)
    assert response.status_code == 400
    [error] = response.json()["metadata"]
    assert error.startswith(message)
    assert SandboxFile.objects.count() == 0


@pytest.mark.django_db
def test_upload_direct_accepts_valid_optional_metadata(client, oh_member, oh_access):
    metadata = dict(
        METADATA,
        md5=hashlib.md5(b"x", usedforsecurity=False).hexdigest(),
        creation_date="2020-02-01T10:00:00Z",
        extra=1,
    )
    response = start_upload(client, oh_member, oh_access, metadata=metadata)
    assert response.status_code == 201
    assert SandboxFile.objects.get().metadata == metadata


@pytest.mark.django_db
def test_upload_direct_missing_fields_are_400(client, oh_access):
    response = client.post(DIRECT, {}, **auth(oh_access))
    assert sorted(response.json()) == ["filename", "metadata", "project_member_id"]


@pytest.mark.django_db
def test_upload_direct_for_another_member_is_invalid(client, oh_access):
    other = testing.create_oh_member("someone")
    response = start_upload(client, other, oh_access)
    assert response.status_code == 400
    assert response.json() == {"project_member_id": ["project_member_id is invalid"]}


@pytest.mark.django_db
def test_upload_direct_for_a_member_who_left_is_invalid(client, oh_member, oh_access):
    # The member left after this token was checked; Open Humans reports the member, not the token.
    form_data = {
        "project_member_id": oh_member.project_member_id,
        "filename": "a",
        "metadata": json.dumps(METADATA),
    }
    type(oh_member).objects.filter(pk=oh_member.pk).update(active=False)
    response = client.post(DIRECT, form_data, **auth(oh_access))
    assert response.json() == {"project_member_id": ["project_member_id is invalid"]}


@pytest.mark.django_db
def test_upload_complete_without_bytes_is_400(client, oh_member, oh_access):
    started = start_upload(client, oh_member, oh_access).json()
    response = client.post(
        COMPLETE,
        {"project_member_id": oh_member.project_member_id, "file_id": started["id"]},
        **auth(oh_access),
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "file not present"}
    assert client.get(EXCHANGE, **auth(oh_access)).json()["data"] == []


@pytest.mark.django_db
def test_storage_put_with_a_tampered_signature_is_refused(client, oh_member, oh_access):
    started = start_upload(client, oh_member, oh_access).json()
    url = path_of(started["url"]).replace("signature=", "signature=x")
    assert client.put(url, b"data", content_type="application/octet-stream").status_code == 403
    assert SandboxFile.objects.get().received_size is None


@pytest.mark.django_db
def test_storage_put_after_expiry_is_refused(client, oh_member, oh_access, monkeypatch):
    started = start_upload(client, oh_member, oh_access).json()
    real_time = __import__("time").time
    # The clock is the boundary here: jump seven hours ahead instead of waiting.
    monkeypatch.setattr("sandbox.storage.time.time", lambda: real_time() + 7 * 3600)
    response = client.put(path_of(started["url"]), b"data", content_type="application/octet-stream")
    assert response.status_code == 403
    assert response.content == b"Request has expired"


@pytest.mark.django_db
def test_download_needs_the_signed_url(client, oh_member, oh_access):
    upload(client, oh_member, oh_access)
    [listed] = client.get(EXCHANGE, **auth(oh_access)).json()["data"]
    unsigned = urlsplit(listed["download_url"]).path
    assert client.get(unsigned).status_code == 403


@pytest.mark.django_db
def test_exchange_member_paginates_with_limit_and_offset(client, oh_member, oh_access):
    ids = [upload(client, oh_member, oh_access, filename=f"f{n}.json") for n in range(5)]
    page = client.get(EXCHANGE, {"limit": 2}, **auth(oh_access)).json()
    assert page["count"] == 5
    assert [f["id"] for f in page["data"]] == ids[:2]
    assert page["previous"] is None
    second = client.get(path_of(page["next"]), **auth(oh_access)).json()
    assert [f["id"] for f in second["data"]] == ids[2:4]
    last = client.get(path_of(second["next"]), **auth(oh_access)).json()
    assert [f["id"] for f in last["data"]] == ids[4:]
    assert last["next"] is None
    assert parse_qs(urlsplit(last["previous"]).query)["offset"] == ["2"]


@pytest.mark.django_db
def test_exchange_member_limit_is_capped_at_200(client, oh_member, oh_access):
    for n in range(3):
        upload(client, oh_member, oh_access, filename=f"f{n}.json")
    page = client.get(EXCHANGE, {"limit": 1000, "offset": 1}, **auth(oh_access)).json()
    assert len(page["data"]) == 2
    assert parse_qs(urlsplit(page["previous"]).query)["limit"] == ["200"]


@pytest.mark.django_db
def test_delete_by_file_id_removes_row_and_bytes(client, oh_member, oh_access):
    keep = upload(client, oh_member, oh_access)
    doomed = upload(client, oh_member, oh_access)
    doomed_file = testing.stored_files(oh_member)[1]
    response = client.post(
        DELETE, {"project_member_id": oh_member.project_member_id, "file_id": doomed}, **auth(oh_access)
    )
    assert response.json() == {"ids": [doomed]}
    assert [f.pk for f in testing.stored_files(oh_member)] == [keep]
    assert not path_for(doomed_file).exists()


@pytest.mark.django_db
def test_delete_unknown_file_id_answers_no_ids(client, oh_member, oh_access):
    upload(client, oh_member, oh_access)
    response = client.post(
        DELETE, {"project_member_id": oh_member.project_member_id, "file_id": 999999}, **auth(oh_access)
    )
    assert response.status_code == 200
    assert response.json() == {"ids": []}
    assert len(testing.stored_files(oh_member)) == 1


@pytest.mark.django_db
def test_delete_by_basename_removes_every_file_of_that_name(client, oh_member, oh_access):
    a = upload(client, oh_member, oh_access, filename="moves.json")
    keep = upload(client, oh_member, oh_access, filename="other.json")
    b = upload(client, oh_member, oh_access, filename="moves.json")
    data = {"project_member_id": oh_member.project_member_id, "file_basename": "moves.json"}
    assert client.post(DELETE, data, **auth(oh_access)).json() == {"ids": [a, b]}
    assert [f.pk for f in testing.stored_files(oh_member)] == [keep]


@pytest.mark.django_db
def test_delete_all_files(client, oh_member, oh_access):
    ids = [upload(client, oh_member, oh_access) for _ in range(2)]
    data = {"project_member_id": oh_member.project_member_id, "all_files": "true"}
    assert client.post(DELETE, data, **auth(oh_access)).json() == {"ids": ids}
    assert testing.stored_files(oh_member, include_incomplete=True) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "choice", [{}, {"file_id": "1", "file_basename": "a"}, {"file_basename": "a", "all_files": "true"}]
)
def test_delete_needs_exactly_one_choice(client, oh_member, oh_access, choice):
    file_id = upload(client, oh_member, oh_access, filename="a")
    response = client.post(
        DELETE, dict(choice, project_member_id=oh_member.project_member_id), **auth(oh_access)
    )
    assert response.status_code == 400
    assert [f.pk for f in testing.stored_files(oh_member)] == [file_id]


@pytest.mark.django_db
def test_message_is_recorded_for_the_member(client, oh_member, oh_access):
    response = client.post(MESSAGE, {"subject": "Hello", "message": "Your data is in."}, **auth(oh_access))
    assert response.status_code == 200
    [message] = testing.messages_for(oh_member)
    assert (message.subject, message.message, message.delivered) == ("Hello", "Your data is in.", True)


@pytest.mark.django_db
def test_message_without_permission_is_recorded_as_not_delivered(client):
    member = testing.create_oh_member("quiet", message_permission=False)
    client.post(MESSAGE, {"subject": "Hi", "message": "x"}, **auth(testing.issue_oh_tokens(member)[0]))
    assert [m.delivered for m in testing.messages_for(member)] == [False]


@pytest.mark.django_db
def test_message_without_subject_is_400(client, oh_access):
    response = client.post(MESSAGE, {"message": "x"}, **auth(oh_access))
    assert response.status_code == 400
    assert "subject" in response.json()
    assert SandboxMessage.objects.count() == 0
