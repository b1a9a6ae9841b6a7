"""The deauthorisation webhook: signed requests only, tokens gone, erasure on request, safe to replay."""

import hashlib
import hmac
import json

import pytest
from django.contrib.auth import get_user_model

from datauploader.worklog import DayLog
from main.models import MovesMember, RecentDay
from open_humans.models import OpenHumansMember

URL = "/webhooks/open-humans/deauthorize/"
SECRET = "test-webhook-secret-0123456789"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def body_for(oh_id: str, erasure: bool) -> bytes:
    payload = {
        "project_member_id": oh_id,
        "erasure_requested": erasure,
        "timestamp": "2024-05-01T12:00:00+00:00",
    }
    return json.dumps(payload).encode()


def deliver(client, body: bytes, signature: str | None):
    headers = {"HTTP_X_OPENHUMANS_WEBHOOKS_SIGNATURE": signature} if signature is not None else {}
    return client.post(URL, body, content_type="application/json", **headers)


@pytest.fixture
def member(make_member, settings) -> MovesMember:
    settings.OH_WEBHOOK_SECRET = SECRET
    moves = make_member(oh_id="12345678")
    RecentDay.objects.create(moves_member=moves, date="2024-05-01", steps=1)
    return moves


def assert_untouched(member: MovesMember) -> None:
    member.refresh_from_db()
    member.member.refresh_from_db()
    assert member.refresh_token == "moves-refresh-12345678"
    assert member.member.refresh_token == "oh-refresh-12345678"
    assert RecentDay.objects.count() == 1


def test_webhook_with_valid_signature_removes_tokens(client, member):
    body = body_for("12345678", erasure=False)

    response = deliver(client, body, sign(body))

    assert response.status_code == 200
    member.refresh_from_db()
    oh_member = OpenHumansMember.objects.get(oh_id="12345678")
    assert (oh_member.access_token, oh_member.refresh_token, oh_member.needs_reconnect) == ("", "", True)
    assert (member.access_token, member.refresh_token) == ("", "")
    assert member.status == MovesMember.Status.NEEDS_RECONNECT
    assert RecentDay.objects.count() == 1


def test_webhook_with_erasure_deletes_stored_data(client, member):
    body = body_for("12345678", erasure=True)

    response = deliver(client, body, sign(body))

    assert response.status_code == 200
    assert OpenHumansMember.objects.count() == 0
    assert MovesMember.objects.count() == 0
    assert RecentDay.objects.count() == 0
    assert get_user_model().objects.filter(username="oh-12345678").count() == 0


def test_webhook_without_signature_is_refused(client, member):
    response = deliver(client, body_for("12345678", erasure=True), None)

    assert response.status_code == 403
    assert_untouched(member)


def test_webhook_with_wrong_signature_is_refused(client, member):
    body = body_for("12345678", erasure=True)

    response = deliver(client, body, sign(body, secret="not-the-secret-at-all"))

    assert response.status_code == 403
    assert_untouched(member)


def test_webhook_signed_for_another_body_is_refused(client, member):
    signed = body_for("99999999", erasure=False)

    response = deliver(client, body_for("12345678", erasure=True), sign(signed))

    assert response.status_code == 403
    assert_untouched(member)


def test_webhook_without_a_configured_secret_refuses_everything(client, member, settings):
    settings.OH_WEBHOOK_SECRET = ""
    body = body_for("12345678", erasure=True)

    response = deliver(client, body, "sha1=" + hmac.new(b"", body, hashlib.sha1).hexdigest())

    assert response.status_code == 403
    assert_untouched(member)


def test_webhook_accepts_the_double_encoded_retry(client, member):
    body = json.dumps(body_for("12345678", erasure=True).decode()).encode()

    response = deliver(client, body, sign(body))

    assert response.status_code == 200
    assert OpenHumansMember.objects.count() == 0


def test_webhook_replay_is_harmless(client, member):
    body = body_for("12345678", erasure=False)
    deliver(client, body, sign(body))
    member.refresh_from_db()
    first_state = (member.status, member.last_error_at)

    response = deliver(client, body, sign(body))

    assert response.status_code == 200
    assert response.content == b"already-forgotten"
    member.refresh_from_db()
    assert (member.status, member.last_error_at) == first_state


def test_webhook_erasure_replay_is_harmless(client, member):
    body = body_for("12345678", erasure=True)
    deliver(client, body, sign(body))

    response = deliver(client, body, sign(body))

    assert response.status_code == 200
    assert response.content == b"unknown"


def test_webhook_rejects_a_malformed_body(client, member):
    body = b'{"erasure_requested": true}'

    response = deliver(client, body, sign(body))

    assert response.status_code == 400
    assert_untouched(member)


def test_webhook_does_not_need_csrf(member):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    body = body_for("12345678", erasure=False)

    assert deliver(client, body, sign(body)).status_code == 200


@pytest.mark.parametrize("erasure", [False, True])
def test_webhook_has_the_worker_delete_its_copy_of_the_history(
    client, member, erasure, django_capture_on_commit_callbacks
):
    history = DayLog.for_member("12345678")
    history.append([{"date": "20240501", "summary": None, "segments": None}])
    history.commit()
    body = body_for("12345678", erasure=erasure)

    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, body, sign(body))

    assert not history.directory.exists()


def test_a_forged_webhook_leaves_the_workers_copy(client, member, django_capture_on_commit_callbacks):
    history = DayLog.for_member("12345678")
    body = body_for("12345678", erasure=True)

    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, body, sign(body, secret="wrong-secret"))

    assert history.directory.exists()
