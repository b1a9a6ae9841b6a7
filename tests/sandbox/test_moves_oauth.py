import base64
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from sandbox import testing
from sandbox.models import MovesAuthCode, MovesToken, SandboxMovesUser
from sandbox.oauth import InvalidGrant, retire_refresh_token
from sandbox.synthetic import local_today
from tests.sandbox.concurrency import race

AUTHORIZE = "/oauth/v1/authorize"
TOKEN = "/oauth/v1/access_token"
TOKENINFO = "/oauth/v1/tokeninfo"
PROFILE = "/api/1.1/user/profile"
REDIRECT = "http://app.example/moves_complete/"


def authorize_query(**overrides) -> dict:
    query = {
        "response_type": "code",
        "client_id": "test-moves-client",
        "scope": "activity location",
        "redirect_uri": REDIRECT,
        "state": "s-123",
    }
    query.update(overrides)
    return query


def consent(decision: str, name: str = "bob", **overrides):
    """Load the consent page like a browser (CSRF enforced) and press a button."""
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(AUTHORIZE, authorize_query(**overrides))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    form = dict(authorize_query(**overrides), csrfmiddlewaretoken=token, decision=decision, name=name)
    form["history_days"] = "30"
    return browser.post(AUTHORIZE, form)


def obtain_code(name: str = "bob") -> str:
    response = consent("allow", name=name)
    return parse_qs(urlsplit(response["Location"]).query)["code"][0]


def exchange(client, code: str, **overrides):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "test-moves-client",
        "client_secret": "test-moves-secret",
        "redirect_uri": REDIRECT,
    }
    data.update(overrides)
    return client.post(TOKEN, data)


@pytest.mark.django_db
def test_authorize_page_offers_allow_and_deny(client):
    response = client.get(AUTHORIZE, authorize_query())
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="allow"' in html
    assert 'value="deny"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'value="s-123"' in html


@pytest.mark.django_db
def test_authorize_unknown_client_is_refused_without_redirect(client):
    response = client.get(AUTHORIZE, authorize_query(client_id="someone-else"))
    assert response.status_code == 400
    assert "Unknown client_id" in response.content.decode()


@pytest.mark.django_db
def test_authorize_bad_scope_is_refused(client):
    response = client.get(AUTHORIZE, authorize_query(scope="everything"))
    assert response.status_code == 400


@pytest.mark.django_db
def test_authorize_allow_creates_user_and_redirects_with_code_and_state():
    response = consent("allow", name="bob")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert query["state"] == ["s-123"]
    code = MovesAuthCode.objects.get(code=query["code"][0])
    assert code.user.name == "bob"
    assert (local_today(code.user.time_zone) - code.user.first_date).days == 29
    assert code.user.last_date is None
    assert code.used_at is None


@pytest.mark.django_db
def test_authorize_allow_picks_an_existing_user_by_name():
    existing = testing.create_moves_user("carol")
    code = obtain_code(name="carol")
    assert MovesAuthCode.objects.get(code=code).user == existing
    assert SandboxMovesUser.objects.count() == 1


@pytest.mark.django_db
def test_authorize_deny_redirects_with_access_denied():
    response = consent("deny")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {"error": ["access_denied"], "state": ["s-123"]}
    assert MovesAuthCode.objects.count() == 0


@pytest.mark.django_db
def test_authorize_post_without_csrf_token_is_forbidden():
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(AUTHORIZE, dict(authorize_query(), decision="allow", name="bob"))
    assert response.status_code == 403
    assert MovesAuthCode.objects.count() == 0


@pytest.mark.django_db
def test_token_exchange_answers_the_real_reply_shape(client):
    code = obtain_code()
    response = exchange(client, code)
    body = response.json()
    assert response.status_code == 200
    assert sorted(body) == ["access_token", "expires_in", "refresh_token", "token_type", "user_id"]
    assert list(body) == ["access_token", "token_type", "expires_in", "refresh_token", "user_id"]
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15551998
    assert response.content.startswith(b'{"access_token":"')
    assert (response["Cache-Control"], response["Pragma"]) == ("no-store", "no-cache")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    user = SandboxMovesUser.objects.get(name="bob")
    assert body["user_id"] == user.moves_id
    stored = MovesToken.objects.get(access_token=body["access_token"])
    assert stored.user == user
    assert stored.refresh_token == body["refresh_token"]


@pytest.mark.django_db
def test_token_exchange_accepts_parameters_in_the_query_string(client):
    code = obtain_code()
    credentials = "client_id=test-moves-client&client_secret=test-moves-secret"
    query = f"?grant_type=authorization_code&code={code}&{credentials}"
    response = client.post(TOKEN + query)
    assert response.status_code == 200
    assert MovesToken.objects.filter(access_token=response.json()["access_token"]).exists()


@pytest.mark.django_db
def test_token_exchange_accepts_basic_auth(client):
    code = obtain_code()
    credentials = base64.b64encode(b"test-moves-client:test-moves-secret").decode()
    response = client.post(
        TOKEN,
        {"grant_type": "authorization_code", "code": code},
        HTTP_AUTHORIZATION=f"Basic {credentials}",
    )
    assert response.status_code == 200
    assert MovesToken.objects.count() == 1


@pytest.mark.django_db
def test_token_reused_code_is_invalid_grant(client):
    code = obtain_code()
    assert exchange(client, code).status_code == 200
    second = exchange(client, code)
    assert second.status_code == 400
    assert second.json() == {"error": "invalid_grant"}
    assert MovesToken.objects.count() == 1


@pytest.mark.django_db
def test_token_expired_code_is_invalid_grant(client):
    code = obtain_code()
    MovesAuthCode.objects.filter(code=code).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = exchange(client, code)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant"}


@pytest.mark.django_db
def test_token_unknown_code_is_invalid_grant(client):
    response = exchange(client, "no-such-code")
    assert response.json() == {"error": "invalid_grant"}


@pytest.mark.django_db
def test_token_other_redirect_uri_is_invalid_grant(client):
    code = obtain_code()
    response = exchange(client, code, redirect_uri="http://evil.example/")
    assert response.status_code == 400
    assert MovesToken.objects.count() == 0


@pytest.mark.django_db
def test_token_bad_secret_is_invalid_client(client):
    code = obtain_code()
    response = exchange(client, code, client_secret="wrong")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
    assert MovesAuthCode.objects.get(code=code).used_at is None


@pytest.mark.django_db
def test_token_unsupported_grant_is_400(client):
    response = exchange(client, "x", grant_type="password")
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


def refresh(client, refresh_token: str):
    return client.post(
        TOKEN,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": "test-moves-client",
            "client_secret": "test-moves-secret",
        },
    )


@pytest.mark.django_db
def test_refresh_rotates_and_retires_the_old_pair(client, moves_user):
    old_access, old_refresh = testing.issue_moves_tokens(moves_user)
    response = refresh(client, old_refresh)
    body = response.json()
    assert response.status_code == 200
    assert body["user_id"] == moves_user.moves_id
    assert body["refresh_token"] != old_refresh
    assert refresh(client, old_refresh).json() == {"error": "invalid_grant"}
    assert client.get(PROFILE, HTTP_AUTHORIZATION=f"Bearer {old_access}").status_code == 401
    assert client.get(PROFILE, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").status_code == 200
    assert refresh(client, body["refresh_token"]).status_code == 200


@pytest.mark.django_db
def test_refresh_expired_refresh_token_is_invalid_grant(client, moves_user):
    _, old_refresh = testing.issue_moves_tokens(moves_user)
    MovesToken.objects.update(refresh_expires_at=timezone.now() - timedelta(seconds=1))
    assert refresh(client, old_refresh).status_code == 400


@pytest.mark.django_db
def test_tokeninfo_describes_the_token(client, moves_user):
    access, _ = testing.issue_moves_tokens(moves_user)
    body = client.get(TOKENINFO, {"access_token": access}).json()
    assert body["client_id"] == "test-moves-client"
    assert body["user_id"] == moves_user.moves_id
    assert body["scope"] == "activity location"
    assert 15551990 <= body["expires_in"] <= 15551998


@pytest.mark.django_db
def test_tokeninfo_unknown_token_is_401(client):
    assert client.get(TOKENINFO, {"access_token": "nope"}).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_refresh_token_used_twice_at_once_works_only_once(moves_user):
    _, old_refresh = testing.issue_moves_tokens(moves_user)

    def use() -> bool:
        try:
            retire_refresh_token(MovesToken, old_refresh, "test-moves-client")
        except InvalidGrant:
            return False
        return True

    assert sorted(race(use, threads=4)) == [False, False, False, True]
