"""Recorded traffic of ``process_moves``: cassettes made against the sandbox, replayed offline.

By default every test replays its cassette with ``record_mode="none"``, so a
request the cassette does not hold fails the test and nothing reaches a host.
With ``RECORD_CASSETTES=1`` the same tests run against the sandbox in a
live server and record afresh; the hooks below rewrite the sandbox's
addresses to the real hosts' (the app is configured with those on replay),
blank the storage signatures and drop credentials and file bodies.

The clock is fixed at a day in 2018, while Moves still answered, so the
weeks asked for, and therefore the cassettes, do not depend on today.
"""

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
import vcr
from vcr.cassette import Cassette
from vcr.request import Request

from main.models import MovesMember
from sandbox import testing
from sandbox.models import SandboxMovesUser, SandboxOHMember

RECORDING = os.environ.get("RECORD_CASSETTES") == "1"
CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "sync"
TODAY = date(2018, 3, 14)
NOON = datetime(2018, 3, 14, 12, 0, tzinfo=UTC)

MOVES_API = "https://api.moves-app.com/api/1.1"
MOVES_OAUTH = "https://api.moves-app.com/oauth/v1"
OPEN_HUMANS = "https://www.openhumans.org"
STORAGE = "https://open-humans-production.s3.amazonaws.com/member-files"
MATCH_ON = ["method", "scheme", "host", "port", "path", "query"]
STORYLINE_PATH = re.compile(r"/user/storyline/daily/(\d{4})-W(\d{2})$")


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOON, tick=True):
        yield


def _rewriter(live_url: str) -> Callable[[str], str]:
    sandbox = live_url.rstrip("/") + "/sandbox"
    pairs = [
        (sandbox + "/openhumans/storage", STORAGE),
        (sandbox + "/openhumans", OPEN_HUMANS),
        (sandbox + "/moves/api/1.1", MOVES_API),
        (sandbox + "/moves/oauth/v1", MOVES_OAUTH),
    ]

    def rewrite(text: str) -> str:
        for old, new in pairs:
            text = text.replace(old, new)
            text = text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])
        return re.sub(r"signature=[^&\"'\s]*", "signature=fake", text)

    return rewrite


def _recorder(live_url: str) -> vcr.VCR:
    rewrite = _rewriter(live_url)

    def scrub_request(request: Request) -> Request:
        # File bodies are large and the tests check the result on the
        # member's side; credentials never go into a cassette.
        return Request(request.method, rewrite(request.uri), None, {})

    def scrub_response(response):
        body = rewrite(response["body"]["string"].decode()).encode()
        response["body"]["string"] = body
        keep = {"content-type", "retry-after"}
        response["headers"] = {
            name: value
            for name, value in response["headers"].items()
            if name.lower() in keep or name.lower().startswith("x-ratelimit")
        }
        response["headers"]["Content-Length"] = [str(len(body))]
        return response

    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all",
        match_on=MATCH_ON,
        before_record_request=scrub_request,
        before_record_response=scrub_response,
    )


@dataclass
class Traffic:
    """The cassette to run under, and how to make a participant for it."""

    use: Callable[[str], AbstractContextManager[Cassette]]
    live_url: str | None

    @property
    def recording(self) -> bool:
        return self.live_url is not None


@pytest.fixture
def traffic(request, settings) -> Traffic:
    settings.MOVES_API_BASE_URL = MOVES_API
    settings.MOVES_OAUTH_BASE_URL = MOVES_OAUTH
    settings.OH_BASE_URL = OPEN_HUMANS
    settings.HTTP_BACKOFF_BASE_SECONDS = 0
    if RECORDING:
        live = request.getfixturevalue("live_server")
        testing.point_app_at_sandbox(settings, live.url)
        settings.SANDBOX_STORAGE_DIR = request.getfixturevalue("tmp_path") / "sandbox-files"

        def record(name: str) -> AbstractContextManager[Cassette]:
            # "all" would add to an old recording; each recording starts clean.
            (CASSETTES / f"{name}.yaml").unlink(missing_ok=True)
            return _recorder(live.url).use_cassette(name + ".yaml")

        return Traffic(use=record, live_url=live.url)
    replay = vcr.VCR(cassette_library_dir=str(CASSETTES), record_mode="none", match_on=MATCH_ON)
    return Traffic(use=lambda name: replay.use_cassette(name + ".yaml"), live_url=None)


@dataclass
class Accounts:
    """Our member and the sandbox accounts behind it."""

    member: MovesMember
    moves_user: SandboxMovesUser
    oh_member: SandboxOHMember

    @property
    def oh_id(self) -> str:
        return self.member.member.oh_id


def connect_sandbox_accounts(make_member, name: str, first_date: date, days: int) -> Accounts:
    user = testing.create_moves_user(name, first_date=first_date, days=days)
    oh_member = testing.create_oh_member(name)
    moves_access, moves_refresh = testing.issue_moves_tokens(user)
    oh_access, oh_refresh = testing.issue_oh_tokens(oh_member)
    member = make_member(oh_member.project_member_id, moves_id=user.moves_id)
    member.store_tokens(moves_access, moves_refresh, 36000)
    member.save()
    member.member.store_tokens(oh_access, oh_refresh, 36000)
    member.member.save()
    return Accounts(member, user, oh_member)


@pytest.fixture
def participant(traffic, make_member) -> Callable[..., MovesMember]:
    """Our member connected to Moves; when recording, backed by a sandbox account of that history."""

    def make(name: str, first_date: date, days: int) -> MovesMember:
        if not traffic.recording:
            return make_member()
        return connect_sandbox_accounts(make_member, name, first_date, days).member

    return make


@pytest.fixture
def sandbox_accounts(live_server, settings, tmp_path, make_member) -> Callable[..., Accounts]:
    """Members whose Moves and Open Humans are the sandbox, over real HTTP on localhost."""
    testing.point_app_at_sandbox(settings, live_server.url)
    settings.SANDBOX_STORAGE_DIR = tmp_path / "sandbox-files"
    settings.HTTP_BACKOFF_BASE_SECONDS = 0
    return lambda name, first_date, days: connect_sandbox_accounts(make_member, name, first_date, days)


def file_dates(oh_member: SandboxOHMember) -> list[list[str]]:
    """The dates of each completed file the sandbox holds for the member, oldest file first."""
    return [
        [day["date"] for day in json.loads(testing.read_file_bytes(stored))]
        for stored in testing.stored_files(oh_member)
    ]


def date_range(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=n)).strftime("%Y%m%d") for n in range((last - first).days + 1)]


def storyline_weeks(cassette: Cassette) -> list[str]:
    """The ISO weeks the cassette's storyline requests asked for, in order."""
    weeks = []
    for recorded in cassette.requests:
        found = STORYLINE_PATH.search(recorded.path)
        if found:
            weeks.append(f"{found[1]}-W{found[2]}")
    return weeks


def answered_days(cassette: Cassette) -> list[dict]:
    """Every day the cassette's successful storyline answers hold, in the order answered."""
    days = []
    for recorded, response in zip(cassette.requests, cassette.responses, strict=True):
        if STORYLINE_PATH.search(recorded.path) and response["status"]["code"] == 200:
            days += json.loads(response["body"]["string"])
    return days


def downloaded_days(cassette: Cassette) -> list[dict]:
    """The days of the file the run downloaded from Open Humans (the history held before)."""
    for recorded, response in zip(cassette.requests, cassette.responses, strict=True):
        if recorded.uri.startswith(STORAGE) and recorded.method == "GET":
            return json.loads(response["body"]["string"])
    return []


def requests_to(cassette: Cassette, method: str, path_end: str) -> int:
    return sum(1 for r in cassette.requests if r.method == method and r.path.endswith(path_end))
