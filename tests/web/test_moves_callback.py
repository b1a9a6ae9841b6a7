"""The Moves OAuth callback, with Moves' token answers replayed from cassettes."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from main import oauth_state
from main.models import MovesMember
from tests.web.conftest import replay


# The dashboard's button posts; a plain link (GET) must work as well.
@pytest.mark.parametrize("method", ["post", "get"])
def test_connect_redirects_to_moves_with_the_session_state(signed_in, moves_member, method):
    response = getattr(signed_in, method)("/moves/connect/")

    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["state"] == [signed_in.session["oauth_state_moves"]]
    assert query["scope"] == ["activity location"]


def test_callback_stores_tokens_resets_status_and_queues(client, make_member, start_handshake, queued):
    moves = make_member(
        oh_id="23456789",
        moves_id=12345678,
        status=MovesMember.Status.NEEDS_RECONNECT,
        last_error="Moves refused the refresh token",
        last_error_at=timezone.now(),
        reconnect_notified=True,
    )
    client.force_login(moves.member.user)
    state = start_handshake(oauth_state.MOVES)

    with replay.use_cassette("moves_connect.yaml") as cassette:
        response = client.get("/moves_complete/", {"code": "moves-code", "state": state})

    assert cassette.play_count == 1
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    moves.refresh_from_db()
    assert moves.access_token == "moves-access-from-cassette"
    assert moves.refresh_token == "moves-refresh-from-cassette"
    assert moves.moves_id == 12345678
    assert moves.status == MovesMember.Status.NEW
    assert (moves.last_error, moves.last_error_at, moves.reconnect_notified) == ("", None, False)
    assert moves.token_expires > timezone.now() + timedelta(days=179)
    assert queued == ["23456789"]


def test_callback_creates_the_connection_of_a_new_member(signed_in_without_moves, start_handshake, queued):
    state = start_handshake(oauth_state.MOVES)

    with replay.use_cassette("moves_connect.yaml"):
        signed_in_without_moves.get("/moves_complete/", {"code": "moves-code", "state": state})

    moves = MovesMember.objects.get(member__oh_id="23456789")
    assert moves.refresh_token == "moves-refresh-from-cassette"
    assert queued == ["23456789"]


def test_callback_handles_denial(signed_in, moves_member, start_handshake, queued, no_upstream):
    state = start_handshake(oauth_state.MOVES)

    response = signed_in.get("/moves_complete/", {"error": "access_denied", "state": state}, follow=True)

    assert b"You chose not to give access to Moves" in response.content
    moves_member.refresh_from_db()
    assert moves_member.access_token == "moves-access-23456789"
    assert queued == []
    assert no_upstream.play_count == 0


def test_callback_without_code_says_so(signed_in, moves_member, start_handshake, queued):
    state = start_handshake(oauth_state.MOVES)

    response = signed_in.get("/moves_complete/", {"state": state}, follow=True)

    assert b"without an authorisation code" in response.content
    assert queued == []


def test_callback_handles_a_refused_code(signed_in_without_moves, start_handshake, queued):
    state = start_handshake(oauth_state.MOVES)

    with replay.use_cassette("moves_token_invalid_grant.yaml") as cassette:
        response = signed_in_without_moves.get(
            "/moves_complete/", {"code": "used-code", "state": state}, follow=True
        )

    assert cassette.play_count == 1
    assert b"Nothing was saved" in response.content
    assert MovesMember.objects.count() == 0
    assert queued == []


def test_callback_refuses_a_different_moves_account(client, make_member, start_handshake, queued):
    moves = make_member(oh_id="23456789", moves_id=999, status=MovesMember.Status.NEEDS_RECONNECT)
    client.force_login(moves.member.user)
    state = start_handshake(oauth_state.MOVES)

    with replay.use_cassette("moves_connect.yaml"):
        response = client.get("/moves_complete/", {"code": "moves-code", "state": state}, follow=True)

    assert b"different Moves account" in response.content
    moves.refresh_from_db()
    assert (moves.moves_id, moves.refresh_token) == (999, "moves-refresh-23456789")
    assert moves.status == MovesMember.Status.NEEDS_RECONNECT
    assert queued == []
