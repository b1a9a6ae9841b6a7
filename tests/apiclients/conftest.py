"""Fixtures of the upstream client tests.

Two fakes, both at the HTTP boundary, since what the clients do with real
answers is the point and nothing else of them is replaced:

- hand-written vcrpy cassettes (``cassette``) of what Moves and Open Humans
  answer, shaped after the 2018 recording and the servers' source;
- a ``requests`` adapter with canned answers (``canned``) for what no
  cassette can show: timeouts, refused connections, streams cut short,
  counting how much of a body was read, and answers whose Date must follow
  the real clock.
"""

import io
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import vcr
import yaml
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ProtocolError
from vcr.cassette import Cassette

from apiclients.moves import MovesClient
from apiclients.openhumans import OpenHumansClient
from apiclients.quota import Batch, MovesQuota

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "apiclients"
OWN_SOURCE = "direct-sharing-138"

# "none" refuses any request a cassette does not hold, so no test reaches a
# real host. Matching leaves out headers and bodies (tests assert on what was
# sent instead); vcrpy compares query strings as parsed pairs.
replay = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=["method", "scheme", "host", "port", "path", "query"],
)


def cassette_bodies(name: str) -> list[str]:
    """The response bodies of a cassette, in order, exactly as it serves them."""
    tape = yaml.safe_load((CASSETTES / f"{name}.yaml").read_text())
    return [interaction["response"]["body"]["string"] for interaction in tape["interactions"]]


def _check_cassette_holds_no_credentials(name: str) -> None:
    tape = yaml.safe_load((CASSETTES / f"{name}.yaml").read_text())
    for interaction in tape["interactions"]:
        assert interaction["request"]["headers"] == {}, name
        assert interaction["request"]["body"] is None, name
        text = interaction["response"]["body"]["string"] + interaction["request"]["uri"]
        for value in re.findall(r'"(?:access_token|refresh_token)":"([^"]*)"', text):
            assert value.endswith("-fake"), name
        for value in re.findall(r"(?:Signature|key)=([^\"'&\s]*)", text):
            assert value == "fake", name


@pytest.fixture
def cassette() -> Callable[[str], AbstractContextManager[Cassette]]:
    """Play a cassette by name, after checking it holds only stand-in credentials."""

    def play(name: str) -> AbstractContextManager[Cassette]:
        _check_cassette_holds_no_credentials(name)
        return replay.use_cassette(f"{name}.yaml")

    return play


@pytest.fixture
def sent() -> list[requests.PreparedRequest]:
    """The requests answered during the test, in order, as requests prepared them."""
    return []


@pytest.fixture
def session(sent) -> requests.Session:
    """A real session that notes each request answered, so tests see exactly what went out."""
    recording = requests.Session()
    recording.hooks["response"].append(lambda response, **kwargs: sent.append(response.request))
    return recording


@pytest.fixture(autouse=True)
def real_hosts(settings) -> None:
    """Point the clients at the real services' hosts, which is what the cassettes hold."""
    settings.MOVES_API_BASE_URL = "https://api.moves-app.com/api/1.1"
    settings.MOVES_OAUTH_BASE_URL = "https://api.moves-app.com/oauth/v1"
    settings.MOVES_REDIRECT_URI = "https://uploader.example.org/moves_complete/"
    settings.OH_BASE_URL = "https://www.openhumans.org"
    settings.OH_REDIRECT_URI = "https://uploader.example.org/complete/"
    settings.RATE_LIMIT_TIME_SCALE = 1.0


# --- Canned answers ----------------------------------------------------------------


class Body(io.RawIOBase):
    """A response body that counts what was read of it and can break off like a dropped connection."""

    def __init__(self, data: bytes, break_after: int | None = None) -> None:
        self.data = data
        self.position = 0
        self.break_after = break_after

    def readable(self) -> bool:
        return True

    def stream(self, amount: int, decode_content: bool = True) -> Iterator[bytes]:
        # requests reads through stream() when the raw body has one, and
        # turns urllib3's ProtocolError into ChunkedEncodingError, as it does
        # for a real connection that drops.
        while True:
            if self.break_after is not None and self.position >= self.break_after:
                raise ProtocolError("Connection broken: IncompleteRead")
            chunk = self.data[self.position : self.position + amount]
            if not chunk:
                return
            self.position += len(chunk)
            yield chunk

    def read(self, amount: int = -1) -> bytes:
        return b"".join(self.stream(len(self.data) if amount < 0 else amount))

    def release_conn(self) -> None:
        pass


@dataclass
class Answer:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    break_after: int | None = None


@dataclass
class Sent:
    request: requests.PreparedRequest
    timeout: Any
    stream: bool


class CannedAdapter(BaseAdapter):
    """Answers each request with the next canned answer (or raises it), noting what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[Answer | Exception | Callable[[requests.PreparedRequest], Answer]] = []
        self.sent: list[Sent] = []
        self.bodies: list[Body] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append(Sent(request, timeout, stream))
        if not self.answers:
            raise AssertionError(f"no canned answer left for {request.method} {request.url}")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            answer = answer(request)
        data = answer.body.encode() if isinstance(answer.body, str) else answer.body
        body = Body(data, answer.break_after)
        self.bodies.append(body)
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.raw = body
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def canned() -> CannedAdapter:
    return CannedAdapter()


@pytest.fixture
def canned_session(canned) -> requests.Session:
    fake = requests.Session()
    fake.mount("https://", canned)
    fake.mount("http://", canned)
    return fake


# --- The Moves quota -----------------------------------------------------------------


@dataclass
class ServerClock:
    """A stand-in for Moves' clock: ``offset`` seconds from ours, in the middle of a minute now."""

    offset: float

    def now(self) -> float:
        return time.time() + self.offset

    def date(self) -> str:
        return formatdate(math.floor(self.now()), usegmt=True)

    def headers(self, minute_remaining: int = 59, hour_remaining: int = 1999) -> dict[str, str]:
        """The headers every Moves answer carries, at this moment of the server's clock."""
        return {
            "Date": self.date(),
            "X-RateLimit-MinuteLimit": "60",
            "X-RateLimit-MinuteRemaining": str(minute_remaining),
            "X-RateLimit-HourLimit": "2000",
            "X-RateLimit-HourRemaining": str(hour_remaining),
        }


@pytest.fixture
def quota(redis_db: redis.Redis) -> MovesQuota:
    return MovesQuota(redis_db, per_minute=60, per_hour=2000, safety_threshold=1)


@pytest.fixture
def server_clock(quota: MovesQuota) -> ServerClock:
    """Moves' clock, set to half past the minute (plus half a second) right now, and taught to the quota.

    A batch is only good while the server is surely in its minute; with the
    server at :30.5 it stays good for the 28 s any test here could take,
    whatever our own clock says, and no test has to wait for a minute to turn.
    """
    now = time.time()
    clock = ServerClock(offset=math.floor(now / 60) * 60 + 30.5 - now)
    quota.observe(clock.headers(minute_remaining=60, hour_remaining=2000), now, now)
    return clock


@pytest.fixture
def batch(quota: MovesQuota, server_clock: ServerClock) -> Batch:
    """Three requests of the server's current minute."""
    reserved = quota.reserve(3)
    assert reserved is not None
    assert reserved.size == 3
    return reserved


@pytest.fixture
def moves(quota: MovesQuota, session: requests.Session) -> MovesClient:
    return MovesClient(quota=quota, session=session)


@pytest.fixture
def oh(session: requests.Session) -> OpenHumansClient:
    return OpenHumansClient(session=session)
