"""The stand-ins over real HTTP at the root of their own origin, the way the app's clients reach them."""

import json
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox import testing

METADATA = {"description": "Moves data", "tags": ["GPS", "Moves", "steps"]}


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


def test_the_sandbox_has_its_own_origin(sandbox_server, live_server):
    assert urlsplit(sandbox_server.url).hostname == "127.0.0.1"
    assert urlsplit(sandbox_server.url).port != urlsplit(live_server.url).port


def test_moves_oauth_and_storyline_at_the_root(sandbox_server, session):
    base = sandbox_server.url
    query = {
        "response_type": "code",
        "client_id": "test-moves-client",
        "scope": "activity location",
        "state": "st",
    }
    page = session.get(base + "/oauth/v1/authorize", params=query, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = dict(query, csrfmiddlewaretoken=token, decision="allow", name="http-user", history_days="400")
    answer = session.post(
        base + "/oauth/v1/authorize",
        data=form,
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=10,
    )
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    grant = session.post(
        base + "/oauth/v1/access_token",
        data={"grant_type": "authorization_code", "code": code},
        auth=("test-moves-client", "test-moves-secret"),
        timeout=10,
    ).json()
    headers = {"Authorization": f"Bearer {grant['access_token']}"}
    profile = session.get(base + "/api/1.1/user/profile", headers=headers, timeout=10)
    first = profile.json()["profile"]["firstDate"]
    year, week, _ = datetime.strptime(first, "%Y%m%d").isocalendar()
    days = session.get(
        f"{base}/api/1.1/user/storyline/daily/{year}-W{week:02d}",
        params={"trackPoints": "true"},
        headers=headers,
        timeout=10,
    )
    assert grant["user_id"] == profile.json()["userId"]
    assert days.status_code == 200
    assert days.json()[0] == {"date": first, "summary": None, "segments": None}
    assert days.headers["X-RateLimit-MinuteLimit"] == "120"
    # One Date header, from the server's clock, in HTTP format.
    assert (
        abs(
            (
                parsedate_to_datetime(days.headers["Date"]) - parsedate_to_datetime(profile.headers["Date"])
            ).total_seconds()
        )
        < 5
    )


def test_open_humans_upload_and_ranged_download_at_the_root(sandbox_server, session, tmp_path):
    member = testing.create_oh_member("http-member")
    access, _ = testing.issue_oh_tokens(member)
    api = sandbox_server.url + "/api/direct-sharing/project/"
    content = json.dumps([{"date": f"2020{n:04d}"} for n in range(20000)]).encode()
    source = tmp_path / "upload.json"
    source.write_bytes(content)
    started = session.post(
        api + "files/upload/direct/",
        data={
            "project_member_id": member.project_member_id,
            "filename": "moves-storyline-data.json",
            "metadata": json.dumps(METADATA),
        },
        params={"access_token": access},
        timeout=10,
    )
    with source.open("rb") as stream:
        put = session.put(started.json()["url"], data=stream, timeout=10)
    done = session.post(
        api + "files/upload/complete/",
        data={"project_member_id": member.project_member_id, "file_id": started.json()["id"]},
        params={"access_token": access},
        timeout=10,
    )
    listed = session.get(api + "exchange-member/", params={"access_token": access}, timeout=10).json()["data"]
    whole = session.get(listed[0]["download_url"], timeout=10)
    part = session.get(listed[0]["download_url"], headers={"Range": "bytes=100-199"}, timeout=10)
    assert (started.status_code, put.status_code, done.status_code) == (201, 200, 200)
    assert done.json() == {"status": "ok", "size": len(content)}
    assert whole.url.split("?")[0].endswith("/moves-storyline-data.json")
    assert whole.history[0].status_code == 302
    assert whole.content == content
    assert (part.status_code, part.headers["Content-Range"], part.content) == (
        206,
        f"bytes 100-199/{len(content)}",
        content[100:200],
    )


def test_storage_put_without_content_length_is_refused_like_s3(sandbox_server, session):
    member = testing.create_oh_member("chunky")
    access, _ = testing.issue_oh_tokens(member)
    started = session.post(
        sandbox_server.url + "/api/direct-sharing/project/files/upload/direct/",
        data={
            "project_member_id": member.project_member_id,
            "filename": "c.json",
            "metadata": json.dumps(METADATA),
        },
        headers={"Authorization": f"Bearer {access}"},
        timeout=10,
    ).json()
    # A generator body makes requests use chunked transfer encoding, with no length.
    put = session.put(started["url"], data=(part for part in [b"[1,", b"2]"]), timeout=10)
    assert put.status_code == 411
    assert testing.stored_files(member, include_incomplete=True)[0].received_size is None


def test_the_control_page_is_at_the_root(sandbox_server, session):
    page = session.get(sandbox_server.url + "/", timeout=10)
    assert page.status_code == 200
    assert "<h1>Sandbox control</h1>" in page.text


def test_point_app_at_sandbox_sets_the_three_base_urls(settings):
    testing.point_app_at_sandbox(settings, "http://localhost:8123/")
    assert settings.MOVES_API_BASE_URL == "http://localhost:8123/api/1.1"
    assert settings.MOVES_OAUTH_BASE_URL == "http://localhost:8123/oauth/v1"
    assert settings.OH_BASE_URL == "http://localhost:8123"
