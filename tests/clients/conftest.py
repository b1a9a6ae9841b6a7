"""Fixtures of the client tests: hand-written cassettes of the real services' answers."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import requests
import vcr
from vcr.cassette import Cassette

from apiclients.moves import MovesClient
from apiclients.openhumans import OpenHumansClient

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "clients"

# "none" refuses any request a cassette does not hold, so no test reaches a
# real host. Matching leaves out headers (their order and the client's
# User-Agent are not the point) and bodies (tests assert on them instead);
# vcrpy compares query strings as parsed pairs, so their order does not count.
replay = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=["method", "scheme", "host", "port", "path", "query"],
)


@pytest.fixture
def sent() -> list[requests.PreparedRequest]:
    """The requests the clients sent during the test, in order, as requests prepared them."""
    return []


@pytest.fixture
def session(sent) -> requests.Session:
    """A session that notes each request answered, so tests can see exactly what went out."""
    recording = requests.Session()
    recording.hooks["response"].append(lambda response, **kwargs: sent.append(response.request))
    return recording


@pytest.fixture
def cassette() -> Callable[[str], AbstractContextManager[Cassette]]:
    return lambda name: replay.use_cassette(name + ".yaml")


@pytest.fixture(autouse=True)
def real_hosts(settings) -> None:
    """Point the clients at the real services' hosts, which is what the cassettes hold."""
    settings.MOVES_API_BASE_URL = "https://api.moves-app.com/api/1.1"
    settings.MOVES_OAUTH_BASE_URL = "https://api.moves-app.com/oauth/v1"
    settings.MOVES_REDIRECT_URI = "https://uploader.example.org/moves_complete/"
    settings.OH_BASE_URL = "https://www.openhumans.org"
    settings.OH_REDIRECT_URI = "https://uploader.example.org/complete/"
    settings.HTTP_BACKOFF_BASE_SECONDS = 0


@pytest.fixture
def moves(session) -> MovesClient:
    return MovesClient(session=session)


@pytest.fixture
def oh(session) -> OpenHumansClient:
    return OpenHumansClient(session=session)
