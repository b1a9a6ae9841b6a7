"""Both OAuth handshakes: the start, and the callback in each of its outcomes.

Successful handshakes go through the stand-ins' consent pages as a person
would (``tests.connected.approve``); everything refused before a token
request is checked to make none.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.messages import get_messages
from django.test import Client

from core.models import MovesMember, Priority
from datauploader.celery import app as celery_app
from main import oauth_state
from open_humans.models import OpenHumansMember
from sandbox import testing
from sandbox.models import SandboxMovesUser
from tests.connected import approve, unreachable_url


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def said(response) -> list[str]:
    """The messages waiting for the person's next page, oldest first."""
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def start_handshake(client: Client):
    """Begin a handshake in ``client``'s session and return its state, as the start views do."""

    def start(service: str) -> str:
        session = client.session
        state = oauth_state.create_state(session, service)
        session.save()
        return state

    return start


# --- Open Humans ---------------------------------------------------------------------------


def test_login_sends_the_person_to_open_humans_with_the_sessions_state(client, db, settings):
    response = client.get("/login/")

    assert response.status_code == 302
    query = query_of(response["Location"])
    assert response["Location"].startswith(
        settings.OH_BASE_URL + "/direct-sharing/projects/oauth2/authorize/"
    )
    assert (query["state"], query["response_type"], query["client_id"]) == (
        client.session["oauth_state_openhumans"],
        "code",
        settings.OH_CLIENT_ID,
    )
    assert response["Cache-Control"].startswith("max-age=0")


def test_sign_in_through_the_open_humans_consent_page(sandboxed, client):
    start = client.get("/login/")
    callback = approve(requests.Session(), start["Location"], username="alice", share_username="on")

    response = client.get("/complete/", query_of(callback))

    assert (response.status_code, response["Location"]) == (302, "/dashboard/")
    member = OpenHumansMember.objects.get()
    assert (member.oh_id, member.username) == (testing.create_oh_member("alice").project_member_id, "alice")
    assert (member.user.username, member.needs_reconnect, member.signed_in_at is not None) == (
        f"oh-{member.oh_id}",
        False,
        True,
    )
    assert int(client.session["_auth_user_id"]) == member.user_id
    assert "oauth_state_openhumans" not in client.session
    # The stored tokens are the ones the stand-in issued: they work there.
    assert (
        member.token_client().exchange_member(member.access_token, "direct-sharing-138").username == "alice"
    )


def test_sign_in_again_updates_the_returning_member(sandboxed, client):
    first = approve(
        requests.Session(), client.get("/login/")["Location"], username="alice", share_username="on"
    )
    client.get("/complete/", query_of(first))
    client.logout()
    before = OpenHumansMember.objects.get()
    OpenHumansMember.objects.update(needs_reconnect=True)

    again = approve(
        requests.Session(), client.get("/login/")["Location"], username="alice", share_username="on"
    )
    client.get("/complete/", query_of(again))

    after = OpenHumansMember.objects.get()
    assert (after.pk, after.needs_reconnect) == (before.pk, False)
    assert after.refresh_token != before.refresh_token
    assert after.signed_in_at > before.signed_in_at


@pytest.mark.parametrize(
    "params",
    [{"code": "good-code"}, {"code": "good-code", "state": "forged"}, {"code": "good-code", "state": ""}],
    ids=["missing", "wrong", "empty"],
)
def test_open_humans_callback_without_the_sessions_state_stores_nothing(
    client, db, start_handshake, no_upstream, params
):
    start_handshake(oauth_state.OPEN_HUMANS)

    response = client.get("/complete/", params)

    assert response.status_code == 403
    assert b"nothing was saved" in response.content
    assert (OpenHumansMember.objects.count(), "_auth_user_id" in client.session, no_upstream) == (
        0,
        False,
        [],
    )


def test_open_humans_callback_without_a_session_stores_nothing(client, db, no_upstream):
    assert client.get("/complete/", {"code": "good-code", "state": "anything"}).status_code == 403

    assert (OpenHumansMember.objects.count(), no_upstream) == (0, [])


def test_a_moves_state_does_not_complete_open_humans(client, db, start_handshake, no_upstream):
    state = start_handshake(oauth_state.MOVES)

    assert client.get("/complete/", {"code": "good-code", "state": state}).status_code == 403

    assert no_upstream == []


def test_an_open_humans_state_works_once(client, db, start_handshake, no_upstream):
    state = start_handshake(oauth_state.OPEN_HUMANS)
    client.get("/complete/", {"error": "access_denied", "state": state})

    assert client.get("/complete/", {"code": "good-code", "state": state}).status_code == 403

    assert (OpenHumansMember.objects.count(), no_upstream) == (0, [])


def test_open_humans_denied_is_a_normal_outcome(client, db, start_handshake, no_upstream):
    state = start_handshake(oauth_state.OPEN_HUMANS)

    response = client.get("/complete/", {"error": "access_denied", "state": state})

    assert response.status_code == 200
    assert b"You chose not to join the project on Open Humans, so nothing was saved." in response.content
    assert (OpenHumansMember.objects.count(), "_auth_user_id" in client.session, no_upstream) == (
        0,
        False,
        [],
    )


def test_open_humans_denied_on_the_consent_page(sandboxed, client):
    callback = approve(requests.Session(), client.get("/login/")["Location"], decision="deny")

    response = client.get("/complete/", query_of(callback))

    assert (response.status_code, OpenHumansMember.objects.count()) == (200, 0)


def test_open_humans_error_is_shown_cut_short(client, db, start_handshake, no_upstream):
    state = start_handshake(oauth_state.OPEN_HUMANS)

    response = client.get("/complete/", {"error": "server_error" + "x" * 500, "state": state})

    assert response.status_code == 400
    assert ("Open Humans answered: server_error" + "x" * 88 + ".").encode() in response.content
    assert (OpenHumansMember.objects.count(), no_upstream) == (0, [])


def test_open_humans_callback_without_a_code_says_so(client, db, start_handshake, no_upstream):
    state = start_handshake(oauth_state.OPEN_HUMANS)

    response = client.get("/complete/", {"state": state})

    assert response.status_code == 400
    assert b"without an authorisation code" in response.content
    assert no_upstream == []


def test_open_humans_refusing_the_code_stores_nothing(sandboxed, client, start_handshake):
    state = start_handshake(oauth_state.OPEN_HUMANS)

    response = client.get("/complete/", {"code": "not-a-code-the-stand-in-issued", "state": state})

    assert response.status_code == 502
    assert b"Nothing was saved" in response.content
    assert (OpenHumansMember.objects.count(), "_auth_user_id" in client.session) == (0, False)


def test_open_humans_unreachable_stores_nothing(client, db, start_handshake, settings):
    settings.OH_BASE_URL = unreachable_url()
    state = start_handshake(oauth_state.OPEN_HUMANS)

    response = client.get("/complete/", {"code": "good-code", "state": state})

    assert (response.status_code, OpenHumansMember.objects.count()) == (502, 0)


# --- Moves ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_connect_sends_the_member_to_moves_with_the_sessions_state(member_client, settings, method):
    response = getattr(member_client, method)("/moves/connect/")

    assert response.status_code == 302
    assert response["Location"].startswith(settings.MOVES_OAUTH_BASE_URL + "/authorize?")
    query = query_of(response["Location"])
    assert (query["state"], query["scope"], query["redirect_uri"]) == (
        member_client.session["oauth_state_moves"],
        "activity location",
        settings.MOVES_REDIRECT_URI,
    )


@pytest.mark.parametrize("path", ["/moves/connect/", "/moves_complete/?code=c&state=s"])
def test_moves_handshake_needs_a_signed_in_member(client, db, no_upstream, path):
    response = client.get(path)

    assert (response.status_code, response["Location"].startswith("/?next=")) == (302, True)
    assert "oauth_state_moves" not in client.session


@pytest.fixture
def signed_in(sandboxed, client, django_user_model):
    """Someone signed in with us whose Open Humans account is the stand-in's; no Moves connection yet."""
    oh = testing.create_oh_member("alice")
    access, refresh = testing.issue_oh_tokens(oh)
    user = django_user_model.objects.create_user(username=f"oh-{oh.project_member_id}")
    member = OpenHumansMember.objects.create(
        user=user, oh_id=oh.project_member_id, access_token=access, refresh_token=refresh
    )
    client.force_login(user)
    return member


def test_connect_moves_through_the_consent_page_stores_the_tokens_and_queues_the_first_batch(
    signed_in, client, queued_tasks
):
    start = client.get("/moves/connect/")
    callback = approve(requests.Session(), start["Location"], name="walker", history_days="30")

    response = client.get("/moves_complete/", query_of(callback))

    assert (response.status_code, response["Location"]) == (302, "/dashboard/")
    assert said(response) == ["Moves is connected. Your history is on its way to Open Humans."]
    moves = MovesMember.objects.get(member=signed_in)
    walker = SandboxMovesUser.objects.get(name="walker")
    assert (moves.moves_id, moves.status, moves.sync_priority, moves.sync_wanted_since is not None) == (
        walker.moves_id,
        MovesMember.Status.NEW,
        Priority.FIRST,
        True,
    )
    assert moves.token_is_fresh() is True
    assert queued_tasks() == [("datauploader.dispatch", [])]
    assert "oauth_state_moves" not in client.session


def test_reconnecting_moves_clears_the_trouble(signed_in, client, queued_tasks):
    client.get(
        "/moves_complete/",
        query_of(approve(requests.Session(), client.get("/moves/connect/")["Location"], name="walker")),
    )
    moves = MovesMember.objects.get()
    moves.require_reconnect("Moves", "Moves refused the refresh token.")
    moves.told_to_reconnect()

    callback = approve(requests.Session(), client.get("/moves/connect/")["Location"], name="walker")
    client.get("/moves_complete/", query_of(callback))

    again = MovesMember.objects.get()
    assert (again.pk, again.status, again.last_error, again.reconnect_notified) == (
        moves.pk,
        MovesMember.Status.NEW,
        "",
        False,
    )
    assert again.refresh_token != moves.refresh_token


def test_connecting_a_different_moves_account_changes_nothing(signed_in, client, queued_tasks):
    client.get(
        "/moves_complete/",
        query_of(approve(requests.Session(), client.get("/moves/connect/")["Location"], name="walker")),
    )
    before = MovesMember.objects.values().get()
    queued = queued_tasks()

    callback = approve(requests.Session(), client.get("/moves/connect/")["Location"], name="someone-else")
    response = client.get("/moves_complete/", query_of(callback))

    assert said(response)[-1].startswith("That is a different Moves account from the one connected before")
    assert MovesMember.objects.values().get() == before
    assert queued_tasks() == queued


@pytest.mark.parametrize(
    "params",
    [{"code": "moves-code"}, {"code": "moves-code", "state": "forged"}],
    ids=["missing", "wrong"],
)
def test_moves_callback_without_the_sessions_state_stores_nothing(
    member_client, moves, start_handshake, no_upstream, params
):
    start_handshake(oauth_state.MOVES)
    before = MovesMember.objects.values().get()

    response = member_client.get("/moves_complete/", params)

    assert response.status_code == 403
    assert b"nothing was saved" in response.content
    assert (MovesMember.objects.values().get(), no_upstream) == (before, [])


def test_an_open_humans_state_does_not_complete_moves(member_client, moves, start_handshake, no_upstream):
    state = start_handshake(oauth_state.OPEN_HUMANS)

    assert member_client.get("/moves_complete/", {"code": "c", "state": state}).status_code == 403

    assert no_upstream == []


def test_moves_denied_changes_nothing(member_client, moves, start_handshake, no_upstream):
    state = start_handshake(oauth_state.MOVES)
    before = MovesMember.objects.values().get()

    response = member_client.get("/moves_complete/", {"error": "access_denied", "state": state})

    assert (response.status_code, response["Location"]) == (302, "/dashboard/")
    assert said(response) == ["You chose not to give access to Moves; nothing changed."]
    assert (MovesMember.objects.values().get(), no_upstream) == (before, [])


@pytest.mark.parametrize(
    ("params", "words"),
    [
        (
            {"error": "temporarily_unavailable"},
            "Moves refused the connection (temporarily_unavailable). Please try again.",
        ),
        ({}, "Moves sent you back without an authorisation code. Please try again."),
    ],
    ids=["error", "no code"],
)
def test_moves_callback_that_cannot_go_on_says_why(
    member_client, moves, start_handshake, no_upstream, params, words
):
    state = start_handshake(oauth_state.MOVES)

    response = member_client.get("/moves_complete/", {**params, "state": state})

    assert (response.status_code, said(response), no_upstream) == (302, [words], [])


def test_moves_refusing_the_code_stores_nothing(signed_in, client, start_handshake, queued_tasks):
    state = start_handshake(oauth_state.MOVES)

    response = client.get("/moves_complete/", {"code": "not-a-code-the-stand-in-issued", "state": state})

    assert said(response) == [
        "Moves did not confirm the connection (the code may have expired or already been used, or Moves is "
        "unavailable). Nothing was saved; please try again."
    ]
    assert (MovesMember.objects.count(), queued_tasks()) == (0, [])


def test_moves_callback_code_spent_twice_stores_once(signed_in, client, queued_tasks):
    callback = query_of(approve(requests.Session(), client.get("/moves/connect/")["Location"], name="walker"))
    client.get("/moves_complete/", callback)
    first = MovesMember.objects.values().get()
    # The same callback URL again (a reload, a replay): its state was used up.
    session = client.session
    session["oauth_state_moves"] = callback["state"]
    session.save()

    response = client.get("/moves_complete/", callback)

    assert said(response)[-1].startswith("Moves did not confirm the connection")
    assert MovesMember.objects.values().get() == first


def test_the_code_and_client_secret_travel_in_the_body_not_the_url(signed_in, client, monkeypatch, settings):
    sent: list[requests.PreparedRequest] = []
    real_send = requests.adapters.HTTPAdapter.send

    def record(adapter, request, *args, **kwargs):
        sent.append(request)
        return real_send(adapter, request, *args, **kwargs)

    callback = query_of(approve(requests.Session(), client.get("/moves/connect/")["Location"], name="walker"))
    monkeypatch.setitem(celery_app.conf, "CELERY_TASK_ALWAYS_EAGER", False)
    # Watching the request at the transport, where it leaves the process.
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", record)

    client.get("/moves_complete/", callback)

    [token_request] = sent
    body = parse_qs(token_request.body)
    assert (body["code"], body["client_secret"], body["grant_type"]) == (
        [callback["code"]],
        [settings.MOVES_CLIENT_SECRET],
        ["authorization_code"],
    )
    assert (callback["code"] in token_request.url, settings.MOVES_CLIENT_SECRET in token_request.url) == (
        False,
        False,
    )
