"""Disconnecting Moves: the file on Open Humans and our stored connection both go."""

import pytest

from apiclients.errors import InvalidGrant, TemporaryUpstreamError
from datauploader.worklog import DayLog
from main.models import MovesMember, RecentDay
from tests.web.fakes import FakeOpenHumans, remote_file


@pytest.fixture
def open_humans(monkeypatch) -> FakeOpenHumans:
    fake = FakeOpenHumans(files=[remote_file(40330), remote_file(555, basename="other.csv")])
    monkeypatch.setattr("main.dashboard.OpenHumansClient", fake)
    return fake


def test_remove_moves_get_asks_for_confirmation(signed_in, moves_member, open_humans):
    response = signed_in.get("/remove_moves/")

    assert response.status_code == 200
    assert b"Disconnect Moves?" in response.content
    assert b'method="post"' in response.content
    assert MovesMember.objects.filter(pk=moves_member.pk).exists()
    assert open_humans.calls == []


def test_remove_moves_deletes_the_file_and_the_connection(signed_in, moves_member, open_humans):
    RecentDay.objects.create(moves_member=moves_member, date="2024-05-01", steps=10)

    response = signed_in.post("/remove_moves/", follow=True)

    assert open_humans.calls == [
        ("delete_files_named", "oh-access-23456789", "23456789", "moves-storyline-data.json")
    ]
    assert [remote.basename for remote in open_humans.files] == ["other.csv"]
    assert MovesMember.objects.count() == 0
    assert RecentDay.objects.count() == 0
    assert b"Moves is disconnected" in response.content
    assert b"Connect Moves" in response.content


def test_remove_moves_reports_a_failed_file_deletion_and_still_forgets_tokens(
    signed_in, moves_member, open_humans
):
    open_humans.failure = TemporaryUpstreamError("openhumans", "server error", 503)

    response = signed_in.post("/remove_moves/")

    assert response.status_code == 502
    assert b"the file is still on Open Humans" in response.content
    assert b"Open Humans is not answering right now" in response.content
    assert b"Try deleting the file again" in response.content
    assert MovesMember.objects.count() == 0


def test_remove_moves_retry_deletes_the_file_without_a_connection(signed_in_without_moves, open_humans):
    response = signed_in_without_moves.post("/remove_moves/")

    assert response.status_code == 302
    assert [remote.basename for remote in open_humans.files] == ["other.csv"]


def test_remove_moves_after_open_humans_access_ended_explains_what_to_do(
    signed_in, moves_member, open_humans
):
    open_humans.failure = InvalidGrant("openhumans", "invalid_grant", 400)

    response = signed_in.post("/remove_moves/")

    assert b"sign in with Open Humans again first" in response.content
    assert MovesMember.objects.count() == 0


def test_remove_moves_has_the_worker_delete_its_copy_of_the_history(
    signed_in, moves_member, open_humans, django_capture_on_commit_callbacks
):
    history = DayLog.for_member(moves_member.member.oh_id)
    history.append([{"date": "20240501", "summary": None, "segments": None}])
    history.commit()

    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post("/remove_moves/")

    assert not history.directory.exists()
