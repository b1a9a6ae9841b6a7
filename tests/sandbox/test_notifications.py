"""Moves storyline notifications: signed, batched per user, best effort, only for live authorisations."""

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from datetime import date, timedelta

import pytest
from django.utils import timezone

from sandbox import outbox, testing
from sandbox.models import Delivery, MovesToken, SandboxMovesUser, StorylineUpdate

CALLBACK = "http://app.test/webhooks/moves/storyline/"


@pytest.fixture(autouse=True)
def callback(settings):
    settings.SANDBOX_MOVES_NOTIFICATION_URL = CALLBACK
    settings.MOVES_CLIENT_SECRET = "test-moves-secret"
    return settings


@pytest.fixture
def user(db) -> SandboxMovesUser:
    user = testing.create_moves_user(
        "nora", first_date=date(2021, 1, 7), days=84, city="london", moves_id=27182818284590452
    )
    testing.issue_moves_tokens(user)
    return user


def expected_signature(body: bytes, timestamp: str, nonce: str) -> str:
    mac = hmac.new(b"test-moves-secret", body + timestamp.encode() + nonce.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@pytest.mark.django_db
def test_a_change_is_notified_signed_with_the_client_secret(user):
    update = testing.edit_day(user, date(2021, 2, 16))
    with testing.capture_deliveries() as captured:
        sent = testing.flush_notifications()
    [(url, body, headers)] = captured.posts
    assert url == CALLBACK
    assert json.loads(body) == {"userId": user.moves_id, "storylineUpdates": [update]}
    assert body.startswith(b'{"userId":%d,' % user.moves_id)
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Moves-Signature"] == expected_signature(
        body, headers["X-Moves-Timestamp"], headers["X-Moves-Nonce"]
    )
    assert abs(int(headers["X-Moves-Timestamp"]) - time.time()) < 5
    assert len(headers["X-Moves-Nonce"]) == 16
    assert [(d.status, d.outcome) for d in sent] == [(200, "")]


@pytest.mark.django_db
def test_an_update_names_its_span_in_utc(user):
    update = testing.edit_day(user, date(2021, 2, 16))
    assert list(update) == ["reason", "startTime", "endTime", "lastSegmentType", "lastSegmentStartTime"]
    assert update["startTime"].startswith("20210216T")
    assert update["startTime"].endswith("Z")
    assert update["startTime"] == update["lastSegmentStartTime"]
    assert update["startTime"] < update["endTime"]


@pytest.mark.django_db
def test_updates_within_the_batch_period_go_out_in_one_notification(user):
    first = testing.edit_day(user, date(2021, 2, 16))
    second = testing.rename_place(user, testing.places(user)[1].id, "Office")
    other = testing.create_moves_user(
        "otto", first_date=date(2021, 1, 7), days=84, moves_id=16180339887498948
    )
    testing.issue_moves_tokens(other)
    third = testing.edit_day(other, date(2021, 2, 17))
    with testing.capture_deliveries() as captured:
        testing.flush_notifications()
    bodies = [json.loads(body) for _, body, _ in captured.posts]
    assert bodies == [
        {"userId": user.moves_id, "storylineUpdates": [first, second]},
        {"userId": other.moves_id, "storylineUpdates": [third]},
    ]


@pytest.mark.django_db
def test_updates_wait_for_the_end_of_the_batch_period(user, callback):
    callback.SANDBOX_NOTIFICATION_BATCH_SECONDS = 30
    callback.RATE_LIMIT_TIME_SCALE = 10  # a batch period of 3 s
    testing.edit_day(user, date(2021, 2, 16))
    with testing.capture_deliveries() as captured:
        early = outbox.send_due()
        StorylineUpdate.objects.update(created=timezone.now() - timedelta(seconds=3))
        due = outbox.send_due()
    assert (early, len(due), len(captured.posts)) == ([], 1, 1)


@pytest.mark.django_db
def test_the_next_n_notifications_are_dropped(user):
    testing.drop_notifications(1)
    testing.edit_day(user, date(2021, 2, 16))
    with testing.capture_deliveries() as captured:
        dropped = testing.flush_notifications()
        testing.edit_day(user, date(2021, 2, 17))
        sent = testing.flush_notifications()
    assert [(d.status, d.outcome) for d in dropped] == [(None, "dropped")]
    assert [(d.status, d.outcome) for d in sent] == [(200, "")]
    assert len(captured.posts) == 1
    assert json.loads(captured.posts[0][1])["storylineUpdates"][0]["startTime"].startswith("20210217")


@pytest.mark.django_db
def test_no_notification_without_a_live_authorization(user):
    MovesToken.objects.update(expires_at=timezone.now() - timedelta(days=1))
    testing.edit_day(user, date(2021, 2, 16))
    with testing.capture_deliveries() as captured:
        expired_but_live = testing.flush_notifications()
        testing.revoke_moves_tokens(user)
        testing.edit_day(user, date(2021, 2, 17))
        revoked = testing.flush_notifications()
    assert [d.status for d in expired_but_live] == [200]
    assert [(d.status, d.outcome) for d in revoked] == [(None, "no live authorization")]
    assert len(captured.posts) == 1


@pytest.mark.django_db
def test_a_failed_notification_is_discarded_not_retried(user):
    testing.edit_day(user, date(2021, 2, 16))
    with testing.capture_deliveries(answer=503) as captured:
        failed = testing.flush_notifications()
        again = testing.flush_notifications()
    assert [(d.status, d.outcome) for d in failed] == [(503, "answered 503, discarded")]
    assert again == []
    assert len(captured.posts) == 1


class Receiver(http.server.BaseHTTPRequestHandler):
    """The app's callback, for the tests that need real HTTP: records posts, answers as told."""

    seen: list[tuple[str, bytes]] = []
    delay = 0.0
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.seen.append((self.path, body))
        time.sleep(Receiver.delay)
        self.send_response(Receiver.status)
        if Receiver.status == 302:
            self.send_header("Location", "/elsewhere/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(callback):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.seen, Receiver.delay, Receiver.status = [], 0.0, 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    callback.SANDBOX_MOVES_NOTIFICATION_URL = f"http://127.0.0.1:{server.server_address[1]}/moves/"
    yield Receiver
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_a_notification_over_http_is_received(user, receiver):
    testing.edit_day(user, date(2021, 2, 16))
    [delivery] = testing.flush_notifications()
    assert (delivery.status, len(receiver.seen), receiver.seen[0][0]) == (200, 1, "/moves/")


@pytest.mark.django_db
def test_redirects_are_not_followed(user, receiver):
    receiver.status = 302
    testing.edit_day(user, date(2021, 2, 16))
    [delivery] = testing.flush_notifications()
    assert (delivery.status, delivery.outcome) == (302, "answered 302, discarded")
    assert [path for path, _ in receiver.seen] == ["/moves/"]


@pytest.mark.django_db
def test_a_slow_callback_times_out(user, receiver, monkeypatch):
    assert outbox.NOTIFICATION_TIMEOUT_SECONDS == 3.0
    # Three seconds, shortened: the test should not wait for the real timeout.
    monkeypatch.setattr(outbox, "NOTIFICATION_TIMEOUT_SECONDS", 0.2)
    receiver.delay = 0.6
    testing.edit_day(user, date(2021, 2, 16))
    [delivery] = testing.flush_notifications()
    assert (delivery.status, delivery.outcome) == (None, "timeout")


@pytest.mark.django_db(transaction=True)
def test_the_sender_thread_sends_what_is_due(user, callback):
    callback.SANDBOX_NOTIFICATION_BATCH_SECONDS = 0
    testing.edit_day(user, date(2021, 2, 16))
    with testing.capture_deliveries() as captured:
        sender = outbox.start_sender(interval=0.05)
        deadline = time.monotonic() + 5
        while not captured.posts and time.monotonic() < deadline:
            time.sleep(0.05)
        sender.stop()
    assert len(captured.posts) == 1
    assert Delivery.objects.get().status == 200
