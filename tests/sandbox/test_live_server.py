"""The stand-ins over real HTTP, the way the app's clients will reach them."""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox import testing

METADATA = {"description": "Moves data", "tags": ["GPS", "Moves", "steps"]}


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


@pytest.mark.django_db(transaction=True)
def test_moves_oauth_and_storyline_over_http(live_server, session):
    base = live_server.url + "/sandbox/moves"
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
    profile = session.get(base + "/api/1.1/user/profile", headers=headers, timeout=10).json()
    first = profile["profile"]["firstDate"]
    week = session.get(
        base + "/api/1.1/user/storyline/daily/" + "{}-W{:02d}".format(*_iso_week(first)),
        params={"trackPoints": "true"},
        headers=headers,
        timeout=10,
    )
    assert grant["user_id"] == profile["userId"]
    assert week.status_code == 200
    assert week.json()[0]["date"] == first
    assert int(week.headers["X-RateLimit-MinuteRemaining"]) == 58


def _iso_week(yyyymmdd: str) -> tuple[int, int]:
    from datetime import datetime

    year, week, _ = datetime.strptime(yyyymmdd, "%Y%m%d").isocalendar()
    return year, week


@pytest.mark.django_db(transaction=True)
def test_open_humans_upload_and_download_over_http(live_server, session, tmp_path):
    member = testing.create_oh_member("http-member")
    access, _ = testing.issue_oh_tokens(member)
    api = live_server.url + "/sandbox/openhumans/api/direct-sharing/project/"
    headers = {"Authorization": f"Bearer {access}"}
    content = json.dumps([{"date": f"2020{n:04d}"} for n in range(20000)]).encode()
    source = tmp_path / "upload.json"
    source.write_bytes(content)

    started = session.post(
        api + "files/upload/direct/",
        data={
            "project_member_id": member.project_member_id,
            "filename": "moves.json",
            "metadata": json.dumps(METADATA),
        },
        headers=headers,
        timeout=10,
    )
    with source.open("rb") as stream:
        put = session.put(started.json()["url"], data=stream, timeout=10)
    done = session.post(
        api + "files/upload/complete/",
        data={"project_member_id": member.project_member_id, "file_id": started.json()["id"]},
        headers=headers,
        timeout=10,
    )
    listed = session.get(api + "exchange-member/", headers=headers, timeout=10).json()["data"]
    downloaded = session.get(listed[0]["download_url"], timeout=10)

    assert (started.status_code, put.status_code, done.status_code) == (201, 200, 200)
    assert done.json() == {"status": "ok", "size": len(content)}
    assert downloaded.content == content
    assert testing.read_file_bytes(testing.stored_files(member)[0]) == content


@pytest.mark.django_db(transaction=True)
def test_storage_put_without_content_length_is_refused_like_s3(live_server, session):
    member = testing.create_oh_member("chunky")
    access, _ = testing.issue_oh_tokens(member)
    api = live_server.url + "/sandbox/openhumans/api/direct-sharing/project/"
    started = session.post(
        api + "files/upload/direct/",
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


def test_point_app_at_sandbox_sets_the_three_base_urls(settings):
    testing.point_app_at_sandbox(settings, "http://localhost:8123/")
    assert settings.MOVES_API_BASE_URL == "http://localhost:8123/sandbox/moves/api/1.1"
    assert settings.MOVES_OAUTH_BASE_URL == "http://localhost:8123/sandbox/moves/oauth/v1"
    assert settings.OH_BASE_URL == "http://localhost:8123/sandbox/openhumans"
