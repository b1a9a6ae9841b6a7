import hashlib
import io
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from apiclients import openhumans
from apiclients.errors import (
    InvalidGrant,
    MalformedResponse,
    PermanentUpstreamError,
    TemporaryUpstreamError,
    TooLarge,
    Unauthorized,
)
from apiclients.oauth import TokenGrant
from apiclients.openhumans import Download, ExchangeMember, OpenHumansClient, RemoteFile, UploadedFile
from tests.apiclients.conftest import OWN_SOURCE, Answer, cassette_bodies

TOKEN = "oh-access-fake"
EXCHANGE = "https://www.openhumans.org/api/direct-sharing/project/exchange-member/"
STORED = "https://storage.example.org/member-files/40330/moves-storyline-data.json?Signature=fake"
FILE_NAME = "moves-storyline-data.json"
METADATA = {"description": "Moves GPS history", "tags": ["GPS", "Moves", "steps"], "start_date": "2016-06-16"}


def download_url(file_id: int) -> str:
    return f"https://www.openhumans.org/data-management/datafile-download/{file_id}/?key=fake"


@pytest.fixture
def canned_oh(canned_session) -> OpenHumansClient:
    return OpenHumansClient(session=canned_session)


def page(data: list, next_url: str | None = None, **extra) -> Answer:
    body = {"count": len(data), "next": next_url, "previous": None, "project_member_id": "23456789"}
    return Answer(200, json.dumps({**body, **extra, "data": data}))


def own_file(file_id: int) -> dict:
    return {"id": file_id, "basename": FILE_NAME, "download_url": download_url(file_id), "source": OWN_SOURCE}


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "upload.json"
    # 96 bytes, the size the cassette's upload/complete reports.
    path.write_bytes(b'[{"date":"20160616","summary":null,"segments":null},{}]' + b" " * 41)
    assert path.stat().st_size == 96
    return path


# --- OAuth ----------------------------------------------------------------------------


def test_authorize_url_adds_state_to_the_ohapi_url(oh):
    url = urlsplit(oh.authorize_url("state-456"))

    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "www.openhumans.org",
        "/direct-sharing/projects/oauth2/authorize/",
    )
    assert parse_qs(url.query) == {
        "client_id": ["test-oh-client"],
        "response_type": ["code"],
        "redirect_uri": ["https://uploader.example.org/complete/"],
        "state": ["state-456"],
    }


def test_exchange_code_uses_basic_auth_and_a_form(oh, cassette, sent):
    with cassette("oh_token"):
        grant = oh.exchange_code("the-code")

    assert grant == TokenGrant(TOKEN, "oh-refresh-fake", 36000, user_id=None)
    assert sent[0].headers["Authorization"] == "Basic dGVzdC1vaC1jbGllbnQ6dGVzdC1vaC1zZWNyZXQ="
    assert parse_qs(sent[0].body) == {
        "grant_type": ["authorization_code"],
        "code": ["the-code"],
        "redirect_uri": ["https://uploader.example.org/complete/"],
    }


def test_refresh_sends_the_refresh_token(oh, cassette, sent):
    with cassette("oh_token"):
        oh.refresh("old-refresh")

    assert parse_qs(sent[0].body) == {"grant_type": ["refresh_token"], "refresh_token": ["old-refresh"]}


def test_refresh_invalid_grant_raises_and_is_not_retried(oh, cassette):
    with cassette("oh_token_invalid_grant") as tape, pytest.raises(InvalidGrant) as caught:
        oh.refresh("retired-refresh")

    assert str(caught.value) == "Open Humans (HTTP 400): token refused: invalid_grant"
    assert tape.play_count == 1


def test_token_server_error_is_not_retried_and_not_quoted(canned_oh, canned):
    canned.answers += [Answer(503, "refresh_token=oh-refresh-L1ve"), Answer(200)]

    with pytest.raises(TemporaryUpstreamError) as caught:
        canned_oh.refresh("old-refresh")

    assert str(caught.value) == "Open Humans (HTTP 503): server error: (body not shown)"
    assert len(canned.sent) == 1


# --- Project and member -----------------------------------------------------------------


def test_project_source_reads_the_id_label(oh, cassette, sent):
    with cassette("oh_project"):
        source = oh.project_source(TOKEN)

    assert source == OWN_SOURCE
    assert sent[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_project_source_without_an_id_label_is_malformed(canned_oh, canned):
    canned.answers.append(Answer(200, '{"id": 138, "name": "Moves connector"}'))

    with pytest.raises(MalformedResponse) as caught:
        canned_oh.project_source(TOKEN)

    assert str(caught.value) == "Open Humans (HTTP 200): Project reply: id_label: Field required"


@pytest.mark.parametrize(
    ("name", "expected", "pages"),
    [
        (
            "oh_exchange_member_today",
            ExchangeMember(
                project_member_id="23456789",
                username="",
                files=[
                    RemoteFile(40330, FILE_NAME, download_url(40330)),
                    RemoteFile(40412, FILE_NAME, download_url(40412)),
                ],
                other_files=2,
            ),
            2,
        ),
        (
            "oh_exchange_member_2018",
            ExchangeMember(
                project_member_id="23456789",
                username="alice",
                files=[RemoteFile(40330, FILE_NAME, download_url(40330))],
                other_files=0,
            ),
            1,
        ),
    ],
    ids=["today", "2018"],
)
def test_exchange_member_reads_both_shapes(oh, cassette, sent, name, expected, pages):
    with cassette(name) as tape:
        member = oh.exchange_member(TOKEN, OWN_SOURCE)

    assert member == expected
    assert tape.play_count == pages
    assert [request.headers["Authorization"] for request in sent] == [f"Bearer {TOKEN}"] * pages
    assert sent[0].url == EXCHANGE + "?limit=200"


def test_exchange_member_never_returns_another_sources_file(oh, cassette):
    with cassette("oh_exchange_member_today"):
        member = oh.exchange_member(TOKEN, OWN_SOURCE)

    # 51002 has our file's basename but belongs to direct-sharing-128; 51003 is in no shape we read.
    assert [remote.id for remote in member.files] == [40330, 40412]
    assert member.other_files == 2


def test_exchange_member_own_file_without_download_url_is_malformed(oh, cassette):
    with cassette("oh_exchange_member_own_file_broken"), pytest.raises(MalformedResponse) as caught:
        oh.exchange_member(TOKEN, OWN_SOURCE)

    assert str(caught.value) == "Open Humans (HTTP 200): RemoteFile reply: download_url: Field required"


def test_exchange_member_file_without_a_source_is_not_ours(canned_oh, canned):
    unlabelled = {key: value for key, value in own_file(40330).items() if key != "source"}
    canned.answers.append(page([unlabelled, {**own_file(40331), "source": None}, own_file(40332)]))

    member = canned_oh.exchange_member(TOKEN, OWN_SOURCE)

    assert ([remote.id for remote in member.files], member.other_files) == ([40332], 2)


def test_exchange_member_next_page_on_another_host_is_refused(oh, cassette):
    with cassette("oh_exchange_member_foreign_next") as tape, pytest.raises(MalformedResponse) as caught:
        oh.exchange_member(TOKEN, OWN_SOURCE)

    assert str(caught.value) == "Open Humans (HTTP 200): exchange-member next page is on another host"
    assert tape.play_count == 1


@pytest.mark.parametrize(
    "next_url",
    [
        "http://www.openhumans.org/api/direct-sharing/project/exchange-member/?offset=200",
        "https://www.openhumans.org.example.org/api/direct-sharing/project/exchange-member/?offset=200",
        "https://www.openhumans.org:8443/api/direct-sharing/project/exchange-member/?offset=200",
        "/api/direct-sharing/project/exchange-member/?offset=200",
    ],
)
def test_exchange_member_next_page_must_keep_scheme_host_and_port(canned_oh, canned, next_url):
    canned.answers.append(page([own_file(40330)], next_url))

    with pytest.raises(MalformedResponse):
        canned_oh.exchange_member(TOKEN, OWN_SOURCE)

    assert len(canned.sent) == 1


def test_exchange_member_stops_a_server_that_pages_forever(canned_oh, canned, monkeypatch):
    # Lowered from 1,000 so that the test can reach it.
    monkeypatch.setattr(openhumans, "MAX_PAGES", 3)
    canned.answers += [page([], EXCHANGE + f"?limit=200&offset={200 * n}") for n in range(1, 5)]

    with pytest.raises(MalformedResponse) as caught:
        canned_oh.exchange_member(TOKEN, OWN_SOURCE)

    assert str(caught.value) == "Open Humans (HTTP 200): exchange-member has more than 3 pages"
    assert len(canned.sent) == 3


def test_exchange_member_of_exactly_the_most_pages_is_read(canned_oh, canned, monkeypatch):
    monkeypatch.setattr(openhumans, "MAX_PAGES", 3)
    canned.answers += [
        page([own_file(40330)], EXCHANGE + "?limit=200&offset=200"),
        page([own_file(40331)], EXCHANGE + "?limit=200&offset=400"),
        page([own_file(40332)]),
    ]

    member = canned_oh.exchange_member(TOKEN, OWN_SOURCE)

    assert [remote.id for remote in member.files] == [40330, 40331, 40332]
    assert [call.request.url for call in canned.sent] == [
        EXCHANGE + "?limit=200",
        EXCHANGE + "?limit=200&offset=200",
        EXCHANGE + "?limit=200&offset=400",
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"data": []}', "exchange-member lacks project_member_id"),
        ('{"project_member_id": 23456789, "data": []}', "ExchangeMember reply: project_member_id: "),
        ('{"project_member_id": "23456789", "next": 5, "data": []}', "ExchangeMember reply: next: "),
        ('{"project_member_id": "23456789", "data": {"id": 40330}}', "exchange-member data is not a list"),
        ('{"project_member_id": "23456789", "data": "none"}', "exchange-member data is not a list"),
        ('{"project_member_id": "23456789", "data": {}}', "exchange-member data is not a list"),
        ('{"project_member_id": "23456789", "data": ""}', "exchange-member data is not a list"),
        ("[]", "ExchangeMember reply: answer: "),
        ("<html>", "answer is not JSON"),
    ],
)
def test_exchange_member_wrong_shape_is_malformed(canned_oh, canned, body, message):
    canned.answers.append(Answer(200, body))

    with pytest.raises(MalformedResponse) as caught:
        canned_oh.exchange_member(TOKEN, OWN_SOURCE)

    assert caught.value.message.startswith(message)


def test_exchange_member_without_data_has_no_files(canned_oh, canned):
    canned.answers.append(Answer(200, '{"project_member_id": "23456789", "data": null}'))

    assert canned_oh.exchange_member(TOKEN, OWN_SOURCE) == ExchangeMember("23456789", "", [], 0)


def test_exchange_member_expired_token_is_unauthorized(oh, cassette):
    with cassette("oh_expired_token"), pytest.raises(Unauthorized) as caught:
        oh.exchange_member(TOKEN, OWN_SOURCE)

    assert str(caught.value) == 'Open Humans (HTTP 401): unauthorized: {"detail":"Expired token."}'


# --- Upload -------------------------------------------------------------------------------


def test_upload_names_the_file_before_sending_it_then_completes(oh, cassette, sent, data_file):
    created: list[tuple[int, int]] = []

    with cassette("oh_upload") as tape:
        uploaded = oh.upload(
            TOKEN,
            "23456789",
            data_file,
            FILE_NAME,
            METADATA,
            on_created=lambda file_id: created.append((file_id, len(sent))),
        )

    assert uploaded == UploadedFile(id=40332, size=96)
    assert tape.play_count == 3
    # Called with the new id while only upload/direct had been answered.
    assert created == [(40332, 1)]
    direct, put, complete = sent
    assert (direct.method, put.method, complete.method) == ("POST", "PUT", "POST")
    assert parse_qs(direct.body) == {
        "project_member_id": ["23456789"],
        "filename": [FILE_NAME],
        "metadata": [json.dumps(METADATA)],
    }
    assert direct.headers["Authorization"] == f"Bearer {TOKEN}"
    assert parse_qs(complete.body) == {"project_member_id": ["23456789"], "file_id": ["40332"]}
    assert complete.headers["Authorization"] == f"Bearer {TOKEN}"


def test_upload_streams_the_file_to_storage_without_credentials(oh, cassette, sent, data_file):
    with cassette("oh_upload"):
        oh.upload(TOKEN, "23456789", data_file, FILE_NAME, METADATA)

    put = sent[1]
    assert (
        put.url == "https://storage.example.org/member-files/40332/moves-storyline-data.json?Signature=fake"
    )
    # The open file itself went to requests, which sends it in blocks.
    assert isinstance(put.body, io.BufferedReader)
    assert put.body.name == str(data_file)
    assert put.headers["Content-Length"] == "96"
    assert "Authorization" not in put.headers
    # Kept by storage and served with every download, so browsers save the file.
    assert put.headers["Content-Disposition"] == 'attachment; filename="moves-storyline-data.json"'


def test_upload_for_a_member_who_left_sends_nothing_more(oh, cassette, data_file):
    created: list[int] = []

    with cassette("oh_upload_member_left") as tape, pytest.raises(PermanentUpstreamError) as caught:
        oh.upload(TOKEN, "23456789", data_file, FILE_NAME, METADATA, on_created=created.append)

    assert str(caught.value) == (
        'Open Humans (HTTP 400): unexpected answer: {"project_member_id":["project_member_id is invalid"]}'
    )
    assert (tape.play_count, created) == (1, [])


def test_upload_whose_bytes_never_arrived_is_refused(oh, cassette, data_file):
    created: list[int] = []

    with cassette("oh_upload_not_present") as tape, pytest.raises(PermanentUpstreamError) as caught:
        oh.upload(TOKEN, "23456789", data_file, FILE_NAME, METADATA, on_created=created.append)

    assert str(caught.value) == 'Open Humans (HTTP 400): unexpected answer: {"detail":"file not present"}'
    assert (tape.play_count, created) == (3, [40332])


@pytest.mark.parametrize(
    "complete",
    ['{"status": "ok"}', '{"status": "failed", "size": 96}', '{"status": "ok", "size": "96"}', '"ok"'],
)
def test_upload_complete_in_the_wrong_shape_is_malformed(canned_oh, canned, data_file, complete):
    canned.answers += [
        Answer(201, '{"id": 40332, "url": "https://storage.example.org/40332?Signature=fake"}'),
        Answer(200),
        Answer(200, complete),
    ]

    with pytest.raises(MalformedResponse) as caught:
        canned_oh.upload(TOKEN, "23456789", data_file, FILE_NAME, METADATA)

    assert caught.value.message.startswith("UploadComplete reply: ")
    assert len(canned.sent) == 3


@pytest.mark.parametrize(
    "direct", ['{"id": 40332}', '{"id": "40332", "url": "https://s/x"}', '{"id": 1, "url": ""}']
)
def test_upload_target_in_the_wrong_shape_sends_no_bytes(canned_oh, canned, data_file, direct):
    created: list[int] = []
    canned.answers.append(Answer(201, direct))

    with pytest.raises(MalformedResponse):
        canned_oh.upload(TOKEN, "23456789", data_file, FILE_NAME, METADATA, on_created=created.append)

    assert (len(canned.sent), created) == (1, [])


def test_upload_refused_by_storage_is_not_completed_and_not_quoted(canned_oh, canned, data_file):
    canned.answers += [
        Answer(201, '{"id": 40332, "url": "https://storage.example.org/40332?Signature=s3cr3t"}'),
        Answer(403, "<Error><Code>AccessDenied</Code><StringToSign>s3cr3t</StringToSign></Error>"),
    ]

    with pytest.raises(PermanentUpstreamError) as caught:
        canned_oh.upload(TOKEN, "23456789", data_file, FILE_NAME, METADATA)

    assert str(caught.value) == "Open Humans (HTTP 403): unexpected answer: (body not shown)"
    assert len(canned.sent) == 2


# --- Delete and message -------------------------------------------------------------------------


def test_delete_file_by_id_returns_the_ids_deleted(oh, cassette, sent):
    with cassette("oh_delete"):
        deleted = oh.delete_file(TOKEN, "23456789", 40330)

    assert deleted == [40330]
    assert parse_qs(sent[0].body) == {"project_member_id": ["23456789"], "file_id": ["40330"]}
    assert sent[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_delete_file_already_gone_returns_no_ids(canned_oh, canned):
    canned.answers.append(Answer(200, '{"ids": []}'))

    assert canned_oh.delete_file(TOKEN, "23456789", 51002) == []


def test_delete_file_wrong_shape_is_malformed(canned_oh, canned):
    canned.answers.append(Answer(200, '{"ids": [true]}'))

    with pytest.raises(MalformedResponse):
        canned_oh.delete_file(TOKEN, "23456789", 40330)


def test_send_message_accepts_the_json_string_success(oh, cassette, sent):
    with cassette("oh_message") as tape:
        assert oh.send_message(TOKEN, "Moves needs you", "Please reconnect.") is None

    assert tape.play_count == 1
    assert cassette_bodies("oh_message") == ['"success"']
    assert parse_qs(sent[0].body) == {"subject": ["Moves needs you"], "message": ["Please reconnect."]}
    assert sent[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_send_message_refused_is_permanent_and_not_retried(canned_oh, canned):
    canned.answers += [Answer(400, '{"errors": {"subject": ["This field is required."]}}'), Answer(200)]

    with pytest.raises(PermanentUpstreamError):
        canned_oh.send_message(TOKEN, "", "Please reconnect.")

    assert len(canned.sent) == 1


# --- Download -----------------------------------------------------------------------------


def test_download_writes_the_file_with_its_size_and_sha256(oh, cassette, sent, tmp_path):
    (body,) = cassette_bodies("oh_download")
    dest = tmp_path / "file.json"

    with cassette("oh_download"):
        written = oh.download(STORED, dest, limit=1024)

    assert written == Download(size=len(body), sha256=hashlib.sha256(body.encode()).hexdigest())
    assert dest.read_bytes() == body.encode()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file.json"]
    assert "Authorization" not in sent[0].headers


def test_download_over_the_limit_leaves_no_file(oh, cassette, tmp_path):
    with cassette("oh_download"), pytest.raises(TooLarge):
        oh.download(STORED, tmp_path / "file.json", limit=100)

    assert list(tmp_path.iterdir()) == []


def test_download_over_the_limit_stops_reading(canned_oh, canned, tmp_path):
    canned.answers.append(Answer(200, b"x" * (100 * 64 * 1024)))

    with pytest.raises(TooLarge):
        canned_oh.download(STORED, tmp_path / "file.json", limit=64 * 1024 + 1)

    assert canned.bodies[0].position == 2 * 64 * 1024
    assert canned.sent[0].stream is True


def test_download_error_body_never_becomes_the_file(oh, cassette, tmp_path):
    with cassette("oh_download_expired"), pytest.raises(PermanentUpstreamError) as caught:
        oh.download(STORED, tmp_path / "file.json", limit=1024)

    assert str(caught.value) == "Open Humans (HTTP 403): unexpected answer: (body not shown)"
    assert list(tmp_path.iterdir()) == []


def test_download_cut_off_leaves_the_old_file_alone(canned_oh, canned, tmp_path):
    dest = tmp_path / "file.json"
    dest.write_bytes(b"[]")
    canned.answers.append(Answer(200, b"[" + b"1," * 100_000 + b"1]", break_after=64 * 1024))

    with pytest.raises(TemporaryUpstreamError) as caught:
        canned_oh.download(STORED, dest, limit=10**6)

    assert str(caught.value) == "Open Humans: transfer interrupted"
    assert dest.read_bytes() == b"[]"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file.json"]


def test_download_range_asks_for_the_bytes_and_checks_their_length(oh, cassette, sent):
    (body,) = cassette_bodies("oh_download_range")

    with cassette("oh_download_range"):
        content = oh.download_range(STORED, 81, 102)

    assert content == body.encode()
    assert sent[0].headers["Range"] == "bytes=81-102"
    assert "Authorization" not in sent[0].headers


def test_download_range_of_another_length_is_malformed(canned_oh, canned):
    canned.answers.append(Answer(206, b"0123456789", {"Content-Range": "bytes 0-9/103"}))

    with pytest.raises(MalformedResponse) as caught:
        canned_oh.download_range(STORED, 0, 21)

    assert str(caught.value) == "Open Humans (HTTP 206): storage answered a different range than asked"


def test_download_range_ignored_by_storage_is_refused(canned_oh, canned):
    canned.answers.append(Answer(200, b"the whole file"))

    with pytest.raises(PermanentUpstreamError) as caught:
        canned_oh.download_range(STORED, 0, 3)

    assert caught.value.status == 200


# --- Every call -------------------------------------------------------------------------------


def test_every_call_has_timeouts_and_keeps_tokens_out_of_urls(
    canned_oh, canned, settings, data_file, tmp_path
):
    settings.HTTP_CONNECT_TIMEOUT = 3.5
    settings.HTTP_READ_TIMEOUT = 42.0
    canned.answers += [
        Answer(200, '{"access_token": "a", "refresh_token": "r", "expires_in": 10}'),
        Answer(200, '{"id_label": "direct-sharing-138"}'),
        page([own_file(40330)]),
        Answer(201, '{"id": 40332, "url": "https://storage.example.org/40332?Signature=fake"}'),
        Answer(200),
        Answer(200, '{"status": "ok", "size": 96}'),
        Answer(200, '{"ids": [40330]}'),
        Answer(200, '"success"'),
        Answer(200, b"[]"),
        Answer(206, b"[]"),
    ]

    canned_oh.refresh("old-refresh")
    canned_oh.project_source(TOKEN)
    canned_oh.exchange_member(TOKEN, OWN_SOURCE)
    canned_oh.upload(TOKEN, "23456789", data_file, FILE_NAME, METADATA)
    canned_oh.delete_file(TOKEN, "23456789", 40330)
    canned_oh.send_message(TOKEN, "s", "m")
    canned_oh.download(STORED, tmp_path / "down.json", limit=1024)
    canned_oh.download_range(STORED, 0, 1)

    assert [call.timeout for call in canned.sent] == [(3.5, 42.0)] * 10
    for call in canned.sent:
        assert TOKEN not in call.request.url
        assert "access_token" not in urlsplit(call.request.url).query
    bearers = [call.request.headers.get("Authorization") for call in canned.sent]
    assert bearers == [
        "Basic dGVzdC1vaC1jbGllbnQ6dGVzdC1vaC1zZWNyZXQ=",
        f"Bearer {TOKEN}",
        f"Bearer {TOKEN}",
        f"Bearer {TOKEN}",
        None,
        f"Bearer {TOKEN}",
        f"Bearer {TOKEN}",
        f"Bearer {TOKEN}",
        None,
        None,
    ]


def test_upload_completed_with_another_size_than_sent_is_malformed(canned_oh, canned, data_file):
    created: list[int] = []
    canned.answers += [
        Answer(201, '{"id": 40332, "url": "https://storage.example.org/40332?Signature=fake"}'),
        Answer(200),
        Answer(200, '{"status": "ok", "size": 1}'),
    ]

    with pytest.raises(MalformedResponse) as caught:
        canned_oh.upload(TOKEN, "23456789", data_file, FILE_NAME, METADATA, on_created=created.append)

    assert caught.value.message == f"upload completed with 1 bytes of {data_file.stat().st_size}"
    # Named before its bytes went out, so the next run can delete it.
    assert created == [40332]
