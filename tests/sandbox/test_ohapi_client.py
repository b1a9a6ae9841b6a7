"""The real Open Humans client library (open-humans-api 0.2.9) works against the stand-in, unchanged."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from ohapi import api as ohapi

from sandbox import testing

CLIENT = ("test-oh-client", "test-oh-secret")
REDIRECT = "http://app.example/complete/"
METADATA = {"description": "Moves GPS history", "tags": ["GPS", "Moves", "steps"]}


def obtain_code(base: str, username: str) -> str:
    """Go through the consent page as a browser would, starting from ohapi's own authorization URL."""
    url = ohapi.oauth2_auth_url(redirect_uri=REDIRECT, client_id=CLIENT[0], base_url=base)
    with requests.Session() as browser:
        page = browser.get(url, timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        form = dict(
            parse_qs(urlsplit(url).query), csrfmiddlewaretoken=token, decision="allow", username=username
        )
        form["share_username"] = "on"
        answer = browser.post(url, data=form, headers={"Referer": url}, allow_redirects=False, timeout=10)
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


@pytest.fixture
def base(sandbox_server) -> str:
    # ohapi joins absolute paths onto base_url: only a stand-in at the root of its origin works.
    return sandbox_server.url + "/"


def test_ohapi_exchanges_a_code_and_a_refresh_token(base):
    first = ohapi.oauth2_token_exchange(
        *CLIENT, REDIRECT, base_url=base, code=obtain_code(base, "ohapi-user")
    )
    second = ohapi.oauth2_token_exchange(
        *CLIENT, REDIRECT, base_url=base, refresh_token=first["refresh_token"]
    )
    assert list(first) == ["access_token", "expires_in", "token_type", "refresh_token", "scope"]
    assert (first["expires_in"], first["token_type"]) == (36000, "Bearer")
    assert second["refresh_token"] != first["refresh_token"]
    with pytest.raises(Exception, match="API response status code 400"):
        ohapi.oauth2_token_exchange(*CLIENT, REDIRECT, base_url=base, refresh_token=first["refresh_token"])


def test_ohapi_exchange_member_follows_every_page(base, sandbox_server):
    member = testing.create_oh_member("pager")
    access, _ = testing.issue_oh_tokens(member)
    for n in range(3):
        ohapi.upload_stream(
            stream=__import__("io").BytesIO(b"[%d]" % n),
            filename=f"f{n}.json",
            metadata=METADATA,
            access_token=access,
            base_url=base,
            project_member_id=member.project_member_id,
        )
    first_page = requests.get(
        base + "api/direct-sharing/project/exchange-member/",
        params={"access_token": access, "limit": 2},
        timeout=10,
    ).json()
    everything = ohapi.exchange_oauth2_member(access, base_url=base)
    assert first_page["next"] is not None
    assert (everything["project_member_id"], everything["username"]) == (member.project_member_id, "pager")
    assert everything["count"] == 3
    assert [f["basename"] for f in everything["data"]] == ["f0.json", "f1.json", "f2.json"]
    assert "message_permission" not in everything


def test_ohapi_uploads_deletes_and_messages(base, tmp_path):
    member = testing.create_oh_member("ohapi-member")
    access, _ = testing.issue_oh_tokens(member)
    path = tmp_path / "moves-storyline-data.json"
    path.write_bytes(b'[{"date": "20160617"}]')

    uploaded = ohapi.upload_aws(str(path), METADATA, access, base_url=base)
    listed = ohapi.exchange_oauth2_member(access, base_url=base)["data"]
    skipped = ohapi.upload_file(str(path), METADATA, access, base_url=base, remote_file_info=listed[0])
    deleted = ohapi.delete_file(access, base_url=base, file_basename="moves-storyline-data.json")
    nothing_left = ohapi.delete_file(access, base_url=base, all_files=True)
    sent = ohapi.message("Done", "Your data is in.", access, base_url=base)
    sent_to_ids = ohapi.message(
        "Again", "Still in.", access, project_member_ids=[member.project_member_id], base_url=base
    )

    assert uploaded.json() == {"status": "ok", "size": 22}
    assert [(f["basename"], f["source"]) for f in listed] == [
        ("moves-storyline-data.json", "direct-sharing-138")
    ]
    assert skipped == f"Skipping {path}, remote exists with matching file size"
    assert deleted.json() == {"ids": [listed[0]["id"]]}
    assert nothing_left.json() == {"ids": []}
    assert (sent.status_code, sent.json(), sent_to_ids.json()) == (200, "success", "success")
    assert [(m.subject, m.message) for m in testing.messages_for(member)] == [
        ("Done", "Your data is in."),
        ("Again", "Still in."),
    ]


def test_ohapi_downloads_through_the_redirect(base, tmp_path):
    member = testing.create_oh_member("reader")
    access, _ = testing.issue_oh_tokens(member)
    path = tmp_path / "moves-storyline-data.json"
    path.write_bytes(b"[1, 2, 3]")
    ohapi.upload_file(str(path), METADATA, access, base_url=base)
    [listed] = ohapi.exchange_oauth2_member(access, base_url=base)["data"]
    response = requests.get(listed["download_url"], timeout=10)
    assert (response.status_code, response.content) == (200, b"[1, 2, 3]")
    assert urlsplit(response.url).path.endswith("/moves-storyline-data.json")
