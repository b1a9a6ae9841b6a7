"""Fixtures for the sandbox tests: the stand-ins' URLs at the root, accounts with tokens, private storage."""

from datetime import date, timedelta

import pytest

from sandbox import testing
from sandbox.models import SandboxMovesUser, SandboxOHMember


@pytest.fixture(autouse=True)
def sandbox_urls(settings):
    """Django's test client talks to the stand-ins, at the root as on their own origin."""
    settings.ROOT_URLCONF = "sandbox.urls"


@pytest.fixture(autouse=True)
def sandbox_storage(settings, tmp_path):
    settings.SANDBOX_STORAGE_DIR = tmp_path / "sandbox-files"
    return settings.SANDBOX_STORAGE_DIR


@pytest.fixture
def moves_user(db) -> SandboxMovesUser:
    """A user whose history started on a Thursday three weeks ago and runs up to today."""
    today = date.today()
    start = today - timedelta(days=21)
    start -= timedelta(days=(start.weekday() - 3) % 7)
    return testing.create_moves_user("alice", first_date=start, moves_id=31415926535897932)


@pytest.fixture
def moves_access(moves_user) -> str:
    access, _ = testing.issue_moves_tokens(moves_user)
    return access


@pytest.fixture
def oh_member(db) -> SandboxOHMember:
    return testing.create_oh_member("olivia")


@pytest.fixture
def oh_access(oh_member) -> str:
    access, _ = testing.issue_oh_tokens(oh_member)
    return access
