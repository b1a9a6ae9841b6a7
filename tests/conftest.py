"""Fixtures shared by the whole suite.

Each area keeps its own fixtures in a conftest.py beside its tests; only what
several areas need lives here.
"""

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import MovesMember
from open_humans.models import OpenHumansMember

pytest_plugins = ["tests.sandbox_server", "tests.connected"]


@pytest.fixture(autouse=True)
def redis_db() -> Iterator[redis.Redis]:
    """The suite's own Redis database, emptied before each test."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(autouse=True)
def work_dir(settings, tmp_path):
    """Each test's own directory for the worker's local histories."""
    settings.DATA_WORK_DIR = tmp_path / "work"
    return settings.DATA_WORK_DIR


@pytest.fixture
def make_member(db) -> Callable[..., MovesMember]:
    """Create a signed-in Open Humans member with a connected Moves account."""
    counter = iter(range(10_000_000, 99_999_999))

    def make(oh_id: str | None = None, **moves_fields) -> MovesMember:
        oh_id = oh_id or str(next(counter))
        user = get_user_model().objects.create_user(username=f"oh-{oh_id}")
        oh_member = OpenHumansMember(
            user=user,
            oh_id=oh_id,
            access_token="oh-access-" + oh_id,
            refresh_token="oh-refresh-" + oh_id,
            token_expires=timezone.now() + timedelta(hours=10),
        )
        oh_member.save()
        fields = {
            "moves_id": int(oh_id),
            "access_token": "moves-access-" + oh_id,
            "refresh_token": "moves-refresh-" + oh_id,
            "token_expires": timezone.now() + timedelta(days=180),
        }
        fields.update(moves_fields)
        return MovesMember.objects.create(member=oh_member, **fields)

    return make
