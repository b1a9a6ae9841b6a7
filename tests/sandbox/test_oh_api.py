"""The stand-in Open Humans project API, as today's server (private_sharing/api_views.py) answers."""

import hashlib
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from sandbox import testing
from sandbox.models import SandboxFile, SandboxMessage, SandboxOHMember

BASE = "/api/direct-sharing/project/"
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
def test_exchange_member_answers_todays_shape(client, oh_member, oh_access):
    response = client.get(EXCHANGE, **auth(oh_access))
    body = response.json()
    assert list(body) == [
        "count",
        "next",
        "previous",
        "created",
        "project_member_id",
        "sources_shared",
        "username",
        "data",
    ]
    assert "message_permission" not in body
    assert (body["count"], body["next"], body["previous"], body["data"]) == (0, None, None, [])
    assert (body["project_member_id"], body["username"], body["sources_shared"]) == (
        oh_member.project_member_id,
        "olivia",
        [],
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", body["created"])
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_exchange_member_leaves_out_an_unshared_username(client):
    member = testing.create_oh_member("private", share_username=False)
    body = client.get(EXCHANGE, **auth(testing.issue_oh_tokens(member)[0])).json()
    assert "username" not in body


@pytest.mark.django_db
def test_exchange_member_lists_a_file_with_todays_keys(client, oh_member, oh_access):
    file_id = upload(client, oh_member, oh_access, filename="moves-storyline-data.json")
    [listed] = client.get(EXCHANGE, **auth(oh_access)).json()["data"]
    assert list(listed) == [
        "id",
        "basename",
        "created",
        "datatypes",
        "download_url",
        "metadata",
        "source",
        "source_project",
    ]
    assert (listed["id"], listed["basename"], listed["source"]) == (
        file_id,
        "moves-storyline-data.json",
        "direct-sharing-138",
    )
    assert listed["metadata"] == METADATA
    assert listed["source_project"] == "http://testserver/api/public/project/138/"
    assert re.fullmatch(
        rf"http://testserver/data-management/datafile-download/{file_id}/\?key=[0-9a-f-]{{36}}",
        listed["download_url"],
    )


@pytest.mark.django_db
def test_exchange_member_lists_files_of_shared_sources_by_source_then_id(client, oh_member, oh_access):
    ours = upload(client, oh_member, oh_access, filename="moves-storyline-data.json")
    other = testing.share_other_source(oh_member)
    later = upload(client, oh_member, oh_access, filename="moves-storyline-data.json")
    body = client.get(EXCHANGE, **auth(oh_access)).json()
    assert body["sources_shared"] == ["direct-sharing-128"]
    assert [(f["id"], f["source"], f["basename"]) for f in body["data"]] == [
        (other.pk, "direct-sharing-128", "moves-storyline-data.json"),
        (ours, "direct-sharing-138", "moves-storyline-data.json"),
        (later, "direct-sharing-138", "moves-storyline-data.json"),
    ]
    testing.share_other_source(oh_member, on=False)
    body = client.get(EXCHANGE, **auth(oh_access)).json()
    assert (body["sources_shared"], [f["id"] for f in body["data"]]) == ([], [ours, later])


@pytest.mark.django_db
def test_exchange_member_leaves_out_incomplete_files(client, oh_member, oh_access):
    start_upload(client, oh_member, oh_access)
    assert client.get(EXCHANGE, **auth(oh_access)).json()["count"] == 0


@pytest.mark.django_db
def test_exchange_member_paginates_with_limit_and_offset(client, oh_member, oh_access):
    ids = [upload(client, oh_member, oh_access, filename=f"f{n}.json") for n in range(5)]
    page = client.get(EXCHANGE, {"limit": 2, "access_token": oh_access}).json()
    assert (page["count"], [f["id"] for f in page["data"]], page["previous"]) == (5, ids[:2], None)
    assert page["next"] == f"http://testserver{EXCHANGE}?access_token={oh_access}&limit=2&offset=2"
    second = client.get(path_of(page["next"])).json()
    assert [f["id"] for f in second["data"]] == ids[2:4]
    assert second["previous"] == f"http://testserver{EXCHANGE}?access_token={oh_access}&limit=2"
    last = client.get(path_of(second["next"])).json()
    assert ([f["id"] for f in last["data"]], last["next"]) == (ids[4:], None)
    assert parse_qs(urlsplit(last["previous"]).query)["offset"] == ["2"]


@pytest.mark.django_db
@pytest.mark.parametrize(("limit", "shown"), [("1000", 200), ("0", 100), ("-3", 100), ("x", 100)])
def test_exchange_member_limit_as_drf_reads_it(client, oh_member, oh_access, limit, shown):
    upload(client, oh_member, oh_access)
    page = client.get(EXCHANGE, {"limit": limit, "offset": "1"}, **auth(oh_access)).json()
    assert parse_qs(urlsplit(page["previous"]).query)["limit"] == [str(shown)]


@pytest.mark.django_db
def test_api_without_token_is_401_credentials_not_provided(client):
    response = client.get(EXCHANGE)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db
def test_api_unknown_token_in_the_header_is_401_invalid_token(client):
    response = client.get(EXCHANGE, **auth("unknown"))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api",error="invalid_token",error_description="The access token is invalid."'
    )


@pytest.mark.django_db
def test_api_unknown_token_in_the_query_is_401_credentials_not_provided(client):
    response = client.get(EXCHANGE, {"access_token": "unknown"})
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.django_db
def test_api_expired_token_in_the_header_is_401_expired(client, oh_member):
    expired, _ = testing.issue_oh_tokens(oh_member, expires_in=-5)
    response = client.get(EXCHANGE, **auth(expired))
    assert (response.status_code, response.json()) == (401, {"detail": "Expired token."})
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db
def test_api_expired_token_in_the_query_is_401_credentials_not_provided(client, oh_member):
    expired, _ = testing.issue_oh_tokens(oh_member, expires_in=-5)
    response = client.get(EXCHANGE, {"access_token": expired})
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"].endswith('error_description="The access token has expired."')


@pytest.mark.django_db
def test_api_token_of_a_member_who_left_is_401(client, oh_member, oh_access):
    testing.member_leaves(oh_member)
    assert client.get(EXCHANGE, **auth(oh_access)).json() == {"detail": "Invalid token."}


@pytest.mark.django_db
def test_api_wrong_method_is_405_after_authentication(client, oh_access):
    response = client.get(DIRECT, **auth(oh_access))
    assert (response.status_code, response.json()) == (405, {"detail": 'Method "GET" not allowed.'})
    assert response["Allow"] == "POST, OPTIONS"
    assert client.get(DIRECT).status_code == 401


@pytest.mark.django_db
def test_upload_in_three_steps_stores_the_bytes(client, oh_member, oh_access):
    content = b'[{"date": "20200101"}]' * 1000
    file_id = upload(client, oh_member, oh_access, content, filename="moves-storyline-data.json")
    [stored] = testing.stored_files(oh_member)
    assert (stored.pk, stored.metadata) == (file_id, METADATA)
    assert testing.read_file_bytes(stored) == content


@pytest.mark.django_db
def test_upload_direct_answers_201_with_an_s3_style_url(client, oh_member, oh_access):
    response = start_upload(client, oh_member, oh_access, filename="moves-storyline-data.json")
    body = response.json()
    parts = urlsplit(body["url"])
    assert response.status_code == 201
    assert list(body) == ["id", "url"]
    assert re.fullmatch(
        r"/storage/member-files/direct-sharing-138/[0-9a-f-]{36}/moves-storyline-data.json", parts.path
    )
    assert [key for key, _ in (p.split("=", 1) for p in parts.query.split("&"))] == [
        "Signature",
        "Expires",
        "AWSAccessKeyId",
    ]
    assert testing.stored_files(oh_member) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"description": "x"}, '"tags" is a required field of the metadata'),
        ({"tags": []}, '"description" is a required field of the metadata'),
        ({"description": 5, "tags": []}, '"description" must be a string'),
        ({"description": "x", "tags": "GPS"}, '"tags" must be an array of strings'),
        ({"description": "x", "tags": [], "start_date": "last week"}, "Dates must be in ISO 8601 format"),
        ({"description": "x", "tags": [], "md5": "abc"}, "Invalid MD5 specified"),
    ],
)
def test_upload_direct_invalid_metadata_is_400_with_the_forms_errors(
    client, oh_member, oh_access, metadata, message
):
    response = start_upload(client, oh_member, oh_access, metadata=metadata)
    assert (response.status_code, response.json()) == (400, {"metadata": [message]})
    assert SandboxFile.objects.count() == 0


@pytest.mark.django_db
def test_upload_direct_metadata_that_is_not_json_is_400(client, oh_member, oh_access):
    form = {"project_member_id": oh_member.project_member_id, "filename": "a", "metadata": "{nope"}
    response = client.post(DIRECT, form, **auth(oh_access))
    assert response.json() == {"metadata": ["could not parse the uploaded metadata"]}


@pytest.mark.django_db
def test_upload_direct_accepts_valid_optional_metadata(client, oh_member, oh_access):
    metadata = dict(
        METADATA,
        md5=hashlib.md5(b"x", usedforsecurity=False).hexdigest(),
        creation_date="2020-02-01T10:00:00Z",
        extra=1,
    )
    assert start_upload(client, oh_member, oh_access, metadata=metadata).status_code == 201
    assert SandboxFile.objects.get().metadata == metadata


@pytest.mark.django_db
def test_upload_direct_missing_fields_are_400_but_not_the_member(client, oh_access):
    # With a member's token the server fills in the member itself.
    response = client.post(DIRECT, {}, **auth(oh_access))
    assert response.json() == {
        "metadata": ["This field is required."],
        "filename": ["This field is required."],
    }


@pytest.mark.django_db
def test_upload_direct_naming_another_member_uploads_for_the_tokens_member(client, oh_member, oh_access):
    other = testing.create_oh_member("someone")
    assert start_upload(client, other, oh_access).status_code == 201
    assert SandboxFile.objects.get().member == oh_member


@pytest.mark.django_db
def test_upload_direct_for_a_member_who_left_is_invalid(client, oh_member, oh_access):
    # The member left after this token was checked; the real view answers a plain string here.
    SandboxOHMember.objects.filter(pk=oh_member.pk).update(active=False)
    response = start_upload(client, oh_member, oh_access)
    assert (response.status_code, response.json()) == (
        400,
        {"project_member_id": "project_member_id is invalid"},
    )


@pytest.mark.django_db
def test_upload_complete_without_bytes_is_400_file_not_present(client, oh_member, oh_access):
    started = start_upload(client, oh_member, oh_access).json()
    response = client.post(COMPLETE, {"file_id": started["id"]}, **auth(oh_access))
    assert (response.status_code, response.json()) == (400, {"detail": "file not present"})
    assert SandboxFile.objects.get().completed_at is None
    assert client.get(EXCHANGE, **auth(oh_access)).json()["data"] == []


@pytest.mark.django_db
def test_upload_complete_unknown_file_id_is_500(client, oh_access):
    response = client.post(COMPLETE, {"file_id": 999999}, **auth(oh_access))
    assert response.status_code == 500
    assert response.content == b"<h1>Server Error (500)</h1>"


@pytest.mark.django_db
def test_upload_complete_without_file_id_is_400(client, oh_access):
    response = client.post(COMPLETE, {}, **auth(oh_access))
    assert (response.status_code, response.json()) == (400, {"detail": "file does not exist"})


@pytest.mark.django_db
def test_old_single_step_upload_stores_a_completed_file(client, oh_member, oh_access):
    from django.core.files.uploadedfile import SimpleUploadedFile

    form = {"metadata": json.dumps(METADATA), "data_file": SimpleUploadedFile("old.json", b"[1]")}
    response = client.post(BASE + "files/upload/", form, **auth(oh_access))
    [stored] = testing.stored_files(oh_member)
    assert (response.status_code, response.json()) == (201, {"id": stored.pk})
    assert (stored.basename, stored.size, testing.read_file_bytes(stored)) == ("old.json", 3, b"[1]")


@pytest.mark.django_db
def test_storage_put_with_a_tampered_signature_is_refused(client, oh_member, oh_access):
    started = start_upload(client, oh_member, oh_access).json()
    url = path_of(started["url"]).replace("Signature=", "Signature=x")
    response = client.put(url, b"data", content_type="application/octet-stream")
    assert response.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in response.content
    assert SandboxFile.objects.get().received_size is None


@pytest.mark.django_db
def test_storage_put_after_six_hours_is_refused(client, oh_member, oh_access, monkeypatch):
    started = start_upload(client, oh_member, oh_access).json()
    real_time = __import__("time").time
    # The clock is the boundary here: jump seven hours ahead instead of waiting.
    monkeypatch.setattr("sandbox.storage.time.time", lambda: real_time() + 7 * 3600)
    response = client.put(path_of(started["url"]), b"data", content_type="application/octet-stream")
    assert response.status_code == 403
    assert b"<Message>Request has expired</Message>" in response.content


@pytest.mark.django_db
def test_storage_put_answers_the_md5_as_etag(client, oh_member, oh_access):
    started = start_upload(client, oh_member, oh_access).json()
    response = client.put(path_of(started["url"]), b"data", content_type="application/octet-stream")
    assert (response.status_code, response.content) == (200, b"")
    assert response["ETag"] == '"' + hashlib.md5(b"data", usedforsecurity=False).hexdigest() + '"'


@pytest.mark.django_db
def test_delete_by_file_id_removes_row_and_bytes(client, oh_member, oh_access):
    keep = upload(client, oh_member, oh_access)
    doomed = upload(client, oh_member, oh_access)
    doomed_file = testing.stored_files(oh_member)[1]
    response = client.post(DELETE, {"file_id": doomed}, **auth(oh_access))
    assert response.json() == {"ids": [doomed]}
    assert [f.pk for f in testing.stored_files(oh_member)] == [keep]
    with pytest.raises(FileNotFoundError):
        testing.read_file_bytes(doomed_file)


@pytest.mark.django_db
def test_delete_unknown_file_id_answers_no_ids(client, oh_member, oh_access):
    upload(client, oh_member, oh_access)
    response = client.post(DELETE, {"file_id": 999999}, **auth(oh_access))
    assert (response.status_code, response.json()) == (200, {"ids": []})
    assert len(testing.stored_files(oh_member)) == 1


@pytest.mark.django_db
def test_delete_of_another_sources_file_deletes_nothing(client, oh_member, oh_access):
    other = testing.share_other_source(oh_member)
    ours = upload(client, oh_member, oh_access, filename="moves-storyline-data.json")
    by_id = client.post(DELETE, {"file_id": other.pk}, **auth(oh_access))
    by_name = client.post(DELETE, {"file_basename": "moves-storyline-data.json"}, **auth(oh_access))
    assert (by_id.status_code, by_id.json()) == (200, {"ids": []})
    assert by_name.json() == {"ids": [ours]}
    assert SandboxFile.objects.filter(pk=other.pk).exists()


@pytest.mark.django_db
def test_delete_by_basename_removes_every_file_of_that_name(client, oh_member, oh_access):
    a = upload(client, oh_member, oh_access, filename="moves.json")
    keep = upload(client, oh_member, oh_access, filename="other.json")
    b = upload(client, oh_member, oh_access, filename="moves.json")
    assert client.post(DELETE, {"file_basename": "moves.json"}, **auth(oh_access)).json() == {"ids": [a, b]}
    assert [f.pk for f in testing.stored_files(oh_member)] == [keep]


@pytest.mark.django_db
def test_delete_all_files_takes_incomplete_ones_too(client, oh_member, oh_access):
    # ProjectFileDeleteView filters by project and member only, completed or not.
    ids = [upload(client, oh_member, oh_access) for _ in range(2)]
    ids.append(start_upload(client, oh_member, oh_access).json()["id"])
    assert client.post(DELETE, {"all_files": "True"}, **auth(oh_access)).json() == {"ids": ids}
    assert testing.stored_files(oh_member, include_incomplete=True) == []


@pytest.mark.django_db
def test_delete_by_id_takes_an_upload_never_completed(client, oh_member, oh_access):
    pending = start_upload(client, oh_member, oh_access).json()["id"]
    assert client.post(DELETE, {"file_id": pending}, **auth(oh_access)).json() == {"ids": [pending]}
    assert testing.stored_files(oh_member, include_incomplete=True) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("choice", "error"),
    [
        ({}, {"missing_field": "one of file_id, file_basename, or all_files is required"}),
        (
            {"all_files": "false"},
            {"missing_field": "one of file_id, file_basename, or all_files is required"},
        ),
        (
            {"file_id": "1", "file_basename": "a"},
            {"too_many": "one of file_id, file_basename, or all_files is required"},
        ),
        ({"file_id": "x"}, {"file_id": ["Enter a whole number."]}),
    ],
)
def test_delete_needs_exactly_one_choice(client, oh_member, oh_access, choice, error):
    file_id = upload(client, oh_member, oh_access, filename="a")
    response = client.post(DELETE, choice, **auth(oh_access))
    assert (response.status_code, response.json()) == (400, error)
    assert [f.pk for f in testing.stored_files(oh_member)] == [file_id]


@pytest.mark.django_db
def test_message_answers_success_and_reaches_the_member(client, oh_member, oh_access):
    response = client.post(MESSAGE, {"subject": "Hello", "message": "Your data is in."}, **auth(oh_access))
    assert (response.status_code, response.content) == (200, b'"success"')
    [message] = testing.messages_for(oh_member)
    assert (message.subject, message.message) == ("Hello", "Your data is in.")


@pytest.mark.django_db
def test_message_recipients_chosen_by_a_member_token_are_replaced_by_that_member(
    client, oh_member, oh_access
):
    other = testing.create_oh_member("someone")
    form = {"message": "x", "project_member_ids": [other.project_member_id], "all_members": "true"}
    response = client.post(MESSAGE, form, **auth(oh_access))
    assert response.json() == "success"
    assert [m.member for m in SandboxMessage.objects.all()] == [oh_member]


@pytest.mark.django_db
def test_message_without_a_subject_is_sent(client, oh_member, oh_access):
    assert client.post(MESSAGE, {"message": "x"}, **auth(oh_access)).json() == "success"
    assert testing.messages_for(oh_member)[0].subject == ""


@pytest.mark.django_db
def test_message_without_text_is_400_with_errors(client, oh_access):
    response = client.post(MESSAGE, {"subject": "Hi"}, **auth(oh_access))
    assert (response.status_code, response.json()) == (
        400,
        {"errors": {"message": ["This field is required."]}},
    )
    assert SandboxMessage.objects.count() == 0


@pytest.mark.django_db
def test_message_as_json_works_too(client, oh_member, oh_access):
    response = client.post(
        MESSAGE, json.dumps({"message": "x"}), content_type="application/json", **auth(oh_access)
    )
    assert response.json() == "success"


@pytest.mark.django_db
def test_upload_complete_of_another_members_file_completes_it_as_the_real_server(
    client, oh_member, oh_access
):
    other = testing.create_oh_member("someone")
    other_access, _ = testing.issue_oh_tokens(other)
    started = start_upload(client, other, other_access).json()
    client.put(path_of(started["url"]), b"[]", content_type="application/octet-stream")
    response = client.post(COMPLETE, {"file_id": started["id"]}, **auth(oh_access))
    assert response.json() == {"status": "ok", "size": 2}
    assert SandboxFile.objects.get().completed_at <= timezone.now() + timedelta(seconds=1)


@pytest.mark.django_db
def test_storage_serves_the_content_disposition_sent_with_the_bytes(client, oh_member, oh_access):
    started = start_upload(client, oh_member, oh_access, filename="moves-storyline-data.json")
    disposition = 'attachment; filename="moves-storyline-data.json"'
    put = client.put(
        path_of(started.json()["url"]), b"[1]", content_type="", headers={"Content-Disposition": disposition}
    )
    assert put.status_code == 200
    client.post(
        COMPLETE,
        {"project_member_id": oh_member.project_member_id, "file_id": started.json()["id"]},
        **auth(oh_access),
    )
    (stored,) = testing.stored_files(oh_member)
    assert stored.content_disposition == disposition
