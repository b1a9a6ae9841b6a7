"""People connected through us to the stand-ins, and a guard that no request leaves the process.

A pytest plugin (``tests/conftest.py`` loads it), so every area can use:

- ``sandboxed``: the app pointed at the stand-ins (``sandbox_server``), with six-second quota windows;
- ``connect(days=...)``: a person with accounts at both stand-ins whose Moves is connected through us;
- ``connect_user(user)``: the same for a stand-in Moves user made beforehand;
- ``settle(member)``: hand out the quota, runs happening inline, until the member wants nothing more;
- ``dispatch_until(done)``: hand out the quota until ``done()``;
- ``edit_a_day(user, around)``: a person edits an activity of a day at the stand-in Moves;
- ``no_upstream`` (or ``refusing_requests()``): any HTTP request through ``requests`` fails the test;
- ``approve(session, url, **fields)``: a person approving a stand-in's consent page, as a browser would;
- ``broker_messages``: tasks go to the broker (the suite's Redis database) instead of running inline;
- ``queued_tasks``: the same, as (task, arguments) of the shared queue;
- ``unreachable_url()``: an address where nothing answers (an upstream that is down).
"""

import base64
import contextlib
import html
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from apiclients.oauth import TokenGrant
from core.models import MovesMember
from open_humans.models import OpenHumansMember
from sandbox import testing


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
def sandboxed(sandbox_server, settings, tmp_path):
    """The app pointed at the stand-ins (served on their own origin), with six-second quota windows."""
    testing.point_app_at_sandbox(settings, sandbox_server.url)
    # Short enough that a test waiting for the next window waits seconds, long
    # enough that a run under load finishes its batch inside its window.
    settings.RATE_LIMIT_TIME_SCALE = 10
    settings.OH_SOURCE_LABEL = ""
    # The stand-in names stored objects by their id: each test keeps its own.
    settings.SANDBOX_STORAGE_DIR = tmp_path / "sandbox-files"
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
            signed_in_at=timezone.now(),
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


def dispatch_until(done: Callable[[], bool], seconds: float = 30) -> None:
    """Hand out the quota (runs happen inline) until ``done()``."""
    from datauploader.dispatch import Dispatcher

    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        Dispatcher().dispatch()
        time.sleep(0.05)
    assert done()


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


@contextlib.contextmanager
def refusing_requests() -> Iterator[list[str]]:
    """Within the block, fail any request made through ``requests``; yields the URLs that tried.

    The transport adapter is where a request would leave the process, and
    every upstream call of the app goes through it.
    """
    tried: list[str] = []
    real_send = requests.adapters.HTTPAdapter.send

    def refuse(adapter, request, *args, **kwargs):
        tried.append(request.url)
        raise AssertionError(f"unexpected upstream request: {request.method} {request.url}")

    requests.adapters.HTTPAdapter.send = refuse
    try:
        yield tried
    finally:
        requests.adapters.HTTPAdapter.send = real_send


@pytest.fixture
def no_upstream() -> Iterator[list[str]]:
    """No request may leave the process during the test (see ``refusing_requests``)."""
    with refusing_requests() as tried:
        yield tried


_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_HIDDEN_FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def approve(session: requests.Session, authorize_url: str, decision: str = "allow", **fields: str) -> str:
    """Open a stand-in's consent page, submit it as a person would, and return where it sends them.

    ``fields`` fill the form (Moves: ``name``, ``history_days``; Open Humans:
    ``username``, ``share_username``). Returns the redirect's ``Location``
    (the app's callback with a code, or an error), which is not followed.
    """
    page = session.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text[:300]
    csrf = _CSRF_FIELD.search(page.text)
    assert csrf is not None, "the consent page has no CSRF token"
    form = {name: html.unescape(value) for name, value in _HIDDEN_FIELD.findall(page.text)}
    form.update(csrfmiddlewaretoken=csrf.group(1), decision=decision, **fields)
    answer = session.post(
        page.url, data=form, headers={"Referer": page.url}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text[:300]
    return answer.headers["Location"]


@pytest.fixture
def broker_messages(redis_db, monkeypatch) -> Callable[[], list[tuple[str, str, list]]]:
    """Tasks are sent to the broker instead of running inline; returns a reader of (queue, task, args).

    The queue is the boundary of the web side, the commands and the
    dispatcher: what the worker then does is tested with the worker.
    """
    from datauploader.celery import app

    # Both names: the app reads Django's CELERY_* settings by their namespaced names.
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", False)

    def read() -> list[tuple[str, str, list]]:
        found = []
        for key in sorted(redis_db.keys("*")):
            queue = key.decode()
            if queue.startswith("_kombu") or redis_db.type(key) != b"list":
                continue
            # Redis lists are pushed at the head: read them back to front, oldest first.
            for raw in reversed(redis_db.lrange(key, 0, -1)):
                message = json.loads(raw)
                arguments = json.loads(base64.b64decode(message["body"]))[0]
                found.append((queue, message["headers"]["task"], arguments))
        return found

    return read


@pytest.fixture
def queued_tasks(broker_messages) -> Callable[[], list[tuple[str, list]]]:
    """The (task, args) of what was sent to the shared queue, oldest first."""
    return lambda: [(task, arguments) for queue, task, arguments in broker_messages() if queue == "celery"]


def unreachable_url() -> str:
    """``http://127.0.0.1:<port>`` of a port nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"
