"""State-changing views take POST only, and POST needs a CSRF token."""

import pytest
from django.test import Client

from main.models import MovesMember

POST_ONLY = ["/update_data/", "/logout/", "/webhooks/open-humans/deauthorize/"]


@pytest.mark.parametrize("url", POST_ONLY)
def test_state_changing_views_refuse_get(signed_in, moves_member, queued, url):
    response = signed_in.get(url)

    assert response.status_code == 405
    assert "_auth_user_id" in signed_in.session
    assert queued == []


def test_remove_moves_get_only_asks(signed_in, moves_member):
    signed_in.get("/remove_moves/")

    assert MovesMember.objects.filter(pk=moves_member.pk).exists()


@pytest.mark.parametrize("url", ["/update_data/", "/remove_moves/", "/logout/", "/moves/connect/"])
def test_state_changing_views_need_csrf(moves_member, queued, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(moves_member.member.user)

    response = client.post(url)

    assert response.status_code == 403
    assert MovesMember.objects.filter(pk=moves_member.pk).exists()
    assert "_auth_user_id" in client.session
    assert queued == []


def test_forms_carry_a_csrf_token(moves_member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(moves_member.member.user)

    html = client.get("/dashboard/").content.decode()
    token = client.cookies["csrftoken"].value

    assert html.count('name="csrfmiddlewaretoken"') == 2  # update and log out
    response = client.post("/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
