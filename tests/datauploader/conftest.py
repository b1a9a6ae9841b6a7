"""Fixtures of the worker's tests: the quota as the server last described it, and the broker's queues."""

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import redis
import time_machine
from django.conf import settings
from django.utils import timezone
from django.utils.http import http_date

from apiclients.oauth import TokenGrant
from apiclients.quota import MovesQuota, moves_quota
from core.models import MovesMember
from datauploader.celery import app
from open_humans.models import OpenHumansMember
from sandbox import testing


def server_headers(minute_used: int = 0, hour_used: int = 0, at: float | None = None) -> dict[str, str]:
    """The headers of a Moves answer that say how much of its windows the server has counted."""
    return {
        "Date": http_date(at if at is not None else time.time()),
        "X-RateLimit-MinuteLimit": "60",
        "X-RateLimit-MinuteRemaining": str(60 - minute_used),
        "X-RateLimit-HourLimit": "2000",
        "X-RateLimit-HourRemaining": str(2000 - hour_used),
    }


@pytest.fixture
def mid_minute():
    """Time stands still in the middle of a clock minute, far from the edges where no quota goes out."""
    now = time.time()
    with time_machine.travel(now - now % 60 + 30, tick=False):
        yield


@pytest.fixture
def quota(redis_db: redis.Redis, mid_minute) -> MovesQuota:
    """The app's quota, told by a Moves answer that nothing of this minute or hour is used yet."""
    quota = moves_quota(redis_db)
    now = time.time()
    quota.observe(server_headers(at=now), now, now)
    return quota


@pytest.fixture
def sent_tasks(redis_db: redis.Redis, monkeypatch) -> Callable[[], list[tuple[str, str, list]]]:
    """Tasks really sent to the broker (the suite's Redis database), as (queue, task name, args)."""
    # Both names: the app reads its settings from Django's, under the CELERY_ prefix.
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", False)

    def read() -> list[tuple[str, str, list]]:
        found = []
        for key in redis_db.keys("*"):
            name = key.decode()
            if redis_db.type(key) != b"list" or name.startswith("_kombu"):
                continue
            for raw in redis_db.lrange(key, 0, -1):
                message = json.loads(raw)
                body = json.loads(base64.b64decode(message["body"]))
                found.append((name, message["headers"]["task"], body[0]))
        return sorted(found)

    return read


@dataclass
class Connected:
    """A person with accounts at both stand-ins, signed up with us: sandbox rows and our rows."""

    user: Any
    oh: Any
    member: MovesMember

    def refresh(self) -> MovesMember:
        self.member.refresh_from_db()
        return self.member

    def file_days(self) -> list[dict]:
        """The days of our file on the stand-in Open Humans (there must be exactly one)."""
        files = [file for file in testing.stored_files(self.oh) if file.basename == settings.MOVES_FILE_NAME]
        assert len(files) == 1, f"expected one file, found {len(files)}"
        return json.loads(testing.read_file_bytes(files[0]))

    def moves_days(self) -> list[dict]:
        """Every day the stand-in Moves answers for the whole history, as it would answer now."""
        self.user.refresh_from_db()
        return testing.storyline_days(self.user, self.user.first_date, date.today() + timedelta(days=2))


@pytest.fixture
def sandboxed(sandbox_server, settings):
    """The app pointed at the stand-ins (served on their own origin), with six-second quota windows."""
    testing.point_app_at_sandbox(settings, sandbox_server.url)
    # Short enough that a test waiting for the next window waits seconds, long
    # enough that a run under load finishes its batch inside its window.
    settings.RATE_LIMIT_TIME_SCALE = 10
    settings.OH_SOURCE_LABEL = ""
    return sandbox_server


@pytest.fixture
def connect_user(sandboxed, django_user_model) -> Callable[[Any], Connected]:
    """Connect an existing stand-in Moves user through us, as a new Open Humans member of the same name."""

    def attach(user: Any) -> Connected:
        oh = testing.create_oh_member(user.name)
        oh_access, oh_refresh = testing.issue_oh_tokens(oh)
        moves_access, moves_refresh = testing.issue_moves_tokens(user, age=7200)
        django_user = django_user_model.objects.create_user(username=f"oh-{oh.project_member_id}")
        oh_member = OpenHumansMember.objects.create(
            user=django_user,
            oh_id=oh.project_member_id,
            access_token=oh_access,
            refresh_token=oh_refresh,
            token_expires=timezone.now() + timedelta(hours=10),
        )
        grant = TokenGrant(moves_access, moves_refresh, 15551998, user.moves_id)
        member = MovesMember.connect(oh_member, grant)
        return Connected(user=user, oh=oh, member=member)

    return attach


@pytest.fixture
def connect(connect_user) -> Callable[..., Connected]:
    """A person whose Moves history has ``days`` days up to today (or as given), connected through us."""
    counter = iter(range(1, 1000))

    def make(days: int = 70, first_date: date | None = None, **user_fields: Any) -> Connected:
        user = testing.create_moves_user(
            f"person{next(counter)}", first_date=first_date, days=days, **user_fields
        )
        return connect_user(user)

    return make


def edit_a_day(user: Any, around: date) -> date:
    """Edit an activity of the day ``around``, or of the nearest earlier day that has one; returns it."""
    from sandbox.storyline import CannotChange

    for back in range(14):
        day = around - timedelta(days=back)
        try:
            testing.edit_day(user, day)
        except CannotChange:
            continue
        return day
    raise AssertionError(f"no day with an activity to edit in the two weeks before {around}")


def dispatch_until(done: Callable[[], bool], seconds: float = 30) -> None:
    """Hand out the quota (runs happen inline) until ``done()``."""
    from datauploader.dispatch import Dispatcher

    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        Dispatcher().dispatch()
        time.sleep(0.05)
    assert done()


def settle(member: MovesMember, seconds: float = 30) -> MovesMember:
    """Hand out the quota (runs happen inline) until the member wants nothing more; returns it fresh."""
    from datauploader.dispatch import Dispatcher

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        Dispatcher().dispatch()
        member.refresh_from_db()
        if member.sync_wanted_since is None and not member.is_running:
            return member
        time.sleep(0.05)
    raise AssertionError(
        f"member still {member.status}, queued since {member.sync_wanted_since}: {member.last_error}"
    )
