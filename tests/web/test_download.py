"""The download link asks Open Humans for a fresh signed URL at click time."""

import pytest

from apiclients.errors import TemporaryUpstreamError
from tests.web.fakes import FakeOpenHumans, remote_file


@pytest.fixture
def open_humans(monkeypatch) -> FakeOpenHumans:
    fake = FakeOpenHumans(files=[remote_file(100, basename="other.csv"), remote_file(40330)])
    monkeypatch.setattr("main.dashboard.OpenHumansClient", fake)
    return fake


def test_download_redirects_to_a_fresh_url(signed_in, moves_state, open_humans):
    moves_state(file_id=40330)

    response = signed_in.get("/download/")

    assert response.status_code == 302
    assert response["Location"] == "https://storage.example/40330/moves-storyline-data.json?signature=abc"
    assert open_humans.calls == [("exchange_member", "oh-access-23456789")]


def test_download_without_a_file_says_so(signed_in, moves_member, open_humans):
    open_humans.files = []

    response = signed_in.get("/download/", follow=True)

    assert b"holds no moves-storyline-data.json for you yet" in response.content


def test_download_when_open_humans_fails_says_so(signed_in, moves_member, open_humans):
    open_humans.failure = TemporaryUpstreamError("openhumans", "timeout")

    response = signed_in.get("/download/", follow=True)

    assert b"Open Humans is not answering right now" in response.content
