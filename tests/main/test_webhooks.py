"""The two webhooks, fed what the stand-ins send: Moves' storyline notifications, Open Humans' departures.

The valid inputs are the stand-ins' own signed deliveries (captured instead
of sent over HTTP); forged, stale, replayed and malformed ones are made from
them. Every refusal is answered with a plain status and one log line, and
changes nothing.
"""

import json
import logging
import time
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from apiclients.oauth import TokenGrant
from apiclients.openhumans import ExchangeMember
from core import accounts, deliveries
from core.models import MovesMember, PendingWeek, Priority, RecentDay, WebhookDelivery
from open_humans.models import OpenHumansMember
from sandbox import testing
from sandbox.outbox import moves_signature, webhook_signature
from sandbox.storyline import CannotChange
from tests.connected import refusing_requests

MOVES_URL = "/webhooks/moves/storyline/"
OH_URL = "/webhooks/open-humans/deauthorize/"


@dataclass(frozen=True)
class Post:
    """A POST as a stand-in made it: body and headers."""

    body: bytes
    headers: dict[str, str]

    def send(self, client: Client, url: str):
        headers = {name: value for name, value in self.headers.items() if name.lower() != "content-type"}
        return client.post(url, data=self.body, content_type="application/json", headers=headers)

    def without(self, name: str) -> "Post":
        return replace(self, headers={key: value for key, value in self.headers.items() if key != name})

    def with_headers(self, **changed: str) -> "Post":
        return replace(
            self, headers={**self.headers, **{key.replace("_", "-"): v for key, v in changed.items()}}
        )


def captured_posts(answer: int = 200) -> list[Post]:
    """Send what the stand-ins have queued for the app; returns the POSTs instead of delivering them."""
    with testing.capture_deliveries(answer) as captured:
        testing.flush_notifications()
    return [Post(body, headers) for _, body, headers in captured.posts]


def snapshot() -> tuple:
    """Everything a webhook could change."""
    return (
        list(MovesMember.objects.order_by("pk").values()),
        list(OpenHumansMember.objects.order_by("pk").values()),
        list(PendingWeek.objects.order_by("pk").values_list("moves_member_id", "monday")),
        list(RecentDay.objects.order_by("pk").values_list("pk", flat=True)),
        WebhookDelivery.objects.count(),
        get_user_model().objects.count(),
    )


@pytest.fixture
def view_log(caplog) -> list[str]:
    """The lines the webhook views log, as they would be written."""
    caplog.set_level(logging.INFO, logger="main.views")

    class Lines(list):
        def read(self) -> list[str]:
            return [record.getMessage() for record in caplog.records if record.name == "main.views"]

    return Lines()


def secrets_in(lines: list[str], *more: str) -> list[str]:
    secrets = [django_settings.MOVES_CLIENT_SECRET, django_settings.OH_WEBHOOK_SECRET, *more]
    return [secret for secret in secrets if any(secret in line for line in lines)]


# --- Moves: storyline notifications ---------------------------------------------------------------


@dataclass
class Notified:
    user: object
    member: MovesMember
    edited: date
    post: Post


@pytest.fixture
def notified(make_member) -> Notified:
    """A member of ours whose Moves user edited a day a month ago, and the stand-in's notification of it."""
    user = testing.create_moves_user("walker", days=90)
    testing.issue_moves_tokens(user)
    member = make_member(
        moves_id=user.moves_id,
        first_date=user.first_date,
        time_zone=user.time_zone,
        status=MovesMember.Status.CURRENT,
        sync_priority=Priority.BACKFILL,
    )
    for back in range(30, 60):
        edited = timezone.now().date() - timedelta(days=back)
        try:
            testing.edit_day(user, edited)
            break
        except CannotChange:
            continue
    [post] = captured_posts()
    return Notified(user=user, member=member, edited=edited, post=post)


def resigned(
    post: Post, body: bytes | None = None, timestamp: str | None = None, secret: str | None = None
) -> Post:
    """The notification with a new body or timestamp, signed again as Moves would (or with another secret)."""
    body = post.body if body is None else body
    timestamp = post.headers["X-Moves-Timestamp"] if timestamp is None else timestamp
    nonce = post.headers["X-Moves-Nonce"]
    signature = moves_signature(body, timestamp, nonce, secret)
    return Post(body, {**post.headers, "X-Moves-Timestamp": timestamp, "X-Moves-Signature": signature})


def test_a_signed_notification_records_the_weeks_and_answers_at_once(notified, client, view_log):
    with refusing_requests() as tried:
        started = time.perf_counter()
        answer = notified.post.send(client, MOVES_URL)
        elapsed = time.perf_counter() - started

    assert (answer.status_code, answer.content) == (200, b"ok")
    assert elapsed < 1.0
    assert tried == []
    monday = notified.edited - timedelta(days=notified.edited.weekday())
    member = MovesMember.objects.get(pk=notified.member.pk)
    assert list(PendingWeek.objects.values_list("moves_member_id", "monday")) == [(member.pk, monday)]
    assert (member.sync_priority, member.requests_wanted, member.last_notified_at is not None) == (
        Priority.UPDATE,
        1,
        True,
    )
    assert view_log.read() == ["Moves notification (DataUpload): 1 weeks to fetch again"]


def test_the_notification_is_the_documented_shape(notified):
    payload = json.loads(notified.post.body)

    assert (payload["userId"], [update["reason"] for update in payload["storylineUpdates"]]) == (
        notified.user.moves_id,
        ["DataUpload"],
    )
    assert set(notified.post.headers) == {
        "Content-Type",
        "X-Moves-Signature",
        "X-Moves-Timestamp",
        "X-Moves-Nonce",
    }


def test_a_repeated_nonce_is_answered_and_ignored(notified, client, view_log):
    notified.post.send(client, MOVES_URL)
    after_first = snapshot()

    answer = notified.post.send(client, MOVES_URL)

    assert (answer.status_code, answer.content) == (200, b"already handled")
    assert snapshot() == after_first
    assert view_log.read()[-1] == "Moves notification with a nonce seen before; ignored"


def refused_moves(client: Client, post: Post) -> tuple[int, bytes]:
    answer = post.send(client, MOVES_URL)
    return answer.status_code, answer.content


def test_a_forged_signature_is_refused(notified, client, view_log):
    before = snapshot()

    assert refused_moves(client, resigned(notified.post, secret="not-the-client-secret")) == (
        403,
        b"invalid signature",
    )

    assert snapshot() == before
    assert view_log.read() == ["Moves notification refused: invalid signature"]


def test_a_body_changed_after_signing_is_refused(notified, client):
    payload = json.loads(notified.post.body)
    payload["storylineUpdates"][0]["startTime"] = "20100101T000000Z"
    before = snapshot()

    status = refused_moves(client, Post(json.dumps(payload).encode(), notified.post.headers))

    assert (status, snapshot()) == ((403, b"invalid signature"), before)


def test_a_signature_that_is_not_base64_is_refused(notified, client):
    assert refused_moves(client, notified.post.with_headers(X_Moves_Signature="%%%not base64%%%")) == (
        403,
        b"invalid signature",
    )


def test_a_forged_copy_does_not_spend_the_nonce_of_the_real_one(notified, client):
    refused_moves(client, resigned(notified.post, secret="not-the-client-secret"))

    answer = notified.post.send(client, MOVES_URL)

    assert (answer.status_code, PendingWeek.objects.count()) == (200, 1)


@pytest.mark.parametrize("header", ["X-Moves-Signature", "X-Moves-Timestamp", "X-Moves-Nonce"])
def test_a_notification_without_its_headers_is_refused(notified, client, view_log, header):
    before = snapshot()

    assert refused_moves(client, notified.post.without(header)) == (
        403,
        b"signature, timestamp or nonce header missing",
    )

    assert snapshot() == before
    assert view_log.read() == ["Moves notification refused: signature, timestamp or nonce header missing"]


@pytest.mark.parametrize("offset", [-16 * 60, 16 * 60], ids=["stale", "future"])
def test_a_notification_signed_too_long_ago_or_ahead_is_refused(notified, client, view_log, offset):
    timestamp = str(int(notified.post.headers["X-Moves-Timestamp"]) + offset)
    before = snapshot()

    assert refused_moves(client, resigned(notified.post, timestamp=timestamp)) == (
        403,
        b"timestamp too old or in the future",
    )

    assert snapshot() == before
    assert view_log.read() == ["Moves notification refused: timestamp too old or in the future"]


def test_a_replay_after_the_accepted_age_is_refused(notified, client):
    notified.post.send(client, MOVES_URL)
    after_first = snapshot()

    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        deliveries.forget_old_deliveries()
        assert refused_moves(client, notified.post) == (403, b"timestamp too old or in the future")

    assert snapshot() == after_first


def test_a_timestamp_that_is_not_a_number_is_refused(notified, client):
    assert refused_moves(client, resigned(notified.post, timestamp="yesterday")) == (
        403,
        b"timestamp is not a number",
    )


MALFORMED = {
    "not JSON": (b"userId=1", b"body is not JSON"),
    "not an object": (b"[1, 2]", b"body is not an object"),
    "no userId": (b'{"storylineUpdates": []}', b"userId is missing or not a 64-bit number"),
    "userId as text": (
        b'{"userId": "12", "storylineUpdates": [{}]}',
        b"userId is missing or not a 64-bit number",
    ),
    "userId true": (
        b'{"userId": true, "storylineUpdates": [{}]}',
        b"userId is missing or not a 64-bit number",
    ),
    "userId past 64 bits": (
        b'{"userId": 18446744073709551616, "storylineUpdates": [{}]}',
        b"userId is missing or not a 64-bit number",
    ),
    "no updates": (
        b'{"userId": 12, "storylineUpdates": []}',
        b"storylineUpdates is missing, empty or too long",
    ),
    "updates not a list": (
        b'{"userId": 12, "storylineUpdates": {"a": 1}}',
        b"storylineUpdates is missing, empty or too long",
    ),
    "too many updates": (
        json.dumps(
            {"userId": 12, "storylineUpdates": [{"startTime": "20240101T000000Z"}] * 1001},
            separators=(",", ":"),
        ).encode(),
        b"storylineUpdates is missing, empty or too long",
    ),
    "an update not an object": (
        b'{"userId": 12, "storylineUpdates": [7]}',
        b"a storyline update is not an object",
    ),
    "an update without times": (
        b'{"userId": 12, "storylineUpdates": [{"reason": "DataUpload"}]}',
        b"a storyline update lacks a valid startTime or endTime",
    ),
    "an update with ISO times": (
        b'{"userId": 12, "storylineUpdates": [{"startTime": "2024-01-01T00:00:00Z", "endTime": "x"}]}',
        b"a storyline update lacks a valid startTime or endTime",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_notification_is_refused(notified, client, view_log, case):
    body, reason = MALFORMED[case]
    before = snapshot()

    answer = resigned(notified.post, body=body).send(client, MOVES_URL)

    assert (answer.status_code, answer.content) == (400, reason)
    assert snapshot() == before
    assert view_log.read() == [f"Moves notification refused: {reason.decode()}"]


def test_a_deeply_nested_body_within_the_size_limit_is_refused(notified, client):
    body = b'{"userId": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"

    assert refused_moves(client, resigned(notified.post, body=body)) == (400, b"body is not JSON")


@pytest.mark.parametrize("size", [64 * 1024 + 1, 5 * 1024 * 1024], ids=["just over", "megabytes"])
def test_a_huge_notification_is_refused_unread(notified, client, view_log, size):
    body = b'{"userId": 1, "pad": "' + b"x" * size + b'"}'
    before = snapshot()

    assert refused_moves(client, resigned(notified.post, body=body)) == (413, b"body too large")

    assert snapshot() == before
    assert view_log.read() == ["Moves notification refused: body too large"]


def test_a_notification_for_a_user_we_do_not_hold_is_ignored(notified, client, view_log):
    MovesMember.objects.filter(pk=notified.member.pk).update(moves_id=notified.user.moves_id + 1)
    before = snapshot()

    answer = notified.post.send(client, MOVES_URL)

    assert (answer.status_code, answer.content) == (200, b"unknown user, ignored")
    assert snapshot()[:4] == before[:4]
    assert view_log.read() == ["Moves notification for a user we do not hold; ignored"]


def test_a_notification_for_a_member_who_must_reconnect_is_ignored(notified, client):
    notified.member.require_reconnect("Moves", "Moves refused the refresh token.")

    answer = notified.post.send(client, MOVES_URL)

    assert (answer.status_code, PendingWeek.objects.count()) == (200, 0)


def test_notifications_need_post_and_no_csrf_token(notified):
    client = Client(enforce_csrf_checks=True)

    assert (client.get(MOVES_URL).status_code, notified.post.send(client, MOVES_URL).status_code) == (
        405,
        200,
    )


def test_no_moves_log_line_holds_a_secret(notified, client, view_log):
    posts = [
        notified.post,
        notified.post,
        resigned(notified.post, secret="other"),
        resigned(notified.post, timestamp="1"),
        resigned(notified.post, body=b"[]"),
    ]
    for post in posts:
        post.send(client, MOVES_URL)

    lines = view_log.read()
    assert len(lines) == len(posts)
    assert secrets_in(lines, *(post.headers["X-Moves-Signature"] for post in posts)) == []


# --- Open Humans: a member left the project --------------------------------------------------------


@dataclass
class Leaving:
    oh: object
    member: MovesMember


@pytest.fixture
def leaving(make_member) -> Leaving:
    """A member of ours, signed in yesterday, about to leave the project at the stand-in."""
    oh = testing.create_oh_member("leaver")
    member = make_member(oh.project_member_id, status=MovesMember.Status.CURRENT)
    OpenHumansMember.objects.filter(pk=member.member_id).update(
        signed_in_at=timezone.now() - timedelta(days=1)
    )
    RecentDay.objects.create(moves_member=member, date=date(2024, 5, 1), steps=1)
    return Leaving(oh=oh, member=member)


def leave(leaving: Leaving, erasure: bool = False, answer: int = 200) -> list[Post]:
    testing.member_leaves(leaving.oh, erasure_requested=erasure)
    return captured_posts(answer)


def refused_oh(client: Client, post: Post) -> tuple[int, bytes]:
    answer = post.send(client, OH_URL)
    return answer.status_code, answer.content


def sign_in_again(leaving: Leaving) -> None:
    remote = ExchangeMember(project_member_id=leaving.oh.project_member_id, username="leaver", files=[])
    accounts.sign_in(TokenGrant("oh-access-again", "oh-refresh-again", 36000), remote)


def test_a_signed_departure_removes_the_tokens(leaving, client, view_log):
    [post] = leave(leaving)

    with refusing_requests() as tried:
        answer = post.send(client, OH_URL)

    assert (answer.status_code, answer.content, tried) == (200, b"tokens-removed", [])
    oh_member = OpenHumansMember.objects.get(pk=leaving.member.member_id)
    moves = MovesMember.objects.get(pk=leaving.member.pk)
    assert (oh_member.refresh_token, oh_member.needs_reconnect, moves.refresh_token, moves.status) == (
        "",
        True,
        "",
        MovesMember.Status.NEEDS_RECONNECT,
    )
    assert RecentDay.objects.count() == 1
    assert view_log.read() == [f"Open Humans webhook for {leaving.oh.project_member_id}: tokens-removed"]


def test_a_signed_departure_asking_for_erasure_deletes_everything(leaving, client):
    [post] = leave(leaving, erasure=True)

    answer = post.send(client, OH_URL)

    assert (answer.status_code, answer.content) == (200, b"erased")
    assert [OpenHumansMember.objects.count(), MovesMember.objects.count(), RecentDay.objects.count()] == [
        0,
        0,
        0,
    ]
    assert get_user_model().objects.filter(username=f"oh-{leaving.oh.project_member_id}").exists() is False


def test_the_departure_is_the_documented_shape(leaving):
    [post] = leave(leaving, erasure=True)

    assert set(json.loads(post.body)) == {"project_member_id", "erasure_requested", "timestamp"}
    assert post.headers["X-OpenHumans-Webhooks-Signature"] == webhook_signature(post.body)


@pytest.mark.parametrize(
    "forge",
    [
        lambda post: post.without("X-OpenHumans-Webhooks-Signature"),
        lambda post: post.with_headers(
            X_OpenHumans_Webhooks_Signature=webhook_signature(post.body, "not-it")
        ),
        lambda post: post.with_headers(X_OpenHumans_Webhooks_Signature="md5=" + "0" * 32),
        lambda post: Post(post.body.replace(b"false", b"true"), post.headers),
    ],
    ids=["missing", "wrong secret", "not sha1", "signed for another body"],
)
def test_a_departure_without_a_valid_signature_is_refused(leaving, client, view_log, forge):
    [post] = leave(leaving)
    before = snapshot()

    assert refused_oh(client, forge(post)) == (403, b"invalid signature")

    assert snapshot() == before
    assert view_log.read() == ["Open Humans webhook refused: bad or missing signature"]


def test_without_a_configured_secret_every_departure_is_refused(leaving, client, settings):
    [post] = leave(leaving)
    settings.OH_WEBHOOK_SECRET = ""
    before = snapshot()

    forged = post.with_headers(X_OpenHumans_Webhooks_Signature=webhook_signature(post.body, ""))

    assert (refused_oh(client, post), refused_oh(client, forged)) == ((403, b"invalid signature"),) * 2
    assert snapshot() == before


def test_the_unsigned_double_encoded_second_attempt_is_refused(leaving, client):
    first, second = leave(leaving, erasure=True, answer=500)
    before = snapshot()

    assert ("X-OpenHumans-Webhooks-Signature" in second.headers, json.loads(json.loads(second.body))) == (
        False,
        json.loads(first.body),
    )
    assert refused_oh(client, second) == (403, b"invalid signature")
    assert snapshot() == before


SIGNED_MALFORMED = {
    "not JSON": (b"project_member_id=1", b"body is not JSON"),
    "not an object": (b'["12345678"]', b"body is not an object"),
    "no member id": (b'{"erasure_requested": true}', b"project_member_id is missing or not a member id"),
    "member id not digits": (
        b'{"project_member_id": "../1"}',
        b"project_member_id is missing or not a member id",
    ),
    "member id true": (b'{"project_member_id": true}', b"project_member_id is missing or not a member id"),
}


@pytest.mark.parametrize("case", list(SIGNED_MALFORMED))
def test_a_signed_but_malformed_departure_is_refused(leaving, client, view_log, case):
    body, reason = SIGNED_MALFORMED[case]
    before = snapshot()
    post = Post(body, {"X-OpenHumans-Webhooks-Signature": webhook_signature(body)})

    assert refused_oh(client, post) == (400, reason)

    assert snapshot() == before
    assert view_log.read() == [f"Open Humans webhook refused: {reason.decode()}"]


def test_a_processed_departure_replayed_is_answered_and_ignored(leaving, client, view_log):
    [post] = leave(leaving)
    post.send(client, OH_URL)
    after_first = snapshot()

    answer = post.send(client, OH_URL)

    assert (answer.status_code, answer.content) == (200, b"already handled")
    assert snapshot() == after_first
    assert (
        view_log.read()[-1]
        == f"Open Humans webhook for {leaving.oh.project_member_id} already handled; ignored"
    )


def test_a_captured_departure_replayed_after_the_member_signed_in_again_changes_nothing(leaving, client):
    [post] = leave(leaving)
    post.send(client, OH_URL)
    sign_in_again(leaving)
    signed_in = snapshot()

    answer = post.send(client, OH_URL)

    assert (answer.status_code, snapshot()) == (200, signed_in)
    assert OpenHumansMember.objects.get(pk=leaving.member.member_id).refresh_token == "oh-refresh-again"


def test_a_captured_departure_replayed_once_its_digest_is_forgotten_is_stale(leaving, client, view_log):
    [post] = leave(leaving)
    post.send(client, OH_URL)
    sign_in_again(leaving)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        deliveries.forget_old_deliveries()
        signed_in = snapshot()

        answer = post.send(client, OH_URL)

    assert (answer.status_code, answer.content) == (200, b"stale")
    # Nothing changed but the delivery now remembered again.
    assert snapshot()[:4] == signed_in[:4]
    assert view_log.read()[-1] == f"Open Humans webhook for {leaving.oh.project_member_id}: stale"


def test_an_erasure_captured_before_the_member_signed_in_again_erases_nothing(leaving, client):
    # The delivery never reached us (or was held back); someone replays it after the member came back.
    [post] = leave(leaving, erasure=True)
    sign_in_again(leaving)
    signed_in = snapshot()

    answer = post.send(client, OH_URL)

    assert (answer.status_code, answer.content) == (200, b"stale")
    assert snapshot()[:2] == signed_in[:2]
    assert (OpenHumansMember.objects.count(), MovesMember.objects.count(), RecentDay.objects.count()) == (
        1,
        1,
        1,
    )


def test_a_departure_of_someone_we_do_not_hold_is_answered(leaving, client):
    OpenHumansMember.objects.filter(pk=leaving.member.member_id).update(oh_id="99999999")
    [post] = leave(leaving)

    assert refused_oh(client, post) == (200, b"unknown")


def test_departures_need_post_and_no_csrf_token(leaving):
    [post] = leave(leaving)
    client = Client(enforce_csrf_checks=True)

    assert (client.get(OH_URL).status_code, post.send(client, OH_URL).status_code) == (405, 200)


def test_no_open_humans_log_line_holds_a_secret(leaving, client, view_log):
    [post] = leave(leaving)
    forged = post.with_headers(X_OpenHumans_Webhooks_Signature=webhook_signature(post.body, "not-it"))
    for each in (
        post,
        post,
        forged,
        Post(b"[]", {"X-OpenHumans-Webhooks-Signature": webhook_signature(b"[]")}),
    ):
        each.send(client, OH_URL)

    lines = view_log.read()
    assert len(lines) == 4
    assert secrets_in(lines, post.headers["X-OpenHumans-Webhooks-Signature"].removeprefix("sha1=")) == []


@pytest.mark.parametrize("erasure", [False, True], ids=["tokens removed", "erased"])
def test_a_departure_has_the_worker_delete_its_copy_of_the_history(
    leaving, client, work_dir, django_capture_on_commit_callbacks, erasure
):
    local_copy = work_dir / leaving.oh.project_member_id
    local_copy.mkdir(parents=True)
    (local_copy / "state.json").write_text("{}")
    [post] = leave(leaving, erasure=erasure)

    with django_capture_on_commit_callbacks(execute=True):
        post.send(client, OH_URL)

    assert local_copy.exists() is False


def test_a_forged_departure_leaves_the_workers_copy(
    leaving, client, work_dir, django_capture_on_commit_callbacks
):
    local_copy = work_dir / leaving.oh.project_member_id
    local_copy.mkdir(parents=True)
    [post] = leave(leaving, erasure=True)
    forged = post.with_headers(X_OpenHumans_Webhooks_Signature=webhook_signature(post.body, "not-it"))

    with django_capture_on_commit_callbacks(execute=True):
        forged.send(client, OH_URL)

    assert local_copy.exists() is True
