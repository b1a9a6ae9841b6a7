"""Callbacks that did not start in this browser store nothing and send nothing upstream."""

import pytest

from main import oauth_state
from main.models import MovesMember
from open_humans.models import OpenHumansMember


@pytest.mark.parametrize("params", [{"code": "good-code"}, {"code": "good-code", "state": "forged"}])
def test_open_humans_callback_refuses_missing_or_wrong_state(
    client, db, start_handshake, no_upstream, params
):
    start_handshake(oauth_state.OPEN_HUMANS)

    response = client.get("/complete/", params)

    assert response.status_code == 403
    assert b"nothing was saved" in response.content
    assert OpenHumansMember.objects.count() == 0
    assert "_auth_user_id" not in client.session
    assert len(no_upstream.requests) == 0


def test_open_humans_callback_refuses_a_state_without_a_session(client, db, no_upstream):
    response = client.get("/complete/", {"code": "good-code", "state": "anything"})

    assert response.status_code == 403
    assert OpenHumansMember.objects.count() == 0


def test_open_humans_state_works_once(client, db, start_handshake, no_upstream):
    state = start_handshake(oauth_state.OPEN_HUMANS)
    client.get("/complete/", {"error": "access_denied", "state": state})

    replayed = client.get("/complete/", {"code": "good-code", "state": state})

    assert replayed.status_code == 403
    assert OpenHumansMember.objects.count() == 0


def test_moves_state_does_not_complete_open_humans(client, db, start_handshake, no_upstream):
    state = start_handshake(oauth_state.MOVES)

    response = client.get("/complete/", {"code": "good-code", "state": state})

    assert response.status_code == 403


@pytest.mark.parametrize("params", [{"code": "moves-code"}, {"code": "moves-code", "state": "forged"}])
def test_moves_callback_refuses_missing_or_wrong_state(
    signed_in, moves_member, start_handshake, no_upstream, queued, params
):
    start_handshake(oauth_state.MOVES)

    response = signed_in.get("/moves_complete/", params)

    assert response.status_code == 403
    moves_member.refresh_from_db()
    assert moves_member.access_token == "moves-access-23456789"
    assert MovesMember.objects.count() == 1
    assert queued == []
    assert len(no_upstream.requests) == 0
