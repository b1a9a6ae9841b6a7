"""State-changing views take POST only, POST needs a CSRF token, and the pages' forms carry one."""

import re

import pytest
from django.test import Client

from core.models import MovesMember

POST_ONLY = ["/update_data/", "/logout/", "/webhooks/open-humans/deauthorize/", "/webhooks/moves/storyline/"]


def unchanged(moves: MovesMember) -> bool:
    stored = MovesMember.objects.get(pk=moves.pk)
    return (stored.sync_wanted_since, stored.last_submitted, stored.refresh_token) == (
        None,
        None,
        "moves-refresh-23456789",
    )


@pytest.mark.parametrize("url", POST_ONLY)
def test_state_changing_views_refuse_get(signed_in, moves_member, url):
    response = signed_in.get(url)

    assert response.status_code == 405
    assert ("_auth_user_id" in signed_in.session, unchanged(moves_member)) == (True, True)


@pytest.mark.parametrize("url", ["/update_data/", "/remove_moves/", "/logout/", "/moves/connect/"])
def test_state_changing_views_need_a_csrf_token(moves_member, no_upstream, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(moves_member.member.user)

    response = client.post(url)

    assert response.status_code == 403
    assert ("_auth_user_id" in client.session, unchanged(moves_member), no_upstream) == (True, True, [])
    assert "oauth_state_moves" not in client.session


def test_every_form_of_the_dashboard_carries_a_csrf_token_that_works(moves_member, no_upstream):
    client = Client(enforce_csrf_checks=True)
    client.force_login(moves_member.member.user)

    html = client.get("/dashboard/").content.decode()
    forms = re.findall(r"<form\b[^>]*method=\"post\"[^>]*>.*?</form>", html, flags=re.S | re.I)
    token = client.cookies["csrftoken"].value

    assert forms != []
    assert [form for form in forms if 'name="csrfmiddlewaretoken"' not in form] == []
    response = client.post("/logout/", {"csrfmiddlewaretoken": token})
    assert (response.status_code, "_auth_user_id" in client.session) == (302, False)


def test_admin_actions_need_a_csrf_token(moves_member, django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("operator", is_staff=True, is_superuser=True))

    response = client.post(
        "/admin/core/movesmember/", {"action": "mark_needs_reconnect", "_selected_action": [moves_member.pk]}
    )

    assert response.status_code == 403
    assert MovesMember.objects.get(pk=moves_member.pk).status == MovesMember.Status.NEW
