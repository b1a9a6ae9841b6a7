"""What a member can do from the dashboard: update now, disconnect Moves, download the file, log out."""

from datetime import timedelta

import pytest
import requests
import time_machine
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from core.models import MovesMember, Priority, RecentDay
from open_humans.models import OpenHumansMember
from sandbox import testing
from tests.connected import refusing_requests, settle, unreachable_url


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Update now ----------------------------------------------------------------------------------


def test_update_now_queues_an_update(member_client, moves, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = member_client.post("/update_data/")

    assert (response.status_code, response["Location"]) == (302, "/dashboard/")
    assert said(response) == ["Update requested. New data appears here when it is done."]
    stored = MovesMember.objects.get(pk=moves.pk)
    assert (
        stored.sync_priority,
        stored.sync_wanted_since is not None,
        stored.last_submitted is not None,
    ) == (
        Priority.UPDATE,
        True,
        True,
    )
    assert len(callbacks) == 1


def test_update_now_while_updating_spends_nothing(member_client, moves):
    member_client.post("/update_data/")
    first_press = MovesMember.objects.get(pk=moves.pk).last_submitted

    response = member_client.post("/update_data/")

    assert (
        said(response)[-1]
        == "Already updating: nothing more was asked for, and your hourly update was not used."
    )
    assert MovesMember.objects.get(pk=moves.pk).last_submitted == first_press


def test_update_now_again_within_the_hour_says_when(member_client, moves, set_state):
    now = timezone.now()
    set_state(status=MovesMember.Status.CURRENT, last_submitted=now - timedelta(minutes=10))

    with time_machine.travel(now, tick=False):
        response = member_client.post("/update_data/")

    assert said(response) == ["An update was asked for recently. You can ask again in 50\xa0minutes."]
    assert MovesMember.objects.get(pk=moves.pk).sync_wanted_since is None


@pytest.mark.parametrize("status", [MovesMember.Status.RETRYING, MovesMember.Status.FAILING])
def test_try_again_now_of_a_member_in_trouble(member_client, moves, set_state, status):
    set_state(status=status, not_before=timezone.now() + timedelta(hours=6))

    response = member_client.post("/update_data/")

    assert said(response) == ["We try again now. New data appears here when it is done."]
    assert MovesMember.objects.get(pk=moves.pk).not_before is None


def test_update_now_without_moves_says_to_connect_first(member_client, moves):
    moves.delete()

    response = member_client.post("/update_data/")

    assert said(response) == ["Connect Moves first; there is nothing to update yet."]


def test_update_now_needs_a_post_and_a_member(member_client, moves, client):
    assert member_client.get("/update_data/").status_code == 405
    member_client.logout()

    assert Client().post("/update_data/")["Location"] == "/?next=/update_data/"


# --- Disconnect Moves, against the stand-in -----------------------------------------------------


@pytest.fixture
def synced(connect, client):
    """A person signed in with us whose ten days of Moves history are on the stand-in Open Humans."""
    person = connect(days=10)
    settle(person.member)
    client.force_login(person.member.member.user)
    return person


def test_disconnect_asks_first(synced, client):
    with refusing_requests() as tried:
        response = client.get("/remove_moves/")

    assert response.status_code == 200
    assert b"<h1>Disconnect Moves?</h1>" in response.content
    assert (MovesMember.objects.count(), len(testing.stored_files(synced.oh)), tried) == (1, 1, [])


def test_disconnect_deletes_the_file_and_the_connection(synced, client):
    testing.share_other_source(synced.oh)

    response = client.post("/remove_moves/")

    assert (response.status_code, response["Location"]) == (302, "/dashboard/")
    assert said(response) == [
        "Moves is disconnected and moves-storyline-data.json was deleted from Open Humans."
    ]
    assert (MovesMember.objects.count(), RecentDay.objects.count(), testing.stored_files(synced.oh)) == (
        0,
        0,
        [],
    )
    assert client.session["moves_disconnected"] is True


def test_disconnect_with_open_humans_down_forgets_the_connection_and_says_the_file_stayed(
    make_member, client, settings
):
    moves = make_member("23456789")
    client.force_login(moves.member.user)
    settings.OH_BASE_URL = unreachable_url()
    settings.OH_SOURCE_LABEL = ""

    response = client.post("/remove_moves/")

    assert response.status_code == 502
    html = response.content.decode()
    assert "Moves is disconnected, but the file is still on Open Humans" in html
    assert "Open Humans is not answering right now; please try again in a few minutes." in html
    assert MovesMember.objects.count() == 0


def test_disconnect_after_leaving_open_humans_says_to_sign_in_again(synced, client):
    testing.member_leaves(synced.oh)
    OpenHumansMember.objects.update(token_expires=timezone.now())

    response = client.post("/remove_moves/")

    assert response.status_code == 502
    assert b"sign in with Open Humans again first" in response.content
    assert MovesMember.objects.count() == 0


# --- Download ---------------------------------------------------------------------------------------


def test_download_redirects_to_a_fresh_link_to_the_file(synced, client):
    response = client.get("/download/")

    assert response.status_code == 302
    served = requests.get(response["Location"], timeout=10)
    assert (served.status_code, served.json()) == (200, synced.file_days())


def test_download_without_a_file_says_so(connect, client):
    person = connect(days=10)
    client.force_login(person.member.member.user)

    response = client.get("/download/")

    assert (response["Location"], said(response)) == (
        "/dashboard/",
        ["Open Humans holds no moves-storyline-data.json for you yet."],
    )


def test_download_with_open_humans_down_says_so(member_client, moves, settings):
    settings.OH_BASE_URL = unreachable_url()
    settings.OH_SOURCE_LABEL = "direct-sharing-138"

    response = member_client.get("/download/")

    assert said(response) == [
        "The download link could not be fetched. "
        "Open Humans is not answering right now; please try again in a few minutes."
    ]


# --- Log out ---------------------------------------------------------------------------------------


def test_logout_ends_the_session_and_keeps_the_data(member_client, moves):
    session_key = member_client.session.session_key

    response = member_client.post("/logout/")

    assert (response.status_code, response["Location"]) == (302, "/logged-out/")
    assert Session.objects.filter(session_key=session_key).exists() is False
    assert member_client.get("/dashboard/").status_code == 302
    assert MovesMember.objects.filter(pk=moves.pk).exists() is True


def test_logout_needs_a_post(member_client, moves):
    assert member_client.get("/logout/").status_code == 405

    assert "_auth_user_id" in member_client.session
