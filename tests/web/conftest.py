"""Fixtures of the web tests: signed-in members, recorded upstream answers, the task queue."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import vcr
from django.test import Client

from main.models import MovesMember

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "web"

# Hand-written answers only: "none" refuses any request the cassette does not
# hold, so a test can never reach a real host. Query strings and bodies are
# left out of matching because the cassettes describe the upstream's answers,
# not how the client spells its request.
replay = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=["method", "scheme", "host", "port", "path"],
)


@pytest.fixture
def queued(monkeypatch) -> list[str]:
    """The member ids handed to the task queue.

    The queue is the boundary of the web side: the worker's behaviour is
    tested with the worker, and running it here (tests run Celery eagerly)
    would make real upstream calls.
    """
    import main.admin
    import main.views

    calls: list[str] = []

    def record(oh_id: str, countdown: float | None = None) -> None:
        calls.append(oh_id)

    for module in (main.views, main.admin):
        monkeypatch.setattr(module, "enqueue_process_moves", record)
    return calls


@pytest.fixture
def moves_member(make_member) -> MovesMember:
    return make_member(oh_id="23456789")


@pytest.fixture
def moves_state(moves_member: MovesMember) -> Callable[..., MovesMember]:
    """Set fields of ``moves_member`` and save it: ``moves_state(status=..., last_error=...)``.

    The test's own ``moves_member`` then holds the same values the views read.
    """

    def update(**fields) -> MovesMember:
        for name, value in fields.items():
            setattr(moves_member, name, value)
        moves_member.save()
        return moves_member

    return update


@pytest.fixture
def signed_in(client: Client, moves_member: MovesMember) -> Client:
    client.force_login(moves_member.member.user)
    return client


@pytest.fixture
def signed_in_without_moves(signed_in: Client, moves_member: MovesMember) -> Client:
    """A signed-in Open Humans member (oh_id 23456789) with no Moves connection, yet or any more."""
    moves_member.delete()
    return signed_in


@pytest.fixture
def start_handshake(client: Client) -> Callable[[str], str]:
    """Begin an OAuth handshake in ``client``'s session and return the state it was given."""

    def start(service: str) -> str:
        session = client.session
        from main import oauth_state

        state = oauth_state.create_state(session, service)
        session.save()
        return state

    return start


@pytest.fixture
def no_upstream() -> Iterator[vcr.cassette.Cassette]:
    with replay.use_cassette("no_requests.yaml") as cassette:
        yield cassette
