"""People connected through us to the stand-ins, and a guard that no request leaves the process.

A pytest plugin (``tests/conftest.py`` loads it), so every area can use:

- ``sandboxed``: the app pointed at the stand-ins (``sandbox_server``), with one-second quota windows;
- ``connect(days=...)``: a person with accounts at both stand-ins whose Moves is connected through us;
- ``settle(member)``: hand out the quota, runs happening inline, until the member wants nothing more;
- ``no_upstream`` (or ``refusing_requests()``): any HTTP request through ``requests`` fails the test;
- ``approve(session, url, **fields)``: a person approving a stand-in's consent page, as a browser would;
- ``queued_tasks``: tasks go to the broker (the suite's Redis database) instead of running inline;
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
    """The app pointed at the stand-ins (served on their own origin), with one-second quota windows."""
    testing.point_app_at_sandbox(settings, sandbox_server.url)
    settings.RATE_LIMIT_TIME_SCALE = 60
    settings.OH_SOURCE_LABEL = ""
    # The stand-in names stored objects by their id: each test keeps its own.
    settings.SANDBOX_STORAGE_DIR = tmp_path / "sandbox-files"
    return sandbox_server


@pytest.fixture
def connect(sandboxed, django_user_model) -> Callable[..., Connected]:
    """A person whose Moves history has ``days`` days up to today (or as given), connected through us."""
    counter = iter(range(1, 1000))

    def make(days: int = 70, first_date: date | None = None, **user_fields: Any) -> Connected:
        name = f"person{next(counter)}"
        user = testing.create_moves_user(name, first_date=first_date, days=days, **user_fields)
        oh = testing.create_oh_member(name)
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

    return make


def settle(member: MovesMember, seconds: float = 20) -> MovesMember:
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
def queued_tasks(redis_db, monkeypatch) -> Callable[[], list[tuple[str, list]]]:
    """Tasks are sent to the broker instead of running inline; returns a reader of (task name, args).

    The queue is the boundary of the web side and the commands: what the
    worker then does is tested with the worker.
    """
    from datauploader.celery import app

    # The app reads Django's CELERY_* settings by their namespaced names.
    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", False)

    def read() -> list[tuple[str, list]]:
        found = []
        for raw in reversed(redis_db.lrange("celery", 0, -1)):
            message = json.loads(raw)
            arguments = json.loads(base64.b64decode(message["body"]))[0]
            found.append((message["headers"]["task"], arguments))
        return found

    return read


def unreachable_url() -> str:
    """``http://127.0.0.1:<port>`` of a port nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"
