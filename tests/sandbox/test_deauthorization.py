"""A member leaves: tokens revoked, then Open Humans' deauthorisation webhook, as its source sends it."""

import hashlib
import hmac
import json
from datetime import datetime

import pytest

from sandbox import testing
from sandbox.models import Delivery, SandboxFile

WEBHOOK = "http://app.test/webhooks/open-humans/deauthorize/"


@pytest.fixture(autouse=True)
def webhook(settings):
    settings.SANDBOX_OH_WEBHOOK_URL = WEBHOOK
    settings.OH_WEBHOOK_SECRET = "test-webhook-secret-0123456789"
    return settings


def signature(body: bytes) -> str:
    return "sha1=" + hmac.new(b"test-webhook-secret-0123456789", body, hashlib.sha1).hexdigest()


@pytest.mark.django_db
def test_leaving_sends_a_signed_webhook_after_revoking_the_tokens(client, oh_member, oh_access):
    revoked = testing.member_leaves(oh_member, erasure_requested=True)
    with testing.capture_deliveries() as captured:
        testing.flush_notifications()
    [(url, body, headers)] = captured.posts
    payload = json.loads(body)
    assert revoked == 1
    assert url == WEBHOOK
    assert list(payload) == ["project_member_id", "erasure_requested", "timestamp"]
    assert (payload["project_member_id"], payload["erasure_requested"]) == (oh_member.project_member_id, True)
    assert datetime.fromisoformat(payload["timestamp"]).utcoffset().total_seconds() == 0
    assert payload["timestamp"].endswith("+00:00")
    # json.dumps' default form, as Open Humans writes it.
    assert body.startswith(b'{"project_member_id": "')
    assert headers == {"Content-Type": "application/json", "X-OpenHumans-Webhooks-Signature": signature(body)}


@pytest.mark.django_db
def test_a_webhook_that_is_not_answered_2xx_is_sent_again_double_encoded_and_unsigned(oh_member):
    testing.member_leaves(oh_member)
    with testing.capture_deliveries(
        answer=lambda url, body, headers: 200 if body.startswith(b'"') else 400
    ) as captured:
        sent = testing.flush_notifications()
    (_, first, _), (_, second, second_headers) = captured.posts
    assert json.loads(json.loads(second)) == json.loads(first)
    assert json.loads(first)["erasure_requested"] is False
    assert second_headers == {"Content-Type": "application/json"}
    assert [d.status for d in sent] == [400, 200]


@pytest.mark.django_db
def test_a_webhook_answered_2xx_is_sent_once(oh_member):
    testing.member_leaves(oh_member)
    with testing.capture_deliveries(answer=204) as captured:
        testing.flush_notifications()
        testing.flush_notifications()
    assert len(captured.posts) == 1


@pytest.mark.django_db
def test_without_a_secret_the_webhook_is_unsigned(oh_member, webhook):
    webhook.OH_WEBHOOK_SECRET = ""
    testing.member_leaves(oh_member)
    with testing.capture_deliveries() as captured:
        testing.flush_notifications()
    assert captured.posts[0][2] == {"Content-Type": "application/json"}


@pytest.mark.django_db
def test_leaving_may_remove_the_projects_files(client, oh_member, oh_access):
    from tests.sandbox.test_oh_api import upload

    upload(client, oh_member, oh_access)
    other = testing.share_other_source(oh_member)
    testing.member_leaves(oh_member, remove_files=True)
    assert list(SandboxFile.objects.all()) == [other]


@pytest.mark.django_db
def test_a_member_who_left_gets_no_new_tokens(client, oh_member):
    _, refresh = testing.issue_oh_tokens(oh_member)
    testing.member_leaves(oh_member)
    response = client.post(
        "/oauth2/token/",
        {"grant_type": "refresh_token", "refresh_token": refresh},
        HTTP_AUTHORIZATION="Basic dGVzdC1vaC1jbGllbnQ6dGVzdC1vaC1zZWNyZXQ=",
    )
    assert (response.status_code, response.json()) == (400, {"error": "invalid_grant"})
    assert Delivery.objects.count() == 0
