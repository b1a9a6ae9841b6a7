"""The Open Humans OAuth callback, with the upstream's answers replayed from cassettes."""

from urllib.parse import parse_qs, urlsplit

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from main import oauth_state
from open_humans.models import OpenHumansMember
from tests.web.conftest import replay


def test_login_redirects_to_open_humans_with_the_session_state(client, db):
    response = client.get("/login/")

    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["state"] == [client.session["oauth_state_openhumans"]]
    assert query["response_type"] == ["code"]


def test_callback_signs_in_and_stores_the_member(client, db, start_handshake):
    state = start_handshake(oauth_state.OPEN_HUMANS)

    with replay.use_cassette("oh_sign_in.yaml") as cassette:
        response = client.get("/complete/", {"code": "good-code", "state": state})

    assert cassette.play_count == 2
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    member = OpenHumansMember.objects.get()
    assert (member.oh_id, member.username, member.message_permission) == ("23456789", "alice", True)
    assert member.access_token == "oh-access-from-cassette"
    assert member.refresh_token == "oh-refresh-from-cassette"
    assert member.user.username == "oh-23456789"
    assert not member.user.has_usable_password()
    assert int(client.session["_auth_user_id"]) == member.user_id
    assert "oauth_state_openhumans" not in client.session


def test_callback_updates_a_returning_member(client, make_member, start_handshake):
    existing = make_member(oh_id="23456789").member
    existing.needs_reconnect = True
    existing.save()
    state = start_handshake(oauth_state.OPEN_HUMANS)

    with replay.use_cassette("oh_sign_in.yaml"):
        client.get("/complete/", {"code": "good-code", "state": state})

    member = OpenHumansMember.objects.get()
    assert member.pk == existing.pk
    assert member.access_token == "oh-access-from-cassette"
    assert member.needs_reconnect is False
    assert get_user_model().objects.count() == 1


def test_callback_handles_denial(client, db, start_handshake, no_upstream):
    state = start_handshake(oauth_state.OPEN_HUMANS)

    response = client.get("/complete/", {"error": "access_denied", "state": state})

    assert response.status_code == 200
    assert b"You chose not to join the project" in response.content
    assert OpenHumansMember.objects.count() == 0
    assert "_auth_user_id" not in client.session
    assert no_upstream.play_count == 0


def test_callback_without_code_says_so(client, db, start_handshake, no_upstream):
    state = start_handshake(oauth_state.OPEN_HUMANS)

    response = client.get("/complete/", {"state": state})

    assert response.status_code == 400
    assert b"without an authorisation code" in response.content
    assert OpenHumansMember.objects.count() == 0


def test_callback_handles_a_refused_code(client, db, start_handshake):
    state = start_handshake(oauth_state.OPEN_HUMANS)

    with replay.use_cassette("oh_token_invalid_grant.yaml") as cassette:
        response = client.get("/complete/", {"code": "used-code", "state": state})

    assert cassette.play_count == 1
    assert response.status_code == 502
    assert b"Nothing was saved" in response.content
    assert OpenHumansMember.objects.count() == 0
    assert User.objects.count() == 0
    assert "_auth_user_id" not in client.session


def test_callback_handles_an_unavailable_token_endpoint(client, db, start_handshake, settings):
    settings.HTTP_MAX_ATTEMPTS = 2
    state = start_handshake(oauth_state.OPEN_HUMANS)

    with replay.use_cassette("oh_token_unavailable.yaml") as cassette:
        response = client.get("/complete/", {"code": "good-code", "state": state})

    # Whether the client retries a token exchange is the client's business; it asked at least once.
    assert cassette.play_count >= 1
    assert response.status_code == 502
    assert b"Nothing was saved" in response.content
    assert OpenHumansMember.objects.count() == 0


def test_index_sends_signed_in_members_to_the_dashboard(signed_in):
    response = signed_in.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_index_offers_sign_in(client, db):
    response = client.get("/")

    assert response.status_code == 200
    assert b'href="/login/"' in response.content
    assert b"Sign in with Open Humans" in response.content
