"""A callback that did not start in this browser stores nothing and spends nothing.

The attack: someone completes a handshake with their own account at the
stand-in and has the victim's browser open the callback URL (login CSRF),
so the victim would act in, or upload into, the attacker's account.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from core.models import MovesMember
from open_humans.models import OpenHumansMember
from sandbox import testing
from sandbox.models import SandboxMovesUser
from tests.connected import approve, refusing_requests


def path_of(callback: str) -> str:
    parts = urlsplit(callback)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def attacker(sandboxed):
    """A browser of the attacker's, signed in with us, with a Moves account of their own."""
    return Client()


def test_an_attackers_open_humans_callback_in_the_victims_browser_is_refused(attacker, client):
    callback = approve(
        requests.Session(), attacker.get("/login/")["Location"], username="mallory", share_username="on"
    )
    client.get("/login/")  # the victim had started a sign-in of their own

    with refusing_requests() as tried:
        response = client.get(path_of(callback))

    assert (response.status_code, tried, "_auth_user_id" in client.session) == (403, [], False)
    assert OpenHumansMember.objects.count() == 0
    # The attacker's code was not spent: it still signs the attacker in, in the attacker's browser.
    assert attacker.get(path_of(callback))["Location"] == "/dashboard/"
    assert list(OpenHumansMember.objects.values_list("username", flat=True)) == ["mallory"]


def test_an_attackers_moves_callback_in_the_victims_browser_is_refused(
    attacker, client, make_member, queued_tasks
):
    victim = make_member("23456789")
    client.force_login(victim.member.user)
    client.get("/moves/connect/")
    oh = testing.create_oh_member("mallory")
    mallory = make_member(oh.project_member_id, access_token="", refresh_token="", moves_id=None)
    attacker.force_login(mallory.member.user)
    callback = approve(requests.Session(), attacker.get("/moves/connect/")["Location"], name="mallory-moves")
    before = MovesMember.objects.filter(pk=victim.pk).values().get()

    with refusing_requests() as tried:
        response = client.get(path_of(callback))

    assert (response.status_code, tried) == (403, [])
    assert MovesMember.objects.filter(pk=victim.pk).values().get() == before
    assert attacker.get(path_of(callback))["Location"] == "/dashboard/"
    mallory_moves = SandboxMovesUser.objects.get(name="mallory-moves")
    assert MovesMember.objects.get(pk=mallory.pk).moves_id == mallory_moves.moves_id


def test_a_callback_replayed_after_it_completed_is_refused(sandboxed, client):
    callback = approve(requests.Session(), client.get("/login/")["Location"], username="alice")
    client.get(path_of(callback))
    client.logout()

    with refusing_requests() as tried:
        response = client.get(path_of(callback))

    assert (response.status_code, tried, "_auth_user_id" in client.session) == (403, [], False)


def test_the_state_is_random_and_new_for_every_handshake(client, db):
    states = [parse_qs(urlsplit(client.get("/login/")["Location"]).query)["state"][0] for _ in range(3)]

    assert len(set(states)) == 3
    assert min(len(state) for state in states) >= 40
