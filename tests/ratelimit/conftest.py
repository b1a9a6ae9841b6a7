"""A fresh requester on the suite's Redis database (flushed before each test)."""

from collections.abc import Callable

import pytest
from django.conf import settings

from datauploader.ratelimit import AtomicRespectfulRequester


@pytest.fixture
def make_requester() -> Callable[..., AtomicRespectfulRequester]:
    def make(safety_threshold: int = 0, **realms: tuple[int, float]) -> AtomicRespectfulRequester:
        requester = AtomicRespectfulRequester(redis_url=settings.REDIS_URL, safety_threshold=safety_threshold)
        for name, (max_requests, timespan) in realms.items():
            requester.register_realm(name, max_requests=max_requests, timespan=timespan)
        return requester

    return make
