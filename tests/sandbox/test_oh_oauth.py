import base64
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from sandbox import testing
from sandbox.models import OHAuthCode, OHToken, SandboxOHMember

AUTHORIZE = "/direct-sharing/projects/oauth2/authorize/"
TOKEN = "/oauth2/token/"
EXCHANGE = "/api/direct-sharing/project/exchange-member/"
REDIRECT = "http://app.example/complete/"
BASIC = "Basic " + base64.b64encode(b"test-oh-client:test-oh-secret").decode()


def authorize_query(**overrides) -> dict:
    query = {"client_id": "test-oh-client", "response_type": "code", "redirect_uri": REDIRECT, "state": "xyz"}
    query.update(overrides)
    return query


def consent(decision: str, username: str = "dana", **extra):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(AUTHORIZE, authorize_query())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    form = dict(authorize_query(), csrfmiddlewaretoken=token, decision=decision, username=username, **extra)
    return browser.post(AUTHORIZE, form)


def obtain_code(**extra) -> str:
    response = consent("allow", **extra)
    return parse_qs(urlsplit(response["Location"]).query)["code"][0]


def exchange(client, code: str, authorization: str = BASIC):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    return client.post(TOKEN, data, HTTP_AUTHORIZATION=authorization)


def refresh(client, refresh_token: str):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return client.post(TOKEN, data, HTTP_AUTHORIZATION=BASIC)


@pytest.mark.django_db
def test_oh_authorize_page_offers_allow_and_deny(client):
    html = client.get(AUTHORIZE, authorize_query()).content.decode()
    assert 'value="allow"' in html
    assert 'value="deny"' in html
    assert 'for="id_username"' in html


@pytest.mark.django_db
def test_oh_authorize_unknown_client_is_refused(client):
    assert client.get(AUTHORIZE, authorize_query(client_id="x")).status_code == 400


@pytest.mark.django_db
def test_oh_authorize_allow_creates_member_and_echoes_state():
    response = consent("allow", username="dana")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert response["Location"].startswith(REDIRECT + "?")
    assert query["state"] == ["xyz"]
    member = OHAuthCode.objects.get(code=query["code"][0]).member
    assert member.username == "dana"
    assert re.fullmatch(r"\d{8}", member.project_member_id)
    assert member.share_username is False


@pytest.mark.django_db
def test_oh_authorize_picks_an_existing_member_and_brings_them_back():
    existing = testing.create_oh_member("erin")
    testing.member_leaves(existing)
    obtain_code(username="erin")
    existing.refresh_from_db()
    assert existing.active is True
    assert SandboxOHMember.objects.count() == 1


@pytest.mark.django_db
def test_oh_authorize_deny_redirects_with_access_denied():
    response = consent("deny")
    assert parse_qs(urlsplit(response["Location"]).query) == {"error": ["access_denied"], "state": ["xyz"]}
    assert SandboxOHMember.objects.count() == 0


@pytest.mark.django_db
def test_oh_token_exchange_answers_the_real_reply_shape(client):
    response = exchange(client, obtain_code())
    body = response.json()
    assert response.status_code == 200
    assert list(body) == ["access_token", "expires_in", "token_type", "refresh_token", "scope"]
    assert body["expires_in"] == 36000
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "write read direct-sharing-128"
    # django-oauth-toolkit writes json.dumps' default separators, as the recording shows.
    assert response.content.startswith(b'{"access_token": "')
    assert (response["Content-Type"], response["Cache-Control"]) == ("application/json", "no-store")
    assert OHToken.objects.get(access_token=body["access_token"]).member.username == "dana"


@pytest.mark.django_db
def test_oh_token_reused_code_is_invalid_grant(client):
    code = obtain_code()
    exchange(client, code)
    second = exchange(client, code)
    assert second.status_code == 400
    assert second.json() == {"error": "invalid_grant"}
    assert OHToken.objects.count() == 1


@pytest.mark.django_db
def test_oh_token_code_older_than_30_minutes_is_invalid_grant(client):
    code = obtain_code()
    created = OHAuthCode.objects.get(code=code)
    assert timedelta(minutes=29) < created.expires_at - timezone.now() <= timedelta(minutes=30)
    OHAuthCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert exchange(client, code).json() == {"error": "invalid_grant"}


@pytest.mark.django_db
def test_oh_token_bad_client_secret_is_invalid_client(client):
    wrong = "Basic " + base64.b64encode(b"test-oh-client:nope").decode()
    response = exchange(client, obtain_code(), authorization=wrong)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
    assert OHToken.objects.count() == 0


@pytest.mark.django_db
def test_oh_refresh_rotates_the_pair(client, oh_member):
    old_access, old_refresh = testing.issue_oh_tokens(oh_member)
    body = refresh(client, old_refresh).json()
    assert body["refresh_token"] != old_refresh
    assert refresh(client, old_refresh).status_code == 400
    assert client.get(EXCHANGE, HTTP_AUTHORIZATION=f"Bearer {old_access}").status_code == 401
    assert client.get(EXCHANGE, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").status_code == 200


@pytest.mark.django_db
def test_oh_refresh_after_leaving_is_invalid_grant(client, oh_member):
    _, old_refresh = testing.issue_oh_tokens(oh_member)
    testing.member_leaves(oh_member)
    assert refresh(client, old_refresh).json() == {"error": "invalid_grant"}
