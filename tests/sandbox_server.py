"""The stand-in servers over real HTTP, at the root of their own origin, inside the test process.

    def test_something(sandbox_server, settings):
        testing.point_app_at_sandbox(settings, sandbox_server.url)

``sandbox_server`` serves ``sandbox.urls`` (whatever ROOT_URLCONF says) on
127.0.0.1 and a port of its own, apart from pytest-django's ``live_server``
(on localhost), against the test database: tests that use it get
transactional database access, as with ``live_server``.
"""

from collections.abc import Iterator

import pytest
from django.db import connections
from django.test.testcases import LiveServerThread

from sandbox.server import SandboxHandler


class SandboxServer:
    def __init__(self, thread: LiveServerThread) -> None:
        self.thread = thread

    @property
    def url(self) -> str:
        return f"http://{self.thread.host}:{self.thread.port}"

    def __str__(self) -> str:
        return self.url


@pytest.fixture(scope="session")
def _sandbox_server_thread(django_db_setup, django_db_blocker) -> Iterator[LiveServerThread]:
    # In-memory SQLite is shared with the server thread, as pytest-django's live_server does.
    shared = {
        conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    thread = LiveServerThread(
        "127.0.0.1", static_handler=lambda _app: SandboxHandler(), connections_override=shared, port=0
    )
    thread.daemon = True
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield thread
    thread.terminate()
    for conn in shared.values():
        conn.dec_thread_sharing()


@pytest.fixture
def sandbox_server(transactional_db, _sandbox_server_thread) -> SandboxServer:
    """The stand-ins at http://127.0.0.1:<port>/ for this test."""
    return SandboxServer(_sandbox_server_thread)
