import json
import time

import pytest

from sandbox import faults, testing
from sandbox.models import Fault
from tests.sandbox.concurrency import race

PROFILE = "/api/1.1/user/profile"
STORYLINE = "/api/1.1/user/storyline/daily?pastDays=3"
EXCHANGE = "/api/direct-sharing/project/exchange-member/"


def call(client, token: str, path: str = PROFILE):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.django_db
def test_status_fault_fails_exactly_the_next_n_calls(client, moves_access):
    testing.add_fault("moves.profile", status=503, count=2)
    statuses = [call(client, moves_access).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert Fault.objects.get().remaining == 0


@pytest.mark.django_db
def test_fault_affects_only_its_endpoint(client, moves_access, oh_access):
    testing.add_fault("oh.exchange_member", status=500)
    assert call(client, moves_access).status_code == 200
    assert client.get(EXCHANGE, HTTP_AUTHORIZATION=f"Bearer {oh_access}").status_code == 500
    assert client.get(EXCHANGE, HTTP_AUTHORIZATION=f"Bearer {oh_access}").status_code == 200


@pytest.mark.django_db
def test_429_fault_comes_without_retry_after(client, moves_access):
    testing.add_fault("moves.profile", status=429)
    response = call(client, moves_access)
    assert response.status_code == 429
    assert not response.has_header("Retry-After")


@pytest.mark.django_db
def test_malformed_fault_answers_json_that_does_not_parse(client, moves_access):
    testing.add_fault("moves.storyline", malformed=True)
    response = call(client, moves_access, STORYLINE)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert isinstance(json.loads(call(client, moves_access, STORYLINE).content), list)


@pytest.mark.django_db
def test_delay_fault_slows_the_answer_down(client, moves_access):
    testing.add_fault("moves.profile", delay=0.3)
    started = time.monotonic()
    response = call(client, moves_access)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200


@pytest.mark.django_db
def test_token_endpoint_fault(client):
    testing.add_fault("oh.token", status=502)
    assert client.post("/oauth2/token/", {}).status_code == 502


def test_add_fault_rejects_an_unknown_endpoint(db):
    with pytest.raises(ValueError, match="Unknown endpoint"):
        testing.add_fault("moves.nothing", status=500)


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_each_consume_one_call():
    testing.add_fault("moves.profile", status=500, count=5)
    taken = race(lambda: faults.take("moves.profile") is not None, threads=4, rounds=3)
    assert taken.count(True) == 5
    assert Fault.objects.get().remaining == 0


@pytest.mark.django_db
def test_fault_json_endpoint_adds_lists_and_clears(client):
    response = client.post(
        "/faults/",
        json.dumps({"endpoint": "oh.upload_direct", "status": 500, "count": 3}),
        content_type="application/json",
    )
    assert response.status_code == 201
    assert Fault.objects.get().remaining == 3
    listed = client.get("/faults/").json()["faults"]
    assert [(f["endpoint"], f["status"], f["remaining"]) for f in listed] == [("oh.upload_direct", 500, 3)]
    client.delete("/faults/")
    assert Fault.objects.count() == 0


@pytest.mark.django_db
def test_fault_json_endpoint_rejects_bad_input(client):
    response = client.post("/faults/", json.dumps({"endpoint": "nope"}), content_type="application/json")
    assert response.status_code == 400
    assert "endpoint" in response.json()
    assert Fault.objects.count() == 0


@pytest.mark.django_db
def test_control_page_lists_sandbox_state_and_adds_faults(client, moves_user, oh_member):
    page = client.get("/")
    html = page.content.decode()
    assert page.status_code == 200
    assert moves_user.name in html
    assert oh_member.project_member_id in html
    response = client.post(
        "/",
        {"action": "add_fault", "endpoint": "moves.storyline", "status": "503", "count": "2", "delay": "0"},
    )
    assert response.status_code == 302
    fault = Fault.objects.get()
    assert (fault.endpoint, fault.status, fault.remaining, fault.malformed) == (
        "moves.storyline",
        503,
        2,
        False,
    )
    assert "status 503" in client.get("/").content.decode()


@pytest.mark.django_db
def test_nested_fault_answers_json_nested_beyond_any_parser(client, moves_access):
    testing.add_fault("moves.storyline", nested=True)
    response = call(client, moves_access, STORYLINE)
    body = response.content
    assert (response.status_code, len(body), body[:3], body[-3:]) == (
        200,
        2 * faults.NESTED_DEPTH,
        b"[[[",
        b"]]]",
    )
    with pytest.raises(RecursionError):
        json.loads(body)
    following = call(client, moves_access, STORYLINE)
    assert isinstance(json.loads(following.content), list)
    # Still Moves' answer: counted against the limits and labelled with them.
    remaining = [int(reply["X-RateLimit-MinuteRemaining"]) for reply in (response, following)]
    assert remaining[0] - remaining[1] == 1


@pytest.mark.django_db
def test_oversized_fault_answers_a_json_list_of_that_many_bytes(client, moves_access):
    testing.add_fault("moves.storyline", oversized=300_000)
    response = call(client, moves_access, STORYLINE)
    body = b"".join(response.streaming_content)
    assert (response.status_code, len(body)) == (200, 300_000)
    [day] = json.loads(body)
    assert day["date"] == "20000101"
    assert response.has_header("X-RateLimit-HourRemaining")


@pytest.mark.django_db
def test_retry_after_fault_sends_the_header_as_given(client, moves_access):
    testing.add_fault("moves.profile", status=429, retry_after="1e9")
    testing.add_fault("moves.profile", retry_after="soon, maybe")
    refused = call(client, moves_access)
    answered = call(client, moves_access)
    assert (refused.status_code, refused["Retry-After"]) == (429, "1e9")
    assert (answered.status_code, answered["Retry-After"]) == (200, "soon, maybe")
    assert not call(client, moves_access).has_header("Retry-After")


def test_add_fault_refuses_two_ways_of_spoiling_an_answer(db):
    with pytest.raises(ValueError, match="one way"):
        testing.add_fault("moves.storyline", nested=True, oversized=100_000)
    with pytest.raises(ValueError, match="at least"):
        testing.add_fault("moves.storyline", oversized=10)


@pytest.mark.django_db
def test_fault_json_endpoint_takes_the_answer_switches(client):
    response = client.post(
        "/faults/",
        json.dumps({"endpoint": "oh.upload_direct", "status": 429, "retry_after": "inf"}),
        content_type="application/json",
    )
    spoiled = client.post(
        "/faults/",
        json.dumps({"endpoint": "moves.storyline", "oversized": 1_000_000}),
        content_type="application/json",
    )
    both = client.post(
        "/faults/",
        json.dumps({"endpoint": "moves.storyline", "nested": True, "malformed": True}),
        content_type="application/json",
    )
    assert (response.status_code, response.json()["retry_after"]) == (201, "inf")
    assert (spoiled.status_code, spoiled.json()["oversized"], spoiled.json()["nested"]) == (
        201,
        1_000_000,
        False,
    )
    assert both.status_code == 400
    assert [fault.describe() for fault in Fault.objects.all()] == [
        "status 429, Retry-After: inf",
        "a JSON list of 1000000 bytes",
    ]
