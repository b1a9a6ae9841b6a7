import time

import pytest
import requests
from requests_respectful import RequestsRespectfulError, RequestsRespectfulRateLimitedError

from datauploader.ratelimit import RateLimitedError


def take(requester, realms: list[str], times: int) -> int:
    granted = 0
    for _ in range(times):
        try:
            requester.acquire(realms)
        except RateLimitedError:
            continue
        granted += 1
    return granted


def test_acquire_respects_the_limit(make_requester):
    requester = make_requester(api=(5, 10))

    granted = take(requester, ["api"], 8)

    assert granted == 5
    assert requester.requests_in_window("api") == 5


def test_acquire_full_realm_reports_when_a_slot_frees(make_requester):
    requester = make_requester(api=(3, 4))
    take(requester, ["api"], 3)
    time.sleep(0.5)

    with pytest.raises(RateLimitedError) as caught:
        requester.acquire(["api"])

    assert caught.value.retry_after == pytest.approx(3.5, abs=0.15)
    # Callers of the library's API catch its own error type.
    assert isinstance(caught.value, RequestsRespectfulRateLimitedError)


def test_acquire_full_hourly_realm_blocks_without_spending_the_minute_one(make_requester):
    requester = make_requester(minute=(10, 60), hourly=(2, 3600))

    granted = take(requester, ["minute", "hourly"], 5)

    assert granted == 2
    assert requester.requests_in_window("minute") == 2
    assert requester.requests_in_window("hourly") == 2
    with pytest.raises(RateLimitedError) as caught:
        requester.acquire(["minute", "hourly"])
    assert caught.value.retry_after == pytest.approx(3600, abs=1)


def test_acquire_keeps_the_safety_threshold_free(make_requester):
    requester = make_requester(safety_threshold=2, api=(5, 10))

    assert take(requester, ["api"], 5) == 3


def test_register_realm_again_takes_the_new_numbers(make_requester):
    requester = make_requester(api=(2, 10))
    take(requester, ["api"], 2)

    requester.register_realm("api", max_requests=4, timespan=10)

    assert take(requester, ["api"], 4) == 2
    assert requester.realm_max_requests("api") == 4


def test_fractional_timespan_frees_slots_after_it(make_requester):
    requester = make_requester(api=(2, 0.3))
    assert take(requester, ["api"], 3) == 2

    time.sleep(0.35)

    assert take(requester, ["api"], 3) == 2


def test_request_waits_for_a_slot_when_asked(make_requester):
    requester = make_requester(api=(1, 0.4))
    answered = requests.Response()
    answered.status_code = 204
    requester.request(lambda: answered, realms=["api"])

    started = time.monotonic()
    response = requester.request(lambda: answered, realms=["api"], wait=True)

    assert response.status_code == 204
    assert 0.3 <= time.monotonic() - started < 1.0


def test_acquire_unknown_realm_is_refused(make_requester):
    requester = make_requester(api=(1, 1))

    with pytest.raises(RequestsRespectfulError):
        requester.acquire(["api", "nope"])

    assert requester.requests_in_window("api") == 0
